/* Archive, restore, delete and reopen of leads and customers; tags and lost
 * reasons renamed and deleted; the creator's defaults on new leads and
 * customers; archived teams. Through both doors (ZeroMQ with JSON through
 * the codec, Twirp JSON over HTTP), with what activities and notifications
 * learn of each through events. Real processes, real stores; one system
 * for the whole file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_store.h"
#include "harness.h"
#include "../../services/pipeline/pipeline.h" /* PIPELINE_SCHEMA: stores opened as today's program does */

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define I(m) "crm.identity.v1.Identity/" m
#define A(m) "crm.activities.v1.Activities/" m
#define N(m) "crm.notifications.v1.Notifications/" m

static sys_env_t *env;
static char *admin;
#define login_new_user(login, access, id) sys_new_sales_user(env, admin, login, login, access, id)

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* --- the HTTP door ---------------------------------------------------------------- */

/* A Twirp JSON call: the HTTP status, and the reply or Twirp error object
 * in *out (json_decref it). */
static int twirp(const char *token, const char *method, json_t **out, const char *fmt, ...)
{
    char body[4096], path[256], headers[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "/twirp/%s", method);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", token);
    char *reply = NULL;
    int status = sys_http(env, "POST", path, headers, body, strlen(body), &reply, NULL);
    json_error_t err;
    *out = reply ? json_loads(reply, 0, &err) : NULL;
    if (!*out)
        fail_msg("%s %s: HTTP %d, body not JSON: %.200s", method, body, status, reply ? reply : "(none)");
    free(reply);
    return status;
}

#define HTTP_OK(token, method, ...) http_ok(__LINE__, token, method, __VA_ARGS__)
#define HTTP_ERR(code, field, token, method, ...) http_err(__LINE__, code, field, token, method, __VA_ARGS__)

static json_t *http_ok(int line, const char *token, const char *method, const char *body)
{
    json_t *r;
    int status = twirp(token, method, &r, "%s", body);
    if (status != 200)
        fail_msg("line %d: %s %s: HTTP %d %s %s", line, method, body, status, sys_jstr(r, "code"), sys_jstr(r, "msg"));
    return r;
}

static void http_err(int line, const char *code, const char *field, const char *token, const char *method,
                     const char *body)
{
    json_t *r;
    int status = twirp(token, method, &r, "%s", body);
    if (status == 200 || strcmp(sys_jstr(r, "code"), code) || (field && strcmp(sys_jstr(r, "meta.field"), field)))
        fail_msg("line %d: %s %s: want %s on %s, got HTTP %d %s on %s (%s)", line, method, body, code,
                 field ? field : "any field", status, sys_jstr(r, "code"), sys_jstr(r, "meta.field"),
                 sys_jstr(r, "msg"));
    json_decref(r);
}

/* --- helpers ------------------------------------------------------------------------ */

static char *body_of(const char *fmt, ...)
{
    static char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

static int64_t new_team(const char *name, int64_t member)
{
    json_t *t = OK(admin, I("CreateTeam"), "{\"name\":\"%s\",\"memberIds\":[\"%lld\"]}", name, (long long)member);
    int64_t id = sys_jint(t, "id");
    json_decref(t);
    assert_true(id > 0);
    return id;
}

static int64_t new_lead(const char *token, const char *fmt, ...)
{
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    json_t *l = OK(token, P("CreateLead"), "%s", body);
    int64_t id = sys_jint(l, "id");
    json_decref(l);
    assert_true(id > 0);
    return id;
}

static int64_t stage_named(const char *token, int64_t team, const char *name)
{
    json_t *r = OK(token, P("ListStages"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_t *s;
    size_t i;
    int64_t id = 0;
    json_array_foreach(json_object_get(r, "stages"), i, s) if (!strcmp(sys_jstr(s, "name"), name)) id = sys_jint(s, "id");
    json_decref(r);
    assert_true(id > 0);
    return id;
}

static json_t *column(json_t *board, int64_t stage)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(board, "columns"), i, c) if (sys_jint(c, "stage.id") == stage) return c;
    return NULL;
}

static int has_id(json_t *list, int64_t id)
{
    json_t *x;
    size_t i;
    json_array_foreach(list, i, x) if (sys_jint(x, "id") == id) return 1;
    return 0;
}

static int64_t total_of(json_t *o, const char *currency, const char *field)
{
    json_t *t;
    size_t i;
    json_array_foreach(json_object_get(o, "totals"), i, t) if (!strcmp(sys_jstr(t, "currency"), currency)) return sys_jint(t, field);
    return -1;
}

/* Whether doc's chatter (as token) has a message whose body holds text. */
static int chatter_has(const char *token, const char *model, int64_t id, const char *text)
{
    json_t *r = OK(token, A("ListMessages"), "{\"doc\":{\"model\":\"%s\",\"id\":\"%lld\"}}", model, (long long)id);
    json_t *m;
    size_t i;
    int found = 0;
    json_array_foreach(json_object_get(r, "messages"), i, m) found |= strstr(sys_jstr(m, "body"), text) != NULL;
    json_decref(r);
    return found;
}

/* Waits up to 5 s for an inbox entry of token's user on the lead whose
 * summary holds text, with subtype; 1 if it came. */
static int inbox_has(const char *token, int64_t lead, const char *subtype, const char *text)
{
    for (int64_t end = sys_now_ms() + 5000; sys_now_ms() < end; usleep(50000)) {
        json_t *r = OK(token, N("ListInbox"), "{\"pageSize\":100}");
        json_t *e;
        size_t i;
        int found = 0;
        json_array_foreach(json_object_get(r, "notifications"), i, e) found |=
            sys_jint(e, "doc.id") == lead && !strcmp(sys_jstr(e, "subtype"), subtype) &&
            strstr(sys_jstr(e, "summary"), text) != NULL;
        json_decref(r);
        if (found)
            return 1;
    }
    return 0;
}

/* How many follower records notifications keeps for documents (model
 * byte, a) and (model, b), read from its store with the service stopped,
 * then started again. */
#define CRM_DOC_LEAD_MODEL 1
#define NOTIFICATIONS_SCHEMA_TODAY 2 /* NOTIFICATIONS_SCHEMA, services/notifications/notifications.h */
static int64_t count_prefix(MDB_txn *txn, MDB_dbi dbi, int model, int64_t id)
{
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    uint8_t prefix[9];
    prefix[0] = (uint8_t)model;
    crm_key_put_u64(prefix + 1, (uint64_t)id);
    MDB_val k = {sizeof prefix, prefix}, d;
    int64_t n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && !memcmp(k.mv_data, prefix, sizeof prefix);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        n++;
    mdb_cursor_close(cur);
    return n;
}

static void followers_in_store(int model, int64_t a, int64_t *na, int64_t b, int64_t *nb)
{
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/notifications", env->dir);
    const char *err;
    MDB_dbi followers;
    const crm_store_dbi_t dbis[] = {{"followers", 0, &followers}};
    crm_store_t *store = crm_store_open(dir, dbis, 1, NOTIFICATIONS_SCHEMA_TODAY, 0, &err);
    assert_non_null(store);
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(store, &txn), 0);
    *na = count_prefix(txn, followers, model, a);
    *nb = count_prefix(txn, followers, model, b);
    crm_store_read_end(store, txn);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
}

