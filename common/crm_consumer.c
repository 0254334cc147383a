#include "crm_curve.h"
#include "crm_consumer.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_zloop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REPLAY_BATCH 1000
#define REPLAY_RETRY_S 1.0
#define REPORT_US 10000000 /* a caught-up consumer asks this often, so its producer knows its cursor */
#define MAX_EVENT_BYTES (8 << 20)
#define MAX_CONSUMERS 16
/* An event waits for another consumer while that one moves on, and for this
 * long at most once it stops moving (its producer down, or a store restored
 * out of step): then events stop waiting for it until it moves again, for
 * going on beats stalling forever. */
#define AFTER_WAIT_MAX_US 30000000
static int64_t after_wait_max_us = AFTER_WAIT_MAX_US;
#define WAIT_RECHECK_US 1000000 /* a waiting consumer asks again this often */
static int64_t window_us = CRM_CONSUMER_WINDOW_US; /* see crm_consumer_set_window */

struct crm_consumer {
    struct ev_loop *loop;
    crm_store_t *store;
    char *producer;
    char cursor_key[96];
    void *sub, *replay;
    crm_zwatch_t *sub_watch, *replay_watch;
    ev_timer retry;
    crm_consumer_apply_fn *apply;
    void *arg;
    crm_consumer_progress_fn *progress;
    void *progress_arg;
    uint64_t applied;          /* cursor: committed, or past events that changed nothing */
    uint64_t known;            /* producer's head as last heard */
    int64_t replay_sent_at;    /* monotonic us; 0 = no request outstanding */
    int want_replay;           /* since start: ask what happened while down */
    uint64_t applying;         /* the event being applied in a batch; 0 outside */
    int waiting;               /* the last batch stopped at an event's after marks */
    int64_t waiting_checked;   /* monotonic us of the last replay asked while waiting */
    /* per other consumer (by slot): since when its cursor has not moved
     * while we wait for it, the cursor then, and whether we gave up on it */
    int64_t wait_since[MAX_CONSUMERS];
    uint64_t wait_seen[MAX_CONSUMERS];
    int gave_up[MAX_CONSUMERS];
    int64_t committed_at; /* monotonic us of the last commit of events */
    ev_timer gather;      /* live events wait for the window to end */
    int window_over;      /* the gather timer fired: read now */
    int input_left;       /* the last read stopped at its cap */
    crm_consumer_stuck_t failing; /* the event that failed to apply (seq 0: none) */
    int64_t retry_at;     /* monotonic us: no new try of it before */
    uint64_t failures_total;
    uint64_t skipped_to;  /* an operator skipped up to this; told on the kick */
    int64_t reported_at;  /* monotonic us of the last replay request */
    uint64_t pruned_from; /* the producer pruned events this consumer still needs: its first kept */
    uint64_t isolate_until; /* a batch up to this failed: one event a transaction until past it */
    ev_timer kick;
};

/* Every consumer of this process, for Event.after. */
static crm_consumer_t *consumers[MAX_CONSUMERS];

/* The slot of the consumer of producer, or -1. */
static int slot_of(const char *producer)
{
    for (int i = 0; i < MAX_CONSUMERS; i++)
        if (producer && consumers[i] && !strcmp(consumers[i]->producer, producer))
            return i;
    return -1;
}

/* Whether ev must wait for another consumer of this process. */
static int must_wait(crm_consumer_t *self, const Crm__Events__V1__Event *ev)
{
    for (size_t i = 0; i < ev->n_after; i++) {
        const Crm__Events__V1__Cursor *c = ev->after[i];
        int k = slot_of(c->producer);
        const crm_consumer_t *other = k >= 0 ? consumers[k] : NULL;
        if (!other || other == self)
            continue;
        if (other->applied >= c->seq) {
            self->wait_since[k] = 0;
            continue;
        }
        if (self->gave_up[k] && other->applied == self->wait_seen[k])
            continue; /* it still has not moved: waiting would stall us too */
        int64_t now = crm_time_mono_us();
        if (self->gave_up[k] || !self->wait_since[k] || other->applied != self->wait_seen[k]) {
            /* it moves (or we start waiting): the clock starts again */
            self->gave_up[k] = 0;
            self->wait_since[k] = now;
            self->wait_seen[k] = other->applied;
        } else if (now - self->wait_since[k] > after_wait_max_us) {
            crm_warn("%s events wait for %s %llu, which has stayed at %llu for %d s: they go on without it",
                     self->producer, c->producer, (unsigned long long)c->seq,
                     (unsigned long long)other->applied, (int)(after_wait_max_us / 1000000));
            self->gave_up[k] = 1;
            self->wait_since[k] = 0;
            continue;
        }
        return 1;
    }
    return 0;
}

