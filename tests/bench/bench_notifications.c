/* bench_notifications: how fast a change reaches its followers, on the
 * gateway's Server-Sent Events stream and on `crmctl tail`, and what a
 * thousand open streams cost the gateway.
 *
 * Setup: --followers (20) users follow each of --leads (50) opportunities
 * that admin makes with no salesperson. Admin follows them too, as their
 * creator, but is the author of every change and is never told of it, so
 * each change gives exactly one inbox entry per follower. --sse (1,000)
 * streams are opened on GET /v1/stream: one per follower (the measured
 * ones) and the rest spread over --idle-users (70) users who follow nothing;
 * every stream is read throughout. `crmctl tail` (every user's topic, read
 * straight off the notifications service's PUB) runs as a child whose
 * stdout is a pipe to this program.
 *
 * Load: UpdateLead paced at --rate (1,000) changes a second through the
 * gateway's ZeroMQ door (open loop: each change is sent at its time, on one
 * DEALER socket with any number in flight), round robin over the opportunities;
 * each moves its opportunity to the next open stage and sets an expected
 * revenue no other change gives, which the entry's summary carries back
 * ("Expected revenue: ... → 9,000,000,012.34 EUR"). Every entry on a
 * measured stream and every tail line is matched to its change and its
 * follower; its latency is its receipt here minus the change's reply (0,
 * counted, when it came first), and minus the notification's `at` (the
 * pipeline event's, taken before pipeline's commit). A probe pass (one
 * change per opportunity) checks the setup, a --warmup (1 s) run is shown
 * but not counted, then --reps (3) runs of --seconds (5). Every change
 * answered OK must give each follower one entry on their stream and one
 * line on tail; a missing or repeated one fails the run.
 *
 * Floors in the same run: UpdateLead's own reply latency at that pace, a
 * durable one-record LMDB commit (notifications writes the entries of what
 * it took in together in one commit: delivery counted from the reply holds
 * at least that one fsync), and the probe (the same path, unloaded).
 *
 * Each run also shows the CPU time and the bytes written to storage of each
 * process (/proc/PID/stat and io) over its wall time: on 2 cores and one
 * disk they say what the latency waited for.
 *
 * Memory: crm-gateway's VmRSS and RssAnon with no stream open, with all
 * of them open and idle, after each run and at the end; crm-notifications'
 * at the end. */
#define BENCH_PROG "bench_notifications"
#include "bench_common.h"
#include "crm_config.h"
#include "../common/http_chunks.h"
#include "notifications.pb-c.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define NTF "crm.notifications.v1.Notifications/"
#define METHOD_CREATE_USER "crm.identity.v1.Identity/CreateUser"
#define MAX_USERS 256
#define MAX_SSE 20000
#define LATE_NS 5000000LL /* a paced request sent this much after its time counts as late */
#define STREAM_DRAIN_NS 3000000000LL /* how long entries may trail the last reply */
#define CONNECT_BATCH 100 /* streams opened at once, each answered before the next batch */
#define SSE_RAW_MAX (8 << 20) /* bytes of one stream not yet parsed: more is a failure */
#define TAIL_LINE_MAX (1 << 20)

enum { K_SSE, K_TAIL, K_N };
/* The followers whose entries each kind carries: SSE every follower's (one
 * measured stream each), tail the first follower's, as a developer tails a
 * user (`crmctl tail --user ID`). */
#define KIND_FOLLOWERS(k) ((k) == K_TAIL ? 1 : g.n_followers)
static const char *const kind_name[K_N] = {"SSE", "tail"};

/* --- options ------------------------------------------------------------------ */

typedef struct {
    const char *zmq, *http, *password, *tmp, *crmctl, *stream, *dump;
    int64_t gateway_pid, notifications_pid, pipeline_pid, activities_pid;
    int64_t started_us; /* when crm-notifications was started, Unix us (0: unknown) */
    int leads, followers, sse, idle_users;
    double rate, seconds, warmup, catchup_s;
    int reps;
    int strict;
} options_t;

static void parse_options(options_t *o, int argc, char **argv)
{
    int64_t leads, followers, sse, idle_users, reps;
    *o = (options_t){0};
    const crm_opt_t opts[] = {
        {"zmq", NULL, CRM_OPT_STRING, &o->zmq, NULL, "the gateway's ZeroMQ door (routes to pipeline, identity, notifications)"},
        {"http", NULL, CRM_OPT_STRING, &o->http, NULL, "the gateway's HTTP door, HOST:PORT (GET /v1/stream)"},
        {"password", NULL, CRM_OPT_STRING, &o->password, NULL, "admin's password"},
        {"crmctl", NULL, CRM_OPT_STRING, &o->crmctl, NULL, "crmctl, run as `crmctl tail --stream EP`"},
        {"stream", NULL, CRM_OPT_STRING, &o->stream, NULL, "the notifications service's live stream (PUB)"},
        {"gateway-pid", NULL, CRM_OPT_INT, &o->gateway_pid, NULL, "for VmRSS and RssAnon, and CPU time"},
        {"notifications-pid", NULL, CRM_OPT_INT, &o->notifications_pid, NULL, "for VmRSS and RssAnon, and CPU time"},
        {"pipeline-pid", NULL, CRM_OPT_INT, &o->pipeline_pid, NULL, "for CPU time"},
        {"activities-pid", NULL, CRM_OPT_INT, &o->activities_pid, NULL, "for CPU time"},
        {"notifications-started", NULL, CRM_OPT_INT, &o->started_us, NULL, "when crm-notifications was started (Unix microseconds)"},
        {"tmp", NULL, CRM_OPT_STRING, &o->tmp, "/tmp", "where the LMDB floor writes (the services' file system)"},
        {"leads", NULL, CRM_OPT_INT, &leads, "50", "opportunities changed in turn"},
        {"followers", NULL, CRM_OPT_INT, &followers, "20", "users following every one of them (one measured stream each)"},
        {"sse", NULL, CRM_OPT_INT, &sse, "1000", "streams held open on the gateway in all"},
        {"idle-users", NULL, CRM_OPT_INT, &idle_users, "70", "users the other streams belong to (they follow nothing; 16 streams a user at most)"},
        {"rate", NULL, CRM_OPT_DOUBLE, &o->rate, "1000", "UpdateLead changes a second"},
        {"catchup-timeout", NULL, CRM_OPT_DOUBLE, &o->catchup_s, "600", "seconds notifications may take to catch up on others' events"},
        {"seconds", NULL, CRM_OPT_DOUBLE, &o->seconds, "5", "measured window"},
        {"warmup", NULL, CRM_OPT_DOUBLE, &o->warmup, "1", "warm-up run"},
        {"reps", NULL, CRM_OPT_INT, &reps, "3", "repetitions"},
        {"strict", NULL, CRM_OPT_BOOL, &o->strict, NULL, "exit 3 when a target is missed"},
        {"dump", NULL, CRM_OPT_STRING, &o->dump, NULL, "every measured change, one line each: run, change, opportunity, sent, "
                                                        "and the reply, the first and the last entry on the streams and on tail (ms)"},
    };
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv,
                         "bench_notifications --zmq EP --http HOST:PORT --password PW --crmctl PATH --stream EP [flags]") != 0)
        exit(2);
    if (!*o->zmq || !*o->http || !*o->crmctl || !*o->stream)
        die("--zmq, --http, --crmctl and --stream are required (see --help)");
    o->leads = count_in("leads", leads, 1, 10000);
    o->followers = count_in("followers", followers, 1, MAX_USERS);
    o->sse = count_in("sse", sse, o->followers, MAX_SSE);
    o->idle_users = count_in("idle-users", idle_users, 1, MAX_USERS);
    o->reps = count_in("reps", reps, 1, MAX_REPS);
    if (o->seconds <= 0 || o->warmup < 0 || o->rate <= 0 || o->rate > 100000 || o->catchup_s <= 0)
        die("--seconds and --catchup-timeout must be positive, --warmup not negative, --rate in (0, 100000]");
    if (!*o->dump)
        o->dump = NULL;
}

