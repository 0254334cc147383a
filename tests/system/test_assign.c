/* Assignment rules through both doors: round robin over a team's members
 * with a maximum per 30 days, members who left or were deactivated skipped,
 * leads given as they come (auto_assign) and on demand (AssignLeads), the
 * chatter line and the assignee's inbox entry, access, bad input, and a
 * kill -9 of the pipeline during AssignLeads retried with its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_client.h"
#include "harness.h"
#include "pipeline.pb-c.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define I(m) "crm.identity.v1.Identity/" m
#define A(m) "crm.activities.v1.Activities/" m
#define N(m) "crm.notifications.v1.Notifications/" m

static sys_env_t *env;
static char *admin;
/* salespeople: ann, bob, cat with all leads; olga with her own only; mia a
 * manager; dan and eve to be deactivated and moved out; nat without sales access */
static char *ann, *bob, *cat, *olga, *mia, *dan, *eve;
static int64_t ann_id, bob_id, cat_id, olga_id, mia_id, dan_id, eve_id, nat_id;

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    char **tokens[] = {&ann, &bob, &cat, &olga, &mia, &dan, &eve};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        free(*tokens[i]);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* --- helpers -------------------------------------------------------------------------- */

/* A Twirp JSON call over HTTP that must answer status; the reply parsed
 * (json_decref it). idem: an Idempotency-Key, or NULL. */
static json_t *http_call(int line, const char *token, const char *method, const char *idem, int status,
                         const char *fmt, ...)
{
    char body[16384], headers[512], path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s%s%s", token,
             idem ? "Idempotency-Key: " : "", idem ? idem : "", idem ? "\r\n" : "");
    snprintf(path, sizeof path, "/twirp/%s", method);
    char *out = NULL;
    int got = sys_http(env, "POST", path, headers, body, strlen(body), &out, NULL);
    if (got != status)
        fail_msg("line %d: HTTP %s answered %d, not %d: %s", line, method, got, status, out ? out : "");
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    if (!j)
        fail_msg("line %d: HTTP %s: not JSON: %s", line, method, out ? out : "");
    free(out);
    return j;
}
#define HTTP_OK(token, method, ...) http_call(__LINE__, token, method, NULL, 200, __VA_ARGS__)

/* An HTTP call that must fail with Twirp code naming field. */
static void http_err(int line, int status, const char *code, const char *field, const char *token, const char *method,
                     const char *body)
{
    json_t *j = http_call(line, token, method, NULL, status, "%s", body);
    if (strcmp(sys_jstr(j, "code"), code) || strcmp(sys_jstr(j, "meta.field"), field))
        fail_msg("line %d: HTTP %s: wanted %s on %s, got %s", line, method, code, field, json_dumps(j, 0));
    json_decref(j);
}
#define HTTP_ERR(status, code, field, token, method, body) http_err(__LINE__, status, code, field, token, method, body)

static int64_t new_team(const char *name, const int64_t *members, size_t n)
{
    char ids[512] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s\"%lld\"", i ? "," : "", (long long)members[i]);
    json_t *t = OK(admin, I("CreateTeam"), "{\"name\":\"%s\",\"memberIds\":[%s]}", name, ids);
    int64_t id = sys_jint(t, "id");
    json_decref(t);
    assert_true(id > 0);
    return id;
}

/* A new lead of nobody's in team, as token; its reply (json_decref it). */
static json_t *new_unassigned(const char *token, int64_t team, const char *name)
{
    return OK(token, P("CreateLead"), "{\"name\":\"%s\",\"teamId\":\"%lld\",\"unassigned\":true}", name,
              (long long)team);
}

static int64_t new_unassigned_id(int64_t team, const char *name)
{
    json_t *l = new_unassigned(admin, team, name);
    int64_t id = sys_jint(l, "id");
    assert_int_equal(sys_jint(l, "salespersonId"), 0);
    assert_string_equal(sys_jstr(l, "assignedBy"), "");
    json_decref(l);
    return id;
}

