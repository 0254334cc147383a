#ifndef GATEWAY_H
#define GATEWAY_H

#include <stdint.h>
#include <ev.h>
#include <protobuf-c/protobuf-c.h>
#include "crm_limits.h"
#include "crm_map.h"
#include "crm_rpc_client.h"
#include "crm_status.h"
#include "rpc.pb-c.h"

/* The gateway: front doors (ZeroMQ and HTTP/Twirp) in, services out. Every
 * call goes through gw_dispatch: route by method name, authenticate the
 * token through identity (cached), attach the principal and the session's
 * read-your-writes marks, forward, and give the answer back to its door. */

#define GW_MAX_MARKS 8

typedef struct gateway gateway_t;
typedef struct gw_call gw_call_t;

/* One route: a public protobuf service and the backend that owns it. */
typedef struct {
    const ProtobufCServiceDescriptor *service;
    const char *backend;   /* "identity", ... ; NULL: answered by the gateway */
    crm_rpc_client_t *client;
} gw_route_t;

/* A call in flight. Filled by a door, then owned by dispatch until finish. */
struct gw_call {
    gateway_t *gw;
    const gw_route_t *route;
    const ProtobufCMethodDescriptor *method;
    char method_name[192];
    char token[CRM_LIMIT_TOKEN + 1];
    uint8_t token_hash[32]; /* of token, computed once when the call starts */
    uint64_t auth_epoch;    /* gw->revocations when Authenticate was sent */
    int auth_tries;
    char idem[CRM_LIMIT_IDEMPOTENCY_KEY + 1];
    int64_t limit;          /* the method's largest request body (crm_limits) */
    char address[64];       /* the client's IP address, "" if unknown (identity throttles by it) */
    uint8_t *body;          /* the method's request, packed; malloc'd */
    size_t body_len;
    void (*admitted)(gw_call_t *call, const crm_status_t *st); /* gw_call_admit's */
    int64_t started;        /* monotonic us */
    int64_t user_id;        /* the caller, once dispatch has a principal (0 before) */
    int64_t session_expires_at; /* Unix us, with user_id: when the caller's session ends */
    /* Called exactly once with the outcome; body is the method's reply when
     * st->code is OK. The door frees the call in it (gw_call_free). */
    void (*finish)(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len);
    void *door;             /* the door's own state */
};

typedef struct {
    int64_t count[19];      /* by code */
    int64_t buckets[14];    /* latency histogram, cumulative at export */
    double seconds_sum;
    char method[192];
} gw_metric_t;

typedef struct {
    char producer[24];
    uint64_t seq;
} gw_mark_t;

/* A session as the gateway knows it, by token hash. */
typedef struct {
    uint8_t hash[32];
    Crm__Rpc__V1__Principal *principal; /* NULL: authenticate again */
    int64_t valid_until;                /* monotonic us */
    int64_t last_used;
    gw_mark_t marks[GW_MAX_MARKS];
    int n_marks;
    double tokens;                      /* rate limit: calls left in the bucket */
    int64_t tokens_at;                  /* monotonic us of the last refill */
} gw_session_t;

struct gateway {
    struct ev_loop *loop;
    void *zctx;
    gw_route_t routes[8];
    int n_routes;
    crm_rpc_client_t *clients[8]; /* one per backend service */
    int n_clients;
    crm_rpc_client_t *identity;   /* the one that authenticates */
    crm_map_t *sessions;
    int64_t session_cache_us;
    int64_t deadline_us;
    int64_t max_body;
    double rate;            /* calls per second per session; 0 = unlimited */
    gw_metric_t metrics[96];
    int n_metrics;
    int64_t started;
    uint64_t identity_seq;  /* last identity event seen, for gap detection */
    uint64_t revocations;   /* bumped whenever cached principals are dropped */
    int64_t sse_buffer;      /* live bytes held for one stream client (stream.c) */
    int64_t sse_max_clients;
    int64_t sse_clients;     /* streams open (response started) */
    int64_t sse_dropped;     /* streams ended for reading too slowly or a lost session */
    int64_t sse_entries;     /* notifications handed to stream clients */
    crm_map_t *held;         /* bytes in flight by source address (budget.c) */
    int64_t held_total;
    int64_t max_held;             /* for the whole gateway */
    int64_t max_held_per_address;
    int64_t http_per_address;     /* HTTP connections one address may open */
    int64_t refused_budget;       /* requests refused for bytes in flight */
};

/* Looks up "pkg.Service/Method" among the routes. Returns 0 and fills
 * call->route, call->method; else -1 with *st (bad_route). */
int gw_route_find(gateway_t *gw, gw_call_t *call, crm_status_t *st);

/* The one way a call is made, by either door and by the stream: the method
 * must have a route, token and key fit the limits table, and call->limit
 * becomes the method's largest body (crm_limits, and no more than
 * --max-body). Returns the call (the door sets finish and door), or NULL
 * with *st, the refusal counted in the metrics. */
gw_call_t *gw_call_new(gateway_t *gw, const char *method, const char *token, const char *idem,
                       crm_status_t *st);

