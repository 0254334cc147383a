/* bench_common.h: what the benchmark programs share, as static functions in
 * one header that each program includes once (they are separate programs,
 * not a library): timing and percentiles, /proc figures, the load generator
 * over the gateway's doors, the durable LMDB floor, Login, and the table's
 * rows and target verdicts.
 *
 * Define BENCH_PROG (the program's name, for messages) before including. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef BENCH_PROG
#error "define BENCH_PROG before including bench_common.h"
#endif

#include "client.pb-c.h"
#include "crm_arena.h"
#include "crm_client.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "pipeline.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define METHOD_LOGIN "crm.identity.v1.Identity/Login"
#define METHOD_HEALTH "crm.health.v1.Health/Check"
#define PL "crm.pipeline.v1.Pipeline/"
#define MAX_STAGES 64
#define OPPORTUNITY CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_OPPORTUNITY
#define CALL_TIMEOUT_MS 20000 /* a call outside the load */
#define MAX_CLIENTS 1024
#define MAX_REPS 15
#define DRAIN_NS 8000000000LL /* a Login batch of argon2id hashes may take seconds */
#define HTTP_BUF 16384
#define BODY_MAX 4096         /* the largest request body a generator may write */
#define CODE_OK CRM__RPC__V1__CODE__CODE_OK

/* --- small helpers ---------------------------------------------------------- */

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        die("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_REALTIME in microseconds: the clock of the services' `at`. */
static inline int64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Adds n failures to *count, keeping msg as the first one's text in first. */
static void add_errors(long *count, char *first, size_t cap, long n, const char *msg)
{
    if (n > 0 && !*count)
        snprintf(first, cap, "%s", msg);
    *count += n;
}

/* Latencies in nanoseconds, kept whole so the percentiles are exact. */
typedef struct {
    int64_t *v;
    size_t n, cap;
} samples_t;

static void samples_add(samples_t *s, int64_t ns)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 65536;
        int64_t *v = realloc(s->v, s->cap * sizeof *v);
        if (!v)
            die("out of memory for %zu samples", s->cap);
        s->v = v;
    }
    s->v[s->n++] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of sorted samples, in milliseconds. */
static double quantile_ms(const samples_t *s, double q)
{
    if (!s->n)
        return 0;
    size_t i = (size_t)(q * (double)s->n);
    if (i >= s->n)
        i = s->n - 1;
    return (double)s->v[i] / 1e6;
}

/* Sorts s and gives its median, 99th percentile and (when max is not NULL)
 * largest, in milliseconds (0 when s is empty). */
static void samples_summary(samples_t *s, double *p50, double *p99, double *max)
{
    qsort(s->v, s->n, sizeof *s->v, cmp_i64);
    *p50 = quantile_ms(s, 0.50);
    *p99 = quantile_ms(s, 0.99);
    if (max)
        *max = s->n ? (double)s->v[s->n - 1] / 1e6 : 0;
}

/* Sends a second of a paced run: the sends after the first over the time
 * from the first's due time t0 to the last send. */
static inline double paced_rate(long sent, int64_t t0, int64_t t_last_send)
{
    return t_last_send > t0 && sent > 1 ? (double)(sent - 1) * 1e9 / (double)(t_last_send - t0) : 0;
}