static int64_t salesperson_of(const char *token, int64_t lead)
{
    json_t *l = OK(token, P("GetLead"), "{\"id\":\"%lld\"}", (long long)lead);
    int64_t sp = sys_jint(l, "salespersonId");
    json_decref(l);
    return sp;
}

/* The member row of user in a rules reply, or NULL. */
static json_t *member(json_t *rules, int64_t user)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(rules, "members"), i, m) if (sys_jint(m, "userId") == user) return m;
    return NULL;
}

static int64_t count_of(json_t *rules, int64_t user)
{
    json_t *m = member(rules, user);
    if (!m)
        fail_msg("user %lld is not in the rules", (long long)user);
    return sys_jint(m, "assignedLast30Days");
}

/* How many chatter messages of lead contain text. */
static int chatter_lines(const char *token, int64_t lead, const char *text)
{
    json_t *r = OK(token, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":100}",
                   (long long)lead);
    json_t *m;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(r, "messages"), i, m) n += strstr(sys_jstr(m, "body"), text) != NULL;
    json_decref(r);
    return n;
}

/* Waits (at most 10 s) for an inbox entry of token's user on lead with
 * subtype; returns its summary (malloc'd) or fails. */
static char *wait_inbox(const char *token, int64_t lead, const char *subtype)
{
    int64_t until = sys_now_ms() + 10000;
    do {
        json_t *r = OK(token, N("ListInbox"), "{\"pageSize\":100}");
        json_t *e;
        size_t i;
        json_array_foreach(json_object_get(r, "notifications"), i, e) {
            if (sys_jint(e, "doc.id") == lead && !strcmp(sys_jstr(e, "subtype"), subtype)) {
                char *s = strdup(sys_jstr(e, "summary"));
                json_decref(r);
                return s;
            }
        }
        json_decref(r);
        usleep(50000);
    } while (sys_now_ms() < until);
    fail_msg("no %s inbox entry on lead %lld", subtype, (long long)lead);
    return NULL;
}

static void users(void)
{
    if (ann)
        return;
    ann = sys_new_sales_user(env, admin, "ann", "Ann", "SALES_ACCESS_ALL_LEADS", &ann_id);
    bob = sys_new_sales_user(env, admin, "bob", "Bob", "SALES_ACCESS_ALL_LEADS", &bob_id);
    cat = sys_new_sales_user(env, admin, "cat", "Cat", "SALES_ACCESS_ALL_LEADS", &cat_id);
    olga = sys_new_sales_user(env, admin, "olga", "Olga", "SALES_ACCESS_OWN_LEADS", &olga_id);
    mia = sys_new_sales_user(env, admin, "mia", "Mia", "SALES_ACCESS_MANAGER", &mia_id);
    dan = sys_new_sales_user(env, admin, "dan", "Dan", "SALES_ACCESS_ALL_LEADS", &dan_id);
    eve = sys_new_sales_user(env, admin, "eve", "Eve", "SALES_ACCESS_ALL_LEADS", &eve_id);
    free(sys_new_sales_user(env, admin, "nat", "Nat", "SALES_ACCESS_NONE", &nat_id));
}

/* --- round robin and the maximum --------------------------------------------------------- */