/* CPU time (user and system) process pid has used, in seconds, or -1. */
static double cpu_seconds(long pid)
{
    char path[64], buf[2048];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the command's closing parenthesis, from field 3 (state) */
    const char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The processes whose CPU time each run is shown with. */
enum { P_GATEWAY, P_NOTIFICATIONS, P_PIPELINE, P_ACTIVITIES, P_TAIL, P_SELF, P_N };
static const char *const proc_name[P_N] = {"gateway", "notifications", "pipeline", "activities", "crmctl tail",
                                           "this program"};
static long proc_pid[P_N];

/* Bytes process pid has had written to storage (write_bytes of
 * /proc/PID/io: its pages written back, whoever wrote them back), or -1. */
static double written_bytes(long pid) { return pid > 0 ? proc_field(pid, "io", "write_bytes") : -1; }

/* Each process's CPU time and bytes written so far (-1 where unknown). */
static void proc_snapshot(double *cpu, double *io)
{
    for (int i = 0; i < P_N; i++) {
        cpu[i] = cpu_seconds(proc_pid[i]);
        io[i] = written_bytes(proc_pid[i]);
    }
}

/* --- calls outside the load ------------------------------------------------------ */

static crm_client_t *cli;

/* Calls method with in, in the session of token (NULL: none); returns the
 * reply as out_desc, or dies saying what failed. */
static void *call(const char *token, const char *method, const ProtobufCMessage *in,
                  const ProtobufCMessageDescriptor *out_desc)
{
    return bench_call(cli, token, method, in, out_desc, NULL);
}

/* Logs in as login_name; the session token goes to token. Dies on a failure. */
static void login_as(const char *login_name, const char *password, char *token, size_t cap)
{
    Crm__Identity__V1__LoginRequest req = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.login = (char *)login_name;
    req.password = (char *)password;
    Crm__Identity__V1__LoginReply *r = call(NULL, METHOD_LOGIN, &req.base, &crm__identity__v1__login_reply__descriptor);
    if ((size_t)snprintf(token, cap, "%s", r->token) >= cap)
        die("Login %s: a token of %zu bytes", login_name, strlen(r->token));
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* A user with All Leads access and a password; returns its id. */
static int64_t create_user(const char *admin, const char *login_name, const char *name, const char *password)
{
    char email[160];
    snprintf(email, sizeof email, "%s@example.com", login_name);
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = (char *)login_name;
    req.name = (char *)name;
    req.email = email;
    req.password = (char *)password;
    req.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_ALL_LEADS;
    req.hr_access = CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_EMPLOYEE;
    Crm__Identity__V1__CreateUserReply *r =
        call(admin, METHOD_CREATE_USER, &req.base, &crm__identity__v1__create_user_reply__descriptor);
    if (!r->user || r->user->id <= 0)
        die("CreateUser %s: no user in the reply", login_name);
    int64_t id = r->user->id;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return id;
}

/* An opportunity of nobody's (salespersonId 0), in stage, in EUR (whose
 * two decimals the summaries' revenue is read with). */
static int64_t create_lead(const char *admin, int i, int64_t stage)
{
    char name[64];
    snprintf(name, sizeof name, "Followed opportunity %d", i);
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    r.type = OPPORTUNITY;
    r.name = name;
    r.company_name = "Followed Ltd";
    r.currency = "EUR";
    r.expected_revenue = 100000;
    r.probability = 10;
    r.stage_id = stage;
    Crm__Pipeline__V1__Lead *l = call(admin, PL "CreateLead", &r.base, &crm__pipeline__v1__lead__descriptor);
    if (l->id <= 0 || l->salesperson_id != 0 || l->stage_id != stage)
        die("CreateLead gave lead %lld salesperson %lld stage %lld", (long long)l->id, (long long)l->salesperson_id,
            (long long)l->stage_id);
    int64_t id = l->id;
    protobuf_c_message_free_unpacked(&l->base, NULL);
    return id;
}

/* Waits until notifications knows opportunity id (it applies pipeline's
 * events in order, so it then knows every one made before): ListFollowers
 * answers OK with its creator. That it knows the users too, the probe
 * checks. Returns the seconds waited; dies after timeout_s. */
static double wait_known(const char *admin, int64_t id, double timeout_s)
{
    int64_t t0 = now_ns(), until = t0 + (int64_t)(timeout_s * 1e9);
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = id;
    Crm__Notifications__V1__ListFollowersRequest req = CRM__NOTIFICATIONS__V1__LIST_FOLLOWERS_REQUEST__INIT;
    req.doc = &doc;
    crm_status_t st;
    for (;;) {
        Crm__Notifications__V1__ListFollowersReply *r = bench_call(
            cli, admin, NTF "ListFollowers", &req.base, &crm__notifications__v1__list_followers_reply__descriptor, &st);
        size_t n = r ? r->n_followers : 0;
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        if (n > 0)
            return (double)(now_ns() - t0) / 1e9;
        if (now_ns() >= until)
            die("notifications does not know opportunity %lld after %.0f s (last answer %s: %s)", (long long)id,
                timeout_s, r ? "OK" : crm_code_name(st.code), r ? "no follower" : st.message);
        usleep(20000);
    }
}

/* The followers of opportunity id. */
static size_t count_followers(const char *admin, int64_t id)
{
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = id;
    Crm__Notifications__V1__ListFollowersRequest req = CRM__NOTIFICATIONS__V1__LIST_FOLLOWERS_REQUEST__INIT;
    req.doc = &doc;
    Crm__Notifications__V1__ListFollowersReply *r =
        call(admin, NTF "ListFollowers", &req.base, &crm__notifications__v1__list_followers_reply__descriptor);
    size_t n = r->n_followers;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return n;
}

/* --- Follow, as each follower, on every opportunity --------------------------------- */

typedef struct {
    const int64_t *leads;
    int n_leads;
    uint64_t next;
} follows_t;

static size_t follow_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    follows_t *f = arg;
    uint64_t n = f->next++;
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = f->leads[n % (uint64_t)f->n_leads];
    Crm__Notifications__V1__FollowRequest r = CRM__NOTIFICATIONS__V1__FOLLOW_REQUEST__INIT;
    r.doc = &doc;
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int follow_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    const follows_t *f = arg;
    Crm__Notifications__V1__Follower *r = crm__notifications__v1__follower__unpack(alloc, len, body);
    int64_t want = f->leads[tag % (uint64_t)f->n_leads];
    if (!r || !r->doc || r->doc->id != want || strcmp(r->doc->model, "lead") || r->user_id <= 0 || r->automatic) {
        snprintf(msg, cap, "Follow of lead %lld gave %s %lld of user %lld", (long long)want,
                 r && r->doc ? r->doc->model : "-", r && r->doc ? (long long)r->doc->id : 0LL,
                 r ? (long long)r->user_id : 0LL);
        return -1;
    }
    return 0;
}

/* --- what every change gave: replies, and entries on streams and tail ----------------- */

/* Change n is bench_common.h's UpdateLead n with stage_offset 1: its
 * opportunity moves to the next open stage of its pass (they were made in
 * stages[0]) and gets expectedRevenue REV_BASE + n (cents: 9,000,000,000.00
 * EUR + n); g.u.next is the next change to send. */
static struct {
    updates_t u;
    int n_followers;
    const int64_t *follower_ids;
    uint64_t cap;              /* room for cap changes */
    int64_t *sent_ns;          /* [n] */
    int64_t *reply_ns;         /* [n]: 0 no reply yet, -1 an error reply, else when the OK reply came */
    int64_t *got_ns[K_N];      /* [n * followers + f]: receipt of the entry (0: none) */
    int64_t *at_lag_us[K_N];   /* [n * followers + f]: receipt (CLOCK_REALTIME) - notification.at */
    uint64_t run_first, run_end; /* the changes of the run going on */
    uint64_t judged;           /* changes before this one were judged: an entry for them comes too late */
    long got_run[K_N];         /* entries of the run's changes taken so far */
    long dup[K_N], stray[K_N], too_late[K_N], idle_events;
    char stray_text[K_N][160];
} g;

/* The int64 after key (a JSON number or a proto3 JSON string) in
 * j[0, len), or -1. */
static int64_t json_int(const char *j, size_t len, const char *key)
{
    size_t klen = strlen(key);
    const char *p = memmem(j, len, key, klen), *end = j + len;
    if (!p)
        return -1;
    p += klen;
    if (p < end && *p == '"')
        p++;
    int64_t v = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 19; p++, digits++)
        v = v * 10 + (*p - '0');
    return digits ? v : -1;
}

