/* Likely duplicates and MergeLeads through both doors (the ZeroMQ door with
 * the JSON codec, Twirp JSON over HTTP), across pipeline, activities and
 * notifications: duplicates by e-mail, phone and company on create and get
 * and FindDuplicates, never across own-leads visibility; the merge's field
 * rules; chatter, attachments, calls, meetings, quotations and followers
 * moved; the merged leads gone from all three services; own-leads refusals;
 * bad input named by field; exactly once across kill -9 of every service
 * involved, and an idempotent retry after the pipeline's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "crm_store.h"
#include "../../services/pipeline/pipeline.h" /* PIPELINE_SCHEMA */

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define A(m) "crm.activities.v1.Activities/" m
#define N(m) "crm.notifications.v1.Notifications/" m

static sys_env_t *env;
static char *admin;
static char *alice, *olga, *bob, *carl;
static int64_t alice_id, olga_id, bob_id, carl_id;

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    if (!env)
        return -1;
    alice = sys_new_sales_user(env, admin, "alice", "Alice", "SALES_ACCESS_ALL_LEADS", &alice_id);
    olga = sys_new_sales_user(env, admin, "olga", "Olga", "SALES_ACCESS_OWN_LEADS", &olga_id);
    bob = sys_new_sales_user(env, admin, "bob", "Bob", "SALES_ACCESS_ALL_LEADS", &bob_id);
    carl = sys_new_sales_user(env, admin, "carl", "Carl", "SALES_ACCESS_ALL_LEADS", &carl_id);
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(alice);
    free(olga);
    free(bob);
    free(carl);
    int bad = sys_stop(env);
    env = NULL;
    return bad == 0 ? 0 : -1;
}

static int64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* One Twirp JSON call over HTTP (with an idempotency key unless NULL): the
 * status, and the reply or the Twirp error as JSON. */
static json_t *twirp(const char *token, const char *method, const char *idem, int *status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static json_t *twirp(const char *token, const char *method, const char *idem, int *status, const char *fmt, ...)
{
    char body[8192], headers[512], path[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s%s%s", token,
             idem ? "Idempotency-Key: " : "", idem ? idem : "", idem ? "\r\n" : "");
    snprintf(path, sizeof path, "/twirp/%s", method);
    char *out = NULL;
    *status = sys_http(env, "POST", path, headers, body, strlen(body), &out, NULL);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    if (!j)
        fail_msg("%s over HTTP: %d %s", method, *status, out ? out : "(no body)");
    free(out);
    return j;
}

static json_t *http_ok(const char *token, const char *method, const char *body)
{
    int status;
    json_t *j = twirp(token, method, NULL, &status, "%s", body);
    if (status != 200)
        fail_msg("%s over HTTP: %d %s", method, status, sys_jstr(j, "msg"));
    return j;
}

static void http_err(const char *token, const char *method, const char *code, const char *field, const char *body)
{
    int status;
    json_t *j = twirp(token, method, NULL, &status, "%s", body);
    if (status == 200 || strcmp(sys_jstr(j, "code"), code) != 0 || strcmp(sys_jstr(j, "meta.field"), field) != 0)
        fail_msg("%s over HTTP: wanted %s on %s, got %d %s on \"%s\" (%s)", method, code, field, status,
                 sys_jstr(j, "code"), sys_jstr(j, "meta.field"), sys_jstr(j, "msg"));
    json_decref(j);
}

/* The reasons array's bits (1 << DuplicateReason) of record id in a
 * likelyDuplicates / duplicates array; 0 if it is not there. */
static unsigned dup_reasons(json_t *reply, const char *member, int64_t id)
{
    static const char *const names[] = {"", "DUPLICATE_REASON_EMAIL", "DUPLICATE_REASON_PHONE",
                                        "DUPLICATE_REASON_COMPANY"};
    json_t *arr = json_object_get(reply, member);
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d) {
        if (sys_jint(d, "id") != id)
            continue;
        unsigned bits = 0;
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(d, "reasons"), j, r)
            for (int k = 1; k <= 3; k++)
                if (json_is_string(r) && !strcmp(json_string_value(r), names[k]))
                    bits |= 1u << k;
        return bits ? bits : 1u; /* listed without a reason: still listed */
    }
    return 0;
}
#define EMAIL (1u << 1)
#define PHONE (1u << 2)
#define COMPANY (1u << 3)

static size_t count(json_t *reply, const char *member) { return json_array_size(json_object_get(reply, member)); }

/* Creates a lead with the JSON fields given (without braces); its reply. */
static json_t *create(const char *token, const char *fields) { return OK(token, P("CreateLead"), "{%s}", fields); }

static int64_t create_id(const char *token, const char *fields)
{
    json_t *r = create(token, fields);
    int64_t id = sys_jint(r, "id");
    json_decref(r);
    assert_true(id > 0);
    return id;
}

static json_t *get_lead_http(const char *token, int64_t id)
{
    char body[64];
    snprintf(body, sizeof body, "{\"id\":\"%lld\"}", (long long)id);
    return http_ok(token, P("GetLead"), body);
}