/* --- defaults ------------------------------------------------------------------------ */

static void test_defaults_and_archived_teams(void **state)
{
    int64_t sam_id;
    char *sam = login_new_user("sam", "SALES_ACCESS_ALL_LEADS", &sam_id);
    int64_t north = new_team("North", sam_id), south = new_team("South", sam_id);

    /* no default team chosen: the first of theirs */
    json_t *l = OK(sam, P("CreateLead"), "{\"name\":\"First team\"}");
    assert_int_equal(sys_jint(l, "salespersonId"), sam_id);
    assert_string_equal(sys_jstr(l, "assignedBy"), "default");
    assert_int_equal(sys_jint(l, "teamId"), north);
    json_decref(l);

    /* a user sets their own default team, and only that */
    json_t *u = OK(sam, I("UpdateUser"), "{\"id\":\"%lld\",\"defaultTeamId\":\"%lld\",\"updateMask\":\"defaultTeamId\"}",
                   (long long)sam_id, (long long)south);
    assert_int_equal(sys_jint(u, "defaultTeamId"), south);
    json_decref(u);
    ERR(CODE(PERMISSION_DENIED), NULL, sam, I("UpdateUser"),
        "{\"id\":\"%lld\",\"name\":\"Sam X\",\"defaultTeamId\":\"%lld\",\"updateMask\":\"name,defaultTeamId\"}",
        (long long)sam_id, (long long)south);
    ERR(CODE(PERMISSION_DENIED), NULL, sam, I("UpdateUser"), "{\"id\":\"1\",\"defaultTeamId\":\"0\",\"updateMask\":\"defaultTeamId\"}");
    int64_t other = new_team("Elsewhere", 1);
    ERR(CODE(INVALID_ARGUMENT), "defaultTeamId", sam, I("UpdateUser"),
        "{\"id\":\"%lld\",\"defaultTeamId\":\"%lld\",\"updateMask\":\"defaultTeamId\"}", (long long)sam_id, (long long)other);
    HTTP_ERR("invalid_argument", "defaultTeamId", sam, I("UpdateUser"),
             body_of("{\"id\":\"%lld\",\"defaultTeamId\":\"999999\",\"updateMask\":\"defaultTeamId\"}", (long long)sam_id));

    /* both doors: the creator's lead in their default team */
    l = HTTP_OK(sam, P("CreateLead"), "{\"name\":\"Default team\"}");
    assert_int_equal(sys_jint(l, "salespersonId"), sam_id);
    assert_int_equal(sys_jint(l, "teamId"), south);
    assert_string_equal(sys_jstr(l, "assignedBy"), "default");
    json_decref(l);
    /* unassigned: nobody's, in the creator's default team */
    l = OK(sam, P("CreateLead"), "{\"name\":\"Nobody's\",\"unassigned\":true}");
    assert_int_equal(sys_jint(l, "salespersonId"), 0);
    assert_int_equal(sys_jint(l, "teamId"), south);
    assert_string_equal(sys_jstr(l, "assignedBy"), "");
    json_decref(l);
    /* a named salesperson's default team, not the creator's */
    l = OK(admin, P("CreateLead"), "{\"name\":\"For Sam\",\"salespersonId\":\"%lld\"}", (long long)sam_id);
    assert_int_equal(sys_jint(l, "teamId"), south);
    assert_string_equal(sys_jstr(l, "assignedBy"), "");
    json_decref(l);
    ERR(CODE(INVALID_ARGUMENT), "unassigned", sam, P("CreateLead"),
        "{\"name\":\"Both\",\"unassigned\":true,\"salespersonId\":\"%lld\"}", (long long)sam_id);
    HTTP_ERR("invalid_argument", "unassigned", sam, P("CreateLead"),
             body_of("{\"name\":\"Both\",\"unassigned\":true,\"salespersonId\":\"%lld\"}", (long long)sam_id));
    /* a customer made by a salesperson is theirs, in their default team */
    json_t *c = HTTP_OK(sam, P("CreateCustomer"), "{\"name\":\"Sam's client\",\"isCompany\":true}");
    assert_int_equal(sys_jint(c, "salespersonId"), sam_id);
    assert_int_equal(sys_jint(c, "teamId"), south);
    json_decref(c);

    /* leaving the team clears the default, in the same transaction */
    int64_t kept = new_lead(admin, "{\"name\":\"Stays south\",\"teamId\":\"%lld\"}", (long long)south);
    json_decref(OK(admin, I("UpdateTeam"), "{\"id\":\"%lld\",\"memberIds\":[],\"updateMask\":\"memberIds\"}", (long long)south));
    u = OK(admin, I("GetUser"), "{\"id\":\"%lld\"}", (long long)sam_id);
    assert_int_equal(sys_jint(u, "defaultTeamId"), 0);
    json_decref(u);
    json_decref(OK(admin, I("UpdateTeam"), "{\"id\":\"%lld\",\"memberIds\":[\"%lld\"],\"updateMask\":\"memberIds\"}",
                   (long long)south, (long long)sam_id));

    /* archived teams: managers only; out of ListTeams unless asked for */
    ERR(CODE(PERMISSION_DENIED), NULL, sam, I("UpdateTeam"), "{\"id\":\"%lld\",\"archived\":true,\"updateMask\":\"archived\"}",
        (long long)north);
    json_t *t = HTTP_OK(admin, I("UpdateTeam"), body_of("{\"id\":\"%lld\",\"archived\":true,\"updateMask\":\"archived\"}", (long long)north));
    assert_true(json_is_true(json_object_get(t, "archived")));
    json_decref(t);
    json_t *teams = OK(admin, I("ListTeams"), "{}");
    assert_false(has_id(json_object_get(teams, "teams"), north));
    assert_true(has_id(json_object_get(teams, "teams"), south));
    json_decref(teams);
    teams = OK(admin, I("ListTeams"), "{\"includeArchived\":true}");
    assert_true(has_id(json_object_get(teams, "teams"), north));
    json_decref(teams);
    /* it takes no new leads or customers; those it has keep it */
    ERR(CODE(FAILED_PRECONDITION), "teamId", admin, P("CreateLead"), "{\"name\":\"Late\",\"teamId\":\"%lld\"}", (long long)north);
    HTTP_ERR("failed_precondition", "teamId", admin, P("CreateCustomer"),
             body_of("{\"name\":\"Late Co\",\"teamId\":\"%lld\"}", (long long)north));
    ERR(CODE(FAILED_PRECONDITION), "teamId", admin, P("UpdateLead"),
        "{\"id\":\"%lld\",\"teamId\":\"%lld\",\"updateMask\":\"teamId\"}", (long long)kept, (long long)north);
    /* an archived default is passed over for the user's next team; sam's
     * session holds no mark of the admin's write: wait for the read model */
    json_decref(OK(sam, I("UpdateUser"), "{\"id\":\"%lld\",\"defaultTeamId\":\"%lld\",\"updateMask\":\"defaultTeamId\"}",
                   (long long)sam_id, (long long)north));
    int64_t team = 0;
    for (int64_t end = sys_now_ms() + 5000; sys_now_ms() < end && team != south; usleep(50000)) {
        l = OK(sam, P("CreateLead"), "{\"name\":\"Skips archived\"}");
        team = sys_jint(l, "teamId");
        json_decref(l);
    }
    assert_int_equal(team, south);
    free(sam);
}