static void test_round_robin_and_maximum(void **state)
{
    users();
    int64_t europe = new_team("Europe", (int64_t[]){ann_id, bob_id, cat_id}, 3);
    json_t *set = OK(admin, P("SetAssignmentRules"),
                     "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":100},"
                     "{\"userId\":\"%lld\",\"maxPer30Days\":100},{\"userId\":\"%lld\",\"maxPer30Days\":2}]}",
                     (long long)europe, (long long)ann_id, (long long)bob_id, (long long)cat_id);
    assert_int_equal(json_array_size(json_object_get(set, "members")), 3);
    assert_int_equal(sys_jint(set, "teamId"), europe);
    assert_true(sys_jint(set, "updatedAt") > 0);
    assert_int_equal(count_of(set, cat_id), 0);
    json_decref(set);

    /* without auto_assign an unassigned lead stays so */
    int64_t leads[10];
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "Europe %d", i);
        leads[i] = new_unassigned_id(europe, name);
        assert_int_equal(salesperson_of(admin, leads[i]), 0);
    }

    /* an archived one and a lost one of nobody's are not given out */
    int64_t shelved = new_unassigned_id(europe, "Europe shelved"), dropped = new_unassigned_id(europe, "Europe dropped");
    json_decref(OK(admin, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)shelved));
    json_decref(OK(admin, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)dropped));

    /* on demand through HTTP (JSON): oldest first, in turn */
    json_t *r = HTTP_OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\",\"limit\":5}", (long long)europe);
    json_t *got = json_object_get(r, "assigned");
    int64_t want[] = {ann_id, bob_id, cat_id, ann_id, bob_id};
    assert_int_equal(json_array_size(got), 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(sys_jint(json_array_get(got, i), "leadId"), leads[i]);
        assert_int_equal(sys_jint(json_array_get(got, i), "salespersonId"), want[i]);
        assert_int_equal(salesperson_of(admin, leads[i]), want[i]);
    }
    assert_int_equal(sys_jint(r, "leftUnassigned"), 2);
    json_decref(r);

    /* through the ZeroMQ door, in protobuf: cat takes her second and last */
    crm_status_t st;
    Crm__Pipeline__V1__AssignLeadsRequest req = CRM__PIPELINE__V1__ASSIGN_LEADS_REQUEST__INIT;
    req.team_id = europe;
    Crm__Pipeline__V1__AssignLeadsReply *pr =
        sys_call(env, P("AssignLeads"), admin, &req.base, &crm__pipeline__v1__assign_leads_reply__descriptor, &st);
    if (!pr)
        fail_msg("AssignLeads: %s", st.message);
    assert_int_equal(pr->n_assigned, 2);
    assert_int_equal(pr->assigned[0]->lead_id, leads[5]);
    assert_int_equal(pr->assigned[0]->salesperson_id, cat_id);
    assert_int_equal(pr->assigned[1]->lead_id, leads[6]);
    assert_int_equal(pr->assigned[1]->salesperson_id, ann_id);
    assert_int_equal(pr->left_unassigned, 0);
    protobuf_c_message_free_unpacked(&pr->base, NULL);
    assert_int_equal(salesperson_of(admin, shelved), 0);
    assert_int_equal(salesperson_of(admin, dropped), 0);

    /* cat is at her maximum for 30 days: skipped */
    for (int i = 7; i < 10; i++)
        leads[i] = new_unassigned_id(europe, "Europe later");
    r = OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)europe);
    int64_t later[] = {bob_id, ann_id, bob_id};
    got = json_object_get(r, "assigned");
    assert_int_equal(json_array_size(got), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sys_jint(json_array_get(got, i), "salespersonId"), later[i]);
    json_decref(r);

    json_t *rules = HTTP_OK(admin, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)europe);
    assert_int_equal(count_of(rules, ann_id), 4);
    assert_int_equal(count_of(rules, bob_id), 4);
    assert_int_equal(count_of(rules, cat_id), 2);
    assert_int_equal(sys_jint(rules, "lastAssignedUserId"), bob_id);
    assert_false(json_is_true(json_object_get(rules, "autoAssign")));
    json_decref(rules);

    /* everyone at a maximum: nothing is given, and what is left is told */
    json_decref(OK(admin, P("SetAssignmentRules"),
                   "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":4},"
                   "{\"userId\":\"%lld\",\"maxPer30Days\":2}]}",
                   (long long)europe, (long long)ann_id, (long long)cat_id));
    int64_t stuck = new_unassigned_id(europe, "Europe nobody");
    r = OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)europe);
    assert_int_equal(json_array_size(json_object_get(r, "assigned")), 0);
    assert_int_equal(sys_jint(r, "leftUnassigned"), 1);
    json_decref(r);
    assert_int_equal(salesperson_of(admin, stuck), 0);

    /* the chatter says who chose */
    for (int i = 0; i < 3; i++) {
        char line[128];
        snprintf(line, sizeof line, "Salesperson: — → %s (assigned by Europe's assignment rules)",
                 want[i] == ann_id ? "Ann" : want[i] == bob_id ? "Bob" : "Cat");
        assert_int_equal(chatter_lines(admin, leads[i], line), 1);
    }
    /* and the assignee is told */
    char *summary = wait_inbox(bob, leads[1], "SUBTYPE_ASSIGNED");
    assert_non_null(strstr(summary, "Bob"));
    free(summary);
}

