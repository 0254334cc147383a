/* Hot backups: `crmctl backup` copies every store while a writer keeps
 * creating opportunities and posting on them; a system started on the copy
 * has every opportunity acknowledged before the backup began, its chatter
 * catches up from pipeline's outbox with each opportunity told exactly
 * once, and it takes new writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define A(m) "crm.activities.v1.Activities/" m

#define BEFORE 60 /* opportunities acknowledged before the backup starts */

static json_t *ok(sys_env_t *env, const char *token, const char *method, const char *body)
{
    crm_status_t st;
    json_t *r = sys_jcall(env, method, token, &st, "%s", body);
    if (!r)
        fail_msg("%s %s: %s %s", method, body, crm_code_name(st.code), st.message);
    return r;
}

static int64_t create_lead(sys_env_t *env, const char *token, int k, int with_note)
{
    char body[160];
    snprintf(body, sizeof body, "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Deal %d\",\"expectedRevenue\":\"%d\"}", k, k * 100);
    json_t *l = ok(env, token, P("CreateLead"), body);
    int64_t id = sys_jint(l, "id");
    json_decref(l);
    if (!with_note)
        return id;
    snprintf(body, sizeof body, "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"note %d\"}",
             (long long)id, k);
    json_decref(ok(env, token, A("PostMessage"), body));
    return id;
}

/* The chatter of lead: how many "created" tracking messages and notes. */
static void chatter_counts(sys_env_t *env, const char *token, int64_t lead, int *created, int *notes, int *reachable)
{
    char body[96];
    snprintf(body, sizeof body, "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":100}", (long long)lead);
    crm_status_t st;
    json_t *r = sys_jcall(env, A("ListMessages"), token, &st, "%s", body);
    *created = *notes = 0;
    *reachable = r != NULL;
    if (!r)
        return;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "messages"), i, m)
    {
        *created += !strcmp(sys_jstr(m, "event"), "lead.created");
        *notes += !strcmp(sys_jstr(m, "kind"), "MESSAGE_KIND_NOTE");
    }
    json_decref(r);
}

static void test_hot_backup_and_restore(void **state)
{
    char *admin;
    sys_env_t *env = sys_start_admin(NULL, &admin);
    assert_non_null(env);
    int64_t before[BEFORE];
    for (int k = 0; k < BEFORE; k++)
        before[k] = create_lead(env, admin, k, 1);

    /* a writer keeps going through the backup, while activities lags far
     * behind pipeline (stopped): its copy then misses opportunities that
     * pipeline's copy has, which the restored activities must catch up on */
    assert_int_equal(kill(env->pid[SYS_ACTIVITIES], SIGSTOP), 0);
    pid_t writer = fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        sys_env_t mine = *env;
        mine.client = crm_client_new(env->zmq);
        for (int k = BEFORE; mine.client; k++)
            create_lead(&mine, admin, k, 0);
        _exit(0);
    }
    usleep(300000);
    char crmctl[512], dest[300], cmd[1200];
    sys_program(crmctl, sizeof crmctl, "crmctl");
    snprintf(dest, sizeof dest, "%s-backup", env->dir);
    snprintf(cmd, sizeof cmd, "%s backup --data %s %s >/dev/null", crmctl, env->dir, dest);
    assert_int_equal(system(cmd), 0);
    usleep(300000);
    kill(writer, SIGKILL);
    waitpid(writer, NULL, 0);
    assert_int_equal(kill(env->pid[SYS_ACTIVITIES], SIGCONT), 0);
    free(admin);
    assert_int_equal(sys_stop(env), 0);

    /* restore: the copies become the stores of a new system */
    sys_env_t *restored = sys_prepare(NULL);
    assert_non_null(restored);
    snprintf(cmd, sizeof cmd, "for s in identity pipeline activities; do cp -r %s/$s %s/$s || exit 1; done; rm -rf %s",
             dest, restored->dir, dest);
    assert_int_equal(system(cmd), 0);
    assert_non_null(sys_launch(restored));
    env = restored;
    crm_status_t st;
    admin = sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st);
    assert_non_null(admin);

    /* every acknowledged opportunity is there, with its note */
    for (int k = 0; k < BEFORE; k++) {
        char body[64];
        snprintf(body, sizeof body, "{\"id\":\"%lld\"}", (long long)before[k]);
        json_decref(ok(env, admin, P("GetLead"), body));
    }
    /* and every opportunity the copy holds, those of the writer too, is told
     * exactly once in the chatter once activities has caught up */
    json_t *all = ok(env, admin, P("ListLeads"), "{\"pageSize\":500}");
    size_t n = json_array_size(json_object_get(all, "leads"));
    assert_true(n > BEFORE); /* the writer's too */
    int64_t until = sys_now_ms() + 20000;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(all, "leads"), i, l)
    {
        int created = 0, notes = 0, reachable = 0;
        do {
            chatter_counts(env, admin, sys_jint(l, "id"), &created, &notes, &reachable);
            if (!created)
                usleep(20000);
        } while (!created && sys_now_ms() < until);
        assert_true(reachable);
        assert_int_equal(created, 1);
        assert_true(notes <= 1);
        if (sys_jint(l, "id") <= before[BEFORE - 1])
            assert_int_equal(notes, 1);
    }
    json_decref(all);
    fprintf(stderr, "restored %zu opportunities (%d before the backup)\n", n, BEFORE);

    /* and it goes on: a new opportunity gets a new id and its chatter */
    int64_t next = create_lead(env, admin, 100000, 1);
    assert_true(next > before[BEFORE - 1]);
    free(admin);
    assert_int_equal(sys_stop(env), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_backup_and_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
