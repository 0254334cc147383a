/* The ZeroMQ front door: a ROUTER taking one ClientRequest frame per message,
 * from DEALER clients ([peer][request]) and REQ clients ([peer][][request])
 * alike, answering ClientReply in the same envelope.
 *
 * Replies held for a slow reader count against its byte budget, as the HTTP
 * door's do. libzmq itself counts only messages (SNDHWM), whatever their
 * size, so the door keeps what libzmq would hold: the socket is
 * ROUTER_MANDATORY with a small SNDHWM, a reply to a peer whose pipe is full
 * waits in the door (its bytes taken from the budget of its address and
 * session), in order, until the pipe drains; and a large reply's bytes stay
 * counted inside libzmq too, until libzmq lets go of them (zero-copy, its
 * free function). A reader over its budget gets no new calls admitted, a
 * large reply past it is answered resource_exhausted, and a peer whose
 * waiting replies pass twice its address's budget loses them. */
#include "crm_curve.h"
#include "gateway.h"
#include "client.pb-c.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_wire.h"
#include "crm_zloop.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

/* Replies libzmq holds for one peer, however small: small ones are not
 * counted there, so this bounds them to SNDHWM * REPLY_COUNTED a
 * connection. */
#define SNDHWM 32
/* A reply larger than this is counted until libzmq has written it out. */
#define REPLY_COUNTED (64 << 10)
/* A refusal past a peer's budget still waits for it while it has fewer
 * replies waiting than this; past that it is dropped (a peer that reads
 * nothing could otherwise have refusals kept for every call it sends). */
#define REFUSALS_KEPT 64
/* While replies wait, how often the door retries them when no event of the
 * socket said its pipes drained (an edge taken in by another call). */
#define RETRY_SECONDS 0.05

#define OVER_BUDGET "too many bytes in flight to this address or session; read the answers you have, then try again"

/* A reply waiting in the door, oldest first. */
typedef struct reply {
    struct reply *next;
    int large;          /* msg holds it, counted until libzmq lets go */
    zmq_msg_t msg;
    uint8_t *buf;       /* else the packed reply, held bytes taken for it */
    size_t len;
    int req_envelope;
    uint64_t session;
} reply_t;

/* A peer (routing id) with replies waiting: its pipe was full. */
typedef struct slow_peer {
    struct slow_peer *prev, *next; /* the door's slow peers */
    struct slow_peer *same_key;    /* another routing id of the same hash */
    uint64_t key;
    uint8_t *id;
    size_t id_len;
    char address[64];
    reply_t *head, *tail;
    int64_t bytes;                 /* of its waiting replies */
    int64_t count;
} slow_peer_t;

struct gw_zmq_door {
    gateway_t *gw;
    void *socket;
    crm_zwatch_t *watch;
    crm_map_t *slow;        /* slow peers by routing id hash (same_key chains) */
    slow_peer_t *slow_list;
    int64_t n_slow;
    int flush_due;          /* the socket may have drained a pipe since the last flush */
    ev_io drained;          /* the socket's fd, watched while replies wait */
    ev_prepare flush;
    ev_timer retry;
    ev_async released;
};

/* A large reply's bytes, given back when libzmq lets go of them: its free
 * function runs on whichever thread drops the last reference (an I/O thread
 * once written), so it hands the record to the loop through a list. One
 * ZeroMQ door a process; NULL once it is gone (late releases at shutdown
 * are only freed). */
typedef struct released {
    struct released *next;
    char address[64];
    uint64_t session;
    int64_t bytes;
} released_t;

static pthread_mutex_t released_lock = PTHREAD_MUTEX_INITIALIZER;
static released_t *released_list;
static gw_zmq_door_t *released_door;

static void on_released_bytes(void *data, void *hint)
{
    free(data);
    released_t *r = hint;
    pthread_mutex_lock(&released_lock);
    if (released_door) {
        r->next = released_list;
        released_list = r;
        ev_async_send(released_door->gw->loop, &released_door->released);
        r = NULL;
    }
    pthread_mutex_unlock(&released_lock);
    free(r);
}

