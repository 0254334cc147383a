/* bench_pipeline: the pipeline service through the gateway's ZeroMQ door,
 * with the same load shape as bench_gateway (N sockets, each keeping one
 * request in flight, one thread) and its load generator (bench_common.h).
 *
 * 1. CreateLead (opportunities spread over 7 stages, varied revenue,
 *    probability and priority) with 32 in flight, each repetition next to
 *    the durable LMDB floor of 32 records a commit: the pipeline commits
 *    whatever calls arrived together in one transaction (group commit).
 * 2. Seeds up to --leads opportunities in all, then GetPipeline (the kanban:
 *    7 columns, 20 cards each) and ListLeads (pages of 50) with 4 in flight,
 *    next to a Health call through the same two hops (gateway -> pipeline)
 *    as the transport floor.
 * 3. Memory of crm-pipeline (VmRSS, RssAnon) idle, after seeding and after
 *    the reads; of crm-gateway idle and after.
 *
 * Every reply must have status OK, and its body is checked too: the lead
 * created is the one asked for, the kanban has every column and its counts
 * add up to the opportunities made, a page has 50 leads of the right stage,
 * newest first. */
#define BENCH_PROG "bench_pipeline"
#include "bench_common.h"
#include "crm_request.h"

#include <getopt.h>
#include <signal.h>

#define CARDS_DEFAULT 20 /* GetPipeline's cards per column when none are asked for */
#define PAGE 50
#define SEED_MAX_S 300.0 /* seeding slower than 100,000 in 5 minutes is a failure of its own */

/* --- options ------------------------------------------------------------------ */

typedef struct {
    const char *zmq, *password, *tmp;
    long pipeline_pid, gateway_pid;
    int write_clients, seed_clients, read_clients;
    double seconds, warmup;
    int reps;
    long leads;
    int strict;
} options_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_pipeline --zmq EP --password PW [flags]\n"
            "  --zmq EP              the gateway's ZeroMQ door (the gateway routes to crm-pipeline)\n"
            "  --password PW         admin's password\n"
            "  --pipeline-pid PID, --gateway-pid PID   for VmRSS and RssAnon\n"
            "  --tmp DIR             where the LMDB floor writes (the services' file system)\n"
            "  --write-clients 32    CreateLead requests in flight\n"
            "  --seed-clients 64     CreateLead requests in flight while seeding\n"
            "  --read-clients 4      GetPipeline / ListLeads requests in flight\n"
            "  --leads 100000        opportunities in all before the reads\n"
            "  --seconds 2 --warmup 0.5 --reps 3   measured window, warm-up, repetitions\n"
            "  --strict              exit 3 when a target is missed\n");
    exit(2);
}

static void parse_options(options_t *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"zmq", 1, 0, 'z'},           {"password", 1, 0, 'p'},      {"pipeline-pid", 1, 0, 'P'},
        {"gateway-pid", 1, 0, 'G'},   {"tmp", 1, 0, 't'},           {"write-clients", 1, 0, 'W'},
        {"seed-clients", 1, 0, 'E'},  {"read-clients", 1, 0, 'R'},  {"leads", 1, 0, 'l'},
        {"seconds", 1, 0, 's'},       {"warmup", 1, 0, 'w'},        {"reps", 1, 0, 'r'},
        {"strict", 0, 0, 'S'},        {"help", 0, 0, '?'},          {0, 0, 0, 0},
    };
    *o = (options_t){.password = "", .tmp = "/tmp", .write_clients = 32, .seed_clients = 64,
                     .read_clients = 4, .seconds = 2, .warmup = 0.5, .reps = 3, .leads = 100000};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'z': o->zmq = optarg; break;
        case 'p': o->password = optarg; break;
        case 'P': o->pipeline_pid = atol(optarg); break;
        case 'G': o->gateway_pid = atol(optarg); break;
        case 't': o->tmp = optarg; break;
        case 'W': o->write_clients = parse_count("write-clients", optarg, 1, MAX_CLIENTS); break;
        case 'E': o->seed_clients = parse_count("seed-clients", optarg, 1, MAX_CLIENTS); break;
        case 'R': o->read_clients = parse_count("read-clients", optarg, 1, MAX_CLIENTS); break;
        case 'l': o->leads = atol(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'w': o->warmup = atof(optarg); break;
        case 'r': o->reps = atoi(optarg); break;
        case 'S': o->strict = 1; break;
        default: usage();
        }
    }
    if (!o->zmq || optind != argc || o->seconds <= 0 || o->warmup < 0 || o->reps < 1 ||
        o->reps > MAX_REPS || o->leads < 0)
        usage();
}

