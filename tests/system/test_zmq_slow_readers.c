/* Slow readers at the ZeroMQ door: a DEALER that asks for many large
 * attachments and reads none holds no more of the gateway's memory than its
 * budget, gets resource_exhausted past it, does not delay anyone else, and
 * gets what was kept, in order, when it reads at last; a reader that goes
 * away with replies waiting gives their bytes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "activities.pb-c.h"
#include "client.pb-c.h"
#include "crm_mem.h"
#include "crm_zloop.h"
#include "harness.h"
#include "identity.pb-c.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define MIB (1024 * 1024)
#define BUDGET (16 * MIB) /* an address's and a session's, set in setup: the least the gateway takes */
#define ATTACHMENT (4 * MIB)
#define CALLS 48          /* 192 MiB of replies asked for: twelve budgets */
#define RSS_BOUND (64 * MIB)
#define PROMPT_MS 1000    /* another client's WhoAmI, under ASan on a shared machine */
#define GET_ATTACHMENT "crm.activities.v1.Activities/GetAttachment"

static sys_env_t *env;
static char *admin, *sales;
static void *zctx;
static void *reader;         /* the slow reader of the test running */
static crm_client_t *other;  /* and another client, from another address */
static crm_client_t *other;  /* and another client, from another address */

static int setup(void **state)
{
    /* ASan's quarantine would keep every freed block counted in the RSS */
    static const char *const extra[] = {"CRM_MAX_IN_FLIGHT_PER_ADDRESS=16777216",
                                        "CRM_MAX_IN_FLIGHT_PER_SESSION=16777216", "CRM_DEADLINE_MS=30000",
                                        "ASAN_OPTIONS=quarantine_size_mb=8:detect_leaks=1", NULL};
    env = sys_start_admin(extra, &admin);
    if (!env)
        return -1;
    sales = sys_new_sales_user(env, admin, "slow.sales", "Sam", "SALES_ACCESS_OWN_LEADS", NULL);
    zctx = zmq_ctx_new();
    return zctx ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    free(sales);
    /* a failed test leaves them open, and the context would wait for them */
    if (reader)
        zmq_close(reader);
    crm_client_destroy(&other);
    zmq_ctx_term(zctx);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* GetAttachment calls answered so far: served, or refused for the budget. */
static long long attachments_answered(void)
{
    return sys_gateway_metric(env, "crm_gateway_requests_total{method=\"" GET_ATTACHMENT "\",code=\"ok\"}", 0) +
           sys_gateway_metric(env, "crm_gateway_requests_total{method=\"" GET_ATTACHMENT "\",code=\"resource_exhausted\"}", 0);
}

/* Waits (30 s at most) until the gateway's bytes in flight are want. */
static long long wait_in_flight(long long want)
{
    long long held = -1;
    for (int64_t until = sys_now_ms() + 30000; sys_now_ms() < until; usleep(50 * 1000))
        if ((held = sys_gateway_metric(env, "crm_gateway_bytes_in_flight", 0)) == want)
            break;
    return held;
}

/* A DEALER from source (a loopback address: the reader's own budget) that
 * takes in as little as libzmq and the kernel let it while it does not
 * read, so that what it leaves unread stays on the gateway's side. It
 * keeps its connection up as a hostile reader would: it sends heartbeats
 * (the gateway drops a peer silent for CRM_HEARTBEAT_TIMEOUT_MS) and never
 * times out itself (reading nothing, it hears no answer to them). The
 * test's reader becomes it (one left open by a failed test is closed). */
static void *slow_reader(const char *source)
{
    if (reader)
        zmq_close(reader);
    void *s = reader = zmq_socket(zctx, ZMQ_DEALER);
    assert_non_null(s);
    int one = 1, zero = 0, small = 64 << 10, ivl = CRM_HEARTBEAT_IVL_MS, never = 3600 * 1000;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &never, sizeof never), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small), 0);
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://%s:0;%s", source, env->zmq + strlen("tcp://"));
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

/* Sends n GetAttachment calls (body) as sales, ids 1..n, without reading. */
static void ask(void *s, const uint8_t *body, size_t len, int n)
{
    for (int i = 1; i <= n; i++) {
        Crm__Client__V1__ClientRequest req = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
        req.id = (uint64_t)i;
        req.method = GET_ATTACHMENT;
        req.token = sales;
        req.body.data = (uint8_t *)body;
        req.body.len = len;
        uint8_t buf[1024];
        size_t n_packed = crm__client__v1__client_request__pack(&req, buf);
        assert_int_equal(zmq_send(s, buf, n_packed, 0), (int)n_packed);
    }
}

/* WhoAmI as admin from an address of its own, the slowest of a few, in ms. */
static int64_t whoami_ms(crm_client_t *c)
{
    int64_t worst = 0;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = sys_now_ms();
        crm_status_t st;
        Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
        Crm__Identity__V1__User *u = crm_client_call_msg(c, "crm.identity.v1.Identity/WhoAmI", admin, &req.base,
                                                         &crm__identity__v1__user__descriptor, SYS_TIMEOUT_MS, &st);
        if (!u)
            fail_msg("WhoAmI while a reader is slow: %s %s", crm_code_name(st.code), st.message);
        crm__identity__v1__user__free_unpacked(u, NULL);
        int64_t ms = sys_now_ms() - t0;
        worst = ms > worst ? ms : worst;
    }
    return worst;
}