static void on_released(struct ev_loop *loop, ev_async *w, int revents)
{
    gw_zmq_door_t *door = w->data;
    pthread_mutex_lock(&released_lock);
    released_t *r = released_list;
    released_list = NULL;
    pthread_mutex_unlock(&released_lock);
    while (r) {
        released_t *next = r->next;
        gw_budget_give(door->gw, r->address, r->session, r->bytes);
        free(r);
        r = next;
    }
}

static uint64_t peer_key(const uint8_t *id, size_t len)
{
    uint64_t key;
    crypto_shorthash((unsigned char *)&key, id, len, (const unsigned char *)"crm-gw-zmq-peers");
    return key;
}

static slow_peer_t *slow_find(gw_zmq_door_t *door, const uint8_t *id, size_t len)
{
    slow_peer_t *s = crm_map_get(door->slow, peer_key(id, len));
    while (s && (s->id_len != len || memcmp(s->id, id, len)))
        s = s->same_key;
    return s;
}

static slow_peer_t *slow_add(gw_zmq_door_t *door, const uint8_t *id, size_t len, const char *address)
{
    slow_peer_t *s = crm_calloc(1, sizeof *s);
    s->key = peer_key(id, len);
    s->id = crm_memdup(id, len);
    s->id_len = len;
    snprintf(s->address, sizeof s->address, "%s", address);
    s->same_key = crm_map_get(door->slow, s->key);
    crm_map_put(door->slow, s->key, s);
    s->next = door->slow_list;
    if (s->next)
        s->next->prev = s;
    door->slow_list = s;
    if (door->n_slow++ == 0) {
        ev_io_start(door->gw->loop, &door->drained);
        ev_timer_again(door->gw->loop, &door->retry);
    }
    return s;
}

/* Drops a waiting reply: its bytes go back to the budget (a large one's
 * through its release). */
static void reply_drop(gw_zmq_door_t *door, slow_peer_t *s, reply_t *r)
{
    if (r->large) {
        zmq_msg_close(&r->msg);
    } else {
        gw_budget_give(door->gw, s->address, r->session, (int64_t)r->len);
        free(r->buf);
    }
    free(r);
}

