/* The live stream: every committed inbox entry goes out on a PUB socket
 * twice, under "user.<id>" and "doc.<model>.<id>", each time with its
 * number in that topic, so a subscriber of one topic sees a gap; the
 * entry's id numbers all of them. A heartbeat tells the latest id. PUB never
 * blocks: a subscriber too slow for its high-water mark loses entries and
 * recovers them from the inbox (the gateway does, by id). */
#include "notifications.h"
#include "crm_curve.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_wire.h"
#include "crm_zloop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#define FLUSH_BATCH 4096

struct ntf_stream {
    struct ev_loop *loop;
    notifications_t *n;
    void *pub;
    ev_timer heartbeat;
    uint64_t head;
    crm_arena_t *arena;
};

static void send_frames(ntf_stream_t *self, const char *topic, const void *data, size_t len)
{
    const void *frames[2] = {topic, data};
    size_t size[2] = {strlen(topic), len};
    if (crm_zsend(self->pub, frames, size, 2) != 0 && errno != EAGAIN)
        crm_warn("stream: %s", zmq_strerror(errno));
}

/* What publishing needs of a stored InboxEntry, read in place. */
typedef struct {
    const uint8_t *notification; /* its bytes, as stored */
    size_t len;
    uint64_t id, user_id, user_seq, doc_seq, doc_id;
    const uint8_t *model;
    size_t model_len;
} stored_entry_t;

static int read_doc(const uint8_t *buf, size_t len, stored_entry_t *e)
{
    size_t pos = 0;
    crm_wire_field_t f;
    int rc;
    while ((rc = crm_wire_next(buf, len, &pos, &f)) == 1) {
        if (f.number == 1 && f.wire_type == 2) {
            e->model = f.data;
            e->model_len = f.len;
        } else if (f.number == 2 && f.wire_type == 0) {
            e->doc_id = f.varint;
        }
    }
    return rc;
}

/* 0, or -1 when the bytes are not an entry with a notification. */
static int read_stored(const uint8_t *buf, size_t len, stored_entry_t *e)
{
    memset(e, 0, sizeof *e);
    size_t pos = 0;
    crm_wire_field_t f;
    int rc;
    while ((rc = crm_wire_next(buf, len, &pos, &f)) == 1) {
        if (f.number == 1 && f.wire_type == 2) {
            e->notification = f.data;
            e->len = f.len;
        } else if (f.number == 2 && f.wire_type == 0) {
            e->user_seq = f.varint;
        } else if (f.number == 3 && f.wire_type == 0) {
            e->doc_seq = f.varint;
        }
    }
    if (rc != 0 || !e->notification)
        return -1;
    pos = 0;
    while ((rc = crm_wire_next(e->notification, e->len, &pos, &f)) == 1) {
        if (f.number == 1 && f.wire_type == 0)
            e->id = f.varint;
        else if (f.number == 8 && f.wire_type == 0)
            e->user_id = f.varint;
        else if (f.number == 2 && f.wire_type == 2 && read_doc(f.data, f.len, e) != 0)
            return -1;
    }
    return rc;
}

/* StreamEntry{seq, topic_seq, notification} around the stored notification's
 * bytes: the same message as decoding the entry and packing it again, at a
 * fraction of the work, twice a change per follower. */
static void send_copy(ntf_stream_t *self, const char *topic, const stored_entry_t *e, uint64_t topic_seq,
                      uint8_t *buf)
{
    size_t n = crm_wire_put_uint(buf, 1, e->id);
    n += crm_wire_put_uint(buf + n, 2, topic_seq);
    n += crm_wire_put_bytes_head(buf + n, 3, e->len);
    memcpy(buf + n, e->notification, e->len);
    send_frames(self, topic, buf, n + e->len);
}

static void publish(ntf_stream_t *self, const stored_entry_t *e)
{
    uint8_t *buf = crm_arena_alloc(self->arena, 3 * CRM_WIRE_HEAD_MAX + e->len);
    char topic[96];
    snprintf(topic, sizeof topic, "user.%lld", (long long)e->user_id);
    send_copy(self, topic, e, e->user_seq, buf);
    if (!e->model_len)
        return; /* an entry about no document (a meeting on none) */
    snprintf(topic, sizeof topic, "doc.%.*s.%lld", (int)(e->model_len < 64 ? e->model_len : 64),
             e->model ? (const char *)e->model : "",
             (long long)e->doc_id);
    send_copy(self, topic, e, e->doc_seq, buf);
}

