/* bench_activities: the activities service (the chatter) through the
 * gateway's ZeroMQ door, with the same load shape as bench_gateway and
 * bench_pipeline (N sockets, each keeping one request in flight, one thread)
 * and their load generator (bench_common.h).
 *
 * 1. PostMessage (notes and comments of some 80 characters on a few hundred
 *    opportunities) with 32 in flight, durable, each repetition next to its
 *    floors: the durable LMDB commit of 32 records, Health through the same
 *    two hops (gateway -> activities), and CreateLead at the same load (a
 *    durable write of the pipeline, whose events activities turns into
 *    tracking messages as it runs).
 * 2. One opportunity's chatter filled to --entries (10,000) entries with
 *    PostMessage at 32 in flight, then ListMessages' first page (the default
 *    size, 30) of it with 4 in flight, next to Health with 4.
 * 3. Tracking lag: UpdateLead paced at --track-rate (1,000) changes a second
 *    over the opportunities of step 1, for --track-seconds (5), while a SUB
 *    socket on activities' event PUB takes every message.posted: each
 *    tracking message's lag is its receipt (CLOCK_REALTIME) minus its `at`,
 *    which is the pipeline event's, taken just before pipeline's commit. Every
 *    change must give one.
 * 4. Memory of crm-activities (VmRSS, RssAnon) at the start and the end.
 *
 * Every reply must have status OK, and its body is checked: the message
 * posted is the one asked for, a page has 30 messages of the document,
 * newest first, the lead updated has the revenue and stage asked for. */
#define BENCH_PROG "bench_activities"
#include "bench_common.h"
#include "activities.pb-c.h"
#include "events.pb-c.h"

#include <getopt.h>
#include <signal.h>

#define ACT "crm.activities.v1.Activities/"
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define PAGE_DEFAULT 30   /* ListMessages' page when none is asked for */
#define PAGE_MAX 200      /* ListMessages' largest page */
#define FILL_MAX_S 300.0  /* filling slower than that is a failure of its own */
#define PACED_SOCKETS 64  /* UpdateLead sockets of the paced run: room for 64 ms replies at 1,000/s */
#define TRACK_DRAIN_NS 3000000000LL /* how long tracking messages may trail the last reply */
#define LATE_NS 5000000LL /* a paced request sent this much after its time counts as late */

/* --- options ------------------------------------------------------------------ */

typedef struct {
    const char *zmq, *password, *tmp, *events;
    long activities_pid, gateway_pid;
    int64_t started_us; /* when crm-activities was started, Unix us (0: unknown) */
    int write_clients, read_clients, docs;
    long entries;
    double seconds, warmup, track_rate, track_seconds, catchup_s;
    int reps;
    int strict;
} options_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_activities --zmq EP --password PW --activities-events EP [flags]\n"
            "  --zmq EP                the gateway's ZeroMQ door (routes to crm-activities and crm-pipeline)\n"
            "  --password PW           admin's password\n"
            "  --activities-events EP  activities' event PUB (the tracking messages' lag is taken there)\n"
            "  --activities-pid PID, --gateway-pid PID   for VmRSS and RssAnon\n"
            "  --activities-started US  when crm-activities was started (Unix microseconds), to time its catching up\n"
            "  --tmp DIR               where the LMDB floor writes (the services' file system)\n"
            "  --write-clients 32      PostMessage / CreateLead requests in flight\n"
            "  --read-clients 4        ListMessages requests in flight\n"
            "  --docs 300              opportunities the messages and the tracked changes go to\n"
            "  --entries 10000         chatter entries of the document ListMessages reads\n"
            "  --track-rate 1000 --track-seconds 5   UpdateLead pace and duration of each tracking run\n"
            "  --catchup-timeout 600   seconds activities may take to catch up on pipeline's events\n"
            "  --seconds 2 --warmup 0.5 --reps 3   measured window, warm-up, repetitions\n"
            "  --strict                exit 3 when a target is missed\n");
    exit(2);
}

