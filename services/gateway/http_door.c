/* The HTTP front door: the Twirp wire protocol (POST /twirp/<pkg>.<Service>/
 * <Method>, application/json or application/protobuf, errors as Twirp JSON),
 * plus GET /healthz, GET /metrics, GET /v1/stream (stream.c) and, for any
 * other GET, the web app (webapp.c) with its session cookie (websession.c).
 * libmicrohttpd runs without threads of its own: its epoll fd sits in the
 * libev loop, and a connection waiting for a service is suspended, not
 * parked on a thread. */
#include "gateway.h"
#include "realip.h"
#include "stream.h"
#include "webapp.h"
#include "websession.h"
#include "identity.pb-c.h"
#include "crm_json.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

/* How much of a refused request's body is read and thrown away before the
 * answer goes, so that a client still sending sees the answer rather than a
 * reset (nginx's lingering close does the same): it costs bandwidth, never
 * memory. A body declared longer is answered at once; one that turns out
 * longer (chunked) has its connection closed. */
#define DRAIN_MAX (16 << 20)
/* Idle connections are closed after this long, or PRESSURE_TIMEOUT_S once
 * half of the connection limit is in use (nginx's reset_timedout spirit:
 * when connections are scarce, an idle one is the first to go). */
#define IDLE_TIMEOUT_S 30
#define PRESSURE_TIMEOUT_S 5
#define CONNECTIONS_MAX 4096

typedef enum { ADMIT_NONE, ADMIT_WAITING, ADMIT_OK } admit_t;

struct gw_http_door {
    gateway_t *gw;
    gw_stream_t *stream;
    const gw_webapp_t *web;
    struct MHD_Daemon *daemon;
    ev_io io;
    ev_timer timer;
};

typedef struct {
    gateway_t *gw;
    gw_http_door_t *door;
    struct MHD_Connection *conn;
    char address[64]; /* the client's IP address, for its budget */
    uint64_t session; /* the call's session, for its budget (gw_call_session_key) */
    gw_call_t *call;  /* a Twirp call, from its headers until it is dispatched */
    admit_t admission;
    char *body;
    size_t len, cap;
    int64_t limit;    /* bytes the body may have */
    int64_t held;     /* bytes taken from the address's budget */
    size_t drained;   /* bytes of a refused body thrown away */
    int json;         /* the client speaks JSON */
    int waiting;      /* handed to dispatch, no answer yet */
    int suspended;
    int answered;     /* status, data and type are ready */
    unsigned status;
    char *data;
    size_t data_len;
    const char *type;
    const ProtobufCMethodDescriptor *method;
    gw_stream_client_t *stream; /* a decided stream, until its response is made */
    int secure;       /* the browser came over TLS (to a trusted proxy) */
    int by_cookie;    /* the session token came from the session cookie */
    int want_cookie;  /* a Login that asked for a cookie session */
    char *set_cookie; /* a Set-Cookie for the answer, or NULL */
    int is_web;       /* the answer is web, one of the app's files */
    gw_webapp_file_t web;
} http_req_t;

static void reschedule(gw_http_door_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(self->gw->loop, &self->timer);
    if (MHD_get_timeout(self->daemon, &ms) == MHD_YES) {
        ev_timer_set(&self->timer, (double)ms / 1000.0, 0);
        ev_timer_start(self->gw->loop, &self->timer);
    }
}

static void run_mhd(gw_http_door_t *self)
{
    MHD_run(self->daemon);
    reschedule(self);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) { run_mhd(w->data); }
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) { run_mhd(w->data); }

void gw_http_door_wake(void *door)
{
    gw_http_door_t *self = door;
    ev_timer_stop(self->gw->loop, &self->timer);
    ev_timer_set(&self->timer, 0, 0);
    ev_timer_start(self->gw->loop, &self->timer);
}

/* --- answers ------------------------------------------------------------------ */

static void answer(http_req_t *r, unsigned status, const char *type, char *data, size_t len)
{
    r->status = status;
    r->type = type;
    free(r->data);
    r->data = data;
    r->data_len = len;
    r->answered = 1;
}