/* The new expected revenue a summary tells, in cents: "Expected revenue:
 * 1,000.00 → 9,000,000,012.34 EUR" gives 900000001234; -1 if none. */
static int64_t summary_revenue(const char *j, size_t len)
{
    static const char label[] = "Expected revenue: ";
    const char *p = memmem(j, len, label, sizeof label - 1), *end = j + len;
    if (!p)
        return -1;
    p += sizeof label - 1;
    const char *arrow = memmem(p, (size_t)(end - p), "\xe2\x86\x92 ", 4);
    size_t skip = 4;
    if (!arrow) { /* an encoder that escapes what is not ASCII */
        arrow = memmem(p, (size_t)(end - p), "\\u2192 ", 7);
        skip = 7;
    }
    if (!arrow)
        return -1;
    int64_t v = 0;
    int digits = 0;
    for (p = arrow + skip; p < end && ((*p >= '0' && *p <= '9') || *p == ',' || *p == '.') && digits < 18; p++)
        if (*p != ',' && *p != '.') {
            v = v * 10 + (*p - '0');
            digits++;
        }
    return digits ? v : -1;
}

static void note_stray(int kind, const char *why, const char *j, size_t len)
{
    if (!g.stray[kind]++)
        snprintf(g.stray_text[kind], sizeof g.stray_text[kind], "%s: %.*s", why, (int)(len < 110 ? len : 110), j);
}

/* One notification (its JSON in j[0, len)) received at t (monotonic ns) and
 * rt (CLOCK_REALTIME us), on a measured stream of follower `follower` or on
 * tail (follower -1: any). */
static void take_entry(int kind, int follower, const char *j, size_t len, int64_t t, int64_t rt)
{
    int64_t user = json_int(j, len, "\"userId\":"), at = json_int(j, len, "\"at\":");
    const char *doc = memmem(j, len, "\"doc\":{", 7);
    int64_t doc_id = doc ? json_int(doc, len - (size_t)(doc - j), "\"id\":") : -1;
    int64_t rev = summary_revenue(j, len);
    int f = -1;
    for (int i = 0; i < g.n_followers && f < 0; i++)
        if (g.follower_ids[i] == user)
            f = i;
    if (f < 0 || (follower >= 0 && f != follower)) {
        note_stray(kind, f < 0 ? "an entry for no follower" : "an entry for another user", j, len);
        return;
    }
    if (rev < REV_BASE || (uint64_t)(rev - REV_BASE) >= g.u.next) {
        note_stray(kind, "an entry of no change sent", j, len);
        return;
    }
    uint64_t n = (uint64_t)(rev - REV_BASE);
    int64_t lead, revenue, stage;
    update_fields(&g.u, n, &lead, &revenue, &stage);
    if (doc_id != lead) {
        note_stray(kind, "an entry of another opportunity", j, len);
        return;
    }
    size_t slot = (size_t)n * (size_t)g.n_followers + (size_t)f;
    if (g.got_ns[kind][slot]) {
        g.dup[kind]++;
        return;
    }
    g.got_ns[kind][slot] = t;
    g.at_lag_us[kind][slot] = at > 0 ? rt - at : -1;
    if (n < g.judged)
        g.too_late[kind]++;
    else if (n >= g.run_first && n < g.run_end)
        g.got_run[kind]++;
}

/* --- the streams: GET /v1/stream, chunked, Server-Sent Events ------------------------- */

typedef struct {
    int fd;
    int follower;          /* the measured follower's index, -1 for an idle stream */
    int open, closed;      /* its 200 came; it ended */
    char *raw;             /* bytes read, not yet decoded */
    size_t raw_len, raw_cap;
    http_chunks_t chunks;
    char *text;            /* decoded event text, not yet parsed */
    size_t text_len, text_cap;
    long events, keepalives;
} sse_t;

static sse_t *sse;
static int n_sse, sse_open_n, sse_closed_n;
static int ep_fd = -1;
static struct sockaddr_in http_addr;

static void grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    char *b = realloc(*buf, c);
    if (!b)
        die("out of memory for a stream buffer of %zu bytes", c);
    *buf = b;
    *cap = c;
}

/* Opens stream i with token: connects, sends the request, and watches the
 * socket (its 200 is awaited by the caller). */
static void sse_start(int i, const char *token, int follower)
{
    sse_t *c = &sse[i];
    memset(c, 0, sizeof *c);
    c->follower = follower;
    if ((c->fd = http_connect(&http_addr)) < 0)
        die("stream %d: connect: %s", i, strerror(errno));
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     token);
    /* a small request on a new connection fits its socket buffer at once */
    if (n <= 0 || (size_t)n >= sizeof req || write(c->fd, req, (size_t)n) != n)
        die("stream %d: sending the request: %s", i, strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)i};
    if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
}

/* The events of c's decoded text: entries go to take_entry. */
static void sse_events(sse_t *c, int64_t t, int64_t rt)
{
    size_t at = 0;
    for (;;) {
        char *end = memmem(c->text + at, c->text_len - at, "\n\n", 2);
        if (!end)
            break;
        const char *ev = c->text + at;
        size_t len = (size_t)(end - ev);
        at = (size_t)(end + 2 - c->text);
        if (len && ev[0] == ':') {
            c->keepalives++;
            continue;
        }
        c->events++;
        const char *data = memmem(ev, len, "data: ", 6);
        if (c->follower < 0) {
            g.idle_events++;
            continue;
        }
        if (!data) {
            note_stray(K_SSE, "an event without data", ev, len);
            continue;
        }
        data += 6;
        const char *eol = memchr(data, '\n', (size_t)(ev + len - data));
        take_entry(K_SSE, c->follower, data, (size_t)((eol ? eol : ev + len) - data), t, rt);
    }
    memmove(c->text, c->text + at, c->text_len - at);
    c->text_len -= at;
}

static void sse_text_put(void *arg, const char *data, size_t len)
{
    sse_t *c = arg;
    grow(&c->text, &c->text_cap, c->text_len + len);
    memcpy(c->text + c->text_len, data, len);
    c->text_len += len;
}

/* Decodes the chunks in c->raw into c->text. */
static void sse_dechunk(sse_t *c)
{
    http_chunks_decode(&c->chunks, c->raw, &c->raw_len, sse_text_put, c);
    if (c->chunks.ended)
        c->closed = 1; /* the last chunk: the gateway ended the stream */
}

static void sse_end(sse_t *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->closed = 1;
    sse_closed_n++;
}

