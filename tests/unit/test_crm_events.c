#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_until.h"

#include "crm_consumer.h"
#include "crm_outbox.h"
#include "crm_publisher.h"
#include "crm_store.h"
#include "crm_log.h"
#include "crm_time.h"
#include "crm_zloop.h"
#include "events.pb-c.h"
#include "identity.pb-c.h"

/* A producer (store + outbox + publisher) and a consumer (its own store)
 * in one process and one libev loop, over ipc so that either side can go
 * away and come back. The consumer's apply function records each sequence
 * in its transaction, so what was committed is exactly what it applied. */

#define PRODUCER "identity"
#define EVENT_TYPE "test.event"

typedef struct {
    MDB_dbi seen;        /* key: seq (big-endian) */
    int calls;           /* apply calls, committed or not */
    uint64_t fail_seq;   /* fail this seq the first time it is applied */
    int fail_always;     /* and every time after */
    int failed;
    int order_errors, dup_errors, content_errors;
    size_t value_size;   /* bytes recorded per event (default 1) */
    uint64_t unchanged_upto; /* events up to this one change nothing */
} applier_t;

typedef struct {
    char dir[64];
    struct ev_loop *loop;
    void *zctx;
    char pub_ep[128], replay_ep[128];
    crm_store_t *pstore, *cstore;
    MDB_dbi outbox_dbi;
    crm_outbox_t *outbox;
    crm_publisher_t *publisher;
    crm_consumer_t *consumer;
    applier_t applier;
    void *raw, *fake_pub, *fake_replay;
    /* a second producer and its consumer (Event.after) */
    crm_store_t *pstore2, *cstore2;
    crm_outbox_t *outbox2;
    crm_publisher_t *publisher2;
    crm_consumer_t *consumer2;
} fixture_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/crm-test-events-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->zctx = zmq_ctx_new();
    snprintf(f->pub_ep, sizeof f->pub_ep, "ipc://%s/pub.sock", f->dir);
    snprintf(f->replay_ep, sizeof f->replay_ep, "ipc://%s/replay.sock", f->dir);
    char path[128];
    const char *err;
    snprintf(path, sizeof path, "%s/producer", f->dir);
    crm_store_dbi_t pd[] = {{"outbox", 0, &f->outbox_dbi}};
    f->pstore = crm_store_open(path, pd, 1, 1, 0, &err);
    snprintf(path, sizeof path, "%s/consumer", f->dir);
    crm_store_dbi_t cd[] = {{"seen", 0, &f->applier.seen}};
    f->cstore = crm_store_open(path, cd, 1, 1, 0, &err);
    if (!f->loop || !f->zctx || !f->pstore || !f->cstore)
        return -1;
    f->outbox = crm_outbox_new(PRODUCER, f->outbox_dbi);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    /* a test may have changed them */
    crm_consumer_set_window(CRM_CONSUMER_WINDOW_US);
    crm_consumer_set_after_wait(0);
    crm_consumer_destroy(&f->consumer);
    crm_publisher_destroy(&f->publisher);
    crm_consumer_destroy(&f->consumer2);
    crm_publisher_destroy(&f->publisher2);
    crm_outbox_destroy(&f->outbox2);
    crm_store_close(&f->pstore2);
    crm_store_close(&f->cstore2);
    void *socks[] = {f->raw, f->fake_pub, f->fake_replay};
    for (int i = 0; i < 3; i++)
        if (socks[i])
            zmq_close(socks[i]);
    crm_outbox_destroy(&f->outbox);
    crm_store_close(&f->pstore);
    crm_store_close(&f->cstore);
    zmq_ctx_term(f->zctx);
    ev_loop_destroy(f->loop);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* --- running the loop ---------------------------------------------------- */

static void run_for(fixture_t *f, double seconds) { loop_until(f->loop, NULL, NULL, seconds); }

typedef struct {
    fixture_t *f;
    uint64_t n;
} applied_t;

static int applied_reaches(void *arg)
{
    applied_t *a = arg;
    return crm_consumer_applied(a->f->consumer) >= a->n;
}

static void wait_applied(fixture_t *f, uint64_t n, double seconds)
{
    applied_t a = {f, n};
    if (!loop_until(f->loop, applied_reaches, &a, seconds))
        fail_msg("consumer applied %llu of %llu in %.1f s",
                 (unsigned long long)crm_consumer_applied(f->consumer), (unsigned long long)n, seconds);
}

/* --- the producer ---------------------------------------------------------- */

typedef struct {
    crm_outbox_t *outbox;
    int n;
} produce_ctx_t;