/* Every message on lead id (at most 200, one page). */
static json_t *messages(const char *token, int64_t id)
{
    return OK(token, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":200}", (long long)id);
}

static size_t chatter_size(const char *token, int64_t id)
{
    json_t *r = messages(token, id);
    size_t n = count(r, "messages");
    assert_null(json_object_get(r, "nextPageToken"));
    json_decref(r);
    return n;
}

/* How many messages on lead id have a body starting with prefix. */
static int bodies_starting(const char *token, int64_t id, const char *prefix)
{
    json_t *r = messages(token, id), *m;
    size_t i;
    int n = 0;
    json_array_foreach(json_object_get(r, "messages"), i, m)
        n += !strncmp(sys_jstr(m, "body"), prefix, strlen(prefix));
    json_decref(r);
    return n;
}

static void comment(const char *token, int64_t lead, const char *body)
{
    json_decref(OK(token, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"%s\"}",
                   (long long)lead, body));
}

static void follow(const char *token, int64_t lead, const char *subtypes)
{
    json_decref(OK(token, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[%s]}", (long long)lead,
                   subtypes));
}

/* The subtypes user follows lead with, as a count of names (0: not a
 * follower); fails the test when the user is listed twice. */
static int follower_subtypes(const char *token, int64_t lead, int64_t user)
{
    json_t *r = OK(token, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead), *f;
    size_t i;
    int found = -1;
    json_array_foreach(json_object_get(r, "followers"), i, f) {
        if (sys_jint(f, "userId") != user)
            continue;
        if (found >= 0)
            fail_msg("user %lld follows lead %lld twice", (long long)user, (long long)lead);
        found = (int)json_array_size(json_object_get(f, "subtypes"));
    }
    json_decref(r);
    return found < 0 ? 0 : found;
}

static void gone_everywhere(const char *token, int64_t id)
{
    ERR(CODE(NOT_FOUND), "id", token, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id);
    ERR(CODE(NOT_FOUND), "doc.id", token, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)id);
    ERR(CODE(NOT_FOUND), "doc.id", token, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)id);
}

/* --- duplicates ----------------------------------------------------------------- */