void crm_consumer_set_after_wait(int64_t us) { after_wait_max_us = us > 0 ? us : AFTER_WAIT_MAX_US; }

size_t crm_consumer_positions(void *unused, Crm__Events__V1__Cursor *out, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < MAX_CONSUMERS && n < max; i++) {
        if (!consumers[i])
            continue;
        crm__events__v1__cursor__init(&out[n]);
        out[n].producer = consumers[i]->producer;
        out[n].seq = consumers[i]->applying ? consumers[i]->applying : consumers[i]->applied;
        n++;
    }
    return n;
}

typedef struct {
    crm_consumer_t *self;
    Crm__Events__V1__Event **events;
    size_t n;
    uint64_t cursor; /* within the transaction */
    int waiting;     /* stopped at an event that must wait */
    int wrote;       /* committed */
} batch_t;

static int apply_batch_txn(MDB_txn *txn, void *arg)
{
    batch_t *b = arg;
    crm_consumer_t *self = b->self;
    uint64_t cur;
    int rc = crm_store_meta_get_u64(self->store, txn, self->cursor_key, &cur);
    if (rc)
        return rc;
    /* events that changed nothing were not committed: the cursor in memory
     * is ahead of the stored one by exactly those */
    if (self->applied > cur)
        cur = self->applied;
    uint64_t start = cur;
    int wrote = 0;
    b->waiting = 0;
    for (size_t i = 0; i < b->n; i++) {
        /* duplicates and stragglers are skipped here, against the cursor read
         * in this very transaction: that is what makes it exactly once */
        if (b->events[i]->seq != cur + 1)
            continue;
        if (must_wait(self, b->events[i])) {
            b->waiting = 1;
            break;
        }
        self->applying = b->events[i]->seq;
        rc = self->apply(self->arg, txn, b->events[i]);
        self->applying = 0;
        if (rc == CRM_CONSUMER_UNCHANGED)
            rc = 0;
        else if (rc == 0)
            wrote = 1;
        else
            return rc;
        cur++;
    }
    b->cursor = cur;
    if (cur == start)
        return 0;
    if (!wrote)
        return CRM_CONSUMER_UNCHANGED; /* aborted: nothing to make durable */
    b->wrote = 1;
    return crm_store_meta_put_u64(self->store, txn, self->cursor_key, cur);
}

static void request_replay(crm_consumer_t *self)
{
    int64_t now = crm_time_mono_us();
    if (self->replay_sent_at && now - self->replay_sent_at < (int64_t)(REPLAY_RETRY_S * 1e6))
        return;
    Crm__Events__V1__ReplayRequest req = CRM__EVENTS__V1__REPLAY_REQUEST__INIT;
    req.from_seq = self->applied + 1;
    req.max_events = REPLAY_BATCH;
    req.consumer = (char *)crm_log_service();
    /* two varints and a service name of crm_log_init's 32 bytes at most */
    uint8_t buf[96];
    size_t len = crm__events__v1__replay_request__get_packed_size(&req);
    if (len > sizeof buf)
        return;
    len = crm__events__v1__replay_request__pack(&req, buf);
    const void *data[1] = {buf};
    size_t size[1] = {len};
    if (crm_zsend(self->replay, data, size, 1) == 0) {
        self->replay_sent_at = now;
        self->reported_at = now;
    } else {
        self->replay_sent_at = 0; /* not connected yet: the retry timer asks again */
    }
}

