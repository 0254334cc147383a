#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "crm_mem.h"
#include "crm_zloop.h"

/* Every test runs its sockets inside a real libev loop, bounded by a guard
 * timer so that a stranded message fails the test instead of hanging it. */

#define N_MSGS 1000

typedef struct {
    struct ev_loop *loop;
    void *zctx;
    ev_timer guard;
    int timed_out;
    char endpoint[128];
    void *socks[8]; /* closed by teardown, so that a failed test cannot hang zmq_ctx_term */
    int n_socks;
} fixture_t;

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
    fixture_t *f = w->data;
    f->timed_out = 1;
    ev_break(loop, EVBREAK_ALL);
}

static void run_for_at_most(fixture_t *f, double seconds)
{
    f->timed_out = 0;
    ev_timer_init(&f->guard, on_guard, seconds, 0);
    f->guard.data = f;
    ev_timer_start(f->loop, &f->guard);
    ev_run(f->loop, 0);
    ev_timer_stop(f->loop, &f->guard);
}

static int setup_common(void **state, const char *transport)
{
    static int counter;
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->zctx = zmq_ctx_new();
    if (!f->loop || !f->zctx)
        return -1;
    if (!strcmp(transport, "ipc"))
        snprintf(f->endpoint, sizeof f->endpoint, "ipc:///tmp/crm-test-zloop-%d-%d.sock", (int)getpid(),
                 ++counter);
    else
        snprintf(f->endpoint, sizeof f->endpoint, "inproc://crm-test-zloop-%d-%d", (int)getpid(),
                 ++counter);
    *state = f;
    return 0;
}

static int setup_inproc(void **state) { return setup_common(state, "inproc"); }
static int setup_ipc(void **state) { return setup_common(state, "ipc"); }

static int teardown(void **state)
{
    fixture_t *f = *state;
    for (int i = 0; i < f->n_socks; i++)
        zmq_close(f->socks[i]);
    zmq_ctx_term(f->zctx);
    ev_loop_destroy(f->loop);
    if (!strncmp(f->endpoint, "ipc://", 6))
        unlink(f->endpoint + 6);
    free(f);
    return 0;
}

static void *new_socket(fixture_t *f, int type)
{
    void *s = zmq_socket(f->zctx, type);
    assert_non_null(s);
    assert_true(f->n_socks < 8);
    f->socks[f->n_socks++] = s;
    return s;
}

static void *make_socket(fixture_t *f, int type, int bind)
{
    void *s = new_socket(f, type);
    assert_int_equal(crm_zsock_setup(s, 0), 0);
    int hwm = 100000;
    assert_int_equal(zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm), 0);
    if (bind)
        assert_int_equal(zmq_bind(s, f->endpoint), 0);
    else
        assert_int_equal(zmq_connect(s, f->endpoint), 0);
    return s;
}

/* Waits (outside any loop) until s has input. */
static void wait_input(void *s)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 2000), 1);
}

/* --- a burst read one message per callback --------------------------------- */

typedef struct {
    fixture_t *f;
    int received, calls, empty_calls, out_of_order;
    int budget;
} sink_t;

