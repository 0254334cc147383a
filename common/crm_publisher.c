#include "crm_curve.h"
#include "crm_publisher.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_wire.h"
#include "crm_zloop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REPLAY_MAX_EVENTS 1000
#define REPLAY_MAX_BYTES (4u << 20)
#define PUBLISH_BATCH 4096
#define MAX_CONSUMERS 16
#define PRUNE_MAX 10000 /* events one pass deletes at most: short write transactions */
/* A consumer silent this long of the producer's running is taken for
 * retired (a service removed or renamed), as Kafka expires a group's
 * offsets: otherwise it would hold pruning back for ever. One that does come back finds its events pruned
 * and stops with an error that says how to rebuild. */
#define FORGET_US (30LL * 24 * 3600 * 1000000)

struct crm_publisher {
    struct ev_loop *loop;
    crm_store_t *store;
    crm_outbox_t *outbox;
    void *pub, *replay;
    crm_zwatch_t *replay_watch;
    ev_timer heartbeat;
    uint64_t head;
    /* what each consumer said it had applied (from its replay requests) */
    struct {
        char name[32];
        uint64_t applied;
        int64_t heard_at;     /* its last replay request, Unix microseconds */
        /* how long the producer has run without hearing from it: quiet_us
         * before since, and the time from since on (see quiet_now); a
         * producer that was down, or restored from an old backup, does not
         * count that time against its consumers */
        int64_t quiet_us, since;
        int64_t stored_quiet; /* quiet_now when last stored */
    } consumers[MAX_CONSUMERS];
    int n_consumers;
    int consumers_loaded; /* those of a previous run read from meta */
    int consumers_dirty;  /* a cursor moved since they were last stored */
    int consumers_lost;   /* one could not be kept track of: no pruning */
    int had_consumers;    /* some were heard of (maybe all forgotten since) */
    int64_t started_at;   /* this run's start: silence is counted from it */
    int64_t keep_us;
    int64_t forget_us;
    ev_timer prune;
};

static void send_heartbeat(crm_publisher_t *self)
{
    Crm__Events__V1__Publication p = CRM__EVENTS__V1__PUBLICATION__INIT;
    p.producer = (char *)crm_outbox_producer(self->outbox);
    p.last_seq = self->head;
    size_t len = crm__events__v1__publication__get_packed_size(&p);
    uint8_t *buf = crm_malloc(len);
    crm__events__v1__publication__pack(&p, buf);
    const void *data[1] = {buf};
    size_t size[1] = {len};
    /* PUB never blocks: a slow subscriber loses messages past its HWM and
     * recovers them by replay, so a failed send needs no handling here */
    if (crm_zsend(self->pub, data, size, 1) != 0 && errno != EAGAIN)
        crm_warn("publish: %s", zmq_strerror(errno));
    free(buf);
}

/* Publication{producer, last_seq, event} built around the stored event's
 * bytes: a length-delimited field 3 appended to the packed header is the
 * same message as packing the decoded event, without decoding it again. */
static int publish_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    crm_publisher_t *self = arg;
    self->head = seq;
    Crm__Events__V1__Publication p = CRM__EVENTS__V1__PUBLICATION__INIT;
    p.producer = (char *)crm_outbox_producer(self->outbox);
    p.last_seq = seq;
    size_t head = crm__events__v1__publication__get_packed_size(&p);
    uint8_t *buf = crm_malloc(head + CRM_WIRE_HEAD_MAX + len);
    size_t n = crm__events__v1__publication__pack(&p, buf);
    n += crm_wire_put_bytes_head(buf + n, 3, len);
    memcpy(buf + n, data, len);
    n += len;
    const void *frames[1] = {buf};
    size_t size[1] = {n};
    if (crm_zsend(self->pub, frames, size, 1) != 0 && errno != EAGAIN)
        crm_warn("publish: %s", zmq_strerror(errno));
    free(buf);
    return 0;
}

void crm_publisher_flush(crm_publisher_t *self)
{
    MDB_txn *txn;
    int rc = crm_store_read_begin(self->store, &txn);
    if (rc) {
        crm_warn("publish: %s", mdb_strerror(rc));
        return;
    }
    uint64_t last = 0;
    rc = crm_outbox_last(self->outbox, txn, &last);
    while (rc == 0 && self->head < last) {
        uint64_t before = self->head;
        rc = crm_outbox_read(self->outbox, txn, self->head + 1, PUBLISH_BATCH, SIZE_MAX,
                             publish_one, self);
        if (self->head == before)
            break;
    }
    if (rc)
        crm_warn("publish: %s", mdb_strerror(rc));
    crm_store_read_end(self->store, txn);
}