/* The cursor is now cursor: tell who waits for it. */
static void moved_on(crm_consumer_t *self, uint64_t cursor)
{
    self->applied = cursor;
    if (self->progress)
        self->progress(self->progress_arg, self);
    /* consumers waiting for this one go on at once, not at their retry */
    for (int i = 0; i < MAX_CONSUMERS; i++)
        if (consumers[i] && consumers[i] != self && consumers[i]->waiting) {
            consumers[i]->waiting = 0;
            consumers[i]->replay_sent_at = 0; /* now, not after the throttle */
            request_replay(consumers[i]);
        }
}

/* The delay before trying a failed event again: doubling from 100 ms to
 * 30 s, so that a transient fault (a full disk) clears fast and a lasting
 * one costs little. */
static int64_t backoff_us(int failures)
{
    int64_t us = 100000;
    for (int i = 1; i < failures && us < 30000000; i++)
        us *= 2;
    return us < 30000000 ? us : 30000000;
}

/* An event did not apply: remember which and why, log it the first time
 * and when it is declared stuck, and wait before the next try. */
static void note_failure(crm_consumer_t *self, const Crm__Events__V1__Event *ev, int rc)
{
    crm_consumer_stuck_t *f = &self->failing;
    if (f->seq != ev->seq) {
        memset(f, 0, sizeof *f);
        f->seq = ev->seq;
        f->since = crm_time_now_us();
        crm_warn("%s event %llu (%s) failed to apply: %s; trying again", self->producer,
                 (unsigned long long)ev->seq, ev->type, mdb_strerror(rc));
    }
    snprintf(f->type, sizeof f->type, "%s", ev->type);
    snprintf(f->error, sizeof f->error, "%s", mdb_strerror(rc));
    f->failures++;
    self->failures_total++;
    if (f->failures == CRM_CONSUMER_STUCK_AFTER)
        crm_error("%s event %llu (%s) is stuck: %s, %d times; calls that need it fail until an operator "
                  "retries or skips it (crmctl consumers)", self->producer, (unsigned long long)ev->seq, ev->type,
                  f->error, f->failures);
    self->retry_at = crm_time_mono_us() + backoff_us(f->failures);
}

/* A failed event waits out its backoff: nothing is applied, nor asked for. */
static int backing_off(const crm_consumer_t *self)
{
    return self->failing.seq && crm_time_mono_us() < self->retry_at;
}

/* The producer no longer has the events after our cursor: replay cannot
 * bring them, and nothing after them may be applied without them. Stuck
 * for good, with the way out in the log (README, "Stuck events"). */
static void pruned(crm_consumer_t *self, uint64_t first_kept)
{
    crm_consumer_stuck_t *f = &self->failing;
    if (f->seq == self->applied + 1 && self->pruned_from == first_kept) {
        self->retry_at = crm_time_mono_us() + backoff_us(++f->failures);
        return;
    }
    memset(f, 0, sizeof *f);
    f->seq = self->applied + 1;
    f->since = crm_time_now_us();
    f->failures = CRM_CONSUMER_STUCK_AFTER;
    snprintf(f->type, sizeof f->type, "(pruned)");
    snprintf(f->error, sizeof f->error, "%s pruned events %llu to %llu before they were applied here",
             self->producer, (unsigned long long)self->applied + 1, (unsigned long long)first_kept - 1);
    self->pruned_from = first_kept;
    self->retry_at = crm_time_mono_us() + backoff_us(f->failures);
    crm_error("%s; restore this service's store from a backup newer than that, or keep events longer "
              "(--outbox-keep-seconds on %s)", f->error, self->producer);
}

