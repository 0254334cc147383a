/* bench_gateway: the gateway's throughput and latency, each figure printed
 * as a ratio of a floor measured in the same run, on the same machine, with
 * the same load shape.
 *
 * Load shape: N clients, each one socket keeping exactly one request in
 * flight over tcp loopback, all driven from one thread with zmq_poll, so N is
 * the number of requests in flight. A configuration runs a warm-up, then a
 * measured window; every latency completed in the window is kept.
 *
 * Ours: authenticated WhoAmI (a read) through the ZeroMQ door and the HTTP
 * (Twirp) door, and Login (argon2id, then a durable commit) through the
 * ZeroMQ door. Floors: a raw ZeroMQ ROUTER echo (one hop, no protobuf, no
 * LMDB), the same echo behind a zmq_proxy (two hops, as client -> gateway ->
 * service), raw durable LMDB commits, and argon2id verification with the
 * parameters identity uses.
 *
 * The program is also its own helper processes: --serve-echo and
 * --serve-proxy are the floors' servers, exec'd so that each is a process of
 * its own as the real services are; --free-ports and --wait-ready serve
 * run.sh. */
#include "client.pb-c.h"
#include "crm_client.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define METHOD_LOGIN "crm.identity.v1.Identity/Login"
#define METHOD_WHOAMI "crm.identity.v1.Identity/WhoAmI"
#define METHOD_HEALTH "crm.health.v1.Health/Check"
#define MAX_CLIENTS 1024
#define MAX_SWEEP 16
#define MAX_REPS 15
#define DRAIN_NS 8000000000LL /* a Login batch of argon2id hashes may take seconds */
#define HTTP_BUF 16384
#define CODE_OK CRM__RPC__V1__CODE__CODE_OK

/* --- small helpers ---------------------------------------------------------- */

static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_gateway: ");
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

static double median(const double *v, int n)
{
    double tmp[MAX_REPS];
    if (n <= 0)
        return 0;
    memcpy(tmp, v, (size_t)n * sizeof *tmp);
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* VmRSS of pid in KiB, or -1 when it can't be read. */
static long rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

/* --- helper processes: the floors' servers ------------------------------------ */

/* Writes the endpoint a socket is bound to, one line, to fd. */
static void announce(void *socket, int fd)
{
    char ep[256];
    size_t len = sizeof ep;
    if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
        die("ZMQ_LAST_ENDPOINT: %s", zmq_strerror(errno));
    dprintf(fd, "%s\n", ep);
    close(fd);
}

static void *bound_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    int linger = 0;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(s, "tcp://127.0.0.1:*") != 0)
        die("bind: %s", zmq_strerror(errno));
    return s;
}

/* The echo floor: a ROUTER that sends every message back frame by frame,
 * envelope included. No decoding, no storage: the least a service can do. */
static int serve_echo(int fd)
{
    void *ctx = zmq_ctx_new();
    void *s = bound_socket(ctx, ZMQ_ROUTER);
    announce(s, fd);
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            if (errno == EINTR)
                continue;
            die("echo recv: %s", zmq_strerror(errno));
        }
        int more = zmq_msg_more(&m);
        if (zmq_msg_send(&m, s, more ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close(&m);
    }
}

/* The middle hop of the two-hop floor: ROUTER in front, DEALER behind,
 * connected to an echo server as the gateway connects to a service. */