static void parse_options(options_t *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"zmq", 1, 0, 'z'},           {"password", 1, 0, 'p'},        {"activities-events", 1, 0, 'e'},
        {"activities-pid", 1, 0, 'A'}, {"gateway-pid", 1, 0, 'G'},    {"tmp", 1, 0, 't'},
        {"write-clients", 1, 0, 'W'}, {"read-clients", 1, 0, 'R'},    {"docs", 1, 0, 'd'},
        {"entries", 1, 0, 'n'},       {"track-rate", 1, 0, 'T'},      {"track-seconds", 1, 0, 'D'},
        {"catchup-timeout", 1, 0, 'C'}, {"seconds", 1, 0, 's'},       {"warmup", 1, 0, 'w'},
        {"reps", 1, 0, 'r'},          {"strict", 0, 0, 'S'},          {"activities-started", 1, 0, 'a'},          {"help", 0, 0, '?'},
        {0, 0, 0, 0},
    };
    *o = (options_t){.password = "", .tmp = "/tmp", .write_clients = 32, .read_clients = 4, .docs = 300,
                     .entries = 10000, .seconds = 2, .warmup = 0.5, .track_rate = 1000, .track_seconds = 5,
                     .catchup_s = 600, .reps = 3};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'z': o->zmq = optarg; break;
        case 'p': o->password = optarg; break;
        case 'e': o->events = optarg; break;
        case 'A': o->activities_pid = atol(optarg); break;
        case 'G': o->gateway_pid = atol(optarg); break;
        case 'a': o->started_us = atoll(optarg); break;
        case 't': o->tmp = optarg; break;
        case 'W': o->write_clients = parse_count("write-clients", optarg, 1, MAX_CLIENTS); break;
        case 'R': o->read_clients = parse_count("read-clients", optarg, 1, MAX_CLIENTS); break;
        case 'd': o->docs = parse_count("docs", optarg, 1, 100000); break;
        case 'n': o->entries = atol(optarg); break;
        case 'T': o->track_rate = atof(optarg); break;
        case 'D': o->track_seconds = atof(optarg); break;
        case 'C': o->catchup_s = atof(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'w': o->warmup = atof(optarg); break;
        case 'r': o->reps = atoi(optarg); break;
        case 'S': o->strict = 1; break;
        default: usage();
        }
    }
    if (!o->zmq || !o->events || optind != argc || o->seconds <= 0 || o->warmup < 0 || o->reps < 1 ||
        o->reps > MAX_REPS || o->entries < PAGE_DEFAULT + 1 || o->track_rate <= 0 || o->track_rate > 100000 ||
        o->track_seconds <= 0 || o->catchup_s <= 0)
        usage();
}

/* --- calls outside the load ------------------------------------------------------ */

static crm_client_t *cli;
static const char *token;


/* Waits until activities knows lead id (it applies pipeline's events in
 * order, so it then knows every lead made before): ListMessages on it
 * answers OK. Returns the seconds waited; dies after timeout_s. */
static double wait_known(int64_t id, double timeout_s)
{
    int64_t t0 = now_ns(), until = t0 + (int64_t)(timeout_s * 1e9);
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = id;
    Crm__Activities__V1__ListMessagesRequest req = CRM__ACTIVITIES__V1__LIST_MESSAGES_REQUEST__INIT;
    req.doc = &doc;
    req.page_size = 1;
    crm_status_t st;
    for (;;) {
        Crm__Activities__V1__ListMessagesReply *r =
            bench_call(cli, token, ACT "ListMessages", &req.base, &crm__activities__v1__list_messages_reply__descriptor,
                       &st);
        if (r) {
            protobuf_c_message_free_unpacked(&r->base, NULL);
            return (double)(now_ns() - t0) / 1e9;
        }
        if (now_ns() >= until)
            die("activities does not know lead %lld after %.0f s (last answer %s: %s)", (long long)id,
                timeout_s, crm_code_name(st.code), st.message);
        usleep(20000);
    }
}

/* The entries of a lead's chatter, paging through all of it (pages of 200),
 * each checked to be of the lead and below the one before. */
static long chatter_count(int64_t id)
{
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = id;
    char page_token[64] = "";
    long n = 0;
    int64_t last_at = INT64_MAX, last_id = INT64_MAX;
    for (;;) {
        Crm__Activities__V1__ListMessagesRequest req = CRM__ACTIVITIES__V1__LIST_MESSAGES_REQUEST__INIT;
        req.doc = &doc;
        req.page_size = PAGE_MAX;
        req.page_token = page_token;
        Crm__Activities__V1__ListMessagesReply *r =
            bench_call(cli, token, ACT "ListMessages", &req.base, &crm__activities__v1__list_messages_reply__descriptor,
                       NULL);
        for (size_t i = 0; i < r->n_messages; i++) {
            const Crm__Activities__V1__Message *m = r->messages[i];
            if (!m->doc || m->doc->id != id || strcmp(m->doc->model, "lead") ||
                m->at > last_at || (m->at == last_at && m->id >= last_id))
                die("ListMessages of lead %lld: message %lld (at %lld, of %s %lld) out of place after %ld",
                    (long long)id, (long long)m->id, (long long)m->at, m->doc ? m->doc->model : "-",
                    m->doc ? (long long)m->doc->id : 0LL, n);
            last_at = m->at;
            last_id = m->id;
            n++;
        }
        int more = r->next_page_token[0] != 0;
        if (more)
            snprintf(page_token, sizeof page_token, "%s", r->next_page_token);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (!more)
            return n;
    }
}

/* --- requests and their checks ---------------------------------------------------- */

/* CreateLead: opportunities over the open stages, as bench_pipeline makes
 * them. The ids of the first ids_n made are kept; max_id is the newest seen. */