/* Applies the events in order; returns 0 or an LMDB code. */
static int apply_events(crm_consumer_t *self, Crm__Events__V1__Event **events, size_t n)
{
    size_t useful = 0;
    for (size_t i = 0; i < n; i++)
        if (events[i]->seq > self->applied)
            useful++;
    if (!useful)
        return 0;
    /* the next event waits for a sibling: no transaction to open for nothing */
    for (size_t i = 0; i < n; i++)
        if (events[i]->seq == self->applied + 1) {
            if (must_wait(self, events[i])) {
                self->waiting = 1;
                return 0;
            }
            /* after a batch failed, one event a transaction up to its end:
             * the one that fails is then known, and the others are not held
             * back with it */
            if (backing_off(self))
                return 0;
            if (self->failing.seq || self->isolate_until > self->applied) {
                events += i;
                n = 1;
            }
            break;
        }
    batch_t b = {self, events, n, self->applied, 0, 0};
    int rc = crm_store_write(self->store, apply_batch_txn, &b);
    if (rc == CRM_CONSUMER_UNCHANGED)
        rc = 0;
    if (rc) {
        if (n == 1)
            note_failure(self, events[0], rc);
        else if (events[n - 1]->seq > self->applied)
            self->isolate_until = events[n - 1]->seq; /* which of them, the next tries tell */
        return rc;
    }
    if (self->failing.seq && b.cursor >= self->failing.seq) {
        crm_info("%s event %llu (%s) applied after %d failures", self->producer,
                 (unsigned long long)self->failing.seq, self->failing.type, self->failing.failures);
        memset(&self->failing, 0, sizeof self->failing);
    }
    self->waiting = b.waiting;
    if (b.wrote)
        self->committed_at = crm_time_mono_us();
    if (b.cursor != self->applied)
        moved_on(self, b.cursor);
    return 0;
}

static void note_known(crm_consumer_t *self, uint64_t seq)
{
    if (seq > self->known)
        self->known = seq;
}

static void on_gather(struct ev_loop *loop, ev_timer *w, int revents)
{
    crm_consumer_t *self = w->data;
    /* libev's timers run from the loop's cached time: the window may look a
     * few microseconds short still, which must not pause the read again */
    self->window_over = 1;
    crm_zwatch_resume(self->sub_watch);
}

int crm_consumer_set_window(int64_t us)
{
    if (us < 0 || us > CRM_CONSUMER_WINDOW_MAX_US)
        return -1;
    window_us = us;
    return 0;
}

static void on_sub(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_consumer_t *self = arg;
    /* group commit: see crm_consumer_set_window */
    int64_t since = crm_time_mono_us() - self->committed_at;
    if (since < window_us && !self->window_over && !self->input_left) {
        crm_zwatch_pause(w);
        ev_timer_set(&self->gather, (double)(window_us - since) / 1e6, 0);
        ev_timer_start(self->loop, &self->gather);
        return;
    }
    self->window_over = 0;
    Crm__Events__V1__Publication *pubs[256];
    Crm__Events__V1__Event *events[256];
    size_t n_pubs = 0, n_events = 0;
    int gap = 0;
    while (n_pubs < 256) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            break;
        Crm__Events__V1__Publication *p = NULL;
        if (f.count == 1)
            p = crm__events__v1__publication__unpack(NULL, crm_frame_size(&f, 0),
                                                      crm_frame_data(&f, 0));
        crm_frames_close(&f);
        if (!p || strcmp(p->producer, self->producer) != 0) {
            if (p)
                crm__events__v1__publication__free_unpacked(p, NULL);
            continue;
        }
        pubs[n_pubs++] = p;
        note_known(self, p->last_seq);
        if (p->event) {
            note_known(self, p->event->seq);
            uint64_t expect = n_events ? events[n_events - 1]->seq + 1 : self->applied + 1;
            if (p->event->seq == expect)
                events[n_events++] = p->event;
            else if (p->event->seq > expect)
                gap = 1;
        }
    }
    /* a backlog beyond one read goes on at once, not a window a read */
    self->input_left = n_pubs == 256;
    if (n_events && self->replay_sent_at == 0)
        apply_events(self, events, n_events);
    for (size_t i = 0; i < n_pubs; i++)
        crm__events__v1__publication__free_unpacked(pubs[i], NULL);
    /* one that waits for another consumer is woken by it, or asks on the
     * timer; so does one that backs off from a failed event */
    if ((gap || self->known > self->applied) && !self->waiting && !backing_off(self))
        request_replay(self);
}

