/* The HTTP front door: the Twirp wire protocol (POST /twirp/<pkg>.<Service>/
 * <Method>, application/json or application/protobuf, errors as Twirp JSON),
 * plus GET /healthz, GET /metrics and GET /v1/stream (stream.c).
 * libmicrohttpd runs without threads of its own: its epoll fd sits in the
 * libev loop, and a connection waiting for a service is suspended, not
 * parked on a thread. */
#include "gateway.h"
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

typedef struct {
    gateway_t *gw;
    struct MHD_Connection *conn;
    char *body;
    size_t len, cap;
    int too_big;
    int json;       /* the client speaks JSON */
    int waiting;    /* handed to dispatch, no answer yet */
    int suspended;
    int answered;   /* status, data and type are ready */
    unsigned status;
    char *data;
    size_t data_len;
    const char *type;
    const ProtobufCMethodDescriptor *method;
    gw_stream_client_t *stream; /* a decided stream, until its response is made */
} http_req_t;

static struct MHD_Daemon *daemon_;
static size_t buffered_;     /* request bytes held by all connections */
static size_t buffered_max_; /* beyond this, new bodies are refused */
static struct ev_loop *loop_;
static ev_io io_;
static ev_timer timer_;

static void reschedule(void)
{
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(loop_, &timer_);
    if (MHD_get_timeout(daemon_, &ms) == MHD_YES) {
        ev_timer_set(&timer_, (double)ms / 1000.0, 0);
        ev_timer_start(loop_, &timer_);
    }
}

static void run_mhd(void)
{
    MHD_run(daemon_);
    reschedule();
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) { run_mhd(); }
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) { run_mhd(); }

void gw_http_door_wake(void)
{
    if (!daemon_)
        return;
    ev_timer_stop(loop_, &timer_);
    ev_timer_set(&timer_, 0, 0);
    ev_timer_start(loop_, &timer_);
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
        gw_http_door_wake();
    }
}

static void on_finish(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    http_req_t *r = call->door;
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
    r->waiting = 0;
    gw_call_free(call);
    resume(r);
}

