/* bench_planned: "my activities" (ListMyActivities) of one salesperson in a
 * store of --activities (100,000) planned activities, through the gateway's
 * ZeroMQ door, with the load generator of bench_common.h (N sockets, each
 * keeping one request in flight, one thread).
 *
 * 1. --users (100) salespeople (All Leads; one with a password, the one
 *    measured, the others invited), --leads (10,000) opportunities of
 *    theirs, --mine (1,000) of them the measured user's and the rest spread
 *    over the others, then the activities with PlanActivity at 32 in flight:
 *    one in --users to each, on their own leads, deadlines spread from 60
 *    days ago to 60 days ahead, so the measured user has --activities /
 *    --users of them, one on each of their leads.
 * 2. ListMyActivities as that user (today in UTC, 50 a group) with 1 and 4
 *    in flight, each repetition next to the read floor the suite uses:
 *    Health through the same two hops (gateway -> activities).
 *
 * Every reply must have status OK, and its body is checked: a planned
 * activity is the one asked for, and every ListMyActivities reply counts
 * all of the user's activities, each group at most 50, by deadline. */
#define BENCH_PROG "bench_planned"
#include "bench_common.h"
#include "activities.pb-c.h"

#include <getopt.h>
#include <signal.h>

#define ACT "crm.activities.v1.Activities/"
#define ID "crm.identity.v1.Identity/"
#define GROUP_LIMIT 50 /* ListMyActivities' default per group */
#define SPREAD_DAYS 121 /* deadlines from 60 days ago to 60 ahead */
#define BUILD_MAX_S 900.0
#define DAY_S 86400

typedef struct {
    const char *zmq, *password, *tmp;
    long activities_pid;
    int users, leads, mine, write_clients;
    long activities;
    double seconds, warmup;
    int reps;
} options_t;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_planned --zmq EP --password PW [flags]\n"
            "  --zmq EP              the gateway's ZeroMQ door (routes to identity, pipeline, activities)\n"
            "  --password PW         admin's password\n"
            "  --activities-pid PID  for VmRSS and RssAnon\n"
            "  --users 100 --leads 10000 --mine 1000 --activities 100000   the store measured\n"
            "  --write-clients 32    requests in flight while filling it\n"
            "  --seconds 2 --warmup 0.5 --reps 3   measured window, warm-up, repetitions\n");
    exit(2);
}

static void parse_options(options_t *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"zmq", 1, 0, 'z'},    {"password", 1, 0, 'p'}, {"activities-pid", 1, 0, 'A'}, {"users", 1, 0, 'u'},
        {"leads", 1, 0, 'l'},  {"mine", 1, 0, 'm'},     {"activities", 1, 0, 'n'},     {"write-clients", 1, 0, 'W'},
        {"seconds", 1, 0, 's'}, {"warmup", 1, 0, 'w'},  {"reps", 1, 0, 'r'},           {"tmp", 1, 0, 't'},
        {"help", 0, 0, '?'},   {0, 0, 0, 0},
    };
    *o = (options_t){.password = "", .tmp = "/tmp", .users = 100, .leads = 10000, .mine = 1000,
                     .activities = 100000, .write_clients = 32, .seconds = 2, .warmup = 0.5, .reps = 3};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'z': o->zmq = optarg; break;
        case 'p': o->password = optarg; break;
        case 'A': o->activities_pid = atol(optarg); break;
        case 'u': o->users = parse_count("users", optarg, 2, 10000); break;
        case 'l': o->leads = parse_count("leads", optarg, 2, 1000000); break;
        case 'm': o->mine = parse_count("mine", optarg, 1, 1000000); break;
        case 'n': o->activities = atol(optarg); break;
        case 'W': o->write_clients = parse_count("write-clients", optarg, 1, MAX_CLIENTS); break;
        case 's': o->seconds = atof(optarg); break;
        case 'w': o->warmup = atof(optarg); break;
        case 'r': o->reps = atoi(optarg); break;
        case 't': o->tmp = optarg; break;
        default: usage();
        }
    }
    if (!o->zmq || optind != argc || o->seconds <= 0 || o->warmup < 0 || o->reps < 1 || o->reps > MAX_REPS ||
        o->mine >= o->leads || o->leads - o->mine < o->users - 1 || o->activities < o->users ||
        o->activities > 10000000)
        usage();
}

static crm_client_t *cli;
static const char *token;

/* --- the store: who owns which lead, which activity goes where ------------------------ */