/* Decides whether the caller may send a body at all, before a byte of it is
 * read or decoded (only Login, SetPassword and Health are taken without a
 * session): public methods and cached sessions at once, else identity is
 * asked. admitted(call, st) is called exactly once, maybe before this
 * returns; on an error the call is not finished: the door answers st and
 * frees it. */
void gw_call_admit(gw_call_t *call, void (*admitted)(gw_call_t *call, const crm_status_t *st));

/* Takes the request body (copied): JSON text is decoded into the method's
 * input; protobuf is decoded and, if it carried fields this version does
 * not know, packed again without them. Either decode is held to
 * crm_limit_decode_budget and the packed body to call->limit. Returns 0, or
 * -1 with *st (resource_exhausted naming "body", or the codec's error). */
int gw_call_set_body(gw_call_t *call, const void *data, size_t len, int json, crm_status_t *st);

/* Runs the call to completion; call->finish is always called, maybe before
 * this returns. */
void gw_dispatch(gw_call_t *call);

/* Frees a call's body and the call. */
void gw_call_free(gw_call_t *call);

/* Records one finished call. */
void gw_metrics_record(gateway_t *gw, const char *method, Crm__Rpc__V1__Code code, int64_t micros);
/* Prometheus text; malloc'd, caller frees. */
char *gw_metrics_render(gateway_t *gw, size_t *len);

/* Bytes in flight (budget.c). Takes bytes for address (a text naming the
 * source, "" where none is known): returns 0, or -1 when that would take
 * the address or the gateway past its budget (nothing taken then). Give
 * back exactly what was taken. */
int gw_budget_take(gateway_t *gw, const char *address, int64_t bytes);
/* Takes bytes whatever the budget (a reply that must be delivered). */
void gw_budget_force(gateway_t *gw, const char *address, int64_t bytes);
/* 1 if the address, or the gateway, is at or past its budget. */
int gw_budget_over(gateway_t *gw, const char *address);
void gw_budget_give(gateway_t *gw, const char *address, int64_t bytes);
void gw_budget_free_all(gateway_t *gw);

/* Sessions (session.c). */
void gw_token_hash(const char *token, uint8_t hash[32]);
gw_session_t *gw_session_find(gateway_t *gw, const uint8_t hash[32]);
gw_session_t *gw_session_add(gateway_t *gw, const uint8_t hash[32]);
void gw_session_forget_user(gateway_t *gw, int64_t user_id);
void gw_session_forget_all(gateway_t *gw);
void gw_session_note_marks(gw_session_t *s, Crm__Rpc__V1__SeqMark **marks, size_t n);
void gw_session_sweep(gateway_t *gw);
void gw_session_free_all(gateway_t *gw);

/* The identity event listener (session.c): drops cached principals on
 * revocations and user changes. Returns 0 or -1. */
int gw_identity_listen(gateway_t *gw, const char *events_endpoint);
void gw_identity_stop(void);

/* Doors. */
int gw_zmq_door_start(gateway_t *gw, const char *endpoint);
void gw_zmq_door_stop(void);
int gw_http_door_start(gateway_t *gw, const char *address, int port);
void gw_http_door_stop(void);
/* Has libmicrohttpd run on the next loop turn: after MHD_resume_connection,
 * which it only notices when it runs. Can't fail. */
void gw_http_door_wake(void);

/* GET /v1/stream, the caller's notifications as Server-Sent Events
 * (stream.c). One SUB socket on the notifications service's live stream
 * feeds every client; what it misses, and what came before a reconnect
 * (Last-Event-ID), is fetched with ListInbox as the client's user. */
struct MHD_Connection;
struct MHD_Response;
typedef struct gw_stream_client gw_stream_client_t;

/* How a stream request is decided, exactly once, maybe before
 * gw_stream_begin returns. On success (st OK) client is registered and the
 * door owns it until it hands it to gw_stream_response (answering 200 with
 * it) or gw_stream_abandon; on error client is NULL and the door answers
 * st. */
typedef void (gw_stream_ready_fn)(void *door, gw_stream_client_t *client, const crm_status_t *st);

/* Connects the SUB socket (subscribed at once, so that it is live before any
 * client comes) and starts the keepalive. Returns 0 or -1 (logged). */
int gw_stream_listen(gateway_t *gw, const char *endpoint);
/* Starts the stream request on conn: checks its headers, authenticates the
 * token, registers the client, and calls ready. */
void gw_stream_begin(gateway_t *gw, struct MHD_Connection *conn, gw_stream_ready_fn *ready, void *door);
/* The 200 response of a decided stream; it owns client from now on (freed
 * with the response). NULL if libmicrohttpd can't make one (client freed). */
struct MHD_Response *gw_stream_response(gw_stream_client_t *client);
/* Forgets a decided stream whose connection ended before its response. */
void gw_stream_abandon(gw_stream_client_t *client);
/* At shutdown, before the RPC clients and the HTTP door stop: no new calls,
 * undecided requests answered, every stream ended and resumed (libmicrohttpd
 * must not stop with suspended connections). */
void gw_stream_close_all(void);
/* A session of user (-1: any user) may have been revoked: each of their
 * streams asks again through dispatch and ends if it is refused. */
void gw_stream_recheck(int64_t user_id);
/* After the HTTP door stopped: closes the socket, frees what is left. */
void gw_stream_stop(void);

#endif