int crm_publisher_heard(const crm_publisher_t *self, const char *consumer, uint64_t *applied)
{
    for (int i = 0; i < self->n_consumers; i++)
        if (!strcmp(self->consumers[i].name, consumer)) {
            *applied = self->consumers[i].applied;
            return 1;
        }
    return 0;
}

uint64_t crm_publisher_head(const crm_publisher_t *self) { return self->head; }
const char *crm_publisher_producer(const crm_publisher_t *self)
{
    return crm_outbox_producer(self->outbox);
}

crm_outbox_t *crm_publisher_outbox(const crm_publisher_t *self) { return self->outbox; }

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    crm_publisher_t *self = w->data;
    send_heartbeat(self);
}

/* A growing byte buffer for the reply being built. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        while (b->len + len > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->data = crm_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

/* Appends a stored event as field 3 of ReplayReply: the wire form of a
 * repeated message is each element's tag, length and bytes, so the stored
 * bytes go out as they are, never decoded and re-encoded. */
static int replay_one(void *arg, uint64_t seq, const void *data, size_t len)
{
    buf_t *b = arg;
    uint8_t hdr[CRM_WIRE_HEAD_MAX];
    buf_put(b, hdr, crm_wire_put_bytes_head(hdr, 3, len));
    buf_put(b, data, len);
    return 0;
}

static int64_t quiet_now(const crm_publisher_t *self, int i, int64_t now)
{
    return self->consumers[i].quiet_us + (now - self->consumers[i].since);
}

/* The consumer's slot (added if new), or -1 when it cannot be kept. */
static int consumer_slot(crm_publisher_t *self, const char *name)
{
    int i = 0;
    while (i < self->n_consumers && strcmp(self->consumers[i].name, name) != 0)
        i++;
    if (i < self->n_consumers)
        return i;
    if (i == MAX_CONSUMERS || strlen(name) >= sizeof self->consumers[i].name) {
        /* a consumer pruning cannot wait for: then it prunes nothing */
        if (!self->consumers_lost)
            crm_warn("%s's outbox: cannot keep track of consumer \"%.64s\": it is not pruned",
                     crm_outbox_producer(self->outbox), name);
        self->consumers_lost = 1;
        return -1;
    }
    memset(&self->consumers[i], 0, sizeof self->consumers[i]);
    snprintf(self->consumers[i].name, sizeof self->consumers[i].name, "%s", name);
    self->n_consumers++;
    self->had_consumers = 1;
    self->consumers_dirty = 1;
    return i;
}

/* A consumer said, now, it has applied up to applied. */
static void note_consumer(crm_publisher_t *self, const char *name, uint64_t applied, int64_t now)
{
    int i = consumer_slot(self, name);
    if (i < 0)
        return;
    /* lower as well as higher: a consumer restored from an older backup
     * asks from further back */
    if (self->consumers[i].applied != applied)
        self->consumers_dirty = 1;
    self->consumers[i].applied = applied;
    self->consumers[i].heard_at = now;
    self->consumers[i].quiet_us = 0;
    self->consumers[i].since = now;
}

static void answer_replay(crm_publisher_t *self, crm_frames_t *f)
{
    /* [peer id][ReplayRequest] from a DEALER */
    if (f->count != 2)
        return;
    Crm__Events__V1__ReplayRequest *req =
        crm__events__v1__replay_request__unpack(NULL, crm_frame_size(f, 1), crm_frame_data(f, 1));
    if (!req)
        return;
    size_t max = req->max_events && req->max_events < REPLAY_MAX_EVENTS ? req->max_events
                                                                          : REPLAY_MAX_EVENTS;
    uint64_t from = req->from_seq ? req->from_seq : 1;
    if (req->consumer[0])
        note_consumer(self, req->consumer, from - 1, crm_time_now_us());
    crm__events__v1__replay_request__free_unpacked(req, NULL);

    MDB_txn *txn;
    int rc = crm_store_read_begin(self->store, &txn);
    if (rc) {
        crm_warn("replay: %s", mdb_strerror(rc));
        return;
    }
    uint64_t last = 0, first = 0;
    buf_t b = {0};
    rc = crm_outbox_last(self->outbox, txn, &last);
    if (rc == 0)
        rc = crm_outbox_first(self->outbox, txn, &first);
    Crm__Events__V1__ReplayReply head = CRM__EVENTS__V1__REPLAY_REPLY__INIT;
    head.producer = (char *)crm_outbox_producer(self->outbox);
    head.last_seq = last;
    head.first_seq = first;
    uint8_t hbuf[128];
    size_t hlen = crm__events__v1__replay_reply__get_packed_size(&head);
    if (rc == 0 && hlen <= sizeof hbuf) {
        crm__events__v1__replay_reply__pack(&head, hbuf);
        buf_put(&b, hbuf, hlen);
        rc = crm_outbox_read(self->outbox, txn, from, max, REPLAY_MAX_BYTES, replay_one, &b);
    }
    crm_store_read_end(self->store, txn);
    if (rc == 0) {
        const void *data[2] = {crm_frame_data(f, 0), b.data};
        size_t size[2] = {crm_frame_size(f, 0), b.len};
        if (crm_zsend(self->replay, data, size, 2) != 0)
            crm_debug("replay answer dropped: %s", zmq_strerror(errno));
    } else {
        crm_warn("replay: %s", mdb_strerror(rc));
    }
    free(b.data);
}