static void on_stream_ready(void *door, gw_stream_client_t *client, const crm_status_t *st)
{
    http_req_t *r = door;
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

static void start_twirp(http_req_t *r, const char *url)
{
    gateway_t *gw = r->gw;
    const char *ctype = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (starts_with(ctype, "application/json"))
        r->json = 1;
    else if (!starts_with(ctype, "application/protobuf")) {
        r->json = 1;
        answer_code(r, CODE(BAD_ROUTE), NULL,
                    "Content-Type must be application/json or application/protobuf");
        return;
    }
    if (r->too_big) {
        answer_code(r, CODE(RESOURCE_EXHAUSTED), "body", "request body exceeds the limit of %lld bytes",
                    (long long)gw->max_body);
        return;
    }
    gw_call_t *call = crm_calloc(1, sizeof *call);
    call->gw = gw;
    call->started = crm_time_mono_us();
    const char *path = url + strlen("/twirp/");
    const char *slash = strrchr(path, '/');
    crm_status_t st;
    if (!slash || strlen(path) >= sizeof call->method_name) {
        gw_call_free(call);
        answer_code(r, CODE(BAD_ROUTE), NULL, "no such route: %.100s", url);
        return;
    }
    snprintf(call->method_name, sizeof call->method_name, "%s", path);
    if (gw_route_find(gw, call, &st) != 0) {
        gw_metrics_record(gw, call->method_name, st.code, 0);
        gw_call_free(call);
        answer_error(r, &st);
        return;
    }
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (auth) {
        if (!starts_with(auth, "Bearer ") || strlen(auth + 7) >= sizeof call->token) {
            gw_call_free(call);
            answer_code(r, CODE(UNAUTHENTICATED), "token", "Authorization must be \"Bearer <token>\"");
            return;
        }
        snprintf(call->token, sizeof call->token, "%s", auth + 7);
    }
    const char *idem = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (idem) {
        if (strlen(idem) >= sizeof call->idem) {
            gw_call_free(call);
            answer_code(r, CODE(INVALID_ARGUMENT), "idempotencyKey", "Idempotency-Key too long");
            return;
        }
        snprintf(call->idem, sizeof call->idem, "%s", idem);
    }
    r->method = call->method;
    if (r->json) {
        ProtobufCMessage *m = crm_json_decode(call->method->input, r->body ? r->body : "", r->len,
                                              CRM_JSON_FILL_UPDATE_MASK, NULL, &st);
        if (!m) {
            gw_metrics_record(gw, call->method_name, st.code, 0);
            gw_call_free(call);
            answer_error(r, &st);
            return;
        }
        call->body_len = protobuf_c_message_get_packed_size(m);
        call->body = crm_malloc(call->body_len);
        protobuf_c_message_pack(m, call->body);
        protobuf_c_message_free_unpacked(m, NULL);
    } else {
        call->body = (uint8_t *)r->body;
        call->body_len = r->len;
        buffered_ -= r->len;
        r->body = NULL;
        r->len = r->cap = 0;
    }
    call->finish = on_finish;
    call->door = r;
    r->waiting = 1;
    gw_dispatch(call);
}

static void start_get(http_req_t *r, const char *url)
{
    if (!strcmp(url, "/v1/stream")) {
        r->json = 1;
        r->waiting = 1;
        gw_stream_begin(r->gw, r->conn, on_stream_ready, r);
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

static enum MHD_Result queue(http_req_t *r)
{
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
    enum MHD_Result ok = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    gateway_t *gw = cls;
    http_req_t *r = *con_cls;
    if (!r) {
        r = crm_calloc(1, sizeof *r);
        r->gw = gw;
        r->conn = conn;
        *con_cls = r;
        const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (clen && strtoll(clen, NULL, 10) > gw->max_body) {
            r->json = 1;
            answer_code(r, CODE(RESOURCE_EXHAUSTED), "body",
                        "request body exceeds the limit of %lld bytes", (long long)gw->max_body);
            return queue(r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && !r->answered && buffered_ + *upload_size > buffered_max_) {
            /* bodies are read before the caller is known: bound them all */
            answer_code(r, CODE(UNAVAILABLE), NULL, "too much request data in flight; try again");
            buffered_ -= r->len;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
            r->too_big = 1;
        }
        if (!r->too_big && r->len + *upload_size > (size_t)gw->max_body) {
            buffered_ -= r->len;
            r->too_big = 1;
            free(r->body);
            r->body = NULL;
            r->len = r->cap = 0;
        }
        if (!r->too_big) {
            if (r->len + *upload_size > r->cap) {
                r->cap = (r->len + *upload_size) * 2;
                r->body = crm_realloc(r->body, r->cap);
            }
            memcpy(r->body + r->len, upload, *upload_size);
            r->len += *upload_size;
            buffered_ += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return queue(r);
    if (r->waiting)
        return MHD_YES; /* a spurious wake-up while the service works */
    if (!strcmp(method, "GET"))
        start_get(r, url);
    else if (!strcmp(method, "POST") && !strncmp(url, "/twirp/", 7))
        start_twirp(r, url);
    else
        answer_code(r, CODE(BAD_ROUTE), NULL, "no such route: %s %.100s", method, url);
    if (r->answered)
        return queue(r);
    r->suspended = 1;
    MHD_suspend_connection(conn);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_req_t *r = *con_cls;
    if (!r)
        return;
    /* a suspended connection is never completed, so no call points here */
    if (r->stream)
        gw_stream_abandon(r->stream);
    buffered_ -= r->len;
    free(r->body);
    free(r->data);
    free(r);
    *con_cls = NULL;
}

int gw_http_door_start(gateway_t *gw, const char *address, int port)
{
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
        crm_error("http address %s is not an IPv4 address", address);
        return -1;
    }
    loop_ = gw->loop;
    buffered_max_ = (size_t)gw->max_body * 4 > (256u << 20) ? (size_t)gw->max_body * 4 : (256u << 20);
    daemon_ = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO,
                               (uint16_t)port, NULL, NULL, on_request, gw,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                               /* streams stay open: room for them on top of the calls */
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)(4096 + gw->sse_max_clients),
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                               /* each connection's memory (headers, read and write
                                * buffers) ends up touched whole: 16 KiB instead of the
                                * default 32 is about 9 MB less for 1,000 open streams
                                * and still takes request headers of some 15 KiB
                                * (bodies go to our own buffer as they come) */
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
                               MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                               MHD_OPTION_END);
    if (!daemon_) {
        crm_error("http %s:%d: cannot start (port in use?)", address, port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        crm_error("http: no epoll fd");
        return -1;
    }
    ev_io_init(&io_, on_io, info->epoll_fd, EV_READ);
    ev_init(&timer_, on_timer);
    ev_io_start(loop_, &io_);
    reschedule();
    return 0;
}

void gw_http_door_stop(void)
{
    if (!daemon_)
        return;
    ev_io_stop(loop_, &io_);
    ev_timer_stop(loop_, &timer_);
    /* let resumed connections take their answers before the daemon goes */
    MHD_run(daemon_);
    MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