static void test_duplicates(void **state)
{
    char f[512];
    snprintf(f, sizeof f, "\"name\":\"Jane at Acme\",\"email\":\"Jane.Doe@Example.COM\",\"phone\":\"+33 1 23 45 67 89\","
             "\"companyName\":\"ACME, Inc.\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    json_t *r = create(alice, f);
    int64_t a = sys_jint(r, "id");
    assert_int_equal(count(r, "likelyDuplicates"), 0);
    json_decref(r);

    /* one reason each, on the create reply */
    snprintf(f, sizeof f, "\"name\":\"Jane again\",\"email\":\"jane.doe@example.com\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    r = create(alice, f);
    int64_t b = sys_jint(r, "id");
    assert_int_equal(dup_reasons(r, "likelyDuplicates", a), EMAIL);
    json_decref(r);
    snprintf(f, sizeof f, "\"name\":\"Switchboard\",\"phone\":\"+33-1-2345-6789\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    r = create(alice, f);
    int64_t c = sys_jint(r, "id");
    assert_int_equal(dup_reasons(r, "likelyDuplicates", a), PHONE);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", b), 0);
    json_decref(r);
    snprintf(f, sizeof f, "\"name\":\"Acme deal\",\"companyName\":\"acme inc\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    r = create(alice, f);
    int64_t d = sys_jint(r, "id");
    assert_int_equal(dup_reasons(r, "likelyDuplicates", a), COMPANY);
    json_decref(r);

    /* GetLead through the HTTP door gives all three, with their reasons */
    r = get_lead_http(alice, a);
    assert_int_equal(count(r, "likelyDuplicates"), 3);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", b), EMAIL);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", c), PHONE);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", d), COMPANY);
    assert_string_equal(sys_jstr(json_array_get(json_object_get(r, "likelyDuplicates"), 0), "model"), "lead");
    json_decref(r);

    /* short numbers are not compared: too many records share them */
    snprintf(f, sizeof f, "\"name\":\"Ext 1\",\"phone\":\"12345\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    json_decref(create(alice, f));
    snprintf(f, sizeof f, "\"name\":\"Ext 2\",\"phone\":\"12345\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    r = create(alice, f);
    assert_int_equal(count(r, "likelyDuplicates"), 0);
    json_decref(r);

    /* an own-leads user is never told of another salesperson's lead, but of
     * an unassigned one */
    int64_t u = create_id(alice, "\"name\":\"Nobody's Jane\",\"email\":\"JANE.DOE@example.com\",\"unassigned\":true");
    snprintf(f, sizeof f, "\"name\":\"Olga's Jane\",\"email\":\"jane.doe@example.com\",\"salespersonId\":\"%lld\"", (long long)olga_id);
    r = create(olga, f);
    int64_t o = sys_jint(r, "id");
    assert_int_equal(count(r, "likelyDuplicates"), 1);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", u), EMAIL);
    json_decref(r);
    r = OK(olga, P("GetLead"), "{\"id\":\"%lld\"}", (long long)o);
    assert_int_equal(count(r, "likelyDuplicates"), 1);
    json_decref(r);
    /* ...while alice sees olga's among the others */
    r = get_lead_http(alice, o);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", a), EMAIL);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", u), EMAIL);
    json_decref(r);

    /* FindDuplicates, for a form before anything is created, both doors */
    r = http_ok(olga, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"email\":\"  Jane.Doe@example.com \"}");
    assert_int_equal(count(r, "duplicates"), 2); /* olga's own and the unassigned one */
    assert_int_equal(dup_reasons(r, "duplicates", a), 0);
    json_decref(r);
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"email\":\"jane.doe@example.com\",\"phone\":\"0033 ...\","
           "\"companyName\":\"A.C.M.E. inc\",\"excludeId\":\"%lld\"}", (long long)b);
    assert_int_equal(dup_reasons(r, "duplicates", a), EMAIL | COMPANY);
    assert_int_equal(dup_reasons(r, "duplicates", d), COMPANY);
    assert_int_equal(dup_reasons(r, "duplicates", b), 0);
    json_decref(r);
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\"}");
    assert_int_equal(count(r, "duplicates"), 0);
    json_decref(r);

    /* an update moves the keys: b no longer shares a's e-mail */
    json_decref(OK(alice, P("UpdateLead"), "{\"id\":\"%lld\",\"email\":\"someone.else@example.com\"}", (long long)b));
    r = OK(alice, P("GetLead"), "{\"id\":\"%lld\"}", (long long)a);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", b), 0);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", u), EMAIL);
    json_decref(r);

    /* customers among customers: a company's name, e-mail, phone */
    r = OK(alice, P("CreateCustomer"), "{\"name\":\"Globex Corporation\",\"isCompany\":true,\"email\":\"info@globex.test\"}");
    int64_t g1 = sys_jint(r, "id");
    assert_int_equal(count(r, "likelyDuplicates"), 0);
    json_decref(r);
    r = OK(alice, P("CreateCustomer"), "{\"name\":\"globex  corporation.\",\"isCompany\":true,\"phone\":\"+1 555 0100 200\"}");
    int64_t g2 = sys_jint(r, "id");
    assert_int_equal(dup_reasons(r, "likelyDuplicates", g1), COMPANY);
    json_decref(r);
    r = OK(alice, P("CreateCustomer"), "{\"name\":\"Hank\",\"email\":\"INFO@globex.test\",\"phone\":\"+1 (555) 0100-200\"}");
    int64_t h = sys_jint(r, "id");
    assert_int_equal(dup_reasons(r, "likelyDuplicates", g1), EMAIL);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", g2), PHONE);
    json_decref(r);
    char body[64];
    snprintf(body, sizeof body, "{\"id\":\"%lld\"}", (long long)g1);
    r = http_ok(olga, P("GetCustomer"), body);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", g2), COMPANY);
    assert_int_equal(dup_reasons(r, "likelyDuplicates", h), EMAIL);
    assert_string_equal(sys_jstr(json_array_get(json_object_get(r, "likelyDuplicates"), 0), "model"), "customer");
    json_decref(r);
    /* a lead naming no company of its own has its customer's; renaming the
     * company moves it */
    snprintf(f, sizeof f, "\"name\":\"Globex deal\",\"customerId\":\"%lld\",\"salespersonId\":\"%lld\"", (long long)g2,
             (long long)alice_id);
    int64_t gl = create_id(alice, f);
    json_decref(OK(alice, P("UpdateLead"), "{\"id\":\"%lld\",\"companyName\":\"\"}", (long long)gl));
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"companyName\":\"Globex Corporation\"}");
    assert_int_equal(dup_reasons(r, "duplicates", gl), COMPANY);
    json_decref(r);
    json_decref(OK(alice, P("UpdateCustomer"), "{\"id\":\"%lld\",\"name\":\"Initech\"}", (long long)g2));
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_CUSTOMER\",\"companyName\":\"INITECH\"}");
    assert_int_equal(dup_reasons(r, "duplicates", g2), COMPANY);
    assert_int_equal(dup_reasons(r, "duplicates", g1), 0);
    json_decref(r);
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"companyName\":\"initech\"}");
    assert_int_equal(dup_reasons(r, "duplicates", gl), COMPANY);
    json_decref(r);
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"companyName\":\"Globex Corporation\"}");
    assert_int_equal(dup_reasons(r, "duplicates", gl), 0);
    json_decref(r);

    /* bad input, named */
    ERR(CODE(INVALID_ARGUMENT), "model", alice, P("FindDuplicates"), "{\"email\":\"x@y.z\"}");
    http_err(alice, P("FindDuplicates"), "invalid_argument", "phone",
             "{\"model\":\"IMPORT_MODEL_LEAD\",\"phone\":\"12345678901234567890123456789012345678901234567890123456789012345\"}");
    ERR(CODE(INVALID_ARGUMENT), "excludeId", alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_CUSTOMER\",\"excludeId\":\"-4\"}");
    ERR(CODE(INVALID_ARGUMENT), "model", alice, P("FindDuplicates"), "{\"model\":7}");
}

