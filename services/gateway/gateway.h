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

/* A call in flight. Filled by a door, then owned by dispatch until done. */
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
    void (*done)(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len);
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

typedef struct gw_http_door gw_http_door_t;
typedef struct gw_zmq_door gw_zmq_door_t;
typedef struct gw_stream gw_stream_t;

/* How a module tells one above it that something happened, so that no two
 * files call each other: main.c sets them when it wires the objects. */
typedef struct {
    /* session.c dropped the cached principals of user_id (-1: of every
     * user): whoever authenticated once with them (a stream) asks again */
    void (*revoked)(void *arg, int64_t user_id);
    void *revoked_arg;
    /* a suspended HTTP connection was resumed outside libmicrohttpd's run
     * (stream.c): it must run on the next loop turn to notice */
    void (*wake_http)(void *arg);
    void *wake_http_arg;
} gw_hooks_t;

/* What main.c wires the objects from (config.c). */
typedef struct {
    const char *curve_dir, *zmq, *http_address, *identity_events, *notifications_stream;
    const char *backends[4]; /* RPC endpoints: identity, pipeline, activities, notifications */
    const char *web_dir;     /* the web app's built files; "": no web app */
    int64_t http_port;
} gw_config_t;

/* Reads the flags into cfg and the gateway's settings into gw. Returns 0,
 * or 2 (the exit status) after saying which flag is wrong. */
int gw_configure(gateway_t *gw, gw_config_t *cfg, int argc, char **argv);
/* One RPC client per backend and one route per public service. Returns 0
 * or -1 (logged). */
int gw_connect_backends(gateway_t *gw, const gw_config_t *cfg);

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
    struct gw_realip *realip;     /* trusted reverse proxies (realip.c) */
    struct gw_webapp *web;        /* the web app's files, NULL if none (webapp.c) */
    int64_t refused_budget;       /* requests refused for bytes in flight */
    crm_map_t *held_by_session;   /* bytes in flight by session (gw_call_session_key) */
    int64_t max_held_per_session;
    int64_t backfills_max;        /* ListInbox calls of the stream in flight at most */
    int64_t backfills_in_flight;
    int64_t backfills_peak;       /* the most in flight at once since the start */
    int64_t backfills_queued;     /* clients waiting for a backfill slot */
    int64_t backfills_total;      /* ListInbox calls the stream made */
    gw_hooks_t hooks;
    /* the objects main.c wires; each module reaches only what it is given */
    void *identity_socket;        /* identity's events (session.c) */
    struct crm_zwatch *identity_watch;
    gw_stream_t *stream;
    gw_zmq_door_t *zmq;
    gw_http_door_t *http;
};

/* Looks up "pkg.Service/Method" among the routes. Returns 0 and fills
 * call->route, call->method; else -1 with *st (bad_route). */
int gw_route_find(gateway_t *gw, gw_call_t *call, crm_status_t *st);

/* The one way a call is made, by either door and by the stream: the method
 * must have a route, token and key fit the limits table, and call->limit
 * becomes the method's largest body (crm_limits, and no more than
 * --max-body). Returns the call (the door sets done and door), or NULL
 * with *st, the refusal counted in the metrics. */
gw_call_t *gw_call_new(gateway_t *gw, const char *method, const char *token, const char *idem,
                       crm_status_t *st);

/* Decides whether the caller may send a body at all, before a byte of it is
 * read or decoded (only Login, SetPassword and Health are taken without a
 * session): public methods and cached sessions at once, else identity is
 * asked. admitted(call, st) is called exactly once, maybe before this
 * returns; on an error the call is not done: the door answers st and
 * frees it. */
void gw_call_admit(gw_call_t *call, void (*admitted)(gw_call_t *call, const crm_status_t *st));