static double median(const double *v, int n)
{
    double tmp[MAX_REPS];
    if (n <= 0)
        return 0;
    memcpy(tmp, v, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* The number after "field:" in /proc/PID/file ("status", "io"), or -1 when
 * it can't be read. */
static double proc_field(long pid, const char *file, const char *field)
{
    char path[64], line[256];
    size_t flen = strlen(field);
    snprintf(path, sizeof path, "/proc/%ld/%s", pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, flen) && line[flen] == ':') {
            v = strtod(line + flen + 1, NULL);
            break;
        }
    fclose(f);
    return v;
}

/* One "Name:   N kB" figure of /proc/PID/status ("VmRSS", "RssAnon") in KiB,
 * or -1 when it can't be read. */
static long proc_status_kib(long pid, const char *field) { return (long)proc_field(pid, "status", field); }

/* A count flag's value within [lo, hi], or the program dies naming flag. */
static inline int parse_count(const char *flag, const char *text, int lo, int hi)
{
    int n = atoi(text);
    if (n < lo || n > hi)
        die("--%s %s: want %d to %d", flag, text, lo, hi);
    return n;
}

/* Receives one message from sock without blocking into m (the caller
 * closes it): 1, or 0 when none waits. Dies on an error, naming what. */
static inline int recv_nowait(void *sock, zmq_msg_t *m, const char *what)
{
    for (;;) {
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) >= 0)
            return 1;
        int err = errno;
        zmq_msg_close(m);
        if (err == EAGAIN)
            return 0;
        if (err != EINTR)
            die("%s: recv: %s", what, zmq_strerror(err));
    }
}

/* A count flag's parsed value within [lo, hi], or the program dies naming flag. */
static inline int count_in(const char *flag, int64_t v, int lo, int hi)
{
    if (v < lo || v > hi)
        die("--%s %lld: want %d to %d", flag, (long long)v, lo, hi);
    return (int)v;
}

/* "HOST:PORT" (IPv4) of --http, or the program dies. */
static inline void http_address(const char *text, struct sockaddr_in *a)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        die("--http %s: want HOST:PORT", text);
    snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        die("--http %s: not an IPv4 address", text);
}

/* --- request bodies and reply checks ---------------------------------------------- */

/* Packs m into buf when it fits cap; returns its packed size either way (a
 * bench_body_fn returns it, and the load generator dies when it is > cap). */
static inline size_t pack_body(const ProtobufCMessage *m, uint8_t *buf, size_t cap)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len <= cap)
        protobuf_c_message_pack(m, buf);
    return len;
}

/* Unpacks the reply body of method `what` as desc with alloc; NULL with msg
 * filled ("<what> reply is not a <Message>") when it is not one. */
static inline void *unpack_reply(const ProtobufCMessageDescriptor *desc, const char *what, ProtobufCAllocator *alloc,
                                 const uint8_t *body, size_t len, char *msg, size_t cap)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, alloc, len, body);
    if (!m)
        snprintf(msg, cap, "%s reply is not a %s", what, desc->short_name);
    return m;
}

/* --- the load generator ---------------------------------------------------------- */

typedef enum { LOAD_ECHO, LOAD_CRM, LOAD_HTTP } load_kind_t;

/* CRM: writes the next request's body into buf (at most cap bytes) and
 * returns its length; *tag identifies the request to the check. */
typedef size_t bench_body_fn(void *arg, uint8_t *buf, size_t cap, uint64_t *tag);
/* CRM: judges a reply body with status OK (of the request tagged tag),
 * unpacking it with alloc (an arena, reset after the check: nothing to free).
 * Returns 0 if it is right, else -1 with msg filled. */
typedef int bench_check_fn(void *arg, uint64_t tag, const uint8_t *body, size_t len,
                           ProtobufCAllocator *alloc, char *msg, size_t cap);

/* What every client of one configuration sends. */
typedef struct {
    const char *name;
    load_kind_t kind;
    const char *endpoint;          /* ECHO, CRM: ZeroMQ endpoint */
    struct sockaddr_in addr;       /* HTTP */
    const uint8_t *payload;        /* ECHO: the frame; HTTP: the whole request */
    size_t payload_len;
    const char *method, *token;    /* CRM */
    const uint8_t *body;           /* CRM: the method's request, packed (when no next_body) */
    size_t body_len;
    bench_body_fn *next_body;      /* CRM: a body per request instead (optional) */
    bench_check_fn *check;         /* CRM: judges every good reply's body (optional) */
    void *arg;                     /* of next_body and check */
    long limit;                    /* requests to send in all (0: as many as the window takes) */
} load_t;