/* Reads what stream i has; returns when the socket is empty. */
static void sse_read(int i, int64_t t, int64_t rt)
{
    sse_t *c = &sse[i];
    /* an idle stream gets its headers and keepalives: a page will do */
    size_t room = c->follower >= 0 ? 65536 : 4096;
    while (c->fd >= 0) {
        grow(&c->raw, &c->raw_cap, c->raw_len + room);
        ssize_t n = read(c->fd, c->raw + c->raw_len, c->raw_cap - c->raw_len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (!c->open)
                die("stream %d: %s before its response", i, n ? strerror(errno) : "closed by the gateway");
            sse_end(c);
            return;
        }
        c->raw_len += (size_t)n;
        if (!c->open) {
            c->raw[c->raw_len] = 0;
            char *end = memmem(c->raw, c->raw_len, "\r\n\r\n", 4);
            if (!end)
                continue;
            int status = 0;
            sscanf(c->raw, "HTTP/1.%*d %d", &status);
            if (status != 200)
                die("stream %d (%s user): HTTP %d: %.300s", i, c->follower >= 0 ? "a follower" : "an idle", status,
                    end + 4);
            if (!memmem(c->raw, (size_t)(end - c->raw), "chunked", 7))
                die("stream %d: a 200 without chunked encoding", i);
            size_t head = (size_t)(end + 4 - c->raw);
            memmove(c->raw, c->raw + head, c->raw_len - head);
            c->raw_len -= head;
            c->open = 1;
            sse_open_n++;
        }
        sse_dechunk(c);
        if (c->raw_len > SSE_RAW_MAX)
            die("stream %d: %zu bytes that are not chunks", i, c->raw_len);
        sse_events(c, t, rt);
        if (c->closed) {
            sse_end(c);
            return;
        }
    }
}

/* --- crmctl tail ---------------------------------------------------------------------- */

static struct {
    pid_t pid;
    int out;
    char *buf;
    size_t len, cap;
    long lines;
    char err_path[4200];
} tl = {.pid = -1, .out = -1};

static void tail_stop(void)
{
    if (tl.pid > 0) {
        kill(tl.pid, SIGTERM);
        waitpid(tl.pid, NULL, 0);
        tl.pid = -1;
    }
    if (tl.err_path[0])
        unlink(tl.err_path);
}

/* Starts `crmctl tail --stream EP --user ID` with its stdout a pipe to us,
 * and waits until it says it listens. Returns the seconds that took. */
static double tail_start(const char *crmctl, const char *stream, const char *tmp, int64_t user)
{
    char user_arg[32];
    snprintf(user_arg, sizeof user_arg, "%lld", (long long)user);
    int p[2];
    int64_t t0 = now_ns();
    snprintf(tl.err_path, sizeof tl.err_path, "%s/bench-tail-%d.err", tmp, (int)getpid());
    if (pipe2(p, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    tl.pid = fork();
    if (tl.pid < 0)
        die("fork: %s", strerror(errno));
    if (tl.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* not left behind if we are killed */
        int err = open(tl.err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (dup2(p[1], 1) < 0 || err < 0 || dup2(err, 2) < 0)
            _exit(127);
        execl(crmctl, crmctl, "tail", "--stream", stream, "--user", user_arg, (char *)NULL);
        _exit(127);
    }
    atexit(tail_stop);
    close(p[1]);
    tl.out = p[0];
    if (set_nonblock(tl.out) != 0)
        die("O_NONBLOCK: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)MAX_SSE};
    if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, tl.out, &ev) != 0)
        die("epoll_ctl: %s", strerror(errno));
    for (;;) {
        char text[4096] = "";
        FILE *f = fopen(tl.err_path, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = 0;
            fclose(f);
        }
        if (strstr(text, "listening"))
            break;
        int status;
        if (waitpid(tl.pid, &status, WNOHANG) == tl.pid) {
            tl.pid = -1;
            die("crmctl tail ended at its start (status %d): %.300s", status, text);
        }
        if (now_ns() - t0 > 10000000000LL) {
            /* an older crmctl says nothing: a subscription on loopback is
             * live well within a second */
            fprintf(stderr, "  crmctl tail said nothing on stderr within 10 s; going on\n");
            break;
        }
        usleep(10000);
    }
    return (double)(now_ns() - t0) / 1e9;
}

static void tail_read(int64_t t, int64_t rt)
{
    for (;;) {
        grow(&tl.buf, &tl.cap, tl.len + 65536);
        ssize_t n = read(tl.out, tl.buf + tl.len, tl.cap - tl.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0)
            die("crmctl tail ended (its stdout %s)", n ? strerror(errno) : "closed");
        tl.len += (size_t)n;
        size_t at = 0;
        for (;;) {
            char *nl = memchr(tl.buf + at, '\n', tl.len - at);
            if (!nl)
                break;
            const char *line = tl.buf + at;
            size_t len = (size_t)(nl - line);
            at = (size_t)(nl + 1 - tl.buf);
            tl.lines++;
            const char *m = memmem(line, len, "\"notification\":{", 16);
            if (!m)
                note_stray(K_TAIL, "a line without a notification", line, len);
            else
                take_entry(K_TAIL, 0, m, len - (size_t)(m - line), t, rt);
        }
        memmove(tl.buf, tl.buf + at, tl.len - at);
        tl.len -= at;
        if (tl.len > TAIL_LINE_MAX)
            die("crmctl tail: a line of more than %d bytes", TAIL_LINE_MAX);
    }
}

/* Takes whatever the streams and tail have. */
static void take_streams(void)
{
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep_fd, evs, 256, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("epoll_wait: %s", strerror(errno));
        if (n == 0)
            return;
        int64_t t = now_ns(), rt = realtime_us();
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == MAX_SSE)
                tail_read(t, rt);
            else
                sse_read((int)evs[i].data.u64, t, rt);
        }
        if (n < 256)
            return;
    }
}

/* Waits up to ms for the streams and tail, taking what comes. */
static void take_streams_for(int ms)
{
    int64_t until = now_ns() + (int64_t)ms * 1000000;
    for (int64_t now; (now = now_ns()) < until;) {
        struct pollfd p = {ep_fd, POLLIN, 0};
        int left = (int)((until - now) / 1000000) + 1;
        if (poll(&p, 1, left) > 0)
            take_streams();
    }
}

/* --- paced changes, and the entries they give -------------------------------------------- */

/* The next change's UpdateLeadRequest, packed into buf (when it fits cap);
 * returns its length, and the change's index in *tag. */
static size_t update_body(uint8_t *buf, size_t cap, uint64_t *tag)
{
    uint64_t n = g.u.next++;
    if (n >= g.cap)
        die("more changes than the %llu planned", (unsigned long long)g.cap);
    *tag = n;
    return update_pack(&g.u, n, buf, cap);
}

typedef struct {
    long changes, ok, late, errors;
    char error[200];
    double rate;                             /* changes sent a second */
    double rpc_p50, rpc_p99;                 /* ms */
    long want[K_N];                          /* entries expected of each kind: changes answered OK x its followers */
    long got[K_N], lost[K_N], early[K_N], unasked[K_N];
    double p50[K_N], p99[K_N], max[K_N];     /* ms since the reply */
    double at50[K_N], at99[K_N];             /* ms since the notification's at */
} run_t;

/* Judges the changes of the run [first, end): entries missing, early, and
 * the latency percentiles. */