static void answer_error(http_req_t *r, const crm_status_t *st)
{
    /* every crm_status_t is UTF-8 (crm_status.c cleans what it formats), as
     * jansson requires */
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(crm_code_name(st->code)));
    json_object_set_new(o, "msg", json_string(st->message));
    if (st->field[0])
        json_object_set_new(o, "meta", json_pack("{s:s}", "field", st->field));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        text = crm_strdup("{\"code\":\"internal\",\"msg\":\"error\"}");
    answer(r, (unsigned)crm_code_http_status(st->code), "application/json", text, strlen(text));
}

static void answer_code(http_req_t *r, Crm__Rpc__V1__Code code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_code(http_req_t *r, Crm__Rpc__V1__Code code, const char *field, const char *fmt, ...)
{
    crm_status_t st;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    crm_status_set(&st, code, field, "%s", msg);
    answer_error(r, &st);
}

/* The answer is ready: a suspended request goes on. */
static void resume(http_req_t *r)
{
    if (r->suspended) {
        r->suspended = 0;
        MHD_resume_connection(r->conn);
        /* let MHD pick the connection up on the next loop turn */
        gw_http_door_wake(r->door);
    }
}

/* Gives back what r holds of its address's budget. */
static void release(http_req_t *r)
{
    gw_budget_give(r->gw, r->address, r->session, r->held);
    r->held = 0;
}

static void drop_body(http_req_t *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
}

/* An error is decided before the body is read: the body is drained (up to
 * DRAIN_MAX) and thrown away, then st answered. */
static void refuse(http_req_t *r, const crm_status_t *st)
{
    answer_error(r, st);
    drop_body(r);
    if (r->call) {
        gw_call_free(r->call);
        r->call = NULL;
    }
}

/* A session the cookie carried is over (expired, revoked, logged out): the
 * browser forgets it, so that the app shows its sign-in screen. */
static void clear_cookie(http_req_t *r)
{
    free(r->set_cookie);
    r->set_cookie = gw_websession_cookie("", 0, r->secure);
}

/* A Login that asked for a cookie session: the token goes into the
 * cookie and out of the reply, so that page script never holds it.
 * Returns the reply to send (body itself, or *repacked, malloc'd). */
static const uint8_t *login_to_cookie(http_req_t *r, const uint8_t *body, size_t *len, uint8_t **repacked)
{
    Crm__Identity__V1__LoginReply *m = crm__identity__v1__login_reply__unpack(NULL, *len, body);
    if (!m)
        return body; /* answered below as the malformed reply it is */
    int64_t max_age = (m->expires_at - crm_time_now_us()) / 1000000;
    free(r->set_cookie);
    r->set_cookie = gw_websession_cookie(m->token, max_age, r->secure);
    char *token = m->token;
    m->token = (char *)"";
    size_t n = crm__identity__v1__login_reply__get_packed_size(m);
    *repacked = crm_malloc(n ? n : 1);
    *len = crm__identity__v1__login_reply__pack(m, *repacked);
    m->token = token; /* freed with the message */
    crm__identity__v1__login_reply__free_unpacked(m, NULL);
    return *repacked;
}

static void on_call_done(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    http_req_t *r = call->door;
    uint8_t *repacked = NULL;
    if (st->code == CODE(OK) && r->want_cookie)
        body = login_to_cookie(r, body, &len, &repacked);
    if (r->by_cookie && st->code == CODE(UNAUTHENTICATED))
        clear_cookie(r);
    /* logging out ends the browser's session whatever identity says of it */
    if (!strcmp(call->method_name, "crm.identity.v1.Identity/Logout"))
        clear_cookie(r);
    if (st->code != CODE(OK)) {
        answer_error(r, st);
    } else if (!r->json) {
        char *copy = crm_memdup(body, len);
        answer(r, 200, "application/protobuf", copy, len);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(r->method->output, NULL, len, body);
        if (!m) {
            answer_code(r, CODE(INTERNAL), NULL, "the service gave a malformed reply");
        } else {
            size_t n;
            char *text = crm_json_encode(m, &n);
            protobuf_c_message_free_unpacked(m, NULL);
            answer(r, 200, "application/json", text, n);
        }
    }
    /* a reply waits in memory until its reader takes it: it counts against
     * the reader's address like a body does (a slow reader of large
     * attachments must not hold the gateway's memory). Only a large reply
     * is ever refused, and only a read's is large: a write answers with
     * the record it wrote, well under GW_REPLY_ALWAYS, so a committed write is
     * never answered "try again" (its retry would write twice); small
     * replies are counted all the same, and an address over its budget is
     * refused before its next call is read (begin_twirp). */
    release(r);
    if (r->status == 200 && gw_budget_take(r->gw, r->address, r->session, (int64_t)r->data_len) != 0) {
        if (r->data_len <= GW_REPLY_ALWAYS) {
            gw_budget_force(r->gw, r->address, r->session, (int64_t)r->data_len);
            r->held = (int64_t)r->data_len;
        } else {
            r->gw->refused_budget++;
            answer_code(r, CODE(RESOURCE_EXHAUSTED), NULL,
                        "too many bytes in flight to this address or session; read the answers you have, then try again");
        }
    } else if (r->status == 200) {
        r->held = (int64_t)r->data_len;
    }
    r->waiting = 0;
    free(repacked);
    gw_call_free(call);
    resume(r);
}

static void on_stream_ready(void *door, gw_stream_client_t *client, const crm_status_t *st)
{
    http_req_t *r = door;
    if (r->by_cookie && st->code == CODE(UNAUTHENTICATED))
        clear_cookie(r);
    if (st->code != CODE(OK)) {
        answer_error(r, st);
    } else {
        r->stream = client;
        r->status = 200;
        r->answered = 1;
    }
    r->waiting = 0;
    resume(r);
}

/* --- requests ----------------------------------------------------------------- */

static int starts_with(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void on_admitted(gw_call_t *call, const crm_status_t *st)
{
    http_req_t *r = call->door;
    if (!r) {
        gw_call_free(call); /* its connection closed while identity answered */
        return;
    }
    r->admission = st->code == CODE(OK) ? ADMIT_OK : ADMIT_NONE;
    if (r->by_cookie && st->code == CODE(UNAUTHENTICATED))
        clear_cookie(r);
    if (st->code != CODE(OK))
        refuse(r, st);
    resume(r);
}

/* The request's session token: the Authorization header's (a program's),
 * else the session cookie's (a browser's), else "". A browser sends its
 * cookie with any request any site makes it send, so one the cookie
 * authenticates must come from this origin (websession.h). Returns 0, or
 * -1 with *st. */
static int session_token(http_req_t *r, const char **token, crm_status_t *st)
{
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    *token = "";
    if (auth) {
        if (!starts_with(auth, "Bearer "))
            return crm_status_set(st, CODE(UNAUTHENTICATED), "token", "Authorization must be \"Bearer <token>\"");
        *token = auth + 7;
        return 0;
    }
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, GW_WEBSESSION_COOKIE);
    if (!cookie || !cookie[0])
        return 0;
    if (!gw_websession_origin_ok(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin"),
                                 MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host")))
        return crm_status_set(st, CODE(PERMISSION_DENIED), "Origin",
                              "a call with the session cookie must come from this site's own pages");
    r->by_cookie = 1;
    *token = cookie;
    return 0;
}

/* A Twirp request's headers: its route, its size and its caller are
 * settled before a byte of its body is read. */
static void begin_twirp(http_req_t *r, const char *url)
{
    gateway_t *gw = r->gw;
    crm_status_t st;
    const char *ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    r->json = 1;
    if (starts_with(ctype, "application/protobuf"))
        r->json = 0;
    else if (!starts_with(ctype, "application/json")) {
        /* with the session cookie and no Authorization this is a browser
         * made to post a form or a simple request by another site: not a
         * bad route but a refusal */
        if (!MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization") &&
            MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, GW_WEBSESSION_COOKIE))
            crm_status_set(&st, CODE(PERMISSION_DENIED), "Content-Type",
                           "a call with the session cookie must be a Twirp call (application/json or application/protobuf)");
        else
            crm_status_set(&st, CODE(BAD_ROUTE), NULL, "Content-Type must be application/json or application/protobuf");
        refuse(r, &st);
        return;
    }
    const char *token;
    if (session_token(r, &token, &st) != 0) {
        refuse(r, &st);
        return;
    }
    const char *idem = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    r->call = gw_call_new(gw, url + strlen("/twirp/"), token, idem ? idem : "", &st);
    if (!r->call) {
        refuse(r, &st);
        return;
    }
    const char *wants = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, GW_WEBSESSION_HEADER);
    if (wants && !strcasecmp(wants, "cookie") && !strcmp(r->call->method_name, "crm.identity.v1.Identity/Login")) {
        /* another site must not sign this browser in to an account of its
         * choosing (login CSRF) */
        if (!gw_websession_origin_ok(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin"),
                                     MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host"))) {
            crm_status_set(&st, CODE(PERMISSION_DENIED), "Origin", "sign in from this site's own pages");
            refuse(r, &st);
            return;
        }
        r->want_cookie = 1;
    }
    r->session = gw_call_session_key(r->call);
    if (gw_budget_over(gw, r->address, r->session)) {
        gw->refused_budget++;
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL,
                       "too many bytes in flight to this address or session; read the answers you have, then try again");
        gw_metrics_record(gw, r->call->method_name, st.code, 0);
        refuse(r, &st);
        return;
    }
    r->method = r->call->method;
    r->limit = r->json ? crm_limit_json(crm_limit_request(r->call->method_name)) : r->call->limit;
    if (r->limit > gw->max_body)
        r->limit = gw->max_body;
    const char *clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (clen && strtoll(clen, NULL, 10) > r->limit) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), "body", "request body exceeds %s's limit of %lld bytes",
                       r->call->method_name, (long long)r->limit);
        gw_metrics_record(gw, r->call->method_name, st.code, 0);
        refuse(r, &st);
        return;
    }
    r->call->door = r;
    snprintf(r->call->address, sizeof r->call->address, "%s", r->address);
    r->admission = ADMIT_WAITING;
    gw_call_admit(r->call, on_admitted);
}