static int serve_proxy(int fd, const char *backend_ep)
{
    void *ctx = zmq_ctx_new();
    void *front = bound_socket(ctx, ZMQ_ROUTER);
    void *back = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    if (!back || zmq_setsockopt(back, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(back, backend_ep) != 0)
        die("proxy backend %s: %s", backend_ep, zmq_strerror(errno));
    announce(front, fd);
    zmq_proxy(front, back, NULL);
    die("zmq_proxy: %s", zmq_strerror(errno));
}

/* Starts this program again as a helper; returns its pid and the endpoint it
 * announced. The helper dies with us (PR_SET_PDEATHSIG). */
static pid_t spawn_helper(const char *mode, const char *arg, char *ep, size_t cap)
{
    int p[2];
    if (pipe(p) != 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        close(p[0]);
        char fdtext[16];
        snprintf(fdtext, sizeof fdtext, "%d", p[1]);
        char *argv[] = {"bench_gateway", (char *)mode, fdtext, (char *)arg, NULL};
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(p[0], ep + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (memchr(ep, '\n', n))
            break;
    }
    close(p[0]);
    ep[n] = 0;
    char *nl = strchr(ep, '\n');
    if (!nl)
        die("helper %s announced no endpoint", mode);
    *nl = 0;
    return pid;
}

/* --- the load generator ---------------------------------------------------------- */

typedef enum { LOAD_ECHO, LOAD_CRM, LOAD_HTTP } load_kind_t;

/* What every client of one configuration sends. */
typedef struct {
    const char *name;
    load_kind_t kind;
    const char *endpoint;          /* ECHO, CRM: ZeroMQ endpoint */
    struct sockaddr_in addr;       /* HTTP */
    const uint8_t *payload;        /* ECHO: the frame; HTTP: the whole request */
    size_t payload_len;
    const char *method, *token;    /* CRM */
    const uint8_t *body;           /* CRM: the method's request, packed */
    size_t body_len;
} load_t;

typedef struct {
    void *zsock;
    int fd;
    int busy;
    int64_t sent;
    uint64_t id;
    char *in;                      /* HTTP: bytes of the reply so far */
    size_t in_len;
} client_t;

typedef struct {
    double rps, p50_ms, p99_ms;
    long ok, errors;
    char error[200];               /* the first one */
} result_t;

static void *zctx;

static int http_connect(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
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
    uint8_t buf[1024];
    if (L->kind == LOAD_CRM) {
        Crm__Client__V1__ClientRequest req = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
        req.id = ++c->id;
        req.method = (char *)L->method;
        req.token = (char *)(L->token ? L->token : "");
        req.body.data = (uint8_t *)L->body;
        req.body.len = L->body_len;
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
        Crm__Client__V1__ClientReply *r =
            crm__client__v1__client_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        if (!r) {
            snprintf(msg, cap, "reply is not a ClientReply");
            rc = 2;
        } else {
            if (r->id != c->id) {
                snprintf(msg, cap, "reply id %llu, expected %llu", (unsigned long long)r->id,
                         (unsigned long long)c->id);
                rc = 2;
            } else if (r->status && r->status->code != CODE_OK) {
                snprintf(msg, cap, "%s: %s%s%s", crm_code_name(r->status->code), r->status->message,
                         r->status->field[0] ? " field " : "", r->status->field);
                rc = 2;
            }
            crm__client__v1__client_reply__free_unpacked(r, NULL);
        }
    }
    zmq_msg_close(&m);
    return rc;
}

/* Runs n clients of L: warm_s seconds unmeasured, then dur_s seconds in which
 * every good reply is counted and its latency kept; then waits for the
 * requests still in flight (any not answered are errors). */
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
#define NOTE_ERROR()                                                                               \
    do {                                                                                           \
        if (!res->errors++)                                                                        \
            snprintf(res->error, sizeof res->error, "%s", msg);                                    \
    } while (0)
    int in_flight = 0;
    for (int i = 0; i < n; i++) {
        if (client_send(L, &cl[i], msg, sizeof msg) != 0)
            NOTE_ERROR();
        else
            in_flight++;
    }
    int64_t drain_until = 0;
    for (;;) {
        int64_t now = now_ns();
        if (now >= t_end && !drain_until)
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
                if (st == 1 && t >= t_start && t < t_end) {
                    res->ok++;
                    samples_add(&lat, t - c->sent);
                } else if (st != 1) {
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
                if (t < t_end) {
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
        res->errors += in_flight - 1;
        NOTE_ERROR();
    }
#undef NOTE_ERROR
    qsort(lat.v, lat.n, sizeof *lat.v, cmp_i64);
    res->rps = (double)res->ok / dur_s;
    res->p50_ms = quantile_ms(&lat, 0.50);
    res->p99_ms = quantile_ms(&lat, 0.99);
    for (int i = 0; i < n; i++)
        client_close(&cl[i]);
    free(lat.v);
    free(items);
    free(cl);
}

/* --- floors without a network ---------------------------------------------------- */

static void check_mdb(int rc, const char *what)
{
    if (rc)
        die("LMDB %s: %s", what, mdb_strerror(rc));
}

/* Durable commits of batch records each (64-byte values under big-endian
 * keys, default flags: every commit is synced) for seconds. Returns
 * commits/s. */
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

/* argon2id verifications/s with identity's parameters, on one core, as
 * identity runs them. At least three, however long they take. */
static double argon2_floor(unsigned long long ops, size_t mem, double seconds)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, "bench password", 14, ops, mem) != 0)
        die("argon2id: out of memory");
    long n = 0;
    int64_t t0 = now_ns(), until = t0 + (int64_t)(seconds * 1e9), t;
    do {
        if (crypto_pwhash_str_verify(hash, "bench password", 14) != 0)
            die("argon2id verify failed");
        n++;
    } while ((t = now_ns()) < until || n < 3);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* --- talking to the gateway outside the load ------------------------------------- */

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

static int whoami_once(const char *ep, const char *token, crm_status_t *st)
{
    crm_client_t *cli = crm_client_new(ep);
    if (!cli)
        die("client %s: %s", ep, zmq_strerror(errno));
    Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *u = crm_client_call_msg(cli, METHOD_WHOAMI, token, &req.base,
                                              &crm__identity__v1__user__descriptor, 5000, st);
    crm_client_destroy(&cli);
    if (!u)
        return -1;
    protobuf_c_message_free_unpacked(u, NULL);
    return 0;
}

/* --wait-ready EP SECONDS: until identity answers a health check through the
 * gateway. */
static int wait_ready(const char *ep, double seconds)
{
    int64_t until = now_ns() + (int64_t)(seconds * 1e9);
    crm_status_t st;
    crm_status_clear(&st);
    crm_client_t *cli = crm_client_new(ep);
    if (!cli)
        die("client %s: %s", ep, zmq_strerror(errno));
    while (now_ns() < until) {
        Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
        req.service = "identity";
        ProtobufCMessage *r = crm_client_call_msg(cli, METHOD_HEALTH, NULL, &req.base,
                                                  &crm__health__v1__check_reply__descriptor, 300, &st);
        if (r) {
            protobuf_c_message_free_unpacked(r, NULL);
            crm_client_destroy(&cli);
            return 0;
        }
        usleep(100000);
    }
    crm_client_destroy(&cli);
    fprintf(stderr, "bench_gateway: %s not ready within %.0f s (%s: %s)\n", ep, seconds,
            crm_code_name(st.code), st.message);
    return 1;
}

/* --free-ports N: N distinct free tcp ports on 127.0.0.1, space-separated. */
static int free_ports(int n)
{
    int fds[64];
    if (n < 1 || n > 64)
        die("--free-ports takes 1 to 64");
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {0};
        socklen_t len = sizeof a;
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            bind(fds[i], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &len) != 0)
            die("free port: %s", strerror(errno));
        printf("%s%d", i ? " " : "", ntohs(a.sin_port));
    }
    printf("\n");
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