typedef struct {
    void *zsock;
    int fd;
    int busy;
    int64_t sent;
    uint64_t id, tag;
    char *in;                      /* HTTP: bytes of the reply so far */
    size_t in_len;
} client_t;

typedef struct {
    double rps, p50_ms, p99_ms;
    long ok, errors;
    long ok_all;                   /* good replies including warm-up and drain */
    char error[200];               /* the first one */
} result_t;

/* --- memory of a service (VmRSS, RssAnon) ------------------------------------------------------------------------ */

typedef struct {
    long rss, anon; /* KiB, -1 unknown */
} mem_t;

static mem_t mem_of(long pid)
{
    mem_t m = {-1, -1};
    if (pid > 0) {
        m.rss = proc_status_kib(pid, "VmRSS");
        m.anon = proc_status_kib(pid, "RssAnon");
    }
    return m;
}

static inline void print_mem(const char *name, long pid, const char *when, mem_t m)
{
    if (pid <= 0)
        return;
    printf("  %-15s pid %-7ld %-28s VmRSS %6.1f MiB   RssAnon %6.1f MiB\n", name, pid, when, m.rss / 1024.0,
           m.anon / 1024.0);
}

static void *zctx;
/* Replies are unpacked into an arena: a kanban of 140 cards is some 1,500
 * allocations, and on a 2-core machine the load generator's malloc and free
 * would take CPU from the services it measures. */
static crm_arena_t *reply_arena;