static void on_replay(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_consumer_t *self = arg;
    for (int budget = 16; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        Crm__Events__V1__ReplayReply *r = NULL;
        if (f.count == 1)
            r = crm__events__v1__replay_reply__unpack(NULL, crm_frame_size(&f, 0),
                                                       crm_frame_data(&f, 0));
        crm_frames_close(&f);
        if (!r)
            continue;
        self->replay_sent_at = 0;
        self->want_replay = 0;
        note_known(self, r->last_seq);
        if (r->first_seq > self->applied + 1) {
            pruned(self, r->first_seq);
            crm__events__v1__replay_reply__free_unpacked(r, NULL);
            continue;
        }
        int rc = apply_events(self, r->events, r->n_events);
        crm__events__v1__replay_reply__free_unpacked(r, NULL);
        if (rc == 0 && self->known > self->applied && !self->waiting && !backing_off(self))
            request_replay(self);
    }
}

static void on_kick(struct ev_loop *loop, ev_timer *w, int revents)
{
    crm_consumer_t *self = w->data;
    uint64_t seq = self->skipped_to, stored = 0;
    self->skipped_to = 0;
    MDB_txn *txn;
    int rc = crm_store_read_begin(self->store, &txn);
    if (rc == 0) {
        rc = crm_store_meta_get_u64(self->store, txn, self->cursor_key, &stored);
        crm_store_read_end(self->store, txn);
    }
    if (seq && rc == 0 && stored >= seq && self->failing.seq == seq) {
        crm_warn("%s event %llu (%s) skipped by an operator after %d failures (%s): it will never be applied",
                 self->producer, (unsigned long long)seq, self->failing.type, self->failing.failures,
                 self->failing.error);
        memset(&self->failing, 0, sizeof self->failing);
        self->retry_at = 0;
        self->committed_at = crm_time_mono_us();
        if (stored > self->applied)
            moved_on(self, stored);
    } else if (seq && self->failing.seq == seq) {
        crm_warn("%s event %llu: the skip was not committed; it stays stuck", self->producer,
                 (unsigned long long)seq);
    }
    self->replay_sent_at = 0;
    request_replay(self);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    crm_consumer_t *self = w->data;
    /* an answer lost with a restarted producer, or a request that could not
     * be sent while disconnected, is asked again */
    if (self->waiting) {
        int64_t now = crm_time_mono_us();
        if (now - self->waiting_checked < WAIT_RECHECK_US)
            return;
        self->waiting_checked = now;
    }
    if (backing_off(self))
        return; /* its time has not come */
    /* caught up, it still says where it is now and then, for pruning */
    if (self->want_replay || self->replay_sent_at || self->known > self->applied ||
        crm_time_mono_us() - self->reported_at > REPORT_US)
        request_replay(self);
}