typedef struct {
    const int64_t *stages;
    int n_stages;
    uint64_t next;
    long ids_n;
    int64_t *ids;
    int64_t max_id;
} creates_t;

static void lead_fields(const creates_t *w, uint64_t n, int64_t *stage, int64_t *revenue)
{
    *stage = w->stages[n % (uint64_t)w->n_stages];
    *revenue = (int64_t)(1000 + (n * 7919) % 5000000) * 100;
}

static size_t create_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    creates_t *w = arg;
    uint64_t n = w->next++;
    char name[48], contact[48], email[64], company[48];
    snprintf(name, sizeof name, "Chatter opportunity %llu", (unsigned long long)n);
    snprintf(contact, sizeof contact, "Contact %llu", (unsigned long long)n);
    snprintf(email, sizeof email, "contact%llu@example.com", (unsigned long long)n);
    snprintf(company, sizeof company, "Company %llu", (unsigned long long)(n % 5000));
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    r.type = OPPORTUNITY;
    r.name = name;
    r.contact_name = contact;
    r.email = email;
    r.company_name = company;
    r.probability = (int32_t)(1 + (n * 37) % 99);
    r.priority = (Crm__Pipeline__V1__Priority)(1 + n % 4);
    lead_fields(w, n, &r.stage_id, &r.expected_revenue);
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int create_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    creates_t *w = arg;
    Crm__Pipeline__V1__Lead *l = unpack_reply(&crm__pipeline__v1__lead__descriptor, "CreateLead", alloc, body, len,
                                              msg, cap);
    if (!l)
        return -1;
    int64_t stage, revenue;
    lead_fields(w, tag, &stage, &revenue);
    if (l->id <= 0 || l->type != OPPORTUNITY || l->stage_id != stage || l->expected_revenue != revenue) {
        snprintf(msg, cap, "CreateLead %llu gave lead %lld type %d stage %lld revenue %lld",
                 (unsigned long long)tag, (long long)l->id, (int)l->type, (long long)l->stage_id,
                 (long long)l->expected_revenue);
        return -1;
    }
    if (tag < (uint64_t)w->ids_n)
        w->ids[tag] = l->id;
    if (l->id > w->max_id)
        w->max_id = l->id;
    return 0;
}

/* PostMessage n: a note or a comment (in turn) on docs[n % n_docs]. */
typedef struct {
    const int64_t *docs;
    int n_docs;
    uint64_t next;
} posts_t;

static void post_fields(const posts_t *p, uint64_t n, int64_t *doc, int *kind, char *body, size_t cap)
{
    *doc = p->docs[n % (uint64_t)p->n_docs];
    *kind = n % 2 ? KIND(COMMENT) : KIND(NOTE);
    snprintf(body, cap, "%s %llu from the benchmark: called back, they want the proposal by Friday.",
             n % 2 ? "Comment" : "Note", (unsigned long long)n);
}

static size_t post_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    posts_t *p = arg;
    uint64_t n = p->next++;
    char text[160];
    int kind;
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    post_fields(p, n, &doc.id, &kind, text, sizeof text);
    Crm__Activities__V1__PostMessageRequest r = CRM__ACTIVITIES__V1__POST_MESSAGE_REQUEST__INIT;
    r.doc = &doc;
    r.kind = (Crm__Activities__V1__MessageKind)kind;
    r.body = text;
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int post_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                      char *msg, size_t cap)
{
    const posts_t *p = arg;
    Crm__Activities__V1__Message *m =
        unpack_reply(&crm__activities__v1__message__descriptor, "PostMessage", alloc, body, len, msg, cap);
    if (!m)
        return -1;
    int64_t doc;
    int kind;
    char text[160];
    post_fields(p, tag, &doc, &kind, text, sizeof text);
    if (m->id <= 0 || !m->doc || m->doc->id != doc || strcmp(m->doc->model, "lead") || (int)m->kind != kind ||
        strcmp(m->body, text) || m->at <= 0 || !m->author_id) {
        snprintf(msg, cap, "PostMessage %llu gave message %lld on %s %lld kind %d author %lld body \"%.40s\"",
                 (unsigned long long)tag, (long long)m->id, m->doc ? m->doc->model : "-",
                 m->doc ? (long long)m->doc->id : 0LL, (int)m->kind, (long long)m->author_id, m->body);
        return -1;
    }
    return 0;
}

/* ListMessages' first page of one document: PAGE_DEFAULT messages of it,
 * newest first, and a token to go on. */
