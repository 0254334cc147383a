/* The pipeline through the gateway: the seed's walkthrough end to end, the
 * access matrix, bad input, restarts and kill -9 during writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.pb-c.h"
#include "crm_json.h"
#include "crm_store.h"
#include "pipeline.pb-c.h"
#include "crm_services.h"
#include "harness.h"
#include "../../services/pipeline/pipeline.h" /* PIPELINE_SCHEMA: stores opened as today's program does */

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define I(m) "crm.identity.v1.Identity/" m

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



static int64_t stage_named(const char *token, int64_t team, const char *name)
{
    json_t *r = OK(token, P("ListStages"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_t *stages = json_object_get(r, "stages"), *s;
    size_t i;
    int64_t id = 0;
    json_array_foreach(stages, i, s) if (!strcmp(sys_jstr(s, "name"), name)) id = sys_jint(s, "id");
    json_decref(r);
    assert_true(id > 0);
    return id;
}

/* The column of stage in a GetPipeline reply. */
static json_t *column(json_t *pipeline, int64_t stage)
{
    json_t *cols = json_object_get(pipeline, "columns"), *c;
    size_t i;
    json_array_foreach(cols, i, c) if (sys_jint(c, "stage.id") == stage) return c;
    return NULL;
}

static int column_has(json_t *col, int64_t lead)
{
    json_t *leads = json_object_get(col, "leads"), *l;
    size_t i;
    json_array_foreach(leads, i, l) if (sys_jint(l, "id") == lead) return 1;
    return 0;
}

/* --- the board's API: names, paging, versions, currencies ------------------------------ */

static json_t *board(const char *token, const char *fmt_extra, int64_t team)
{
    return OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\"%s}", (long long)team, fmt_extra);
}

/* A column's total of one currency: field of its CurrencyTotal, or -1 if none. */
static int64_t total_of(json_t *col, const char *currency, const char *field)
{
    json_t *totals = json_object_get(col, "totals"), *t;
    size_t i;
    json_array_foreach(totals, i, t) if (!strcmp(sys_jstr(t, "currency"), currency)) return sys_jint(t, field);
    return -1;
}

static int prio_rank(const char *name)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(&crm__pipeline__v1__priority__descriptor, name);
    assert_non_null(v);
    return v->value;
}

/* Names are the lead's at every read, never a copy made when it was written:
 * a customer renamed shows its new name on the lead, the list and the board. */
static void test_board_names(void **state)
{
    int64_t bo;
    char *bo_t = login_new_user("bo.names", "SALES_ACCESS_OWN_LEADS", &bo);
    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Names\",\"memberIds\":[\"%lld\"]}", (long long)bo);
    int64_t t = sys_jint(team, "id");
    json_decref(team);
    json_t *c = OK(admin, P("CreateCustomer"), "{\"name\":\"张三 Trading\"}");
    int64_t cust = sys_jint(c, "id");
    json_decref(c);
    json_t *l = OK(admin, P("CreateLead"),
                   "{\"type\":2,\"name\":\"Named\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\",\"customerId\":\"%lld\"}",
                   (long long)t, (long long)bo, (long long)cust);
    int64_t id = sys_jint(l, "id"), stage = sys_jint(l, "stageId");
    assert_string_equal(sys_jstr(l, "customerName"), "张三 Trading");
    assert_string_equal(sys_jstr(l, "salespersonName"), "bo.names");
    assert_string_equal(sys_jstr(l, "teamName"), "Names");
    json_decref(l);

    json_decref(OK(admin, P("UpdateCustomer"), "{\"id\":\"%lld\",\"name\":\"Zhang San Ltd\",\"updateMask\":\"name\"}",
                   (long long)cust));
    l = OK(bo_t, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(l, "customerName"), "Zhang San Ltd");
    json_decref(l);
    json_t *list = OK(bo_t, P("ListLeads"), "{\"teamId\":\"%lld\"}", (long long)t);
    assert_string_equal(sys_jstr(json_array_get(json_object_get(list, "leads"), 0), "customerName"), "Zhang San Ltd");
    json_decref(list);
    json_t *b = board(bo_t, "", t);
    json_t *card = json_array_get(json_object_get(column(b, stage), "leads"), 0);
    assert_int_equal(sys_jint(card, "id"), id);
    assert_string_equal(sys_jstr(card, "customerName"), "Zhang San Ltd");
    assert_string_equal(sys_jstr(card, "salespersonName"), "bo.names");
    json_decref(b);
    l = OK(bo_t, P("UpdateLead"), "{\"id\":\"%lld\",\"name\":\"Named again\",\"updateMask\":\"name\"}", (long long)id);
    assert_string_equal(sys_jstr(l, "customerName"), "Zhang San Ltd");
    json_decref(l);
    free(bo_t);
}

/* One column paged to its end gives each card once, in the board's order
 * (priority, then newest), the same cards as one big page; an own-leads
 * user's pages hold only theirs and nobody's; tag and text filters narrow
 * cards and counts alike. */
static void test_board_paging(void **state)
{
    int64_t own, other;
    char *own_t = login_new_user("own.pages", "SALES_ACCESS_OWN_LEADS", &own);
    free(login_new_user("other.pages", "SALES_ACCESS_ALL_LEADS", &other));
    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Pages\"}");
    int64_t t = sys_jint(team, "id");
    json_decref(team);
    json_t *tag = OK(admin, P("CreateTag"), "{\"name\":\"paged\"}");
    int64_t tag_id = sys_jint(tag, "id");
    json_decref(tag);
    static const char *const prio[] = {"PRIORITY_LOW", "PRIORITY_NORMAL", "PRIORITY_HIGH", "PRIORITY_VERY_HIGH"};
    int64_t stage = 0, ids[23];
    for (int i = 0; i < 23; i++) {
        int64_t sp = i % 3 == 0 ? own : i % 3 == 1 ? other : 0;
        char spf[48] = ",\"unassigned\":true";
        if (sp)
            snprintf(spf, sizeof spf, ",\"salespersonId\":\"%lld\"", (long long)sp);
        json_t *l = OK(admin, P("CreateLead"),
                       "{\"type\":2,\"name\":\"Page card %d%s\",\"teamId\":\"%lld\",\"priority\":\"%s\"%s}", i,
                       i % 4 == 0 ? " needle" : "", (long long)t, prio[i % 4], spf);
        ids[i] = sys_jint(l, "id");
        stage = sys_jint(l, "stageId");
        json_decref(l);
    }
    json_t *all = board(admin, ",\"cardsPerColumn\":200", t);
    json_t *full = json_object_get(column(all, stage), "leads");
    assert_int_equal(json_array_size(full), 23);
    assert_int_equal(sys_jint(column(all, stage), "count"), 23);
    assert_string_equal(sys_jstr(column(all, stage), "nextPageToken"), "");
    size_t seen = 0;
    char token[64] = "";
    for (int pages = 0; pages < 10; pages++) {
        json_t *p = OK(admin, P("GetPipeline"),
                       "{\"teamId\":\"%lld\",\"stageId\":\"%lld\",\"cardsPerColumn\":5,\"pageToken\":\"%s\"}",
                       (long long)t, (long long)stage, token);
        json_t *cols = json_object_get(p, "columns");
        assert_int_equal(json_array_size(cols), 1);
        json_t *col = json_array_get(cols, 0), *leads = json_object_get(col, "leads"), *card;
        assert_int_equal(sys_jint(col, "count"), 23);
        size_t i;
        json_array_foreach(leads, i, card) {
            assert_true(seen < 23);
            assert_int_equal(sys_jint(card, "id"), sys_jint(json_array_get(full, seen), "id"));
            seen++;
        }
        snprintf(token, sizeof token, "%s", sys_jstr(col, "nextPageToken"));
        json_decref(p);
        if (!token[0])
            break;
    }
    assert_int_equal(seen, 23);
    /* the order is the board's: priority, then newest */
    for (size_t i = 1; i < 23; i++) {
        json_t *a = json_array_get(full, i - 1), *b = json_array_get(full, i);
        int pa = prio_rank(sys_jstr(a, "priority")), pb = prio_rank(sys_jstr(b, "priority"));
        assert_true(pa > pb || (pa == pb && sys_jint(a, "id") > sys_jint(b, "id")));
    }
    json_decref(all);

    /* an own-leads user pages through theirs and nobody's: 8 + 7 */
    token[0] = '\0';
    seen = 0;
    for (int pages = 0; pages < 10; pages++) {
        json_t *p = OK(own_t, P("GetPipeline"),
                       "{\"teamId\":\"%lld\",\"stageId\":\"%lld\",\"cardsPerColumn\":4,\"pageToken\":\"%s\"}",
                       (long long)t, (long long)stage, token);
        json_t *col = json_array_get(json_object_get(p, "columns"), 0), *card;
        assert_int_equal(sys_jint(col, "count"), 15);
        size_t i;
        json_array_foreach(json_object_get(col, "leads"), i, card) {
            assert_true(sys_jint(card, "salespersonId") != other);
            seen++;
        }
        snprintf(token, sizeof token, "%s", sys_jstr(col, "nextPageToken"));
        json_decref(p);
        if (!token[0])
            break;
    }
    assert_int_equal(seen, 15);

    /* text: the six "needle" cards (i = 0, 4, ..., 20); with a tag: none yet */
    json_t *q = board(admin, ",\"query\":\"NEEDLE\",\"cardsPerColumn\":4", t);
    assert_int_equal(sys_jint(column(q, stage), "count"), 6);
    assert_int_equal(json_array_size(json_object_get(column(q, stage), "leads")), 4);
    assert_string_not_equal(sys_jstr(column(q, stage), "nextPageToken"), "");
    json_decref(q);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"tagIds\":[\"%lld\"],\"updateMask\":\"tagIds\"}",
                   (long long)ids[1], (long long)tag_id));
    char f[80];
    snprintf(f, sizeof f, ",\"tagId\":\"%lld\"", (long long)tag_id);
    q = board(admin, f, t);
    assert_int_equal(sys_jint(column(q, stage), "count"), 1);
    assert_int_equal(sys_jint(json_array_get(json_object_get(column(q, stage), "leads"), 0), "id"), ids[1]);
    json_decref(q);
    /* ... and an own-leads user never counts another's card through a filter */
    q = board(own_t, f, t);
    assert_int_equal(sys_jint(column(q, stage), "count"), 0);
    json_decref(q);

    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, P("GetPipeline"),
        "{\"teamId\":\"%lld\",\"stageId\":\"%lld\",\"pageToken\":\"zz\"}", (long long)t, (long long)stage);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, P("GetPipeline"), "{\"teamId\":\"%lld\",\"pageToken\":\"%s\"}",
        (long long)t, "00000000000000000000000000000000ff");
    free(own_t);
}