static void judge(uint64_t first, uint64_t end, run_t *res)
{
    int F = g.n_followers;
    for (int k = 0; k < K_N; k++) {
        samples_t lat = {0}, atl = {0};
        for (uint64_t n = first; n < end; n++) {
            for (int f = 0; f < KIND_FOLLOWERS(k); f++) {
                size_t slot = (size_t)n * (size_t)F + (size_t)f;
                int64_t got = g.got_ns[k][slot];
                if (g.reply_ns[n] <= 0) {
                    res->unasked[k] += got != 0;
                    continue;
                }
                if (!got) {
                    res->lost[k]++;
                    continue;
                }
                res->got[k]++;
                int64_t d = got - g.reply_ns[n];
                if (d < 0) {
                    res->early[k]++;
                    d = 0;
                }
                samples_add(&lat, d);
                if (g.at_lag_us[k][slot] >= 0)
                    samples_add(&atl, g.at_lag_us[k][slot] * 1000);
            }
        }
        samples_summary(&lat, &res->p50[k], &res->p99[k], &res->max[k]);
        samples_summary(&atl, &res->at50[k], &res->at99[k], NULL);
        free(lat.v);
        free(atl.v);
    }
    g.judged = end;
}

/* Writes the changes [first, end) of run `run` to f: when each was sent,
 * and its reply, first and last entry of each kind, in ms from t0. */
static void dump_run(FILE *f, int run, uint64_t first, uint64_t end, int64_t t0)
{
    for (uint64_t n = first; n < end; n++) {
        int64_t lead, revenue, stage;
        update_fields(&g.u, n, &lead, &revenue, &stage);
        fprintf(f, "%d %llu %lld %.3f %.3f", run, (unsigned long long)n, (long long)lead,
                (double)(g.sent_ns[n] - t0) / 1e6, g.reply_ns[n] > 0 ? (double)(g.reply_ns[n] - t0) / 1e6 : -1.0);
        for (int k = 0; k < K_N; k++) {
            int64_t lo = 0, hi = 0;
            for (int i = 0; i < g.n_followers; i++) {
                int64_t t = g.got_ns[k][(size_t)n * (size_t)g.n_followers + (size_t)i];
                if (t && (!lo || t < lo))
                    lo = t;
                if (t > hi)
                    hi = t;
            }
            fprintf(f, " %.3f %.3f", lo ? (double)(lo - t0) / 1e6 : -1.0, hi ? (double)(hi - t0) / 1e6 : -1.0);
        }
        fputc('\n', f);
    }
}

/* The paced changes go out on one DEALER socket with as many requests in
 * flight as it takes (ClientRequest ids name the change: n + 1), so that
 * this program polls two things, not dozens of sockets, and takes as little
 * CPU as it can from the services on 2 cores. */
static void *paced_socket(const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0, hwm = 1000000;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0 || zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_connect(s, endpoint) != 0)
        die("connect %s: %s", endpoint, zmq_strerror(errno));
    return s;
}

/* Sends change g.u.next as UpdateLead with the admin token. Returns 0, or -1
 * with msg filled. */
static int paced_send(void *sock, const char *token, char *msg, size_t cap)
{
    uint8_t body[BODY_MAX], frame[BODY_MAX + 1024];
    uint64_t n;
    Crm__Client__V1__ClientRequest req = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
    req.method = PL "UpdateLead";
    req.token = (char *)token;
    req.body.len = update_body(body, sizeof body, &n);
    if (req.body.len > sizeof body)
        die("UpdateLead request body of %zu bytes", req.body.len);
    req.body.data = body;
    req.id = n + 1;
    size_t len = crm__client__v1__client_request__get_packed_size(&req);
    if (len > sizeof frame)
        die("UpdateLead request of %zu bytes", len);
    crm__client__v1__client_request__pack(&req, frame);
    g.sent_ns[n] = now_ns();
    if (zmq_send(sock, frame, len, ZMQ_DONTWAIT) < 0) {
        snprintf(msg, cap, "send: %s", zmq_strerror(errno));
        g.reply_ns[n] = -1;
        return -1;
    }
    return 0;
}

/* Judges one ClientReply frame: its change (of the run going on, not
 * answered before), a status that is OK, and the lead. Returns the change's
 * index, or -1 with msg filled (and the change, if known, marked failed). */
static long paced_judge(const zmq_msg_t *m, int64_t t, char *msg, size_t cap)
{
    if (!reply_arena)
        reply_arena = crm_arena_new();
    ProtobufCAllocator *alloc = crm_arena_allocator(reply_arena);
    Crm__Client__V1__ClientReply *r =
        crm__client__v1__client_reply__unpack(alloc, zmq_msg_size(m), zmq_msg_data((zmq_msg_t *)m));
    long n = -1;
    if (!r) {
        snprintf(msg, cap, "reply is not a ClientReply");
    } else if (r->id < 1 + g.run_first || r->id > g.run_end || g.reply_ns[r->id - 1] != 0) {
        snprintf(msg, cap, "reply id %llu of no change in flight", (unsigned long long)r->id);
    } else {
        uint64_t k = r->id - 1;
        if (!r->status) {
            snprintf(msg, cap, "reply without a status");
        } else if (r->status->code != CODE_OK) {
            snprintf(msg, cap, "%s: %s%s%s", crm_code_name(r->status->code), r->status->message,
                     r->status->field[0] ? " field " : "", r->status->field);
        } else if (update_judge(&g.u, k, r->body.data, r->body.len, alloc, msg, cap) == 0) {
            n = (long)k;
        }
        g.reply_ns[k] = n >= 0 ? t : -1;
    }
    crm_arena_reset(reply_arena);
    return n;
}

/* total UpdateLead calls at rate a second, open loop (each change is sent
 * at its time, whatever is in flight), taking the streams' and tail's
 * entries as they come; then waits for the replies and for the entries
 * still to come, and judges the run. */
static void run_paced(void *sock, const char *token, long total, double rate, run_t *res)
{
    zmq_pollitem_t items[2] = {{sock, -1, ZMQ_POLLIN, 0}, {NULL, ep_fd, ZMQ_POLLIN, 0}};
    char msg[200];
    memset(res, 0, sizeof *res);
    g.run_first = g.u.next;
    g.run_end = g.u.next + (uint64_t)total;
    g.got_run[K_SSE] = g.got_run[K_TAIL] = 0;
    samples_t rpc = {0};
    int64_t period = (int64_t)(1e9 / rate), t0 = now_ns() + 20000000, t_last_send = t0, t_last_reply = 0;
    long in_flight = 0;
#define NOTE_ERROR() add_errors(&res->errors, res->error, sizeof res->error, 1, msg)
    for (;;) {
        int64_t now = now_ns();
        while (res->changes < total && t0 + res->changes * period <= now) {
            if (now - (t0 + res->changes * period) > LATE_NS)
                res->late++;
            res->changes++;
            t_last_send = now;
            if (paced_send(sock, token, msg, sizeof msg) != 0)
                NOTE_ERROR();
            else
                in_flight++;
        }
        if (res->changes == total && in_flight == 0) {
            if ((g.got_run[K_SSE] >= res->ok * KIND_FOLLOWERS(K_SSE) && g.got_run[K_TAIL] >= res->ok * KIND_FOLLOWERS(K_TAIL)) ||
                now - t_last_reply > STREAM_DRAIN_NS)
                break;
        }
        if (res->changes == total && in_flight > 0 && now - t_last_send > DRAIN_NS) {
            snprintf(msg, sizeof msg, "%ld UpdateLead(s) not answered within %lld s", in_flight,
                     (long long)(DRAIN_NS / 1000000000LL));
            add_errors(&res->errors, res->error, sizeof res->error, in_flight, msg);
            break;
        }
        long timeout = 100;
        if (res->changes < total) {
            int64_t due = t0 + res->changes * period - now;
            timeout = due <= 0 ? 0 : (long)((due + 999999) / 1000000);
        }
        int rc = zmq_poll(items, 2, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            die("zmq_poll: %s", zmq_strerror(errno));
        }
        if (items[1].revents & ZMQ_POLLIN)
            take_streams();
        if (!(items[0].revents & ZMQ_POLLIN))
            continue;
        for (zmq_msg_t m; recv_nowait(sock, &m, "UpdateLead");) {
            int64_t t = now_ns();
            long n = zmq_msg_more(&m) ? -1 : paced_judge(&m, t, msg, sizeof msg);
            if (zmq_msg_more(&m))
                snprintf(msg, sizeof msg, "reply of more than one frame");
            zmq_msg_close(&m);
            in_flight--;
            t_last_reply = t;
            if (n >= 0) {
                res->ok++;
                samples_add(&rpc, t - g.sent_ns[n]);
            } else {
                NOTE_ERROR();
            }
        }
    }
#undef NOTE_ERROR
    take_streams();
    judge(g.run_first, g.run_end, res);
    for (int k = 0; k < K_N; k++)
        res->want[k] = res->ok * KIND_FOLLOWERS(k);
    res->rate = paced_rate(res->changes, t0, t_last_send);
    samples_summary(&rpc, &res->rpc_p50, &res->rpc_p99, NULL);
    free(rpc.v);
}