/* --- merge ------------------------------------------------------------------------- */

static int64_t tag(const char *name)
{
    json_t *r = OK(admin, P("CreateTag"), "{\"name\":\"%s\"}", name);
    int64_t id = sys_jint(r, "id");
    json_decref(r);
    return id;
}

static int has_id(json_t *arr, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        int64_t x = json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : json_integer_value(v);
        if (x == id)
            return 1;
    }
    return 0;
}

/* The opportunities the board of team 0 counts, over every column, and
 * their expected revenue in currency. */
static int64_t board_count(const char *token, const char *currency, int64_t *revenue)
{
    json_t *b = OK(token, P("GetPipeline"), "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"cardsPerColumn\":1}"), *col, *t;
    size_t i, j;
    int64_t n = 0;
    *revenue = 0;
    json_array_foreach(json_object_get(b, "columns"), i, col) {
        n += sys_jint(col, "count");
        json_array_foreach(json_object_get(col, "totals"), j, t)
            if (!strcmp(sys_jstr(t, "currency"), currency))
                *revenue += sys_jint(t, "expectedRevenue");
    }
    json_decref(b);
    return n;
}

static void test_merge_moves_everything(void **state)
{
    int64_t t1 = tag("merge-one"), t2 = tag("merge-two");
    json_t *r = OK(alice, P("CreateCustomer"), "{\"name\":\"Umbrella\",\"isCompany\":true}");
    int64_t cust = sys_jint(r, "id");
    json_decref(r);
    char f[512];
    /* y: the oldest, a lead with a customer and a quotation's opportunity later */
    snprintf(f, sizeof f, "\"name\":\"Y lead\",\"customerId\":\"%lld\",\"salespersonId\":\"%lld\",\"internalNotes\":\"notes Y\","
             "\"referredBy\":\"a fair\"", (long long)cust, (long long)alice_id);
    int64_t y = create_id(alice, f);
    snprintf(f, sizeof f, "\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"X opportunity\",\"phone\":\"555 123 456\",\"tagIds\":[\"%lld\"],"
             "\"internalNotes\":\"notes X\",\"salespersonId\":\"%lld\"", (long long)t1, (long long)alice_id);
    int64_t x = create_id(alice, f);
    snprintf(f, sizeof f, "\"name\":\"Z lead\",\"email\":\"zed@merge.test\",\"contactName\":\"Zed\",\"phone\":\"999 888 777\","
             "\"tagIds\":[\"%lld\",\"%lld\"],\"internalNotes\":\"notes Z\",\"expectedRevenue\":\"500000\",\"currency\":\"USD\","
             "\"salespersonId\":\"%lld\"", (long long)t1, (long long)t2, (long long)alice_id);
    int64_t z = create_id(alice, f);

    /* y made an opportunity so that it can have a quotation */
    json_decref(OK(alice, P("ConvertLead"), "{\"id\":\"%lld\",\"customerAction\":\"CUSTOMER_ACTION_NONE\"}", (long long)y));
    r = OK(alice, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)y);
    int64_t quote = sys_jint(r, "id");
    json_decref(r);

    /* chatter, an attachment, a call and a meeting on the merged ones */
    comment(alice, y, "y one");
    comment(alice, y, "y two");
    comment(bob, z, "z one");
    r = OK(alice, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"file\","
           "\"attachments\":[{\"filename\":\"z.txt\",\"contentType\":\"text/plain\",\"data\":\"emVkIGZpbGU=\"}]}", (long long)z);
    int64_t att = sys_jint(json_array_get(json_object_get(r, "attachments"), 0), "id");
    json_decref(r);
    assert_true(att > 0);
    int64_t now = now_us();
    r = OK(alice, A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"called y\",\"durationMinutes\":5,\"at\":\"%lld\"}",
           (long long)y, (long long)(now - 60000000));
    int64_t call = sys_jint(r, "id");
    json_decref(r);
    r = OK(alice, A("ScheduleMeeting"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"meet z\",\"startAt\":\"%lld\","
           "\"endAt\":\"%lld\",\"attendeeIds\":[\"%lld\"]}", (long long)z, (long long)(now + 3600000000LL),
           (long long)(now + 7200000000LL), (long long)alice_id);
    int64_t meeting = sys_jint(r, "id");
    json_decref(r);
    /* followers: bob of y only; carl of x (discussion) and z (calls): the union */
    follow(bob, y, "");
    follow(carl, x, "\"SUBTYPE_DISCUSSION\"");
    follow(carl, z, "\"SUBTYPE_CALL\"");
    assert_int_equal(follower_subtypes(carl, x, carl_id), 1);
    size_t before = chatter_size(alice, x) + chatter_size(alice, y) + chatter_size(alice, z);
    int64_t bob_unread = sys_unread(env, bob);
    int64_t usd_before, usd_after;
    int64_t on_board = board_count(alice, "USD", &usd_before);

    /* no intoId: the first opportunity, x (y became one too, but is after it in ids) */
    char body[256];
    snprintf(body, sizeof body, "{\"ids\":[\"%lld\",\"%lld\",\"%lld\"]}", (long long)x, (long long)y, (long long)z);
    r = http_ok(alice, P("MergeLeads"), body);
    assert_int_equal(sys_jint(r, "id"), x);
    assert_string_equal(sys_jstr(r, "type"), "LEAD_TYPE_OPPORTUNITY");
    assert_string_equal(sys_jstr(r, "phone"), "555 123 456");  /* its own kept */
    assert_string_equal(sys_jstr(r, "email"), "zed@merge.test"); /* the first the others have */
    assert_string_equal(sys_jstr(r, "contactName"), "Zed");
    assert_string_equal(sys_jstr(r, "referredBy"), "a fair");
    assert_int_equal(sys_jint(r, "customerId"), cust);
    assert_string_equal(sys_jstr(r, "customerName"), "Umbrella");
    assert_int_equal(sys_jint(r, "expectedRevenue"), 500000);
    assert_string_equal(sys_jstr(r, "currency"), "USD");
    assert_string_equal(sys_jstr(r, "internalNotes"), "notes X\n\nnotes Y\n\nnotes Z");
    assert_int_equal(json_array_size(json_object_get(r, "tagIds")), 2);
    assert_true(has_id(json_object_get(r, "tagIds"), t1) && has_id(json_object_get(r, "tagIds"), t2));
    json_decref(r);

    /* the kanban: y (an opportunity) is gone from it, z's revenue is x's now */
    assert_int_equal(board_count(alice, "USD", &usd_after), on_board - 1);
    assert_int_equal(usd_after, usd_before + 500000);
    /* the merged ones are gone from all three services (the caller's marks
     * make activities and notifications apply the merge before answering) */
    gone_everywhere(alice, y);
    gone_everywhere(alice, z);
    /* everything moved once, and one message tells of the merge */
    assert_int_equal(chatter_size(alice, x), before + 1);
    assert_int_equal(bodies_starting(alice, x, "Merged with: Y lead, Z lead"), 1);
    assert_int_equal(bodies_starting(alice, x, "y two"), 1);
    assert_int_equal(bodies_starting(alice, x, "z one"), 1);
    r = messages(alice, x);
    json_t *m;
    size_t i;
    const char *merged_body = NULL;
    json_array_foreach(json_object_get(r, "messages"), i, m)
        if (!strncmp(sys_jstr(m, "body"), "Merged with", 11))
            merged_body = sys_jstr(m, "body");
    assert_non_null(merged_body);
    assert_non_null(strstr(merged_body, "Email: → zed@merge.test"));
    json_decref(r);
    r = OK(alice, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)att);
    assert_string_equal(sys_jstr(r, "filename"), "z.txt");
    json_decref(r);
    r = OK(alice, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)x);
    assert_int_equal(count(r, "calls"), 1);
    assert_int_equal(sys_jint(json_array_get(json_object_get(r, "calls"), 0), "id"), call);
    json_decref(r);
    r = OK(alice, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(now - 86400000000LL),
           (long long)(now + 86400000000LL));
    int meeting_on_x = 0, call_on_x = 0;
    json_array_foreach(json_object_get(r, "events"), i, m) {
        if (sys_jint(m, "id") == meeting && sys_jint(m, "doc.id") == x)
            meeting_on_x = 1;
        if (sys_jint(m, "id") == call && sys_jint(m, "doc.id") == x)
            call_on_x = 1;
    }
    assert_true(meeting_on_x && call_on_x);
    json_decref(r);
    /* the document's meeting list follows it */
    r = OK(alice, A("ListMeetings"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)x);
    assert_int_equal(count(r, "meetings"), 1);
    assert_int_equal(sys_jint(json_array_get(json_object_get(r, "meetings"), 0), "id"), meeting);
    json_decref(r);
    /* the quotation follows its opportunity */
    r = OK(alice, P("GetQuotation"), "{\"id\":\"%lld\"}", (long long)quote);
    assert_int_equal(sys_jint(r, "opportunityId"), x);
    json_decref(r);
    /* followers: bob moved, carl once with both subtypes, told of the merge */
    assert_int_equal(follower_subtypes(alice, x, bob_id), 6); /* every subtype, activities included */
    assert_int_equal(follower_subtypes(alice, x, carl_id), 2);
    assert_true(follower_subtypes(alice, x, alice_id) > 0);
    assert_int_equal(sys_wait_unread(env, bob, bob_unread + 1, 5000), bob_unread + 1);
    r = OK(bob, N("ListInbox"), "{\"pageSize\":1}");
    m = json_array_get(json_object_get(r, "notifications"), 0);
    assert_string_equal(sys_jstr(m, "summary"), "Merged with: Y lead, Z lead");
    assert_string_equal(sys_jstr(m, "subtype"), "SUBTYPE_STATUS_CHANGED");
    assert_int_equal(sys_jint(m, "doc.id"), x);
    json_decref(r);
    /* the deleted leads left no key behind: no list, no duplicate, no board */
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"phone\":\"999888777\"}");
    assert_int_equal(count(r, "duplicates"), 0);
    json_decref(r);
    r = OK(alice, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"email\":\"zed@merge.test\"}");
    assert_int_equal(count(r, "duplicates"), 1);
    assert_int_equal(dup_reasons(r, "duplicates", x), EMAIL);
    json_decref(r);
    r = OK(alice, P("ListLeads"), "{\"query\":\" lead\",\"pageSize\":500}");
    json_array_foreach(json_object_get(r, "leads"), i, m)
        assert_true(sys_jint(m, "id") != y && sys_jint(m, "id") != z);
    json_decref(r);
    r = OK(alice, P("ListLeads"), "{\"tagId\":\"%lld\"}", (long long)t2);
    assert_int_equal(count(r, "leads"), 1);
    json_decref(r);

    /* intoId picks the destination, even a lead after an opportunity */
    int64_t p = create_id(alice, "\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"P opp\",\"unassigned\":true");
    int64_t q = create_id(alice, "\"name\":\"Q lead\",\"email\":\"q@merge.test\",\"unassigned\":true");
    int64_t s = create_id(alice, "\"name\":\"S lead\",\"unassigned\":true");
    r = OK(alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"%lld\"}", (long long)p, (long long)q, (long long)q);
    assert_int_equal(sys_jint(r, "id"), q);
    assert_string_equal(sys_jstr(r, "type"), "LEAD_TYPE_LEAD");
    json_decref(r);
    gone_everywhere(alice, p);
    assert_int_equal(bodies_starting(alice, q, "Merged with: P opp"), 1);
    /* intoId not among ids joins them */
    r = OK(alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"%lld\"}", (long long)s, (long long)x, (long long)q);
    assert_int_equal(sys_jint(r, "id"), q);
    assert_string_equal(sys_jstr(r, "email"), "q@merge.test");
    json_decref(r);
    gone_everywhere(alice, s);
    gone_everywhere(alice, x);
    assert_int_equal(bodies_starting(alice, q, "Merged with: S lead, X opportunity"), 1);
    assert_int_equal(bodies_starting(alice, q, "y two"), 1);
    r = OK(alice, P("GetQuotation"), "{\"id\":\"%lld\"}", (long long)quote);
    assert_int_equal(sys_jint(r, "opportunityId"), q);
    json_decref(r);
}