/* Each event's payload is a Team whose id is the event's own sequence. */
static int append_events(MDB_txn *txn, void *arg)
{
    produce_ctx_t *c = arg;
    uint64_t last;
    int rc = crm_outbox_last(c->outbox, txn, &last);
    if (rc)
        return rc;
    for (int i = 0; i < c->n; i++) {
        Crm__Identity__V1__Team team = CRM__IDENTITY__V1__TEAM__INIT;
        team.id = (int64_t)(last + 1 + (uint64_t)i);
        char name[32];
        snprintf(name, sizeof name, "team-%lld", (long long)team.id);
        team.name = name;
        uint64_t seq;
        if ((rc = crm_outbox_append(c->outbox, txn, EVENT_TYPE, 7, &team.base, &seq)) != 0)
            return rc;
        if (seq != (uint64_t)team.id)
            return MDB_CORRUPTED;
    }
    return 0;
}

/* Commits n events in one transaction, then publishes them if a publisher
 * runs. */
static void produce(fixture_t *f, int n)
{
    produce_ctx_t c = {f->outbox, n};
    assert_int_equal(crm_store_write(f->pstore, append_events, &c), 0);
    if (f->publisher)
        crm_publisher_flush(f->publisher);
}

/* Heartbeats every heartbeat_ms. Tests of recovery use a very long
 * interval, so that only the consumer's own retries can bring it back. */
static void start_publisher_hb(fixture_t *f, int heartbeat_ms)
{
    f->publisher =
        crm_publisher_new(f->loop, f->zctx, f->pstore, f->outbox, f->pub_ep, f->replay_ep, heartbeat_ms);
    assert_non_null(f->publisher);
    assert_string_equal(crm_publisher_producer(f->publisher), PRODUCER);
}

static void start_publisher(fixture_t *f) { start_publisher_hb(f, 50); }
#define NO_HEARTBEAT 600000

/* --- the consumer ------------------------------------------------------------ */

static int apply_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    applier_t *a = arg;
    a->calls++;
    Crm__Identity__V1__Team *t = crm__identity__v1__team__unpack(NULL, ev->payload.len, ev->payload.data);
    if (strcmp(ev->producer, PRODUCER) || strcmp(ev->type, EVENT_TYPE) || ev->actor_id != 7 || !t ||
        (uint64_t)t->id != ev->seq)
        a->content_errors++;
    if (t)
        crm__identity__v1__team__free_unpacked(t, NULL);
    if (ev->seq <= a->unchanged_upto)
        return CRM_CONSUMER_UNCHANGED;
    if (ev->seq == a->fail_seq && (!a->failed || a->fail_always)) {
        a->failed++;
        return MDB_NOTFOUND;
    }
    /* in order: the last recorded sequence is the one before */
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(txn, a->seen, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
    uint64_t last = rc == 0 ? crm_key_get_u64(k.mv_data) : 0;
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (last + 1 != ev->seq)
        a->order_errors++;
    uint8_t key[8];
    crm_key_put_u64(key, ev->seq);
    k.mv_size = 8;
    k.mv_data = key;
    d.mv_size = a->value_size ? a->value_size : 1;
    rc = mdb_put(txn, a->seen, &k, &d, MDB_NOOVERWRITE | MDB_RESERVE);
    if (rc == MDB_KEYEXIST) {
        a->dup_errors++;
        return 0;
    }
    if (rc == 0)
        memset(d.mv_data, 'x', d.mv_size);
    return rc;
}

static void start_consumer(fixture_t *f)
{
    f->consumer = crm_consumer_new(f->loop, f->zctx, f->cstore, PRODUCER, f->pub_ep, f->replay_ep,
                                   apply_event, &f->applier);
    assert_non_null(f->consumer);
    assert_string_equal(crm_consumer_producer(f->consumer), PRODUCER);
}

/* The consumer's store holds exactly sequences 1..n, and its cursor is n. */
static void check_seen(fixture_t *f, uint64_t n)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, d;
    uint64_t count = 0;
    assert_int_equal(crm_store_read_begin(f->cstore, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, f->applier.seen, &cur), 0);
    while (mdb_cursor_get(cur, &k, &d, count ? MDB_NEXT : MDB_FIRST) == 0) {
        count++;
        if (crm_key_get_u64(k.mv_data) != count)
            fail_msg("seq %llu recorded where %llu was due",
                     (unsigned long long)crm_key_get_u64(k.mv_data), (unsigned long long)count);
    }
    mdb_cursor_close(cur);
    uint64_t cursor;
    assert_int_equal(crm_store_meta_get_u64(f->cstore, txn, "cursor." PRODUCER, &cursor), 0);
    crm_store_read_end(f->cstore, txn);
    assert_true(count == n);
    assert_true(cursor == n);
    assert_int_equal(f->applier.order_errors, 0);
    assert_int_equal(f->applier.dup_errors, 0);
    assert_int_equal(f->applier.content_errors, 0);
}

/* --- tests -------------------------------------------------------------------- */