static void print_run(const char *what, const run_t *r, double seconds)
{
    fprintf(stderr,
            "  %s UpdateLead paced %.0f/s for %.1f s: %ld changes (%ld OK, %ld late); UpdateLead p50 %.2f ms p99 "
            "%.2f ms%s%s\n",
            what, r->rate, seconds, r->changes, r->ok, r->late, r->rpc_p50, r->rpc_p99, r->errors ? "  ERRORS: " : "",
            r->errors ? r->error : "");
    for (int k = 0; k < K_N; k++)
        fprintf(stderr,
                "        %-4s %ld of %ld entries (%ld before their reply): since the reply p50 %.2f ms p99 %.2f ms "
                "max %.2f ms; since at p50 %.2f ms p99 %.2f ms%s\n",
                kind_name[k], r->got[k], r->want[k], r->early[k], r->p50[k], r->p99[k], r->max[k], r->at50[k],
                r->at99[k], r->lost[k] ? "  LOST ENTRIES" : "");
}

/* Raises our open-file limit to the hard limit: a thousand streams. */
static void raise_nofile(int need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            die("setrlimit: %s", strerror(errno));
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need)
        die("%d streams need %d open files; the limit is %llu (ulimit -n)", need - 200, need,
            (unsigned long long)rl.rlim_cur);
}