crm_consumer_t *crm_consumer_new(struct ev_loop *loop, void *zctx, crm_store_t *store,
                                 const char *producer, const char *pub_endpoint,
                                 const char *replay_endpoint, crm_consumer_apply_fn *apply,
                                 void *arg)
{
    crm_consumer_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->store = store;
    self->producer = crm_strdup(producer);
    snprintf(self->cursor_key, sizeof self->cursor_key, "cursor.%s", producer);
    self->apply = apply;
    self->arg = arg;

    MDB_txn *txn;
    int rc = crm_store_read_begin(store, &txn);
    if (rc == 0) {
        rc = crm_store_meta_get_u64(store, txn, self->cursor_key, &self->applied);
        crm_store_read_end(store, txn);
    }
    if (rc) {
        crm_error("consumer %s: %s", producer, mdb_strerror(rc));
        goto fail;
    }
    self->known = self->applied;
    self->sub = zmq_socket(zctx, ZMQ_SUB);
    self->replay = zmq_socket(zctx, ZMQ_DEALER);
    if (!self->sub || !self->replay)
        goto fail_zmq;
    int immediate = 1;
    if (crm_zsock_setup(self->sub, MAX_EVENT_BYTES) != 0 ||
        crm_zsock_setup(self->replay, 64 << 20) != 0 ||
        zmq_setsockopt(self->replay, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        crm_curve_client(self->sub, producer) != 0 || crm_curve_client(self->replay, producer) != 0 ||
        zmq_connect(self->sub, pub_endpoint) != 0 || zmq_connect(self->replay, replay_endpoint) != 0)
        goto fail_zmq;
    if (!(self->sub_watch = crm_zwatch_new(loop, self->sub, on_sub, self)) ||
        !(self->replay_watch = crm_zwatch_new(loop, self->replay, on_replay, self)))
        goto fail_zmq;
    ev_timer_init(&self->gather, on_gather, 0, 0);
    self->gather.data = self;
    ev_timer_init(&self->kick, on_kick, 0, 0);
    self->kick.data = self;
    ev_timer_init(&self->retry, on_retry, 0.05, REPLAY_RETRY_S / 4);
    self->retry.data = self;
    ev_timer_start(loop, &self->retry);
    /* whatever happened while we were down is fetched at once */
    self->want_replay = 1;
    int slot = 0;
    while (slot < MAX_CONSUMERS && consumers[slot])
        slot++;
    if (slot < MAX_CONSUMERS)
        consumers[slot] = self;
    else
        crm_warn("consumer %s: more than %d consumers in one process: its events' order is not kept", producer,
                 MAX_CONSUMERS);
    return self;
fail_zmq:
    crm_error("consumer %s: %s", producer, zmq_strerror(errno));
fail:
    crm_consumer_destroy(&self);
    return NULL;
}

void crm_consumer_destroy(crm_consumer_t **self_p)
{
    crm_consumer_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < MAX_CONSUMERS; i++)
        if (consumers[i] == self)
            consumers[i] = NULL;
    ev_timer_stop(self->loop, &self->retry);
    ev_timer_stop(self->loop, &self->gather);
    ev_timer_stop(self->loop, &self->kick);
    crm_zwatch_destroy(&self->sub_watch);
    crm_zwatch_destroy(&self->replay_watch);
    if (self->sub)
        zmq_close(self->sub);
    if (self->replay)
        zmq_close(self->replay);
    free(self->producer);
    free(self);
    *self_p = NULL;
}

void crm_consumer_on_progress(crm_consumer_t *self, crm_consumer_progress_fn *fn, void *arg)
{
    self->progress = fn;
    self->progress_arg = arg;
}

uint64_t crm_consumer_applied(const crm_consumer_t *self) { return self->applied; }

int crm_consumer_stuck(const crm_consumer_t *self, crm_consumer_stuck_t *out)
{
    if (!self->failing.seq || self->failing.failures < CRM_CONSUMER_STUCK_AFTER)
        return 0;
    if (out)
        *out = self->failing;
    return 1;
}

uint64_t crm_consumer_failures(const crm_consumer_t *self) { return self->failures_total; }

void crm_consumer_retry(crm_consumer_t *self)
{
    self->retry_at = 0;
    self->replay_sent_at = 0;
    request_replay(self);
}

int crm_consumer_skip(crm_consumer_t *self, MDB_txn *txn, uint64_t seq)
{
    if (!self->failing.seq || self->failing.seq != seq || self->applied + 1 != seq)
        return -1;
    uint64_t cur;
    int rc = crm_store_meta_get_u64(self->store, txn, self->cursor_key, &cur);
    if (rc)
        return rc;
    if (cur >= seq)
        return -1;
    if ((rc = crm_store_meta_put_u64(self->store, txn, self->cursor_key, seq)) != 0)
        return rc;
    /* the rest once the caller's transaction is committed, if it is: the
     * kick looks at the stored cursor (a progress callback may also run a
     * batch of calls, which must not happen inside this one) */
    self->skipped_to = seq;
    ev_timer_set(&self->kick, 0, 0);
    ev_timer_start(self->loop, &self->kick);
    return 0;
}
uint64_t crm_consumer_known(const crm_consumer_t *self) { return self->known; }
const char *crm_consumer_producer(const crm_consumer_t *self) { return self->producer; }