/* Takes the request body (copied): JSON text is decoded into the method's
 * input; protobuf is decoded and, if it carried fields this version does
 * not know, packed again without them. Either decode is held to
 * crm_limit_decode_budget and the packed body to call->limit. Returns 0, or
 * -1 with *st (resource_exhausted naming "body", or the codec's error). */
int gw_call_set_body(gw_call_t *call, const void *data, size_t len, int json, crm_status_t *st);

/* Runs the call to completion; call->done is always called, maybe before
 * this returns. */
void gw_dispatch(gw_call_t *call);

/* Frees a call's body and the call. */
void gw_call_free(gw_call_t *call);
/* The key of the call's session in the byte budget: 0 for a call without
 * a token. Can't fail. */
uint64_t gw_call_session_key(const gw_call_t *call);

/* Records one finished call. */
void gw_metrics_record(gateway_t *gw, const char *method, Crm__Rpc__V1__Code code, int64_t micros);
/* Prometheus text; malloc'd, caller frees. */
char *gw_metrics_render(gateway_t *gw, size_t *len);

/* Bytes in flight (budget.c), counted for the source address (a text, ""
 * where none is known), the session (gw_call_session_key; 0: none) and
 * the gateway. Takes bytes: returns 0, or -1 when that would take any of
 * them past its budget (nothing taken then). Give back exactly what was
 * taken, for the same address and session. */
int gw_budget_take(gateway_t *gw, const char *address, uint64_t session, int64_t bytes);
/* Replies this small are always delivered whatever the budget, on both
 * doors: a write's answer refused would make its retry write twice. */
#define GW_REPLY_ALWAYS (1 << 20)
/* Takes bytes whatever the budget (a reply that must be delivered). */
void gw_budget_force(gateway_t *gw, const char *address, uint64_t session, int64_t bytes);
/* 1 if the address, the session or the gateway is at or past its budget. */
int gw_budget_over(gateway_t *gw, const char *address, uint64_t session);
void gw_budget_give(gateway_t *gw, const char *address, uint64_t session, int64_t bytes);
void gw_budget_free_all(gateway_t *gw);

/* Sessions (session.c). */
void gw_token_hash(const char *token, uint8_t hash[32]);
gw_session_t *gw_session_find(gateway_t *gw, const uint8_t hash[32]);
gw_session_t *gw_session_add(gateway_t *gw, const uint8_t hash[32]);
/* Drops the cached principals of user_id (-1: everyone's) and calls the
 * revoked hook. */
void gw_session_forget_user(gateway_t *gw, int64_t user_id);
void gw_session_forget_all(gateway_t *gw);
void gw_session_note_marks(gw_session_t *s, Crm__Rpc__V1__SeqMark **marks, size_t n);
void gw_session_sweep(gateway_t *gw);
void gw_session_free_all(gateway_t *gw);

/* The identity event listener (session.c), in gw: drops cached principals
 * on revocations and user changes. Returns 0 or -1 (logged). */
int gw_identity_listen(gateway_t *gw, const char *events_endpoint);
void gw_identity_stop(gateway_t *gw);

/* The ZeroMQ door (zmq_door.c): binds endpoint. Returns the door, or NULL
 * (logged). */
gw_zmq_door_t *gw_zmq_door_new(gateway_t *gw, const char *endpoint);
void gw_zmq_door_destroy(gw_zmq_door_t **self_p);

/* The HTTP door (http_door.c), serving GET /v1/stream from stream and the
 * web app from web (NULL: none; it must outlive the door). Returns the
 * door, or NULL (logged). */
gw_http_door_t *gw_http_door_new(gateway_t *gw, gw_stream_t *stream, const struct gw_webapp *web, const char *address,
                                 int port);
/* Lets resumed connections take their answers, then stops the daemon. */
void gw_http_door_destroy(gw_http_door_t **self_p);
/* Has libmicrohttpd run on the next loop turn: after MHD_resume_connection,
 * which it only notices when it runs. Can't fail. (The wake_http hook.) */
void gw_http_door_wake(void *door);


#endif