/* The rule of a page token (ARCHITECTURE.md, The board): it is a place in
 * the column's order, not a snapshot. Cards that stay are given once; a card
 * moved behind the place is given again, one moved ahead of it (a new card,
 * a raised priority) is not, until the board, told by the version, reloads
 * from the top, where every card is once. */
static void test_board_paging_under_moves(void **state)
{
    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Moving pages\"}");
    int64_t t = sys_jint(team, "id"), stage = 0, c[11];
    json_decref(team);
    for (int i = 0; i < 10; i++) {
        json_t *l = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Mover %d\",\"teamId\":\"%lld\"}", i, (long long)t);
        c[i] = sys_jint(l, "id");
        stage = sys_jint(l, "stageId");
        json_decref(l);
    }
    /* newest first: 9 8 7 6 | 5 4 3 2 1 0 */
    json_t *p = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\",\"stageId\":\"%lld\",\"cardsPerColumn\":4}", (long long)t,
                   (long long)stage);
    json_t *col = json_array_get(json_object_get(p, "columns"), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sys_jint(json_array_get(json_object_get(col, "leads"), i), "id"), c[9 - i]);
    char token[64];
    snprintf(token, sizeof token, "%s", sys_jstr(col, "nextPageToken"));
    int64_t v = sys_jint(p, "version");
    json_decref(p);

    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"priority\":\"PRIORITY_VERY_HIGH\",\"updateMask\":\"priority\"}",
                   (long long)c[2]));
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"priority\":\"PRIORITY_LOW\",\"updateMask\":\"priority\"}",
                   (long long)c[8]));
    json_t *l = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Mover 10\",\"teamId\":\"%lld\"}", (long long)t);
    c[10] = sys_jint(l, "id");
    json_decref(l);

    const int64_t want[] = {c[5], c[4], c[3], c[1], c[0], c[8]};
    size_t seen = 0;
    for (int pages = 0; pages < 10 && token[0]; pages++) {
        p = OK(admin, P("GetPipeline"), "{\"teamId\":\"%lld\",\"stageId\":\"%lld\",\"cardsPerColumn\":4,\"pageToken\":\"%s\"}",
               (long long)t, (long long)stage, token);
        assert_true(sys_jint(p, "version") > v); /* the board knows to reload */
        col = json_array_get(json_object_get(p, "columns"), 0);
        json_t *card;
        size_t i;
        json_array_foreach(json_object_get(col, "leads"), i, card) {
            assert_true(seen < 6);
            assert_int_equal(sys_jint(card, "id"), want[seen]);
            seen++;
        }
        snprintf(token, sizeof token, "%s", sys_jstr(col, "nextPageToken"));
        json_decref(p);
    }
    assert_int_equal(seen, 6);

    p = board(admin, ",\"cardsPerColumn\":200", t);
    json_t *leads = json_object_get(column(p, stage), "leads");
    const int64_t top[] = {c[2], c[10], c[9], c[7], c[6], c[5], c[4], c[3], c[1], c[0], c[8]};
    assert_int_equal(json_array_size(leads), 11);
    for (size_t i = 0; i < 11; i++)
        assert_int_equal(sys_jint(json_array_get(leads, i), "id"), top[i]);
    json_decref(p);
}

/* The version a board polls: unchanged while nothing on it changed, moved
 * by a change in its team (a lead leaving it too), not by another team's. */
static void test_board_version(void **state)
{
    json_t *ta = OK(admin, I("CreateTeam"), "{\"name\":\"Version A\"}"), *tb = OK(admin, I("CreateTeam"), "{\"name\":\"Version B\"}");
    int64_t a = sys_jint(ta, "id"), b = sys_jint(tb, "id");
    json_decref(ta);
    json_decref(tb);
    json_t *la = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"In A\",\"teamId\":\"%lld\"}", (long long)a);
    json_t *lb = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"In B\",\"teamId\":\"%lld\"}", (long long)b);
    int64_t in_a = sys_jint(la, "id"), in_b = sys_jint(lb, "id");
    json_decref(la);
    json_decref(lb);
    int64_t proposition = stage_named(admin, a, "Proposition");

    json_t *r = board(admin, "", a);
    int64_t v = sys_jint(r, "version");
    assert_true(v > 0);
    assert_true(json_array_size(json_object_get(r, "columns")) > 0);
    json_decref(r);
    char known[64];
    snprintf(known, sizeof known, ",\"knownVersion\":\"%lld\"", (long long)v);
    r = board(admin, known, a);
    assert_true(json_is_true(json_object_get(r, "unchanged")));
    assert_int_equal(json_array_size(json_object_get(r, "columns")), 0);
    assert_int_equal(sys_jint(r, "version"), v);
    json_decref(r);

    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"updateMask\":\"stageId\"}",
                   (long long)in_b, (long long)proposition));
    json_decref(OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Of no team\"}"));
    r = board(admin, known, a);
    assert_true(json_is_true(json_object_get(r, "unchanged"))); /* another team's move, a lead of none */
    json_decref(r);

    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"updateMask\":\"stageId\"}",
                   (long long)in_a, (long long)proposition));
    r = board(admin, known, a);
    assert_false(json_is_true(json_object_get(r, "unchanged")));
    int64_t v2 = sys_jint(r, "version");
    assert_true(v2 > v);
    assert_true(column_has(column(r, proposition), in_a));
    json_decref(r);

    /* a lead leaving A for B moves both boards */
    r = board(admin, "", b);
    int64_t vb = sys_jint(r, "version");
    json_decref(r);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"teamId\":\"%lld\",\"updateMask\":\"teamId\"}",
                   (long long)in_a, (long long)b));
    r = board(admin, "", a);
    assert_true(sys_jint(r, "version") > v2);
    json_decref(r);
    r = board(admin, "", b);
    int64_t vb2 = sys_jint(r, "version");
    assert_true(vb2 > vb);
    json_decref(r);

    /* B's cards show its name: renamed in identity, B's board moves once
     * pipeline has the event (applied asynchronously, hence the wait) */
    snprintf(known, sizeof known, ",\"knownVersion\":\"%lld\"", (long long)vb2);
    json_decref(OK(admin, I("UpdateTeam"), "{\"id\":\"%lld\",\"name\":\"Version B renamed\",\"updateMask\":\"name\"}",
                   (long long)b));
    int moved = 0;
    for (int i = 0; i < 250 && !moved; i++) {
        r = board(admin, known, b);
        moved = !json_is_true(json_object_get(r, "unchanged"));
        if (moved)
            assert_string_equal(sys_jstr(json_array_get(json_object_get(column(r, proposition), "leads"), 0), "teamName"),
                                "Version B renamed");
        json_decref(r);
        if (!moved)
            usleep(20000);
    }
    assert_true(moved);
}

static int64_t board_version_of(int64_t team)
{
    json_t *r = board(admin, "", team);
    int64_t v = sys_jint(r, "version");
    json_decref(r);
    return v;
}

/* The board's version after a write through the admin, moved or not. */
#define VERSION_MOVES(team, write)                                                                                    \
    do {                                                                                                              \
        int64_t before_ = board_version_of(team);                                                                     \
        json_decref(write);                                                                                           \
        assert_true(board_version_of(team) > before_);                                                                \
    } while (0)

/* Every write that changes what a board shows moves its version: a lead
 * converted into another team (both boards), won, lost or won through a
 * quotation, a customer renamed, a global stage created, a stage of the
 * team changed; a stage of another team leaves it. A user renamed in
 * identity moves it once pipeline has the event. */
static void test_board_version_every_write(void **state)
{
    json_t *ta = OK(admin, I("CreateTeam"), "{\"name\":\"Every write A\"}"), *tb = OK(admin, I("CreateTeam"), "{\"name\":\"Every write B\"}");
    int64_t a = sys_jint(ta, "id"), b = sys_jint(tb, "id");
    json_decref(ta);
    json_decref(tb);
    int64_t sam;
    free(login_new_user("sam.every", "SALES_ACCESS_ALL_LEADS", &sam));
    json_t *c = OK(admin, P("CreateCustomer"), "{\"name\":\"Every Co\"}");
    int64_t cust = sys_jint(c, "id");
    json_decref(c);
    json_t *l = OK(admin, P("CreateLead"), "{\"type\":1,\"name\":\"To convert\",\"teamId\":\"%lld\"}", (long long)a);
    int64_t lead = sys_jint(l, "id");
    json_decref(l);

    int64_t va = board_version_of(a);
    VERSION_MOVES(b, OK(admin, P("ConvertLead"), "{\"id\":\"%lld\",\"teamId\":\"%lld\",\"customerAction\":\"CUSTOMER_ACTION_LINK\",\"customerId\":\"%lld\"}",
                        (long long)lead, (long long)b, (long long)cust));
    assert_true(board_version_of(a) > va);
    VERSION_MOVES(b, OK(admin, P("MarkWon"), "{\"id\":\"%lld\"}", (long long)lead));
    l = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"To lose\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)b,
           (long long)sam);
    int64_t lose = sys_jint(l, "id");
    json_decref(l);
    VERSION_MOVES(b, OK(admin, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)lose));
    l = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"To quote\",\"teamId\":\"%lld\",\"customerId\":\"%lld\"}", (long long)b,
           (long long)cust);
    int64_t quote = sys_jint(l, "id");
    json_decref(l);
    VERSION_MOVES(b, OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\",\"markWon\":true}", (long long)quote));
    VERSION_MOVES(b, OK(admin, P("UpdateCustomer"), "{\"id\":\"%lld\",\"name\":\"Every Co renamed\",\"updateMask\":\"name\"}",
                        (long long)cust));
    VERSION_MOVES(b, OK(admin, P("CreateStage"), "{\"name\":\"Every global\",\"sequence\":99}"));
    json_t *st = OK(admin, P("CreateStage"), "{\"name\":\"Every of A\",\"teamId\":\"%lld\",\"sequence\":98}", (long long)a);
    int64_t stage_a = sys_jint(st, "id");
    json_decref(st);
    int64_t vb = board_version_of(b);
    VERSION_MOVES(a, OK(admin, P("UpdateStage"), "{\"id\":\"%lld\",\"fold\":true,\"updateMask\":\"fold\"}", (long long)stage_a));
    VERSION_MOVES(a, OK(admin, P("DeleteStage"), "{\"id\":\"%lld\"}", (long long)stage_a));
    assert_int_equal(board_version_of(b), vb); /* A's stages are not on B's board */

    vb = board_version_of(b);
    json_decref(OK(admin, I("UpdateUser"), "{\"id\":\"%lld\",\"name\":\"Sam Renamed\",\"updateMask\":\"name\"}", (long long)sam));
    int moved = 0;
    for (int i = 0; i < 250 && !moved; i++) {
        moved = board_version_of(b) > vb;
        if (!moved)
            usleep(20000);
    }
    assert_true(moved);
}