static void test_live_events_applied_once_in_order(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    start_consumer(f);
    run_for(f, 0.15); /* connected, first replay answered (nothing) */
    assert_true(crm_consumer_applied(f->consumer) == 0);

    for (int batch = 0; batch < 5; batch++) {
        produce(f, 10);
        run_for(f, 0.01);
    }
    assert_true(crm_publisher_head(f->publisher) == 50);
    wait_applied(f, 50, 5.0);
    check_seen(f, 50);
    assert_int_equal(f->applier.calls, 50); /* each applied once, none retried */
    assert_true(crm_consumer_known(f->consumer) == 50);

    /* nothing more happens while idle (heartbeats only) */
    run_for(f, 0.2);
    assert_int_equal(f->applier.calls, 50);
    check_seen(f, 50);
}

static void test_catch_up_by_replay(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    /* more than one replay batch, produced before the consumer exists */
    for (int i = 0; i < 5; i++)
        produce(f, 500);
    assert_true(crm_publisher_head(f->publisher) == 2500);
    start_consumer(f);
    assert_true(crm_consumer_applied(f->consumer) == 0);
    wait_applied(f, 2500, 8.0);
    check_seen(f, 2500);
    assert_int_equal(f->applier.calls, 2500);
    assert_true(crm_consumer_known(f->consumer) == 2500);
}

static void test_restart_continues_from_cursor(void **state)
{
    fixture_t *f = *state;
    start_publisher_hb(f, NO_HEARTBEAT);
    start_consumer(f);
    produce(f, 30);
    wait_applied(f, 30, 5.0);
    check_seen(f, 30);

    crm_consumer_destroy(&f->consumer);
    assert_null(f->consumer);
    produce(f, 20); /* published to nobody */
    run_for(f, 0.1);

    start_consumer(f);
    assert_true(crm_consumer_applied(f->consumer) == 30); /* the stored cursor */
    wait_applied(f, 50, 5.0);
    check_seen(f, 50);
    assert_int_equal(f->applier.calls, 50); /* 1..30 were not applied again */
}

static void failed_apply(fixture_t *f, int consumer_first)
{
    f->applier.fail_seq = 3;
    start_publisher_hb(f, NO_HEARTBEAT);
    if (consumer_first) {
        /* live: the event arrives on the SUB socket */
        start_consumer(f);
        run_for(f, 0.15);
        produce(f, 5);
    } else {
        /* replay: the event arrives in a ReplayReply */
        produce(f, 5);
        start_consumer(f);
    }
    wait_applied(f, 5, 5.0);
    assert_int_equal(f->applier.failed, 1);
    check_seen(f, 5);
    /* and later events keep flowing */
    produce(f, 3);
    wait_applied(f, 8, 5.0);
    check_seen(f, 8);
}

static void test_failed_apply_is_retried_live(void **state) { failed_apply(*state, 1); }
static void test_failed_apply_is_retried_in_replay(void **state) { failed_apply(*state, 0); }

static void test_consumer_before_publisher(void **state)
{
    fixture_t *f = *state;
    start_consumer(f); /* nothing bound yet */
    run_for(f, 0.3);
    assert_true(crm_consumer_applied(f->consumer) == 0);
    produce(f, 12); /* committed while no publisher runs */
    start_publisher_hb(f, NO_HEARTBEAT);
    wait_applied(f, 12, 5.0);
    check_seen(f, 12);
    produce(f, 3); /* and live from then on */
    wait_applied(f, 15, 5.0);
    check_seen(f, 15);
    assert_int_equal(f->applier.calls, 15);
}

static void test_lost_tail_noticed_by_heartbeat(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    start_consumer(f);
    produce(f, 10);
    wait_applied(f, 10, 5.0);
    run_for(f, 0.3); /* past the consumer's start-up replay: it asks no more */

    /* the producer restarts with events it committed but never published */
    crm_publisher_destroy(&f->publisher);
    produce(f, 5);
    start_publisher(f);
    assert_true(crm_publisher_head(f->publisher) == 15);
    wait_applied(f, 15, 5.0);
    check_seen(f, 15);
    assert_int_equal(f->applier.calls, 15);
}