/* The whole body is in: decode it and send the call on. */
static void send_twirp(http_req_t *r)
{
    gw_call_t *call = r->call;
    crm_status_t st;
    r->call = NULL;
    if (gw_call_set_body(call, r->body, r->len, r->json, &st) != 0) {
        gw_metrics_record(r->gw, call->method_name, st.code, 0);
        gw_call_free(call);
        answer_error(r, &st);
        return;
    }
    drop_body(r);
    call->done = on_call_done;
    call->door = r;
    r->waiting = 1;
    gw_dispatch(call);
}

/* Body bytes: kept if the request is admitted and within its limits,
 * thrown away (up to DRAIN_MAX) if it is refused. Returns 1 once more than
 * DRAIN_MAX was thrown away: the connection is then closed. */
static int take_upload(http_req_t *r, const char *upload, size_t n)
{
    crm_status_t st;
    if (!r->call) {
        r->drained += n;
        return r->drained > DRAIN_MAX;
    }
    if ((int64_t)(r->len + n) > r->limit) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), "body", "request body exceeds %s's limit of %lld bytes",
                       r->call->method_name, (long long)r->limit);
        gw_metrics_record(r->gw, r->call->method_name, st.code, 0);
        release(r);
        refuse(r, &st);
        r->drained += n;
        return 0;
    }
    if (gw_budget_take(r->gw, r->address, r->session, (int64_t)n) != 0) {
        r->gw->refused_budget++;
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL,
                       "too many bytes in flight from this address or session; try again");
        gw_metrics_record(r->gw, r->call->method_name, st.code, 0);
        release(r);
        refuse(r, &st);
        r->drained += n;
        return 0;
    }
    r->held += (int64_t)n;
    if (r->len + n > r->cap) {
        /* the declared length (already within the limit) at once, so that
         * a body never holds twice its size; else half as much again */
        const char *clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
        size_t want = clen ? (size_t)strtoll(clen, NULL, 10) : 0;
        r->cap = want >= r->len + n ? want : (r->len + n) + (r->len + n) / 2;
        r->body = crm_realloc(r->body, r->cap);
    }
    memcpy(r->body + r->len, upload, n);
    r->len += n;
    return 0;
}