/* Revenue in two currencies is never added up: a column and a report row
 * give one total per currency and no single sum; with one currency the
 * single sums stay as they were. */
static void test_board_currencies(void **state)
{
    json_t *tm = OK(admin, I("CreateTeam"), "{\"name\":\"Currencies\"}");
    int64_t t = sys_jint(tm, "id");
    json_decref(tm);
    json_t *e = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Euro\",\"teamId\":\"%lld\",\"expectedRevenue\":\"100000\",\"currency\":\"EUR\",\"probability\":50}", (long long)t);
    int64_t stage = sys_jint(e, "stageId");
    json_decref(e);
    json_decref(OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Euro 2\",\"teamId\":\"%lld\",\"expectedRevenue\":\"300\",\"currency\":\"EUR\",\"probability\":10}", (long long)t));
    json_t *r = board(admin, "", t);
    json_t *col = column(r, stage);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 100300);
    assert_int_equal(sys_jint(col, "weightedRevenue"), 50030);
    assert_int_equal(total_of(col, "EUR", "count"), 2);
    json_decref(r);

    json_t *u = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"Dollar\",\"teamId\":\"%lld\",\"expectedRevenue\":\"200000\",\"currency\":\"USD\",\"probability\":25}", (long long)t);
    int64_t usd = sys_jint(u, "id");
    json_decref(u);
    r = board(admin, "", t);
    col = column(r, stage);
    assert_int_equal(sys_jint(col, "count"), 3);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 0); /* never 300300 */
    assert_int_equal(sys_jint(col, "weightedRevenue"), 0);
    assert_int_equal(json_array_size(json_object_get(col, "totals")), 2);
    assert_string_equal(sys_jstr(json_array_get(json_object_get(col, "totals"), 0), "currency"), "EUR");
    assert_int_equal(total_of(col, "EUR", "expectedRevenue"), 100300);
    assert_int_equal(total_of(col, "EUR", "weightedRevenue"), 50030);
    assert_int_equal(total_of(col, "USD", "count"), 1);
    assert_int_equal(total_of(col, "USD", "expectedRevenue"), 200000);
    assert_int_equal(total_of(col, "USD", "weightedRevenue"), 50000);
    json_decref(r);
    /* the same filtered, where sums come from the leads, not the cells */
    r = board(admin, ",\"query\":\"o\"", t);
    col = column(r, stage);
    assert_int_equal(total_of(col, "EUR", "expectedRevenue"), 100300);
    assert_int_equal(total_of(col, "USD", "expectedRevenue"), 200000);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 0);
    json_decref(r);

    json_t *rep = OK(admin, P("PipelineReport"), "{\"groupBy\":\"GROUP_BY_TEAM\",\"teamId\":\"%lld\"}", (long long)t);
    json_t *row = json_array_get(json_object_get(rep, "rows"), 0);
    assert_int_equal(sys_jint(row, "count"), 3);
    assert_int_equal(sys_jint(row, "expectedRevenue"), 0);
    assert_int_equal(total_of(row, "EUR", "expectedRevenue"), 100300);
    assert_int_equal(total_of(row, "USD", "weightedRevenue"), 50000);
    json_decref(rep);

    /* the dollar deal changes currency: one currency again, one sum again */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"currency\":\"EUR\",\"updateMask\":\"currency\"}", (long long)usd));
    r = board(admin, "", t);
    col = column(r, stage);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 300300);
    assert_int_equal(total_of(col, "USD", "count"), -1);
    json_decref(r);
}

/* --- the seed's walkthrough ------------------------------------------------------ */

/* A column may hold any number of currencies (codes are three capitals):
 * each has its own total, through additions and removals. */
static void test_board_many_currencies(void **state)
{
    json_t *tm = OK(admin, I("CreateTeam"), "{\"name\":\"Many currencies\"}");
    int64_t t = sys_jint(tm, "id"), stage = 0, first = 0;
    json_decref(tm);
    enum { N = 70 };
    for (int i = 0; i < N; i++) {
        json_t *l = OK(admin, P("CreateLead"),
                       "{\"type\":2,\"name\":\"Coin %d\",\"teamId\":\"%lld\",\"expectedRevenue\":\"%d\",\"currency\":\"Q%c%c\"}", i,
                       (long long)t, 100 + i, 'A' + i / 26, 'A' + i % 26);
        stage = sys_jint(l, "stageId");
        if (!first)
            first = sys_jint(l, "id");
        json_decref(l);
    }
    json_t *r = board(admin, "", t);
    json_t *col = column(r, stage);
    assert_int_equal(sys_jint(col, "count"), N);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 0);
    assert_int_equal(json_array_size(json_object_get(col, "totals")), N);
    assert_int_equal(total_of(col, "QAA", "expectedRevenue"), 100);
    assert_int_equal(total_of(col, "QCR", "expectedRevenue"), 100 + N - 1);
    json_decref(r);
    int64_t proposition = stage_named(admin, t, "Proposition");
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"updateMask\":\"stageId\"}",
                   (long long)first, (long long)proposition));
    r = board(admin, "", t);
    col = column(r, stage);
    assert_int_equal(sys_jint(col, "count"), N - 1);
    assert_int_equal(json_array_size(json_object_get(col, "totals")), N - 1);
    assert_int_equal(total_of(col, "QAA", "count"), -1);
    assert_int_equal(total_of(column(r, proposition), "QAA", "expectedRevenue"), 100);
    json_decref(r);
}