typedef struct {
    const options_t *o;
    int64_t *user_ids;  /* [users]; 0 is the one measured */
    int64_t *lead_ids;  /* [leads] */
    int64_t stage;
    uint64_t next;
    int32_t today;      /* days since 1970, UTC */
} store_t;

/* The owner (a user index) of lead index l: the first --mine are user 0's,
 * the others go round the other users. */
static int lead_owner(const options_t *o, long l) { return l < o->mine ? 0 : 1 + (int)((l - o->mine) % (o->users - 1)); }

/* Activity n: its user (n % users), on the j-th of that user's leads. */
static void activity_of(const store_t *s, uint64_t n, int *user, long *lead, int32_t *deadline)
{
    const options_t *o = s->o;
    *user = (int)(n % (uint64_t)o->users);
    uint64_t j = n / (uint64_t)o->users;
    if (*user == 0) {
        *lead = (long)(j % (uint64_t)o->mine);
    } else {
        long others = o->leads - o->mine, count = (others - (*user - 1) + o->users - 2) / (o->users - 1);
        *lead = o->mine + (*user - 1) + (long)(j % (uint64_t)count) * (o->users - 1);
    }
    *deadline = s->today - SPREAD_DAYS / 2 + (int32_t)((n * 7919) % SPREAD_DAYS);
}

static void format_day(char out[11], int32_t day)
{
    time_t t = (time_t)day * DAY_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static size_t lead_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    store_t *s = arg;
    uint64_t n = s->next++;
    char name[48];
    snprintf(name, sizeof name, "Planned opportunity %llu", (unsigned long long)n);
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    r.type = OPPORTUNITY;
    r.name = name;
    r.stage_id = s->stage;
    r.salesperson_id = s->user_ids[lead_owner(s->o, (long)n)];
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int lead_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc, char *msg,
                      size_t cap)
{
    store_t *s = arg;
    Crm__Pipeline__V1__Lead *l = unpack_reply(&crm__pipeline__v1__lead__descriptor, "CreateLead", alloc, body, len, msg, cap);
    if (!l)
        return -1;
    if (l->id <= 0 || l->salesperson_id != s->user_ids[lead_owner(s->o, (long)tag)]) {
        snprintf(msg, cap, "CreateLead %llu gave lead %lld of salesperson %lld", (unsigned long long)tag, (long long)l->id,
                 (long long)l->salesperson_id);
        return -1;
    }
    s->lead_ids[tag] = l->id;
    return 0;
}

static size_t plan_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    store_t *s = arg;
    uint64_t n = s->next++;
    int user;
    long lead;
    int32_t day;
    activity_of(s, n, &user, &lead, &day);
    char summary[48], deadline[11];
    snprintf(summary, sizeof summary, "Follow up %llu", (unsigned long long)n);
    format_day(deadline, day);
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = s->lead_ids[lead];
    Crm__Activities__V1__PlanActivityRequest r = CRM__ACTIVITIES__V1__PLAN_ACTIVITY_REQUEST__INIT;
    r.doc = &doc;
    r.summary = summary;
    r.deadline = deadline;
    r.responsible_id = s->user_ids[user];
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

static int plan_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc, char *msg,
                      size_t cap)
{
    store_t *s = arg;
    Crm__Activities__V1__Activity *a =
        unpack_reply(&crm__activities__v1__activity__descriptor, "PlanActivity", alloc, body, len, msg, cap);
    if (!a)
        return -1;
    int user;
    long lead;
    int32_t day;
    activity_of(s, tag, &user, &lead, &day);
    char deadline[11];
    format_day(deadline, day);
    if (a->id <= 0 || a->responsible_id != s->user_ids[user] || !a->doc || a->doc->id != s->lead_ids[lead] ||
        strcmp(a->deadline, deadline)) {
        snprintf(msg, cap, "PlanActivity %llu gave activity %lld for %lld on %lld due %s", (unsigned long long)tag,
                 (long long)a->id, (long long)a->responsible_id, a->doc ? (long long)a->doc->id : 0LL, a->deadline);
        return -1;
    }
    return 0;
}

/* Every reply: all of the user's activities counted, at most 50 a group,
 * each group by deadline and on the right side of today. */
