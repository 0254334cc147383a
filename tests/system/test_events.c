/* Exactly-once delivery of identity's events to a consumer (the event
 * recorder, with its own LMDB store and cursor) across kill -9 of the
 * consumer and of the producer, while users are being created. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define USERS 600

/* identity's outbox head as it reports it */
static uint64_t identity_head(sys_env_t *env)
{
    Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    req.service = "identity";
    crm_status_t st;
    Crm__Health__V1__CheckReply *r = sys_call(env, "crm.health.v1.Health/Check", NULL, &req.base,
                                              &crm__health__v1__check_reply__descriptor, &st);
    uint64_t head = r && r->n_produced ? r->produced[0]->seq : 0;
    if (r)
        crm__health__v1__check_reply__free_unpacked(r, NULL);
    return head;
}

typedef struct {
    unsigned long long applied, max, dups, gaps, cursor;
} tally_t;

static int recorder_tally(sys_env_t *env, tally_t *t)
{
    char cmd[1024];
    /* the recorder binary sits beside this test */
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    snprintf(cmd, sizeof cmd, "%s/event-recorder --data-dir %s/recorder --dump", self, env->dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int got = fscanf(p, "applied=%llu max=%llu dups=%llu gaps=%llu cursor=%llu", &t->applied, &t->max,
                     &t->dups, &t->gaps, &t->cursor);
    pclose(p);
    return got == 5 ? 0 : -1;
}

/* Creates user i, retrying through outages with the same idempotency key, so
 * a user whose creation committed just before a crash is not created twice.
 * Runs in a child process: returns 0 or -1, never asserts. */
static int create_user(sys_env_t *env, char **admin, int i)
{
    char login[32], key[32];
    snprintf(login, sizeof login, "user%d", i);
    snprintf(key, sizeof key, "create-%d", i);
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = login;
    req.name = login;
    req.password = "user-pass-1";
    int64_t until = sys_now_ms() + 30000;
    for (;;) {
        crm_status_t st;
        Crm__Identity__V1__CreateUserReply *r = sys_call_idem(
            env, "crm.identity.v1.Identity/CreateUser", *admin, key, &req.base,
            &crm__identity__v1__create_user_reply__descriptor, &st);
        if (r) {
            crm__identity__v1__create_user_reply__free_unpacked(r, NULL);
            return 0;
        }
        if (sys_now_ms() > until ||
            (st.code != CODE(UNAVAILABLE) && st.code != CODE(UNAUTHENTICATED))) {
            fprintf(stderr, "user %d not created: %s %s\n", i, crm_code_name(st.code), st.message);
            return -1;
        }
        if (st.code == CODE(UNAUTHENTICATED)) {
            char *fresh = sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st);
            if (fresh) {
                free(*admin);
                *admin = fresh;
            }
        }
        usleep(20000);
    }
}

/* The writer: a separate process creating users as fast as it can, so the
 * kills below land in the middle of calls and commits. */
static pid_t start_writer(sys_env_t *env)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* a ZeroMQ context never crosses a fork: the child makes its own */
    env->client = crm_client_new(env->zmq);
    crm_status_t st;
    char *admin = env->client ? sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st) : NULL;
    int bad = !admin;
    for (int i = 0; i < USERS && !bad; i++)
        bad = create_user(env, &admin, i) != 0;
    _exit(bad);
}

static void wait_caught_up(sys_env_t *env, uint64_t head)
{
    tally_t t = {0};
    int64_t until = sys_now_ms() + 30000;
    /* the recorder is running; poll its store (LMDB allows a second reader) */
    while (sys_now_ms() < until) {
        if (recorder_tally(env, &t) == 0 && t.cursor >= head)
            return;
        usleep(100000);
    }
    fail_msg("recorder stuck at %llu of %llu", t.cursor, (unsigned long long)head);
}

static void test_exactly_once_across_kills(void **state)
{
    char *admin;
    sys_env_t *env = sys_start_admin(NULL, &admin);
    assert_non_null(env);
    assert_int_equal(sys_spawn(env, SYS_RECORDER), 0);
    crm_status_t st;

    pid_t writer = start_writer(env);
    assert_true(writer > 0);
    usleep(300000);
    assert_int_equal(sys_kill(env, SYS_RECORDER, SIGKILL), 0);
    usleep(300000);
    assert_int_equal(sys_spawn(env, SYS_RECORDER), 0);
    usleep(200000);
    assert_int_equal(sys_kill(env, SYS_IDENTITY, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_IDENTITY), 0);
    usleep(400000);
    /* both at once, the consumer first */
    assert_int_equal(sys_kill(env, SYS_RECORDER, SIGKILL), 0);
    assert_int_equal(sys_kill(env, SYS_IDENTITY, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_IDENTITY), 0);
    assert_int_equal(sys_spawn(env, SYS_RECORDER), 0);
    int status = 0;
    assert_int_equal(waitpid(writer, &status, 0), writer);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(sys_wait_ready(env, SYS_IDENTITY, 15000), 0);
    uint64_t head = identity_head(env);
    /* the admin's creation plus one event per user, at least */
    assert_true(head >= USERS + 1);
    wait_caught_up(env, head);
    assert_int_equal(sys_kill(env, SYS_RECORDER, SIGTERM), 0);
    tally_t t;
    assert_int_equal(recorder_tally(env, &t), 0);
    assert_int_equal(t.applied, head);
    assert_int_equal(t.max, head);
    assert_int_equal(t.dups, 0);
    assert_int_equal(t.gaps, 0);
    assert_int_equal(t.cursor, head);

    /* and exactly one user per login: no creation applied twice */
    Crm__Identity__V1__ListUsersRequest lr = CRM__IDENTITY__V1__LIST_USERS_REQUEST__INIT;
    lr.page_size = 1000;
    Crm__Identity__V1__ListUsersReply *users = sys_call(env, "crm.identity.v1.Identity/ListUsers", admin, &lr.base,
                                                        &crm__identity__v1__list_users_reply__descriptor, &st);
    assert_non_null(users);
    assert_int_equal(users->n_users, USERS + 1);
    crm__identity__v1__list_users_reply__free_unpacked(users, NULL);
    free(admin);
    assert_int_equal(sys_stop(env), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exactly_once_across_kills),
    };
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