void ntf_stream_flush(void *arg)
{
    ntf_stream_t *self = arg;
    MDB_txn *txn;
    int rc = crm_store_read_begin(self->n->store, &txn);
    if (rc) {
        crm_warn("stream: %s", mdb_strerror(rc));
        return;
    }
    MDB_cursor *cur = NULL;
    rc = mdb_cursor_open(txn, self->n->inbox, &cur);
    uint8_t key[8];
    crm_key_put_u64(key, self->head + 1);
    MDB_val k = {sizeof key, key}, d;
    for (int n = 0; rc == 0 && n < FLUSH_BATCH; n++) {
        rc = mdb_cursor_get(cur, &k, &d, n ? MDB_NEXT : MDB_SET_RANGE);
        if (rc)
            break;
        crm_arena_reset(self->arena);
        stored_entry_t e;
        uint64_t id = crm_key_get_u64(k.mv_data);
        /* an entry that cannot be read is skipped: its id makes the gap
         * visible and subscribers fetch it from the inbox */
        if (read_stored(d.mv_data, d.mv_size, &e) == 0)
            publish(self, &e);
        else
            crm_warn("stream: entry %llu unreadable", (unsigned long long)id);
        self->head = id;
    }
    if (rc && rc != MDB_NOTFOUND)
        crm_warn("stream: %s", mdb_strerror(rc));
    if (rc == 0) {
        /* more than one batch committed at once: go on next loop turn */
        ev_feed_event(self->loop, &self->heartbeat, EV_CUSTOM);
    }
    if (cur)
        mdb_cursor_close(cur);
    crm_store_read_end(self->n->store, txn);
}

uint64_t ntf_stream_head(void *self) { return ((ntf_stream_t *)self)->head; }

static void on_heartbeat(struct ev_loop *loop, ev_timer *w, int revents)
{
    ntf_stream_t *self = w->data;
    if (revents & EV_CUSTOM) {
        ntf_stream_flush(self);
        return;
    }
    Crm__Notifications__V1__StreamHeartbeat h = CRM__NOTIFICATIONS__V1__STREAM_HEARTBEAT__INIT;
    h.last_seq = self->head;
    uint8_t buf[16];
    size_t len = crm__notifications__v1__stream_heartbeat__pack(&h, buf);
    send_frames(self, "heartbeat", buf, len);
}

/* The last entry written: entries committed before a crash were never
 * published, and subscribers learn of them from the heartbeat. */
static int last_entry(notifications_t *n, uint64_t *out)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = crm_store_read_begin(n->store, &txn);
    if (rc)
        return rc;
    *out = 0;
    if ((rc = mdb_cursor_open(txn, n->inbox, &cur)) == 0) {
        MDB_val k, d;
        rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
        if (rc == 0 && k.mv_size == 8)
            *out = crm_key_get_u64(k.mv_data);
        mdb_cursor_close(cur);
    }
    crm_store_read_end(n->store, txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

ntf_stream_t *ntf_stream_new(struct ev_loop *loop, void *zctx, notifications_t *n, const char *endpoint,
                             int heartbeat_ms)
{
    ntf_stream_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->n = n;
    self->arena = crm_arena_new();
    int rc = last_entry(n, &self->head);
    if (rc) {
        crm_error("stream: %s", mdb_strerror(rc));
        goto fail;
    }
    self->pub = zmq_socket(zctx, ZMQ_PUB);
    /* bursts of 20 followers an event outrun libzmq's default 1,000 messages */
    int hwm = 200000;
    if (!self->pub || crm_zsock_setup(self->pub, 1 << 20) != 0 ||
        zmq_setsockopt(self->pub, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 || crm_curve_server(self->pub, CRM_CURVE_STREAM) != 0 ||
        zmq_bind(self->pub, endpoint) != 0) {
        crm_error("bind %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    double every = (heartbeat_ms > 0 ? heartbeat_ms : 500) / 1000.0;
    ev_timer_init(&self->heartbeat, on_heartbeat, every, every);
    self->heartbeat.data = self;
    ev_timer_start(loop, &self->heartbeat);
    return self;
fail:
    ntf_stream_destroy(&self);
    return NULL;
}

void ntf_stream_destroy(ntf_stream_t **self_p)
{
    ntf_stream_t *self = *self_p;
    if (!self)
        return;
    if (ev_is_active(&self->heartbeat))
        ev_timer_stop(self->loop, &self->heartbeat);
    if (self->pub)
        zmq_close(self->pub);
    crm_arena_destroy(&self->arena);
    free(self);
    *self_p = NULL;
}