/* --- calls outside the load ------------------------------------------------------ */

static crm_client_t *cli;
static const char *token;

/* Calls method with in and returns the reply as out_desc (free with
 * protobuf_c_message_free_unpacked), or dies saying what failed. */
static void *call(const char *method, const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc)
{
    return bench_call(cli, token, method, in, out_desc, NULL);
}

/* The stages an opportunity of team 0 may be in, by sequence; creates one
 * more when there are fewer than want. Returns their number. */
static int opportunity_stages(int want, int64_t *ids)
{
    for (int pass = 0;; pass++) {
        Crm__Pipeline__V1__ListStagesRequest lr = CRM__PIPELINE__V1__LIST_STAGES_REQUEST__INIT;
        lr.type = OPPORTUNITY;
        Crm__Pipeline__V1__ListStagesReply *r =
            call(PL "ListStages", &lr.base, &crm__pipeline__v1__list_stages_reply__descriptor);
        int n = (int)(r->n_stages < MAX_STAGES ? r->n_stages : MAX_STAGES);
        for (int i = 0; i < n; i++)
            ids[i] = r->stages[i]->id;
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (n >= want || pass == 1)
            return n;
        /* a stage of our own between Proposition (30) and Negotiation (40) */
        Crm__Pipeline__V1__CreateStageRequest cr = CRM__PIPELINE__V1__CREATE_STAGE_REQUEST__INIT;
        cr.name = "Demo";
        cr.status = CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_IN_PROGRESS;
        cr.probability = 50;
        cr.type = CRM__PIPELINE__V1__STAGE_TYPE__STAGE_TYPE_OPPORTUNITY;
        cr.sequence = 35;
        Crm__Pipeline__V1__Stage *s = call(PL "CreateStage", &cr.base, &crm__pipeline__v1__stage__descriptor);
        if (s->id <= 0)
            die("CreateStage gave stage id %lld", (long long)s->id);
        protobuf_c_message_free_unpacked(&s->base, NULL);
    }
}

/* Opportunities of team 0 as GetPipeline counts them (the sum of its columns). */
static long pipeline_total(void)
{
    Crm__Pipeline__V1__GetPipelineRequest req = CRM__PIPELINE__V1__GET_PIPELINE_REQUEST__INIT;
    req.type = OPPORTUNITY;
    Crm__Pipeline__V1__GetPipelineReply *r =
        call(PL "GetPipeline", &req.base, &crm__pipeline__v1__get_pipeline_reply__descriptor);
    long total = 0;
    for (size_t i = 0; i < r->n_columns; i++)
        total += (long)r->columns[i]->count;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return total;
}

/* --- requests and their checks ---------------------------------------------------- */

/* What the generators and checks know: the stages, and how many
 * opportunities there are when no write is running. */
typedef struct {
    int64_t stages[MAX_STAGES];
    int n_stages;
    uint64_t next;   /* requests generated so far (every kind) */
    long total;      /* opportunities in team 0 (reads only) */
} world_t;