static void sink_read(crm_zwatch_t *w, void *socket, void *arg)
{
    sink_t *s = arg;
    s->calls++;
    int got = 0;
    for (int i = 0; i < s->budget; i++) {
        crm_frames_t fr;
        if (crm_frames_recv(socket, &fr) != 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        /* ROUTER: [peer][4-byte counter] */
        assert_int_equal(fr.count, 2);
        assert_int_equal(crm_frame_size(&fr, 1), sizeof(uint32_t));
        uint32_t v;
        memcpy(&v, crm_frame_data(&fr, 1), sizeof v);
        if (v != (uint32_t)s->received)
            s->out_of_order++;
        s->received++;
        got++;
        crm_frames_close(&fr);
    }
    if (!got)
        s->empty_calls++;
    if (s->received == N_MSGS)
        ev_break(s->f->loop, EVBREAK_ALL);
}

static void burst_budget_one(fixture_t *f)
{
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    /* the whole burst is queued before the loop ever runs */
    for (uint32_t i = 0; i < N_MSGS; i++)
        assert_int_equal(zmq_send(dealer, &i, sizeof i, 0), (int)sizeof i);

    sink_t sink = {f, 0, 0, 0, 0, 1};
    crm_zwatch_t *w = crm_zwatch_new(f->loop, router, sink_read, &sink);
    assert_non_null(w);
    run_for_at_most(f, 5.0);
    assert_false(f->timed_out);
    assert_int_equal(sink.received, N_MSGS);
    assert_int_equal(sink.out_of_order, 0);
    assert_int_equal(sink.calls, N_MSGS);
    assert_int_equal(sink.empty_calls, 0);

    crm_zwatch_destroy(&w);
    assert_null(w);
    crm_zwatch_destroy(&w);
}

static void test_burst_budget_one_inproc(void **state) { burst_budget_one(*state); }
static void test_burst_budget_one_ipc(void **state) { burst_budget_one(*state); }

/* --- the loop sleeps when there is nothing to read ------------------------- */

static void on_stop(struct ev_loop *loop, ev_timer *w, int revents) { ev_break(loop, EVBREAK_ALL); }

static void test_idle_loop_does_not_spin(void **state)
{
    fixture_t *f = *state;
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(zmq_send(dealer, &i, sizeof i, 0), (int)sizeof i);
    sink_t sink = {f, 0, 0, 0, 0, 1};
    crm_zwatch_t *w = crm_zwatch_new(f->loop, router, sink_read, &sink);

    /* drain the 10, then stay idle for 200 ms */
    ev_timer stop;
    ev_timer_init(&stop, on_stop, 0.2, 0);
    ev_timer_start(f->loop, &stop);
    unsigned before = ev_iteration(f->loop);
    ev_run(f->loop, 0);
    unsigned turns = ev_iteration(f->loop) - before;
    assert_int_equal(sink.received, 10);
    /* ~10 turns to drain one by one, a few for wake-ups: a spinning loop
     * would make hundreds of thousands in 200 ms */
    if (turns > 100)
        fail_msg("the loop turned %u times while idle", turns);

    crm_zwatch_destroy(&w);
}

/* --- late arrivals wake a blocked loop ----------------------------------- */

typedef struct {
    void *dealer;
    uint32_t sent;
    ev_timer timer;
} dripper_t;

static void on_drip(struct ev_loop *loop, ev_timer *w, int revents)
{
    dripper_t *d = w->data;
    /* two at once, so one callback reading one leaves one behind */
    for (int i = 0; i < 2; i++, d->sent++)
        assert_int_equal(zmq_send(d->dealer, &d->sent, sizeof d->sent, ZMQ_DONTWAIT), 4);
    if (d->sent >= N_MSGS)
        ev_timer_stop(loop, w);
}

static void late_arrivals(fixture_t *f)
{
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    sink_t sink = {f, 0, 0, 0, 0, 1};
    crm_zwatch_t *w = crm_zwatch_new(f->loop, router, sink_read, &sink);
    dripper_t d = {dealer, 0, {0}};
    ev_timer_init(&d.timer, on_drip, 0.01, 0.001);
    d.timer.data = &d;
    ev_timer_start(f->loop, &d.timer);
    run_for_at_most(f, 8.0);
    ev_timer_stop(f->loop, &d.timer);
    assert_false(f->timed_out);
    assert_int_equal(sink.received, N_MSGS);
    assert_int_equal(sink.out_of_order, 0);
    assert_int_equal(sink.empty_calls, 0);
    crm_zwatch_destroy(&w);
}

static void test_late_arrivals_inproc(void **state) { late_arrivals(*state); }
static void test_late_arrivals_ipc(void **state) { late_arrivals(*state); }

/* --- request/reply ping-pong from inside the callbacks -------------------- */

typedef struct {
    fixture_t *f;
    void *client, *server;
    uint32_t sent, answered;
    int window;
    int bad;
} pingpong_t;

static void client_send_next(pingpong_t *p)
{
    const void *data[1] = {&p->sent};
    size_t size[1] = {sizeof p->sent};
    assert_int_equal(crm_zsend(p->client, data, size, 1), 0);
    p->sent++;
}

/* The server answers one request per callback, from inside the callback. */
static void server_read(crm_zwatch_t *w, void *socket, void *arg)
{
    pingpong_t *p = arg;
    crm_frames_t fr;
    if (crm_frames_recv(socket, &fr) != 0) {
        p->bad++;
        return;
    }
    if (fr.count != 2) {
        p->bad++;
        crm_frames_close(&fr);
        return;
    }
    uint32_t v;
    memcpy(&v, crm_frame_data(&fr, 1), sizeof v);
    v = v * 2 + 1;
    const void *data[2] = {crm_frame_data(&fr, 0), &v};
    size_t size[2] = {crm_frame_size(&fr, 0), sizeof v};
    if (crm_zsend(socket, data, size, 2) != 0)
        p->bad++;
    crm_frames_close(&fr);
}

/* The client takes every reply there is and sends the next request. */
static void client_read(crm_zwatch_t *w, void *socket, void *arg)
{
    pingpong_t *p = arg;
    crm_frames_t fr;
    while (crm_frames_recv(socket, &fr) == 0) {
        uint32_t v;
        if (fr.count != 1 || crm_frame_size(&fr, 0) != sizeof v) {
            p->bad++;
        } else {
            memcpy(&v, crm_frame_data(&fr, 0), sizeof v);
            if (v != p->answered * 2 + 1)
                p->bad++;
        }
        crm_frames_close(&fr);
        p->answered++;
        if (p->sent < N_MSGS)
            client_send_next(p);
    }
    if (p->answered == N_MSGS)
        ev_break(p->f->loop, EVBREAK_ALL);
}

static void ping_pong(fixture_t *f, int window)
{
    pingpong_t p = {f, NULL, NULL, 0, 0, window, 0};
    p.server = make_socket(f, ZMQ_ROUTER, 1);
    p.client = make_socket(f, ZMQ_DEALER, 0);
    crm_zwatch_t *ws = crm_zwatch_new(f->loop, p.server, server_read, &p);
    crm_zwatch_t *wc = crm_zwatch_new(f->loop, p.client, client_read, &p);
    assert_non_null(ws);
    assert_non_null(wc);
    for (int i = 0; i < window; i++)
        client_send_next(&p);
    run_for_at_most(f, 8.0);
    assert_false(f->timed_out);
    assert_int_equal(p.bad, 0);
    assert_int_equal(p.answered, N_MSGS);
    assert_int_equal(p.sent, N_MSGS);
    crm_zwatch_destroy(&wc);
    crm_zwatch_destroy(&ws);
}

static void test_ping_pong_inproc(void **state) { ping_pong(*state, 1); }
static void test_ping_pong_ipc(void **state) { ping_pong(*state, 1); }
static void test_ping_pong_pipelined_ipc(void **state) { ping_pong(*state, 16); }

/* --- crm_frames_recv -------------------------------------------------------- */

static void send_frames(void *s, int n, const char *tag)
{
    for (int i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%s-%d", tag, i);
        assert_int_equal(zmq_send(s, buf, (size_t)len, i + 1 < n ? ZMQ_SNDMORE : 0), len);
    }
}

static void check_frames(crm_frames_t *fr, int n, const char *tag)
{
    assert_int_equal(fr->count, n);
    for (int i = 0; i < n; i++) {
        char buf[32];
        int len = snprintf(buf, sizeof buf, "%s-%d", tag, i);
        assert_int_equal(crm_frame_size(fr, i), (size_t)len);
        assert_memory_equal(crm_frame_data(fr, i), buf, (size_t)len);
    }
}

static void test_frames_recv(void **state)
{
    fixture_t *f = *state;
    void *a = make_socket(f, ZMQ_PAIR, 1);
    void *b = make_socket(f, ZMQ_PAIR, 0);
    crm_frames_t fr;

    errno = 0;
    assert_int_equal(crm_frames_recv(a, &fr), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(fr.count, 0);

    send_frames(b, 5, "five");
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), 0);
    check_frames(&fr, 5, "five");
    crm_frames_close(&fr);
    assert_int_equal(fr.count, 0);

    send_frames(b, CRM_FRAMES_MAX, "max");
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), 0);
    check_frames(&fr, CRM_FRAMES_MAX, "max");
    crm_frames_close(&fr);

    /* one frame too many, then far too many: each dropped whole, and the
     * next message still arrives intact */
    send_frames(b, CRM_FRAMES_MAX + 1, "over");
    send_frames(b, 3, "after");
    send_frames(b, 40, "huge");
    send_frames(b, 1, "last");
    wait_input(a);
    errno = 0;
    assert_int_equal(crm_frames_recv(a, &fr), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_int_equal(fr.count, 0);
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), 0);
    check_frames(&fr, 3, "after");
    crm_frames_close(&fr);
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), -1);
    assert_int_equal(errno, EMSGSIZE);
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), 0);
    check_frames(&fr, 1, "last");
    crm_frames_close(&fr);

    /* empty frames are frames */
    assert_int_equal(zmq_send(b, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(b, "", 0, 0), 0);
    wait_input(a);
    assert_int_equal(crm_frames_recv(a, &fr), 0);
    assert_int_equal(fr.count, 2);
    assert_int_equal(crm_frame_size(&fr, 0), 0);
    crm_frames_close(&fr);

    assert_int_equal(crm_frames_recv(a, &fr), -1);
    assert_int_equal(errno, EAGAIN);
}