/* An active lead merged into an archived one keeps the result on the
 * board; archived ones only stay archived together. */
static void test_merge_into_archived(void **state)
{
    int64_t old = create_id(alice, "\"name\":\"Archived first\",\"unassigned\":true");
    int64_t live = create_id(alice, "\"name\":\"Active second\",\"unassigned\":true");
    json_decref(OK(alice, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)old));
    json_t *r = OK(alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"%lld\"}", (long long)old,
                   (long long)live, (long long)old);
    assert_int_equal(sys_jint(r, "id"), old);
    assert_false(json_is_true(json_object_get(r, "archived")));
    json_decref(r);
    r = OK(alice, P("ListLeads"), "{\"query\":\"Archived first\"}");
    assert_int_equal(count(r, "leads"), 1);
    json_decref(r);
    int64_t a = create_id(alice, "\"name\":\"Both archived A\",\"unassigned\":true");
    int64_t b = create_id(alice, "\"name\":\"Both archived B\",\"unassigned\":true");
    json_decref(OK(alice, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)a));
    json_decref(OK(alice, P("ArchiveLead"), "{\"id\":\"%lld\"}", (long long)b));
    r = OK(alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)a, (long long)b);
    assert_true(json_is_true(json_object_get(r, "archived")));
    json_decref(r);
}