/* Forgets a slow peer, dropping what still waits for it. */
static void slow_free(gw_zmq_door_t *door, slow_peer_t *s)
{
    while (s->head) {
        reply_t *r = s->head;
        s->head = r->next;
        reply_drop(door, s, r);
    }
    slow_peer_t *first = crm_map_get(door->slow, s->key);
    if (first == s) {
        if (s->same_key)
            crm_map_put(door->slow, s->key, s->same_key);
        else
            crm_map_remove(door->slow, s->key);
    } else {
        while (first->same_key != s)
            first = first->same_key;
        first->same_key = s->same_key;
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        door->slow_list = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (--door->n_slow == 0) {
        ev_io_stop(door->gw->loop, &door->drained);
        ev_timer_stop(door->gw->loop, &door->retry);
    }
    free(s->id);
    free(s);
}

/* Hands one reply to libzmq. Returns 0 (a large one's msg is libzmq's
 * then), or -1 with errno: EAGAIN, the peer's pipe is full; else the peer
 * is gone. */
static int send_one(gw_zmq_door_t *door, const uint8_t *id, size_t id_len, int req_envelope, reply_t *r)
{
    const void *data[3] = {id, "", r->buf};
    size_t size[3] = {id_len, 0, r->len};
    int frames = req_envelope ? 2 : 1;
    if (r->large)
        return crm_zsend_msg(door->socket, data, size, frames, &r->msg);
    data[frames] = r->buf;
    size[frames] = r->len;
    return crm_zsend(door->socket, data, size, frames + 1);
}

/* Sends what waits for s while its pipe takes it; forgets s once it is
 * empty, or gone. */
static void slow_flush(gw_zmq_door_t *door, slow_peer_t *s)
{
    while (s->head) {
        reply_t *r = s->head;
        if (send_one(door, s->id, s->id_len, r->req_envelope, r) != 0) {
            if (errno == EAGAIN)
                return;
            crm_debug("client gone with %lld replies waiting: %s", (long long)s->count, zmq_strerror(errno));
            break;
        }
        s->head = r->next;
        s->bytes -= (int64_t)r->len;
        s->count--;
        if (!r->large) {
            gw_budget_give(door->gw, s->address, r->session, (int64_t)r->len);
            free(r->buf);
        }
        free(r);
    }
    slow_free(door, s);
}

static void flush_all(gw_zmq_door_t *door)
{
    door->flush_due = 0;
    /* a send takes in the pipes' news (libzmq's commands) only now and then:
     * a pipe that drained says so here */
    int events;
    size_t len = sizeof events;
    if (zmq_getsockopt(door->socket, ZMQ_EVENTS, &events, &len) != 0)
        crm_debug("front door events: %s", zmq_strerror(errno));
    for (slow_peer_t *s = door->slow_list, *next; s; s = next) {
        next = s->next;
        slow_flush(door, s);
    }
}

/* The fd fired: a pipe may have drained (libzmq's activate_write). */
static void on_drained(struct ev_loop *loop, ev_io *w, int revents) { ((gw_zmq_door_t *)w->data)->flush_due = 1; }

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents) { ((gw_zmq_door_t *)w->data)->flush_due = 1; }

/* Before the loop may block, and before the socket's watch looks at its
 * input: a send may take in the commands that carried the fd's only
 * signal, and the watch then reads the socket's state again. */
static void on_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
    gw_zmq_door_t *door = w->data;
    if (door->n_slow && door->flush_due)
        flush_all(door);
}

/* Where a reply goes and whose budget it counts against. */
typedef struct {
    gw_zmq_door_t *door;
    const uint8_t *id;
    size_t id_len;
    int req_envelope;
    const char *address;
    uint64_t session;
} reply_to_t;

/* Sends the reply buf (n bytes, malloc'd, taken) to its peer, or queues it
 * behind what waits for it. large: the bytes were taken from the budget
 * already and are given back when libzmq lets go of them. ran: the reply
 * of a call that reached a service, kept whatever the budget; a refusal
 * past the budget is kept only while few replies wait (REFUSALS_KEPT). */
static void deliver(const reply_to_t *to, uint8_t *buf, size_t n, int large, int ran)
{
    gw_zmq_door_t *door = to->door;
    gateway_t *gw = door->gw;
    slow_peer_t *s = door->n_slow ? slow_find(door, to->id, to->id_len) : NULL;
    reply_t one = {.large = large, .buf = buf, .len = n, .req_envelope = to->req_envelope, .session = to->session};
    if (large) {
        released_t *rel = crm_calloc(1, sizeof *rel);
        snprintf(rel->address, sizeof rel->address, "%s", to->address);
        rel->session = to->session;
        rel->bytes = (int64_t)n;
        if (zmq_msg_init_data(&one.msg, buf, n, on_released_bytes, rel) != 0)
            crm_oom(sizeof(zmq_msg_t)); /* libzmq's only failure here */
        one.buf = NULL;
    }
    if (!s) {
        if (send_one(door, to->id, to->id_len, to->req_envelope, &one) == 0) {
            if (!large)
                free(buf);
            return;
        }
        if (errno != EAGAIN) {
            crm_debug("client reply dropped: %s", zmq_strerror(errno));
            if (large)
                zmq_msg_close(&one.msg);
            else
                free(buf);
            return;
        }
    }
    if (!large && gw_budget_take(gw, to->address, to->session, (int64_t)n) != 0) {
        if (!ran && s && s->count >= REFUSALS_KEPT) {
            gw->refused_budget++;
            free(buf);
            return;
        }
        gw_budget_force(gw, to->address, to->session, (int64_t)n);
    }
    if (!s)
        s = slow_add(door, to->id, to->id_len, to->address);
    reply_t *r = crm_malloc(sizeof *r);
    *r = one;
    if (s->tail)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->bytes += (int64_t)n;
    s->count++;
    if (s->bytes > 2 * gw->max_held_per_address) {
        crm_warn("client at %s reads too slowly: its %lld waiting replies (%lld bytes) dropped",
                 s->address[0] ? s->address : "ipc", (long long)s->count, (long long)s->bytes);
        gw->refused_budget += s->count;
        slow_free(door, s);
    }
}