static void test_slow_reader_held_to_its_budget(void **state)
{
    uint8_t body[32];
    size_t len = sys_big_attachment(env, sales, "Big files for a slow reader", ATTACHMENT, body);
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://127.0.0.40:0;%s", env->zmq + strlen("tcp://"));
    other = crm_client_new(ep);
    assert_non_null(other);
    whoami_ms(other);

    long before = sys_reset_peak(env->pid[SYS_GATEWAY]);
    long long answered_before = attachments_answered();
    void *s = reader = slow_reader("127.0.0.30");
    ask(s, body, len, CALLS);
    /* meanwhile: the gateway reads the attachments from activities and
     * holds what the reader may have */
    int64_t during = whoami_ms(other);
    for (int64_t until = sys_now_ms() + 60000; sys_now_ms() < until && attachments_answered() - answered_before < CALLS;)
        usleep(50 * 1000);
    assert_int_equal(attachments_answered() - answered_before, CALLS);
    int64_t after = whoami_ms(other);
    long long held = sys_gateway_metric(env, "crm_gateway_bytes_in_flight", 0);
    long grew = sys_proc_kib(env->pid[SYS_GATEWAY], "VmHWM") - before;
    printf("  %d unread replies of %d MiB: gateway peak RSS growth %ld KiB, %lld bytes held; "
           "another client's WhoAmI at worst %lld ms while they were made, %lld ms after\n",
           CALLS, ATTACHMENT / MIB, grew, held, (long long)during, (long long)after);
    assert_true(grew < RSS_BOUND / 1024);
    assert_true(held > 0 && held <= BUDGET + (1 << 20));
    assert_true(during < PROMPT_MS && after < PROMPT_MS);

    /* read at last: what was kept comes in the order it was made */
    int timeout = 5000, ok = 0, exhausted = 0, other_codes = 0;
    uint64_t last_id = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        Crm__Client__V1__ClientReply *r =
            crm__client__v1__client_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(r);
        assert_true(r->id > last_id);
        last_id = r->id;
        Crm__Rpc__V1__Code code = r->status ? (Crm__Rpc__V1__Code)r->status->code : CODE(OK);
        if (code == CODE(OK)) {
            Crm__Activities__V1__Attachment *a =
                crm__activities__v1__attachment__unpack(NULL, r->body.len, r->body.data);
            assert_non_null(a);
            assert_int_equal(a->data.len, ATTACHMENT);
            crm__activities__v1__attachment__free_unpacked(a, NULL);
            ok++;
        } else if (code == CODE(RESOURCE_EXHAUSTED)) {
            exhausted++;
        } else {
            other_codes++;
        }
        crm__client__v1__client_reply__free_unpacked(r, NULL);
        if (last_id == CALLS)
            break;
    }
    printf("  read at last: %d served, %d refused (resource_exhausted), %d other, of %d\n", ok, exhausted,
           other_codes, CALLS);
    assert_int_equal(other_codes, 0);
    assert_int_equal(ok + exhausted, CALLS);
    assert_true(ok >= 1 && exhausted >= 1);
    /* the budget, and what the kernel's and the reader's buffers took */
    assert_true((long)ok * ATTACHMENT <= 2L * BUDGET);
    assert_int_equal(wait_in_flight(0), 0);
    /* read and done: the reader is served again */
    ask(s, body, len, 1);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) > ATTACHMENT);
    zmq_msg_close(&m);
    zmq_close(s);
    reader = NULL;
    reader = NULL;
    crm_client_destroy(&other);
}

/* A reader that goes away with replies waiting for it: their bytes go back,
 * and its address is served again. */
static void test_gone_reader_gives_back(void **state)
{
    uint8_t body[32];
    size_t len = sys_big_attachment(env, sales, "Big files for a reader that leaves", ATTACHMENT, body);
    long long answered_before = attachments_answered();
    void *s = reader = slow_reader("127.0.0.31");
    ask(s, body, len, CALLS / 4);
    for (int64_t until = sys_now_ms() + 60000;
         sys_now_ms() < until && attachments_answered() - answered_before < CALLS / 4;)
        usleep(50 * 1000);
    long long held = sys_gateway_metric(env, "crm_gateway_bytes_in_flight", 0);
    printf("  %d unread replies of %d MiB: %lld bytes held until the reader left\n", CALLS / 4,
           ATTACHMENT / MIB, held);
    assert_true(held >= ATTACHMENT);
    zmq_close(s);
    reader = NULL;
    reader = NULL;
    assert_int_equal(wait_in_flight(0), 0);
    s = reader = slow_reader("127.0.0.31");
    ask(s, body, len, 1);
    int timeout = SYS_TIMEOUT_MS;
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, s, 0) > ATTACHMENT);
    zmq_msg_close(&m);
    zmq_close(s);
    reader = NULL;
    reader = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_reader_held_to_its_budget),
        cmocka_unit_test(test_gone_reader_gives_back),
    };
    return cmocka_run_group_tests_name("zmq_slow_readers", tests, setup, teardown);
}