static void test_walkthrough(void **state)
{
    crm_status_t st;
    /* 1-2. Li, a salesperson created without a password: Manager in sales,
     * Employee in HR; Li sets the password through the invitation */
    json_t *u = OK(admin, I("CreateUser"), "{\"login\":\"saleslee\",\"name\":\"Li\",\"salesAccess\":\"SALES_ACCESS_MANAGER\",\"hrAccess\":\"HR_ACCESS_EMPLOYEE\"}");
    int64_t li = sys_jint(u, "user.id");
    char invite[128];
    snprintf(invite, sizeof invite, "%s", sys_jstr(u, "inviteToken"));
    json_decref(u);
    json_decref(OK(NULL, I("SetPassword"), "{\"inviteToken\":\"%s\",\"password\":\"li-secret-1\"}", invite));
    char *lee = sys_login(env, "saleslee", "li-secret-1", &st);
    assert_non_null(lee);

    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Sales\",\"leaderId\":\"%lld\",\"memberIds\":[\"%lld\"]}",
                      (long long)li, (long long)li);
    int64_t sales = sys_jint(team, "id");
    json_decref(team);

    /* 3. the customer Zhang San, Li's, in team Sales (admin's session has just
     * created Li and the team: pipeline holds the call until it knows them) */
    json_t *zhang = OK(admin, P("CreateCustomer"),
                       "{\"name\":\"Zhang San\",\"email\":\"zhang@example.com\",\"phone\":\"+86 10 1234\",\"function\":\"Buyer\",\"salespersonId\":\"%lld\",\"teamId\":\"%lld\"}",
                       (long long)li, (long long)sales);
    int64_t customer = sys_jint(zhang, "id");
    assert_int_equal(sys_jint(zhang, "salespersonId"), li);
    json_decref(zhang);

    /* 5. an opportunity with only its subject */
    json_t *bare = OK(lee, P("CreateLead"), "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Meeting about a service\",\"teamId\":\"%lld\"}",
                      (long long)sales);
    assert_string_equal(sys_jstr(bare, "status"), "LEAD_STATUS_NEW");
    assert_int_equal(sys_jint(bare, "probability"), 10);
    assert_string_equal(sys_jstr(bare, "currency"), "EUR");
    json_decref(bare);

    /* ... and one with everything */
    json_t *t1 = OK(lee, P("CreateTag"), "{\"name\":\"Services\"}");
    json_t *t2 = OK(lee, P("CreateTag"), "{\"name\":\"Consulting\"}");
    json_t *opp = OK(lee, P("CreateLead"),
                     "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Consulting for Zhang\",\"expectedRevenue\":\"250000\","
                     "\"probability\":30,\"customerId\":\"%lld\",\"nextAction\":\"Call back\",\"nextActionDate\":\"2026-12-01\","
                     "\"expectedClosing\":\"2027-01-15\",\"priority\":\"PRIORITY_HIGH\",\"tagIds\":[\"%lld\",\"%lld\"],"
                     "\"contactName\":\"Zhang San\",\"function\":\"Head buyer\",\"referredBy\":\"Trade fair\","
                     "\"internalNotes\":\"Met at the fair\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\"}",
                     (long long)customer, (long long)sys_jint(t1, "id"), (long long)sys_jint(t2, "id"), (long long)sales,
                     (long long)li);
    int64_t id = sys_jint(opp, "id");
    assert_int_equal(sys_jint(opp, "probability"), 30); /* given, so kept */
    assert_string_equal(sys_jstr(opp, "email"), "zhang@example.com"); /* taken from the customer */
    assert_string_equal(sys_jstr(opp, "function"), "Head buyer");      /* its own kept */
    assert_int_equal(json_array_size(json_object_get(opp, "tagIds")), 2);
    assert_string_equal(sys_jstr(opp, "priority"), "PRIORITY_HIGH");
    int64_t new_stage = sys_jint(opp, "stageId");
    json_decref(opp);
    json_decref(t1);
    json_decref(t2);

    /* 6. the kanban shows it, high priority first */
    json_t *pipe = OK(lee, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)sales);
    json_t *col = column(pipe, new_stage);
    assert_non_null(col);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 250000);
    assert_int_equal(sys_jint(col, "weightedRevenue"), 75000);
    assert_int_equal(sys_jint(json_array_get(json_object_get(col, "leads"), 0), "id"), id);
    json_decref(pipe);

    /* 7. to Proposition: the stage's probability and status apply */
    int64_t proposition = stage_named(lee, sales, "Proposition");
    json_t *moved = OK(lee, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)id, (long long)proposition);
    assert_int_equal(sys_jint(moved, "probability"), 40);
    assert_string_equal(sys_jstr(moved, "status"), "LEAD_STATUS_IN_PROGRESS");
    assert_string_equal(sys_jstr(moved, "name"), "Consulting for Zhang"); /* untouched */
    json_decref(moved);

    /* 10. negotiation: 3,750.00 at 80 % */
    int64_t negotiation = stage_named(lee, sales, "Negotiation");
    json_t *neg = OK(lee, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"expectedRevenue\":\"375000\",\"probability\":80}",
                     (long long)id, (long long)negotiation);
    assert_int_equal(sys_jint(neg, "probability"), 80);
    assert_int_equal(sys_jint(neg, "expectedRevenue"), 375000);
    json_decref(neg);
    pipe = OK(lee, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)sales);
    col = column(pipe, negotiation);
    assert_int_equal(sys_jint(col, "count"), 1);
    assert_int_equal(sys_jint(col, "weightedRevenue"), 300000);
    assert_int_equal(sys_jint(column(pipe, proposition), "count"), 0);
    json_decref(pipe);

    /* 11. a new stage is usable at once: chosen on the opportunity, listed, in the kanban */
    json_t *demo = OK(lee, P("CreateStage"), "{\"name\":\"Demo\",\"teamId\":\"%lld\",\"probability\":70,\"sequence\":35,\"type\":\"STAGE_TYPE_OPPORTUNITY\"}",
                      (long long)sales);
    int64_t demo_id = sys_jint(demo, "id");
    json_decref(demo);
    json_t *in_demo = OK(lee, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)id, (long long)demo_id);
    assert_int_equal(sys_jint(in_demo, "probability"), 70);
    json_decref(in_demo);
    pipe = OK(lee, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)sales);
    assert_true(column_has(column(pipe, demo_id), id));
    json_decref(pipe);

    /* 13. Make Quotation, marked won; the quotation is listed */
    json_t *q = OK(lee, P("MakeQuotation"), "{\"opportunityId\":\"%lld\",\"markWon\":true}", (long long)id);
    assert_string_equal(sys_jstr(q, "name"), "SO001");
    assert_int_equal(sys_jint(q, "amount"), 375000);
    assert_int_equal(sys_jint(q, "customerId"), customer);
    json_decref(q);
    json_t *won = OK(lee, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(won, "status"), "LEAD_STATUS_WON");
    assert_int_equal(sys_jint(won, "probability"), 100);
    assert_true(sys_jint(won, "closedAt") > 0);
    json_decref(won);
    json_t *quotes = OK(lee, P("ListQuotations"), "{}");
    assert_int_equal(json_array_size(json_object_get(quotes, "quotations")), 1);
    json_decref(quotes);
    ERR(CODE(FAILED_PRECONDITION), "id", lee, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)id);

    /* 14. a lead from a business card creates no customer until converted */
    json_t *before = OK(lee, P("ListCustomers"), "{}");
    size_t customers = json_array_size(json_object_get(before, "customers"));
    json_decref(before);
    json_t *card = OK(lee, P("CreateLead"), "{\"name\":\"Card from the fair\",\"contactName\":\"Wang Wu\",\"companyName\":\"Wang Trading\",\"email\":\"wu@wang.example\",\"teamId\":\"%lld\"}",
                      (long long)sales);
    int64_t card_id = sys_jint(card, "id");
    assert_string_equal(sys_jstr(card, "type"), "LEAD_TYPE_LEAD");
    assert_int_equal(sys_jint(card, "customerId"), 0);
    json_decref(card);
    json_t *after = OK(lee, P("ListCustomers"), "{}");
    assert_int_equal(json_array_size(json_object_get(after, "customers")), customers);
    json_decref(after);
    json_t *conv = OK(lee, P("ConvertLead"), "{\"id\":\"%lld\",\"customerAction\":\"CUSTOMER_ACTION_CREATE\",\"salespersonId\":\"%lld\"}",
                      (long long)card_id, (long long)li);
    assert_string_equal(sys_jstr(conv, "type"), "LEAD_TYPE_OPPORTUNITY");
    assert_int_equal(sys_jint(conv, "salespersonId"), li);
    int64_t made = sys_jint(conv, "customerId");
    assert_true(made > 0);
    json_decref(conv);
    json_t *contact = OK(lee, P("GetCustomer"), "{\"id\":\"%lld\"}", (long long)made);
    assert_string_equal(sys_jstr(contact, "name"), "Wang Wu");
    assert_true(sys_jint(contact, "parentId") > 0); /* inside the company Wang Trading */
    json_decref(contact);

    /* 15. a second team with stages of its own has its own kanban */
    json_t *retail = OK(admin, I("CreateTeam"), "{\"name\":\"Retail\",\"memberIds\":[\"%lld\"]}", (long long)li);
    int64_t retail_id = sys_jint(retail, "id");
    json_decref(retail);
    json_t *rs = OK(admin, P("CreateStage"), "{\"name\":\"Shop visit\",\"teamId\":\"%lld\",\"sequence\":5}", (long long)retail_id);
    int64_t shop = sys_jint(rs, "id");
    json_decref(rs);
    json_t *rlead = OK(admin, P("CreateLead"), "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Shop deal\",\"teamId\":\"%lld\"}",
                       (long long)retail_id);
    assert_int_equal(sys_jint(rlead, "stageId"), shop); /* the first stage of its team */
    json_decref(rlead);
    json_t *rpipe = OK(lee, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)retail_id);
    assert_int_equal(sys_jint(column(rpipe, shop), "count"), 1);
    json_decref(rpipe);
    pipe = OK(lee, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)sales);
    assert_null(column(pipe, shop));
    json_decref(pipe);
    /* a stage of another team does not fit */
    ERR(CODE(INVALID_ARGUMENT), "stageId", lee, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)card_id,
        (long long)shop);
    free(lee);
}

/* --- the access matrix ----------------------------------------------------------- */

static int64_t lead_count(json_t *list)
{
    return (int64_t)json_array_size(json_object_get(list, "leads"));
}

static int list_has(json_t *list, int64_t id)
{
    json_t *leads = json_object_get(list, "leads"), *l;
    size_t i;
    json_array_foreach(leads, i, l) if (sys_jint(l, "id") == id) return 1;
    return 0;
}