/* --- the run --------------------------------------------------------------------- */

typedef struct {
    const char *zmq, *http, *password, *cheap_zmq, *tmp;
    long identity_pid, gateway_pid;
    int clients[MAX_SWEEP], n_clients;
    double seconds, warmup, login_seconds;
    int reps;
    long pw_ops, pw_mem_kib;
    int strict;
} options_t;

/* Results of one configuration over the repetitions. */
typedef struct {
    double rps[MAX_REPS], p50[MAX_REPS], p99[MAX_REPS];
    int n;
    long errors;
    char error[200];
} series_t;

static void series_add(series_t *s, const result_t *r)
{
    s->rps[s->n] = r->rps;
    s->p50[s->n] = r->p50_ms;
    s->p99[s->n] = r->p99_ms;
    s->n++;
    if (r->errors && !s->errors)
        snprintf(s->error, sizeof s->error, "%s", r->error);
    s->errors += r->errors;
}

static double s_rps(const series_t *s) { return median(s->rps, s->n); }
static double s_p50(const series_t *s) { return median(s->p50, s->n); }
static double s_p99(const series_t *s) { return median(s->p99, s->n); }

static long total_errors;

static void measure(const load_t *L, int clients, double warm, double dur, int rep, int reps,
                    series_t *s)
{
    result_t r;
    run_load(L, clients, warm, dur, &r);
    series_add(s, &r);
    fprintf(stderr, "  [%d/%d] %-22s %3d clients: %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s%s\n",
            rep + 1, reps, L->name, clients, r.rps, r.p50_ms, r.p99_ms, r.errors ? "  ERRORS: " : "",
            r.errors ? r.error : "");
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

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_gateway --zmq EP --http HOST:PORT --password PW [flags]\n"
            "  --zmq EP              the gateway's ZeroMQ door\n"
            "  --http HOST:PORT      the gateway's HTTP door\n"
            "  --password PW         admin's password\n"
            "  --cheap-zmq EP        a second gateway whose identity hashes with argon2id 1 pass,\n"
            "                        8 KiB (Login without the cost of the hash); optional\n"
            "  --identity-pid PID, --gateway-pid PID   for RSS\n"
            "  --tmp DIR             where the LMDB floor writes (the services' file system)\n"
            "  --clients 1,16,64     in-flight requests to sweep\n"
            "  --seconds 2 --warmup 0.5 --reps 3   measured window, warm-up, repetitions\n"
            "  --login-seconds 3     window of each Login run (once, not repeated)\n"
            "  --pwhash-ops 2 --pwhash-mem-kib 65536   identity's argon2id parameters\n"
            "  --strict              exit 3 when a target is missed\n"
            "helpers: --free-ports N | --wait-ready EP SECONDS\n");
    exit(2);
}