/* The paths the web app never answers: the API's own. */
static int api_path(const char *url)
{
    return !strncmp(url, "/twirp/", 7) || !strncmp(url, "/v1/", 4) || !strcmp(url, "/healthz") ||
           !strcmp(url, "/metrics");
}

static void start_get(http_req_t *r, const char *url)
{
    if (!strcmp(url, "/v1/stream")) {
        crm_status_t st;
        const char *token;
        r->json = 1;
        if (session_token(r, &token, &st) != 0) {
            answer_error(r, &st);
            return;
        }
        r->waiting = 1;
        gw_stream_begin(r->door->stream, r->conn, token, on_stream_ready, r);
    } else if (r->door->web && !api_path(url)) {
        const char *ae = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Accept-Encoding");
        if (gw_webapp_find(r->door->web, url, gw_webapp_accepts_gzip(ae), &r->web) == 0) {
            r->is_web = 1;
            r->status = 200;
            r->answered = 1;
        } else {
            answer(r, 404, "text/plain; charset=utf-8", crm_strdup("not found\n"), 10);
        }
    } else if (!strcmp(url, "/healthz")) {
        answer(r, 200, "text/plain", crm_strdup("ok\n"), 3);
    } else if (!strcmp(url, "/metrics")) {
        size_t len;
        char *text = gw_metrics_render(r->gw, &len);
        answer(r, 200, "text/plain; version=0.0.4", text, len);
    } else {
        answer_code(r, CODE(BAD_ROUTE), NULL, "no such route: GET %.100s", url);
    }
}