/* --- archive and restore ---------------------------------------------------------------- */

static void test_archive_restore_lead(void **state)
{
    int64_t ann_id;
    char *ann = login_new_user("ann", "SALES_ACCESS_ALL_LEADS", &ann_id);
    int64_t team = new_team("Archivists", ann_id);
    int64_t keep = new_lead(admin, "{\"type\":2,\"name\":\"Kept\",\"teamId\":\"%lld\",\"expectedRevenue\":\"1000\",\"currency\":\"EUR\",\"probability\":50,\"salespersonId\":\"%lld\"}",
                            (long long)team, (long long)ann_id);
    int64_t gone = new_lead(admin, "{\"type\":2,\"name\":\"Shelved\",\"teamId\":\"%lld\",\"expectedRevenue\":\"500\",\"currency\":\"USD\",\"probability\":20,\"salespersonId\":\"%lld\"}",
                            (long long)team, (long long)ann_id);
    json_t *g = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)gone);
    int64_t stage = sys_jint(g, "stageId");
    json_decref(g);

    /* mixed currencies: one total each, never one sum (grouped, no conversion) */
    json_t *b = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_t *col = column(b, stage);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 0);
    assert_int_equal(total_of(col, "EUR", "expectedRevenue"), 1000);
    assert_int_equal(total_of(col, "USD", "expectedRevenue"), 500);
    int64_t version = sys_jint(b, "version");
    json_decref(b);
    json_t *rep = OK(admin, P("PipelineReport"), "{\"groupBy\":\"GROUP_BY_TEAM\",\"teamId\":\"%lld\"}", (long long)team);
    json_t *row = json_array_get(json_object_get(rep, "rows"), 0);
    assert_int_equal(sys_jint(row, "count"), 2);
    assert_int_equal(sys_jint(row, "expectedRevenue"), 0);
    assert_int_equal(total_of(row, "USD", "expectedRevenue"), 500);
    json_decref(rep);

    /* archived: off the board, its totals and the report, in one write */
    json_t *l = OK(ann, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)gone);
    assert_true(json_is_true(json_object_get(l, "archived")));
    json_decref(l);
    ERR(CODE(FAILED_PRECONDITION), "id", ann, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)gone);
    b = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_true(sys_jint(b, "version") > version);
    col = column(b, stage);
    assert_int_equal(sys_jint(col, "count"), 1);
    assert_false(has_id(json_object_get(col, "leads"), gone));
    assert_int_equal(sys_jint(col, "expectedRevenue"), 1000); /* one currency again: one sum again */
    assert_int_equal(total_of(col, "USD", "count"), -1);
    json_decref(b);
    b = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\",\"query\":\"e\"}", (long long)team);
    assert_int_equal(sys_jint(column(b, stage), "count"), 1);
    json_decref(b);
    rep = OK(admin, P("PipelineReport"), "{\"groupBy\":\"GROUP_BY_TEAM\",\"teamId\":\"%lld\"}", (long long)team);
    row = json_array_get(json_object_get(rep, "rows"), 0);
    assert_int_equal(sys_jint(row, "count"), 1);
    assert_int_equal(total_of(row, "USD", "count"), -1);
    json_decref(rep);
    /* out of lists unless asked for; GetLead still gives it */
    json_t *list = OK(ann, P("ListLeads"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_false(has_id(json_object_get(list, "leads"), gone));
    assert_true(has_id(json_object_get(list, "leads"), keep));
    json_decref(list);
    list = HTTP_OK(ann, P("ListLeads"), body_of("{\"teamId\":\"%lld\",\"archived\":\"ARCHIVE_FILTER_ARCHIVED\"}", (long long)team));
    assert_true(has_id(json_object_get(list, "leads"), gone));
    assert_false(has_id(json_object_get(list, "leads"), keep));
    json_decref(list);
    list = OK(ann, P("ListLeads"), "{\"salespersonId\":\"%lld\",\"archived\":\"ARCHIVE_FILTER_ALL\"}", (long long)ann_id);
    assert_true(has_id(json_object_get(list, "leads"), gone) && has_id(json_object_get(list, "leads"), keep));
    json_decref(list);
    ERR(CODE(INVALID_ARGUMENT), "archived", ann, P("ListLeads"), "{\"archived\":9}");
    l = HTTP_OK(ann, P("GetLead"), body_of("{\"id\":\"%lld\"}", (long long)gone));
    assert_true(json_is_true(json_object_get(l, "archived")));
    json_decref(l);
    /* the chatter is kept and says so */
    assert_true(chatter_has(ann, "lead", gone, "Archived"));

    /* restored through the other door, by someone else: back on the board */
    l = HTTP_OK(admin, P("RestoreLead"), body_of("{\"id\":\"%lld\"}", (long long)gone));
    assert_false(json_is_true(json_object_get(l, "archived")));
    json_decref(l);
    HTTP_ERR("failed_precondition", "id", admin, P("RestoreLead"), body_of("{\"id\":\"%lld\"}", (long long)gone));
    b = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    col = column(b, stage);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_true(has_id(json_object_get(col, "leads"), gone));
    assert_int_equal(total_of(col, "USD", "expectedRevenue"), 500);
    json_decref(b);
    assert_true(chatter_has(admin, "lead", gone, "Restored"));
    /* the salesperson follows the lead: told of it, as of every change of status */
    assert_true(inbox_has(ann, gone, "SUBTYPE_STATUS_CHANGED", "restored"));

    /* bad input names its field */
    ERR(CODE(NOT_FOUND), "id", ann, P("ArchiveLead"), "{\"id\":\"999999\"}");
    HTTP_ERR("not_found", "id", ann, P("RestoreLead"), "{\"id\":\"0\"}");
    HTTP_ERR("invalid_argument", NULL, ann, P("ArchiveLead"), "{\"id\":\"x\"}");
    free(ann);
}

static void test_archive_restore_customer(void **state)
{
    int64_t cy_id, own_id;
    char *cy = login_new_user("cy", "SALES_ACCESS_ALL_LEADS", &cy_id);
    char *own = login_new_user("owen", "SALES_ACCESS_OWN_LEADS", &own_id);
    json_t *c = OK(cy, P("CreateCustomer"), "{\"name\":\"Dusty Ltd\",\"isCompany\":true}");
    int64_t id = sys_jint(c, "id");
    json_decref(c);
    /* own-leads users change only their own and nobody's customers */
    ERR(CODE(PERMISSION_DENIED), "id", own, P("ArchiveCustomer"), "{\"id\":\"%lld\"}", (long long)id);
    c = OK(cy, P("ArchiveCustomer"), "{\"id\":\"%lld\"}", (long long)id);
    assert_true(json_is_true(json_object_get(c, "archived")));
    json_decref(c);
    ERR(CODE(FAILED_PRECONDITION), "id", cy, P("ArchiveCustomer"), "{\"id\":\"%lld\"}", (long long)id);
    json_t *list = OK(cy, P("ListCustomers"), "{\"pageSize\":500}");
    assert_false(has_id(json_object_get(list, "customers"), id));
    json_decref(list);
    list = HTTP_OK(cy, P("ListCustomers"), "{\"pageSize\":500,\"archived\":\"ARCHIVE_FILTER_ARCHIVED\"}");
    assert_true(has_id(json_object_get(list, "customers"), id));
    json_decref(list);
    HTTP_ERR("invalid_argument", "archived", cy, P("ListCustomers"), "{\"archived\":7}");
    c = HTTP_OK(cy, P("GetCustomer"), body_of("{\"id\":\"%lld\"}", (long long)id));
    assert_true(json_is_true(json_object_get(c, "archived")));
    json_decref(c);
    assert_true(chatter_has(cy, "customer", id, "Archived"));
    c = HTTP_OK(cy, P("RestoreCustomer"), body_of("{\"id\":\"%lld\"}", (long long)id));
    assert_false(json_is_true(json_object_get(c, "archived")));
    json_decref(c);
    assert_true(chatter_has(cy, "customer", id, "Restored"));
    HTTP_ERR("not_found", "id", cy, P("ArchiveCustomer"), "{\"id\":\"999999\"}");
    /* an own-leads user's own customer is theirs to archive */
    c = OK(own, P("CreateCustomer"), "{\"name\":\"Owen's\"}");
    assert_int_equal(sys_jint(c, "salespersonId"), own_id);
    int64_t mine = sys_jint(c, "id");
    json_decref(c);
    json_decref(OK(own, P("ArchiveCustomer"), "{\"id\":\"%lld\"}", (long long)mine));
    free(cy);
    free(own);
}

/* --- reopen ------------------------------------------------------------------------------ */

static void test_reopen(void **state)
{
    int64_t rae_id;
    char *rae = login_new_user("rae", "SALES_ACCESS_ALL_LEADS", &rae_id);
    json_t *reason = OK(admin, P("CreateLostReason"), "{\"name\":\"Too dear\"}");
    int64_t reason_id = sys_jint(reason, "id");
    json_decref(reason);
    int64_t lead = new_lead(admin, "{\"type\":2,\"name\":\"Comeback\",\"salespersonId\":\"%lld\"}", (long long)rae_id);
    ERR(CODE(FAILED_PRECONDITION), "id", rae, P("ReopenLead"), "{\"id\":\"%lld\"}", (long long)lead);
    json_decref(OK(admin, P("MarkLost"), "{\"id\":\"%lld\",\"lostReasonId\":\"%lld\"}", (long long)lead, (long long)reason_id));
    /* a lost reason in use is not deleted */
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteLostReason"), "{\"id\":\"%lld\"}", (long long)reason_id);

    json_t *l = OK(admin, P("ReopenLead"), "{\"id\":\"%lld\"}", (long long)lead);
    assert_int_equal(sys_jint(l, "stageId"), stage_named(admin, 0, "New"));
    assert_string_not_equal(sys_jstr(l, "status"), "LEAD_STATUS_LOST");
    assert_int_equal(sys_jint(l, "lostReasonId"), 0);
    assert_int_equal(sys_jint(l, "closedAt"), 0);
    json_decref(l);
    assert_true(chatter_has(admin, "lead", lead, "Reopened"));
    assert_true(inbox_has(rae, lead, "SUBTYPE_STATUS_CHANGED", "reopened"));
    /* no lead uses the reason now */
    json_decref(HTTP_OK(admin, P("DeleteLostReason"), body_of("{\"id\":\"%lld\"}", (long long)reason_id)));
    json_t *reasons = OK(admin, P("ListLostReasons"), "{}");
    assert_false(has_id(json_object_get(reasons, "lostReasons"), reason_id));
    json_decref(reasons);

    /* won, reopened into a named stage through HTTP */
    json_decref(OK(rae, P("MarkWon"), "{\"id\":\"%lld\"}", (long long)lead));
    int64_t proposition = stage_named(admin, 0, "Proposition");
    HTTP_ERR("invalid_argument", "stageId", rae, P("ReopenLead"),
             body_of("{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)lead, (long long)stage_named(admin, 0, "Won")));
    HTTP_ERR("not_found", "stageId", rae, P("ReopenLead"), body_of("{\"id\":\"%lld\",\"stageId\":\"999999\"}", (long long)lead));
    l = HTTP_OK(rae, P("ReopenLead"), body_of("{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)lead, (long long)proposition));
    assert_int_equal(sys_jint(l, "stageId"), proposition);
    assert_string_equal(sys_jstr(l, "status"), "LEAD_STATUS_IN_PROGRESS");
    json_decref(l);
    HTTP_ERR("failed_precondition", "id", rae, P("ReopenLead"), body_of("{\"id\":\"%lld\"}", (long long)lead));
    HTTP_ERR("not_found", "id", rae, P("ReopenLead"), "{\"id\":\"999999\"}");
    free(rae);
}

/* --- delete ------------------------------------------------------------------------------ */

static void test_delete(void **state)
{
    int64_t dee_id;
    char *dee = login_new_user("dee", "SALES_ACCESS_ALL_LEADS", &dee_id);
    int64_t team = new_team("Deleters", dee_id);
    json_t *c = OK(admin, P("CreateCustomer"), "{\"name\":\"Parent Co\",\"isCompany\":true}");
    int64_t parent = sys_jint(c, "id");
    json_decref(c);
    c = OK(admin, P("CreateCustomer"), "{\"name\":\"Kid\",\"parentId\":\"%lld\"}", (long long)parent);
    int64_t contact = sys_jint(c, "id");
    json_decref(c);
    int64_t lead = new_lead(admin, "{\"type\":2,\"name\":\"Doomed\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\",\"customerId\":\"%lld\",\"expectedRevenue\":\"70\"}",
                            (long long)team, (long long)dee_id, (long long)contact);
    json_t *g = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)lead);
    int64_t stage = sys_jint(g, "stageId");
    json_decref(g);
    json_decref(OK(dee, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"a note\"}",
                   (long long)lead));

    /* managers only (OpenERP's rule) */
    ERR(CODE(PERMISSION_DENIED), NULL, dee, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)lead);
    HTTP_ERR("permission_denied", NULL, dee, P("DeleteCustomer"), body_of("{\"id\":\"%lld\"}", (long long)parent));
    /* in use: refused, saying why */
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteCustomer"), "{\"id\":\"%lld\"}", (long long)parent); /* a contact */
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteCustomer"), "{\"id\":\"%lld\"}", (long long)contact); /* a lead */
    int64_t quoted = new_lead(admin, "{\"type\":2,\"name\":\"Quoted\",\"customerId\":\"%lld\"}", (long long)parent);
    json_t *q = OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)quoted);
    json_decref(q);
    crm_status_t st;
    json_t *refused = sys_jcall(env, P("DeleteLead"), admin, &st, "{\"id\":\"%lld\"}", (long long)quoted);
    assert_null(refused);
    assert_int_equal(st.code, CODE(FAILED_PRECONDITION));
    assert_string_equal(st.field, "id");
    assert_non_null(strstr(st.message, "1 quotation"));

    /* the lead goes, with its card, its totals and its chatter */
    json_decref(OK(admin, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)lead));
    ERR(CODE(NOT_FOUND), "id", admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)lead);
    ERR(CODE(NOT_FOUND), "id", admin, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)lead);
    json_t *b = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_t *col = column(b, stage);
    assert_true(!col || sys_jint(col, "count") == 0);
    json_decref(b);
    json_t *list = OK(admin, P("ListLeads"), "{\"customerId\":\"%lld\",\"archived\":\"ARCHIVE_FILTER_ALL\"}", (long long)contact);
    assert_int_equal(json_array_size(json_object_get(list, "leads")), 0);
    json_decref(list);
    ERR(CODE(NOT_FOUND), "doc.id", admin, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    ERR(CODE(NOT_FOUND), "doc.id", admin, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    /* its followers are gone from notifications' store, not only hidden */
    int64_t kept_followers, gone_followers;
    followers_in_store(CRM_DOC_LEAD_MODEL, quoted, &kept_followers, lead, &gone_followers);
    assert_true(kept_followers > 0); /* its creator follows the lead that stays */
    assert_int_equal(gone_followers, 0);

    /* the contact, unused now, goes; then its company still has a quotation */
    json_decref(HTTP_OK(admin, P("DeleteCustomer"), body_of("{\"id\":\"%lld\"}", (long long)contact)));
    HTTP_ERR("not_found", "id", admin, P("GetCustomer"), body_of("{\"id\":\"%lld\"}", (long long)contact));
    ERR(CODE(NOT_FOUND), "doc.id", admin, A("ListMessages"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"}}", (long long)contact);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"0\",\"updateMask\":\"customerId\"}", (long long)quoted));
    json_t *why = NULL;
    assert_int_not_equal(twirp(admin, P("DeleteCustomer"), &why, "{\"id\":\"%lld\"}", (long long)parent), 200);
    assert_non_null(strstr(sys_jstr(why, "msg"), "1 quotation"));
    json_decref(why);
    HTTP_ERR("not_found", "id", admin, P("DeleteCustomer"), "{\"id\":\"999999\"}");
    /* a customer with nothing is deleted */
    c = OK(admin, P("CreateCustomer"), "{\"name\":\"Lonely\"}");
    int64_t lonely = sys_jint(c, "id");
    json_decref(c);
    json_decref(OK(admin, P("DeleteCustomer"), "{\"id\":\"%lld\"}", (long long)lonely));
    list = OK(admin, P("ListCustomers"), "{\"pageSize\":500,\"archived\":\"ARCHIVE_FILTER_ALL\"}");
    assert_false(has_id(json_object_get(list, "customers"), lonely));
    json_decref(list);
    free(dee);
}