static void parse_clients(options_t *o, const char *text)
{
    o->n_clients = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int n = atoi(t);
        if (n < 1 || n > MAX_CLIENTS || o->n_clients == MAX_SWEEP)
            die("--clients: %s (1..%d, at most %d values)", t, MAX_CLIENTS, MAX_SWEEP);
        o->clients[o->n_clients++] = n;
    }
    free(copy);
    if (!o->n_clients)
        die("--clients is empty");
}

static void parse_options(options_t *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"zmq", 1, 0, 'z'},          {"http", 1, 0, 'h'},         {"password", 1, 0, 'p'},
        {"cheap-zmq", 1, 0, 'c'},    {"identity-pid", 1, 0, 'I'}, {"gateway-pid", 1, 0, 'G'},
        {"tmp", 1, 0, 't'},          {"clients", 1, 0, 'n'},      {"seconds", 1, 0, 's'},
        {"warmup", 1, 0, 'w'},       {"reps", 1, 0, 'r'},         {"login-seconds", 1, 0, 'l'},
        {"pwhash-ops", 1, 0, 'o'},   {"pwhash-mem-kib", 1, 0, 'm'}, {"strict", 0, 0, 'S'},
        {"help", 0, 0, '?'},         {0, 0, 0, 0},
    };
    *o = (options_t){.password = "", .tmp = "/tmp", .seconds = 2, .warmup = 0.5, .reps = 3,
                     .login_seconds = 3, .pw_ops = 2, .pw_mem_kib = 65536};
    parse_clients(o, "1,16,64");
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'z': o->zmq = optarg; break;
        case 'h': o->http = optarg; break;
        case 'p': o->password = optarg; break;
        case 'c': o->cheap_zmq = optarg; break;
        case 'I': o->identity_pid = atol(optarg); break;
        case 'G': o->gateway_pid = atol(optarg); break;
        case 't': o->tmp = optarg; break;
        case 'n': parse_clients(o, optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'w': o->warmup = atof(optarg); break;
        case 'r': o->reps = atoi(optarg); break;
        case 'l': o->login_seconds = atof(optarg); break;
        case 'o': o->pw_ops = atol(optarg); break;
        case 'm': o->pw_mem_kib = atol(optarg); break;
        case 'S': o->strict = 1; break;
        default: usage();
        }
    }
    if (!o->zmq || optind != argc || o->seconds <= 0 || o->warmup < 0 || o->reps < 1 ||
        o->reps > MAX_REPS || o->login_seconds <= 0)
        usage();
}

static void http_address(const char *text, struct sockaddr_in *a)
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

static char *http_request(const char *path, const char *type, const char *token, const char *body)
{
    char *text;
    if (asprintf(&text,
                 "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                 "Authorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n%s",
                 path, type, token, strlen(body), body) < 0)
        die("out of memory");
    return text;
}

static void print_rss(const char *name, long pid, long idle, long after)
{
    if (pid <= 0)
        return;
    printf("  %-14s pid %-7ld idle %6.1f MiB   after load %6.1f MiB\n", name, pid, idle / 1024.0,
           after / 1024.0);
}