/* The fields of CreateLead number n, so that its reply can be checked. */
static void lead_fields(const world_t *w, uint64_t n, int64_t *stage, int64_t *revenue, int32_t *prob,
                        int *prio)
{
    *stage = w->stages[n % (uint64_t)w->n_stages];
    *revenue = (int64_t)(1000 + (n * 7919) % 5000000) * 100; /* 1,000 to 5,001,000 in cents */
    *prob = (int32_t)(1 + (n * 37) % 99);                     /* never 0: kept, not the stage's */
    *prio = (int)(1 + n % 4);                                 /* low to very high */
}

static size_t create_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    world_t *w = arg;
    uint64_t n = w->next++;
    char name[48], contact[48], email[64], company[48];
    snprintf(name, sizeof name, "Opportunity %llu", (unsigned long long)n);
    snprintf(contact, sizeof contact, "Contact %llu", (unsigned long long)n);
    snprintf(email, sizeof email, "contact%llu@example.com", (unsigned long long)n);
    snprintf(company, sizeof company, "Company %llu", (unsigned long long)(n % 5000));
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    int prio;
    r.type = OPPORTUNITY;
    r.name = name;
    r.contact_name = contact;
    r.email = email;
    r.company_name = company;
    lead_fields(w, n, &r.stage_id, &r.expected_revenue, &r.probability, &prio);
    r.priority = prio;
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int create_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    const world_t *w = arg;
    Crm__Pipeline__V1__Lead *l = unpack_reply(&crm__pipeline__v1__lead__descriptor, "CreateLead", alloc, body, len,
                                              msg, cap);
    if (!l)
        return -1;
    int64_t stage, revenue;
    int32_t prob;
    int prio, rc = 0;
    lead_fields(w, tag, &stage, &revenue, &prob, &prio);
    if (l->id <= 0 || l->type != OPPORTUNITY || l->stage_id != stage || l->expected_revenue != revenue ||
        l->probability != prob || (int)l->priority != prio) {
        snprintf(msg, cap, "CreateLead %llu gave lead %lld type %d stage %lld revenue %lld probability %d "
                 "priority %d", (unsigned long long)tag, (long long)l->id, (int)l->type,
                 (long long)l->stage_id, (long long)l->expected_revenue, l->probability, (int)l->priority);
        rc = -1;
    }
    return rc;
}

/* Every column, in the stages' order; counts that add up to every
 * opportunity; the cards a column has room for, each of its stage. */
static int kanban_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    const world_t *w = arg;
    Crm__Pipeline__V1__GetPipelineReply *r =
        unpack_reply(&crm__pipeline__v1__get_pipeline_reply__descriptor, "GetPipeline", alloc, body, len, msg, cap);
    if (!r)
        return -1;
    long total = 0;
    int rc = 0;
    if (r->n_columns != (size_t)w->n_stages) {
        snprintf(msg, cap, "GetPipeline: %zu columns, expected %d", r->n_columns, w->n_stages);
        rc = -1;
    }
    for (size_t i = 0; i < r->n_columns && !rc; i++) {
        const Crm__Pipeline__V1__PipelineColumn *c = r->columns[i];
        int64_t want = c->count < CARDS_DEFAULT ? c->count : CARDS_DEFAULT;
        total += (long)c->count;
        if (!c->stage || c->stage->id != w->stages[i] || (int64_t)c->n_leads != want) {
            snprintf(msg, cap, "GetPipeline column %zu: stage %lld with %zu cards of %lld", i,
                     c->stage ? (long long)c->stage->id : 0LL, c->n_leads, (long long)c->count);
            rc = -1;
        }
        for (size_t j = 0; j < c->n_leads && !rc; j++)
            if (c->leads[j]->stage_id != w->stages[i]) {
                snprintf(msg, cap, "GetPipeline column %zu holds lead %lld of stage %lld", i,
                         (long long)c->leads[j]->id, (long long)c->leads[j]->stage_id);
                rc = -1;
            }
    }
    if (!rc && total != w->total) {
        snprintf(msg, cap, "GetPipeline counts %ld opportunities, expected %ld", total, w->total);
        rc = -1;
    }
    return rc;
}