/* --- own-leads access on every new method ---------------------------------------------- */

static void test_own_leads_access(void **state)
{
    int64_t mine_id, theirs_id;
    char *mine = login_new_user("olly", "SALES_ACCESS_OWN_LEADS", &mine_id);
    char *theirs = login_new_user("tess", "SALES_ACCESS_ALL_LEADS", &theirs_id);
    int64_t other = new_lead(admin, "{\"type\":2,\"name\":\"Tess's\",\"salespersonId\":\"%lld\"}", (long long)theirs_id);
    int64_t lost = new_lead(admin, "{\"type\":2,\"name\":\"Tess's lost\",\"salespersonId\":\"%lld\"}", (long long)theirs_id);
    json_decref(OK(admin, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)lost));
    json_decref(OK(admin, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)lost));
    /* another salesperson's lead is as unknown as none, at both doors */
    ERR(CODE(NOT_FOUND), "id", mine, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)other);
    ERR(CODE(NOT_FOUND), "id", mine, P("RestoreLead"), "{\"id\":\"%lld\"}", (long long)lost);
    ERR(CODE(NOT_FOUND), "id", mine, P("ReopenLead"), "{\"id\":\"%lld\"}", (long long)lost);
    HTTP_ERR("not_found", "id", mine, P("ArchiveLead"), body_of("{\"id\":\"%lld\"}", (long long)other));
    HTTP_ERR("not_found", "id", mine, P("RestoreLead"), body_of("{\"id\":\"%lld\"}", (long long)lost));
    HTTP_ERR("not_found", "id", mine, P("ReopenLead"), body_of("{\"id\":\"%lld\"}", (long long)lost));
    json_t *l = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)other);
    assert_false(json_is_true(json_object_get(l, "archived")));
    json_decref(l);
    /* listing archived leads shows no one else's */
    json_t *list = OK(mine, P("ListLeads"), "{\"archived\":\"ARCHIVE_FILTER_ALL\"}");
    assert_false(has_id(json_object_get(list, "leads"), lost) || has_id(json_object_get(list, "leads"), other));
    json_decref(list);
    /* deleting is a manager's, whosever the lead */
    int64_t own = new_lead(mine, "{\"type\":2,\"name\":\"Olly's\"}");
    ERR(CODE(PERMISSION_DENIED), NULL, mine, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)own);
    ERR(CODE(PERMISSION_DENIED), NULL, mine, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)other);
    /* their own and unassigned leads they archive, restore and reopen */
    int64_t nobody = new_lead(mine, "{\"type\":2,\"name\":\"Nobody's\",\"unassigned\":true}");
    json_decref(OK(mine, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)own));
    json_decref(HTTP_OK(mine, P("RestoreLead"), body_of("{\"id\":\"%lld\"}", (long long)own)));
    json_decref(OK(mine, P("MarkWon"), "{\"id\":\"%lld\"}", (long long)nobody));
    json_decref(OK(mine, P("ReopenLead"), "{\"id\":\"%lld\"}", (long long)nobody));
    /* tags and lost reasons are a manager's */
    json_t *t = OK(admin, P("CreateTag"), "{\"name\":\"Guarded\"}");
    int64_t tag = sys_jint(t, "id");
    json_decref(t);
    ERR(CODE(PERMISSION_DENIED), NULL, mine, P("UpdateTag"), "{\"id\":\"%lld\",\"name\":\"x\"}", (long long)tag);
    ERR(CODE(PERMISSION_DENIED), NULL, theirs, P("DeleteTag"), "{\"id\":\"%lld\"}", (long long)tag);
    HTTP_ERR("permission_denied", NULL, mine, P("UpdateLostReason"), "{\"id\":\"1\",\"name\":\"x\"}");
    HTTP_ERR("permission_denied", NULL, theirs, P("DeleteLostReason"), "{\"id\":\"1\"}");
    HTTP_ERR("permission_denied", NULL, mine, P("DeleteCustomer"), "{\"id\":\"1\"}");
    free(mine);
    free(theirs);
}