/* --- crm_zsend ----------------------------------------------------------------- */

static void test_zsend(void **state)
{
    fixture_t *f = *state;
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    const void *data[3] = {"alpha", "", "gamma"};
    size_t size[3] = {5, 0, 5};
    assert_int_equal(crm_zsend(dealer, data, size, 3), 0);
    wait_input(router);
    crm_frames_t fr;
    assert_int_equal(crm_frames_recv(router, &fr), 0);
    assert_int_equal(fr.count, 4); /* the peer's routing id first */
    assert_int_equal(crm_frame_size(&fr, 1), 5);
    assert_memory_equal(crm_frame_data(&fr, 1), "alpha", 5);
    assert_int_equal(crm_frame_size(&fr, 2), 0);
    assert_memory_equal(crm_frame_data(&fr, 3), "gamma", 5);

    /* the reply goes back through the routing id */
    const void *rdata[2] = {crm_frame_data(&fr, 0), "back"};
    size_t rsize[2] = {crm_frame_size(&fr, 0), 4};
    assert_int_equal(crm_zsend(router, rdata, rsize, 2), 0);
    crm_frames_close(&fr);
    wait_input(dealer);
    assert_int_equal(crm_frames_recv(dealer, &fr), 0);
    assert_int_equal(fr.count, 1);
    assert_memory_equal(crm_frame_data(&fr, 0), "back", 4);
    crm_frames_close(&fr);

    /* a ROUTER that must route: an unknown peer is EHOSTUNREACH */
    int mandatory = 1;
    assert_int_equal(zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory), 0);
    const void *udata[2] = {"nobody", "x"};
    size_t usize[2] = {6, 1};
    errno = 0;
    assert_int_equal(crm_zsend(router, udata, usize, 2), -1);
    assert_int_equal(errno, EHOSTUNREACH);

    /* a DEALER with no peer cannot take a message now */
    void *lonely = new_socket(f, ZMQ_DEALER);
    assert_int_equal(crm_zsock_setup(lonely, 0), 0);
    errno = 0;
    assert_int_equal(crm_zsend(lonely, data, size, 3), -1);
    assert_int_equal(errno, EAGAIN);
    /* nothing half-sent: once connected, the first message is a whole one */
    char ep2[160];
    snprintf(ep2, sizeof ep2, "%s-2", f->endpoint);
    void *r2 = new_socket(f, ZMQ_ROUTER);
    assert_int_equal(crm_zsock_setup(r2, 0), 0);
    assert_int_equal(zmq_bind(r2, ep2), 0);
    assert_int_equal(zmq_connect(lonely, ep2), 0);
    const void *one[1] = {"whole"};
    size_t one_size[1] = {5};
    assert_int_equal(crm_zsend(lonely, one, one_size, 1), 0);
    wait_input(r2);
    assert_int_equal(crm_frames_recv(r2, &fr), 0);
    assert_int_equal(fr.count, 2);
    assert_memory_equal(crm_frame_data(&fr, 1), "whole", 5);
    crm_frames_close(&fr);

}