static int target(const char *what, int measured, int met, const char *fmt, double v)
{
    char value[64];
    snprintf(value, sizeof value, fmt, v);
    printf("target %-44s %s (%s)\n", what, !measured ? "NOT MEASURED" : met ? "MET" : "NOT MET",
           measured ? value : "-");
    return measured && met;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--serve-echo"))
        return serve_echo(atoi(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "--serve-proxy"))
        return serve_proxy(atoi(argv[2]), argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--free-ports"))
        return free_ports(atoi(argv[2]));
    if (argc == 4 && !strcmp(argv[1], "--wait-ready"))
        return wait_ready(argv[2], atof(argv[3]));

    options_t o;
    parse_options(&o, argc, argv);
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* the floors' servers: one echo process for the direct floor; for the
     * two-hop floor an echo process behind a proxy process */
    char ep_direct[256], ep_worker[256], ep_proxy[256];
    pid_t helpers[3];
    helpers[0] = spawn_helper("--serve-echo", NULL, ep_direct, sizeof ep_direct);
    helpers[1] = spawn_helper("--serve-echo", NULL, ep_worker, sizeof ep_worker);
    helpers[2] = spawn_helper("--serve-proxy", ep_worker, ep_proxy, sizeof ep_proxy);
    zctx = zmq_ctx_new();
    if (!zctx)
        die("zmq_ctx_new: %s", zmq_strerror(errno));

    long rss_id_idle = o.identity_pid > 0 ? rss_kib(o.identity_pid) : -1;
    long rss_gw_idle = o.gateway_pid > 0 ? rss_kib(o.gateway_pid) : -1;

    crm_status_t st;
    char token[256], cheap_token[256] = "";
    int64_t t_login = now_ns();
    if (login(o.zmq, o.password, token, sizeof token, &st) != 0)
        die("Login as admin: %s: %s", crm_code_name(st.code), st.message);
    double first_login_ms = (double)(now_ns() - t_login) / 1e6;
    if (whoami_once(o.zmq, token, &st) != 0)
        die("WhoAmI: %s: %s", crm_code_name(st.code), st.message);
    if (o.cheap_zmq && login(o.cheap_zmq, o.password, cheap_token, sizeof cheap_token, &st) != 0)
        die("Login as admin at %s: %s: %s", o.cheap_zmq, crm_code_name(st.code), st.message);

    /* the requests: the echo floors send a frame the size of our WhoAmI
     * request, so the bytes on the wire match */
    Crm__Client__V1__ClientRequest sample = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
    sample.id = 100000;
    sample.method = METHOD_WHOAMI;
    sample.token = token;
    size_t echo_len = crm__client__v1__client_request__get_packed_size(&sample);
    uint8_t *echo_payload = xcalloc(1, echo_len);
    memset(echo_payload, 'x', echo_len);
    Crm__Identity__V1__LoginRequest lr = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    lr.login = "admin";
    lr.password = (char *)o.password;
    size_t login_len = crm__identity__v1__login_request__get_packed_size(&lr);
    uint8_t *login_body = xcalloc(1, login_len);
    crm__identity__v1__login_request__pack(&lr, login_body);

    load_t direct = {.name = "echo direct", .kind = LOAD_ECHO, .endpoint = ep_direct,
                     .payload = echo_payload, .payload_len = echo_len};
    load_t twohop = direct;
    twohop.name = "echo two-hop";
    twohop.endpoint = ep_proxy;
    load_t who_zmq = {.name = "WhoAmI zmq", .kind = LOAD_CRM, .endpoint = o.zmq,
                      .method = METHOD_WHOAMI, .token = token};
    load_t who_http = {.name = "WhoAmI http", .kind = LOAD_HTTP}, who_json;
    char *req_pb = NULL, *req_json = NULL;
    if (o.http) {
        http_address(o.http, &who_http.addr);
        req_pb = http_request("/twirp/" METHOD_WHOAMI, "application/protobuf", token, "");
        req_json = http_request("/twirp/" METHOD_WHOAMI, "application/json", token, "{}");
        who_http.payload = (const uint8_t *)req_pb;
        who_http.payload_len = strlen(req_pb);
        who_json = who_http;
        who_json.name = "WhoAmI http json";
        who_json.payload = (const uint8_t *)req_json;
        who_json.payload_len = strlen(req_json);
    }
    load_t login_zmq = {.name = "Login zmq", .kind = LOAD_CRM, .endpoint = o.zmq,
                        .method = METHOD_LOGIN, .body = login_body, .body_len = login_len};
    load_t login_cheap = login_zmq;
    login_cheap.name = "Login zmq cheap-hash";
    login_cheap.endpoint = o.cheap_zmq;

    int i16 = -1;
    for (int i = 0; i < o.n_clients; i++)
        if (o.clients[i] == 16)
            i16 = i;
    double per_run = o.warmup + o.seconds + 0.1;
    double estimate = o.reps * (o.n_clients * (o.http ? 4 : 3) + (o.http && i16 >= 0)) * per_run +
                      2 * (o.warmup + o.login_seconds + 1) * (o.cheap_zmq ? 2 : 1) + 4 + 3;
    fprintf(stderr, "bench_gateway: about %.0f s; floors at %s (direct), %s (two-hop via %s)\n",
            estimate, ep_direct, ep_proxy, ep_worker);

    /* repetitions interleave floors and ours, so a noisy second hurts both */
    series_t s_direct[MAX_SWEEP] = {0}, s_twohop[MAX_SWEEP] = {0}, s_zmq[MAX_SWEEP] = {0},
             s_http[MAX_SWEEP] = {0}, s_json = {0};
    for (int rep = 0; rep < o.reps; rep++) {
        for (int i = 0; i < o.n_clients; i++) {
            int n = o.clients[i];
            measure(&direct, n, o.warmup, o.seconds, rep, o.reps, &s_direct[i]);
            measure(&twohop, n, o.warmup, o.seconds, rep, o.reps, &s_twohop[i]);
            measure(&who_zmq, n, o.warmup, o.seconds, rep, o.reps, &s_zmq[i]);
            if (o.http)
                measure(&who_http, n, o.warmup, o.seconds, rep, o.reps, &s_http[i]);
        }
        if (o.http && i16 >= 0)
            measure(&who_json, 16, o.warmup, o.seconds, rep, o.reps, &s_json);
    }

    /* Login hashes a password on identity's one thread: few clients, once,
     * each next to its floor (the machine's load drifts) */
    static const int login_clients[2] = {1, 4};
    series_t s_login[2] = {0}, s_cheap[2] = {0};
    double argon = argon2_floor((unsigned long long)o.pw_ops, (size_t)o.pw_mem_kib * 1024, 2.0);
    fprintf(stderr, "  %-34s %9.2f /s\n", "argon2id verify floor", argon);
    for (int i = 0; i < 2; i++)
        measure(&login_zmq, login_clients[i], o.warmup, o.login_seconds, 0, 1, &s_login[i]);
    double lmdb1 = lmdb_floor(o.tmp, 1, 2.0);
    fprintf(stderr, "  %-34s %9.0f commits/s\n", "LMDB 1-record commit floor", lmdb1);
    if (o.cheap_zmq)
        for (int i = 0; i < 2; i++)
            measure(&login_cheap, login_clients[i], o.warmup, o.login_seconds, 0, 1, &s_cheap[i]);
    double lmdb32 = lmdb_floor(o.tmp, 32, 2.0);
    fprintf(stderr, "  %-34s %9.0f records/s\n", "LMDB 32-record commit floor", lmdb32 * 32);

    long rss_id_after = o.identity_pid > 0 ? rss_kib(o.identity_pid) : -1;
    long rss_gw_after = o.gateway_pid > 0 ? rss_kib(o.gateway_pid) : -1;
    for (int i = 0; i < 3; i++) {
        kill(helpers[i], SIGTERM);
        waitpid(helpers[i], NULL, 0);
    }

    /* --- the table ------------------------------------------------------------- */
    char label[96];
    printf("\n== crm-gateway benchmark: each client one socket (ZeroMQ DEALER or HTTP/1.1 "
           "keep-alive) keeping one request in flight over tcp loopback, all from one thread\n");
    printf("   (clients = requests in flight; %.1f s measured after %.1f s warm-up; medians of %d "
           "runs; %ld cores online)\n",
           o.seconds, o.warmup, o.reps, sysconf(_SC_NPROCESSORS_ONLN));
    printf("floors, same run:\n");
    for (int i = 0; i < o.n_clients; i++) {
        snprintf(label, sizeof label, "echo direct %d clients", o.clients[i]);
        print_row(label, &s_direct[i], NULL, 0);
    }
    for (int i = 0; i < o.n_clients; i++) {
        snprintf(label, sizeof label, "echo two-hop %d clients", o.clients[i]);
        print_row(label, &s_twohop[i], "direct echo", s_rps(&s_direct[i]));
    }
    printf("  %-30s %9.0f commits/s\n", "LMDB durable, 1 record/commit:", lmdb1);
    printf("  %-30s %9.0f records/s (%.0f commits/s)\n", "LMDB durable, 32 records/commit:",
           lmdb32 * 32, lmdb32);
    snprintf(label, sizeof label, "argon2id verify (%ld, %ld KiB):", o.pw_ops, o.pw_mem_kib);
    printf("  %-30s %9.2f /s on one core (%.0f ms each)\n", label, argon, 1000 / argon);
    printf("ours:\n");
    for (int i = 0; i < o.n_clients; i++) {
        snprintf(label, sizeof label, "WhoAmI zmq %d clients", o.clients[i]);
        print_row(label, &s_zmq[i], "two-hop floor", s_rps(&s_twohop[i]));
    }
    if (o.http) {
        for (int i = 0; i < o.n_clients; i++) {
            snprintf(label, sizeof label, "WhoAmI http %d clients", o.clients[i]);
            print_row(label, &s_http[i], "two-hop floor", s_rps(&s_twohop[i]));
        }
        if (i16 >= 0)
            print_row("WhoAmI http json 16 clients", &s_json, "two-hop floor", s_rps(&s_twohop[i16]));
    }
    for (int i = 0; i < 2; i++) {
        snprintf(label, sizeof label, "Login zmq %d clients", login_clients[i]);
        print_row(label, &s_login[i], "argon2id floor", argon);
    }
    if (o.cheap_zmq)
        for (int i = 0; i < 2; i++) {
            snprintf(label, sizeof label, "Login cheap-hash %d clients", login_clients[i]);
            print_row(label, &s_cheap[i], "1-record commit floor", lmdb1);
        }
    printf("  (Login: argon2id %ld passes, %ld KiB, identity's defaults; the first Login took %.0f ms."
           "%s)\n",
           o.pw_ops, o.pw_mem_kib, first_login_ms,
           o.cheap_zmq ? " Login cheap-hash: a second identity hashing with 1 pass, 8 KiB" : "");
    printf("memory (VmRSS):\n");
    print_rss("crm-identity", o.identity_pid, rss_id_idle, rss_id_after);
    print_rss("crm-gateway", o.gateway_pid, rss_gw_idle, rss_gw_after);

    printf("\n");
    int met = 1;
    double ratio = i16 >= 0 && s_rps(&s_twohop[i16]) > 0 ? s_rps(&s_zmq[i16]) / s_rps(&s_twohop[i16]) : 0;
    met &= target("WhoAmI/16 zmq >= 60% of two-hop floor:", i16 >= 0, ratio >= 0.60, "%.1f%%", ratio * 100);
    met &= target("WhoAmI/16 zmq p99 <= 3 ms:", i16 >= 0, i16 >= 0 && s_p99(&s_zmq[i16]) <= 3.0,
                  "%.2f ms", i16 >= 0 ? s_p99(&s_zmq[i16]) : 0);
    met &= target("crm-identity idle RSS <= 16 MiB:", rss_id_idle > 0, rss_id_idle <= 16 * 1024,
                  "%.1f MiB", rss_id_idle / 1024.0);
    met &= target("crm-gateway idle RSS <= 16 MiB:", rss_gw_idle > 0, rss_gw_idle <= 16 * 1024,
                  "%.1f MiB", rss_gw_idle / 1024.0);
    if (total_errors)
        printf("RESULT: %ld requests FAILED; the figures above are not valid\n", total_errors);
    else
        printf("RESULT: no request failed; targets %s\n", met ? "all met" : "NOT all met");

    free(req_pb);
    free(req_json);
    free(echo_payload);
    free(login_body);
    zmq_ctx_term(zctx);
    if (total_errors)
        return 1;
    return o.strict && !met ? 3 : 0;
}