static void test_merge_refusals(void **state)
{
    char f[256];
    snprintf(f, sizeof f, "\"name\":\"Olga's own\",\"salespersonId\":\"%lld\"", (long long)olga_id);
    int64_t own = create_id(olga, f);
    int64_t nobody = create_id(alice, "\"name\":\"Nobody's\",\"unassigned\":true");
    snprintf(f, sizeof f, "\"name\":\"Alice's\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    int64_t theirs = create_id(alice, f);
    snprintf(f, sizeof f, "\"name\":\"Alice's too\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    int64_t theirs2 = create_id(alice, f);

    /* another salesperson's lead is not_found, as unknown ones are; nothing changed */
    ERR(CODE(NOT_FOUND), "ids", olga, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)own, (long long)theirs);
    ERR(CODE(NOT_FOUND), "ids", olga, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)theirs, (long long)theirs2);
    ERR(CODE(NOT_FOUND), "intoId", olga, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"%lld\"}", (long long)own,
        (long long)nobody, (long long)theirs);
    ERR(CODE(NOT_FOUND), "ids", olga, P("MergeLeads"), "{\"ids\":[\"%lld\",\"999999\"]}", (long long)own);
    char body[128];
    snprintf(body, sizeof body, "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)theirs, (long long)own);
    http_err(olga, P("MergeLeads"), "not_found", "ids", body);
    json_decref(OK(alice, P("GetLead"), "{\"id\":\"%lld\"}", (long long)theirs));
    json_decref(OK(olga, P("GetLead"), "{\"id\":\"%lld\"}", (long long)own));
    /* her own and an unassigned one she may */
    json_t *r = OK(olga, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)nobody, (long long)own);
    assert_int_equal(sys_jint(r, "id"), own); /* no opportunity: the oldest */
    json_decref(r);
    gone_everywhere(olga, nobody);

    /* bad input, each named */
    ERR(CODE(INVALID_ARGUMENT), "ids", alice, P("MergeLeads"), "{\"ids\":[\"%lld\"]}", (long long)theirs);
    ERR(CODE(INVALID_ARGUMENT), "ids", alice, P("MergeLeads"), "{}");
    ERR(CODE(INVALID_ARGUMENT), "ids", alice, P("MergeLeads"), "{\"ids\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"]}");
    ERR(CODE(INVALID_ARGUMENT), "ids", alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)theirs, (long long)theirs);
    ERR(CODE(INVALID_ARGUMENT), "ids", alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"-3\"]}", (long long)theirs);
    ERR(CODE(INVALID_ARGUMENT), "intoId", alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"-1\"}",
        (long long)theirs, (long long)theirs2);
    ERR(CODE(INVALID_ARGUMENT), "intoId", alice, P("MergeLeads"),
        "{\"ids\":[\"901\",\"902\",\"903\",\"904\",\"905\",\"906\",\"907\",\"908\",\"909\",\"910\"],\"intoId\":\"%lld\"}", (long long)theirs);
    http_err(alice, P("MergeLeads"), "invalid_argument", "ids", "{\"ids\":[\"5\"]}");
    /* no sales access at all */
    int64_t hr_id;
    char *hr = sys_new_sales_user(env, admin, "hr", "HR", "SALES_ACCESS_NONE", &hr_id);
    ERR(CODE(PERMISSION_DENIED), NULL, hr, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)theirs, (long long)theirs2);
    ERR(CODE(PERMISSION_DENIED), NULL, hr, P("FindDuplicates"), "{\"model\":\"IMPORT_MODEL_LEAD\"}");
    free(hr);
    /* both still there, untouched */
    json_decref(OK(alice, P("GetLead"), "{\"id\":\"%lld\"}", (long long)theirs2));
}