/* --- as they come -------------------------------------------------------------------------- */

static void test_auto_assign_on_create(void **state)
{
    users();
    int64_t asia = new_team("Asia", (int64_t[]){ann_id, bob_id}, 2);
    json_decref(HTTP_OK(admin, P("SetAssignmentRules"),
                        "{\"teamId\":\"%lld\",\"autoAssign\":true,\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":10},"
                        "{\"userId\":\"%lld\",\"maxPer30Days\":10}]}",
                        (long long)asia, (long long)ann_id, (long long)bob_id));
    /* through HTTP, then ZeroMQ */
    json_t *first = HTTP_OK(admin, P("CreateLead"), "{\"name\":\"Tokyo fair\",\"teamId\":\"%lld\",\"unassigned\":true}",
                            (long long)asia);
    assert_int_equal(sys_jint(first, "salespersonId"), ann_id);
    assert_string_equal(sys_jstr(first, "assignedBy"), "assignment");
    int64_t first_id = sys_jint(first, "id");
    json_decref(first);
    json_t *second = new_unassigned(admin, asia, "Seoul fair");
    assert_int_equal(sys_jint(second, "salespersonId"), bob_id);
    assert_string_equal(sys_jstr(second, "assignedBy"), "assignment");
    int64_t second_id = sys_jint(second, "id");
    json_decref(second);
    /* assigned_by is the reply's, never stored */
    json_t *again = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)first_id);
    assert_int_equal(sys_jint(again, "salespersonId"), ann_id);
    assert_string_equal(sys_jstr(again, "assignedBy"), "");
    json_decref(again);

    /* a lead given a salesperson by its creator takes no turn */
    json_t *own = OK(admin, P("CreateLead"), "{\"name\":\"Osaka\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\"}",
                     (long long)asia, (long long)bob_id);
    assert_string_equal(sys_jstr(own, "assignedBy"), "");
    json_decref(own);
    json_t *third = new_unassigned(admin, asia, "Taipei fair");
    assert_int_equal(sys_jint(third, "salespersonId"), ann_id);
    json_decref(third);

    /* the chatter of a new lead says who chose its salesperson */
    assert_int_equal(chatter_lines(admin, first_id, "Salesperson: — → Ann (assigned by Asia's assignment rules)"), 1);
    assert_int_equal(chatter_lines(admin, second_id, "Salesperson: — → Bob (assigned by Asia's assignment rules)"), 1);
    /* the assignee follows it and is told */
    char *summary = wait_inbox(ann, first_id, "SUBTYPE_ASSIGNED");
    assert_non_null(strstr(summary, "assigned to Ann"));
    free(summary);

    /* nobody available: the lead is created, unassigned */
    json_decref(OK(admin, P("SetAssignmentRules"),
                   "{\"teamId\":\"%lld\",\"autoAssign\":true,\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":2}]}",
                   (long long)asia, (long long)ann_id));
    json_t *none = new_unassigned(admin, asia, "Manila fair");
    assert_int_equal(sys_jint(none, "salespersonId"), 0);
    assert_string_equal(sys_jstr(none, "assignedBy"), "");
    json_decref(none);
}

/* --- members who left or were deactivated ------------------------------------------------ */