static void test_access_matrix(void **state)
{
    int64_t own1_id, own2_id;
    char *own1 = login_new_user("own1", "SALES_ACCESS_OWN_LEADS", &own1_id);
    char *own2 = login_new_user("own2", "SALES_ACCESS_OWN_LEADS", &own2_id);
    char *all = login_new_user("all1", "SALES_ACCESS_ALL_LEADS", NULL);
    char *mgr = login_new_user("mgr1", "SALES_ACCESS_MANAGER", NULL);
    char *none = login_new_user("none1", "SALES_ACCESS_NONE", NULL);
    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Matrix\"}");
    int64_t t = sys_jint(team, "id");
    json_decref(team);
    /* one lead each for own1 and own2, one unassigned; revenue tells them apart in sums */
    json_t *a = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"A\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\",\"expectedRevenue\":\"100\"}", (long long)t, (long long)own1_id);
    json_t *b = OK(admin, P("CreateLead"), "{\"type\":2,\"name\":\"B\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\",\"expectedRevenue\":\"1000\"}", (long long)t, (long long)own2_id);
    json_t *c = OK(mgr, P("CreateLead"), "{\"type\":2,\"name\":\"C\",\"teamId\":\"%lld\",\"expectedRevenue\":\"10000\",\"unassigned\":true}", (long long)t);
    int64_t A = sys_jint(a, "id"), B = sys_jint(b, "id"), C = sys_jint(c, "id");
    int64_t stage = sys_jint(a, "stageId");
    json_decref(a);
    json_decref(b);
    json_decref(c);

    /* own-leads: their own and unassigned ones, never another's, anywhere */
    json_decref(OK(own1, P("GetLead"), "{\"id\":\"%lld\"}", (long long)A));
    json_decref(OK(own1, P("GetLead"), "{\"id\":\"%lld\"}", (long long)C));
    ERR(CODE(NOT_FOUND), "id", own1, P("GetLead"), "{\"id\":\"%lld\"}", (long long)B);
    ERR(CODE(NOT_FOUND), "id", own1, P("UpdateLead"), "{\"id\":\"%lld\",\"name\":\"x\"}", (long long)B);
    ERR(CODE(NOT_FOUND), "id", own1, P("MarkWon"), "{\"id\":\"%lld\"}", (long long)B);
    ERR(CODE(NOT_FOUND), "id", own1, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)B);
    ERR(CODE(NOT_FOUND), "id", own1, P("ConvertLead"), "{\"id\":\"%lld\"}", (long long)B);
    ERR(CODE(NOT_FOUND), "opportunityId", own1, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)B);
    json_t *l1 = OK(own1, P("ListLeads"), "{\"teamId\":\"%lld\"}", (long long)t);
    assert_true(list_has(l1, A) && list_has(l1, C) && !list_has(l1, B));
    json_decref(l1);
    l1 = OK(own1, P("ListLeads"), "{\"query\":\"b\"}");
    assert_false(list_has(l1, B));
    json_decref(l1);
    l1 = OK(own1, P("ListLeads"), "{\"salespersonId\":\"%lld\"}", (long long)own2_id);
    assert_int_equal(lead_count(l1), 0);
    json_decref(l1);
    json_t *p1 = OK(own1, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)t);
    json_t *col = column(p1, stage);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 10100);
    assert_false(column_has(col, B));
    json_decref(p1);
    p1 = OK(own1, P("GetPipeline"), "{\"teamId\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)t, (long long)own2_id);
    assert_int_equal(sys_jint(column(p1, stage), "count"), 0);
    json_decref(p1);
    /* own-leads can't hand a lead to someone else, nor create one for them */
    ERR(CODE(PERMISSION_DENIED), "salespersonId", own1, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}",
        (long long)C, (long long)own2_id);
    ERR(CODE(PERMISSION_DENIED), "salespersonId", own1, P("CreateLead"), "{\"name\":\"x\",\"salespersonId\":\"%lld\"}",
        (long long)own2_id);
    json_t *mine = OK(own1, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)C, (long long)own1_id);
    json_decref(mine);
    ERR(CODE(NOT_FOUND), "id", own2, P("GetLead"), "{\"id\":\"%lld\"}", (long long)C); /* now own1's */
    /* customers: own-leads change their own and nobody's, never another
     * salesperson's, so they cannot take one over either */
    json_t *cu2 = OK(admin, P("CreateCustomer"), "{\"name\":\"Of own2\",\"salespersonId\":\"%lld\"}", (long long)own2_id);
    json_t *cu0 = OK(admin, P("CreateCustomer"), "{\"name\":\"Of nobody\"}");
    int64_t CU2 = sys_jint(cu2, "id"), CU0 = sys_jint(cu0, "id");
    json_decref(cu2);
    json_decref(cu0);
    /* a new customer is its creator's: given to nobody afterwards */
    json_decref(OK(admin, P("UpdateCustomer"), "{\"id\":\"%lld\",\"salespersonId\":\"0\",\"updateMask\":\"salespersonId\"}",
                   (long long)CU0));
    ERR(CODE(PERMISSION_DENIED), "id", own1, P("UpdateCustomer"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}",
        (long long)CU2, (long long)own1_id);
    ERR(CODE(PERMISSION_DENIED), "id", own1, P("UpdateCustomer"), "{\"id\":\"%lld\",\"phone\":\"+1 555\"}",
        (long long)CU2);
    json_t *cu = OK(own1, P("GetCustomer"), "{\"id\":\"%lld\"}", (long long)CU2);
    assert_int_equal(sys_jint(cu, "salespersonId"), own2_id);
    assert_string_equal(sys_jstr(cu, "phone"), "");
    json_decref(cu);
    json_decref(OK(own2, P("UpdateCustomer"), "{\"id\":\"%lld\",\"phone\":\"+1 555\"}", (long long)CU2));
    cu = OK(own1, P("UpdateCustomer"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)CU0, (long long)own1_id);
    assert_int_equal(sys_jint(cu, "salespersonId"), own1_id);
    json_decref(cu);
    ERR(CODE(PERMISSION_DENIED), "id", own2, P("UpdateCustomer"), "{\"id\":\"%lld\",\"name\":\"Mine now\"}",
        (long long)CU0); /* now own1's */
    json_decref(OK(all, P("UpdateCustomer"), "{\"id\":\"%lld\",\"city\":\"Ghent\"}", (long long)CU2));

    /* configuration and reports are the managers' */
    ERR(CODE(PERMISSION_DENIED), NULL, own1, P("PipelineReport"), "{}");
    ERR(CODE(PERMISSION_DENIED), NULL, own1, P("CreateStage"), "{\"name\":\"x\"}");
    ERR(CODE(PERMISSION_DENIED), NULL, own1, P("CreateTag"), "{\"name\":\"x\"}");
    ERR(CODE(PERMISSION_DENIED), NULL, own1, P("CreateLostReason"), "{\"name\":\"x\"}");

    /* all leads: everything, but no configuration or reports */
    json_decref(OK(all, P("GetLead"), "{\"id\":\"%lld\"}", (long long)B));
    json_t *pa = OK(all, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)t);
    assert_int_equal(sys_jint(column(pa, stage), "count"), 3);
    assert_int_equal(sys_jint(column(pa, stage), "expectedRevenue"), 11100);
    json_decref(pa);
    ERR(CODE(PERMISSION_DENIED), NULL, all, P("PipelineReport"), "{}");
    ERR(CODE(PERMISSION_DENIED), NULL, all, P("UpdateStage"), "{\"id\":\"%lld\",\"name\":\"x\"}", (long long)stage);

    /* managers: reports */
    json_t *rep = OK(mgr, P("PipelineReport"), "{\"groupBy\":\"GROUP_BY_SALESPERSON\",\"teamId\":\"%lld\"}", (long long)t);
    json_t *rows = json_object_get(rep, "rows");
    assert_int_equal(json_array_size(rows), 2); /* own1 (A and C) and own2 (B) */
    int64_t total = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) total += sys_jint(row, "count");
    assert_int_equal(total, 3);
    json_decref(rep);

    /* no sales access: nothing at all */
    const char *methods[] = {"ListLeads", "GetPipeline", "ListStages", "ListCustomers", "ListTags",
                             "ListLostReasons", "ListQuotations", "CreateLead", "CreateCustomer", "PipelineReport"};
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
        char name[128];
        snprintf(name, sizeof name, P("%s"), methods[m]);
        ERR(CODE(PERMISSION_DENIED), NULL, none, name, "{}");
    }
    ERR(CODE(PERMISSION_DENIED), NULL, none, P("GetLead"), "{\"id\":\"%lld\"}", (long long)A);
    free(own1);
    free(own2);
    free(all);
    free(mgr);
    free(none);
}

/* --- bad input -------------------------------------------------------------------- */

static int64_t total_leads(void)
{
    int64_t n = 0;
    char token[64] = "";
    for (;;) {
        json_t *r = OK(admin, P("ListLeads"), "{\"pageSize\":500,\"pageToken\":\"%s\"}", token);
        n += lead_count(r);
        snprintf(token, sizeof token, "%s", sys_jstr(r, "nextPageToken"));
        json_decref(r);
        if (!token[0])
            return n;
    }
}

static void test_bad_input(void **state)
{
    int64_t before = total_leads();
    char long_name[300];
    memset(long_name, 'n', 257);
    long_name[257] = '\0';
    ERR(CODE(INVALID_ARGUMENT), "name", admin, P("CreateLead"), "{}");
    ERR(CODE(INVALID_ARGUMENT), "name", admin, P("CreateLead"), "{\"name\":\"%s\"}", long_name);
    ERR(CODE(INVALID_ARGUMENT), "probability", admin, P("CreateLead"), "{\"name\":\"x\",\"probability\":101}");
    ERR(CODE(INVALID_ARGUMENT), "probability", admin, P("CreateLead"), "{\"name\":\"x\",\"probability\":-1}");
    ERR(CODE(INVALID_ARGUMENT), "expectedRevenue", admin, P("CreateLead"), "{\"name\":\"x\",\"expectedRevenue\":\"-5\"}");
    ERR(CODE(INVALID_ARGUMENT), "currency", admin, P("CreateLead"), "{\"name\":\"x\",\"currency\":\"eur\"}");
    ERR(CODE(INVALID_ARGUMENT), "currency", admin, P("CreateLead"), "{\"name\":\"x\",\"currency\":\"EURO\"}");
    ERR(CODE(INVALID_ARGUMENT), "expectedClosing", admin, P("CreateLead"), "{\"name\":\"x\",\"expectedClosing\":\"2026-02-30\"}");
    ERR(CODE(INVALID_ARGUMENT), "nextActionDate", admin, P("CreateLead"), "{\"name\":\"x\",\"nextActionDate\":\"tomorrow\"}");
    ERR(CODE(INVALID_ARGUMENT), "email", admin, P("CreateLead"), "{\"name\":\"x\",\"email\":\"not mail\"}");
    ERR(CODE(NOT_FOUND), "customerId", admin, P("CreateLead"), "{\"name\":\"x\",\"customerId\":\"999999\"}");
    ERR(CODE(NOT_FOUND), "tagIds", admin, P("CreateLead"), "{\"name\":\"x\",\"tagIds\":[\"999999\"]}");
    ERR(CODE(NOT_FOUND), "stageId", admin, P("CreateLead"), "{\"name\":\"x\",\"stageId\":\"999999\"}");
    ERR(CODE(INVALID_ARGUMENT), "salespersonId", admin, P("CreateLead"), "{\"name\":\"x\",\"salespersonId\":\"999999\"}");
    ERR(CODE(INVALID_ARGUMENT), "teamId", admin, P("CreateLead"), "{\"name\":\"x\",\"teamId\":\"999999\"}");
    ERR(CODE(INVALID_ARGUMENT), "priority", admin, P("CreateLead"), "{\"name\":\"x\",\"priority\":9}");
    ERR(CODE(INVALID_ARGUMENT), "type", admin, P("CreateLead"), "{\"name\":\"x\",\"type\":7}");
    /* a lead-only stage for an opportunity */
    json_t *ls = OK(admin, P("CreateStage"), "{\"name\":\"Lead only\",\"type\":\"STAGE_TYPE_LEAD\"}");
    ERR(CODE(INVALID_ARGUMENT), "stageId", admin, P("CreateLead"), "{\"name\":\"x\",\"type\":2,\"stageId\":\"%lld\"}",
        (long long)sys_jint(ls, "id"));
    json_decref(ls);
    ERR(CODE(INVALID_ARGUMENT), "name", admin, P("CreateCustomer"), "{}");
    ERR(CODE(NOT_FOUND), "parentId", admin, P("CreateCustomer"), "{\"name\":\"x\",\"parentId\":\"999999\"}");
    ERR(CODE(INVALID_ARGUMENT), "updateMask", admin, P("UpdateLead"), "{\"id\":\"1\",\"updateMask\":\"createdAt\"}");
    ERR(CODE(INVALID_ARGUMENT), "probability", admin, P("CreateStage"), "{\"name\":\"x\",\"probability\":200}");
    ERR(CODE(INVALID_ARGUMENT), "from", admin, P("PipelineReport"), "{\"from\":\"2026-13-01\"}");
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, P("ListLeads"), "{\"pageToken\":\"forged\"}");
    ERR(CODE(INVALID_ARGUMENT), "cardsPerColumn", admin, P("GetPipeline"), "{\"cardsPerColumn\":-1}");
    /* an update that fails changes nothing */
    json_t *ok = OK(admin, P("CreateLead"), "{\"name\":\"Keep me\",\"expectedRevenue\":\"500\"}");
    int64_t id = sys_jint(ok, "id");
    json_decref(ok);
    ERR(CODE(INVALID_ARGUMENT), "probability", admin, P("UpdateLead"),
        "{\"id\":\"%lld\",\"name\":\"Changed\",\"expectedRevenue\":\"900\",\"probability\":500}", (long long)id);
    json_t *still = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(still, "name"), "Keep me");
    assert_int_equal(sys_jint(still, "expectedRevenue"), 500);
    json_decref(still);
    /* a stage that holds leads stays */
    json_t *got = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    ERR(CODE(FAILED_PRECONDITION), "id", admin, P("DeleteStage"), "{\"id\":\"%lld\"}", (long long)sys_jint(got, "stageId"));
    json_decref(got);
    assert_int_equal(total_leads(), before + 1);
}

/* --- read your writes across services (see ARCHITECTURE.md, Read-your-writes marks) --- */