/* --- tags and lost reasons ---------------------------------------------------------------- */

static void test_tags_and_lost_reasons(void **state)
{
    json_t *t = OK(admin, P("CreateTag"), "{\"name\":\"Hot\"}");
    int64_t hot = sys_jint(t, "id");
    json_decref(t);
    t = OK(admin, P("CreateTag"), "{\"name\":\"Cold\"}");
    int64_t cold = sys_jint(t, "id");
    json_decref(t);
    ERR(CODE(ALREADY_EXISTS), "name", admin, P("CreateTag"), "{\"name\":\"hot\"}");
    int64_t lead = new_lead(admin, "{\"type\":2,\"name\":\"Tagged\",\"tagIds\":[\"%lld\"]}", (long long)hot);
    json_t *b = OK(admin, P("GetPipeline"), "{}");
    int64_t version = sys_jint(b, "version");
    json_decref(b);

    /* renamed: unique as CreateTag keeps it, case aside; boards reload */
    t = OK(admin, P("UpdateTag"), "{\"id\":\"%lld\",\"name\":\"Very hot\"}", (long long)hot);
    assert_string_equal(sys_jstr(t, "name"), "Very hot");
    json_decref(t);
    b = OK(admin, P("GetPipeline"), "{}");
    assert_true(sys_jint(b, "version") > version);
    json_decref(b);
    ERR(CODE(ALREADY_EXISTS), "name", admin, P("UpdateTag"), "{\"id\":\"%lld\",\"name\":\"COLD\"}", (long long)hot);
    HTTP_ERR("invalid_argument", "name", admin, P("UpdateTag"), body_of("{\"id\":\"%lld\",\"name\":\"\"}", (long long)hot));
    HTTP_ERR("not_found", "id", admin, P("UpdateTag"), "{\"id\":\"999999\",\"name\":\"x\"}");
    t = HTTP_OK(admin, P("UpdateTag"), body_of("{\"id\":\"%lld\",\"name\":\"Hottest\"}", (long long)hot));
    assert_string_equal(sys_jstr(t, "name"), "Hottest");
    json_decref(t);
    json_t *tags = OK(admin, P("ListTags"), "{}");
    json_t *x;
    size_t i;
    int renamed = 0;
    json_array_foreach(json_object_get(tags, "tags"), i, x) renamed |= sys_jint(x, "id") == hot && !strcmp(sys_jstr(x, "name"), "Hottest");
    json_decref(tags);
    assert_true(renamed);

    /* deleted only where no lead uses it, saying how many do */
    crm_status_t st;
    assert_null(sys_jcall(env, P("DeleteTag"), admin, &st, "{\"id\":\"%lld\"}", (long long)hot));
    assert_int_equal(st.code, CODE(FAILED_PRECONDITION));
    assert_string_equal(st.field, "id");
    assert_non_null(strstr(st.message, "1 lead"));
    /* an archived lead still holds it */
    json_decref(OK(admin, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)lead));
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteTag"), "{\"id\":\"%lld\"}", (long long)hot);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"tagIds\":[],\"updateMask\":\"tagIds\"}", (long long)lead));
    json_decref(HTTP_OK(admin, P("DeleteTag"), body_of("{\"id\":\"%lld\"}", (long long)hot)));
    json_decref(OK(admin, P("DeleteTag"), "{\"id\":\"%lld\"}", (long long)cold));
    ERR(CODE(NOT_FOUND), "id", admin, P("DeleteTag"), "{\"id\":\"%lld\"}", (long long)cold);
    ERR(CODE(NOT_FOUND), "tagIds", admin, P("UpdateLead"), "{\"id\":\"%lld\",\"tagIds\":[\"%lld\"],\"updateMask\":\"tagIds\"}",
        (long long)lead, (long long)cold);

    /* lost reasons the same way */
    json_t *r = OK(admin, P("CreateLostReason"), "{\"name\":\"Budget\"}");
    int64_t budget = sys_jint(r, "id");
    json_decref(r);
    json_decref(OK(admin, P("CreateLostReason"), "{\"name\":\"Timing\"}"));
    r = HTTP_OK(admin, P("UpdateLostReason"), body_of("{\"id\":\"%lld\",\"name\":\"No budget\"}", (long long)budget));
    assert_string_equal(sys_jstr(r, "name"), "No budget");
    json_decref(r);
    ERR(CODE(ALREADY_EXISTS), "name", admin, P("UpdateLostReason"), "{\"id\":\"%lld\",\"name\":\"timing\"}", (long long)budget);
    ERR(CODE(NOT_FOUND), "id", admin, P("UpdateLostReason"), "{\"id\":\"999999\",\"name\":\"x\"}");
    HTTP_ERR("invalid_argument", "name", admin, P("UpdateLostReason"), body_of("{\"id\":\"%lld\",\"name\":\"\"}", (long long)budget));
    int64_t lost = new_lead(admin, "{\"type\":2,\"name\":\"Lost one\"}");
    json_decref(OK(admin, P("MarkLost"), "{\"id\":\"%lld\",\"lostReasonId\":\"%lld\"}", (long long)lost, (long long)budget));
    HTTP_ERR("failed_precondition", "id", admin, P("DeleteLostReason"), body_of("{\"id\":\"%lld\"}", (long long)budget));
    /* a deleted lead no longer uses it */
    json_decref(OK(admin, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)lost));
    json_decref(OK(admin, P("DeleteLostReason"), "{\"id\":\"%lld\"}", (long long)budget));
    HTTP_ERR("not_found", "id", admin, P("DeleteLostReason"), body_of("{\"id\":\"%lld\"}", (long long)budget));
}