static int list_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                      char *msg, size_t cap)
{
    int64_t doc = *(const int64_t *)arg;
    Crm__Activities__V1__ListMessagesReply *r =
        unpack_reply(&crm__activities__v1__list_messages_reply__descriptor, "ListMessages", alloc, body, len, msg, cap);
    if (!r)
        return -1;
    if (r->n_messages != PAGE_DEFAULT || !r->next_page_token[0]) {
        snprintf(msg, cap, "ListMessages: %zu messages, next token \"%s\"", r->n_messages, r->next_page_token);
        return -1;
    }
    for (size_t i = 0; i < r->n_messages; i++) {
        const Crm__Activities__V1__Message *m = r->messages[i], *prev = i ? r->messages[i - 1] : NULL;
        if (!m->doc || m->doc->id != doc ||
            (prev && (m->at > prev->at || (m->at == prev->at && m->id >= prev->id)))) {
            snprintf(msg, cap, "ListMessages: message %lld (at %lld, doc %lld) out of place at %zu",
                     (long long)m->id, (long long)m->at, m->doc ? (long long)m->doc->id : 0LL, i);
            return -1;
        }
    }
    return 0;
}

/* UpdateLead n (bench_common.h's updates_t, stage_offset 0): a body per
 * request and its check, for the load generator. */
static size_t update_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    updates_t *u = arg;
    *tag = u->next++;
    return update_pack(u, *tag, buf, cap);
}

static int update_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    return update_judge(arg, tag, body, len, alloc, msg, cap);
}

/* --- tracking lag: UpdateLead paced, tracking messages taken off activities' PUB ---- */

typedef struct {
    long changes;        /* UpdateLead calls sent */
    long ok;             /* ... answered OK */
    long errors;
    char error[200];
    long tracked;        /* changes answered OK whose tracking message came */
    long untracked_ok;   /* tracking messages of changes not answered OK (should be none) */
    long duplicates;     /* a second tracking message of one change */
    long late;           /* sent more than LATE_NS after their time (no free socket, or the loop late) */
    double rate;         /* changes sent a second, over the sending */
    double lag_p50, lag_p99, lag_max; /* ms */
    double rpc_p50, rpc_p99;          /* ms */
} track_result_t;

/* Takes every Publication waiting on sub: each tracking message of a change
 * of this run (index first .. first + n - 1) is marked in seen and its lag
 * kept. */
