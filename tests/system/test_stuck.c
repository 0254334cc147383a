/* An event a consumer cannot apply (here: notifications meets a record of
 * its own store that is corrupt) is not retried silently for ever: Health
 * turns DEGRADED naming the producer, the event and the error, calls that
 * need it fail at once with unavailable saying why, `crmctl consumers`
 * shows it, and an operator's retry (once the cause is mended) or skip lets
 * the consumer go on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_store.h"
#include "harness.h"
#include "health.pb-c.h"

#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define N(m) "crm.notifications.v1.Notifications/" m
#define DOC_LEAD 1 /* notifications' docs table: model byte, then the id */

static sys_env_t *env;
static char *admin, *sales;
static int64_t sales_id;

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    if (!env)
        return -1;
    sales = sys_new_sales_user(env, admin, "stuck.sales", "Sue", "SALES_ACCESS_OWN_LEADS", &sales_id);
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(sales);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* Writes value (NULL: deletes) under lead id in notifications' docs
 * table, from this process: LMDB lets a second process write beside the
 * service. */
static void poke_doc(int64_t id, const char *value)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/notifications", env->dir);
    MDB_env *e;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&e), 0);
    assert_int_equal(mdb_env_set_maxdbs(e, 32), 0);
    assert_int_equal(mdb_env_open(e, dir, MDB_NOTLS, 0640), 0);
    assert_int_equal(mdb_txn_begin(e, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "docs", 0, &dbi), 0);
    uint8_t key[9];
    key[0] = DOC_LEAD;
    crm_key_put_u64(key + 1, (uint64_t)id);
    MDB_val k = {sizeof key, key};
    if (value) {
        MDB_val v = {strlen(value), (void *)value};
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    } else {
        int rc = mdb_del(txn, dbi, &k, NULL);
        assert_true(rc == 0 || rc == MDB_NOTFOUND);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(e);
}

/* Notifications' health: its status, and its problems joined in *problems
 * (cap bytes). */
static void health(char *status, size_t scap, char *problems, size_t pcap)
{
    crm_status_t st;
    Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    req.service = "notifications";
    Crm__Health__V1__CheckReply *r = sys_call(env, "crm.health.v1.Health/Check", NULL, &req.base,
                                              &crm__health__v1__check_reply__descriptor, &st);
    assert_non_null(r);
    snprintf(status, scap, "%s", r->status);
    problems[0] = '\0';
    for (size_t i = 0; i < r->n_problems; i++)
        snprintf(problems + strlen(problems), pcap - strlen(problems), "%s;", r->problems[i]);
    crm__health__v1__check_reply__free_unpacked(r, NULL);
}

static void wait_status(const char *want, char *problems, size_t pcap)
{
    char status[32];
    int64_t until = sys_now_ms() + SYS_TIMEOUT_MS;
    for (;;) {
        health(status, sizeof status, problems, pcap);
        if (!strcmp(status, want))
            return;
        if (sys_now_ms() > until)
            fail_msg("notifications stayed %s (%s), not %s", status, problems, want);
        usleep(50 * 1000);
    }
}

/* Runs crmctl consumers ARGS against notifications' RPC socket: its exit
 * status, its output in out. */
static int crmctl(char *out, size_t cap, const char *args)
{
    char path[512], cmd[2048];
    sys_program(path, sizeof path, "crmctl");
    snprintf(cmd, sizeof cmd, "%s consumers --rpc '%s' notifications %s 2>&1", path, env->notifications_rpc, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void move(int64_t lead, const char *stage)
{
    json_decref(OK(sales, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)lead,
                   (long long)sys_stage_id(env, admin, stage)));
}

static void test_stuck_event(void **state)
{
    int64_t x = sys_new_opportunity(env, sales, "Stuck deal", sales_id);
    int64_t y = sys_new_opportunity(env, sales, "Other deal", sales_id);
    json_decref(OK(sales, N("UnreadCount"), "{}")); /* notifications has seen both */
    char problems[2048], out[8192];
    wait_status("SERVING", problems, sizeof problems);

    /* a record of notifications' own store that no longer decodes */
    poke_doc(x, "\xff\xff\xff\xff garbage");
    move(x, "Qualification");
    wait_status("DEGRADED", problems, sizeof problems);
    assert_non_null(strstr(problems, "pipeline event"));
    assert_non_null(strstr(problems, "lead.updated"));
    printf("  degraded: %s\n", problems);

    /* the caller's own write is behind the stuck event: told at once */
    int64_t t0 = sys_now_ms();
    crm_status_t st;
    json_t *r = sys_jcall(env, N("UnreadCount"), sales, &st, "{}");
    int64_t took = sys_now_ms() - t0;
    assert_null(r);
    assert_int_equal(st.code, CODE(UNAVAILABLE));
    assert_non_null(strstr(st.message, "operator"));
    printf("  a call behind the stuck event: %s in %lld ms (%s)\n", crm_code_name(st.code), (long long)took,
           st.message);
    assert_true(took < 2000); /* its deadline is 5 s: it did not wait it out */

    assert_int_equal(crmctl(out, sizeof out, ""), 0);
    assert_non_null(strstr(out, "\"stuck\""));
    assert_non_null(strstr(out, "lead.updated"));
    json_error_t jerr;
    json_t *list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    json_t *c;
    size_t i;
    uint64_t seq = 0;
    json_array_foreach(json_object_get(list, "consumers"), i, c)
        if (!strcmp(sys_jstr(c, "producer"), "pipeline"))
            seq = (uint64_t)sys_jint(c, "stuck.seq");
    json_decref(list);
    assert_true(seq > 0);

    /* mended, then retried: it applies */
    poke_doc(x, NULL);
    assert_int_equal(crmctl(out, sizeof out, "retry pipeline"), 0);
    wait_status("SERVING", problems, sizeof problems);
    json_decref(OK(sales, N("UnreadCount"), "{}"));

    /* stuck again; a skip of another event is refused, of that one done */
    poke_doc(x, "\xfe\xfe garbage again");
    move(x, "Proposition");
    wait_status("DEGRADED", problems, sizeof problems);
    assert_int_equal(crmctl(out, sizeof out, ""), 0);
    list = json_loads(out, 0, &jerr);
    assert_non_null(list);
    json_array_foreach(json_object_get(list, "consumers"), i, c)
        if (!strcmp(sys_jstr(c, "producer"), "pipeline"))
            seq = (uint64_t)sys_jint(c, "stuck.seq");
    json_decref(list);
    char args[64];
    snprintf(args, sizeof args, "skip pipeline %llu", (unsigned long long)seq + 1);
    assert_int_not_equal(crmctl(out, sizeof out, args), 0);
    assert_non_null(strstr(out, "failed_precondition"));
    snprintf(args, sizeof args, "skip pipeline %llu", (unsigned long long)seq);
    assert_int_equal(crmctl(out, sizeof out, args), 0);
    wait_status("SERVING", problems, sizeof problems);
    /* the events after it are applied */
    move(y, "Qualification");
    json_decref(OK(sales, N("UnreadCount"), "{}"));
    assert_int_equal(crmctl(out, sizeof out, ""), 0);
    assert_null(strstr(out, "\"stuck\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stuck_event),
    };
    return cmocka_run_group_tests_name("stuck", tests, setup, teardown);
}