/* --- idempotency keys on the new writes ------------------------------------------------------ */

static void test_idempotent_archive(void **state)
{
    int64_t lead = new_lead(admin, "{\"type\":2,\"name\":\"Twice\"}");
    char headers[512], path[128], *out = NULL;
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: arch-1\r\n", admin);
    snprintf(path, sizeof path, "/twirp/%s", P("ArchiveLead"));
    const char *body = body_of("{\"id\":\"%lld\"}", (long long)lead);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", body);
    assert_int_equal(sys_http(env, "POST", path, headers, copy, strlen(copy), &out, NULL), 200);
    free(out);
    /* the retry is answered again, not refused as already archived */
    assert_int_equal(sys_http(env, "POST", path, headers, copy, strlen(copy), &out, NULL), 200);
    free(out);
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)lead);
}

/* --- schema 4: the indexes a delete reads, built for older stores ------------------------- */

/* Empties what schema 4 added and stamps the store as schema 3's. */
static int as_schema3(MDB_txn *txn, void *arg)
{
    static const char *const added[] = {"by_lost_reason", "by_parent", "quotes_by_customer"};
    for (size_t i = 0; i < 3; i++) {
        MDB_dbi dbi;
        int rc = mdb_dbi_open(txn, added[i], 0, &dbi);
        if (rc || (rc = mdb_drop(txn, dbi, 0)) != 0)
            return rc;
    }
    return crm_store_meta_put_u64(arg, txn, "schema_version", PIPELINE_SCHEMA_ARCHIVE - 1);
}

