/* crm-soak: the whole system under mixed traffic for a while, with a random
 * service killed -9 every few seconds and hostile clients at both doors
 * (make soak; SOAK_SECONDS, default 600).
 *
 * The release programs run on free local ports with their stores in a
 * temporary folder (tests/system/harness.c). Salespeople run the seed's
 * walkthrough over and over through the ZeroMQ door, each call retried with
 * its idempotency key when a kill makes it fail or time out; each follows
 * their inbox on Server-Sent Events, resuming with Last-Event-ID. Hostile
 * clients, from other loopback addresses, send bodies over the limits, body
 * bombs before authentication, login floods with made-up names, connection
 * floods and readers that never read. This program is also the operator's
 * restart policy: a killed service is started again at once on the same
 * store and endpoints.
 *
 * At the end every acknowledged write is read back, and every chatter and
 * inbox is searched for an entry made twice. It prints the figures and
 * exits 1 when an acknowledged write was lost, an event applied twice or a
 * killed service did not come back. */
#include "../system/harness.h"
#include "crm_json.h"
#include "crm_mem.h"
#include "crm_services.h"
#include "crm_status.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ID "crm.identity.v1.Identity/"
#define PL "crm.pipeline.v1.Pipeline/"
#define AC "crm.activities.v1.Activities/"
#define NT "crm.notifications.v1.Notifications/"
#define CALL_TIMEOUT_MS 7000 /* the gateway's deadline is 5 s */
#define GRACE_MS 90000       /* how long a write started before the end may still be retried */
#define MAX_USERS 32
#define MAX_CODES 19
#define SERVICES 5           /* identity .. gateway: the ones killed */
#define MIB (1024 * 1024)

static sys_env_t *env;
static atomic_int running = 1;      /* traffic goes on */
static atomic_int hostile_off;
static atomic_int streams_on = 1;   /* the SSE readers read on (until the reckoning) */      /* SOAK_NO_HOSTILE: the hostile clients stay home */
static int64_t retry_until_ms;      /* a write is abandoned past this */
static int run_id;

/* --- figures ------------------------------------------------------------------------------- */

static atomic_long served, retries, relogins, rpc_unexpected, abandoned, stale_reads, logins;
static atomic_long unexpected_by_code[MAX_CODES], retried_by_code[MAX_CODES];
static char first_retry[400];
static pthread_mutex_t note_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_unexpected[400];

/* Hostile outcomes by name ("HTTP 401", "zmq unauthenticated", ...). */
typedef struct {
    char name[48];
    long count;
    int refused; /* 1: a refusal, 0: accepted (a hole), -1: no answer (a kill), 2: a slow reader still held */
} outcome_t;
static outcome_t outcomes[64];
static int n_outcomes;

static void outcome(const char *name, int refused)
{
    pthread_mutex_lock(&note_lock);
    int i;
    for (i = 0; i < n_outcomes; i++)
        if (!strcmp(outcomes[i].name, name))
            break;
    if (i == n_outcomes && n_outcomes < 64) {
        snprintf(outcomes[i].name, sizeof outcomes[i].name, "%s", name);
        outcomes[i].refused = refused;
        n_outcomes++;
    }
    if (i < 64)
        outcomes[i].count++;
    pthread_mutex_unlock(&note_lock);
}

