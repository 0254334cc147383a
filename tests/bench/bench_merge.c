/* bench_merge: MergeLeads through the gateway's ZeroMQ door, one request in
 * flight, with pipeline, activities and notifications running.
 *
 * Each repetition makes --pairs (100) pairs of opportunities, each lead with
 * 20 chatter comments and 2 followers (besides its creator), then, pair by
 * pair:
 * 1. UpdateLead of the pair's first lead (its revenue): the floor, a durable
 *    write of one lead and its event through the same doors;
 * 2. MergeLeads of the pair (into the first): its latency;
 * 3. ListMessages of the destination at once, in the same session: the
 *    gateway's marks make activities hold it until it has applied the
 *    merge, so its latency is the time until the chatter is moved; the page
 *    must hold every message of both leads and the merge's own.
 * Figures: p50 and p99 of each, the median of --reps (3) repetitions, each
 * repetition's own beside it. Every reply must have status OK and the
 * content asked for, else the run fails. */
#define BENCH_PROG "bench_merge"
/* one request at a time: the header's load generator and floors go unused */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bench_common.h"
#pragma GCC diagnostic pop
#include "activities.pb-c.h"
#include "notifications.pb-c.h"

#include <getopt.h>

#define ACT "crm.activities.v1.Activities/"
#define NTF "crm.notifications.v1.Notifications/"
#define MESSAGES_PER_LEAD 20
#define FOLLOWERS 2

typedef struct {
    const char *zmq, *password;
    int pairs, reps;
} options_t;

static void usage(void)
{
    fprintf(stderr, "usage: bench_merge --zmq EP --password PW [--pairs N] [--reps N]\n");
    exit(2);
}

static void options(int argc, char **argv, options_t *o)
{
    static const struct option longs[] = {{"zmq", required_argument, NULL, 'z'},
                                           {"password", required_argument, NULL, 'p'},
                                           {"pairs", required_argument, NULL, 'n'},
                                           {"reps", required_argument, NULL, 'r'},
                                           {NULL, 0, NULL, 0}};
    *o = (options_t){.pairs = 100, .reps = 3};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'z')
            o->zmq = optarg;
        else if (c == 'p')
            o->password = optarg;
        else if (c == 'n')
            o->pairs = parse_count("--pairs", optarg, 1, 10000);
        else if (c == 'r')
            o->reps = parse_count("--reps", optarg, 1, MAX_REPS);
        else
            usage();
    }
    if (!o->zmq || !o->password)
        usage();
}

static crm_client_t *cli;
static char token[256];

static int64_t create_user(const char *login)
{
    Crm__Identity__V1__CreateUserRequest r = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    r.login = (char *)login;
    r.name = (char *)login;
    r.password = "bench-follower-pass-1";
    r.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_ALL_LEADS;
    Crm__Identity__V1__CreateUserReply *u = bench_call(cli, token, "crm.identity.v1.Identity/CreateUser", &r.base,
                                                       &crm__identity__v1__create_user_reply__descriptor, NULL);
    int64_t id = u->user->id;
    protobuf_c_message_free_unpacked(&u->base, NULL);
    return id;
}

static int64_t create_lead(int rep, int i)
{
    char name[64];
    snprintf(name, sizeof name, "Merge bench %d.%d", rep, i);
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    r.type = OPPORTUNITY;
    r.name = name;
    r.email = i % 2 ? "" : "buyer@merge.bench";
    r.phone = i % 2 ? "+44 20 7946 0000" : "";
    r.unassigned = 1;
    Crm__Pipeline__V1__Lead *l =
        bench_call(cli, token, PL "CreateLead", &r.base, &crm__pipeline__v1__lead__descriptor, NULL);
    int64_t id = l->id;
    protobuf_c_message_free_unpacked(&l->base, NULL);
    return id;
}

static Crm__Common__V1__DocRef lead_ref(int64_t id)
{
    Crm__Common__V1__DocRef d = CRM__COMMON__V1__DOC_REF__INIT;
    d.model = "lead";
    d.id = id;
    return d;
}

static void post(int64_t lead, int n)
{
    char body[96];
    snprintf(body, sizeof body, "Comment %d on the opportunity, some eighty characters long as people write them.", n);
    Crm__Common__V1__DocRef d = lead_ref(lead);
    Crm__Activities__V1__PostMessageRequest r = CRM__ACTIVITIES__V1__POST_MESSAGE_REQUEST__INIT;
    r.doc = &d;
    r.kind = CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_COMMENT;
    r.body = body;
    protobuf_c_message_free_unpacked(
        bench_call(cli, token, ACT "PostMessage", &r.base, &crm__activities__v1__message__descriptor, NULL), NULL);
}

static void follow(int64_t lead, int64_t user)
{
    Crm__Common__V1__DocRef d = lead_ref(lead);
    Crm__Notifications__V1__FollowRequest r = CRM__NOTIFICATIONS__V1__FOLLOW_REQUEST__INIT;
    r.doc = &d;
    r.user_id = user;
    protobuf_c_message_free_unpacked(
        bench_call(cli, token, NTF "Follow", &r.base, &crm__notifications__v1__follower__descriptor, NULL), NULL);
}

static size_t chatter_size(int64_t lead)
{
    Crm__Common__V1__DocRef d = lead_ref(lead);
    Crm__Activities__V1__ListMessagesRequest r = CRM__ACTIVITIES__V1__LIST_MESSAGES_REQUEST__INIT;
    r.doc = &d;
    r.page_size = 200;
    Crm__Activities__V1__ListMessagesReply *m = bench_call(cli, token, ACT "ListMessages", &r.base,
                                                           &crm__activities__v1__list_messages_reply__descriptor, NULL);
    size_t n = m->n_messages;
    protobuf_c_message_free_unpacked(&m->base, NULL);
    return n;
}