static void test_read_your_writes(void **state)
{
    /* pipeline is frozen while identity creates the user, so when it wakes its
     * read model lags; the call carrying the session's mark must wait for it */
    for (int round = 0; round < 5; round++) {
        kill(env->pid[SYS_PIPELINE], SIGSTOP);
        char login[32];
        snprintf(login, sizeof login, "fresh%d", round);
        json_t *u = OK(admin, I("CreateUser"), "{\"login\":\"%s\",\"name\":\"Fresh\",\"salesAccess\":\"SALES_ACCESS_OWN_LEADS\"}", login);
        int64_t id = sys_jint(u, "user.id");
        json_decref(u);
        kill(env->pid[SYS_PIPELINE], SIGCONT);
        json_t *l = OK(admin, P("CreateLead"), "{\"name\":\"For the new one\",\"salespersonId\":\"%lld\"}", (long long)id);
        assert_int_equal(sys_jint(l, "salespersonId"), id);
        json_decref(l);
    }
}

/* --- durability ----------------------------------------------------------------- */

#define WRITES 300

/* Retries a write through outages with one idempotency key. Child only. */
static json_t *retry_write(sys_env_t *e, const char *token, const char *method, const char *key, const char *body)
{
    int64_t until = sys_now_ms() + 30000;
    while (sys_now_ms() < until) {
        crm_status_t st;
        const ProtobufCServiceDescriptor *svc;
        const ProtobufCMethodDescriptor *m = crm_services_find(method, &svc);
        ProtobufCMessage *in = crm_json_decode(m->input, body, strlen(body), CRM_JSON_FILL_UPDATE_MASK, NULL, &st);
        if (!in)
            return NULL;
        ProtobufCMessage *out = sys_call_idem(e, method, token, key, in, m->output, &st);
        protobuf_c_message_free_unpacked(in, NULL);
        if (out) {
            char *text = crm_json_encode(out, NULL);
            protobuf_c_message_free_unpacked(out, NULL);
            json_t *j = json_loads(text, 0, NULL);
            free(text);
            return j;
        }
        if (st.code != CODE(UNAVAILABLE)) {
            fprintf(stderr, "%s: %s %s\n", method, crm_code_name(st.code), st.message);
            return NULL;
        }
        usleep(20000);
    }
    return NULL;
}

/* Creates WRITES leads (every third moved to another stage), writing each
 * acknowledged id to fd. */
static void writer(sys_env_t *e, int fd, int64_t moved_stage)
{
    e->client = crm_client_new(e->zmq);
    crm_status_t st;
    char *token = sys_login(e, "admin", SYS_ADMIN_PASSWORD, &st);
    if (!token)
        _exit(1);
    for (int i = 0; i < WRITES; i++) {
        char key[32], body[256];
        snprintf(key, sizeof key, "lead-%d", i);
        snprintf(body, sizeof body, "{\"name\":\"Lead %d\",\"type\":%d,\"expectedRevenue\":\"%d\",\"probability\":%d}",
                 i, i % 2 + 1, i * 100, i % 100);
        json_t *l = retry_write(e, token, P("CreateLead"), key, body);
        if (!l)
            _exit(2);
        int64_t id = sys_jint(l, "id");
        json_decref(l);
        if (i % 3 == 0 && i % 2 == 1) {
            snprintf(key, sizeof key, "move-%d", i);
            snprintf(body, sizeof body, "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)id, (long long)moved_stage);
            json_t *m = retry_write(e, token, P("UpdateLead"), key, body);
            if (!m)
                _exit(3);
            json_decref(m);
        }
        dprintf(fd, "%lld\n", (long long)id);
    }
    free(token);
    _exit(0);
}

/* Every count and sum of the global kanban equals a recount of the leads. */
static void assert_kanban_matches_recount(sys_env_t *e, const char *token)
{
    for (int type = 1; type <= 2; type++) {
        crm_status_t st;
        json_t *pipe = sys_jcall(e, P("GetPipeline"), token, &st, "{\"type\":%d,\"cardsPerColumn\":1}", type);
        assert_non_null(pipe);
        json_t *cols = json_object_get(pipe, "columns"), *col;
        size_t i;
        json_array_foreach(cols, i, col) {
            int64_t stage = sys_jint(col, "stage.id"), count = 0, revenue = 0, weighted = 0;
            char page[64] = "";
            do {
                json_t *r = sys_jcall(e, P("ListLeads"), token, &st,
                                      "{\"stageId\":\"%lld\",\"type\":%d,\"teamId\":\"0\",\"pageSize\":500,\"pageToken\":\"%s\"}",
                                      (long long)stage, type, page);
                assert_non_null(r);
                json_t *leads = json_object_get(r, "leads"), *l;
                size_t j;
                json_array_foreach(leads, j, l) if (sys_jint(l, "teamId") == 0) {
                    count++;
                    revenue += sys_jint(l, "expectedRevenue");
                    weighted += sys_jint(l, "expectedRevenue") * sys_jint(l, "probability") / 100;
                }
                snprintf(page, sizeof page, "%s", sys_jstr(r, "nextPageToken"));
                json_decref(r);
            } while (page[0]);
            assert_int_equal(sys_jint(col, "count"), count);
            assert_int_equal(sys_jint(col, "expectedRevenue"), revenue);
            assert_int_equal(sys_jint(col, "weightedRevenue"), weighted);
        }
        json_decref(pipe);
    }
}

static void test_kill_during_writes_and_restart(void **state)
{
    char *token;
    sys_env_t *e = sys_start_admin(NULL, &token);
    assert_non_null(e);
    crm_status_t st;
    json_t *stages = sys_jcall(e, P("ListStages"), token, &st, "{\"type\":2}");
    assert_non_null(stages);
    int64_t moved = sys_jint(json_array_get(json_object_get(stages, "stages"), 2), "id");
    json_decref(stages);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        writer(e, fds[1], moved);
    }
    close(fds[1]);
    /* kill -9 while the writer is mid-stream: after the 80th and the 180th
     * acknowledgement, wherever the pipeline is in its batch */
    FILE *acked = fdopen(fds[0], "r");
    int64_t ids[WRITES];
    long long id;
    int n = 0;
    while (n < WRITES && fscanf(acked, "%lld", &id) == 1) {
        ids[n++] = id;
        if (n == 80 || n == 180) {
            assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGKILL), 0);
            assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
        }
    }
    fclose(acked);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, WRITES);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);

    /* every acknowledged write is there, once */
    for (int i = 0; i < n; i++) {
        json_t *l = sys_jcall(e, P("GetLead"), token, &st, "{\"id\":\"%lld\"}", (long long)ids[i]);
        if (!l)
            fail_msg("acknowledged lead %lld is gone: %s", (long long)ids[i], st.message);
        json_decref(l);
    }
    json_t *all = sys_jcall(e, P("ListLeads"), token, &st, "{\"pageSize\":500}");
    assert_int_equal(json_array_size(json_object_get(all, "leads")), WRITES);
    json_decref(all);
    assert_kanban_matches_recount(e, token);

    /* a clean restart keeps everything */
    json_t *before = sys_jcall(e, P("GetPipeline"), token, &st, "{\"type\":2}");
    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGTERM), 0);
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);
    json_t *after = sys_jcall(e, P("GetPipeline"), token, &st, "{\"type\":2}");
    assert_non_null(after);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

/* --- a store of schema 1 ------------------------------------------------------------- */

/* Puts the users table back as schema 1 wrote it (UserInfoSchema1: teams
 * where is_admin is now, an administrator's level raised to manager) and
 * the schema version with it. */
static int write_schema1_users(MDB_txn *txn, void *arg)
{
    crm_store_t *store = arg;
    MDB_dbi users;
    MDB_cursor *cur;
    int rc = mdb_dbi_open(txn, "users", 0, &users);
    if (rc || (rc = mdb_cursor_open(txn, users, &cur)) != 0)
        return rc;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Common__V1__UserInfo *u = crm__common__v1__user_info__unpack(NULL, d.mv_size, d.mv_data);
        assert_non_null(u);
        Crm__Pipeline__V1__UserInfoSchema1 old = CRM__PIPELINE__V1__USER_INFO_SCHEMA1__INIT;
        old.id = u->id;
        old.name = u->name;
        old.active = u->active;
        old.sales_access = u->is_admin ? CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER : u->sales_access;
        old.team_ids = u->team_ids;
        old.n_team_ids = u->n_team_ids;
        uint8_t buf[512], key[8];
        assert_true(crm__pipeline__v1__user_info_schema1__get_packed_size(&old) <= sizeof buf);
        MDB_val v = {crm__pipeline__v1__user_info_schema1__pack(&old, buf), buf};
        /* a record of another size is moved within the page: the key
         * must not point into it */
        assert_int_equal(k.mv_size, sizeof key);
        memcpy(key, k.mv_data, sizeof key);
        k.mv_data = key;
        rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
        crm__common__v1__user_info__free_unpacked(u, NULL);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* kanban cells as schemas 1 and 2 kept them: every currency in one sum */
    MDB_dbi kanban;
    if ((rc = mdb_dbi_open(txn, "kanban", 0, &kanban)) != 0 || (rc = mdb_cursor_open(txn, kanban, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Pipeline__V1__KanbanCell *cell = crm__pipeline__v1__kanban_cell__unpack(NULL, d.mv_size, d.mv_data);
        assert_non_null(cell);
        Crm__Pipeline__V1__KanbanCell old = CRM__PIPELINE__V1__KANBAN_CELL__INIT;
        old.count = cell->count;
        for (size_t i = 0; i < cell->n_currencies; i++) {
            old.expected_revenue += cell->currencies[i]->expected_revenue;
            old.weighted_revenue += cell->currencies[i]->weighted_revenue;
        }
        uint8_t buf[64];
        MDB_val v = {crm__pipeline__v1__kanban_cell__pack(&old, buf), buf};
        rc = mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
        crm__pipeline__v1__kanban_cell__free_unpacked(cell, NULL);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    return crm_store_meta_put_u64(store, txn, "schema_version", 1);
}

/* A pipeline store written by schema 1 is read as it was meant after the
 * upgrade: a user without sales access who belongs to a team stays without
 * (read as today's record, schema 1's teams would make them an
 * administrator), names and levels hold. */
static void test_upgrade_from_schema1(void **state)
{
    char *token;
    sys_env_t *e = sys_start_admin(NULL, &token);
    assert_non_null(e);
    sys_env_t *env = e;
    int64_t ann, hr = sys_create_user(e, token, "hr", "hr-pass-1", 0, 0);
    char *ann_token = sys_new_sales_user(e, token, "ann", "Ann Upgrade", "SALES_ACCESS_OWN_LEADS", &ann);
    assert_true(hr > 0);
    json_t *team = OK(token, I("CreateTeam"), "{\"name\":\"Back office\",\"memberIds\":[\"%lld\",\"%lld\"]}",
                      (long long)hr, (long long)ann);
    int64_t team_id = sys_jint(team, "id");
    json_decref(team);
    json_t *eur = OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"E\",\"teamId\":\"%lld\",\"expectedRevenue\":\"700\",\"currency\":\"EUR\"}",
                     (long long)team_id);
    int64_t stage = sys_jint(eur, "stageId");
    json_decref(eur);
    json_decref(OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"U\",\"teamId\":\"%lld\",\"expectedRevenue\":\"900\",\"currency\":\"USD\"}",
                   (long long)team_id));
    ERR(CODE(INVALID_ARGUMENT), "salespersonId", token, P("CreateLead"), "{\"name\":\"X\",\"salespersonId\":\"%lld\"}",
        (long long)hr);

    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pipeline", e->dir);
    const char *err;
    MDB_dbi users, kanban;
    const crm_store_dbi_t dbis[] = {{"users", 0, &users}, {"kanban", 0, &kanban}};
    crm_store_t *store = crm_store_open(dir, dbis, 2, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, write_schema1_users, store), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);

    ERR(CODE(INVALID_ARGUMENT), "salespersonId", token, P("CreateLead"), "{\"name\":\"X\",\"salespersonId\":\"%lld\"}",
        (long long)hr);
    json_t *l = OK(ann_token, P("CreateLead"), "{\"name\":\"Mine\",\"salespersonId\":\"%lld\"}", (long long)ann);
    json_decref(l);
    json_t *report = OK(token, P("PipelineReport"), "{\"groupBy\":\"GROUP_BY_SALESPERSON\"}");
    char *text = json_dumps(report, 0);
    assert_non_null(strstr(text, "Ann Upgrade")); /* names come from the users table */
    free(text);
    json_decref(report);
    /* the cells were summed again per currency */
    json_t *b = OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team_id);
    json_t *col = column(b, stage);
    assert_int_equal(sys_jint(col, "count"), 2);
    assert_int_equal(sys_jint(col, "expectedRevenue"), 0);
    assert_int_equal(total_of(col, "EUR", "expectedRevenue"), 700);
    assert_int_equal(total_of(col, "USD", "expectedRevenue"), 900);
    json_decref(b);
    free(ann_token);
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