/* crm_zsend_msg: the last frame without a copy, its free function run once
 * libzmq lets go of it; refused, it is left to the caller. */
static int freed;

static void count_free(void *data, void *hint)
{
    free(data);
    freed++;
}

static void test_zsend_msg(void **state)
{
    fixture_t *f = *state;
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    int mandatory = 1;
    assert_int_equal(zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory), 0);
    const void *hello[1] = {"hello"};
    size_t hello_size[1] = {5};
    assert_int_equal(crm_zsend(dealer, hello, hello_size, 1), 0);
    wait_input(router);
    crm_frames_t fr;
    assert_int_equal(crm_frames_recv(router, &fr), 0);

    freed = 0;
    zmq_msg_t m;
    assert_int_equal(zmq_msg_init_data(&m, crm_memdup("reply", 5), 5, count_free, NULL), 0);
    /* an unknown peer: nothing sent, the message still the caller's */
    const void *nobody[2] = {"nobody", ""};
    size_t nobody_size[2] = {6, 0};
    errno = 0;
    assert_int_equal(crm_zsend_msg(router, nobody, nobody_size, 2, &m), -1);
    assert_int_equal(errno, EHOSTUNREACH);
    assert_int_equal(freed, 0);
    assert_int_equal(zmq_msg_size(&m), 5);

    const void *peer[2] = {crm_frame_data(&fr, 0), ""};
    size_t peer_size[2] = {crm_frame_size(&fr, 0), 0};
    assert_int_equal(crm_zsend_msg(router, peer, peer_size, 2, &m), 0);
    crm_frames_close(&fr);
    wait_input(dealer);
    assert_int_equal(crm_frames_recv(dealer, &fr), 0);
    assert_int_equal(fr.count, 2);
    assert_int_equal(crm_frame_size(&fr, 0), 0);
    assert_memory_equal(crm_frame_data(&fr, 1), "reply", 5);
    crm_frames_close(&fr);
    zmq_msg_close(&m);
    /* inproc hands the same bytes over: the last close frees them */
    assert_int_equal(freed, 1);
}