typedef struct {
    gw_zmq_door_t *door;
    uint8_t *peer;
    size_t peer_len;
    int req_envelope; /* REQ client: an empty delimiter frame goes back too */
    uint64_t id;
    uint8_t *raw;     /* the body as it came, until the caller is admitted */
    size_t raw_len;
    int64_t held;     /* bytes taken from the budget for this call */
    char address[64]; /* the peer's IP address, "" for ipc */
    uint64_t session; /* the call's session, for the budget */
} zmq_peer_t;

static void send_reply(const zmq_peer_t *p, const crm_status_t *st, const uint8_t *body, size_t len, int ran)
{
    gateway_t *gw = p->door->gw;
    Crm__Client__V1__ClientReply r = CRM__CLIENT__V1__CLIENT_REPLY__INIT;
    Crm__Rpc__V1__Status status;
    crm_status_to_pb(st, &status);
    r.id = p->id;
    r.status = &status;
    if (st->code == CODE(OK)) {
        r.body.data = (uint8_t *)body;
        r.body.len = len;
    }
    size_t n = crm__client__v1__client_reply__get_packed_size(&r);
    int large = n > REPLY_COUNTED;
    if (large && gw_budget_take(gw, p->address, p->session, (int64_t)n) != 0) {
        if (n > GW_REPLY_ALWAYS) {
            crm_status_t over;
            gw->refused_budget++;
            crm_status_set(&over, CODE(RESOURCE_EXHAUSTED), NULL, OVER_BUDGET);
            send_reply(p, &over, NULL, 0, ran);
            return;
        }
        gw_budget_force(gw, p->address, p->session, (int64_t)n);
    }
    uint8_t *buf = crm_malloc(n);
    crm__client__v1__client_reply__pack(&r, buf);
    reply_to_t to = {p->door, p->peer, p->peer_len, p->req_envelope, p->address, p->session};
    deliver(&to, buf, n, large, ran);
}

static void peer_free(gateway_t *gw, zmq_peer_t *p)
{
    gw_budget_give(gw, p->address, p->session, p->held);
    free(p->raw);
    free(p->peer);
    free(p);
}

/* The call's done: the reply goes, and the call and its peer are freed. */
static void reply_and_free(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    zmq_peer_t *p = call->door;
    send_reply(p, st, body, len, 1);
    peer_free(call->gw, p);
    gw_call_free(call);
}

static void reject(const zmq_peer_t *p, Crm__Rpc__V1__Code code, const char *field, const char *msg)
{
    crm_status_t st;
    crm_status_set(&st, code, field, "%s", msg);
    send_reply(p, &st, NULL, 0, 0);
}

/* The session is settled: only now is the body decoded. */
static void on_admitted(gw_call_t *call, const crm_status_t *st)
{
    zmq_peer_t *p = call->door;
    crm_status_t bad;
    if (st->code != CODE(OK)) {
        reply_and_free(call, st, NULL, 0);
        return;
    }
    int rc = gw_call_set_body(call, p->raw, p->raw_len, 0, &bad);
    free(p->raw);
    p->raw = NULL;
    if (rc != 0) {
        gw_metrics_record(call->gw, call->method_name, bad.code, 0);
        reply_and_free(call, &bad, NULL, 0);
        return;
    }
    gw_dispatch(call);
}