static void on_replay(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_publisher_t *self = arg;
    for (int budget = 64; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        answer_replay(self, &f);
        crm_frames_close(&f);
    }
}

/* --- pruning ------------------------------------------------------------------ */

typedef struct {
    crm_publisher_t *self;
    int64_t before_at;
    size_t deleted;
} prune_t;

/* The cursors stored by a previous run, once: a consumer that is down
 * now has its events kept all the same. */
static int load_consumers(crm_publisher_t *self, MDB_txn *txn)
{
    Crm__Events__V1__ConsumerCursors *kept = NULL;
    int rc = crm_db_get_msg(txn, crm_store_meta(self->store), "consumers", 9,
                            &crm__events__v1__consumer_cursors__descriptor, NULL, (void **)&kept);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; kept && i < kept->n_cursors; i++) {
        const Crm__Events__V1__ConsumerCursor *c = kept->cursors[i];
        int known = 0;
        for (int j = 0; j < self->n_consumers; j++)
            known |= !strcmp(self->consumers[j].name, c->consumer);
        if (known) /* one heard of in this run already says more */
            continue;
        int j = consumer_slot(self, c->consumer);
        if (j < 0)
            continue;
        self->consumers[j].applied = c->applied;
        self->consumers[j].heard_at = c->heard_at;
        self->consumers[j].quiet_us = c->quiet_us > 0 ? c->quiet_us : 0;
        self->consumers[j].since = self->started_at;
        self->consumers[j].stored_quiet = self->consumers[j].quiet_us;
    }
    /* a record, even an empty one, is kept only once consumers were heard
     * of: empty, they were all forgotten */
    if (kept)
        self->had_consumers = 1;
    if (kept)
        crm__events__v1__consumer_cursors__free_unpacked(kept, NULL);
    self->consumers_loaded = 1;
    return 0;
}

/* Stores the cursors heard of, when one has moved. */
static int store_consumers(crm_publisher_t *self, MDB_txn *txn)
{
    if (!self->consumers_dirty)
        return 0;
    Crm__Events__V1__ConsumerCursor cur[MAX_CONSUMERS], *ptrs[MAX_CONSUMERS];
    Crm__Events__V1__ConsumerCursors all = CRM__EVENTS__V1__CONSUMER_CURSORS__INIT;
    int64_t now = crm_time_now_us();
    for (int j = 0; j < self->n_consumers; j++) {
        crm__events__v1__consumer_cursor__init(&cur[j]);
        cur[j].consumer = self->consumers[j].name;
        cur[j].applied = self->consumers[j].applied;
        cur[j].heard_at = self->consumers[j].heard_at;
        cur[j].quiet_us = quiet_now(self, j, now);
        self->consumers[j].stored_quiet = cur[j].quiet_us;
        ptrs[j] = &cur[j];
    }
    all.cursors = ptrs;
    all.n_cursors = (size_t)self->n_consumers;
    return crm_db_put_msg(txn, crm_store_meta(self->store), "consumers", 9, &all.base);
}

static void forget_silent(crm_publisher_t *self, int64_t now)
{
    for (int j = 0; j < self->n_consumers;) {
        int64_t quiet = quiet_now(self, j, now);
        if (quiet <= self->forget_us) {
            /* the silence so far is stored a few times a window, so that
             * restarts do not start it again from nothing */
            if (quiet - self->consumers[j].stored_quiet > self->forget_us / 8)
                self->consumers_dirty = 1;
            j++;
            continue;
        }
        crm_warn("%s's outbox: consumer \"%s\" has not asked in %lld days of this producer's running: it no "
                 "longer holds pruning back",
                 crm_outbox_producer(self->outbox), self->consumers[j].name,
                 (long long)(quiet / (24LL * 3600 * 1000000)));
        self->consumers[j] = self->consumers[--self->n_consumers];
        self->consumers_dirty = 1;
    }
}