static enum MHD_Result queue_web(http_req_t *r)
{
    /* the file stays in memory as long as the gateway runs: no copy */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->web.len, (void *)r->web.data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->web.type);
    MHD_add_response_header(resp, "Cache-Control", r->web.cache_control);
    /* a cache keeps the gzip'd and the plain answer apart */
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    if (r->web.gzip)
        MHD_add_response_header(resp, "Content-Encoding", "gzip");
    for (const char *const *h = gw_webapp_security_headers; *h; h += 2)
        MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue(http_req_t *r)
{
    if (r->is_web)
        return queue_web(r);
    if (r->stream) {
        struct MHD_Response *resp = gw_stream_response(r->stream);
        r->stream = NULL;
        if (!resp)
            return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ok;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->data_len, r->data, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        return MHD_NO;
    r->data = NULL;
    MHD_add_response_header(resp, "Content-Type", r->type);
    if (r->set_cookie)
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    /* the app's API answers never belong in a shared cache */
    if (r->set_cookie || r->by_cookie)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static void suspend(http_req_t *r)
{
    if (!r->suspended) {
        r->suspended = 1;
        MHD_suspend_connection(r->conn);
    }
}

/* Every X-Forwarded-For line, in order, joined as one list: a proxy may
 * add a line of its own rather than append to the client's, and the client
 * wrote the first. Past the buffer, the leftmost (the client's own) go. */
typedef struct {
    char buf[2048];
    size_t len;
} xff_t;

static enum MHD_Result add_xff(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    xff_t *x = arg;
    if (strcasecmp(key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    size_t n = strlen(value), sep = x->len ? 1 : 0;
    if (n + sep >= sizeof x->buf) { /* one line larger than all: its rightmost part */
        value += n - (sizeof x->buf - 1);
        n = sizeof x->buf - 1;
        x->len = 0;
        sep = 0;
    } else if (x->len + sep + n >= sizeof x->buf) {
        size_t drop = x->len + sep + n - (sizeof x->buf - 1);
        memmove(x->buf, x->buf + drop, x->len - drop);
        x->len -= drop;
    }
    if (sep)
        x->buf[x->len++] = ',';
    memcpy(x->buf + x->len, value, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return MHD_YES;
}

/* The TCP peer's address, or the client's behind a trusted proxy; *secure:
 * a trusted proxy says the browser came over TLS. */
static void client_address(gateway_t *gw, struct MHD_Connection *conn, char *out, size_t cap, int *secure)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[INET_ADDRSTRLEN] = "";
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, peer, sizeof peer);
    xff_t xff = {.len = 0};
    xff.buf[0] = '\0';
    MHD_get_connection_values(conn, MHD_HEADER_KIND, add_xff, &xff);
    gw_realip_client(gw->realip, peer, xff.len ? xff.buf : NULL, out, cap);
    const char *proto = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    *secure = proto && !strcasecmp(proto, "https") && gw_realip_trusted_peer(gw->realip, peer);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    gw_http_door_t *self = cls;
    http_req_t *r = *con_cls;
    if (!r) {
        r = crm_calloc(1, sizeof *r);
        r->gw = self->gw;
        r->door = self;
        r->conn = conn;
        client_address(self->gw, conn, r->address, sizeof r->address, &r->secure);
        *con_cls = r;
        if (!strcmp(method, "POST") && !strncmp(url, "/twirp/", 7)) {
            begin_twirp(r, url);
        } else if (strcmp(method, "GET") != 0) {
            r->json = 1;
            answer_code(r, CODE(BAD_ROUTE), NULL, "no such route: %s %.100s", method, url);
        }
        const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (r->answered && clen && strtoll(clen, NULL, 10) > DRAIN_MAX)
            return queue(r); /* not worth reading: answer, and the connection closes */
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->admission == ADMIT_WAITING) {
            /* not one byte of the body before the caller is known: it waits
             * in the socket until identity has answered */
            suspend(r);
            return MHD_YES;
        }
        int past = take_upload(r, upload, *upload_size);
        *upload_size = 0;
        /* drained as far as it is worth: libmicrohttpd answers nothing in
         * the middle of a body, so the connection closes */
        return past ? MHD_NO : MHD_YES;
    }
    if (r->answered)
        return queue(r);
    if (r->waiting || r->admission == ADMIT_WAITING) {
        if (r->admission == ADMIT_WAITING)
            suspend(r);
        return MHD_YES; /* the answer is not ready yet */
    }
    if (!strcmp(method, "GET")) {
        start_get(r, url);
    } else {
        send_twirp(r);
    }
    if (r->answered)
        return queue(r);
    suspend(r);
    return MHD_YES;
}

/* Under pressure, idle connections go sooner. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    gw_http_door_t *self = cls;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (info && info->num_connections > CONNECTIONS_MAX / 2)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)PRESSURE_TIMEOUT_S);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_req_t *r = *con_cls;
    if (!r)
        return;
    /* a suspended connection is never completed, so no call points here;
     * one still being admitted is not suspended but its call is out */
    if (r->stream)
        gw_stream_abandon(r->stream);
    if (r->call && r->admission == ADMIT_WAITING)
        r->call->door = NULL; /* dispatch finishes it; on_admitted must not look */
    else if (r->call)
        gw_call_free(r->call);
    release(r);
    free(r->body);
    free(r->data);
    free(r->set_cookie);
    free(r);
    *con_cls = NULL;
}

gw_http_door_t *gw_http_door_new(gateway_t *gw, gw_stream_t *stream, const gw_webapp_t *web, const char *address,
                                 int port)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
        crm_error("http address %s is not an IPv4 address", address);
        return NULL;
    }
    gw_http_door_t *self = crm_calloc(1, sizeof *self);
    self->gw = gw;
    self->stream = stream;
    self->web = web;
    self->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
                                    (uint16_t)port, NULL, NULL, on_request, self,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                    MHD_OPTION_NOTIFY_CONNECTION, on_connection, self,
                                    /* streams stay open: room for them on top of the calls */
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(CONNECTIONS_MAX + gw->sse_max_clients),
                                    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)gw->http_per_address,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                                    /* each connection's memory (headers, read and write
                                     * buffers) ends up touched whole: 16 KiB instead of the
                                     * default 32 is about 9 MB less for 1,000 open streams
                                     * and still takes request headers of some 15 KiB
                                     * (bodies go to our own buffer as they come) */
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                                    MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                                    MHD_OPTION_END);
    if (!self->daemon) {
        crm_error("http %s:%d: cannot start (port in use?)", address, port);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        crm_error("http: no epoll fd");
        MHD_stop_daemon(self->daemon);
        free(self);
        return NULL;
    }
    ev_io_init(&self->io, on_io, info->epoll_fd, EV_READ);
    ev_init(&self->timer, on_timer);
    self->io.data = self->timer.data = self;
    ev_io_start(gw->loop, &self->io);
    reschedule(self);
    return self;
}

void gw_http_door_destroy(gw_http_door_t **self_p)
{
    gw_http_door_t *self = *self_p;
    if (!self)
        return;
    ev_io_stop(self->gw->loop, &self->io);
    ev_timer_stop(self->gw->loop, &self->timer);
    /* let resumed connections take their answers before the daemon goes */
    MHD_run(self->daemon);
    MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}