static int set_nonblock(int fd)
{
    return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* A TCP connection to addr, TCP_NODELAY and non-blocking, or -1 (errno). */
static int http_connect(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 || set_nonblock(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void client_open(const load_t *L, client_t *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    if (L->kind == LOAD_HTTP) {
        if ((c->fd = http_connect(&L->addr)) < 0)
            die("%s: connect: %s", L->name, strerror(errno));
        c->in = xcalloc(1, HTTP_BUF + 1);
        return;
    }
    int linger = 0;
    c->zsock = zmq_socket(zctx, ZMQ_DEALER);
    if (!c->zsock || zmq_setsockopt(c->zsock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(c->zsock, L->endpoint) != 0)
        die("%s: connect %s: %s", L->name, L->endpoint, zmq_strerror(errno));
}

static void client_close(client_t *c)
{
    if (c->zsock)
        zmq_close(c->zsock);
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Sends the next request. Returns 0, or -1 with msg filled. */
static int client_send(const load_t *L, client_t *c, char *msg, size_t cap)
{
    c->sent = now_ns();
    c->busy = 1;
    if (L->kind == LOAD_HTTP) {
        ssize_t n = send(c->fd, L->payload, L->payload_len, MSG_NOSIGNAL);
        if (n == (ssize_t)L->payload_len)
            return 0;
        /* one small request on an idle connection always fits the socket buffer */
        snprintf(msg, cap, "send: %s", n < 0 ? strerror(errno) : "short write");
        c->busy = 0;
        return -1;
    }
    const void *frame = L->payload;
    size_t len = L->payload_len;
    uint8_t buf[BODY_MAX + 1024], body[BODY_MAX];
    if (L->kind == LOAD_CRM) {
        Crm__Client__V1__ClientRequest req = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
        req.id = ++c->id;
        req.method = (char *)L->method;
        req.token = (char *)(L->token ? L->token : "");
        req.body.data = (uint8_t *)L->body;
        req.body.len = L->body_len;
        if (L->next_body) {
            req.body.len = L->next_body(L->arg, body, sizeof body, &c->tag);
            if (req.body.len > sizeof body)
                die("%s: request body of %zu bytes", L->name, req.body.len);
            req.body.data = body;
        }
        len = crm__client__v1__client_request__get_packed_size(&req);
        if (len > sizeof buf)
            die("%s: request of %zu bytes", L->name, len);
        crm__client__v1__client_request__pack(&req, buf);
        frame = buf;
    }
    if (zmq_send(c->zsock, frame, len, ZMQ_DONTWAIT) < 0) {
        snprintf(msg, cap, "send: %s", zmq_strerror(errno));
        c->busy = 0;
        return -1;
    }
    return 0;
}

/* Parses one whole HTTP response from c->in. Returns 0 when it is not all
 * there yet, 1 for 200, 2 for another status (msg filled), -1 when the bytes
 * are not a response. */
static int http_parse(client_t *c, char *msg, size_t cap)
{
    c->in[c->in_len] = 0;
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return c->in_len >= HTTP_BUF ? -1 : 0;
    size_t head = (size_t)(end + 4 - c->in);
    if (c->in_len < 12 || strncmp(c->in, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(c->in + 9);
    long clen = -1;
    for (char *line = strstr(c->in, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
        if (!strncasecmp(line + 2, "Content-Length:", 15))
            clen = strtol(line + 17, NULL, 10);
    if (clen < 0)
        return -1; /* MHD gives every buffer response a length; no chunked replies here */
    if (c->in_len < head + (size_t)clen)
        return c->in_len >= HTTP_BUF ? -1 : 0;
    int rc = 1;
    if (status != 200) {
        snprintf(msg, cap, "HTTP %d %.*s", status, (int)(clen < 150 ? clen : 150), c->in + head);
        rc = 2;
    }
    size_t used = head + (size_t)clen;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    return rc;
}

/* Judges one ClientReply frame of the CRM request in flight: its id, a
 * status that is OK, and the body by L->check. Returns 1 or 2 (msg). */
static int crm_reply_judge(const load_t *L, client_t *c, const zmq_msg_t *m, char *msg, size_t cap)
{
    if (!reply_arena)
        reply_arena = crm_arena_new();
    ProtobufCAllocator *alloc = crm_arena_allocator(reply_arena);
    Crm__Client__V1__ClientReply *r =
        crm__client__v1__client_reply__unpack(alloc, zmq_msg_size(m), zmq_msg_data((zmq_msg_t *)m));
    int rc = 1;
    if (!r) {
        snprintf(msg, cap, "reply is not a ClientReply");
        crm_arena_reset(reply_arena);
        return 2;
    }
    if (r->id != c->id) {
        snprintf(msg, cap, "reply id %llu, expected %llu", (unsigned long long)r->id,
                 (unsigned long long)c->id);
        rc = 2;
    } else if (!r->status) {
        snprintf(msg, cap, "reply without a status");
        rc = 2;
    } else if (r->status->code != CODE_OK) {
        snprintf(msg, cap, "%s: %s%s%s", crm_code_name(r->status->code), r->status->message,
                 r->status->field[0] ? " field " : "", r->status->field);
        rc = 2;
    } else if (L->check && L->check(L->arg, c->tag, r->body.data, r->body.len, alloc, msg, cap) != 0) {
        rc = 2;
    }
    crm_arena_reset(reply_arena);
    return rc;
}

/* Takes in the reply of the request in flight. Returns 0 when no whole reply
 * is there yet, 1 for a good reply, 2 for an error reply, -1 when the
 * connection failed; msg says what went wrong. */
static int client_recv(const load_t *L, client_t *c, char *msg, size_t cap)
{
    if (L->kind == LOAD_HTTP) {
        int rc = http_parse(c, msg, cap);
        if (rc)
            return rc;
        for (;;) {
            ssize_t n = read(c->fd, c->in + c->in_len, HTTP_BUF - c->in_len);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
            if (n <= 0) {
                snprintf(msg, cap, "connection %s", n ? strerror(errno) : "closed by the gateway");
                return -1;
            }
            c->in_len += (size_t)n;
            if ((rc = http_parse(c, msg, cap)) != 0) {
                if (rc < 0)
                    snprintf(msg, cap, "not an HTTP response: %.60s", c->in);
                return rc;
            }
        }
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, c->zsock, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&m);
        if (err == EAGAIN)
            return 0;
        snprintf(msg, cap, "recv: %s", zmq_strerror(err));
        return -1;
    }
    int rc = 1;
    if (zmq_msg_more(&m)) {
        snprintf(msg, cap, "reply of more than one frame");
        rc = 2;
    } else if (L->kind == LOAD_ECHO) {
        if (zmq_msg_size(&m) != L->payload_len || memcmp(zmq_msg_data(&m), L->payload, L->payload_len)) {
            snprintf(msg, cap, "echo differs from the request");
            rc = 2;
        }
    } else {
        rc = crm_reply_judge(L, c, &m, msg, cap);
    }
    zmq_msg_close(&m);
    return rc;
}

/* Runs n clients of L: warm_s seconds unmeasured, then dur_s seconds in which
 * every good reply is counted and its latency kept; then waits for the
 * requests still in flight (any not answered are errors). With L->limit the
 * run also stops sending after that many requests; its rate is then over the
 * part of the window until the last reply. */
static void run_load(const load_t *L, int n, double warm_s, double dur_s, result_t *res)
{
    client_t *cl = xcalloc((size_t)n, sizeof *cl);
    zmq_pollitem_t *items = xcalloc((size_t)n, sizeof *items);
    samples_t lat = {0};
    char msg[200];
    memset(res, 0, sizeof *res);
    for (int i = 0; i < n; i++) {
        client_open(L, &cl[i]);
        items[i] = (zmq_pollitem_t){cl[i].zsock, cl[i].fd, ZMQ_POLLIN, 0};
    }
    int64_t t_start = now_ns() + (int64_t)(warm_s * 1e9), t_end = t_start + (int64_t)(dur_s * 1e9);
    int64_t t_last = t_start;
    long sends = 0;
#define NOTE_ERROR() add_errors(&res->errors, res->error, sizeof res->error, 1, msg)
#define MAY_SEND(t) ((t) < t_end && (!L->limit || sends < L->limit))
    int in_flight = 0;
    for (int i = 0; i < n && MAY_SEND(now_ns()); i++) {
        sends++;
        if (client_send(L, &cl[i], msg, sizeof msg) != 0)
            NOTE_ERROR();
        else
            in_flight++;
    }
    int64_t drain_until = 0;
    for (;;) {
        int64_t now = now_ns();
        if (!drain_until && !MAY_SEND(now))
            drain_until = now + DRAIN_NS;
        if (drain_until && (in_flight == 0 || now >= drain_until))
            break;
        int64_t wait_ms = ((drain_until ? drain_until : t_end) - now) / 1000000 + 1;
        int rc = zmq_poll(items, n, wait_ms > 100 ? 100 : (long)wait_ms);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            die("zmq_poll: %s", zmq_strerror(errno));
        }
        for (int i = 0; i < n && rc > 0; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            client_t *c = &cl[i];
            int st;
            while (c->busy && (st = client_recv(L, c, msg, sizeof msg)) != 0) {
                int64_t t = now_ns();
                c->busy = 0;
                in_flight--;
                if (st == 1) {
                    res->ok_all++;
                    if (t >= t_start && t < t_end) {
                        res->ok++;
                        t_last = t;
                        samples_add(&lat, t - c->sent);
                    }
                } else {
                    NOTE_ERROR();
                }
                if (st < 0) {
                    if (L->kind != LOAD_HTTP)
                        die("%s: %s", L->name, msg);
                    /* the server closed the connection: open another, as a client would */
                    close(c->fd);
                    if ((c->fd = http_connect(&L->addr)) < 0)
                        die("%s: reconnect: %s", L->name, strerror(errno));
                    c->in_len = 0;
                    items[i].fd = c->fd;
                }
                if (MAY_SEND(t)) {
                    sends++;
                    if (client_send(L, c, msg, sizeof msg) != 0)
                        NOTE_ERROR();
                    else
                        in_flight++;
                }
            }
        }
    }
    if (in_flight > 0) {
        snprintf(msg, sizeof msg, "%d request(s) not answered within %lld s", in_flight,
                 (long long)(DRAIN_NS / 1000000000LL));
        add_errors(&res->errors, res->error, sizeof res->error, in_flight, msg);
    }
#undef MAY_SEND
#undef NOTE_ERROR
    double window = dur_s;
    if (L->limit && sends >= L->limit && t_last < t_end)
        window = (double)(t_last - t_start) / 1e9;
    res->rps = window > 0 ? (double)res->ok / window : 0;
    samples_summary(&lat, &res->p50_ms, &res->p99_ms, NULL);
    for (int i = 0; i < n; i++)
        client_close(&cl[i]);
    free(lat.v);
    free(items);
    free(cl);
}

/* --- the durable LMDB floor ------------------------------------------------------- */

static void check_mdb(int rc, const char *what)
{
    if (rc)
        die("LMDB %s: %s", what, mdb_strerror(rc));
}

/* Durable commits of batch records each (64-byte values under big-endian
 * keys, default flags: every commit is synced) for seconds, in a new
 * environment under parent (removed after). Returns commits/s. Needs
 * sodium_init. */
static double lmdb_floor(const char *parent, int batch, double seconds)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lmdb-floor-XXXXXX", parent);
    if (!mkdtemp(dir))
        die("mkdtemp %s: %s", dir, strerror(errno));
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    check_mdb(mdb_env_create(&env), "env");
    check_mdb(mdb_env_set_mapsize(env, (size_t)1 << 30), "mapsize");
    check_mdb(mdb_env_open(env, dir, MDB_NOTLS, 0640), "open");
    check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    check_mdb(mdb_dbi_open(txn, NULL, 0, &dbi), "dbi");
    check_mdb(mdb_txn_commit(txn), "commit");
    uint8_t value[64];
    randombytes_buf(value, sizeof value);
    uint64_t next = 0;
    long commits = 0;
    int64_t t0 = now_ns(), until = t0 + (int64_t)(seconds * 1e9), t;
    do {
        check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "begin");
        for (int i = 0; i < batch; i++) {
            uint8_t key[8];
            uint64_t k = ++next;
            for (int b = 7; b >= 0; b--, k >>= 8)
                key[b] = (uint8_t)k;
            MDB_val kv = {sizeof key, key}, dv = {sizeof value, value};
            check_mdb(mdb_put(txn, dbi, &kv, &dv, 0), "put");
        }
        check_mdb(mdb_txn_commit(txn), "commit");
        commits++;
    } while ((t = now_ns()) < until);
    mdb_env_close(env);
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    return (double)commits / ((double)(t - t0) / 1e9);
}

/* --- talking to the gateway outside the load ------------------------------------- */

/* Logs in as admin at the gateway's ZeroMQ door ep. Returns 0 with the
 * session token in token, or -1 with *st set. */
static int login(const char *ep, const char *password, char *token, size_t cap, crm_status_t *st)
{
    crm_client_t *cli = crm_client_new(ep);
    if (!cli)
        die("client %s: %s", ep, zmq_strerror(errno));
    Crm__Identity__V1__LoginRequest req = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.login = "admin";
    req.password = (char *)password;
    Crm__Identity__V1__LoginReply *r = crm_client_call_msg(
        cli, METHOD_LOGIN, NULL, &req.base, &crm__identity__v1__login_reply__descriptor, 20000, st);
    crm_client_destroy(&cli);
    if (!r)
        return -1;
    snprintf(token, cap, "%s", r->token);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return 0;
}

/* Calls method with in, in the session of token (NULL: none), on cli; returns
 * the reply as out_desc (free with protobuf_c_message_free_unpacked). On a
 * failure: NULL with *st set, or, when st is NULL, dies saying what failed. */
static inline void *bench_call(crm_client_t *cli, const char *token, const char *method, const ProtobufCMessage *in,
                               const ProtobufCMessageDescriptor *out_desc, crm_status_t *st)
{
    crm_status_t own;
    void *r = crm_client_call_msg(cli, method, token, in, out_desc, CALL_TIMEOUT_MS, st ? st : &own);
    if (!r && !st)
        die("%s: %s: %s%s%s", method, crm_code_name(own.code), own.message, own.field[0] ? " field " : "",
            own.field);
    return r;
}

/* The stages an opportunity of team 0 may be in and stay open (not won nor
 * lost), by sequence, into ids (room for MAX_STAGES). Returns their number. */
static inline int open_stages(crm_client_t *cli, const char *token, int64_t *ids)
{
    Crm__Pipeline__V1__ListStagesRequest lr = CRM__PIPELINE__V1__LIST_STAGES_REQUEST__INIT;
    lr.type = OPPORTUNITY;
    Crm__Pipeline__V1__ListStagesReply *r =
        bench_call(cli, token, PL "ListStages", &lr.base, &crm__pipeline__v1__list_stages_reply__descriptor, NULL);
    int n = 0;
    for (size_t i = 0; i < r->n_stages && n < MAX_STAGES; i++)
        if (r->stages[i]->status != CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_WON &&
            r->stages[i]->status != CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_LOST)
            ids[n++] = r->stages[i]->id;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return n;
}

/* --- Health through the gateway: the transport floor -------------------------------- */

/* A good Health reply of the service named by arg (a const char *). */
static inline int health_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                               char *msg, size_t cap)
{
    const char *service = arg;
    Crm__Health__V1__CheckReply *r = crm__health__v1__check_reply__unpack(alloc, len, body);
    int rc = r && !strcmp(r->service, service) && !strcmp(r->status, "SERVING") ? 0 : -1;
    if (rc)
        snprintf(msg, cap, "Health: %s %s", r ? r->service : "not a CheckReply", r ? r->status : "");
    return rc;
}

/* The load "Health via gateway" of service at the gateway's door endpoint;
 * its request is packed into buf (cap bytes), which must outlive it. */
static inline load_t health_load(const char *endpoint, const char *service, uint8_t *buf, size_t cap)
{
    Crm__Health__V1__CheckRequest hr = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    hr.service = (char *)service;
    size_t len = pack_body(&hr.base, buf, cap);
    if (len > cap)
        die("Health request of %zu bytes", len);
    return (load_t){.name = "Health via gateway", .kind = LOAD_CRM, .endpoint = endpoint, .method = METHOD_HEALTH,
                    .body = buf, .body_len = len, .check = health_check, .arg = (void *)service};
}

/* --- UpdateLead n, as the paced runs send it ------------------------------------------ */

#define REV_BASE 900000000000LL /* UpdateLead n sets expectedRevenue REV_BASE + n (minor units) */

/* UpdateLead n: leads[n % n_leads] gets expectedRevenue REV_BASE + n (a
 * value no other change gives, which what it causes carries back) and moves
 * to stages[(pass + stage_offset) % n_stages] on each pass over the leads. */
typedef struct {
    const int64_t *leads;
    int n_leads;
    const int64_t *stages;
    int n_stages;
    int stage_offset;
    uint64_t next;   /* the next change to send */
} updates_t;

static inline void update_fields(const updates_t *u, uint64_t n, int64_t *lead, int64_t *revenue, int64_t *stage)
{
    *lead = u->leads[n % (uint64_t)u->n_leads];
    *revenue = REV_BASE + (int64_t)n;
    *stage = u->stages[(n / (uint64_t)u->n_leads + (uint64_t)u->stage_offset) % (uint64_t)u->n_stages];
}

/* Change n's UpdateLeadRequest packed into buf (when it fits cap); returns its length. */
static inline size_t update_pack(const updates_t *u, uint64_t n, uint8_t *buf, size_t cap)
{
    static char *paths[] = {"expected_revenue", "stage_id"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = 2;
    Crm__Pipeline__V1__UpdateLeadRequest r = CRM__PIPELINE__V1__UPDATE_LEAD_REQUEST__INIT;
    update_fields(u, n, &r.id, &r.expected_revenue, &r.stage_id);
    r.update_mask = &mask;
    return pack_body(&r.base, buf, cap);
}

/* Judges change tag's reply body: the lead with its revenue and stage.
 * Returns 0, or -1 with msg filled. */
static inline int update_judge(const updates_t *u, uint64_t tag, const uint8_t *body, size_t len,
                               ProtobufCAllocator *alloc, char *msg, size_t cap)
{
    Crm__Pipeline__V1__Lead *l = unpack_reply(&crm__pipeline__v1__lead__descriptor, "UpdateLead", alloc, body, len,
                                              msg, cap);
    if (!l)
        return -1;
    int64_t lead, revenue, stage;
    update_fields(u, tag, &lead, &revenue, &stage);
    if (l->id != lead || l->expected_revenue != revenue || l->stage_id != stage) {
        snprintf(msg, cap, "UpdateLead %llu gave lead %lld revenue %lld stage %lld", (unsigned long long)tag,
                 (long long)l->id, (long long)l->expected_revenue, (long long)l->stage_id);
        return -1;
    }
    return 0;
}

/* --- results: series over repetitions, the table's rows, the verdicts -------------- */

/* Results of one configuration over the repetitions. */
typedef struct {
    double rps[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS];
    int n;
    long errors;
    char error[200];
} series_t;

static void series_add(series_t *s, const result_t *r)
{
    if (s->n == MAX_REPS)
        die("more than %d repetitions", MAX_REPS);
    s->rps[s->n] = r->rps;
    s->p50[s->n] = r->p50_ms;
    s->p99[s->n] = r->p99_ms;
    s->n++;
    add_errors(&s->errors, s->error, sizeof s->error, r->errors, r->error);
}

static double s_rps(const series_t *s) { return median(s->rps, s->n); }
static double s_p50(const series_t *s) { return median(s->p50, s->n); }
static double s_p99(const series_t *s) { return median(s->p99, s->n); }

/* Failed requests of every row printed so far. */
static long total_errors;

/* One run of L with clients in flight, added to s; its figures go to stderr
 * as progress. r (optional) receives the run's result. */
static void measure(const load_t *L, int clients, double warm, double dur, int rep, int reps,
                    series_t *s, result_t *out)
{
    result_t r;
    run_load(L, clients, warm, dur, &r);
    series_add(s, &r);
    fprintf(stderr, "  [%d/%d] %-22s %3d clients: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s%s\n",
            rep + 1, reps, L->name, clients, r.rps, r.p50_ms, r.p99_ms, r.errors ? "  ERRORS: " : "",
            r.errors ? r.error : "");
    if (out)
        *out = r;
}

/* One line of the table: the median figures, their ratio to a floor, and any
 * errors (a figure with errors says so). */
static void print_row(const char *label, const series_t *s, const char *floor_name, double floor)
{
    char head[80];
    snprintf(head, sizeof head, "%s:", label);
    printf("  %-30s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms", head, s_rps(s), s_p50(s), s_p99(s));
    if (floor_name && floor > 0)
        printf("  = %5.2f x %s (%.0f/s)", s_rps(s) / floor, floor_name, floor);
    if (s->errors) {
        printf("  ERRORS: %ld (first: %s)", s->errors, s->error);
        total_errors += s->errors;
    }
    printf("\n");
}

/* One verdict line; returns 1 if the target was measured and met. */
static int target(const char *what, int measured, int met, const char *fmt, double v)
{
    char value[64];
    snprintf(value, sizeof value, fmt, v);
    printf("target %-44s %s (%s)\n", what, !measured ? "NOT MEASURED" : met ? "MET" : "NOT MET",
           measured ? value : "-");
    return measured && met;
}

#endif