static int prune_txn(MDB_txn *txn, void *arg)
{
    prune_t *p = arg;
    crm_publisher_t *self = p->self;
    int rc;
    p->deleted = 0;
    if (!self->consumers_loaded && (rc = load_consumers(self, txn)) != 0)
        return rc;
    forget_silent(self, crm_time_now_us());
    if ((rc = store_consumers(self, txn)) != 0)
        return rc;
    /* no consumer heard of yet, or one lost track of: nothing is known to
     * be applied by all; all of them forgotten: events go by age alone */
    if ((self->n_consumers == 0 && !self->had_consumers) || self->consumers_lost)
        return 0;
    uint64_t upto = UINT64_MAX;
    for (int j = 0; j < self->n_consumers; j++)
        if (self->consumers[j].applied < upto)
            upto = self->consumers[j].applied;
    return crm_outbox_prune(self->outbox, txn, upto, p->before_at, PRUNE_MAX, &p->deleted);
}

long crm_publisher_prune(crm_publisher_t *self)
{
    prune_t p = {self, crm_time_now_us() - self->keep_us, 0};
    int rc = crm_store_write(self->store, prune_txn, &p);
    if (rc == 0)
        self->consumers_dirty = 0;
    if (rc) {
        crm_warn("pruning %s's outbox: %s", crm_outbox_producer(self->outbox), mdb_strerror(rc));
        return -1;
    }
    if (p.deleted)
        crm_info("pruned %zu events of %s's outbox that every consumer has applied", p.deleted,
                 crm_outbox_producer(self->outbox));
    return (long)p.deleted;
}

/* A tenth of the retention, between a second and a minute. */
static double prune_every(int64_t keep_us)
{
    double s = (double)keep_us / 1e6 / 10;
    return s < 1 ? 1 : s > 60 ? 60 : s;
}

static void on_prune(struct ev_loop *loop, ev_timer *w, int revents)
{
    crm_publisher_t *self = w->data;
    /* a full pass: more may be due at once */
    w->repeat = crm_publisher_prune(self) == PRUNE_MAX ? 1.0 : prune_every(self->keep_us);
    ev_timer_again(loop, w);
}

void crm_publisher_set_forget(crm_publisher_t *self, int64_t forget_us)
{
    self->forget_us = forget_us;
}

void crm_publisher_set_retention(crm_publisher_t *self, int64_t keep_us)
{
    self->keep_us = keep_us;
    ev_timer_stop(self->loop, &self->prune);
    if (keep_us <= 0)
        return;
    ev_timer_init(&self->prune, on_prune, prune_every(keep_us), prune_every(keep_us));
    self->prune.data = self;
    ev_timer_start(self->loop, &self->prune);
}

static void *bound_socket(void *zctx, int type, const char *endpoint)
{
    void *s = zmq_socket(zctx, type);
    if (!s)
        return NULL;
    if (crm_zsock_setup(s, 1 << 20) != 0 || crm_curve_server(s, CRM_CURVE_EVENTS) != 0 || zmq_bind(s, endpoint) != 0) {
        crm_error("bind %s: %s", endpoint, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

crm_publisher_t *crm_publisher_new(struct ev_loop *loop, void *zctx, crm_store_t *store,
                                   crm_outbox_t *outbox, const char *pub_endpoint,
                                   const char *replay_endpoint, int heartbeat_ms)
{
    crm_publisher_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->store = store;
    self->outbox = outbox;
    self->forget_us = FORGET_US;
    self->started_at = crm_time_now_us();
    if (!(self->pub = bound_socket(zctx, ZMQ_PUB, pub_endpoint)))
        goto fail;
    if (!(self->replay = bound_socket(zctx, ZMQ_ROUTER, replay_endpoint)))
        goto fail;
    if (!(self->replay_watch = crm_zwatch_new(loop, self->replay, on_replay, self)))
        goto fail;
    /* events committed before a crash were never published: the head starts
     * at the outbox's end and consumers fetch the rest by replay */
    MDB_txn *txn;
    if (crm_store_read_begin(store, &txn) != 0)
        goto fail;
    int rc = crm_outbox_last(outbox, txn, &self->head);
    crm_store_read_end(store, txn);
    if (rc)
        goto fail;
    ev_init(&self->prune, on_prune);
    double every = (heartbeat_ms > 0 ? heartbeat_ms : 1000) / 1000.0;
    ev_timer_init(&self->heartbeat, on_heartbeat, every, every);
    self->heartbeat.data = self;
    ev_timer_start(loop, &self->heartbeat);
    return self;
fail:
    crm_publisher_destroy(&self);
    return NULL;
}

void crm_publisher_destroy(crm_publisher_t **self_p)
{
    crm_publisher_t *self = *self_p;
    if (!self)
        return;
    ev_timer_stop(self->loop, &self->heartbeat);
    ev_timer_stop(self->loop, &self->prune);
    crm_zwatch_destroy(&self->replay_watch);
    if (self->pub)
        zmq_close(self->pub);
    if (self->replay)
        zmq_close(self->replay);
    free(self);
    *self_p = NULL;
}