/* The envelope's fields in place (crm_wire): nothing of the body is copied
 * before its size is checked, nor decoded before the caller is known. */
typedef struct {
    uint64_t id;
    crm_wire_field_t method, token, idem, body;
} envelope_t;

static int read_envelope(const uint8_t *buf, size_t len, envelope_t *e)
{
    memset(e, 0, sizeof *e);
    size_t pos = 0;
    crm_wire_field_t f;
    int rc;
    while ((rc = crm_wire_next(buf, len, &pos, &f)) == 1) {
        crm_wire_field_t *slot = f.number == 2 ? &e->method : f.number == 3 ? &e->token
                               : f.number == 4 ? &e->idem : f.number == 5 ? &e->body : NULL;
        if (f.number == 1) {
            if (f.wire_type != 0)
                return -1;
            e->id = f.varint;
        } else if (slot) {
            if (f.wire_type != 2)
                return -1;
            *slot = f; /* the last one wins, as protobuf-c has it */
        }
    }
    return rc;
}

/* A field's text, NUL-terminated, if it fits cap; else -1. */
static int field_text(const crm_wire_field_t *f, char *out, size_t cap)
{
    if (f->len >= cap)
        return -1;
    if (f->len)
        memcpy(out, f->data, f->len);
    out[f->len] = '\0';
    return 0;
}

static void handle(gw_zmq_door_t *door, crm_frames_t *f)
{
    gateway_t *gw = door->gw;
    zmq_peer_t peer = {.door = door};
    int body_frame;
    if (f->count == 3 && crm_frame_size(f, 1) == 0) {
        peer.req_envelope = 1;
        body_frame = 2;
    } else if (f->count == 2) {
        body_frame = 1;
    } else {
        return; /* not a client envelope: nothing to answer to */
    }
    peer.peer = (uint8_t *)crm_frame_data(f, 0);
    peer.peer_len = crm_frame_size(f, 0);
    const char *address = zmq_msg_gets(&f->frame[body_frame], "Peer-Address");
    snprintf(peer.address, sizeof peer.address, "%s", address ? address : "");
    envelope_t e;
    if (read_envelope(crm_frame_data(f, body_frame), crm_frame_size(f, body_frame), &e) != 0) {
        reject(&peer, CODE(MALFORMED), NULL, "message is not a valid crm.client.v1.ClientRequest");
        return;
    }
    peer.id = e.id;
    char method[192], token[CRM_LIMIT_TOKEN + 2], idem[CRM_LIMIT_IDEMPOTENCY_KEY + 2];
    if (field_text(&e.method, method, sizeof method) != 0) {
        reject(&peer, CODE(BAD_ROUTE), "method", "no such method (the name is too long)");
        return;
    }
    /* one byte over the limit is kept, so that gw_call_new says which */
    if (field_text(&e.token, token, sizeof token) != 0 || field_text(&e.idem, idem, sizeof idem) != 0) {
        reject(&peer, CODE(INVALID_ARGUMENT), e.token.len >= sizeof token ? "token" : "idempotencyKey",
               "field too long");
        return;
    }
    crm_status_t st;
    gw_call_t *call = gw_call_new(gw, method, token, idem, &st);
    if (!call) {
        send_reply(&peer, &st, NULL, 0, 0);
        return;
    }
    if ((int64_t)e.body.len > call->limit) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), "body", "request body of %zu bytes exceeds %s's limit of %lld",
                       e.body.len, call->method_name, (long long)call->limit);
        goto refuse;
    }
    peer.session = gw_call_session_key(call);
    if (gw_budget_over(gw, peer.address, peer.session)) {
        gw->refused_budget++;
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL, OVER_BUDGET);
        goto refuse;
    }
    if (gw_budget_take(gw, peer.address, peer.session, (int64_t)e.body.len) != 0) {
        gw->refused_budget++;
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL,
                       "too many bytes in flight from this address or session; try again");
        goto refuse;
    }
    zmq_peer_t *p = crm_malloc(sizeof *p);
    *p = peer;
    p->peer = crm_memdup(peer.peer, peer.peer_len);
    p->held = (int64_t)e.body.len;
    p->raw = crm_memdup(e.body.len ? e.body.data : (const uint8_t *)"", e.body.len);
    p->raw_len = e.body.len;
    call->done = reply_and_free;
    call->door = p;
    snprintf(call->address, sizeof call->address, "%s", p->address);
    gw_call_admit(call, on_admitted);
    return;