static void test_zsock_setup(void **state)
{
    fixture_t *f = *state;
    void *s = new_socket(f, ZMQ_DEALER);
    int linger = -2;
    size_t len = sizeof linger;
    assert_int_equal(crm_zsock_setup(s, 4096), 0);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LINGER, &linger, &len), 0);
    assert_int_equal(linger, 0);
    int64_t max = 0;
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_true(max == 4096);

    s = new_socket(f, ZMQ_DEALER);
    assert_int_equal(crm_zsock_setup(s, 0), 0);
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_true(max == -1); /* unlimited */
}

/* --- destroy stops the callbacks ------------------------------------------ */

static void test_destroy_stops_callbacks(void **state)
{
    fixture_t *f = *state;
    void *router = make_socket(f, ZMQ_ROUTER, 1);
    void *dealer = make_socket(f, ZMQ_DEALER, 0);
    sink_t sink = {f, 0, 0, 0, 0, 100};
    crm_zwatch_t *w = crm_zwatch_new(f->loop, router, sink_read, &sink);
    crm_zwatch_destroy(&w);
    uint32_t v = 0;
    assert_int_equal(zmq_send(dealer, &v, sizeof v, 0), 4);
    ev_timer stop;
    ev_timer_init(&stop, on_stop, 0.05, 0);
    ev_timer_start(f->loop, &stop);
    ev_run(f->loop, 0);
    assert_int_equal(sink.calls, 0);
    /* the socket is left open and usable */
    wait_input(router);
    crm_frames_t fr;
    assert_int_equal(crm_frames_recv(router, &fr), 0);
    crm_frames_close(&fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_burst_budget_one_inproc, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_burst_budget_one_ipc, setup_ipc, teardown),
        cmocka_unit_test_setup_teardown(test_idle_loop_does_not_spin, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_late_arrivals_inproc, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_late_arrivals_ipc, setup_ipc, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong_inproc, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong_ipc, setup_ipc, teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong_pipelined_ipc, setup_ipc, teardown),
        cmocka_unit_test_setup_teardown(test_frames_recv, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_zsend, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_zsend_msg, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_zsock_setup, setup_inproc, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_stops_callbacks, setup_inproc, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