static void take_publications(void *sub, const updates_t *u, uint64_t first, long n, uint8_t *seen,
                              samples_t *lag, track_result_t *res)
{
    for (zmq_msg_t msg; recv_nowait(sub, &msg, "activities' events");) {
        int64_t at_recv = realtime_us();
        ProtobufCAllocator *alloc = crm_arena_allocator(reply_arena);
        Crm__Events__V1__Publication *p =
            crm__events__v1__publication__unpack(alloc, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        Crm__Activities__V1__MessageEvent *e = NULL;
        if (p && p->event && !strcmp(p->event->type, "message.posted"))
            e = crm__activities__v1__message_event__unpack(alloc, p->event->payload.len, p->event->payload.data);
        const Crm__Activities__V1__Message *m = e ? e->message : NULL;
        if (m && m->kind == KIND(TRACKING) && !strcmp(m->event, "lead.updated") && m->doc &&
            !strcmp(m->doc->model, "lead")) {
            for (size_t i = 0; i < m->n_tracking; i++) {
                if (strcmp(m->tracking[i]->field, "expectedRevenue"))
                    continue;
                long long v = strtoll(m->tracking[i]->new_value, NULL, 10);
                if (v < REV_BASE + (long long)first || v >= REV_BASE + (long long)first + n)
                    break;
                uint64_t idx = (uint64_t)(v - REV_BASE);
                int64_t lead, revenue, stage;
                update_fields(u, idx, &lead, &revenue, &stage);
                if (m->doc->id != lead)
                    break;
                uint8_t *s = &seen[idx - first];
                if (*s & 2) {
                    res->duplicates++;
                } else {
                    *s |= 2;
                    samples_add(lag, (at_recv - m->at) * 1000);
                }
                break;
            }
        }
        if (reply_arena)
            crm_arena_reset(reply_arena);
    }
}

/* UpdateLead at rate a second for seconds, open loop (each change is sent
 * at its time on a socket with nothing in flight), with sub taking the
 * tracking messages; then waits for the replies and for the tracking
 * messages still to come. */
static void run_paced(const load_t *L, updates_t *u, void *sub, double rate, double seconds, track_result_t *res)
{
    enum { N = PACED_SOCKETS };
    client_t cl[N];
    zmq_pollitem_t items[N + 1];
    char msg[200];
    memset(res, 0, sizeof *res);
    if (!reply_arena)
        reply_arena = crm_arena_new();
    items[0] = (zmq_pollitem_t){sub, -1, ZMQ_POLLIN, 0};
    for (int i = 0; i < N; i++) {
        client_open(L, &cl[i]);
        items[i + 1] = (zmq_pollitem_t){cl[i].zsock, -1, ZMQ_POLLIN, 0};
    }
    long total = (long)(rate * seconds + 0.5);
    uint64_t first = u->next;
    uint8_t *seen = xcalloc((size_t)total, 1); /* 1: answered OK, 2: tracking message taken */
    samples_t lag = {0}, rpc = {0};
    int64_t period = (int64_t)(1e9 / rate), t0 = now_ns() + 20000000, t_last_send = t0, t_last_reply = 0;
    int in_flight = 0, rr = 0;
#define NOTE_ERROR() add_errors(&res->errors, res->error, sizeof res->error, 1, msg)
    for (;;) {
        int64_t now = now_ns();
        /* every change whose time has come, each on a free socket */
        while (res->changes < total && t0 + res->changes * period <= now) {
            int k = -1;
            for (int j = 0; j < N && k < 0; j++)
                if (!cl[(rr + j) % N].busy)
                    k = (rr + j) % N;
            if (k < 0)
                break;
            rr = k + 1;
            if (now - (t0 + res->changes * period) > LATE_NS)
                res->late++;
            res->changes++;
            t_last_send = now;
            if (client_send(L, &cl[k], msg, sizeof msg) != 0)
                NOTE_ERROR();
            else
                in_flight++;
        }
        if (res->changes == total && in_flight == 0) {
            long want = 0, got = 0;
            for (long i = 0; i < total; i++) {
                want += seen[i] & 1;
                got += (seen[i] & 3) == 3;
            }
            if (got == want || now - t_last_reply > TRACK_DRAIN_NS)
                break;
        }
        /* every socket busy and nothing answering: give up rather than
         * wait for ever for a free socket (or for the last replies) */
        if (in_flight > 0 && now - t_last_send > DRAIN_NS && now - t_last_reply > DRAIN_NS) {
            snprintf(msg, sizeof msg, "%d UpdateLead(s) not answered within %lld s", in_flight,
                     (long long)(DRAIN_NS / 1000000000LL));
            add_errors(&res->errors, res->error, sizeof res->error, in_flight, msg);
            break;
        }
        long timeout = 100;
        if (res->changes < total) {
            int64_t due = t0 + res->changes * period - now;
            timeout = due <= 0 ? 1 : (long)((due + 999999) / 1000000); /* no free socket: wait for a reply */
        }
        int rc = zmq_poll(items, N + 1, timeout);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            die("zmq_poll: %s", zmq_strerror(errno));
        }
        if (items[0].revents & ZMQ_POLLIN)
            take_publications(sub, u, first, total, seen, &lag, res);
        for (int i = 0; i < N; i++) {
            if (!(items[i + 1].revents & ZMQ_POLLIN))
                continue;
            client_t *c = &cl[i];
            int st;
            while (c->busy && (st = client_recv(L, c, msg, sizeof msg)) != 0) {
                int64_t t = now_ns();
                c->busy = 0;
                in_flight--;
                t_last_reply = t;
                if (st < 0)
                    die("%s: %s", L->name, msg);
                if (st == 1) {
                    res->ok++;
                    seen[c->tag - first] |= 1;
                    samples_add(&rpc, t - c->sent);
                } else {
                    NOTE_ERROR();
                }
            }
        }
    }
#undef NOTE_ERROR
    /* a tracking message may come after its reply's poll turn: take the rest */
    take_publications(sub, u, first, total, seen, &lag, res);
    for (long i = 0; i < total; i++) {
        if ((seen[i] & 3) == 3)
            res->tracked++;
        else if (seen[i] == 2)
            res->untracked_ok++;
    }
    res->rate = paced_rate(res->changes, t0, t_last_send);
    samples_summary(&lag, &res->lag_p50, &res->lag_p99, &res->lag_max);
    samples_summary(&rpc, &res->rpc_p50, &res->rpc_p99, NULL);
    for (int i = 0; i < N; i++)
        client_close(&cl[i]);
    free(lag.v);
    free(rpc.v);
    free(seen);
}

/* Connects a SUB socket to activities' events and waits for its first
 * publication (a heartbeat comes every 500 ms), so that none is lost to the
 * subscription's set-up. */