/* --- exactly once --------------------------------------------------------------- */

#define ONCE_MESSAGES 12

static void test_exactly_once_across_kill(void **state)
{
    char f[256];
    snprintf(f, sizeof f, "\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Once dest\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    int64_t dest = create_id(alice, f);
    snprintf(f, sizeof f, "\"name\":\"Once src\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    int64_t src = create_id(alice, f);
    for (int i = 0; i < ONCE_MESSAGES; i++) {
        char b[32];
        snprintf(b, sizeof b, "once-%02d", i);
        comment(alice, i % 2 ? dest : src, b);
    }
    follow(bob, dest, "\"SUBTYPE_DISCUSSION\"");
    follow(bob, src, "\"SUBTYPE_ASSIGNED\",\"SUBTYPE_CALL\"");
    follow(carl, src, "");
    size_t before = chatter_size(alice, dest) + chatter_size(alice, src);

    /* the consumers are down (killed) while the merge is made; the pipeline
     * is killed right after answering */
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGKILL), 0);
    int status;
    json_t *first = twirp(alice, P("MergeLeads"), "merge-once-1", &status, "{\"ids\":[\"%lld\",\"%lld\"]}",
                          (long long)src, (long long)dest);
    assert_int_equal(status, 200);
    assert_int_equal(sys_jint(first, "id"), dest);
    assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, 15000), 0);
    /* the retry with the same key is answered again, not merged again */
    json_t *again = twirp(alice, P("MergeLeads"), "merge-once-1", &status, "{\"ids\":[\"%lld\",\"%lld\"]}",
                          (long long)src, (long long)dest);
    assert_int_equal(status, 200);
    assert_int_equal(sys_jint(again, "id"), dest);
    assert_int_equal(sys_jint(again, "updatedAt"), sys_jint(first, "updatedAt"));
    json_decref(first);
    json_decref(again);
    /* the same key for another body is refused */
    int64_t other = create_id(alice, "\"name\":\"Once other\",\"unassigned\":true");
    json_t *e = twirp(alice, P("MergeLeads"), "merge-once-1", &status, "{\"ids\":[\"%lld\",\"%lld\"]}",
                      (long long)other, (long long)dest);
    assert_int_equal(status, 400);
    assert_string_equal(sys_jstr(e, "meta.field"), "idempotencyKey");
    json_decref(e);

    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    gone_everywhere(alice, src);
    assert_int_equal(chatter_size(alice, dest), before + 1);
    assert_int_equal(bodies_starting(alice, dest, "Merged with: Once src"), 1);
    for (int i = 0; i < ONCE_MESSAGES; i++) {
        char b[32];
        snprintf(b, sizeof b, "once-%02d", i);
        assert_int_equal(bodies_starting(alice, dest, b), 1);
    }
    assert_int_equal(follower_subtypes(alice, dest, bob_id), 3);
    assert_int_equal(follower_subtypes(alice, dest, carl_id), 6); /* every subtype */

    /* killed again while applying a second merge: still once */
    snprintf(f, sizeof f, "\"name\":\"Once src2\",\"salespersonId\":\"%lld\"", (long long)alice_id);
    int64_t src2 = create_id(alice, f);
    for (int i = 0; i < ONCE_MESSAGES; i++)
        comment(alice, src2, "twice");
    follow(bob, src2, "");
    before = chatter_size(alice, dest) + chatter_size(alice, src2);
    json_decref(OK(alice, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)dest, (long long)src2));
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    gone_everywhere(alice, src2);
    assert_int_equal(chatter_size(alice, dest), before + 1);
    assert_int_equal(bodies_starting(alice, dest, "twice"), ONCE_MESSAGES);
    assert_int_equal(bodies_starting(alice, dest, "Merged with: Once src2"), 1);
    assert_int_equal(follower_subtypes(alice, dest, bob_id), 6); /* every subtype */
}