/* --- a kanban cell's sums past 64 bits ------------------------------------------------ */

/* Raises every EUR revenue of team's kanban cells to just under 2^63, as
 * about a million of the largest leads in one cell would. */
static int inflate_cells(MDB_txn *txn, void *arg)
{
    int64_t team = *(const int64_t *)arg;
    uint8_t prefix[8];
    crm_key_put_u64(prefix, (uint64_t)team);
    MDB_dbi kanban;
    MDB_cursor *cur;
    int rc = mdb_dbi_open(txn, "kanban", 0, &kanban);
    if (rc || (rc = mdb_cursor_open(txn, kanban, &cur)) != 0)
        return rc;
    MDB_val k = {sizeof prefix, prefix}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && !memcmp(k.mv_data, prefix, sizeof prefix);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Pipeline__V1__KanbanCell *cell = crm__pipeline__v1__kanban_cell__unpack(NULL, d.mv_size, d.mv_data);
        assert_non_null(cell);
        for (size_t i = 0; i < cell->n_currencies; i++)
            if (!strcmp(cell->currencies[i]->currency, "EUR"))
                cell->currencies[i]->expected_revenue = INT64_MAX - 100;
        uint8_t buf[512];
        assert_true(crm__pipeline__v1__kanban_cell__get_packed_size(cell) <= sizeof buf);
        MDB_val v = {crm__pipeline__v1__kanban_cell__pack(cell, buf), buf};
        uint8_t key[64];
        assert_true(k.mv_size <= sizeof key);
        memcpy(key, k.mv_data, k.mv_size);
        MDB_val kc = {k.mv_size, key};
        rc = mdb_put(txn, kanban, &kc, &v, 0);
        crm__pipeline__v1__kanban_cell__free_unpacked(cell, NULL);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* A lead whose revenue would carry its cell's sum past 64 bits is refused
 * with OUT_OF_RANGE naming expectedRevenue, and nothing of it is stored. */
static void test_cell_sum_overflow(void **state)
{
    char *token;
    sys_env_t *e = sys_start_admin(NULL, &token);
    assert_non_null(e);
    sys_env_t *env = e;
    json_t *tm = OK(token, I("CreateTeam"), "{\"name\":\"Overflow\"}");
    int64_t team = sys_jint(tm, "id");
    json_decref(tm);
    json_t *l = OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Big\",\"teamId\":\"%lld\",\"expectedRevenue\":\"700\",\"currency\":\"EUR\"}",
                   (long long)team);
    int64_t stage = sys_jint(l, "stageId");
    json_decref(l);

    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pipeline", e->dir);
    const char *err;
    MDB_dbi kanban;
    const crm_store_dbi_t dbis[] = {{"kanban", 0, &kanban}};
    crm_store_t *store = crm_store_open(dir, dbis, 1, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, inflate_cells, &team), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);

    ERR(CODE(OUT_OF_RANGE), "expectedRevenue", token, P("CreateLead"),
        "{\"type\":2,\"name\":\"Bigger\",\"teamId\":\"%lld\",\"expectedRevenue\":\"700\",\"currency\":\"EUR\"}", (long long)team);
    json_t *b = OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    json_t *col = column(b, stage);
    assert_int_equal(sys_jint(col, "count"), 1);
    assert_int_equal(json_array_size(json_object_get(col, "leads")), 1);
    assert_int_equal(total_of(col, "EUR", "expectedRevenue"), INT64_MAX - 100);
    json_decref(b);
    /* another currency in the same cell has its own sum */
    json_decref(OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Dollar\",\"teamId\":\"%lld\",\"expectedRevenue\":\"700\",\"currency\":\"USD\"}",
                   (long long)team));
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

/* --- a filtered board's reads ---------------------------------------------------------- */

/* A board filtered by text or tag reads leads (no cell knows the filter):
 * past --board-filter-reads it is refused with RESOURCE_EXHAUSTED, never
 * given with cut totals; narrowed to a salesperson it is answered, and the
 * unfiltered board, from the cells, does not count. */
static void test_board_filter_bounded(void **state)
{
    static const char *const extra[] = {"CRM_BOARD_FILTER_READS=10", NULL};
    char *token;
    sys_env_t *e = sys_start_admin(extra, &token);
    assert_non_null(e);
    sys_env_t *env = e;
    int64_t ann;
    char *ann_token = sys_new_sales_user(e, token, "ann.filter", "Ann Filter", "SALES_ACCESS_ALL_LEADS", &ann);
    free(ann_token);
    json_t *tm = OK(token, I("CreateTeam"), "{\"name\":\"Filtered\",\"memberIds\":[\"%lld\"]}", (long long)ann);
    int64_t team = sys_jint(tm, "id");
    json_decref(tm);
    /* 4 leads: at most 8 reads (totals, then the page) */
    for (int i = 0; i < 4; i++)
        json_decref(OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Needle %d\",\"teamId\":\"%lld\"}", i, (long long)team));
    json_t *b = OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\",\"query\":\"needle\"}", (long long)team);
    json_decref(b);
    for (int i = 4; i < 6; i++)
        json_decref(OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Needle %d\",\"teamId\":\"%lld\"}", i, (long long)team));
    ERR(CODE(RESOURCE_EXHAUSTED), "query", token, P("GetPipeline"), "{\"teamId\":\"%lld\",\"query\":\"needle\"}", (long long)team);
    json_t *tag = OK(token, P("CreateTag"), "{\"name\":\"bounded\"}");
    ERR(CODE(RESOURCE_EXHAUSTED), "tagId", token, P("GetPipeline"), "{\"teamId\":\"%lld\",\"tagId\":\"%lld\"}", (long long)team,
        (long long)sys_jint(tag, "id"));
    json_decref(tag);
    json_decref(OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Needle of Ann\",\"teamId\":\"%lld\",\"salespersonId\":\"%lld\"}",
                   (long long)team, (long long)ann));
    b = OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\",\"query\":\"needle\",\"salespersonId\":\"%lld\"}", (long long)team,
           (long long)ann);
    assert_int_equal(sys_jint(json_array_get(json_object_get(b, "columns"), 0), "count"), 1);
    json_decref(b);
    b = OK(token, P("GetPipeline"), "{\"teamId\":\"%lld\"}", (long long)team);
    assert_int_equal(sys_jint(json_array_get(json_object_get(b, "columns"), 0), "count"), 7);
    json_decref(b);
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

/* --- a name that cannot be read ------------------------------------------------------- */

static int break_record(MDB_txn *txn, void *arg)
{
    MDB_dbi customers;
    int rc = mdb_dbi_open(txn, "customers", 0, &customers);
    if (rc)
        return rc;
    uint8_t key[8], junk[] = {0xff, 0xff, 0xff};
    crm_key_put_u64(key, (uint64_t)*(const int64_t *)arg);
    MDB_val k = {sizeof key, key}, v = {sizeof junk, junk};
    return mdb_put(txn, customers, &k, &v, 0);
}

/* A lead's customer that cannot be read fails the read with a storage
 * error: the card is not shown as if it had no customer. */