static int my_check(void *arg, uint64_t tag, const uint8_t *body, size_t len, ProtobufCAllocator *alloc, char *msg,
                    size_t cap)
{
    const long *want = arg;
    Crm__Activities__V1__ListMyActivitiesReply *r = unpack_reply(
        &crm__activities__v1__list_my_activities_reply__descriptor, "ListMyActivities", alloc, body, len, msg, cap);
    if (!r)
        return -1;
    long total = (long)(r->overdue_count + r->today_count + r->planned_count);
    if (total != *want || r->n_overdue > GROUP_LIMIT || r->n_today > GROUP_LIMIT || r->n_planned > GROUP_LIMIT ||
        (r->overdue_count >= GROUP_LIMIT && r->n_overdue != GROUP_LIMIT)) {
        snprintf(msg, cap, "ListMyActivities: %ld counted (want %ld), groups of %zu, %zu, %zu", total, *want,
                 r->n_overdue, r->n_today, r->n_planned);
        return -1;
    }
    for (size_t i = 1; i < r->n_overdue; i++)
        if (strcmp(r->overdue[i - 1]->deadline, r->overdue[i]->deadline) > 0 ||
            r->overdue[i]->due != CRM__ACTIVITIES__V1__ACTIVITY_DUE__ACTIVITY_DUE_OVERDUE) {
            snprintf(msg, cap, "ListMyActivities: overdue %zu out of place", i);
            return -1;
        }
    return 0;
}

/* --- the run ---------------------------------------------------------------------------- */