refuse:
    gw_metrics_record(gw, call->method_name, st.code, 0);
    send_reply(&peer, &st, NULL, 0, 0);
    gw_call_free(call);
}

static void on_message(crm_zwatch_t *w, void *socket, void *arg)
{
    for (int budget = 256; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        handle(arg, &f);
        crm_frames_close(&f);
    }
}

gw_zmq_door_t *gw_zmq_door_new(gateway_t *gw, const char *endpoint)
{
    gw_zmq_door_t *self = crm_calloc(1, sizeof *self);
    self->gw = gw;
    self->slow = crm_map_new();
    self->socket = zmq_socket(gw->zctx, ZMQ_ROUTER);
    /* a body over its method's limit, up to twice the largest one, gets a
     * coded error from handle(); only a message past that is cut off by
     * libzmq, which drops the peer. A full pipe says EAGAIN (the reply
     * then waits in the door) instead of dropping the reply. */
    int mandatory = 1, hwm = SNDHWM, fd;
    size_t fd_len = sizeof fd;
    if (!self->socket || crm_zsock_setup(self->socket, 2 * crm_limit_service("")) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 ||
        zmq_getsockopt(self->socket, ZMQ_FD, &fd, &fd_len) != 0 ||
        crm_curve_server(self->socket, CRM_CURVE_OPEN) != 0 || zmq_bind(self->socket, endpoint) != 0) {
        crm_error("front door %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    self->watch = crm_zwatch_new(gw->loop, self->socket, on_message, self);
    if (!self->watch)
        goto fail;
    ev_io_init(&self->drained, on_drained, fd, EV_READ);
    ev_prepare_init(&self->flush, on_flush);
    /* ahead of the watch's own prepare, which must see our sends */
    ev_set_priority(&self->flush, EV_MAXPRI);
    ev_init(&self->retry, on_retry);
    self->retry.repeat = RETRY_SECONDS;
    ev_async_init(&self->released, on_released);
    self->drained.data = self->flush.data = self->retry.data = self->released.data = self;
    ev_prepare_start(gw->loop, &self->flush);
    ev_async_start(gw->loop, &self->released);
    pthread_mutex_lock(&released_lock);
    released_door = self;
    pthread_mutex_unlock(&released_lock);
    return self;
fail:
    gw_zmq_door_destroy(&self);
    return NULL;
}

void gw_zmq_door_destroy(gw_zmq_door_t **self_p)
{
    gw_zmq_door_t *self = *self_p;
    if (!self)
        return;
    while (self->slow_list)
        slow_free(self, self->slow_list);
    /* what libzmq still holds is only freed from now on: the budget goes too */
    pthread_mutex_lock(&released_lock);
    if (released_door == self)
        released_door = NULL;
    pthread_mutex_unlock(&released_lock);
    on_released(self->gw->loop, &self->released, 0);
    ev_prepare_stop(self->gw->loop, &self->flush);
    ev_async_stop(self->gw->loop, &self->released);
    crm_zwatch_destroy(&self->watch);
    if (self->socket)
        zmq_close(self->socket);
    crm_map_destroy(&self->slow);
    free(self);
    *self_p = NULL;
}
