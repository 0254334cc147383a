#include "crm_curve.h"
#include "crm_client.h"
#include "client.pb-c.h"
#include "crm_mem.h"
#include "crm_time.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

struct crm_client {
    void *ctx, *socket;
    uint64_t next_id;
};

crm_client_t *crm_client_new(const char *endpoint)
{
    crm_client_t *self = crm_calloc(1, sizeof *self);
    self->next_id = 1;
    self->ctx = zmq_ctx_new();
    int linger = 0;
    if (!self->ctx || !(self->socket = zmq_socket(self->ctx, ZMQ_DEALER)) ||
        zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        crm_curve_client(self->socket, "gateway") != 0 || zmq_connect(self->socket, endpoint) != 0) {
        int err = errno;
        crm_client_destroy(&self);
        errno = err;
        return NULL;
    }
    return self;
}

void crm_client_destroy(crm_client_t **self_p)
{
    crm_client_t *self = *self_p;
    if (!self)
        return;
    if (self->socket)
        zmq_close(self->socket);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

int crm_client_send_raw(crm_client_t *self, const void *data, size_t len)
{
    return zmq_send(self->socket, data, len, 0) < 0 ? -1 : 0;
}

long crm_client_recv_raw(crm_client_t *self, int timeout_ms, uint8_t **out)
{
    zmq_pollitem_t item = {self->socket, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, self->socket, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    size_t n = zmq_msg_size(&m);
    *out = crm_memdup(zmq_msg_data(&m), n);
    zmq_msg_close(&m);
    return (long)n;
}

int crm_client_call(crm_client_t *self, const char *method, const char *token, const char *idem,
                    const void *body, size_t len, int timeout_ms, crm_status_t *st, uint8_t **out,
                    size_t *out_len)
{
    Crm__Client__V1__ClientRequest req = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
    req.id = self->next_id++;
    req.method = (char *)method;
    req.token = (char *)(token ? token : "");
    req.idempotency_key = (char *)(idem ? idem : "");
    req.body.data = (uint8_t *)body;
    req.body.len = len;
    size_t n = crm__client__v1__client_request__get_packed_size(&req);
    uint8_t *buf = crm_malloc(n);
    crm__client__v1__client_request__pack(&req, buf);
    int rc = zmq_send(self->socket, buf, n, 0);
    free(buf);
    if (out)
        *out = NULL;
    if (rc < 0)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL, "send: %s",
                              zmq_strerror(errno));
    int64_t until = crm_time_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        int64_t left = (until - crm_time_mono_us()) / 1000;
        uint8_t *raw;
        long rn = left > 0 ? crm_client_recv_raw(self, (int)left, &raw) : -1;
        if (rn < 0)
            return crm_status_set(st, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL,
                                  "no answer from the gateway within %d ms", timeout_ms);
        Crm__Client__V1__ClientReply *r = crm__client__v1__client_reply__unpack(NULL, (size_t)rn, raw);
        free(raw);
        if (!r)
            continue;
        if (r->id != req.id) { /* the answer to an earlier call that timed out */
            crm__client__v1__client_reply__free_unpacked(r, NULL);
            continue;
        }
        crm_status_from_pb(st, r->status);
        if (st->code == CRM__RPC__V1__CODE__CODE_OK && out) {
            *out = crm_memdup(r->body.data, r->body.len);
            *out_len = r->body.len;
        }
        crm__client__v1__client_reply__free_unpacked(r, NULL);
        return 0;
    }
}

void *crm_client_call_msg(crm_client_t *self, const char *method, const char *token,
                          const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                          int timeout_ms, crm_status_t *st)
{
    size_t n = protobuf_c_message_get_packed_size(in);
    uint8_t *buf = crm_malloc(n), *out;
    size_t out_len;
    protobuf_c_message_pack(in, buf);
    int rc = crm_client_call(self, method, token, NULL, buf, n, timeout_ms, st, &out, &out_len);
    free(buf);
    if (rc != 0 || st->code != CRM__RPC__V1__CODE__CODE_OK)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(out_desc, NULL, out_len, out);
    free(out);
    if (!m)
        crm_status_set(st, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "reply is not a valid %s",
                       out_desc->name);
    return m;
}