/* Three kinds of ListLeads page in turn: the newest opportunities; the
 * newest of one stage; a stage's page from a random point, as a client
 * paging on gets (the token made as the service makes it). The tag holds
 * the kind, the stage's index and the point. */
static size_t list_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    world_t *w = arg;
    uint64_t n = w->next++, kind = n % 3, stage = (n / 3) % (uint64_t)w->n_stages, after = 0;
    Crm__Pipeline__V1__ListLeadsRequest r = CRM__PIPELINE__V1__LIST_LEADS_REQUEST__INIT;
    char page_token[24];
    r.type = OPPORTUNITY;
    r.page_size = PAGE;
    if (kind > 0)
        r.stage_id = w->stages[stage];
    if (kind == 2) {
        /* below an id deep enough that a stage has a page of leads under it */
        uint64_t lo = 20 * PAGE * (uint64_t)w->n_stages, hi = w->total > (long)lo ? (uint64_t)w->total : lo + 1;
        after = lo + randombytes_uniform((uint32_t)(hi - lo));
        crm_page_token_make(page_token, after);
        r.page_token = page_token;
    }
    *tag = kind | stage << 2 | after << 8;
    return pack_body(&r.base, buf, cap);
}

static int list_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc,
                        char *msg, size_t cap)
{
    const world_t *w = arg;
    int kind = (int)(tag & 3);
    int64_t stage = kind ? w->stages[(tag >> 2) & 63] : 0, after = (int64_t)(tag >> 8);
    Crm__Pipeline__V1__ListLeadsReply *r =
        unpack_reply(&crm__pipeline__v1__list_leads_reply__descriptor, "ListLeads", alloc, body, len, msg, cap);
    if (!r)
        return -1;
    int rc = 0;
    if (r->n_leads != PAGE || !r->next_page_token[0]) {
        snprintf(msg, cap, "ListLeads (stage %lld after %lld): %zu leads, next token \"%s\"",
                 (long long)stage, (long long)after, r->n_leads, r->next_page_token);
        rc = -1;
    }
    for (size_t i = 0; i < r->n_leads && !rc; i++) {
        const Crm__Pipeline__V1__Lead *l = r->leads[i];
        if (l->type != OPPORTUNITY || (stage && l->stage_id != stage) || (after && l->id >= after) ||
            (i && l->id >= r->leads[i - 1]->id)) {
            snprintf(msg, cap, "ListLeads (stage %lld after %lld): lead %lld of stage %lld at %zu", (long long)stage,
                     (long long)after, (long long)l->id, (long long)l->stage_id, i);
            rc = -1;
        }
    }
    return rc;
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

    mem_t pl_idle = mem_of(o.pipeline_pid), gw_idle = mem_of(o.gateway_pid);

    crm_status_t st;
    char tok[256];
    if (login(o.zmq, o.password, tok, sizeof tok, &st) != 0)
        die("Login as admin: %s: %s", crm_code_name(st.code), st.message);
    token = tok;
    if (!(cli = crm_client_new(o.zmq)))
        die("client %s: %s", o.zmq, zmq_strerror(errno));

    /* 7 stages for opportunities: the 6 default ones and one of ours */
    world_t w = {0};
    w.n_stages = opportunity_stages(7, w.stages);
    if (w.n_stages < 1)
        die("no stage for opportunities");
    long before = pipeline_total();
    double per_run = o.warmup + o.seconds + 0.1;
    fprintf(stderr, "bench_pipeline: %d stages, %ld opportunities already; about %.0f s plus seeding\n",
            w.n_stages, before, o.reps * (2 * per_run + o.seconds + 3 * per_run) + 3);

    load_t create = {.name = "CreateLead", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "CreateLead",
                     .token = token, .next_body = create_body, .check = create_check, .arg = &w};
    uint8_t health_body[64];
    load_t health = health_load(o.zmq, "pipeline", health_body, sizeof health_body);

    /* 1. durable writes, each repetition next to its floors (the machine's load drifts) */
    series_t s_create = {0}, s_health_w = {0};
    double floor32[MAX_REPS];
    long made = 0, made_before[MAX_REPS];
    for (int rep = 0; rep < o.reps; rep++) {
        result_t r;
        floor32[rep] = 32 * lmdb_floor(o.tmp, 32, o.seconds);
        fprintf(stderr, "  [%d/%d] %-34s %9.0f records/s\n", rep + 1, o.reps, "LMDB 32-record commit floor",
                floor32[rep]);
        measure(&health, o.write_clients, o.warmup, o.seconds, rep, o.reps, &s_health_w, NULL);
        made_before[rep] = before + made;
        measure(&create, o.write_clients, o.warmup, o.seconds, rep, o.reps, &s_create, &r);
        made += r.ok_all;
    }
    double lmdb32 = median(floor32, o.reps);

    /* 2. seeding to --leads, then reads with no write running */
    long have = before + made, seeded = 0;
    series_t s_seed = {0};
    if (have < o.leads) {
        load_t seed = create;
        seed.name = "CreateLead seeding";
        seed.limit = o.leads - have;
        result_t r;
        int64_t t0 = now_ns();
        measure(&seed, o.seed_clients, 0, SEED_MAX_S, 0, 1, &s_seed, &r);
        seeded = r.ok_all;
        have += seeded;
        fprintf(stderr, "  seeded %ld opportunities in %.1f s\n", seeded, (double)(now_ns() - t0) / 1e9);
    }
    long counted = pipeline_total();
    if (counted != have)
        die("GetPipeline counts %ld opportunities; %ld were there and %ld made", counted, before, have - before);
    w.total = have;
    mem_t pl_seeded = mem_of(o.pipeline_pid);

    Crm__Pipeline__V1__GetPipelineRequest gr = CRM__PIPELINE__V1__GET_PIPELINE_REQUEST__INIT;
    gr.type = OPPORTUNITY;
    uint8_t kanban_body[64];
    load_t kanban = {.name = "GetPipeline", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "GetPipeline",
                     .token = token, .body = kanban_body,
                     .body_len = crm__pipeline__v1__get_pipeline_request__pack(&gr, kanban_body),
                     .check = kanban_check, .arg = &w};
    load_t list = {.name = "ListLeads", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "ListLeads",
                   .token = token, .next_body = list_body, .check = list_check, .arg = &w};
    series_t s_health_r = {0}, s_kanban = {0}, s_list = {0};
    for (int rep = 0; rep < o.reps; rep++) {
        measure(&health, o.read_clients, o.warmup, o.seconds, rep, o.reps, &s_health_r, NULL);
        measure(&kanban, o.read_clients, o.warmup, o.seconds, rep, o.reps, &s_kanban, NULL);
        measure(&list, o.read_clients, o.warmup, o.seconds, rep, o.reps, &s_list, NULL);
    }
    mem_t pl_after = mem_of(o.pipeline_pid), gw_after = mem_of(o.gateway_pid);
    crm_client_destroy(&cli);

    /* --- the table ------------------------------------------------------------- */
    char label[96];
    printf("\n== crm-pipeline benchmark through the gateway's ZeroMQ door: each client one DEALER socket "
           "keeping one request in flight over tcp loopback, all from one thread\n");
    printf("   (clients = requests in flight; %.1f s measured after %.1f s warm-up; medians of %d runs; "
           "%ld cores online; %d stages for opportunities)\n",
           o.seconds, o.warmup, o.reps, sysconf(_SC_NPROCESSORS_ONLN), w.n_stages);
    printf("floors, same run:\n");
    printf("  %-30s %9.0f records/s (%.0f commits/s)\n", "LMDB durable, 32 records/commit:", lmdb32, lmdb32 / 32);
    snprintf(label, sizeof label, "Health via gateway %d clients", o.write_clients);
    print_row(label, &s_health_w, NULL, 0);
    snprintf(label, sizeof label, "Health via gateway %d clients", o.read_clients);
    print_row(label, &s_health_r, NULL, 0);
    printf("ours (durable writes with group commit, while the opportunities grew from %ld to %ld):\n", before,
           before + made);
    snprintf(label, sizeof label, "CreateLead %d clients", o.write_clients);
    print_row(label, &s_create, "32-record commit floor", lmdb32);
    /* a lead costs more as the store grows: each run with the opportunities it started from */
    printf("  (each run:");
    for (int rep = 0; rep < o.reps; rep++)
        printf("%s %.0f/s from %ld", rep ? "," : "", s_create.rps[rep], made_before[rep]);
    printf(" opportunities)\n");
    if (s_seed.n) {
        snprintf(label, sizeof label, "CreateLead seeding %d clients", o.seed_clients);
        print_row(label, &s_seed, NULL, 0);
        printf("  (seeding: %ld opportunities, %ld to %ld, in one run without warm-up)\n", seeded,
               have - seeded, have);
    }
    printf("  (for comparison, from the issue: Odoo 17 on this machine creates about 10/s over XML-RPC,"
           " Tryton about 25/s)\n");
    printf("ours (reads at %ld opportunities over %d stages):\n", have, w.n_stages);
    snprintf(label, sizeof label, "GetPipeline %d clients", o.read_clients);
    print_row(label, &s_kanban, "Health floor", s_rps(&s_health_r));
    snprintf(label, sizeof label, "ListLeads %d clients", o.read_clients);
    print_row(label, &s_list, "Health floor", s_rps(&s_health_r));
    printf("  (GetPipeline: team 0, %d cards a column; ListLeads: pages of %d, in turn the newest, "
           "the newest of a stage, a stage's page from a random point)\n", CARDS_DEFAULT, PAGE);
    printf("memory:\n");
    print_mem("crm-pipeline", o.pipeline_pid, "idle, before:", pl_idle);
    snprintf(label, sizeof label, "seeded, %ld leads:", have);
    print_mem("crm-pipeline", o.pipeline_pid, label, pl_seeded);
    print_mem("crm-pipeline", o.pipeline_pid, "after the reads:", pl_after);
    print_mem("crm-gateway", o.gateway_pid, "before:", gw_idle);
    print_mem("crm-gateway", o.gateway_pid, "after:", gw_after);

    printf("\n");
    int met = 1, full = have >= 100000;
    long anon = pl_seeded.anon > pl_after.anon ? pl_seeded.anon : pl_after.anon;
    snprintf(label, sizeof label, "CreateLead/%d >= 10,000/s:", o.write_clients);
    met &= target(label, o.write_clients == 32, s_rps(&s_create) >= 10000, "%.0f/s", s_rps(&s_create));
    snprintf(label, sizeof label, "CreateLead/%d p99 <= 10 ms:", o.write_clients);
    met &= target(label, o.write_clients == 32, s_p99(&s_create) <= 10.0, "%.2f ms", s_p99(&s_create));
    snprintf(label, sizeof label, "GetPipeline/%d p99 <= 5 ms at 100k:", o.read_clients);
    met &= target(label, full && o.read_clients == 4, s_p99(&s_kanban) <= 5.0, "%.2f ms", s_p99(&s_kanban));
    snprintf(label, sizeof label, "ListLeads/%d p99 <= 5 ms at 100k:", o.read_clients);
    met &= target(label, full && o.read_clients == 4, s_p99(&s_list) <= 5.0, "%.2f ms", s_p99(&s_list));
    met &= target("crm-pipeline RssAnon <= 32 MiB at 100k:", full && anon > 0, anon <= 32 * 1024, "%.1f MiB",
                  anon / 1024.0);
    if (total_errors)
        printf("RESULT: %ld requests FAILED; the figures above are not valid\n", total_errors);
    else
        printf("RESULT: no request failed; targets %s\n", met ? "all met" : "NOT all met");

    zmq_ctx_term(zctx);
    if (total_errors)
        return 1;
    return o.strict && !met ? 3 : 0;
}
