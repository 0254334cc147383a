#include "crm_curve.h"
#include "crm_publisher.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_zloop.h"

#include <errno.h>
#include <string.h>

#define REPLAY_MAX_EVENTS 1000
#define REPLAY_MAX_BYTES (4u << 20)
#define PUBLISH_BATCH 4096

struct crm_publisher {
    struct ev_loop *loop;
    crm_store_t *store;
    crm_outbox_t *outbox;
    void *pub, *replay;
    crm_zwatch_t *replay_watch;
    ev_timer heartbeat;
    uint64_t head;
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
    uint8_t *buf = crm_malloc(head + 1 + 10 + len);
    size_t n = crm__events__v1__publication__pack(&p, buf);
    buf[n++] = (3 << 3) | 2;
    for (uint64_t v = len; ; v >>= 7) {
        buf[n++] = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
        if (v < 0x80)
            break;
    }
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

uint64_t crm_publisher_head(const crm_publisher_t *self) { return self->head; }
const char *crm_publisher_producer(const crm_publisher_t *self)
{
    return crm_outbox_producer(self->outbox);
}

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
    uint8_t hdr[11];
    size_t n = 0;
    hdr[n++] = (3 << 3) | 2;
    size_t v = len;
    do {
        hdr[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    buf_put(b, hdr, n);
    buf_put(b, data, len);
    return 0;
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
    crm__events__v1__replay_request__free_unpacked(req, NULL);

    MDB_txn *txn;
    int rc = crm_store_read_begin(self->store, &txn);
    if (rc) {
        crm_warn("replay: %s", mdb_strerror(rc));
        return;
    }
    uint64_t last = 0;
    buf_t b = {0};
    rc = crm_outbox_last(self->outbox, txn, &last);
    Crm__Events__V1__ReplayReply head = CRM__EVENTS__V1__REPLAY_REPLY__INIT;
    head.producer = (char *)crm_outbox_producer(self->outbox);
    head.last_seq = last;
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
    crm_zwatch_destroy(&self->replay_watch);
    if (self->pub)
        zmq_close(self->pub);
    if (self->replay)
        zmq_close(self->replay);
    free(self);
    *self_p = NULL;
}