static void test_upgrade_to_schema4(void **state)
{
    json_t *r = OK(admin, P("CreateLostReason"), "{\"name\":\"Before the upgrade\"}");
    int64_t reason = sys_jint(r, "id");
    json_decref(r);
    json_t *c = OK(admin, P("CreateCustomer"), "{\"name\":\"Old Co\",\"isCompany\":true}");
    int64_t company = sys_jint(c, "id");
    json_decref(c);
    json_decref(OK(admin, P("CreateCustomer"), "{\"name\":\"Old contact\",\"parentId\":\"%lld\"}", (long long)company));
    c = OK(admin, P("CreateCustomer"), "{\"name\":\"Quoted Co\",\"isCompany\":true}");
    int64_t quoted = sys_jint(c, "id");
    json_decref(c);
    int64_t lead = new_lead(admin, "{\"type\":2,\"name\":\"Old deal\",\"customerId\":\"%lld\"}", (long long)quoted);
    json_decref(OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)lead));
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"0\",\"updateMask\":\"customerId\"}", (long long)lead));
    json_decref(OK(admin, P("MarkLost"), "{\"id\":\"%lld\",\"lostReasonId\":\"%lld\"}", (long long)lead, (long long)reason));

    assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pipeline", env->dir);
    const char *err;
    MDB_dbi added[3];
    const crm_store_dbi_t dbis[] = {
        {"by_lost_reason", 0, &added[0]}, {"by_parent", 0, &added[1]}, {"quotes_by_customer", 0, &added[2]}};
    crm_store_t *store = crm_store_open(dir, dbis, 3, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, as_schema3, store), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, 15000), 0);

    /* every use made before the upgrade still forbids the delete */
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteLostReason"), "{\"id\":\"%lld\"}", (long long)reason);
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteCustomer"), "{\"id\":\"%lld\"}", (long long)company);
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteCustomer"), "{\"id\":\"%lld\"}", (long long)quoted);
    json_decref(OK(admin, P("ReopenLead"), "{\"id\":\"%lld\"}", (long long)lead));
    json_decref(OK(admin, P("DeleteLostReason"), "{\"id\":\"%lld\"}", (long long)reason));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_archived_teams),
        cmocka_unit_test(test_archive_restore_lead),
        cmocka_unit_test(test_archive_restore_customer),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_own_leads_access),
        cmocka_unit_test(test_tags_and_lost_reasons),
        cmocka_unit_test(test_idempotent_archive),
        cmocka_unit_test(test_upgrade_to_schema4), /* last: it restarts pipeline */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