/* --- upgrade ------------------------------------------------------------------------ */

typedef struct {
    crm_store_t *store;
    MDB_dbi lead_dups, customer_dups, leads;
    int cut; /* 0: the indexes never built; 1: killed after the leads' pass */
} wipe_t;

/* Empties dbi, which must hold keys: a wipe of nothing would prove nothing. */
static int empty_dbi(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc)
        return rc;
    assert_true(st.ms_entries > 0);
    return mdb_drop(txn, dbi, 0);
}

/* Leaves the store as a schema-3 store just opened by this program (or, cut,
 * one whose upgrade was killed between its two passes) would be. */
static int wipe_indexes(MDB_txn *txn, void *arg)
{
    wipe_t *w = arg;
    int rc;
    if ((rc = empty_dbi(txn, w->customer_dups)) != 0 || (!w->cut && (rc = empty_dbi(txn, w->lead_dups)) != 0) ||
        (rc = crm_store_meta_put_u64(w->store, txn, "upgrade_from", PIPELINE_SCHEMA_DUPLICATES - 1)) != 0)
        return rc;
    if (!w->cut)
        return 0;
    MDB_cursor *cur;
    MDB_val k, d;
    if ((rc = mdb_cursor_open(txn, w->leads, &cur)) != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
    uint8_t last[8];
    if (rc == 0)
        memcpy(last, k.mv_data, 8);
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    MDB_val pk = {strlen("upgrade.dup_leads"), "upgrade.dup_leads"}, pv = {8, last};
    return mdb_put(txn, crm_store_meta(w->store), &pk, &pv, 0);
}

static char *dup_answers(void)
{
    static const char *const queries[] = {
        "{\"model\":\"IMPORT_MODEL_LEAD\",\"email\":\"jane.doe@example.com\"}",
        "{\"model\":\"IMPORT_MODEL_LEAD\",\"phone\":\"+33123456789\",\"companyName\":\"acme inc\"}",
        "{\"model\":\"IMPORT_MODEL_LEAD\",\"companyName\":\"Initech\"}",
        "{\"model\":\"IMPORT_MODEL_CUSTOMER\",\"email\":\"info@globex.test\",\"companyName\":\"Initech\"}",
        "{\"model\":\"IMPORT_MODEL_CUSTOMER\",\"phone\":\"+15550100200\"}",
    };
    json_t *all = json_array();
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        json_t *r = OK(alice, P("FindDuplicates"), "%s", queries[i]);
        assert_true(count(r, "duplicates") > 0);
        json_array_append_new(all, r);
    }
    char *text = json_dumps(all, JSON_SORT_KEYS);
    json_decref(all);
    return text;
}

/* A store made before the indexes has them built on start, and an upgrade
 * killed half-way goes on where it stopped: the same answers either way. */
static void test_upgrade_builds_indexes(void **state)
{
    char *before = dup_answers();
    for (int cut = 0; cut < 2; cut++) {
        assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGTERM), 0);
        char dir[300];
        snprintf(dir, sizeof dir, "%s/pipeline", env->dir);
        const char *err;
        wipe_t w = {.cut = cut};
        const crm_store_dbi_t dbis[] = {
            {"lead_dups", 0, &w.lead_dups}, {"customer_dups", 0, &w.customer_dups}, {"leads", 0, &w.leads}};
        w.store = crm_store_open(dir, dbis, 3, PIPELINE_SCHEMA, 0, &err);
        assert_non_null(w.store);
        assert_int_equal(crm_store_write(w.store, wipe_indexes, &w), 0);
        crm_store_close(&w.store);
        assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
        assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, 15000), 0);
        char *after = dup_answers();
        assert_string_equal(after, before);
        free(after);
    }
    free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_merge_moves_everything),
        cmocka_unit_test(test_merge_into_archived),
        cmocka_unit_test(test_merge_refusals),
        cmocka_unit_test(test_exactly_once_across_kill),
        cmocka_unit_test(test_upgrade_builds_indexes),
    };
    return cmocka_run_group_tests_name("merge", tests, setup, teardown);
}
