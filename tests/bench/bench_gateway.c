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
 * run.sh. What bench_pipeline shares (the load generator, the LMDB floor,
 * the rows) is in bench_common.h. */
#define BENCH_PROG "bench_gateway"
#include "bench_common.h"

#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define METHOD_WHOAMI "crm.identity.v1.Identity/WhoAmI"
#define MAX_SWEEP 16

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

/* --- floors without a network ---------------------------------------------------- */

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

/* --wait-ready EP SECONDS [SERVICE]: until SERVICE (identity) answers a
 * health check through the gateway. */
static int wait_ready(const char *ep, double seconds, const char *service)
{
    int64_t until = now_ns() + (int64_t)(seconds * 1e9);
    crm_status_t st;
    crm_status_clear(&st);
    crm_client_t *cli = crm_client_new(ep);
    if (!cli)
        die("client %s: %s", ep, zmq_strerror(errno));
    while (now_ns() < until) {
        Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
        req.service = (char *)service;
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
    fprintf(stderr, "bench_gateway: %s via %s not ready within %.0f s (%s: %s)\n", service, ep,
            seconds, crm_code_name(st.code), st.message);
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
            "helpers: --free-ports N | --wait-ready EP SECONDS [SERVICE]\n");
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

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--serve-echo"))
        return serve_echo(atoi(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "--serve-proxy"))
        return serve_proxy(atoi(argv[2]), argv[3]);
    if (argc == 3 && !strcmp(argv[1], "--free-ports"))
        return free_ports(atoi(argv[2]));
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "--wait-ready"))
        return wait_ready(argv[2], atof(argv[3]), argc == 5 ? argv[4] : "identity");

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

    long rss_id_idle = mem_of(o.identity_pid).rss;
    long rss_gw_idle = mem_of(o.gateway_pid).rss;

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
            measure(&direct, n, o.warmup, o.seconds, rep, o.reps, &s_direct[i], NULL);
            measure(&twohop, n, o.warmup, o.seconds, rep, o.reps, &s_twohop[i], NULL);
            measure(&who_zmq, n, o.warmup, o.seconds, rep, o.reps, &s_zmq[i], NULL);
            if (o.http)
                measure(&who_http, n, o.warmup, o.seconds, rep, o.reps, &s_http[i], NULL);
        }
        if (o.http && i16 >= 0)
            measure(&who_json, 16, o.warmup, o.seconds, rep, o.reps, &s_json, NULL);
    }

    /* Login hashes a password on identity's one thread: few clients, once,
     * each next to its floor (the machine's load drifts) */
    static const int login_clients[2] = {1, 4};
    series_t s_login[2] = {0}, s_cheap[2] = {0};
    double argon = argon2_floor((unsigned long long)o.pw_ops, (size_t)o.pw_mem_kib * 1024, 2.0);
    fprintf(stderr, "  %-34s %9.2f /s\n", "argon2id verify floor", argon);
    for (int i = 0; i < 2; i++)
        measure(&login_zmq, login_clients[i], o.warmup, o.login_seconds, 0, 1, &s_login[i], NULL);
    double lmdb1 = lmdb_floor(o.tmp, 1, 2.0);
    fprintf(stderr, "  %-34s %9.0f commits/s\n", "LMDB 1-record commit floor", lmdb1);
    if (o.cheap_zmq)
        for (int i = 0; i < 2; i++)
            measure(&login_cheap, login_clients[i], o.warmup, o.login_seconds, 0, 1, &s_cheap[i], NULL);
    double lmdb32 = lmdb_floor(o.tmp, 32, 2.0);
    fprintf(stderr, "  %-34s %9.0f records/s\n", "LMDB 32-record commit floor", lmdb32 * 32);

    long rss_id_after = mem_of(o.identity_pid).rss;
    long rss_gw_after = mem_of(o.gateway_pid).rss;
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
