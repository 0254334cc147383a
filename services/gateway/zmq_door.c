/* The ZeroMQ front door: a ROUTER taking one ClientRequest frame per message,
 * from DEALER clients ([peer][request]) and REQ clients ([peer][][request])
 * alike, answering ClientReply in the same envelope. */
#include "crm_curve.h"
#include "gateway.h"
#include "client.pb-c.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_zloop.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

typedef struct {
    uint8_t *peer;
    size_t peer_len;
    int req_envelope; /* REQ client: an empty delimiter frame goes back too */
    uint64_t id;
} zmq_peer_t;

static void *door_socket;
static crm_zwatch_t *door_watch;

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
    if (crm_zsend(door_socket, data, size, p->req_envelope ? 3 : 2) != 0)
        crm_debug("client reply dropped: %s", zmq_strerror(errno));
    free(buf);
}

static void finish(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    zmq_peer_t *p = call->door;
    send_reply(p, st, body, len);
    free(p->peer);
    free(p);
    gw_call_free(call);
}

static void reject(const zmq_peer_t *p, Crm__Rpc__V1__Code code, const char *field, const char *msg)
{
    crm_status_t st;
    crm_status_set(&st, code, field, "%s", msg);
    send_reply(p, &st, NULL, 0);
}

static void handle(gateway_t *gw, crm_frames_t *f)
{
    zmq_peer_t peer = {0};
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
    Crm__Client__V1__ClientRequest *req = crm__client__v1__client_request__unpack(
        NULL, crm_frame_size(f, body_frame), crm_frame_data(f, body_frame));
    if (!req) {
        reject(&peer, CODE(MALFORMED), NULL, "message is not a valid crm.client.v1.ClientRequest");
        return;
    }
    peer.id = req->id;
    gw_call_t *call = crm_calloc(1, sizeof *call);
    call->gw = gw;
    call->started = crm_time_mono_us();
    crm_status_t st;
    const char *bad = NULL;
    if (strlen(req->method) >= sizeof call->method_name)
        bad = "method";
    else if (strlen(req->token) >= sizeof call->token)
        bad = "token";
    else if (strlen(req->idempotency_key) >= sizeof call->idem)
        bad = "idempotencyKey";
    if (bad) {
        reject(&peer, CODE(INVALID_ARGUMENT), bad, "field too long");
        goto done;
    }
    snprintf(call->method_name, sizeof call->method_name, "%s", req->method);
    snprintf(call->token, sizeof call->token, "%s", req->token);
    snprintf(call->idem, sizeof call->idem, "%s", req->idempotency_key);
    if (gw_route_find(gw, call, &st) != 0) {
        gw_metrics_record(gw, call->method_name, st.code, 0);
        send_reply(&peer, &st, NULL, 0);
        goto done;
    }
    if (req->body.len > (size_t)gw->max_body) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), "body", "request body of %zu bytes exceeds the limit of %lld",
                       req->body.len, (long long)gw->max_body);
        gw_metrics_record(gw, call->method_name, st.code, 0);
        send_reply(&peer, &st, NULL, 0);
        goto done;
    }
    call->body = crm_memdup(req->body.data, req->body.len);
    call->body_len = req->body.len;
    call->finish = finish;
    zmq_peer_t *p = crm_malloc(sizeof *p);
    *p = peer;
    p->peer = crm_memdup(peer.peer, peer.peer_len);
    call->door = p;
    crm__client__v1__client_request__free_unpacked(req, NULL);
    gw_dispatch(call);
    return;
done:
    gw_call_free(call);
    crm__client__v1__client_request__free_unpacked(req, NULL);
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

int gw_zmq_door_start(gateway_t *gw, const char *endpoint)
{
    door_socket = zmq_socket(gw->zctx, ZMQ_ROUTER);
    /* a body a little over the limit gets a coded error from handle(); only
     * a message far past it is cut off by libzmq, which drops the peer */
    if (!door_socket || crm_zsock_setup(door_socket, 2 * gw->max_body + 65536) != 0 ||
        crm_curve_server(door_socket, 1) != 0 || zmq_bind(door_socket, endpoint) != 0) {
        crm_error("front door %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    door_watch = crm_zwatch_new(gw->loop, door_socket, on_message, gw);
    return door_watch ? 0 : -1;
}

void gw_zmq_door_stop(void)
{
    crm_zwatch_destroy(&door_watch);
    if (door_socket)
        zmq_close(door_socket);
    door_socket = NULL;
}
