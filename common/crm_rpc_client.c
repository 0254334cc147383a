#include "crm_curve.h"
#include "crm_rpc_client.h"
#include "crm_log.h"
#include "crm_map.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_zloop.h"

#include <errno.h>
#include <zmq.h>

#define DEADLINE_GRACE_S 0.05

typedef struct pending {
    crm_rpc_client_t *client;
    uint64_t id;
    crm_rpc_done_fn *done;
    void *arg;
    ev_timer timer;
} pending_t;

struct crm_rpc_client {
    struct ev_loop *loop;
    char *name;
    void *socket;
    crm_zwatch_t *watch;
    crm_map_t *pending;
    uint64_t next_id;
};

static void finish(crm_rpc_client_t *self, pending_t *p, const crm_status_t *st,
                   const Crm__Rpc__V1__RpcReply *reply)
{
    crm_map_remove(self->pending, p->id);
    ev_timer_stop(self->loop, &p->timer);
    p->done(p->arg, st, reply);
    free(p);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    pending_t *p = w->data;
    crm_status_t st;
    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL,
                   "service %s did not answer within the deadline", p->client->name);
    finish(p->client, p, &st, NULL);
}

static void on_reply(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_rpc_client_t *self = arg;
    for (int budget = 256; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        Crm__Rpc__V1__RpcReply *r = NULL;
        if (f.count == 1)
            r = crm__rpc__v1__rpc_reply__unpack(NULL, crm_frame_size(&f, 0), crm_frame_data(&f, 0));
        crm_frames_close(&f);
        if (!r) {
            crm_warn("malformed reply from %s dropped", self->name);
            continue;
        }
        /* a reply to a call that already timed out finds nothing: dropped */
        pending_t *p = crm_map_get(self->pending, r->id);
        if (p) {
            crm_status_t st;
            crm_status_from_pb(&st, r->status);
            finish(self, p, &st, r);
        }
        crm__rpc__v1__rpc_reply__free_unpacked(r, NULL);
    }
}

crm_rpc_client_t *crm_rpc_client_new(struct ev_loop *loop, void *zctx, const char *name,
                                     const char *endpoint)
{
    crm_rpc_client_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->name = crm_strdup(name);
    self->pending = crm_map_new();
    self->next_id = 1;
    int immediate = 1, reconnect_ms = 100, reconnect_max_ms = 1000;
    self->socket = zmq_socket(zctx, ZMQ_DEALER);
    if (!self->socket || crm_zsock_setup(self->socket, 0) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_IMMEDIATE, &immediate, sizeof immediate) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_RECONNECT_IVL, &reconnect_ms, sizeof reconnect_ms) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max_ms,
                       sizeof reconnect_max_ms) != 0 ||
        crm_curve_client(self->socket, name) != 0 || zmq_connect(self->socket, endpoint) != 0) {
        crm_error("%s client %s: %s", name, endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (!(self->watch = crm_zwatch_new(loop, self->socket, on_reply, self)))
        goto fail;
    return self;
fail:
    crm_rpc_client_destroy(&self);
    return NULL;
}

typedef struct {
    pending_t **list;
    size_t n;
} collect_t;

static void collect_pending(void *arg, uint64_t key, void *value)
{
    collect_t *c = arg;
    c->list[c->n++] = value;
}

void crm_rpc_client_destroy(crm_rpc_client_t **self_p)
{
    crm_rpc_client_t *self = *self_p;
    if (!self)
        return;
    if (self->pending) {
        /* every accepted call gets its one answer, even now */
        collect_t c = {crm_malloc(sizeof(pending_t *) * (crm_map_size(self->pending) + 1)), 0};
        crm_map_each(self->pending, collect_pending, &c);
        crm_status_t st;
        crm_status_set(&st, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL, "shutting down");
        for (size_t i = 0; i < c.n; i++)
            finish(self, c.list[i], &st, NULL);
        free(c.list);
        crm_map_destroy(&self->pending);
    }
    crm_zwatch_destroy(&self->watch);
    if (self->socket)
        zmq_close(self->socket);
    free(self->name);
    free(self);
    *self_p = NULL;
}

int crm_rpc_client_call(crm_rpc_client_t *self, Crm__Rpc__V1__RpcRequest *req,
                        crm_rpc_done_fn *done, void *arg, crm_status_t *st)
{
    req->id = self->next_id++;
    size_t len = crm__rpc__v1__rpc_request__get_packed_size(req);
    uint8_t stackbuf[4096], *buf = len <= sizeof stackbuf ? stackbuf : crm_malloc(len);
    crm__rpc__v1__rpc_request__pack(req, buf);
    const void *data[1] = {buf};
    size_t size[1] = {len};
    int rc = crm_zsend(self->socket, data, size, 1);
    int err = errno;
    if (buf != stackbuf)
        free(buf);
    if (rc != 0) {
        if (err == EAGAIN)
            return crm_status_set(st, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL,
                                  "service %s is unavailable", self->name);
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL,
                              "sending to %s: %s", self->name, zmq_strerror(err));
    }
    pending_t *p = crm_malloc(sizeof *p);
    p->client = self;
    p->id = req->id;
    p->done = done;
    p->arg = arg;
    ev_now_update(self->loop); /* the timer counts from ev_now, which lags while a turn runs */
    /* a little past the deadline, so that the service's own answer to a call
     * it held until then (deadline_exceeded) arrives before our unavailable */
    double wait = (double)(req->deadline - crm_time_now_us()) / 1e6 + DEADLINE_GRACE_S;
    ev_timer_init(&p->timer, on_timeout, wait > 0 ? wait : 0.001, 0);
    p->timer.data = p;
    ev_timer_start(self->loop, &p->timer);
    crm_map_put(self->pending, p->id, p);
    return 0;
}

size_t crm_rpc_client_in_flight(const crm_rpc_client_t *self) { return crm_map_size(self->pending); }
const char *crm_rpc_client_name(const crm_rpc_client_t *self) { return self->name; }