static void fill(const char *what, load_t *L, store_t *s, long n, int clients)
{
    s->next = 0;
    L->limit = n;
    result_t r;
    int64_t t0 = now_ns();
    run_load(L, clients, 0, BUILD_MAX_S, &r);
    if (r.errors || r.ok_all != n)
        die("%s: %ld of %ld made, %ld errors (first: %s)", what, r.ok_all, n, r.errors, r.error);
    fprintf(stderr, "  %ld %s in %.1f s\n", n, what, (double)(now_ns() - t0) / 1e9);
}

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
    crm_status_t st;
    char tok[256], user_tok[256];
    if (login(o.zmq, o.password, tok, sizeof tok, &st) != 0)
        die("Login as admin: %s: %s", crm_code_name(st.code), st.message);
    token = tok;
    if (!(cli = crm_client_new(o.zmq)))
        die("client %s: %s", o.zmq, zmq_strerror(errno));
    int64_t stages[MAX_STAGES];
    if (open_stages(cli, token, stages) < 1)
        die("no open stage for opportunities");

    /* 1. the store */
    store_t s = {.o = &o, .stage = stages[0], .today = (int32_t)(time(NULL) / DAY_S)};
    s.user_ids = xcalloc((size_t)o.users, sizeof *s.user_ids);
    s.lead_ids = xcalloc((size_t)o.leads, sizeof *s.lead_ids);
    char user_password[64];
    snprintf(user_password, sizeof user_password, "planner-%u-%u", randombytes_random(), randombytes_random());
    int64_t t0 = now_ns();
    for (int u = 0; u < o.users; u++) {
        char login_name[32], name[48];
        snprintf(login_name, sizeof login_name, "planner%d", u);
        snprintf(name, sizeof name, "Planner %d", u);
        Crm__Identity__V1__CreateUserRequest r = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
        r.login = login_name;
        r.name = name;
        r.password = u == 0 ? user_password : ""; /* the others are invited: no hash to pay for */
        r.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_ALL_LEADS;
        Crm__Identity__V1__CreateUserReply *rep =
            bench_call(cli, token, ID "CreateUser", &r.base, &crm__identity__v1__create_user_reply__descriptor, NULL);
        s.user_ids[u] = rep->user->id;
        protobuf_c_message_free_unpacked(&rep->base, NULL);
    }
    fprintf(stderr, "  %d users in %.1f s\n", o.users, (double)(now_ns() - t0) / 1e9);
    load_t leads = {.name = "CreateLead", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "CreateLead",
                    .token = token, .next_body = lead_body, .check = lead_check, .arg = &s};
    fill("opportunities", &leads, &s, o.leads, o.write_clients);
    load_t plans = {.name = "PlanActivity", .kind = LOAD_CRM, .endpoint = o.zmq, .method = ACT "PlanActivity",
                    .token = token, .next_body = plan_body, .check = plan_check, .arg = &s};
    int64_t t_plan = now_ns();
    fill("planned activities", &plans, &s, o.activities, o.write_clients);
    double plan_rate = (double)o.activities / ((double)(now_ns() - t_plan) / 1e9);
    double lmdb32 = 32 * lmdb_floor(o.tmp, 32, o.seconds);

    /* 2. the reads, as the user measured */
    {
        crm_client_t *uc = crm_client_new(o.zmq);
        if (!uc)
            die("client %s: %s", o.zmq, zmq_strerror(errno));
        Crm__Identity__V1__LoginRequest lr = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
        lr.login = "planner0";
        lr.password = user_password;
        Crm__Identity__V1__LoginReply *rep =
            bench_call(uc, NULL, METHOD_LOGIN, &lr.base, &crm__identity__v1__login_reply__descriptor, NULL);
        snprintf(user_tok, sizeof user_tok, "%s", rep->token);
        protobuf_c_message_free_unpacked(&rep->base, NULL);
        crm_client_destroy(&uc);
    }
    long mine = o.activities / o.users + (o.activities % o.users ? 1 : 0);
    Crm__Activities__V1__ListMyActivitiesRequest mr = CRM__ACTIVITIES__V1__LIST_MY_ACTIVITIES_REQUEST__INIT;
    uint8_t my_body[64];
    size_t my_len = pack_body(&mr.base, my_body, sizeof my_body);
    load_t my = {.name = "ListMyActivities", .kind = LOAD_CRM, .endpoint = o.zmq, .method = ACT "ListMyActivities",
                 .token = user_tok, .body = my_body, .body_len = my_len, .check = my_check, .arg = &mine};
    uint8_t health_body[64];
    load_t health = health_load(o.zmq, "activities", health_body, sizeof health_body);
    mem_t mem = mem_of(o.activities_pid);
    const int clients[] = {1, 4};
    series_t s_my[2], s_health[2];
    memset(s_my, 0, sizeof s_my);
    memset(s_health, 0, sizeof s_health);
    for (int rep = 0; rep < o.reps; rep++)
        for (int c = 0; c < 2; c++) {
            measure(&health, clients[c], o.warmup, o.seconds, rep, o.reps, &s_health[c], NULL);
            measure(&my, clients[c], o.warmup, o.seconds, rep, o.reps, &s_my[c], NULL);
        }

    char label[96];
    printf("\n== ListMyActivities through the gateway's ZeroMQ door: each client one DEALER socket keeping one "
           "request in flight over tcp loopback, all from one thread\n");
    printf("   (%ld planned activities of %d users on %d opportunities; the user measured has %ld of them, one on "
           "each of their %d; deadlines from 60 days ago to 60 ahead; %.1f s measured after %.1f s warm-up; "
           "medians of %d runs; %ld cores online)\n",
           o.activities, o.users, o.leads, mine, o.mine, o.seconds, o.warmup, o.reps, sysconf(_SC_NPROCESSORS_ONLN));
    printf("store: PlanActivity at %d in flight made them at %.0f/s (durable, group commit) = %.2f x the LMDB "
           "32-record commit floor (%.0f records/s)\n",
           o.write_clients, plan_rate, lmdb32 > 0 ? plan_rate / lmdb32 : 0, lmdb32);
    printf("floor, same run (the read floor of the suite: Health through gateway -> activities):\n");
    for (int c = 0; c < 2; c++) {
        snprintf(label, sizeof label, "Health via gateway %d client%s", clients[c], clients[c] > 1 ? "s" : "");
        print_row(label, &s_health[c], NULL, 0);
    }
    printf("ours (the three groups of 50 and their counts, today in UTC):\n");
    for (int c = 0; c < 2; c++) {
        snprintf(label, sizeof label, "ListMyActivities %d client%s", clients[c], clients[c] > 1 ? "s" : "");
        print_row(label, &s_my[c], "Health floor", s_rps(&s_health[c]));
    }
    printf("memory:\n");
    print_mem("crm-activities", o.activities_pid, "after the store was made:", mem);
    print_mem("crm-activities", o.activities_pid, "end:", mem_of(o.activities_pid));
    printf("\n");
    int met = target("ListMyActivities/1 p99 <= 5 ms at 1,000 of 100,000:", mine >= 1000 && o.activities >= 100000,
                     s_p99(&s_my[0]) <= 5.0, "%.2f ms", s_p99(&s_my[0]));
    if (total_errors)
        printf("RESULT: %ld requests FAILED; the figures above are not valid\n", total_errors);
    else
        printf("RESULT: no request failed; target %s\n", met ? "met" : "NOT met");
    free(s.user_ids);
    free(s.lead_ids);
    crm_client_destroy(&cli);
    zmq_ctx_term(zctx);
    return total_errors ? 1 : 0;
}