static void test_inactive_and_removed_members_skipped(void **state)
{
    users();
    int64_t africa = new_team("Africa", (int64_t[]){dan_id, eve_id, ann_id}, 3);
    json_decref(OK(admin, P("SetAssignmentRules"),
                   "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":10},"
                   "{\"userId\":\"%lld\",\"maxPer30Days\":10},{\"userId\":\"%lld\",\"maxPer30Days\":10}]}",
                   (long long)africa, (long long)dan_id, (long long)eve_id, (long long)ann_id));
    json_decref(OK(admin, I("UpdateUser"), "{\"id\":\"%lld\",\"active\":false}", (long long)dan_id));
    json_decref(OK(admin, I("UpdateTeam"), "{\"id\":\"%lld\",\"memberIds\":[\"%lld\",\"%lld\"]}", (long long)africa,
                   (long long)dan_id, (long long)ann_id));
    int64_t a = new_unassigned_id(africa, "Nairobi"), b = new_unassigned_id(africa, "Lagos");
    json_t *r = OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)africa);
    json_t *got = json_object_get(r, "assigned");
    assert_int_equal(json_array_size(got), 2);
    assert_int_equal(sys_jint(json_array_get(got, 0), "salespersonId"), ann_id);
    assert_int_equal(sys_jint(json_array_get(got, 1), "salespersonId"), ann_id);
    json_decref(r);
    assert_int_equal(salesperson_of(admin, a), ann_id);
    assert_int_equal(salesperson_of(admin, b), ann_id);
    /* nor can they be named in the rules again */
    ERR(CODE(INVALID_ARGUMENT), "members[0].userId", admin, P("SetAssignmentRules"),
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":10}]}", (long long)africa,
        (long long)dan_id);
    ERR(CODE(INVALID_ARGUMENT), "members[1].userId", admin, P("SetAssignmentRules"),
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":10},{\"userId\":\"%lld\",\"maxPer30Days\":10}]}",
        (long long)africa, (long long)ann_id, (long long)eve_id);
    /* back in the team, eve takes her turn again */
    json_decref(OK(admin, I("UpdateTeam"), "{\"id\":\"%lld\",\"memberIds\":[\"%lld\",\"%lld\",\"%lld\"]}",
                   (long long)africa, (long long)dan_id, (long long)eve_id, (long long)ann_id));
    int64_t c = new_unassigned_id(africa, "Accra");
    r = OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)africa);
    assert_int_equal(sys_jint(json_array_get(json_object_get(r, "assigned"), 0), "salespersonId"), eve_id);
    json_decref(r);
    assert_int_equal(salesperson_of(admin, c), eve_id);
}

/* --- access ------------------------------------------------------------------------------------ */

