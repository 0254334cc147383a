/* The ZeroMQ front door: a ROUTER taking one ClientRequest frame per message,
 * from DEALER clients ([peer][request]) and REQ clients ([peer][][request])
 * alike, answering ClientReply in the same envelope. */
#include "crm_curve.h"
#include "gateway.h"
#include "client.pb-c.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_wire.h"
#include "crm_zloop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

struct gw_zmq_door {
    gateway_t *gw;
    void *socket;
    crm_zwatch_t *watch;
};

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

static void send_reply(const zmq_peer_t *p, const crm_status_t *st, const uint8_t *body, size_t len)
{
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
    uint8_t *buf = crm_malloc(n);
    crm__client__v1__client_reply__pack(&r, buf);
    const void *data[3] = {p->peer, "", buf};
    size_t size[3] = {p->peer_len, 0, n};
    if (!p->req_envelope) {
        data[1] = buf;
        size[1] = n;
    }
    if (crm_zsend(p->door->socket, data, size, p->req_envelope ? 3 : 2) != 0)
        crm_debug("client reply dropped: %s", zmq_strerror(errno));
    free(buf);
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
    send_reply(p, st, body, len);
    peer_free(call->gw, p);
    gw_call_free(call);
}

static void reject(const zmq_peer_t *p, Crm__Rpc__V1__Code code, const char *field, const char *msg)
{
    crm_status_t st;
    crm_status_set(&st, code, field, "%s", msg);
    send_reply(p, &st, NULL, 0);
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
        send_reply(&peer, &st, NULL, 0);
        return;
    }
    if ((int64_t)e.body.len > call->limit) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), "body", "request body of %zu bytes exceeds %s's limit of %lld",
                       e.body.len, call->method_name, (long long)call->limit);
        goto refuse;
    }
    peer.session = gw_call_session_key(call);
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
    send_reply(&peer, &st, NULL, 0);
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
    self->socket = zmq_socket(gw->zctx, ZMQ_ROUTER);
    /* a body over its method's limit, up to twice the largest one, gets a
     * coded error from handle(); only a message past that is cut off by
     * libzmq, which drops the peer */
    if (!self->socket || crm_zsock_setup(self->socket, 2 * crm_limit_service("")) != 0 ||
        crm_curve_server(self->socket, CRM_CURVE_OPEN) != 0 || zmq_bind(self->socket, endpoint) != 0) {
        crm_error("front door %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    self->watch = crm_zwatch_new(gw->loop, self->socket, on_message, self);
    if (!self->watch)
        goto fail;
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
    crm_zwatch_destroy(&self->watch);
    if (self->socket)
        zmq_close(self->socket);
    free(self);
    *self_p = NULL;
}
