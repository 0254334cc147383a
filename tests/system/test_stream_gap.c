/* A gap in the notification stream seen by many open streams at once: every
 * stream catches up with ListInbox, but no more than --sse-backfills of
 * those calls are in flight at any moment (the rest wait their turn), and
 * every stream still gets each missed entry exactly once, in order.
 *
 * The gap is made certain: notifications is stopped while the changes
 * happen, and the gateway is frozen (SIGSTOP) while notifications comes
 * back and turns them into entries, so the gateway hears none of them live
 * and learns of them from the stream's heartbeat. */
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
#include <unistd.h>

#define P(m) "crm.pipeline.v1.Pipeline/" m
#define N(m) "crm.notifications.v1.Notifications/" m

#define USERS 6
#define STREAMS_PER_USER 10 /* under the gateway's 16 a user */
#define STREAMS (USERS * STREAMS_PER_USER)
#define BACKFILLS 3         /* CRM_SSE_BACKFILLS below */
#define CHANGES 40          /* entries each user misses */

static sys_env_t *env;
static char *admin;

static int setup(void **state)
{
    static const char *const extra[] = {"CRM_SSE_BACKFILLS=3", NULL};
    env = sys_start_admin(extra, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* A gauge or counter of the gateway's /metrics. */
static long long metric(const char *name)
{
    char *text = NULL, key[128];
    assert_int_equal(sys_http(env, "GET", "/metrics", NULL, NULL, 0, &text, NULL), 200);
    snprintf(key, sizeof key, "\n%s ", name);
    const char *line = strstr(text, key);
    if (!line)
        fail_msg("no %s in /metrics", name);
    long long v = atoll(line + strlen(key));
    free(text);
    return v;
}

/* The ids of token's inbox, oldest first; *n gets how many. */
static int64_t *inbox_ids(const char *token, size_t *n)
{
    json_t *r = OK(token, N("ListInbox"), "{\"pageSize\":500}");
    json_t *list = json_object_get(r, "notifications");
    *n = json_array_size(list);
    int64_t *ids = calloc(*n + 1, sizeof *ids);
    for (size_t i = 0; i < *n; i++)
        ids[*n - 1 - i] = sys_jint(json_array_get(list, i), "id"); /* newest first */
    json_decref(r);
    return ids;
}

static void test_gap_with_many_streams(void **state)
{
    char *token[USERS];
    int64_t lead = sys_new_opportunity(env, admin, "Watched by many", 0);
    json_decref(OK(admin, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead));
    for (int u = 0; u < USERS; u++) {
        char login[32];
        snprintf(login, sizeof login, "gap.user%d", u);
        token[u] = sys_new_sales_user(env, admin, login, login, "SALES_ACCESS_ALL_LEADS", NULL);
        json_decref(OK(token[u], N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead));
    }
    size_t before[USERS];
    for (int u = 0; u < USERS; u++)
        free(inbox_ids(token[u], &before[u]));
    sys_sse_t *sse[STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        int status;
        sse[i] = sys_sse_open(env, token[i / STREAMS_PER_USER], 0, &status);
        if (!sse[i])
            fail_msg("stream %d not opened: %d", i, status);
    }
    long long total_before = metric("crm_gateway_backfills_total");

    /* the changes happen while notifications is away */
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGTERM), 0);
    int64_t s1 = sys_stage_id(env, admin, "Qualification"), s2 = sys_stage_id(env, admin, "Proposition");
    for (int i = 0; i < CHANGES; i++)
        json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"expectedRevenue\":\"%d\"}",
                       (long long)lead, (long long)(i % 2 ? s1 : s2), 1000 + i));
    /* and become entries while the gateway hears nothing */
    assert_int_equal(kill(env->pid[SYS_GATEWAY], SIGSTOP), 0);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    usleep(3000 * 1000);
    assert_int_equal(kill(env->pid[SYS_GATEWAY], SIGCONT), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    for (int u = 0; u < USERS; u++)
        assert_int_equal(sys_wait_unread(env, token[u], (int64_t)before[u] + CHANGES, 20000),
                         (int64_t)before[u] + CHANGES);

    /* every stream gets exactly the entries it missed, in order */
    for (int u = 0; u < USERS; u++) {
        size_t n;
        int64_t *ids = inbox_ids(token[u], &n);
        assert_int_equal(n, before[u] + CHANGES);
        for (int s = 0; s < STREAMS_PER_USER; s++) {
            sys_sse_t *c = sse[u * STREAMS_PER_USER + s];
            size_t got = 0;
            int64_t id;
            while (got < CHANGES && sys_sse_next(c, 10000, &id, NULL) == 1) {
                assert_int_equal(id, ids[before[u] + got]);
                got++;
            }
            assert_int_equal(got, CHANGES);
            assert_int_equal(sys_sse_next(c, 50, &id, NULL), 0); /* and nothing twice */
        }
        free(ids);
    }
    long long peak = metric("crm_gateway_backfills_peak"), total = metric("crm_gateway_backfills_total") - total_before;
    printf("  gap seen by %d streams: %lld ListInbox calls, at most %lld at once (bound %d)\n", STREAMS, total, peak,
           BACKFILLS);
    assert_true(total >= STREAMS); /* every stream caught up by ListInbox */
    assert_true(peak >= 1 && peak <= BACKFILLS);
    assert_int_equal(metric("crm_gateway_backfills_in_flight"), 0);
    assert_int_equal(metric("crm_gateway_backfills_queued"), 0);
    for (int i = 0; i < STREAMS; i++)
        sys_sse_close(&sse[i]);
    for (int u = 0; u < USERS; u++)
        free(token[u]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_with_many_streams),
    };
    return cmocka_run_group_tests_name("stream_gap", tests, setup, teardown);
}