static void *subscribe(const char *ep)
{
    void *sub = zmq_socket(zctx, ZMQ_SUB);
    int linger = 0, hwm = 1000000;
    if (!sub || zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        zmq_connect(sub, ep) != 0)
        die("SUB %s: %s", ep, zmq_strerror(errno));
    zmq_pollitem_t it = {sub, -1, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0)
        die("no publication from activities' events at %s within 5 s", ep);
    char drop[4096];
    while (zmq_recv(sub, drop, sizeof drop, ZMQ_DONTWAIT) >= 0) {
    }
    return sub;
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
    zctx = zmq_ctx_new();
    if (!zctx)
        die("zmq_ctx_new: %s", zmq_strerror(errno));
    int64_t t_begin = now_ns();

    crm_status_t st;
    char tok[256];
    if (login(o.zmq, o.password, tok, sizeof tok, &st) != 0)
        die("Login as admin: %s: %s", crm_code_name(st.code), st.message);
    token = tok;
    if (!(cli = crm_client_new(o.zmq)))
        die("client %s: %s", o.zmq, zmq_strerror(errno));

    int64_t stages[MAX_STAGES];
    int n_stages = open_stages(cli, token, stages);
    if (n_stages < 1)
        die("no open stage for opportunities");
    double per_run = o.warmup + o.seconds + 0.1;
    fprintf(stderr, "bench_activities: %d open stages; about %.0f s plus catching up and filling\n", n_stages,
            o.reps * (4 * per_run + 2 * per_run + o.track_seconds + 0.5) + 3);

    /* the documents: --docs opportunities for the messages and the changes,
     * and one more whose chatter ListMessages reads */
    creates_t cw = {.stages = stages, .n_stages = n_stages, .ids_n = o.docs + 1};
    cw.ids = xcalloc((size_t)cw.ids_n, sizeof *cw.ids);
    load_t create = {.name = "CreateLead", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "CreateLead",
                     .token = token, .next_body = create_body, .check = create_check, .arg = &cw};
    {
        load_t made = create;
        made.limit = cw.ids_n;
        result_t r;
        run_load(&made, o.write_clients, 0, 60, &r);
        if (r.errors || r.ok_all != cw.ids_n)
            die("creating %ld opportunities: %ld made, %ld errors (first: %s)", cw.ids_n, r.ok_all, r.errors,
                r.error);
    }
    /* activities may have started behind pipeline (after bench_pipeline's
     * 100,000 leads): it catches up on every event first */
    double catchup0 = wait_known(cw.max_id, o.catchup_s);
    double since_start = (double)(now_ns() - t_begin) / 1e9;
    double since_service = o.started_us > 0 ? (double)(realtime_us() - o.started_us) / 1e6 : -1;
    fprintf(stderr, "  activities knows opportunity %lld (the newest) %.2f s after it was made, %.1f s "
            "into the run\n", (long long)cw.max_id, catchup0, since_start);
    mem_t act_start = mem_of(o.activities_pid), gw_start = mem_of(o.gateway_pid);
    int64_t deep = cw.ids[o.docs], first_newest = cw.max_id;
    cw.ids_n = 0; /* from here on CreateLead only measures */

    posts_t pw = {.docs = cw.ids, .n_docs = o.docs};
    load_t post = {.name = "PostMessage", .kind = LOAD_CRM, .endpoint = o.zmq, .method = ACT "PostMessage",
                   .token = token, .next_body = post_body, .check = post_check, .arg = &pw};
    uint8_t health_body[64];
    load_t health = health_load(o.zmq, "activities", health_body, sizeof health_body);

    /* 1. durable writes, each repetition next to its floors (the machine's load drifts) */
    series_t s_post = {0}, s_create = {0}, s_health_w = {0};
    double floor32[MAX_REPS], catchup[MAX_REPS];
    long created[MAX_REPS];
    for (int rep = 0; rep < o.reps; rep++) {
        result_t r;
        floor32[rep] = 32 * lmdb_floor(o.tmp, 32, o.seconds);
        fprintf(stderr, "  [%d/%d] %-34s %9.0f records/s\n", rep + 1, o.reps, "LMDB 32-record commit floor",
                floor32[rep]);
        measure(&health, o.write_clients, o.warmup, o.seconds, rep, o.reps, &s_health_w, NULL);
        measure(&post, o.write_clients, o.warmup, o.seconds, rep, o.reps, &s_post, NULL);
        measure(&create, o.write_clients, o.warmup, o.seconds, rep, o.reps, &s_create, &r);
        created[rep] = r.ok_all;
        /* activities turns each lead.created into a tracking message: let it
         * catch up before anything else is measured */
        catchup[rep] = wait_known(cw.max_id, o.catchup_s);
        fprintf(stderr, "  [%d/%d] activities caught up on %ld lead.created %.2f s after the CreateLead run\n",
                rep + 1, o.reps, r.ok_all, catchup[rep]);
    }
    double lmdb32 = median(floor32, o.reps);

    /* 2. one document's chatter filled to --entries, then its first page */
    long before_fill = chatter_count(deep);
    series_t s_fill = {0};
    if (before_fill < o.entries) {
        posts_t fw = {.docs = &deep, .n_docs = 1};
        load_t fill = post;
        fill.name = "PostMessage filling";
        fill.arg = &fw;
        fill.limit = o.entries - before_fill;
        int64_t t0 = now_ns();
        measure(&fill, o.write_clients, 0, FILL_MAX_S, 0, 1, &s_fill, NULL);
        fprintf(stderr, "  filled opportunity %lld's chatter with %ld messages in %.1f s\n", (long long)deep,
                fill.limit, (double)(now_ns() - t0) / 1e9);
    }
    long entries = chatter_count(deep);
    if (entries != o.entries)
        die("opportunity %lld's chatter has %ld entries, expected %ld", (long long)deep, entries, o.entries);

    Crm__Common__V1__DocRef deep_ref = CRM__COMMON__V1__DOC_REF__INIT;
    deep_ref.model = "lead";
    deep_ref.id = deep;
    Crm__Activities__V1__ListMessagesRequest lr = CRM__ACTIVITIES__V1__LIST_MESSAGES_REQUEST__INIT;
    lr.doc = &deep_ref;
    uint8_t list_body[64];
    load_t list = {.name = "ListMessages", .kind = LOAD_CRM, .endpoint = o.zmq, .method = ACT "ListMessages",
                   .token = token, .body = list_body,
                   .body_len = crm__activities__v1__list_messages_request__pack(&lr, list_body),
                   .check = list_check, .arg = &deep};
    series_t s_health_r = {0}, s_list = {0};
    for (int rep = 0; rep < o.reps; rep++) {
        measure(&health, o.read_clients, o.warmup, o.seconds, rep, o.reps, &s_health_r, NULL);
        measure(&list, o.read_clients, o.warmup, o.seconds, rep, o.reps, &s_list, NULL);
    }

    /* 3. tracking lag at a steady pace of changes */
    updates_t uw = {.leads = cw.ids, .n_leads = o.docs, .stages = stages, .n_stages = n_stages};
    load_t update = {.name = "UpdateLead paced", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "UpdateLead",
                     .token = token, .next_body = update_body, .check = update_check, .arg = &uw};
    void *sub = subscribe(o.events);
    track_result_t tr[MAX_REPS];
    double lag50[MAX_REPS], lag99[MAX_REPS], lagmax[MAX_REPS], rate[MAX_REPS], rpc50[MAX_REPS], rpc99[MAX_REPS];
    long changes = 0, changes_ok = 0, tracked = 0, late = 0, dup = 0, stray = 0, track_errors = 0;
    char track_error[200] = "";
    for (int rep = 0; rep < o.reps; rep++) {
        track_result_t *t = &tr[rep];
        run_paced(&update, &uw, sub, o.track_rate, o.track_seconds, t);
        fprintf(stderr, "  [%d/%d] UpdateLead paced %.0f/s for %.1f s: %ld changes (%ld OK, %ld late), "
                "%ld tracked; lag p50 %.2f ms p99 %.2f ms max %.2f ms; UpdateLead p50 %.2f ms p99 %.2f ms%s%s\n",
                rep + 1, o.reps, t->rate, o.track_seconds, t->changes, t->ok, t->late, t->tracked, t->lag_p50,
                t->lag_p99, t->lag_max, t->rpc_p50, t->rpc_p99, t->errors ? "  ERRORS: " : "",
                t->errors ? t->error : "");
        lag50[rep] = t->lag_p50;
        lag99[rep] = t->lag_p99;
        lagmax[rep] = t->lag_max;
        rate[rep] = t->rate;
        rpc50[rep] = t->rpc_p50;
        rpc99[rep] = t->rpc_p99;
        changes += t->changes;
        changes_ok += t->ok;
        tracked += t->tracked;
        late += t->late;
        dup += t->duplicates;
        stray += t->untracked_ok;
        add_errors(&track_errors, track_error, sizeof track_error, t->errors, t->error);
    }
    zmq_close(sub);
    mem_t act_end = mem_of(o.activities_pid), gw_end = mem_of(o.gateway_pid);
    crm_client_destroy(&cli);

    /* --- the table ------------------------------------------------------------- */
    char label[96];
    printf("\n== crm-activities benchmark through the gateway's ZeroMQ door: each client one DEALER socket "
           "keeping one request in flight over tcp loopback, all from one thread\n");
    printf("   (clients = requests in flight; %.1f s measured after %.1f s warm-up; medians of %d runs; "
           "%ld cores online; messages on %d opportunities)\n",
           o.seconds, o.warmup, o.reps, sysconf(_SC_NPROCESSORS_ONLN), o.docs);
    printf("catching up: activities knew opportunity #%lld, the newest, %.2f s after it was made (%.1f s "
           "after this program started", (long long)first_newest, catchup0, since_start);
    if (since_service >= 0)
        printf(", %.1f s after crm-activities was started", since_service);
    printf(")\n");
    printf("floors, same run:\n");
    printf("  %-34s %9.0f records/s (%.0f commits/s)\n", "LMDB durable, 32 records/commit:", lmdb32, lmdb32 / 32);
    snprintf(label, sizeof label, "Health via gateway %d clients", o.write_clients);
    print_row(label, &s_health_w, NULL, 0);
    snprintf(label, sizeof label, "Health via gateway %d clients", o.read_clients);
    print_row(label, &s_health_r, NULL, 0);
    snprintf(label, sizeof label, "CreateLead %d clients", o.write_clients);
    print_row(label, &s_create, "32-record commit floor", lmdb32);
    printf("  (CreateLead: the pipeline's durable write at the same load, while activities applies its "
           "events; it caught up");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.2f s after a run of %ld", rep ? "," : "", catchup[rep], created[rep]);
    printf(")\n");
    printf("ours (durable writes with group commit):\n");
    snprintf(label, sizeof label, "PostMessage %d clients", o.write_clients);
    print_row(label, &s_post, "32-record commit floor", lmdb32);
    printf("  %-34s %5.2f x CreateLead, %5.2f x Health via gateway at %d clients\n", "",
           s_rps(&s_create) > 0 ? s_rps(&s_post) / s_rps(&s_create) : 0,
           s_rps(&s_health_w) > 0 ? s_rps(&s_post) / s_rps(&s_health_w) : 0, o.write_clients);
    if (s_fill.n) {
        snprintf(label, sizeof label, "PostMessage one doc %d clients", o.write_clients);
        print_row(label, &s_fill, NULL, 0);
        printf("  (filling one chatter from %ld to %ld entries, in one run without warm-up)\n", before_fill,
               entries);
    }
    printf("ours (reads of a chatter of %ld entries):\n", entries);
    snprintf(label, sizeof label, "ListMessages %d clients", o.read_clients);
    print_row(label, &s_list, "Health floor", s_rps(&s_health_r));
    printf("  (the first page, of the default %d messages, newest first)\n", PAGE_DEFAULT);
    printf("ours (tracking: UpdateLead paced at %.0f/s over %d opportunities for %.1f s a run; lag = a "
           "tracking message's receipt on activities' PUB - the pipeline event's at):\n",
           o.track_rate, o.docs, o.track_seconds);
    printf("  %-34s %9.0f changes/s  p50 %6.2f ms  p99 %6.2f ms   (UpdateLead's own latency)\n",
           "UpdateLead paced:", median(rate, o.reps), median(rpc50, o.reps), median(rpc99, o.reps));
    printf("  %-34s %9s            p50 %6.2f ms  p99 %6.2f ms  max %.2f ms\n", "pipeline commit -> chatter:", "",
           median(lag50, o.reps), median(lag99, o.reps), median(lagmax, o.reps));
    printf("  %-34s %ld of %ld changes answered OK got their tracking message", "tracked:", tracked, changes_ok);
    if (dup || stray)
        printf("; %ld duplicates, %ld for changes not answered OK", dup, stray);
    if (late)
        printf("; %ld changes sent more than %lld ms late", late, LATE_NS / 1000000);
    if (track_errors) {
        printf("  ERRORS: %ld (first: %s)", track_errors, track_error);
        total_errors += track_errors;
    }
    printf("\n");
    printf("  (each run: p99");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.2f ms", rep ? "," : "", lag99[rep]);
    printf("; %ld changes in all)\n", changes);
    printf("memory:\n");
    print_mem("crm-activities", o.activities_pid, "caught up, docs made:", act_start);
    print_mem("crm-activities", o.activities_pid, "end:", act_end);
    print_mem("crm-gateway", o.gateway_pid, "start:", gw_start);
    print_mem("crm-gateway", o.gateway_pid, "end:", gw_end);

    printf("\n");
    int met = 1;
    snprintf(label, sizeof label, "PostMessage/%d >= 10,000/s:", o.write_clients);
    met &= target(label, o.write_clients == 32, s_rps(&s_post) >= 10000, "%.0f/s", s_rps(&s_post));
    snprintf(label, sizeof label, "ListMessages/%d p99 <= 3 ms at 10k entries:", o.read_clients);
    met &= target(label, entries >= 10000, s_p99(&s_list) <= 3.0, "%.2f ms", s_p99(&s_list));
    snprintf(label, sizeof label, "tracking lag p99 <= 20 ms at %.0f/s:", o.track_rate);
    /* with nothing tracked there is no lag to judge (0 would pass) */
    met &= target(label, o.track_rate >= 1000 && tracked > 0, median(lag99, o.reps) <= 20.0, "%.2f ms",
                  median(lag99, o.reps));
    met &= target("every change tracked:", changes_ok > 0, tracked == changes_ok && !dup, "%.0f missing",
                  (double)(changes_ok - tracked));
    if (total_errors)
        printf("RESULT: %ld requests FAILED; the figures above are not valid\n", total_errors);
    else
        printf("RESULT: no request failed; targets %s\n", met ? "all met" : "NOT all met");

    free(cw.ids);
    zmq_ctx_term(zctx);
    if (total_errors)
        return 1;
    return o.strict && !met ? 3 : 0;
}