static void test_access(void **state)
{
    users();
    int64_t own = new_team("Own leads", (int64_t[]){olga_id, ann_id}, 2);
    int64_t other = new_team("Elsewhere", (int64_t[]){bob_id}, 1);
    /* a manager (not in the team) sets them; mia's session waits for the team */
    json_t *set = NULL;
    crm_status_t st;
    for (int64_t until = sys_now_ms() + 10000; !set && sys_now_ms() < until; usleep(50000))
        set = sys_jcall(env, P("SetAssignmentRules"), mia, &st,
                        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5},"
                        "{\"userId\":\"%lld\",\"maxPer30Days\":5}]}",
                        (long long)own, (long long)olga_id, (long long)ann_id);
    if (!set)
        fail_msg("a manager's SetAssignmentRules: %s", st.message);
    json_decref(set);
    int64_t leads[4];
    for (int i = 0; i < 4; i++)
        leads[i] = new_unassigned_id(own, "Own");
    json_t *r = OK(mia, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)own);
    assert_int_equal(json_array_size(json_object_get(r, "assigned")), 4);
    json_decref(r);

    /* olga sees her own row, not the others' counts */
    json_t *rules = OK(olga, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)own);
    assert_int_equal(json_array_size(json_object_get(rules, "members")), 1);
    assert_int_equal(count_of(rules, olga_id), 2);
    assert_int_equal(sys_jint(rules, "lastAssignedUserId"), 0);
    json_decref(rules);
    /* ann (all leads) sees everyone's; mia any team's */
    rules = HTTP_OK(ann, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)own);
    assert_int_equal(count_of(rules, olga_id), 2);
    assert_int_equal(count_of(rules, ann_id), 2);
    json_decref(rules);
    rules = OK(mia, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)other);
    assert_int_equal(json_array_size(json_object_get(rules, "members")), 0);
    json_decref(rules);

    /* olga's leads are hers; ann's are not found for her */
    json_t *mine = OK(olga, P("ListLeads"), "{\"teamId\":\"%lld\"}", (long long)own);
    json_t *l;
    size_t i;
    assert_int_equal(json_array_size(json_object_get(mine, "leads")), 2);
    json_array_foreach(json_object_get(mine, "leads"), i, l) assert_int_equal(sys_jint(l, "salespersonId"), olga_id);
    json_decref(mine);
    for (int k = 0; k < 4; k++)
        if (salesperson_of(admin, leads[k]) == ann_id)
            ERR(CODE(NOT_FOUND), "id", olga, P("GetLead"), "{\"id\":\"%lld\"}", (long long)leads[k]);

    /* only managers set rules and give leads out, through either door */
    const char *set_body = "{\"teamId\":\"%lld\",\"members\":[]}";
    ERR(CODE(PERMISSION_DENIED), NULL, olga, P("SetAssignmentRules"), set_body, (long long)own);
    ERR(CODE(PERMISSION_DENIED), NULL, ann, P("SetAssignmentRules"), set_body, (long long)own);
    ERR(CODE(PERMISSION_DENIED), NULL, olga, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)own);
    ERR(CODE(PERMISSION_DENIED), NULL, ann, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)own);
    char body[128];
    snprintf(body, sizeof body, "{\"teamId\":\"%lld\"}", (long long)own);
    json_decref(http_call(__LINE__, olga, P("AssignLeads"), NULL, 403, "%s", body));
    json_decref(http_call(__LINE__, ann, P("SetAssignmentRules"), NULL, 403, "%s", body));
    /* another team's rules are not for a salesperson outside it */
    ERR(CODE(PERMISSION_DENIED), "teamId", bob, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)own);
    ERR(CODE(PERMISSION_DENIED), "teamId", olga, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)other);
    /* nothing changed by the refusals */
    rules = OK(admin, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)own);
    assert_int_equal(json_array_size(json_object_get(rules, "members")), 2);
    json_decref(rules);
}