static void note_unexpected(const char *method, const crm_status_t *st)
{
    atomic_fetch_add(&rpc_unexpected, 1);
    if (st->code < MAX_CODES)
        atomic_fetch_add(&unexpected_by_code[st->code], 1);
    pthread_mutex_lock(&note_lock);
    if (!first_unexpected[0])
        snprintf(first_unexpected, sizeof first_unexpected, "%s: %s %s (field %s)", method, crm_code_name(st->code),
                 st->message, st->field);
    pthread_mutex_unlock(&note_lock);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* --- calls --------------------------------------------------------------------------------- */

/* One call with a JSON request, as crmctl makes it: the reply as JSON
 * (json_decref it), or NULL with *st (UNAVAILABLE when no answer came). */
static json_t *call_once(crm_client_t *client, const char *method, const char *token, const char *idem,
                         const char *body, int timeout_ms, crm_status_t *st)
{
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *m = crm_services_find(method, &svc);
    if (!m) {
        crm_status_set(st, CODE(BAD_ROUTE), "method", "soak asked for %s", method);
        return NULL;
    }
    ProtobufCMessage *in = crm_json_decode(m->input, body, strlen(body), CRM_JSON_FILL_UPDATE_MASK, NULL, st);
    if (!in)
        return NULL;
    size_t n = protobuf_c_message_get_packed_size(in), out_len = 0;
    uint8_t *buf = crm_malloc(n ? n : 1), *out = NULL;
    protobuf_c_message_pack(in, buf);
    protobuf_c_message_free_unpacked(in, NULL);
    int rc = crm_client_call(client, method, token, idem, buf, n, timeout_ms, st, &out, &out_len);
    free(buf);
    if (rc != 0 || st->code != CODE(OK))
        return NULL;
    ProtobufCMessage *r = protobuf_c_message_unpack(m->output, NULL, out_len, out);
    free(out);
    if (!r) {
        crm_status_set(st, CODE(INTERNAL), NULL, "reply does not decode");
        return NULL;
    }
    char *text = crm_json_encode(r, NULL);
    protobuf_c_message_free_unpacked(r, NULL);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

/* A salesperson: one session, one ZeroMQ connection, what they wrote. */
typedef struct {
    int64_t id;
    int n;              /* the cycle that made it */
    int updates;        /* UpdateLeads acknowledged */
    int64_t revenue;    /* the last acknowledged revenue */
    int unsure;         /* a write on it was abandoned: its last state is unknown */
    int comments, calls, won;
    int64_t comment_ids[1];
    int64_t note_id;    /* "Log a note": in the chatter, told to nobody */
} lead_t;

typedef struct {
    int index;
    char login[32], password[32];
    int64_t user_id, partner_id, customer_id;
    crm_client_t *client;
    char *token;
    pthread_t thread, sse_thread;
    lead_t *leads;
    size_t n_leads, cap_leads;
    /* the SSE reader */
    long sse_entries, sse_twice, sse_refused;
    atomic_long sse_opens;
    int64_t sse_last;
    int64_t *sse_ids;   /* every entry id the stream gave, in order */
    size_t n_sse_ids, cap_sse_ids;
} user_t;

static user_t users[MAX_USERS];
static int n_users = 6;
static int64_t stage_proposition, stage_negotiation;

static int transient(Crm__Rpc__V1__Code code)
{
    return code == CODE(UNAVAILABLE) || code == CODE(DEADLINE_EXCEEDED) || code == CODE(RESOURCE_EXHAUSTED) ||
           code == CODE(ABORTED) || code == CODE(CANCELED);
}

static char *login_token(crm_client_t *client, const char *login, const char *password, crm_status_t *st)
{
    char body[256];
    snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", login, password);
    json_t *r = call_once(client, ID "Login", NULL, NULL, body, CALL_TIMEOUT_MS, st);
    if (!r)
        return NULL;
    char *t = crm_strdup(sys_jstr(r, "token"));
    json_decref(r);
    return t;
}

/* Logs u in again, retrying while the system is being killed. 0 or -1. */
static int relogin(user_t *u)
{
    while (sys_now_ms() < retry_until_ms) {
        crm_status_t st;
        char *t = login_token(u->client, u->login, u->password, &st);
        atomic_fetch_add(&logins, 1);
        if (t) {
            free(u->token);
            u->token = t;
            atomic_fetch_add(&served, 1);
            return 0;
        }
        if (!transient(st.code)) {
            note_unexpected(ID "Login", &st);
            return -1;
        }
        atomic_fetch_add(&retries, 1);
        atomic_fetch_add(&retried_by_code[st.code], 1);
        sleep_ms(150 + rand() % 200);
    }
    return -1;
}

/* A call as u, printf-formatted JSON; a write passes its idempotency key.
 * Unavailable, timed out or busy: tried again with the same key until
 * retry_until_ms (a read gives up when the traffic stops). Returns the
 * reply, or NULL (counted as unexpected or abandoned). */
static json_t *rpc(user_t *u, const char *method, const char *idem, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static json_t *rpc(user_t *u, const char *method, const char *idem, const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    for (int attempt = 0;; attempt++) {
        crm_status_t st;
        json_t *r = call_once(u->client, method, u->token, idem, body, CALL_TIMEOUT_MS, &st);
        if (r) {
            atomic_fetch_add(&served, 1);
            return r;
        }
        int go_on = idem ? sys_now_ms() < retry_until_ms : atomic_load(&running);
        if (st.code == CODE(UNAUTHENTICATED) && attempt < 3) {
            atomic_fetch_add(&relogins, 1);
            if (relogin(u) != 0)
                break;
            continue;
        }
        if (!transient(st.code)) {
            note_unexpected(method, &st);
            return NULL;
        }
        if (!go_on)
            break;
        atomic_fetch_add(&retries, 1);
        atomic_fetch_add(&retried_by_code[st.code], 1);
        if (getenv("SOAK_DEBUG")) {
            pthread_mutex_lock(&note_lock);
            if (!first_retry[0])
                snprintf(first_retry, sizeof first_retry, "%s: %s %s", method, crm_code_name(st.code), st.message);
            pthread_mutex_unlock(&note_lock);
        }
        sleep_ms(100 + rand() % 200);
    }
    if (idem)
        atomic_fetch_add(&abandoned, 1);
    return NULL;
}

/* --- the walkthrough, over and over ------------------------------------------------------------ */

static lead_t *lead_add(user_t *u)
{
    if (u->n_leads == u->cap_leads) {
        u->cap_leads = u->cap_leads ? 2 * u->cap_leads : 256;
        u->leads = crm_realloc(u->leads, u->cap_leads * sizeof *u->leads);
    }
    lead_t *l = &u->leads[u->n_leads++];
    memset(l, 0, sizeof *l);
    return l;
}

#define DOC "{\"model\":\"lead\",\"id\":\"%lld\"}"

/* One opportunity through the walkthrough's steps (5 to 13), and the reads
 * a salesperson makes meanwhile. */
static void cycle(user_t *u, int n)
{
    char idem[96];
    int64_t now_us = (int64_t)time(NULL) * 1000000;
#define KEY(step) (snprintf(idem, sizeof idem, "soak-%d-%d-%d-%s", run_id, u->index, n, step), idem)
    lead_t *l = lead_add(u);
    l->n = n;
    int with_customer = n % 7 == 3;
    int64_t revenue = (int64_t)n * 100 + 1;
    char customer[64] = "";
    if (with_customer)
        snprintf(customer, sizeof customer, ",\"customerId\":\"%lld\"", (long long)u->customer_id);
    json_t *r = rpc(u, PL "CreateLead", KEY("create"),
                    "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Soak %d u%d lead %d\",\"salespersonId\":\"%lld\","
                    "\"expectedRevenue\":\"%lld\",\"currency\":\"EUR\",\"probability\":20,\"priority\":\"PRIORITY_HIGH\","
                    "\"nextAction\":\"Call back\",\"referredBy\":\"soak\",\"internalNotes\":\"fair card %d\"%s}",
                    run_id, u->index, n, (long long)u->partner_id, (long long)revenue, n, customer);
    if (!r) {
        u->n_leads--; /* never acknowledged: nothing to check */
        return;
    }
    l->id = sys_jint(r, "id");
    l->revenue = revenue;
    json_decref(r);

    /* 7, 10: Proposition, then Negotiation at a revenue of its own */
    const int64_t stages[2] = {stage_proposition, stage_negotiation};
    for (int k = 0; k < 2; k++) {
        revenue = (int64_t)n * 100 + 2 + k;
        char step[16];
        snprintf(step, sizeof step, "update%d", k);
        r = rpc(u, PL "UpdateLead", KEY(step), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"expectedRevenue\":\"%lld\",\"probability\":%d}",
                (long long)l->id, (long long)stages[k], (long long)revenue, 40 + 40 * k);
        if (!r) {
            l->unsure = 1;
            return;
        }
        l->updates++;
        l->revenue = revenue;
        json_decref(r);
    }
    /* 7: a message to the followers */
    r = rpc(u, AC "PostMessage", KEY("comment"),
            "{\"doc\":" DOC ",\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"Soak %d u%d lead %d: proposal sent\"}",
            (long long)l->id, run_id, u->index, n);
    if (!r) {
        l->unsure = 1;
        return;
    }
    l->comment_ids[0] = sys_jint(r, "id");
    l->comments = 1;
    json_decref(r);
    /* 7: "Log a note" */
    if (n % 2 == 0) {
        r = rpc(u, AC "PostMessage", KEY("note"),
                "{\"doc\":" DOC ",\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"Soak %d u%d lead %d: met at the fair\"}",
                (long long)l->id, run_id, u->index, n);
        if (!r) {
            l->unsure = 1;
            return;
        }
        l->note_id = sys_jint(r, "id");
        json_decref(r);
    }
    /* 9: calls logged and scheduled */
    if (n % 3 == 0) {
        r = rpc(u, AC "LogCall", KEY("logcall"), "{\"doc\":" DOC ",\"summary\":\"Soak call %d/%d\",\"durationMinutes\":5}",
                (long long)l->id, u->index, n);
        if (!r) {
            l->unsure = 1;
            return;
        }
        l->calls++;
        json_decref(r);
    }
    if (n % 5 == 0) {
        r = rpc(u, AC "ScheduleCall", KEY("schedule"),
                "{\"doc\":" DOC ",\"summary\":\"Soak planned call %d/%d\",\"plannedAt\":\"%lld\",\"durationMinutes\":30}",
                (long long)l->id, u->index, n, (long long)(now_us + 86400LL * 1000000));
        if (!r) {
            l->unsure = 1;
            return;
        }
        l->calls++;
        json_decref(r);
    }
    /* 13: won, with its quotation */
    if (with_customer) {
        r = rpc(u, PL "MakeQuotation", KEY("quotation"), "{\"opportunityId\":\"%lld\",\"markWon\":true}", (long long)l->id);
        if (!r) {
            l->unsure = 1;
            return;
        }
        l->won = 1;
        json_decref(r);
    }

    /* the reads: own writes are seen at once (the gateway carries the sequence) */
    if ((r = rpc(u, PL "GetLead", NULL, "{\"id\":\"%lld\"}", (long long)l->id))) {
        if (sys_jint(r, "expectedRevenue") != l->revenue)
            atomic_fetch_add(&stale_reads, 1);
        json_decref(r);
    }
    json_decref(rpc(u, AC "ListMessages", NULL, "{\"doc\":" DOC ",\"pageSize\":10}", (long long)l->id));
    json_decref(rpc(u, PL "GetPipeline", NULL, "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"cardsPerColumn\":5}"));
    json_decref(rpc(u, PL "ListLeads", NULL, "{\"pageSize\":20,\"stageId\":\"%lld\"}", (long long)stage_negotiation));
    json_decref(rpc(u, NT "UnreadCount", NULL, "{}"));
    json_decref(rpc(u, NT "ListInbox", NULL, "{\"pageSize\":20}"));
    json_decref(rpc(u, NT "ListFollowers", NULL, "{\"doc\":" DOC "}", (long long)l->id));
    if (n % 4 == 0)
        json_decref(rpc(u, PL "PipelineReport", NULL, "{\"groupBy\":\"GROUP_BY_STAGE\"}"));
    if (n % 6 == 0)
        json_decref(rpc(u, AC "ListCalendar", NULL, "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)now_us,
                        (long long)(now_us + 2 * 86400LL * 1000000)));
    if (n % 10 == 9) { /* a new session now and then */
        relogin(u);
        json_decref(rpc(u, ID "WhoAmI", NULL, "{}"));
    }
#undef KEY
}

static void *worker_main(void *arg)
{
    user_t *u = arg;
    for (int n = 0; atomic_load(&running); n++)
        cycle(u, n);
    return NULL;
}

/* Each salesperson's inbox on Server-Sent Events, resumed after every cut. */
static void *sse_main(void *arg)
{
    user_t *u = arg;
    crm_client_t *client = crm_client_new(env->zmq);
    char *token = NULL;
    while (atomic_load(&streams_on) && !token) {
        crm_status_t st;
        if (!(token = login_token(client, u->login, u->password, &st)))
            sleep_ms(300);
    }
    while (atomic_load(&streams_on) && token) {
        int status;
        sys_sse_t *s = sys_sse_open(env, token, u->sse_last, &status);
        if (!s) {
            u->sse_refused++; /* the gateway being down, or just restarted */
            sleep_ms(200);
            continue;
        }
        u->sse_opens++;
        for (;;) {
            int64_t id;
            int got = sys_sse_next(s, 300, &id, NULL);
            if (got < 0)
                break;
            if (got == 1) {
                if (id <= u->sse_last)
                    u->sse_twice++;
                else {
                    u->sse_entries++, u->sse_last = id;
                    if (u->n_sse_ids == u->cap_sse_ids) {
                        u->cap_sse_ids = u->cap_sse_ids ? 2 * u->cap_sse_ids : 4096;
                        u->sse_ids = crm_realloc(u->sse_ids, u->cap_sse_ids * sizeof *u->sse_ids);
                    }
                    u->sse_ids[u->n_sse_ids++] = id;
                }
            } else if (!atomic_load(&streams_on)) {
                break;
            }
        }
        sys_sse_close(&s);
    }
    free(token);
    crm_client_destroy(&client);
    return NULL;
}

/* --- hostile clients ---------------------------------------------------------------------------- */

static char *hostile_token;
static char *big;          /* 12 MiB of 'x', bodies over every limit */
static size_t big_len = 12 * MIB;
static char *bomb;         /* an authenticated JSON bomb: attachments [{},{},...] */
static size_t bomb_len;

/* A TCP connection to the gateway's HTTP door from the loopback address
 * src, or -1. */
static int http_connect_from(const char *src, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in me = {0}, to = {0};
    me.sin_family = to.sin_family = AF_INET;
    inet_pton(AF_INET, src, &me.sin_addr);
    to.sin_port = htons((uint16_t)env->http_port);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One HTTP request from src; the status, or -1 when no answer came (reset,
 * closed, or the gateway down). */
static int http_from(const char *src, const char *path, const char *auth, const void *body, size_t len)
{
    int fd = http_connect_from(src, 10);
    if (fd < 0)
        return -1;
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
                      "%s%s%sContent-Length: %zu\r\n\r\n",
                      path, auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "", len);
    ssize_t w = send(fd, head, (size_t)hn, MSG_NOSIGNAL);
    for (size_t at = 0; w > 0 && at < len; at += (size_t)w)
        w = send(fd, (const char *)body + at, len - at > 65536 ? 65536 : len - at, MSG_NOSIGNAL);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return -1;
    return status;
}

static void http_outcome(const char *what, int status)
{
    char name[48];
    if (status < 0) {
        snprintf(name, sizeof name, "%s: no answer", what);
        outcome(name, -1);
        return;
    }
    snprintf(name, sizeof name, "%s: HTTP %d", what, status);
    outcome(name, status >= 400 ? 1 : 0);
}

static void zmq_outcome(const char *what, int answered, Crm__Rpc__V1__Code code)
{
    char name[48];
    if (!answered) {
        snprintf(name, sizeof name, "%s: no answer", what);
        outcome(name, -1);
        return;
    }
    snprintf(name, sizeof name, "%s: %s", what, crm_code_name(code));
    outcome(name, code != CODE(OK));
}

/* Many connections from one address at once: past CRM_HTTP_PER_ADDRESS
 * (256) they are closed on arrival. Counts those closed. */
static void connection_flood(const char *src, int n)
{
    int fds[400];
    int opened = 0;
    for (int i = 0; i < n && i < 400; i++) {
        int fd = http_connect_from(src, 1);
        if (fd < 0) {
            http_outcome("connection flood", -1);
            continue;
        }
        fds[opened++] = fd;
    }
    sleep_ms(300);
    for (int i = 0; i < opened; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        char c;
        if (poll(&p, 1, 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) <= 0)
            outcome("connection flood: closed at once", 1);
        close(fds[i]);
    }
}

static void *http_hostile_main(void *arg)
{
    if (atomic_load(&hostile_off))
        return NULL;
    char junk[64];
    for (int round = 0; atomic_load(&running); round++) {
        /* a body over every limit before authentication */
        http_outcome("HTTP 12 MiB body, no session",
                     http_from("127.0.0.2", "/twirp/crm.activities.v1.Activities/PostMessage", NULL, big, big_len));
        /* the same with a session, to a method of 512 KiB */
        http_outcome("HTTP 12 MiB CreateLead", http_from("127.0.0.2", "/twirp/crm.pipeline.v1.Pipeline/CreateLead",
                                                         hostile_token, big, big_len));
        /* a JSON bomb inside the limit, with a session */
        http_outcome("HTTP JSON bomb", http_from("127.0.0.2", "/twirp/crm.activities.v1.Activities/PostMessage",
                                                 hostile_token, bomb, bomb_len));
        /* bad JSON, an unknown route, a flood of made-up logins */
        http_outcome("HTTP bad JSON", http_from("127.0.0.3", "/twirp/crm.identity.v1.Identity/Login", NULL, "{\"login\":", 9));
        http_outcome("HTTP unknown route", http_from("127.0.0.3", "/twirp/crm.x.v1.Nothing/Here", hostile_token, "{}", 2));
        for (int i = 0; i < 10; i++) {
            int n = snprintf(junk, sizeof junk, "{\"login\":\"who%d.%d\",\"password\":\"guess-%d\"}", rand(), i, rand());
            http_outcome("HTTP login flood", http_from("127.0.0.3", "/twirp/crm.identity.v1.Identity/Login", NULL, junk,
                                                      (size_t)n));
        }
        if (round % 10 == 5)
            connection_flood("127.0.0.4", 300);
        sleep_ms(100);
    }
    return NULL;
}

static crm_client_t *zmq_client_from(const char *src)
{
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://%s:0;%s", src, env->zmq + strlen("tcp://"));
    return crm_client_new(ep);
}

static void zmq_try(crm_client_t *c, const char *what, const char *method, const char *token, const void *body,
                    size_t len)
{
    crm_status_t st;
    uint8_t *out = NULL;
    size_t out_len;
    int rc = crm_client_call(c, method, token, NULL, body, len, CALL_TIMEOUT_MS, &st, &out, &out_len);
    free(out);
    zmq_outcome(what, rc == 0, st.code);
}

static void *zmq_hostile_main(void *arg)
{
    if (atomic_load(&hostile_off))
        return NULL;
    crm_client_t *c = zmq_client_from("127.0.0.5"), *flood = zmq_client_from("127.0.0.6");
    char junk[128];
    for (int round = 0; atomic_load(&running); round++) {
        zmq_try(c, "ZMQ 1 MiB body, no session", AC "PostMessage", NULL, big, MIB);
        zmq_try(c, "ZMQ 12 MiB CreateLead", PL "CreateLead", hostile_token, big, big_len);
        zmq_try(c, "ZMQ garbage body", PL "GetLead", hostile_token, big, 4096);
        zmq_try(c, "ZMQ unknown method", "crm.x.v1.Nothing/Here", hostile_token, "", 0);
        for (int i = 0; i < 10; i++) {
            /* LoginRequest: 1 login, 2 password */
            char login[40], pw[40];
            int ln = snprintf(login, sizeof login, "who%d.%d", rand(), i), pn = snprintf(pw, sizeof pw, "guess-%d", rand());
            size_t n = 0;
            junk[n++] = 0x0a, junk[n++] = (char)ln, memcpy(junk + n, login, (size_t)ln), n += (size_t)ln;
            junk[n++] = 0x12, junk[n++] = (char)pn, memcpy(junk + n, pw, (size_t)pn), n += (size_t)pn;
            zmq_try(flood, "ZMQ login flood", ID "Login", NULL, junk, n);
        }
        /* a frame that is no ClientRequest: dropped or answered malformed */
        if (crm_client_send_raw(c, "\xff\xff\xff\xff garbage", 13) == 0) {
            uint8_t *out = NULL;
            long n = crm_client_recv_raw(c, 500, &out);
            free(out);
            outcome(n < 0 ? "ZMQ garbage frame: dropped" : "ZMQ garbage frame: answered", 1);
        }
        sleep_ms(100);
    }
    crm_client_destroy(&c);
    crm_client_destroy(&flood);
    return NULL;
}

/* Readers that never read: a session of a salesperson whose inbox keeps
 * filling, held open for 8 s without reading, then looked at. */
static void *slow_reader_main(void *arg)
{
    if (atomic_load(&hostile_off))
        return NULL;
    user_t *u = &users[0];
    crm_client_t *client = crm_client_new(env->zmq);
    char *token = NULL;
    while (atomic_load(&running) && !token) {
        crm_status_t st;
        if (!(token = login_token(client, u->login, u->password, &st)))
            sleep_ms(300);
    }
    while (atomic_load(&running) && token) {
        int status;
        sys_sse_t *s = sys_sse_open_stalled(env, token, &status);
        if (!s) {
            sleep_ms(500);
            continue;
        }
        for (int i = 0; i < 80 && atomic_load(&running); i++)
            sleep_ms(100);
        /* drain what is there: a closed stream ends in -1 */
        int64_t id, until = sys_now_ms() + 3000;
        int got;
        while ((got = sys_sse_next(s, 200, &id, NULL)) == 1 && sys_now_ms() < until) {
        }
        outcome(got < 0 ? "slow SSE reader: dropped" : "slow SSE reader: still held", got < 0 ? 1 : 2);
        sys_sse_close(&s);
    }
    free(token);
    crm_client_destroy(&client);
    return NULL;
}

/* --- processes: restarts and memory ----------------------------------------------------------------- */

static const char *const service_names[SERVICES] = {"identity", "pipeline", "activities", "notifications", "gateway"};

typedef struct {
    long rss_start, hwm_start, rss_end, hwm_end, peak;
    int kills, restarts;
} proc_stat_t;
static proc_stat_t procs[SERVICES];
/* When each kill happened (Unix us) and of what, to read missed stream
 * entries against. */
static int64_t kill_at[4096];
static int kill_what[4096], n_kill_log;


static void sample_peaks(void)
{
    for (int i = 0; i < SERVICES; i++) {
        long h = env->pid[i] > 0 ? sys_proc_kib(env->pid[i], "VmHWM") : -1;
        if (h > procs[i].peak)
            procs[i].peak = h;
    }
}

/* --- the final reckoning ------------------------------------------------------------------------------ */

static long lost, twice, missing;
static char first_lost[300], first_twice[300], first_missing[300];

static void note(long *count, char *first, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(long *count, char *first, const char *fmt, ...)
{
    if (!(*count)++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first, 300, fmt, ap);
        va_end(ap);
    }
}

/* A call of the reckoning (nothing is killed now): the reply, or NULL
 * after a few tries. */
static json_t *check_call(crm_client_t *c, const char *token, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static json_t *check_call(crm_client_t *c, const char *token, const char *method, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    for (int i = 0; i < 20; i++) {
        crm_status_t st;
        json_t *r = call_once(c, method, token, NULL, body, 20000, &st);
        if (r)
            return r;
        if (!transient(st.code)) {
            fprintf(stderr, "soak: %s %s: %s %s\n", method, body, crm_code_name(st.code), st.message);
            return NULL;
        }
        sleep_ms(500);
    }
    return NULL;
}

/* Every page of a list call: calls fmt (which ends in a pageToken "%s")
 * until nextPageToken is empty, appending the array member `key`. */
static json_t *all_pages(crm_client_t *c, const char *token, const char *method, const char *key, const char *fmt,
                         long long arg)
{
    json_t *all = json_array();
    char page[256] = "";
    for (;;) {
        json_t *r = check_call(c, token, method, fmt, arg, page);
        if (!r) {
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, json_object_get(r, key));
        snprintf(page, sizeof page, "%s", sys_jstr(r, "nextPageToken"));
        json_decref(r);
        if (!page[0])
            return all;
    }
}

/* Waits until every salesperson's unread count has stayed the same for 3 s
 * (notifications has applied everything), at most 120 s. */
static void wait_quiet(void)
{
    int64_t last = -1, until = sys_now_ms() + 120000;
    int same = 0;
    while (same < 3 && sys_now_ms() < until) {
        int64_t sum = 0;
        for (int i = 0; i < n_users; i++) {
            json_t *r = check_call(users[i].client, users[i].token, NT "UnreadCount", "{}");
            sum += r ? sys_jint(r, "count") : -1000000;
            json_decref(r);
        }
        same = sum == last ? same + 1 : 0;
        last = sum;
        sleep_ms(1000);
    }
}

static int64_t inbox_total, sse_missed;
static int sse_missed_shown;

static void reckon(const char *admin)
{
    crm_client_t *c = env->client;
    /* every lead, once */
    json_t *leads = all_pages(c, admin, PL "ListLeads", "leads", "{\"pageSize\":500%.0lld,\"pageToken\":\"%s\"}", 0LL);
    if (!leads) {
        note(&lost, first_lost, "ListLeads failed");
        return;
    }
    json_t *by_name = json_object(), *byid = json_object(), *v;
    size_t i;
    json_array_foreach(leads, i, v) {
        const char *name = sys_jstr(v, "name");
        json_t *seen = json_object_get(by_name, name);
        if (seen)
            note(&twice, first_twice, "lead \"%s\" created twice (ids %lld and %lld)", name,
                 (long long)json_integer_value(seen), (long long)sys_jint(v, "id"));
        else
            json_object_set_new(by_name, name, json_integer(sys_jint(v, "id")));
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)sys_jint(v, "id"));
        json_object_set(byid, id, v);
    }
    for (int u = 0; u < n_users; u++) {
        user_t *us = &users[u];
        /* the partner's inbox: who was told of this salesperson's leads */
        user_t *partner = &users[(u + 1) % n_users];
        json_t *inbox = all_pages(partner->client, partner->token, NT "ListInbox", "notifications",
                                  "{\"pageSize\":500%.0lld,\"pageToken\":\"%s\"}", 0LL);
        json_t *entries = json_object(); /* "doc|subtype|summary|message" → 1 */
        json_t *per_doc = json_object(); /* doc → count */
        if (!inbox)
            note(&missing, first_missing, "ListInbox of %s failed", partner->login);
        json_array_foreach(inbox, i, v) {
            char key[1024], doc[32];
            snprintf(doc, sizeof doc, "%lld", (long long)sys_jint(v, "doc.id"));
            snprintf(key, sizeof key, "%s|%s|%s|%lld", doc, sys_jstr(v, "subtype"), sys_jstr(v, "summary"),
                     (long long)sys_jint(v, "messageId"));
            if (json_object_get(entries, key))
                note(&twice, first_twice, "%s's inbox holds twice: %s", partner->login, key);
            json_object_set_new(entries, key, json_true());
            json_object_set_new(per_doc, doc, json_integer(sys_jint(per_doc, doc) + 1));
        }
        inbox_total += inbox ? (int64_t)json_array_size(inbox) : 0;
        /* what the partner's stream did not give of their inbox */
        json_array_foreach(inbox, i, v) {
            int64_t nid = sys_jint(v, "id");
            int seen = 0;
            size_t lo = 0, hi = partner->n_sse_ids;
            while (lo < hi && !seen) { /* ids arrive increasing */
                size_t mid = (lo + hi) / 2;
                if (partner->sse_ids[mid] == nid)
                    seen = 1;
                else if (partner->sse_ids[mid] < nid)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (!seen && sse_missed_shown++ < 10) {
                int64_t at = sys_jint(v, "at"), near = INT64_MAX;
                int what = -1;
                for (int k = 0; k < n_kill_log; k++)
                    if (llabs(kill_at[k] - at) < llabs(near)) near = kill_at[k] - at, what = kill_what[k];
                fprintf(stderr, "soak: %s's stream missed entry %lld (%s, at %lld; nearest kill: %s %+.1f s)\n",
                        partner->login, (long long)nid, sys_jstr(v, "subtype"), (long long)at,
                        what >= 0 ? service_names[what] : "none", what >= 0 ? near / 1e6 : 0.0);
            }
            sse_missed += !seen;
        }
        for (size_t k = 0; k < us->n_leads; k++) {
            lead_t *l = &us->leads[k];
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)l->id);
            json_t *stored = json_object_get(byid, id);
            if (!stored) {
                note(&lost, first_lost, "lead %lld (%s, cycle %d) acknowledged, not stored", (long long)l->id,
                     us->login, l->n);
                continue;
            }
            if (!l->unsure && sys_jint(stored, "expectedRevenue") != l->revenue)
                note(&lost, first_lost, "lead %lld: revenue %lld, last acknowledged %lld", (long long)l->id,
                     (long long)sys_jint(stored, "expectedRevenue"), (long long)l->revenue);
            /* its chatter: every acknowledged message there, nothing twice */
            json_t *msgs = all_pages(c, admin, AC "ListMessages", "messages",
                                     "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":200,\"pageToken\":\"%s\"}",
                                     (long long)l->id);
            if (!msgs) {
                note(&missing, first_missing, "ListMessages of lead %lld failed", (long long)l->id);
                continue;
            }
            json_t *bodies = json_object(), *m;
            size_t j;
            int tracking = 0, found_comment = 0, found_note = 0;
            json_array_foreach(msgs, j, m) {
                const char *kind = sys_jstr(m, "kind");
                char key[1024];
                snprintf(key, sizeof key, "%s|%s", kind, sys_jstr(m, "body"));
                if (json_object_get(bodies, key))
                    note(&twice, first_twice, "lead %lld's chatter holds twice: %.200s", (long long)l->id, key);
                json_object_set_new(bodies, key, json_true());
                if (!strcmp(kind, "MESSAGE_KIND_TRACKING"))
                    tracking++;
                if (l->comments && sys_jint(m, "id") == l->comment_ids[0])
                    found_comment = 1;
                if (l->note_id && sys_jint(m, "id") == l->note_id)
                    found_note = 1;
            }
            if (l->comments && !found_comment)
                note(&lost, first_lost, "lead %lld: acknowledged message %lld not in its chatter", (long long)l->id,
                     (long long)l->comment_ids[0]);
            if (l->note_id && !found_note)
                note(&lost, first_lost, "lead %lld: acknowledged note %lld not in its chatter", (long long)l->id,
                     (long long)l->note_id);
            /* created, each stage move, won: one tracking message each at least */
            if (tracking < 1 + l->updates + l->won)
                note(&missing, first_missing, "lead %lld: %d tracking messages for %d tracked changes", (long long)l->id,
                     tracking, 1 + l->updates + l->won);
            /* the partner was told of the assignment, each stage move, the
             * comment and the calls */
            int want = 1 + l->updates + l->comments + l->calls;
            if (sys_jint(per_doc, id) < want)
                note(&missing, first_missing, "lead %lld: %lld inbox entries for %s, want at least %d", (long long)l->id,
                     (long long)sys_jint(per_doc, id), partner->login, want);
            json_decref(bodies);
            json_decref(msgs);
        }
        json_decref(entries);
        json_decref(per_doc);
        json_decref(inbox);
    }
    json_decref(by_name);
    json_decref(byid);
    json_decref(leads);
}

/* --- wiring ------------------------------------------------------------------------------------ */

/* The first three figures of /proc/loadavg (the machine is shared). */
static void loadavg(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "r");
    float a = 0, b = 0, c = 0;
    if (!f || fscanf(f, "%f %f %f", &a, &b, &c) != 3)
        snprintf(out, cap, "unknown");
    else
        snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
    if (f)
        fclose(f);
}