static void update(int64_t lead, int64_t revenue)
{
    static char *paths[] = {"expected_revenue"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = 1;
    Crm__Pipeline__V1__UpdateLeadRequest r = CRM__PIPELINE__V1__UPDATE_LEAD_REQUEST__INIT;
    r.id = lead;
    r.expected_revenue = revenue;
    r.update_mask = &mask;
    Crm__Pipeline__V1__Lead *l =
        bench_call(cli, token, PL "UpdateLead", &r.base, &crm__pipeline__v1__lead__descriptor, NULL);
    if (l->expected_revenue != revenue)
        die("UpdateLead %lld: revenue %lld, asked %lld", (long long)lead, (long long)l->expected_revenue,
            (long long)revenue);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void merge(int64_t into, int64_t other)
{
    int64_t ids[2] = {other, into};
    Crm__Pipeline__V1__MergeLeadsRequest r = CRM__PIPELINE__V1__MERGE_LEADS_REQUEST__INIT;
    r.ids = ids;
    r.n_ids = 2;
    r.into_id = into;
    Crm__Pipeline__V1__Lead *l =
        bench_call(cli, token, PL "MergeLeads", &r.base, &crm__pipeline__v1__lead__descriptor, NULL);
    if (l->id != into || strcmp(l->phone, "+44 20 7946 0000") != 0)
        die("MergeLeads into %lld: got lead %lld with phone \"%s\"", (long long)into, (long long)l->id, l->phone);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

typedef struct {
    double p50[MAX_REPS], p99[MAX_REPS];
} figures_t;

static void record(figures_t *f, int rep, samples_t *s)
{
    double max;
    samples_summary(s, &f->p50[rep], &f->p99[rep], &max);
    s->n = 0;
}

static void row(const char *label, const figures_t *f, int reps)
{
    printf("%-34s p50 %7.2f ms  p99 %7.2f ms   (runs:", label, median(f->p50, reps), median(f->p99, reps));
    for (int i = 0; i < reps; i++)
        printf(" %.2f/%.2f", f->p50[i], f->p99[i]);
    printf(")\n");
}

int main(int argc, char **argv)
{
    options_t o;
    options(argc, argv, &o);
    crm_status_t st;
    if (login(o.zmq, o.password, token, sizeof token, &st) != 0)
        die("login: %s", st.message);
    if (!(cli = crm_client_new(o.zmq)))
        die("client %s: %s", o.zmq, zmq_strerror(errno));
    int64_t followers[FOLLOWERS];
    for (int i = 0; i < FOLLOWERS; i++) {
        char login_name[32];
        snprintf(login_name, sizeof login_name, "merge-follower-%d-%d", (int)getpid(), i);
        followers[i] = create_user(login_name);
    }
    int64_t *leads = xcalloc((size_t)o.pairs * 2, sizeof *leads);
    samples_t s_update = {0}, s_merge = {0}, s_moved = {0};
    figures_t f_update, f_merge, f_moved;
    for (int rep = 0; rep < o.reps; rep++) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 2 * o.pairs; i++) {
            leads[i] = create_lead(rep, i);
            for (int m = 0; m < MESSAGES_PER_LEAD; m++)
                post(leads[i], m);
            for (int k = 0; k < FOLLOWERS; k++)
                follow(leads[i], followers[k]);
        }
        fprintf(stderr, BENCH_PROG ": run %d: %d leads with %d comments and %d followers each made in %.1f s\n",
                rep + 1, 2 * o.pairs, MESSAGES_PER_LEAD, FOLLOWERS, (double)(now_ns() - t0) / 1e9);
        /* a chatter: the creation's tracking message and the comments */
        size_t expected = 2 * (1 + MESSAGES_PER_LEAD) + 1;
        for (int p = 0; p < o.pairs; p++) {
            int64_t into = leads[2 * p], other = leads[2 * p + 1];
            int64_t t = now_ns();
            update(into, 1000 + p);
            samples_add(&s_update, now_ns() - t);
            t = now_ns();
            merge(into, other);
            int64_t merged = now_ns();
            samples_add(&s_merge, merged - t);
            size_t n = chatter_size(into);
            samples_add(&s_moved, now_ns() - merged);
            /* the revenue change is a tracked one: its message too */
            if (n != expected + 1)
                die("after merging %lld into %lld: %zu messages, want %zu", (long long)other, (long long)into, n,
                    expected + 1);
        }
        record(&f_update, rep, &s_update);
        record(&f_merge, rep, &s_merge);
        record(&f_moved, rep, &s_moved);
    }
    printf("\nMergeLeads, one request in flight, pairs of opportunities with %d comments and %d followers each "
           "(%d pairs a run, median of %d runs)\n",
           MESSAGES_PER_LEAD, FOLLOWERS, o.pairs, o.reps);
    row("UpdateLead (floor)", &f_update, o.reps);
    row("MergeLeads", &f_merge, o.reps);
    row("chatter moved (ListMessages held)", &f_moved, o.reps);
    printf("MergeLeads p50 = %.2f x UpdateLead p50\n", median(f_merge.p50, o.reps) / median(f_update.p50, o.reps));
    free(leads);
    free(s_update.v);
    free(s_merge.v);
    free(s_moved.v);
    crm_client_destroy(&cli);
    return 0;
}