/* --- bad input ------------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    users();
    int64_t team = new_team("Bad input", (int64_t[]){ann_id, bob_id, nat_id}, 3);
    const char *set = P("SetAssignmentRules");
    ERR(CODE(NOT_FOUND), "teamId", admin, set, "{\"teamId\":\"987654\"}");
    ERR(CODE(NOT_FOUND), "teamId", admin, set, "{}");
    ERR(CODE(NOT_FOUND), "teamId", admin, P("GetAssignmentRules"), "{\"teamId\":\"-3\"}");
    ERR(CODE(NOT_FOUND), "teamId", admin, P("AssignLeads"), "{\"teamId\":\"987654\"}");
    ERR(CODE(INVALID_ARGUMENT), "members[1].userId", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5},{\"userId\":\"%lld\",\"maxPer30Days\":5}]}",
        (long long)team, (long long)ann_id, (long long)ann_id);
    ERR(CODE(INVALID_ARGUMENT), "members[0].userId", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"987654\",\"maxPer30Days\":5}]}", (long long)team);
    ERR(CODE(INVALID_ARGUMENT), "members[0].userId", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"0\",\"maxPer30Days\":5}]}", (long long)team);
    /* a member without sales access, or outside the team */
    ERR(CODE(INVALID_ARGUMENT), "members[2].userId", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5},{\"userId\":\"%lld\",\"maxPer30Days\":5},"
        "{\"userId\":\"%lld\",\"maxPer30Days\":5}]}",
        (long long)team, (long long)ann_id, (long long)bob_id, (long long)nat_id);
    ERR(CODE(INVALID_ARGUMENT), "members[0].userId", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5}]}", (long long)team, (long long)cat_id);
    ERR(CODE(INVALID_ARGUMENT), "members[1].maxPer30Days", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5},{\"userId\":\"%lld\",\"maxPer30Days\":0}]}",
        (long long)team, (long long)ann_id, (long long)bob_id);
    ERR(CODE(INVALID_ARGUMENT), "members[0].maxPer30Days", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":10001}]}", (long long)team, (long long)ann_id);
    ERR(CODE(INVALID_ARGUMENT), "members[0].maxPer30Days", admin, set,
        "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":-1}]}", (long long)team, (long long)ann_id);
    /* more than 100 members */
    char *many = malloc(16384);
    assert_non_null(many);
    int len = snprintf(many, 16384, "{\"teamId\":\"%lld\",\"members\":[", (long long)team);
    for (int i = 0; i < 101; i++)
        len += snprintf(many + len, 16384 - (size_t)len, "%s{\"userId\":\"%d\",\"maxPer30Days\":1}", i ? "," : "", i + 1);
    snprintf(many + len, 16384 - (size_t)len, "]}");
    ERR(CODE(INVALID_ARGUMENT), "members", admin, set, "%s", many);
    HTTP_ERR(400, "invalid_argument", "members", admin, set, many);
    snprintf(many, 16384, "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\"}]}", (long long)team, (long long)ann_id);
    HTTP_ERR(400, "invalid_argument", "members[0].maxPer30Days", admin, set, many);
    free(many);
    /* AssignLeads */
    ERR(CODE(FAILED_PRECONDITION), "teamId", admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_decref(OK(admin, set, "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":5}]}",
                   (long long)team, (long long)ann_id));
    ERR(CODE(INVALID_ARGUMENT), "limit", admin, P("AssignLeads"), "{\"teamId\":\"%lld\",\"limit\":-1}", (long long)team);
    ERR(CODE(INVALID_ARGUMENT), "limit", admin, P("AssignLeads"), "{\"teamId\":\"%lld\",\"limit\":1001}", (long long)team);
    char body[128];
    snprintf(body, sizeof body, "{\"teamId\":\"%lld\",\"limit\":5000}", (long long)team);
    HTTP_ERR(400, "invalid_argument", "limit", admin, P("AssignLeads"), body);
    /* a bad call changed nothing */
    json_t *rules = OK(admin, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_int_equal(json_array_size(json_object_get(rules, "members")), 1);
    json_decref(rules);
    /* the gateway and service are still there */
    json_decref(OK(admin, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)team));
}

/* --- kill -9 during AssignLeads ------------------------------------------------------------ */

#define KILL_LEADS 200

/* AssignLeads of KILL_LEADS new leads of a new team, sent by a child with
 * idempotency key `key`; the pipeline is killed with SIGKILL after
 * kill_after_us, or once the child has its answer (kill_after_us 0), and
 * started again. Then the retry with the same key, through both doors, must
 * give each lead once. */