static void test_names_unreadable(void **state)
{
    char *token;
    sys_env_t *e = sys_start_admin(NULL, &token);
    assert_non_null(e);
    sys_env_t *env = e;
    json_t *c = OK(token, P("CreateCustomer"), "{\"name\":\"Broken Co\"}");
    int64_t cust = sys_jint(c, "id");
    json_decref(c);
    json_t *l = OK(token, P("CreateLead"), "{\"type\":2,\"name\":\"Of Broken Co\",\"customerId\":\"%lld\"}", (long long)cust);
    int64_t id = sys_jint(l, "id");
    json_decref(l);

    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pipeline", e->dir);
    const char *err;
    MDB_dbi customers;
    const crm_store_dbi_t dbis[] = {{"customers", 0, &customers}};
    crm_store_t *store = crm_store_open(dir, dbis, 1, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, break_record, &cust), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);

    ERR(CODE(INTERNAL), NULL, token, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    ERR(CODE(INTERNAL), NULL, token, P("ListLeads"), "{}");
    ERR(CODE(INTERNAL), NULL, token, P("GetPipeline"), "{}");
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

/* --- the schema-3 upgrade cut short -------------------------------------------------- */

/* The whole board of team as JSON, keys sorted (names, cards, totals, version). */
static char *board_text(sys_env_t *e, const char *token, int64_t team)
{
    crm_status_t st;
    json_t *b = sys_jcall(e, P("GetPipeline"), token, &st, "{\"teamId\":\"%lld\",\"cardsPerColumn\":200}", (long long)team);
    assert_non_null(b);
    char *text = json_dumps(b, JSON_SORT_KEYS);
    json_decref(b);
    return text;
}

/* Every column's per-currency totals of team equal a recount of its leads,
 * each lead's weighted revenue rounded alone as the cells do. */
static void assert_totals_match_recount(sys_env_t *e, const char *token, int64_t team)
{
    crm_status_t st;
    json_t *b = sys_jcall(e, P("GetPipeline"), token, &st, "{\"teamId\":\"%lld\",\"cardsPerColumn\":1}", (long long)team);
    assert_non_null(b);
    json_t *col;
    size_t i;
    json_array_foreach(json_object_get(b, "columns"), i, col) {
        json_t *r = sys_jcall(e, P("ListLeads"), token, &st, "{\"stageId\":\"%lld\",\"type\":2,\"teamId\":\"%lld\",\"pageSize\":500}",
                              (long long)sys_jint(col, "stage.id"), (long long)team);
        assert_non_null(r);
        assert_string_equal(sys_jstr(r, "nextPageToken"), "");
        const char *cur[] = {"EUR", "USD", "CNY"};
        for (size_t c = 0; c < 3; c++) {
            int64_t count = 0, revenue = 0, weighted = 0;
            json_t *l;
            size_t j;
            json_array_foreach(json_object_get(r, "leads"), j, l) if (!strcmp(sys_jstr(l, "currency"), cur[c])) {
                count++;
                revenue += sys_jint(l, "expectedRevenue");
                weighted += sys_jint(l, "expectedRevenue") * sys_jint(l, "probability") / 100;
            }
            assert_int_equal(total_of(col, cur[c], "count"), count ? count : -1);
            if (count) {
                assert_int_equal(total_of(col, cur[c], "expectedRevenue"), revenue);
                assert_int_equal(total_of(col, cur[c], "weightedRevenue"), weighted);
            }
        }
        json_decref(r);
    }
    json_decref(b);
}

typedef struct {
    crm_store_t *store;
    int64_t team;       /* cut during kanban_cells: the leads after this team's are not summed yet */
    int during_clear;   /* or cut during kanban_clear: half the cells gone, the rest of schema 2 */
} cut_t;

/* Leaves the store as a schema 2 -> 3 upgrade killed in the middle of one
 * of its two passes would (crm_store_rewrite's progress in meta). */
static int cut_upgrade(MDB_txn *txn, void *arg)
{
    cut_t *c = arg;
    MDB_dbi kanban, leads, meta = crm_store_meta(c->store);
    MDB_cursor *cur;
    int rc;
    if ((rc = mdb_dbi_open(txn, "kanban", 0, &kanban)) != 0 || (rc = mdb_dbi_open(txn, "leads", 0, &leads)) != 0 ||
        (rc = crm_store_meta_put_u64(c->store, txn, "upgrade_from", 2)) != 0)
        return rc;
    MDB_val k, d, pk, pv;
    if (!c->during_clear) {
        /* the leads are summed in id order: those up to the team's last are */
        uint8_t last[8] = {0};
        if ((rc = mdb_cursor_open(txn, leads, &cur)) != 0)
            return rc;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            Crm__Pipeline__V1__Lead *l = crm__pipeline__v1__lead__unpack(NULL, d.mv_size, d.mv_data);
            assert_non_null(l);
            if (l->team_id == c->team)
                memcpy(last, k.mv_data, 8);
            crm__pipeline__v1__lead__free_unpacked(l, NULL);
        }
        mdb_cursor_close(cur);
        if ((rc = mdb_cursor_open(txn, kanban, &cur)) != 0)
            return rc;
        uint8_t prefix[8];
        crm_key_put_u64(prefix, (uint64_t)c->team);
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
            if (memcmp(k.mv_data, prefix, 8) && (rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        mdb_cursor_close(cur);
        if (rc != MDB_NOTFOUND)
            return rc;
        pk = (MDB_val){strlen("upgrade.kanban_clear"), "upgrade.kanban_clear"};
        pv = (MDB_val){0, ""};
        if ((rc = mdb_put(txn, meta, &pk, &pv, 0)) != 0)
            return rc;
        pk = (MDB_val){strlen("upgrade.kanban_cells"), "upgrade.kanban_cells"};
        pv = (MDB_val){8, last};
        return mdb_put(txn, meta, &pk, &pv, 0);
    }
    /* schema 2's cells, the first half of them already cleared */
    size_t n = 0, i = 0;
    MDB_stat stat;
    if ((rc = mdb_stat(txn, kanban, &stat)) != 0 || (rc = mdb_cursor_open(txn, kanban, &cur)) != 0)
        return rc;
    n = stat.ms_entries;
    assert_true(n >= 4);
    uint8_t last[64];
    size_t last_len = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT), i++) {
        if (i < n / 2) {
            assert_true(k.mv_size <= sizeof last);
            memcpy(last, k.mv_data, k.mv_size);
            last_len = k.mv_size;
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            continue;
        }
        Crm__Pipeline__V1__KanbanCell *cell = crm__pipeline__v1__kanban_cell__unpack(NULL, d.mv_size, d.mv_data);
        assert_non_null(cell);
        Crm__Pipeline__V1__KanbanCell old = CRM__PIPELINE__V1__KANBAN_CELL__INIT;
        old.count = cell->count;
        for (size_t t = 0; t < cell->n_currencies; t++) {
            old.expected_revenue += cell->currencies[t]->expected_revenue;
            old.weighted_revenue += cell->currencies[t]->weighted_revenue;
        }
        crm__pipeline__v1__kanban_cell__free_unpacked(cell, NULL);
        uint8_t buf[64], key[64];
        MDB_val v = {crm__pipeline__v1__kanban_cell__pack(&old, buf), buf};
        /* the key out of LMDB's page, which the put may move */
        assert_true(k.mv_size <= sizeof key);
        memcpy(key, k.mv_data, k.mv_size);
        MDB_val kc = {k.mv_size, key};
        if ((rc = mdb_put(txn, kanban, &kc, &v, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    pk = (MDB_val){strlen("upgrade.kanban_clear"), "upgrade.kanban_clear"};
    pv = (MDB_val){last_len, last};
    return mdb_put(txn, meta, &pk, &pv, 0);
}

static void restart_cut(sys_env_t *e, cut_t *c)
{
    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/pipeline", e->dir);
    const char *err;
    MDB_dbi kanban, leads;
    const crm_store_dbi_t dbis[] = {{"kanban", 0, &kanban}, {"leads", 0, &leads}};
    c->store = crm_store_open(dir, dbis, 2, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(c->store);
    assert_int_equal(crm_store_write(c->store, cut_upgrade, c), 0);
    crm_store_close(&c->store);
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 15000), 0);
}

/* The schema-3 upgrade taken up again after a kill in either of its passes
 * ends with the very boards a fresh computation gave, per currency. */
static void test_upgrade_cut_short(void **state)
{
    char *token;
    sys_env_t *e = sys_start_admin(NULL, &token);
    assert_non_null(e);
    sys_env_t *env = e;
    int64_t teams[2];
    const char *cur[] = {"EUR", "USD", "CNY"};
    for (int t = 0; t < 2; t++) {
        json_t *tm = OK(token, I("CreateTeam"), "{\"name\":\"Cut %d\"}", t);
        teams[t] = sys_jint(tm, "id");
        json_decref(tm);
        json_t *st = OK(token, P("ListStages"), "{\"teamId\":\"%lld\"}", (long long)teams[t]), *sg;
        int64_t proposition = 0;
        size_t k;
        json_array_foreach(json_object_get(st, "stages"), k, sg) if (!strcmp(sys_jstr(sg, "name"), "Proposition"))
            proposition = sys_jint(sg, "id");
        json_decref(st);
        assert_true(proposition > 0);
        for (int i = 0; i < 9; i++) {
            /* 333 at 33%: 109.89 each, rounded alone */
            json_t *l = OK(token, P("CreateLead"),
                           "{\"type\":2,\"name\":\"Cut %d.%d\",\"teamId\":\"%lld\",\"expectedRevenue\":\"%d\",\"currency\":\"%s\",\"probability\":33}",
                           t, i, (long long)teams[t], 333 * (i + 1), cur[i % 3]);
            if (i % 2)
                json_decref(OK(token, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"probability\":33,\"updateMask\":\"stageId,probability\"}",
                               (long long)sys_jint(l, "id"), (long long)proposition));
            json_decref(l);
        }
    }
    char *fresh[2];
    for (int t = 0; t < 2; t++) {
        assert_totals_match_recount(e, token, teams[t]);
        fresh[t] = board_text(e, token, teams[t]);
    }
    cut_t cut = {NULL, teams[0], 0};
    for (int pass = 0; pass < 2; pass++) {
        cut.during_clear = pass;
        restart_cut(e, &cut);
        for (int t = 0; t < 2; t++) {
            char *now = board_text(e, token, teams[t]);
            assert_string_equal(now, fresh[t]);
            free(now);
            assert_totals_match_recount(e, token, teams[t]);
        }
    }
    free(fresh[0]);
    free(fresh[1]);
    free(token);
    assert_int_equal(sys_stop(e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walkthrough),
        cmocka_unit_test(test_access_matrix),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_read_your_writes),
        cmocka_unit_test(test_board_names),
        cmocka_unit_test(test_board_paging),
        cmocka_unit_test(test_board_paging_under_moves),
        cmocka_unit_test(test_board_version),
        cmocka_unit_test(test_board_version_every_write),
        cmocka_unit_test(test_board_currencies),
        cmocka_unit_test(test_board_many_currencies),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_kill_during_writes_and_restart),
        cmocka_unit_test(test_upgrade_from_schema1),
        cmocka_unit_test(test_cell_sum_overflow),
        cmocka_unit_test(test_upgrade_cut_short),
        cmocka_unit_test(test_board_filter_bounded),
        cmocka_unit_test(test_names_unreadable),
    };
    int failed = cmocka_run_group_tests_name("pipeline", tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("pipeline-durability", own, NULL, NULL);
}