/* --- the run ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    options_t o;
    parse_options(&o, argc, argv);
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    raise_nofile(o.sse + 200);
    http_address(o.http, &http_addr);
    zctx = zmq_ctx_new();
    if (!zctx)
        die("zmq_ctx_new: %s", zmq_strerror(errno));
    if (!(cli = crm_client_new(o.zmq)))
        die("client %s: %s", o.zmq, zmq_strerror(errno));
    if ((ep_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1: %s", strerror(errno));
    int F = o.followers, I = o.idle_users;
    long per_rep = (long)(o.rate * o.seconds + 0.5), warm = (long)(o.rate * o.warmup + 0.5);
    fprintf(stderr, "bench_notifications: about %.0f s, plus catching up\n",
            o.reps * (o.seconds + 1.5) + o.warmup + 0.2 * (F + I) + 3);

    char admin[256];
    crm_status_t st;
    if (login(o.zmq, o.password, admin, sizeof admin, &st) != 0)
        die("Login as admin: %s: %s", crm_code_name(st.code), st.message);

    /* users: followers and idle ones, each with a session */
    int64_t t_users = now_ns();
    int64_t ids[2 * MAX_USERS];
    static char tokens[2 * MAX_USERS][256];
    char pw[40], lg[96], name[96];
    unsigned char rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(pw, sizeof pw, rnd, sizeof rnd);
    unsigned tag = randombytes_uniform(1000000);
    for (int i = 0; i < F + I; i++) {
        snprintf(lg, sizeof lg, "ntf%06u-%s%03d", tag, i < F ? "f" : "i", i < F ? i : i - F);
        snprintf(name, sizeof name, "%s %d", i < F ? "Follower" : "Bystander", i < F ? i : i - F);
        ids[i] = create_user(admin, lg, name, pw);
        login_as(lg, pw, tokens[i], sizeof tokens[i]);
    }
    double users_s = (double)(now_ns() - t_users) / 1e9;
    fprintf(stderr, "  %d users made and logged in in %.1f s\n", F + I, users_s);

    /* the opportunities, made by admin for nobody */
    int64_t stages[MAX_STAGES];
    int n_stages = open_stages(cli, admin, stages);
    if (n_stages < 3)
        die("%d open stages for opportunities; want 3 or more", n_stages);
    int64_t *leads = xcalloc((size_t)o.leads, sizeof *leads);
    for (int i = 0; i < o.leads; i++)
        leads[i] = create_lead(admin, i, stages[0]);
    /* notifications may have started behind pipeline and activities (after
     * the other benchmarks' hundreds of thousands of events): it catches up
     * on all of them first */
    double known_s = wait_known(admin, leads[o.leads - 1], o.catchup_s);
    double since_service = o.started_us > 0 ? (double)(realtime_us() - o.started_us) / 1e6 : -1;
    fprintf(stderr, "  notifications knew the newest opportunity %.2f s after it was made\n", known_s);

    /* every follower follows every opportunity (a durable write of
     * notifications each, shown as a row) */
    int64_t t_follow = now_ns();
    series_t s_follow = {0};
    int follow_clients = o.leads < 8 ? o.leads : 8;
    for (int u = 0; u < F; u++) {
        follows_t fw = {.leads = leads, .n_leads = o.leads};
        load_t follow = {.name = "Follow", .kind = LOAD_CRM, .endpoint = o.zmq, .method = NTF "Follow",
                         .token = tokens[u], .next_body = follow_body, .check = follow_check, .arg = &fw,
                         .limit = o.leads};
        result_t r;
        if (s_follow.n < 3)
            measure(&follow, follow_clients, 0, 60, u, 3, &s_follow, &r);
        else
            run_load(&follow, follow_clients, 0, 60, &r);
        if (r.errors || r.ok_all != o.leads)
            die("follower %d following %d opportunities: %ld followed, %ld errors (first: %s)", u, o.leads,
                r.ok_all, r.errors, r.error);
    }
    double follow_s = (double)(now_ns() - t_follow) / 1e9;
    for (int i = 0; i < o.leads; i += o.leads > 1 ? o.leads - 1 : 1) {
        size_t n = count_followers(admin, leads[i]);
        if (n != (size_t)F + 1)
            die("opportunity %lld has %zu followers; expected %d and admin", (long long)leads[i], n, F);
    }
    fprintf(stderr, "  %d follows in %.1f s\n", F * o.leads, follow_s);

    /* the streams: one per follower, the rest over the idle users */
    mem_t gw_none = mem_of(o.gateway_pid);
    n_sse = o.sse;
    sse = xcalloc((size_t)n_sse, sizeof *sse);
    int64_t t_sse = now_ns();
    for (int first = 0; first < n_sse; first += CONNECT_BATCH) {
        int last = first + CONNECT_BATCH < n_sse ? first + CONNECT_BATCH : n_sse;
        for (int i = first; i < last; i++)
            sse_start(i, i < F ? tokens[i] : tokens[F + (i - F) % I], i < F ? i : -1);
        int64_t until = now_ns() + 30000000000LL;
        while (sse_open_n < last) {
            if (now_ns() > until)
                die("%d of %d streams answered within 30 s", sse_open_n - first, last - first);
            take_streams_for(10);
        }
    }
    double sse_s = (double)(now_ns() - t_sse) / 1e9;
    fprintf(stderr, "  %d streams open in %.2f s\n", n_sse, sse_s);
    take_streams_for(1000);
    mem_t gw_idle = mem_of(o.gateway_pid);
    if (sse_closed_n)
        die("%d streams were closed by the gateway while idle", sse_closed_n);

    double tail_s = tail_start(o.crmctl, o.stream, o.tmp, ids[0]);

    /* the changes, planned whole: a probe pass, the warm-up, the runs */
    g.u = (updates_t){.leads = leads, .n_leads = o.leads, .stages = stages, .n_stages = n_stages, .stage_offset = 1};
    g.n_followers = F;
    g.follower_ids = ids;
    g.cap = (uint64_t)o.leads + (uint64_t)warm + (uint64_t)o.reps * (uint64_t)per_rep + 16;
    g.sent_ns = xcalloc(g.cap, sizeof *g.sent_ns);
    g.reply_ns = xcalloc(g.cap, sizeof *g.reply_ns);
    for (int k = 0; k < K_N; k++) {
        g.got_ns[k] = xcalloc(g.cap * (size_t)F, sizeof *g.got_ns[k]);
        g.at_lag_us[k] = xcalloc(g.cap * (size_t)F, sizeof *g.at_lag_us[k]);
    }
    void *paced = paced_socket(o.zmq);

    /* the probe: one change of each opportunity, every entry must come */
    run_t probe;
    run_paced(paced, admin, o.leads, o.rate < 200 ? o.rate : 200, &probe);
    print_run("probe:", &probe, (double)o.leads / (o.rate < 200 ? o.rate : 200));
    if (probe.errors || probe.lost[K_SSE] || probe.lost[K_TAIL] || g.stray[K_SSE] || g.stray[K_TAIL])
        die("the probe pass (%d changes) did not give every follower its entry on its stream and on tail: "
            "%ld and %ld lost, %ld and %ld stray (%s%s), %ld errors (%s)",
            o.leads, probe.lost[K_SSE], probe.lost[K_TAIL], g.stray[K_SSE], g.stray[K_TAIL], g.stray_text[K_SSE],
            g.stray_text[K_TAIL], probe.errors, probe.error);

    run_t warm_run = {0};
    if (warm > 0) {
        run_paced(paced, admin, warm, o.rate, &warm_run);
        print_run("warm-up:", &warm_run, o.warmup);
    }

    proc_pid[P_GATEWAY] = o.gateway_pid;
    proc_pid[P_NOTIFICATIONS] = o.notifications_pid;
    proc_pid[P_PIPELINE] = o.pipeline_pid;
    proc_pid[P_ACTIVITIES] = o.activities_pid;
    proc_pid[P_TAIL] = tl.pid;
    proc_pid[P_SELF] = getpid();
    double cores[P_N][MAX_REPS], disk[P_N][MAX_REPS];
    FILE *dump = NULL;
    int64_t t_dump = now_ns();
    if (o.dump && !(dump = fopen(o.dump, "w")))
        die("--dump %s: %s", o.dump, strerror(errno));
    if (dump)
        fprintf(dump, "# ms from CLOCK_MONOTONIC %.3f ms (to line up with other traces)\n"
                      "# run change opportunity sent reply sse_first sse_last tail_first tail_last\n",
                (double)t_dump / 1e6);
    run_t runs[MAX_REPS];
    double commit_ms[MAX_REPS], p50[K_N][MAX_REPS], p99[K_N][MAX_REPS], mx[K_N][MAX_REPS], at50[K_N][MAX_REPS],
        at99[K_N][MAX_REPS], rate[MAX_REPS], rpc50[MAX_REPS], rpc99[MAX_REPS];
    long changes = 0, ok = 0, late = 0, want = 0, want_tail = 0, got[K_N] = {0}, lost[K_N] = {0}, early[K_N] = {0},
         unasked[K_N] = {0}, run_errors = 0;
    char run_error[200] = "";
    mem_t gw_peak = gw_idle;
    for (int rep = 0; rep < o.reps; rep++) {
        commit_ms[rep] = 1000.0 / lmdb_floor(o.tmp, 1, 1.0);
        fprintf(stderr, "  [%d/%d] LMDB 1-record durable commit: %.2f ms\n", rep + 1, o.reps, commit_ms[rep]);
        run_t *r = &runs[rep];
        double cpu0[P_N], cpu1[P_N], io0[P_N], io1[P_N];
        proc_snapshot(cpu0, io0);
        int64_t t_run = now_ns();
        uint64_t first = g.u.next;
        run_paced(paced, admin, per_rep, o.rate, r);
        double wall = (double)(now_ns() - t_run) / 1e9;
        proc_snapshot(cpu1, io1);
        if (dump)
            dump_run(dump, rep + 1, first, g.u.next, t_dump);
        for (int i = 0; i < P_N; i++) {
            cores[i][rep] = cpu0[i] >= 0 && cpu1[i] >= 0 ? (cpu1[i] - cpu0[i]) / wall : -1;
            disk[i][rep] = io0[i] >= 0 && io1[i] >= 0 ? (io1[i] - io0[i]) / wall / 1048576.0 : -1;
        }
        char what[32];
        snprintf(what, sizeof what, "[%d/%d]", rep + 1, o.reps);
        print_run(what, r, o.seconds);
        mem_t m = mem_of(o.gateway_pid);
        if (m.rss > gw_peak.rss)
            gw_peak = m;
        for (int k = 0; k < K_N; k++) {
            p50[k][rep] = r->p50[k];
            p99[k][rep] = r->p99[k];
            mx[k][rep] = r->max[k];
            at50[k][rep] = r->at50[k];
            at99[k][rep] = r->at99[k];
            got[k] += r->got[k];
            lost[k] += r->lost[k];
            early[k] += r->early[k];
            unasked[k] += r->unasked[k];
        }
        rate[rep] = r->rate;
        rpc50[rep] = r->rpc_p50;
        rpc99[rep] = r->rpc_p99;
        changes += r->changes;
        ok += r->ok;
        late += r->late;
        want += r->want[K_SSE];
        want_tail += r->want[K_TAIL];
        add_errors(&run_errors, run_error, sizeof run_error, r->errors, r->error);
    }
    if (dump)
        fclose(dump);
    mem_t gw_end = mem_of(o.gateway_pid), ntf_end = mem_of(o.notifications_pid);
    /* the streams must all still be there */
    take_streams_for(200);
    int closed = sse_closed_n;
    tail_stop();
    zmq_close(paced);
    crm_client_destroy(&cli);

    /* --- the table ------------------------------------------------------------- */
    double sse_p99 = median(p99[K_SSE], o.reps), tail_p99 = median(p99[K_TAIL], o.reps);
    double commit = median(commit_ms, o.reps), rpc_p99 = median(rpc99, o.reps);
    printf("\n== crm-notifications benchmark: UpdateLead paced through the gateway's ZeroMQ door, each change "
           "told to every follower on the gateway's SSE stream (GET /v1/stream) and on `crmctl tail`\n");
    printf("   (%.0f changes/s over %d opportunities, each followed by %d users: %.0f entries/s; %.1f s a run after "
           "a %.1f s warm-up; medians of %d runs; %ld cores online)\n",
           o.rate, o.leads, F, o.rate * F, o.seconds, o.warmup, o.reps, sysconf(_SC_NPROCESSORS_ONLN));
    printf("   (%d SSE streams held open throughout: %d measured, one per follower, and %d idle ones of %d users who "
           "follow nothing; tail of the first follower's topic, as `crmctl tail --user ID`)\n",
           n_sse, F, n_sse - F, I);
    printf("setup: %d users made and logged in in %.1f s; notifications knew the newest opportunity %.2f s after "
           "it was made",
           F + I, users_s, known_s);
    if (since_service >= 0)
        printf(" (%.1f s after crm-notifications was started)", since_service);
    printf("; %d follows in %.1f s; %d streams open in %.2f s; tail listening after %.2f s\n", F * o.leads, follow_s,
           n_sse, sse_s, tail_s);
    char label[96], row[64];
    snprintf(row, sizeof row, "Follow %d clients (setup)", follow_clients);
    print_row(row, &s_follow, NULL, 0);
    printf("  (Follow is a durable write of notifications; the first %d followers' runs of %d Follows each, "
           "without warm-up)\n", s_follow.n, o.leads);
    printf("floors, same run:\n");
    printf("  %-34s %9.2f ms a commit (%.0f commits/s)\n", "LMDB durable, 1 record/commit:", commit, 1000.0 / commit);
    printf("  %-34s %9.0f changes/s  p50 %6.2f ms  p99 %6.2f ms   (its own reply latency)\n", "UpdateLead paced:",
           median(rate, o.reps), median(rpc50, o.reps), rpc_p99);
    printf("  %-34s %9.0f changes/s  SSE p50 %.2f ms p99 %.2f ms; tail p50 %.2f ms p99 %.2f ms\n",
           "the same path unloaded (probe):", probe.rate, probe.p50[K_SSE], probe.p99[K_SSE], probe.p50[K_TAIL],
           probe.p99[K_TAIL]);
    printf("  (the probe: one change of each opportunity, %d entries of each kind, before the streams are loaded)\n",
           o.leads * F);
    printf("ours (delivery = receipt here - UpdateLead's reply; an entry that came before its reply counts 0):\n");
    for (int k = 0; k < K_N; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s:", k == K_SSE ? "SSE, measured streams" : "crmctl tail");
        printf("  %-34s %9s            p50 %6.2f ms  p99 %6.2f ms  max %.2f ms  = %.0f x commit, %.2f x UpdateLead "
               "p99\n",
               label, "", median(p50[k], o.reps), median(p99[k], o.reps), median(mx[k], o.reps),
               commit > 0 ? median(p99[k], o.reps) / commit : 0, rpc_p99 > 0 ? median(p99[k], o.reps) / rpc_p99 : 0);
    }
    printf("  %-34s %9s            SSE p50 %.2f ms p99 %.2f ms; tail p50 %.2f ms p99 %.2f ms\n",
           "since the event's at:", "", median(at50[K_SSE], o.reps), median(at99[K_SSE], o.reps),
           median(at50[K_TAIL], o.reps), median(at99[K_TAIL], o.reps));
    printf("  (since at: from just before pipeline's commit, so it holds pipeline's fsync as well)\n");
    long stream_errors = 0;
    printf("  delivered: of %ld changes (%ld answered OK): SSE %ld of %ld (x %d followers), tail %ld of %ld (one follower's)",
           changes, ok, got[K_SSE], want, F, got[K_TAIL], want_tail);
    printf("; before their reply: SSE %ld, tail %ld\n", early[K_SSE], early[K_TAIL]);
    for (int k = 0; k < K_N; k++) {
        /* duplicates, strays and late ones are counted over every pass */
        long warm_bad = warm_run.lost[k] + warm_run.unasked[k];
        long bad = lost[k] + g.dup[k] + g.stray[k] + unasked[k] + g.too_late[k] + warm_bad;
        if (!bad)
            continue;
        printf("  %s: %ld lost (%ld more in the warm-up), %ld duplicates, %ld for changes not answered OK, %ld after "
               "their run's %lld s drain, %ld stray%s%s%s  ERRORS\n",
               kind_name[k], lost[k], warm_bad, g.dup[k], unasked[k], g.too_late[k], STREAM_DRAIN_NS / 1000000000LL,
               g.stray[k], g.stray[k] ? " (first: " : "", g.stray[k] ? g.stray_text[k] : "", g.stray[k] ? ")" : "");
        stream_errors += bad;
    }
    long keepalives = 0;
    for (int i = 0; i < n_sse; i++)
        keepalives += sse[i].keepalives;
    printf("  streams: %d held open from before the probe to the end; %ld keepalive comments read on them\n",
           n_sse - closed, keepalives);
    if (g.idle_events || closed) {
        printf("  streams: %ld events on idle streams (which follow nothing), %d streams closed by the gateway  "
               "ERRORS\n",
               g.idle_events, closed);
        stream_errors += g.idle_events + closed;
    }
    if (late)
        printf("  (%ld changes sent more than %lld ms late)\n", late, LATE_NS / 1000000);
    if (run_errors) {
        printf("  UpdateLead ERRORS: %ld (first: %s)\n", run_errors, run_error);
    }
    total_errors += run_errors + stream_errors;
    printf("  (each run: SSE p99");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.2f ms", rep ? "," : "", p99[K_SSE][rep]);
    printf("; tail p99");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.2f ms", rep ? "," : "", p99[K_TAIL][rep]);
    printf("; LMDB commit");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.2f ms", rep ? "," : "", commit_ms[rep]);
    printf(")\n");
    printf("CPU during the runs (cores busy, median; the run's drain included):");
    for (int i = 0, shown = 0; i < P_N; i++)
        if (cores[i][0] >= 0)
            printf("%s %s %.2f", shown++ ? "," : "", proc_name[i], median(cores[i], o.reps));
    printf("\n");
    printf("disk writes during the runs (MiB/s, median, /proc/PID/io write_bytes):");
    for (int i = 0, shown = 0; i < P_N; i++)
        if (disk[i][0] >= 0 && i != P_TAIL && i != P_SELF)
            printf("%s %s %.1f", shown++ ? "," : "", proc_name[i], median(disk[i], o.reps));
    printf("\n");
    printf("memory:\n");
    print_mem("crm-gateway", o.gateway_pid, "no stream:", gw_none);
    char when[64];
    snprintf(when, sizeof when, "%d streams, idle:", n_sse);
    print_mem("crm-gateway", o.gateway_pid, when, gw_idle);
    print_mem("crm-gateway", o.gateway_pid, "largest after a run:", gw_peak);
    print_mem("crm-gateway", o.gateway_pid, "end:", gw_end);
    print_mem("crm-notifications", o.notifications_pid, "end:", ntf_end);

    printf("\n");
    int met = 1;
    int at_target = o.rate >= 1000 && F >= 20;
    snprintf(label, sizeof label, "SSE delivery p99 <= 20 ms at %.0f/s, %d followers:", o.rate, F);
    met &= target(label, at_target, sse_p99 <= 20.0, "%.2f ms", sse_p99);
    snprintf(label, sizeof label, "tail delivery p99 <= 20 ms at %.0f/s, %d followers:", o.rate, F);
    met &= target(label, at_target, tail_p99 <= 20.0, "%.2f ms", tail_p99);
    met &= target("every entry delivered once:", want > 0, !stream_errors, "%.0f wrong", (double)stream_errors);
    long rss = gw_idle.rss > gw_end.rss ? gw_idle.rss : gw_end.rss;
    if (gw_peak.rss > rss)
        rss = gw_peak.rss;
    snprintf(label, sizeof label, "crm-gateway VmRSS <= 64 MiB with %d streams:", n_sse);
    met &= target(label, o.gateway_pid > 0 && n_sse >= 1000 && rss >= 0, rss <= 64 * 1024, "%.1f MiB",
                  rss / 1024.0);
    if (total_errors)
        printf("RESULT: %ld requests or entries FAILED; the figures above are not valid\n", total_errors);
    else
        printf("RESULT: no request failed, every entry came once; targets %s\n", met ? "all met" : "NOT all met");

    for (int i = 0; i < n_sse; i++) {
        if (sse[i].fd >= 0)
            close(sse[i].fd);
        free(sse[i].raw);
        free(sse[i].text);
    }
    free(sse);
    free(leads);
    zmq_ctx_term(zctx);
    if (total_errors)
        return 1;
    return o.strict && !met ? 3 : 0;
}