static void kill_round(const char *team_name, const char *key, useconds_t kill_after_us)
{
    int64_t team = new_team(team_name, (int64_t[]){ann_id, bob_id}, 2);
    json_decref(OK(admin, P("SetAssignmentRules"),
                   "{\"teamId\":\"%lld\",\"members\":[{\"userId\":\"%lld\",\"maxPer30Days\":1000},"
                   "{\"userId\":\"%lld\",\"maxPer30Days\":1000}]}",
                   (long long)team, (long long)ann_id, (long long)bob_id));
    int64_t leads[KILL_LEADS];
    for (int i = 0; i < KILL_LEADS; i++)
        leads[i] = new_unassigned_id(team, team_name);

    Crm__Pipeline__V1__AssignLeadsRequest req = CRM__PIPELINE__V1__ASSIGN_LEADS_REQUEST__INIT;
    req.team_id = team;
    req.limit = KILL_LEADS;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* a client of its own: a ZeroMQ context does not survive fork */
        env->client = crm_client_new(env->zmq);
        crm_status_t st;
        void *reply = sys_call_idem(env, P("AssignLeads"), admin, key, &req.base,
                                    &crm__pipeline__v1__assign_leads_reply__descriptor, &st);
        _exit(reply ? 0 : 1);
    }
    int status;
    if (kill_after_us) {
        usleep(kill_after_us);
    } else {
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, 15000), 0);
    if (kill_after_us)
        assert_int_equal(waitpid(child, &status, 0), child);

    /* the retry with the same key, through HTTP: the one outcome */
    json_t *r = NULL;
    for (int64_t until = sys_now_ms() + 15000; sys_now_ms() < until; usleep(100000)) {
        char headers[512], body[128], *out = NULL;
        snprintf(headers, sizeof headers,
                 "Authorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\n", admin, key);
        snprintf(body, sizeof body, "{\"teamId\":\"%lld\",\"limit\":%d}", (long long)team, KILL_LEADS);
        int got = sys_http(env, "POST", "/twirp/" P("AssignLeads"), headers, body, strlen(body), &out, NULL);
        if (got == 200)
            r = json_loads(out, 0, NULL);
        free(out);
        if (got == 200 || (got != 503 && got != 504))
            break;
    }
    if (!r)
        fail_msg("the retried AssignLeads did not succeed");
    json_t *got = json_object_get(r, "assigned");
    assert_int_equal(json_array_size(got), KILL_LEADS);
    assert_int_equal(sys_jint(r, "leftUnassigned"), 0);
    /* again, through ZeroMQ in protobuf: the same answer, nothing done twice */
    crm_status_t st;
    Crm__Pipeline__V1__AssignLeadsReply *again = sys_call_idem(env, P("AssignLeads"), admin, key, &req.base,
                                                               &crm__pipeline__v1__assign_leads_reply__descriptor, &st);
    if (!again)
        fail_msg("retry: %s", st.message);
    assert_int_equal(again->n_assigned, KILL_LEADS);
    int64_t ann_n = 0, bob_n = 0;
    for (int i = 0; i < KILL_LEADS; i++) {
        json_t *a = json_array_get(got, (size_t)i);
        assert_int_equal(sys_jint(a, "leadId"), leads[i]);
        assert_int_equal(again->assigned[i]->salesperson_id, sys_jint(a, "salespersonId"));
        assert_int_equal(salesperson_of(admin, leads[i]), sys_jint(a, "salespersonId"));
        ann_n += sys_jint(a, "salespersonId") == ann_id;
        bob_n += sys_jint(a, "salespersonId") == bob_id;
    }
    protobuf_c_message_free_unpacked(&again->base, NULL);
    json_decref(r);
    assert_int_equal(ann_n, KILL_LEADS / 2);
    assert_int_equal(bob_n, KILL_LEADS / 2);
    /* each lead given once: the log counts each once, its chatter tells it once */
    json_t *rules = OK(admin, P("GetAssignmentRules"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_int_equal(count_of(rules, ann_id), KILL_LEADS / 2);
    assert_int_equal(count_of(rules, bob_id), KILL_LEADS / 2);
    json_decref(rules);
    char line[128];
    snprintf(line, sizeof line, "assigned by %s's assignment rules", team_name);
    for (int i = 0; i < KILL_LEADS; i += 37)
        assert_int_equal(chatter_lines(admin, leads[i], line), 1);
    /* a new key finds nothing left to give */
    r = OK(admin, P("AssignLeads"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_int_equal(json_array_size(json_object_get(r, "assigned")), 0);
    assert_int_equal(sys_jint(r, "leftUnassigned"), 0);
    json_decref(r);
}

static void test_kill_during_assign_then_retry(void **state)
{
    users();
    /* killed while the call is on its way or running (it takes some tens of
     * ms under ASan): the retry runs it */
    kill_round("Kill early", "assign-kill-1", 40000);
    /* killed after the answer: the retry is answered from the stored reply */
    kill_round("Kill late", "assign-kill-2", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin_and_maximum),
        cmocka_unit_test(test_auto_assign_on_create),
        cmocka_unit_test(test_inactive_and_removed_members_skipped),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_kill_during_assign_then_retry),
    };
    return cmocka_run_group_tests_name("assign", tests, setup, teardown);
}