static void usage(void)
{
    fprintf(stderr, "crm-soak [--seconds N] [--users N] [--kill-every-ms N] [--seed N]\n"
                    "  environment: SOAK_SECONDS (600), SOAK_USERS (6), SOAK_KILL_MS (5000)\n");
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

int main(int argc, char **argv)
{
    int seconds = atoi(env_or("SOAK_SECONDS", "600")), kill_ms = atoi(env_or("SOAK_KILL_MS", "5000"));
    unsigned seed = (unsigned)time(NULL);
    n_users = atoi(env_or("SOAK_USERS", "6"));
    static const struct option longopts[] = {{"seconds", 1, 0, 's'}, {"users", 1, 0, 'u'}, {"kill-every-ms", 1, 0, 'k'},
                                             {"seed", 1, 0, 'r'},    {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (o) {
        case 's': seconds = atoi(optarg); break;
        case 'u': n_users = atoi(optarg); break;
        case 'k': kill_ms = atoi(optarg); break;
        case 'r': seed = (unsigned)strtoul(optarg, NULL, 10); break;
        default: usage(); return 2;
        }
    }
    if (seconds < 5 || n_users < 2 || n_users > MAX_USERS || kill_ms < 500) {
        usage();
        return 2;
    }
    /* crm_json counts jansson's allocations in one process-wide budget (the
     * services decode on one thread); this program parses on many threads,
     * so jansson allocates plainly here and each decode keeps its own
     * per-call limit */
    json_set_alloc_funcs(malloc, free);
    srand(seed);
    run_id = (int)(seed % 100000);
    signal(SIGPIPE, SIG_IGN);

    char started_at[64];
    time_t t0 = time(NULL);
    strftime(started_at, sizeof started_at, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t0));
    char load_start[64];
    loadavg(load_start, sizeof load_start);
    printf("soak: %d s, %d salespeople, a service killed -9 every %d ms on average, seed %u, started %s, load %s\n",
           seconds, n_users, kill_ms, seed, started_at, load_start);
    fflush(stdout);

    static const char *const extra[] = {"CRM_LOG_LEVEL=warn", NULL};
    char *admin = NULL;
    env = sys_start_admin(extra, &admin);
    if (!env)
        return 1;
    crm_status_t st;
    /* the walkthrough's first steps: users (managers), a customer each, the stages */
    for (int i = 0; i < n_users; i++) {
        user_t *u = &users[i];
        u->index = i;
        snprintf(u->login, sizeof u->login, "soak.sales%d", i);
        snprintf(u->password, sizeof u->password, "soak-pass-%d", i);
        json_t *r = check_call(env->client, admin, ID "CreateUser",
                               "{\"login\":\"%s\",\"name\":\"Sales %d\",\"password\":\"%s\",\"salesAccess\":"
                               "\"SALES_ACCESS_MANAGER\",\"hrAccess\":\"HR_ACCESS_EMPLOYEE\"}",
                               u->login, i, u->password);
        if (!r)
            goto fail;
        u->user_id = sys_jint(r, "user.id");
        json_decref(r);
        u->client = crm_client_new(env->zmq);
        if (!(u->token = login_token(u->client, u->login, u->password, &st))) {
            fprintf(stderr, "soak: login %s: %s\n", u->login, st.message);
            goto fail;
        }
    }
    for (int i = 0; i < n_users; i++) {
        users[i].partner_id = users[(i + 1) % n_users].user_id;
        json_t *r = check_call(users[i].client, users[i].token, PL "CreateCustomer",
                               "{\"name\":\"Zhang San %d\",\"isCompany\":false,\"salespersonId\":\"%lld\"}", i,
                               (long long)users[i].user_id);
        if (!r)
            goto fail;
        users[i].customer_id = sys_jint(r, "id");
        json_decref(r);
    }
    json_t *stages = check_call(env->client, admin, PL "ListStages", "{\"type\":\"LEAD_TYPE_OPPORTUNITY\"}"), *s;
    size_t si;
    json_array_foreach(json_object_get(stages, "stages"), si, s) {
        if (sys_jint(s, "teamId"))
            continue;
        if (!strcmp(sys_jstr(s, "name"), "Proposition"))
            stage_proposition = sys_jint(s, "id");
        if (!strcmp(sys_jstr(s, "name"), "Negotiation"))
            stage_negotiation = sys_jint(s, "id");
    }
    json_decref(stages);
    if (!stage_proposition || !stage_negotiation) {
        fprintf(stderr, "soak: no Proposition or Negotiation stage\n");
        goto fail;
    }
    if (sys_create_user(env, admin, "soak.hostile", "soak-hostile-1", 1, 0) < 0 ||
        !(hostile_token = sys_login(env, "soak.hostile", "soak-hostile-1", &st)))
        goto fail;
    big = crm_malloc(big_len);
    memset(big, 'x', big_len);
    bomb_len = 2 * MIB;
    bomb = crm_malloc(bomb_len + 64);
    size_t at = (size_t)sprintf(bomb, "{\"doc\":{\"model\":\"lead\",\"id\":\"1\"},\"attachments\":[{}");
    while (at + 8 < bomb_len)
        memcpy(bomb + at, ",{}", 3), at += 3;
    strcpy(bomb + at, "]}");
    bomb_len = strlen(bomb);

    for (int i = 0; i < SERVICES; i++) {
        procs[i].rss_start = sys_proc_kib(env->pid[i], "VmRSS");
        procs[i].hwm_start = sys_proc_kib(env->pid[i], "VmHWM");
    }

    /* traffic */
    int64_t start = sys_now_ms(), end = start + (int64_t)seconds * 1000;
    retry_until_ms = INT64_MAX;
    pthread_t hostile[3];
    /* the streams first: one opened without Last-Event-ID gives what comes after it */
    for (int i = 0; i < n_users; i++)
        pthread_create(&users[i].sse_thread, NULL, sse_main, &users[i]);
    for (int i = 0, waited = 0; i < n_users && waited < 10000; waited += 10)
        if (atomic_load(&users[i].sse_opens))
            i++;
        else
            sleep_ms(10);
    for (int i = 0; i < n_users; i++)
        pthread_create(&users[i].thread, NULL, worker_main, &users[i]);
    if (getenv("SOAK_NO_HOSTILE"))
        atomic_store(&hostile_off, 1);
    pthread_create(&hostile[0], NULL, http_hostile_main, NULL);
    pthread_create(&hostile[1], NULL, zmq_hostile_main, NULL);
    pthread_create(&hostile[2], NULL, slow_reader_main, NULL);

    /* the operator's restart policy, and the one who kills */
    int kills = 0, survived = 0;
    int64_t next_kill = start + kill_ms / 2 + rand() % kill_ms, next_report = start + (getenv("SOAK_DEBUG") ? 10000 : 60000);
    while (sys_now_ms() < end) {
        sample_peaks();
        sleep_ms(200);
        int64_t now = sys_now_ms();
        if (now >= next_report) {
            fprintf(stderr, "soak: %llds: %ld served, %d kills, %ld retries%s%s\n", (long long)(now - start) / 1000,
                    atomic_load(&served), kills, atomic_load(&retries), first_retry[0] ? "; first: " : "", first_retry);
            next_report += getenv("SOAK_DEBUG") ? 10000 : 60000;
        }
        if (now < next_kill || getenv("SOAK_NO_KILLS"))
            continue;
        int which = rand() % SERVICES;
        sample_peaks();
        if (n_kill_log < 4096) {
            kill_at[n_kill_log] = (int64_t)time(NULL) * 1000000;
            kill_what[n_kill_log++] = which;
        }
        sys_kill(env, (sys_proc_t)which, SIGKILL);
        kills++;
        procs[which].kills++;
        sleep_ms(100 + rand() % 400); /* Restart=always, RestartSec short */
        int up = 0;
        for (int attempt = 0; attempt < 5 && !up; attempt++) {
            if (env->pid[which] <= 0 && sys_spawn(env, (sys_proc_t)which) != 0)
                continue;
            procs[which].restarts++;
            up = sys_wait_ready(env, (sys_proc_t)which, 30000) == 0;
            if (!up) {
                fprintf(stderr, "soak: %s did not come back; restarting it again\n", service_names[which]);
                sys_kill(env, (sys_proc_t)which, SIGKILL);
            }
        }
        if (up)
            survived++;
        next_kill = sys_now_ms() + kill_ms / 2 + rand() % kill_ms;
    }
    /* every service up for the end: writes in flight finish, then the reckoning */
    for (int i = 0; i < SERVICES; i++)
        if (sys_wait_ready(env, (sys_proc_t)i, 30000) != 0)
            fprintf(stderr, "soak: %s is not up at the end\n", service_names[i]);
    retry_until_ms = sys_now_ms() + GRACE_MS;
    atomic_store(&running, 0);
    int64_t traffic_ms = sys_now_ms() - start;
    for (int i = 0; i < n_users; i++)
        pthread_join(users[i].thread, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(hostile[i], NULL);
    wait_quiet();
    sleep_ms(2000); /* the streams' last entries */
    atomic_store(&streams_on, 0);
    for (int i = 0; i < n_users; i++)
        pthread_join(users[i].sse_thread, NULL);
    /* what the streams missed at their last cut is not a failure of theirs;
     * count what the inbox holds after the reckoning */
    sample_peaks();
    for (int i = 0; i < SERVICES; i++) {
        procs[i].rss_end = sys_proc_kib(env->pid[i], "VmRSS");
        procs[i].hwm_end = sys_proc_kib(env->pid[i], "VmHWM");
    }
    reckon(admin);

    long leads = 0, writes = 0, unsure = 0, sse = 0, sse_twice = 0, sse_opens = 0;
    for (int i = 0; i < n_users; i++) {
        leads += (long)users[i].n_leads;
        for (size_t k = 0; k < users[i].n_leads; k++) {
            lead_t *l = &users[i].leads[k];
            writes += 1 + l->updates + l->comments + l->calls + l->won + (l->note_id != 0);
            unsure += l->unsure;
        }
        sse += users[i].sse_entries;
        sse_twice += users[i].sse_twice;
        sse_opens += users[i].sse_opens;
    }
    long refused = 0, accepted = 0, unanswered = 0, held = 0;
    for (int i = 0; i < n_outcomes; i++) {
        if (outcomes[i].refused == 2)
            held += outcomes[i].count;
        else if (outcomes[i].refused > 0)
            refused += outcomes[i].count;
        else if (outcomes[i].refused == 0)
            accepted += outcomes[i].count;
        else
            unanswered += outcomes[i].count;
    }

    char load_end[64];
    loadavg(load_end, sizeof load_end);
    printf("\n== soak figures (%lld s of traffic, %d salespeople, started %s; load average %s at the start, %s at the end)\n",
           (long long)traffic_ms / 1000, n_users, started_at, load_start, load_end);
    printf("requests served:                 %ld (%.0f/s; %ld retries of a failed or timed-out call, %ld logins)\n",
           atomic_load(&served), atomic_load(&served) * 1000.0 / (double)traffic_ms, atomic_load(&retries),
           atomic_load(&logins));
    for (int c = 0; c < MAX_CODES; c++)
        if (atomic_load(&retried_by_code[c]))
            printf("    retried after %-38s %ld\n", crm_code_name((Crm__Rpc__V1__Code)c), atomic_load(&retried_by_code[c]));
    printf("acknowledged writes:             %ld (%ld opportunities; %ld writes abandoned after %d s of retries)\n",
           writes, leads, atomic_load(&abandoned), GRACE_MS / 1000);
    printf("hostile requests refused:        %ld (accepted: %ld; unanswered while the gateway was down: %ld; "
           "slow readers still held after 8 s: %ld)\n", refused, accepted, unanswered, held);
    for (int i = 0; i < n_outcomes; i++)
        printf("    %-52s %ld\n", outcomes[i].name, outcomes[i].count);
    printf("kills survived:                  %d of %d (", survived, kills);
    for (int i = 0; i < SERVICES; i++)
        printf("%s%s %d", i ? ", " : "", service_names[i], procs[i].kills);
    printf(")\n");
    printf("acknowledged writes lost:        %ld%s%s\n", lost, lost ? "  first: " : "", lost ? first_lost : "");
    printf("events applied twice:            %ld%s%s\n", twice, twice ? "  first: " : "", twice ? first_twice : "");
    printf("events missing:                  %ld%s%s\n", missing, missing ? "  first: " : "", missing ? first_missing : "");
    printf("SSE entries received:            %ld of %lld in the inboxes (%ld streams opened; seen twice: %ld; "
           "never seen: %lld)\n", sse, (long long)inbox_total, sse_opens, sse_twice, (long long)sse_missed);
    printf("read-your-writes misses:         %ld\n", atomic_load(&stale_reads));
    printf("unexpected errors:               %ld%s%s\n", atomic_load(&rpc_unexpected),
           first_unexpected[0] ? "  first: " : "", first_unexpected);
    for (int c = 0; c < MAX_CODES; c++)
        if (atomic_load(&unexpected_by_code[c]))
            printf("    %-52s %ld\n", crm_code_name((Crm__Rpc__V1__Code)c), atomic_load(&unexpected_by_code[c]));
    printf("memory (KiB)      start VmRSS  VmHWM    end VmRSS  VmHWM   peak VmHWM   kills\n");
    for (int i = 0; i < SERVICES; i++)
        printf("  %-14s %10ld %7ld %12ld %7ld %12ld %7d\n", service_names[i], procs[i].rss_start, procs[i].hwm_start,
               procs[i].rss_end, procs[i].hwm_end, procs[i].peak, procs[i].kills);
    fflush(stdout);

    int unclean = sys_stop(env);
    env = NULL;
    printf("clean shutdown:                  %s\n", unclean ? "NO" : "yes");
    int ok = !lost && !twice && survived == kills;
    printf("soak %s\n", ok ? "PASSED" : "FAILED");
    for (int i = 0; i < n_users; i++) {
        crm_client_destroy(&users[i].client);
        free(users[i].token);
        free(users[i].leads);
        free(users[i].sse_ids);
    }
    free(admin);
    free(hostile_token);
    free(big);
    free(bomb);
    return ok ? 0 : 1;
fail:
    fprintf(stderr, "soak: setup failed; logs in %s\n", env->dir);
    sys_stop(env);
    return 1;
}