static void test_replay_answers_from_seq(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    produce(f, 10);
    f->raw = zmq_socket(f->zctx, ZMQ_DEALER);
    assert_int_equal(crm_zsock_setup(f->raw, 0), 0);
    assert_int_equal(zmq_connect(f->raw, f->replay_ep), 0);

    static const struct {
        uint64_t from;
        uint32_t max;
        uint64_t first;
        size_t n;
    } cases[] = {{3, 4, 3, 4}, {0, 0, 1, 10}, {8, 100, 8, 3}, {11, 5, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Crm__Events__V1__ReplayRequest req = CRM__EVENTS__V1__REPLAY_REQUEST__INIT;
        req.from_seq = cases[i].from;
        req.max_events = cases[i].max;
        uint8_t buf[32];
        size_t len = crm__events__v1__replay_request__pack(&req, buf);
        assert_int_equal(zmq_send(f->raw, buf, len, 0), (int)len);

        /* the publisher answers from the loop */
        crm_frames_t fr;
        int got = 0;
        for (int t = 0; t < 200 && !got; t++) {
            run_for(f, 0.005);
            got = crm_frames_recv(f->raw, &fr) == 0;
        }
        assert_true(got);
        assert_int_equal(fr.count, 1);
        Crm__Events__V1__ReplayReply *r =
            crm__events__v1__replay_reply__unpack(NULL, crm_frame_size(&fr, 0), crm_frame_data(&fr, 0));
        crm_frames_close(&fr);
        assert_non_null(r);
        assert_string_equal(r->producer, PRODUCER);
        assert_true(r->last_seq == 10);
        assert_int_equal(r->n_events, cases[i].n);
        for (size_t j = 0; j < r->n_events; j++) {
            assert_true(r->events[j]->seq == cases[i].first + j);
            assert_string_equal(r->events[j]->type, EVENT_TYPE);
        }
        crm__events__v1__replay_reply__free_unpacked(r, NULL);
    }
}

static void test_map_full_in_apply_is_retried(void **state)
{
    fixture_t *f = *state;
    /* a consumer store with a tiny map, and big records per event */
    crm_store_close(&f->cstore);
    char path[128];
    const char *err;
    snprintf(path, sizeof path, "%s/small", f->dir);
    crm_store_dbi_t cd[] = {{"seen", 0, &f->applier.seen}};
    f->cstore = crm_store_open(path, cd, 1, 1, 64 << 10, &err);
    assert_non_null(f->cstore);
    size_t before = crm_store_map_size(f->cstore);
    f->applier.value_size = 40000;
    start_publisher(f);
    produce(f, 40); /* 1.6 MB of records through a 64 KiB map */
    start_consumer(f);
    wait_applied(f, 40, 5.0);
    check_seen(f, 40);
    assert_true(crm_store_map_size(f->cstore) > before);
    assert_true(f->applier.calls > 40); /* the full attempts ran, then again */
}

/* --- a hand-driven producer: duplicates and stragglers ---------------------- */

/* ev gets sequence seq, with its payload packed into buf (64 bytes). */
static void fake_event(Crm__Events__V1__Event *ev, uint8_t *buf, uint64_t seq)
{
    crm__events__v1__event__init(ev);
    Crm__Identity__V1__Team team = CRM__IDENTITY__V1__TEAM__INIT;
    team.id = (int64_t)seq;
    team.name = "t";
    ev->producer = PRODUCER;
    ev->seq = seq;
    ev->type = EVENT_TYPE;
    ev->actor_id = 7;
    ev->payload.data = buf;
    ev->payload.len = crm__identity__v1__team__pack(&team, buf);
}

static void fake_replay_reply(fixture_t *f, const void *peer, size_t peer_len, uint64_t last_seq,
                              const uint64_t *seqs, size_t n)
{
    Crm__Events__V1__Event evs[8], *ptrs[8];
    uint8_t bufs[8][64];
    for (size_t i = 0; i < n; i++) {
        fake_event(&evs[i], bufs[i], seqs[i]);
        ptrs[i] = &evs[i];
    }
    Crm__Events__V1__ReplayReply r = CRM__EVENTS__V1__REPLAY_REPLY__INIT;
    r.producer = PRODUCER;
    r.last_seq = last_seq;
    r.events = ptrs;
    r.n_events = n;
    uint8_t out[2048];
    size_t len = crm__events__v1__replay_reply__pack(&r, out);
    const void *data[2] = {peer, out};
    size_t size[2] = {peer_len, len};
    assert_int_equal(crm_zsend(f->fake_replay, data, size, 2), 0);
}

static void fake_publish(fixture_t *f, uint64_t seq, uint64_t last_seq)
{
    Crm__Events__V1__Event ev;
    uint8_t buf[64];
    fake_event(&ev, buf, seq);
    Crm__Events__V1__Publication p = CRM__EVENTS__V1__PUBLICATION__INIT;
    p.producer = PRODUCER;
    p.last_seq = last_seq;
    p.event = &ev;
    uint8_t out[512];
    size_t len = crm__events__v1__publication__pack(&p, out);
    assert_int_equal(zmq_send(f->fake_pub, out, len, 0), (int)len);
}

static void test_duplicates_and_stragglers_skipped(void **state)
{
    fixture_t *f = *state;
    f->fake_pub = zmq_socket(f->zctx, ZMQ_PUB);
    f->fake_replay = zmq_socket(f->zctx, ZMQ_ROUTER);
    assert_int_equal(crm_zsock_setup(f->fake_pub, 0), 0);
    assert_int_equal(crm_zsock_setup(f->fake_replay, 0), 0);
    assert_int_equal(zmq_bind(f->fake_pub, f->pub_ep), 0);
    assert_int_equal(zmq_bind(f->fake_replay, f->replay_ep), 0);
    start_consumer(f);

    /* the consumer asks for everything from 1 */
    crm_frames_t fr;
    int got = 0;
    for (int t = 0; t < 300 && !got; t++) {
        run_for(f, 0.01);
        got = crm_frames_recv(f->fake_replay, &fr) == 0;
    }
    assert_true(got);
    assert_int_equal(fr.count, 2);
    uint8_t peer[256];
    size_t peer_len = crm_frame_size(&fr, 0);
    assert_true(peer_len <= sizeof peer);
    memcpy(peer, crm_frame_data(&fr, 0), peer_len);
    Crm__Events__V1__ReplayRequest *req =
        crm__events__v1__replay_request__unpack(NULL, crm_frame_size(&fr, 1), crm_frame_data(&fr, 1));
    crm_frames_close(&fr);
    assert_non_null(req);
    assert_true(req->from_seq == 1);
    crm__events__v1__replay_request__free_unpacked(req, NULL);

    static const uint64_t first[] = {1, 2, 3};
    fake_replay_reply(f, peer, peer_len, 3, first, 3);
    wait_applied(f, 3, 3.0);

    /* a stale answer repeating what was applied: only the new part counts */
    static const uint64_t stale[] = {1, 2, 3, 4, 5};
    fake_replay_reply(f, peer, peer_len, 5, stale, 5);
    wait_applied(f, 5, 3.0);
    check_seen(f, 5);

    /* out of order, with a straggler on each side */
    static const uint64_t mixed[] = {2, 6, 5};
    fake_replay_reply(f, peer, peer_len, 6, mixed, 3);
    wait_applied(f, 6, 3.0);
    check_seen(f, 6);
    assert_int_equal(f->applier.calls, 6);

    /* live, with duplicates */
    fake_publish(f, 6, 6);
    fake_publish(f, 7, 7);
    fake_publish(f, 7, 7);
    fake_publish(f, 8, 8);
    fake_publish(f, 5, 8);
    wait_applied(f, 8, 3.0);
    run_for(f, 0.05);
    check_seen(f, 8);
    assert_int_equal(f->applier.calls, 8);
    assert_true(crm_consumer_known(f->consumer) == 8);
}

/* The stored cursor of the consumer. */
static uint64_t stored_cursor(fixture_t *f)
{
    MDB_txn *txn;
    uint64_t cursor;
    assert_int_equal(crm_store_read_begin(f->cstore, &txn), 0);
    assert_int_equal(crm_store_meta_get_u64(f->cstore, txn, "cursor." PRODUCER, &cursor), 0);
    crm_store_read_end(f->cstore, txn);
    return cursor;
}

/* Events that change nothing are not committed (no fsync for them): their
 * cursor goes with the next batch that writes, and after a restart they are
 * applied again, to no effect. */
static void test_unchanged_events_not_committed(void **state)
{
    fixture_t *f = *state;
    f->applier.unchanged_upto = 4;
    start_publisher(f);
    start_consumer(f);
    produce(f, 4);
    wait_applied(f, 4, 3.0);
    assert_true(stored_cursor(f) == 0);
    int calls = f->applier.calls;
    /* a restart applies them again, and nothing is lost or doubled */
    crm_consumer_destroy(&f->consumer);
    start_consumer(f);
    wait_applied(f, 4, 3.0);
    assert_true(stored_cursor(f) == 0);
    assert_int_equal(f->applier.calls, calls + 4);
    produce(f, 2);
    wait_applied(f, 6, 3.0);
    assert_true(stored_cursor(f) == 6);
    f->applier.unchanged_upto = 0;
}

static void count_commit(void *arg, crm_consumer_t *consumer) { (*(int *)arg)++; }

/* Group commit: events that come within the window after a commit wait for
 * its end and go in one transaction, which the progress callback counts. */
static void test_events_within_the_window_go_in_one_commit(void **state)
{
    fixture_t *f = *state;
    int commits = 0;
    /* the longest allowed: three durable commits of the producer fit in it
     * on a loaded machine */
    assert_int_equal(crm_consumer_set_window(CRM_CONSUMER_WINDOW_MAX_US + 1), -1);
    assert_int_equal(crm_consumer_set_window(-1), -1);
    assert_int_equal(crm_consumer_set_window(CRM_CONSUMER_WINDOW_MAX_US), 0);
    start_publisher(f);
    start_consumer(f);
    crm_consumer_on_progress(f->consumer, count_commit, &commits);
    run_for(f, 0.4); /* connected, the first replay answered */
    produce(f, 1);
    wait_applied(f, 1, 5.0);
    assert_int_equal(commits, 1);
    for (int i = 0; i < 3; i++) {
        produce(f, 1); /* three publications */
        run_for(f, 0.05);
    }
    assert_true(crm_consumer_applied(f->consumer) == 1); /* still gathering */
    wait_applied(f, 4, 5.0);
    assert_int_equal(commits, 2);
    check_seen(f, 4);
    /* without a window each goes in its own */
    assert_int_equal(crm_consumer_set_window(0), 0);
    for (int i = 0; i < 3; i++) {
        produce(f, 1);
        wait_applied(f, 5 + (uint64_t)i, 5.0);
    }
    assert_int_equal(commits, 5);
    check_seen(f, 7);
}

static int64_t now_ms(void) { return crm_time_mono_us() / 1000; }

/* --- events of two producers: Event.after ----------------------------------- */

typedef struct {
    crm_consumer_t *identity; /* the other consumer of this process */
    uint64_t identity_at_apply[8];
    Crm__Events__V1__Cursor inside[8]; /* crm_consumer_positions during the apply */
    size_t n_inside;
    int n;
} second_t;

static int apply_second(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    second_t *s = arg;
    if (s->n < 8)
        s->identity_at_apply[s->n++] = crm_consumer_applied(s->identity);
    s->n_inside = crm_consumer_positions(NULL, s->inside, 8);
    return 0;
}

static uint64_t after_mark;
static size_t identity_after(void *arg, Crm__Events__V1__Cursor *out, size_t max)
{
    crm__events__v1__cursor__init(&out[0]);
    out[0].producer = PRODUCER;
    out[0].seq = after_mark;
    return 1;
}

/* The outbox is pruned below what every consumer heard of has applied, the
 * newest event kept; that consumer goes on; one that comes back from before
 * the oldest event kept is stuck with an error that says so. */
static int is_stuck(void *arg) { return crm_consumer_stuck(arg, NULL); }

static void test_outbox_pruned_behind_its_consumers(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    start_consumer(f);
    produce(f, 20);
    wait_applied(f, 20, 5.0);
    /* nothing is pruned that no consumer has said it applied */
    crm_publisher_set_retention(f->publisher, 1);
    assert_int_equal(crm_publisher_prune(f->publisher), 0);
    /* a consumer says where it is when it (re)starts, and now and then */
    crm_consumer_destroy(&f->consumer);
    start_consumer(f);
    run_for(f, 0.3);
    assert_int_equal(crm_publisher_prune(f->publisher), 19);
    MDB_txn *txn;
    uint64_t first, last;
    assert_int_equal(crm_store_read_begin(f->pstore, &txn), 0);
    assert_int_equal(crm_outbox_first(f->outbox, txn, &first), 0);
    assert_int_equal(crm_outbox_last(f->outbox, txn, &last), 0);
    crm_store_read_end(f->pstore, txn);
    assert_true(first == 20 && last == 20); /* the newest stays: the next sequence comes from it */
    produce(f, 5);
    wait_applied(f, 25, 5.0);
    check_seen(f, 25);

    /* a consumer from before the pruning (a store restored from an old
     * backup, a new service) cannot catch up by replay: it says so */
    char path[128];
    const char *err;
    snprintf(path, sizeof path, "%s/late", f->dir);
    applier_t late_applier = {0};
    crm_store_dbi_t cd[] = {{"seen", 0, &late_applier.seen}};
    f->cstore2 = crm_store_open(path, cd, 1, 1, 0, &err);
    assert_non_null(f->cstore2);
    f->consumer2 = crm_consumer_new(f->loop, f->zctx, f->cstore2, PRODUCER, f->pub_ep, f->replay_ep, apply_event,
                                    &late_applier);
    assert_non_null(f->consumer2);
    assert_true(loop_until(f->loop, is_stuck, f->consumer2, 5.0));
    crm_consumer_stuck_t st;
    assert_true(crm_consumer_stuck(f->consumer2, &st));
    assert_true(st.seq == 1);
    assert_string_equal(st.type, "(pruned)");
    assert_non_null(strstr(st.error, "pruned events 1 to 19"));
    assert_true(crm_consumer_applied(f->consumer2) == 0);
    assert_int_equal(late_applier.calls, 0); /* nothing applied out of order */
    /* and it holds further pruning back, at what it said it has */
    produce(f, 5);
    run_for(f, 0.2);
    assert_int_equal(crm_publisher_prune(f->publisher), 0);
}

/* Cursors stored by a previous run hold pruning back after a restart, for
 * a consumer that has not come back yet; one silent for longer than the
 * forgetting window of its producer's running is taken for retired and
 * holds nothing back, while the time the producer itself was down does not
 * count. A cursor stored with no heard_at nor quiet_us (a run from before
 * they existed: the same bytes as the old Cursor) counts as heard at start. */
static int64_t away_heard_at, away_quiet_us;
static int store_away(MDB_txn *txn, void *arg)
{
    crm_store_t *store = arg;
    Crm__Events__V1__ConsumerCursor away = CRM__EVENTS__V1__CONSUMER_CURSOR__INIT, *ptrs[1] = {&away};
    away.consumer = "away";
    away.applied = 5;
    away.heard_at = away_heard_at;
    away.quiet_us = away_quiet_us;
    Crm__Events__V1__ConsumerCursors all = CRM__EVENTS__V1__CONSUMER_CURSORS__INIT;
    all.cursors = ptrs;
    all.n_cursors = 1;
    return crm_db_put_msg(txn, crm_store_meta(store), "consumers", 9, &all.base);
}

static int heard_at_20(void *publisher)
{
    uint64_t applied;
    return crm_publisher_heard(publisher, crm_log_service(), &applied) && applied == 20;
}

#define HOUR (3600LL * 1000000)

/* 20 events, a consumer that applied them all, "away" stored at 5 (with
 * heard_at and quiet_us), the producer restarted with forget_us (0: its
 * default) and, if live, the consumer back: how many the first pruning
 * pass deletes. */
static uint64_t pruned_after_restart(fixture_t *f, int64_t heard_at, int64_t quiet_us, int64_t forget_us, int live)
{
    start_publisher(f);
    produce(f, 20);
    start_consumer(f);
    wait_applied(f, 20, 5.0);
    run_for(f, 0.2); /* its replay request said 20 */
    crm_consumer_destroy(&f->consumer);
    away_heard_at = heard_at;
    away_quiet_us = quiet_us;
    assert_int_equal(crm_store_write(f->pstore, store_away, f->pstore), 0);
    crm_publisher_destroy(&f->publisher);
    start_publisher(f);
    if (live) { /* the live consumer says where it is to the new run */
        start_consumer(f);
        assert_true(loop_until(f->loop, heard_at_20, f->publisher, 5.0));
    }
    if (forget_us)
        crm_publisher_set_forget(f->publisher, forget_us);
    crm_publisher_set_retention(f->publisher, 1);
    long deleted = crm_publisher_prune(f->publisher);
    assert_int_equal(crm_publisher_prune(f->publisher), 0);
    MDB_txn *txn;
    uint64_t first;
    assert_int_equal(crm_store_read_begin(f->pstore, &txn), 0);
    assert_int_equal(crm_outbox_first(f->outbox, txn, &first), 0);
    crm_store_read_end(f->pstore, txn);
    assert_true(first == (uint64_t)deleted + 1);
    return (uint64_t)deleted;
}

static void test_pruning_waits_for_consumers_of_a_previous_run(void **state)
{
    /* "away" at 5, read back, holds it back though the live one is at 20 */
    assert_int_equal(pruned_after_restart(*state, 0, 0, 0, 1), 5);
}

static void test_pruning_waits_for_a_consumer_quiet_less_than_the_window(void **state)
{
    assert_int_equal(pruned_after_restart(*state, crm_time_now_us() - HOUR, HOUR, 2 * HOUR, 1), 5);
}

/* Heard of three hours ago, but the producer was down all that time (a
 * restore, a stopped deployment): not silent in its running, kept. */
static void test_producer_downtime_is_not_silence(void **state)
{
    assert_int_equal(pruned_after_restart(*state, crm_time_now_us() - 3 * HOUR, 0, 2 * HOUR, 1), 5);
}

static void test_retired_consumer_is_forgotten(void **state)
{
    /* only the live consumer, at 20, counts; the newest event stays */
    assert_int_equal(pruned_after_restart(*state, crm_time_now_us() - 3 * HOUR, 3 * HOUR, 2 * HOUR, 1), 19);
}

/* The only consumer retired: events go by age alone, not kept for ever. */
static void test_outbox_pruned_when_every_consumer_is_forgotten(void **state)
{
    assert_int_equal(pruned_after_restart(*state, crm_time_now_us() - 3 * HOUR, 3 * HOUR, 2 * HOUR, 0), 19);
}

/* An event that never applies, late in a replay batch: the events before it
 * are applied (each once more at most, not once per event before them), it
 * is the one found stuck, and nothing after it is applied. */
static void test_bad_event_in_a_batch_is_found(void **state)
{
    fixture_t *f = *state;
    f->applier.fail_seq = 50;
    f->applier.fail_always = 1;
    start_publisher_hb(f, NO_HEARTBEAT);
    produce(f, 60);
    start_consumer(f);
    assert_true(loop_until(f->loop, is_stuck, f->consumer, 10.0));
    crm_consumer_stuck_t st;
    assert_true(crm_consumer_stuck(f->consumer, &st));
    assert_true(st.seq == 50);
    assert_true(crm_consumer_applied(f->consumer) == 49);
    check_seen(f, 49);
    /* the batch of 60 once, then 1..50 one a transaction, then retries of 50 */
    printf("  apply calls until event 50 was found stuck: %d\n", f->applier.calls);
    assert_true(f->applier.calls < 200);
}

static void test_event_waits_for_what_its_producer_had_applied(void **state)
{
    fixture_t *f = *state;
    start_publisher(f);
    start_consumer(f);
    produce(f, 2);
    wait_applied(f, 2, 3.0);

    /* a second producer, "pipeline", whose events say it had applied
     * identity's events up to after_mark when it wrote them */
    char path[128], pub2[160], replay2[160];
    const char *err;
    MDB_dbi outbox2_dbi, unused;
    snprintf(path, sizeof path, "%s/producer2", f->dir);
    crm_store_dbi_t pd[] = {{"outbox", 0, &outbox2_dbi}};
    crm_store_t *pstore2 = f->pstore2 = crm_store_open(path, pd, 1, 1, 0, &err);
    snprintf(path, sizeof path, "%s/consumer2", f->dir);
    crm_store_dbi_t cd[] = {{"unused", 0, &unused}};
    crm_store_t *cstore2 = f->cstore2 = crm_store_open(path, cd, 1, 1, 0, &err);
    assert_non_null(pstore2);
    assert_non_null(cstore2);
    crm_outbox_t *outbox2 = f->outbox2 = crm_outbox_new("pipeline", outbox2_dbi);
    crm_outbox_set_after(outbox2, identity_after, NULL);
    snprintf(pub2, sizeof pub2, "ipc://%s/pub2.sock", f->dir);
    snprintf(replay2, sizeof replay2, "ipc://%s/replay2.sock", f->dir);
    crm_publisher_t *publisher2 = f->publisher2 = crm_publisher_new(f->loop, f->zctx, pstore2, outbox2, pub2, replay2, 50);
    second_t second = {.identity = f->consumer};
    crm_consumer_t *consumer2 = f->consumer2 = crm_consumer_new(f->loop, f->zctx, cstore2, "pipeline", pub2, replay2,
                                                 apply_second, &second);
    assert_non_null(publisher2);
    assert_non_null(consumer2);

    after_mark = 5;
    produce_ctx_t c = {outbox2, 1};
    assert_int_equal(crm_store_write(pstore2, append_events, &c), 0);
    crm_publisher_flush(publisher2);
    run_for(f, 0.5);
    /* identity's 3 to 5 are not applied here yet: pipeline's event waits */
    assert_true(crm_consumer_applied(consumer2) == 0);
    assert_int_equal(second.n, 0);
    produce(f, 3);
    wait_applied(f, 5, 3.0);
    for (int i = 0; i < 300 && crm_consumer_applied(consumer2) < 1; i++)
        run_for(f, 0.01);
    assert_true(crm_consumer_applied(consumer2) == 1);
    assert_int_equal(second.n, 1);
    assert_true(second.identity_at_apply[0] >= 5);
    /* inside an apply, positions name the event being applied */
    assert_int_equal(second.n_inside, 2);
    for (size_t i = 0; i < second.n_inside; i++)
        assert_true(second.inside[i].seq == (strcmp(second.inside[i].producer, "pipeline") ? 5 : 1));

    /* live, too: the next one waits for identity's 6 */
    after_mark = 6;
    assert_int_equal(crm_store_write(pstore2, append_events, &c), 0);
    crm_publisher_flush(publisher2);
    run_for(f, 0.3);
    assert_true(crm_consumer_applied(consumer2) == 1);
    produce(f, 1);
    for (int i = 0; i < 300 && crm_consumer_applied(consumer2) < 2; i++)
        run_for(f, 0.01);
    assert_true(crm_consumer_applied(consumer2) == 2);
    assert_true(second.identity_at_apply[1] >= 6);

    /* identity's producer goes quiet below the marks: after the wait the
     * events go on, all of them, not one wait each */
    crm_consumer_set_after_wait(300000);
    crm_publisher_destroy(&f->publisher);
    after_mark = 50;
    c.n = 5;
    assert_int_equal(crm_store_write(pstore2, append_events, &c), 0);
    crm_publisher_flush(publisher2);
    int64_t t0 = now_ms();
    for (int i = 0; i < 300 && crm_consumer_applied(consumer2) < 7; i++)
        run_for(f, 0.01);
    crm_consumer_set_after_wait(0);
    assert_true(crm_consumer_applied(consumer2) == 7);
    assert_true(now_ms() - t0 < 1500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_events_applied_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catch_up_by_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_continues_from_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_apply_is_retried_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_apply_is_retried_in_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_before_publisher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_tail_noticed_by_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_answers_from_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full_in_apply_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_stragglers_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_pruned_behind_its_consumers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_event_in_a_batch_is_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pruning_waits_for_consumers_of_a_previous_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pruning_waits_for_a_consumer_quiet_less_than_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_producer_downtime_is_not_silence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_pruned_when_every_consumer_is_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retired_consumer_is_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_waits_for_what_its_producer_had_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unchanged_events_not_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_within_the_window_go_in_one_commit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
