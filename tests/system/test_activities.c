/* Activities through the gateway: the seed's chatter, calls and calendar
 * steps, tracking messages from pipeline's events, exactly-once tracking
 * while activities is killed mid-stream, the access rules and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "activities.pb-c.h"
#include "crm_json.h"
#include "crm_request.h"
#include "crm_services.h"
#include "harness.h"

#include <jansson.h>
#include <signal.h>
#include <sodium.h>
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

#define HOUR_US 3600000000LL
#define DAY_US (24 * HOUR_US)
/* the attachment limit the main group runs with: small, so the test stays small */
#define MAX_ATTACHMENT 1024

static sys_env_t *env;
static char *admin;
#define new_lead(token, name, salesperson) sys_new_opportunity(env, token, name, salesperson)
#define stage_named(name) sys_stage_id(env, admin, name)
#define login_new_user(login, name, access, id) sys_new_sales_user(env, admin, login, name, access, id)

static const char *const small_attachments[] = {"CRM_MAX_ATTACHMENT=1024", NULL};

static int setup(void **state)
{
    env = sys_start_admin(small_attachments, &admin);
    return env ? 0 : -1;
}

static int setup_plain(void **state)
{
    env = sys_start_admin(NULL, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    admin = NULL;
    int bad = sys_stop(env);
    env = NULL;
    return bad == 0 ? 0 : -1;
}

/* Wall-clock Unix microseconds, as the services stamp records. */
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* An instant as the chatter writes it: "2026-12-01 10:00 UTC". */
static const char *shown_time(char *out, size_t size, int64_t at_us)
{
    time_t t = (time_t)(at_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
    return out;
}



/* Activities learns of users and leads from identity's and pipeline's
 * events, asynchronously. A read by admin's session carries the marks of
 * admin's writes, so activities holds it until it has applied them: after
 * this, what admin created is known there, whoever asks next. */
static void sync_activities(void)
{
    json_decref(OK(admin, A("ListCalls"), "{\"pageSize\":1}"));
}

/* --- chatter helpers --------------------------------------------------------- */

/* The whole chatter of a lead, newest first, read page by page (pageSize
 * small enough that paging is exercised). Returns a new array. */
static json_t *chatter(const char *token, int64_t lead, int page_size)
{
    json_t *all = json_array();
    char page[64] = "";
    for (int pages = 0;; pages++) {
        if (pages > 1000)
            fail_msg("lead %lld: ListMessages keeps giving pages", (long long)lead);
        json_t *r = OK(token, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":%d,\"pageToken\":\"%s\"}",
                       (long long)lead, page_size, page);
        json_t *msgs = json_object_get(r, "messages");
        if (json_array_size(msgs) > (size_t)page_size)
            fail_msg("lead %lld: a page of %zu messages for pageSize %d", (long long)lead, json_array_size(msgs),
                     page_size);
        json_array_extend(all, msgs);
        snprintf(page, sizeof page, "%s", sys_jstr(r, "nextPageToken"));
        json_decref(r);
        if (!page[0])
            return all;
    }
}

/* The messages of kind (NULL: any) in a chatter array, in its order. */
static json_t *of_kind(json_t *msgs, const char *kind)
{
    json_t *out = json_array(), *m;
    size_t i;
    json_array_foreach(msgs, i, m) if (!kind || !strcmp(sys_jstr(m, "kind"), kind)) json_array_append(out, m);
    return out;
}

/* Polls until lead's chatter holds at least want messages of kind, then
 * returns those (newest first). Activities applies pipeline's events
 * asynchronously; under ASan that may take a few seconds, never 20. */
static json_t *await_kind(const char *token, int64_t lead, const char *kind, size_t want)
{
    int64_t until = sys_now_ms() + 20000;
    for (;;) {
        json_t *all = chatter(token, lead, 200);
        json_t *got = of_kind(all, kind);
        json_decref(all);
        if (json_array_size(got) >= want)
            return got;
        size_t n = json_array_size(got);
        json_decref(got);
        if (sys_now_ms() > until)
            fail_msg("lead %lld: %zu %s messages after 20 s, want %zu", (long long)lead, n, kind, want);
        usleep(20000);
    }
}

static size_t chatter_size(const char *token, int64_t lead)
{
    json_t *all = chatter(token, lead, 200);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

static size_t doc_calls(const char *token, int64_t lead)
{
    json_t *r = OK(token, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":500}", (long long)lead);
    size_t n = json_array_size(json_object_get(r, "calls"));
    json_decref(r);
    return n;
}

/* The call with id in a ListCalls reply, or NULL. */
static json_t *call_in(json_t *reply, int64_t id)
{
    json_t *calls = json_object_get(reply, "calls"), *c;
    size_t i;
    json_array_foreach(calls, i, c) if (sys_jint(c, "id") == id) return c;
    return NULL;
}

/* The calendar event of kind with id in a ListCalendar reply, or NULL. */
static json_t *event_in(json_t *reply, const char *kind, int64_t id)
{
    json_t *events = json_object_get(reply, "events"), *e;
    size_t i;
    json_array_foreach(events, i, e) if (sys_jint(e, "id") == id && !strcmp(sys_jstr(e, "kind"), kind)) return e;
    return NULL;
}

/* --- bytes ------------------------------------------------------------------ */

/* Standard base64 (proto3 JSON's bytes), malloc'd. */
static char *b64(const uint8_t *data, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    assert_non_null(out);
    sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

static void sha256_hex(char out[65], const uint8_t *data, size_t len)
{
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* GetAttachment's data, decoded, must be exactly want. */
static void assert_attachment_bytes(json_t *got, const uint8_t *want, size_t len)
{
    const char *text = sys_jstr(got, "data");
    uint8_t *bin = malloc(len + 16);
    assert_non_null(bin);
    size_t n = 0;
    assert_int_equal(sodium_base642bin(bin, len + 16, text, strlen(text), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(n, len);
    assert_memory_equal(bin, want, len);
    free(bin);
}

/* Bytes that would not survive a text round trip: NULs, high bytes. */
static void fill_binary(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    buf[0] = '%';
    buf[1] = 0;
    buf[len - 1] = 0xff;
}

/* PostMessage by JSON with an idempotency key, as a client retrying would. */
static json_t *post_keyed(const char *token, const char *key, const char *body)
{
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *m = crm_services_find(A("PostMessage"), &svc);
    assert_non_null(m);
    crm_status_t st;
    ProtobufCMessage *in = crm_json_decode(m->input, body, strlen(body), 0, NULL, &st);
    assert_non_null(in);
    ProtobufCMessage *out = sys_call_idem(env, A("PostMessage"), token, key, in, m->output, &st);
    protobuf_c_message_free_unpacked(in, NULL);
    if (!out)
        fail_msg("keyed PostMessage: %s %s", crm_code_name(st.code), st.message);
    char *text = crm_json_encode(out, NULL);
    protobuf_c_message_free_unpacked(out, NULL);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

/* --- 1. the seed's chatter and calls ----------------------------------------- */

static void test_seed_chatter_and_calls(void **state)
{
    int64_t li;
    char *lee = login_new_user("saleslee", "Li", "SALES_ACCESS_MANAGER", &li);
    json_t *zhang = OK(admin, P("CreateCustomer"), "{\"name\":\"Zhang San\",\"salespersonId\":\"%lld\"}", (long long)li);
    int64_t customer = sys_jint(zhang, "id");
    json_decref(zhang);
    json_t *opp = OK(lee, P("CreateLead"),
                     "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Consulting for Zhang\",\"customerId\":\"%lld\",\"salespersonId\":\"%lld\"}",
                     (long long)customer, (long long)li);
    int64_t id = sys_jint(opp, "id");
    json_decref(opp);
    sync_activities();

    /* 7. "Log a note" with a file: internal, time-stamped, the file kept */
    uint8_t pdf[700];
    fill_binary(pdf, sizeof pdf, 7);
    char hex[65];
    sha256_hex(hex, pdf, sizeof pdf);
    char *data = b64(pdf, sizeof pdf);
    int64_t before = now_us();
    json_t *note = OK(lee, A("PostMessage"),
                      "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"Met Zhang at the fair; brochure attached\","
                      "\"attachments\":[{\"filename\":\"brochure.pdf\",\"contentType\":\"application/pdf\",\"data\":\"%s\"}]}",
                      (long long)id, data);
    int64_t note_id = sys_jint(note, "id");
    assert_true(note_id > 0);
    assert_string_equal(sys_jstr(note, "kind"), "MESSAGE_KIND_NOTE");
    assert_int_equal(sys_jint(note, "authorId"), li);
    assert_string_equal(sys_jstr(note, "authorName"), "Li");
    assert_true(sys_jint(note, "at") >= before - 1000000 && sys_jint(note, "at") <= now_us() + 1000000);
    json_t *att = json_array_get(json_object_get(note, "attachments"), 0);
    assert_non_null(att);
    int64_t att_id = sys_jint(att, "id");
    assert_true(att_id > 0);
    assert_int_equal(sys_jint(att, "size"), sizeof pdf);
    assert_string_equal(sys_jstr(att, "sha256"), hex);
    assert_null(json_object_get(att, "data")); /* bytes only through GetAttachment */
    json_decref(note);

    /* a comment, for the followers */
    json_t *comment = OK(lee, A("PostMessage"),
                         "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"Proposal sent to the team\"}",
                         (long long)id);
    int64_t comment_id = sys_jint(comment, "id");
    assert_string_equal(sys_jstr(comment, "kind"), "MESSAGE_KIND_COMMENT");
    assert_int_equal(json_array_size(json_object_get(comment, "attachments")), 0);
    json_decref(comment);

    /* newest first: the comment, the note, then the opportunity's creation */
    json_t *list = OK(lee, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)id);
    json_t *msgs = json_object_get(list, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_int_equal(sys_jint(json_array_get(msgs, 0), "id"), comment_id);
    json_t *listed = json_array_get(msgs, 1);
    assert_int_equal(sys_jint(listed, "id"), note_id);
    assert_string_equal(sys_jstr(listed, "body"), "Met Zhang at the fair; brochure attached");
    assert_string_equal(sys_jstr(listed, "doc.model"), "lead");
    assert_int_equal(sys_jint(listed, "doc.id"), id);
    att = json_array_get(json_object_get(listed, "attachments"), 0);
    assert_int_equal(sys_jint(att, "id"), att_id);
    assert_string_equal(sys_jstr(att, "filename"), "brochure.pdf");
    assert_string_equal(sys_jstr(att, "contentType"), "application/pdf");
    assert_int_equal(sys_jint(att, "size"), sizeof pdf);
    assert_string_equal(sys_jstr(att, "sha256"), hex);
    assert_null(json_object_get(att, "data"));
    json_t *created = json_array_get(msgs, 2);
    assert_string_equal(sys_jstr(created, "kind"), "MESSAGE_KIND_TRACKING");
    assert_string_equal(sys_jstr(created, "event"), "lead.created");
    assert_string_equal(sys_jstr(created, "body"), "Opportunity created");
    assert_true(sys_jint(json_array_get(msgs, 0), "at") >= sys_jint(listed, "at"));
    assert_true(sys_jint(listed, "at") >= sys_jint(created, "at"));
    json_decref(list);

    /* the file comes back byte for byte */
    json_t *got = OK(lee, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)att_id);
    assert_string_equal(sys_jstr(got, "filename"), "brochure.pdf");
    assert_string_equal(sys_jstr(got, "contentType"), "application/pdf");
    assert_int_equal(sys_jint(got, "size"), sizeof pdf);
    assert_string_equal(sys_jstr(got, "sha256"), hex);
    assert_attachment_bytes(got, pdf, sizeof pdf);
    json_decref(got);

    /* the same bytes again, under another name: a record of its own, one content */
    json_t *again = OK(lee, A("PostMessage"),
                       "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\","
                       "\"attachments\":[{\"filename\":\"copy.pdf\",\"contentType\":\"application/pdf\",\"data\":\"%s\"}]}",
                       (long long)id, data);
    int64_t att2 = sys_jint(json_array_get(json_object_get(again, "attachments"), 0), "id");
    assert_true(att2 > 0 && att2 != att_id);
    assert_string_equal(sys_jstr(json_array_get(json_object_get(again, "attachments"), 0), "sha256"), hex);
    json_decref(again);
    for (int k = 0; k < 2; k++) {
        json_t *g = OK(lee, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)(k ? att2 : att_id));
        assert_string_equal(sys_jstr(g, "filename"), k ? "copy.pdf" : "brochure.pdf");
        assert_string_equal(sys_jstr(g, "sha256"), hex);
        assert_attachment_bytes(g, pdf, sizeof pdf);
        json_decref(g);
    }
    free(data);

    /* 9. "Schedule a call": a planned date, the calendar, the chatter */
    int64_t planned = (now_us() / HOUR_US + 48) * HOUR_US;
    json_t *sc = OK(lee, A("ScheduleCall"),
                    "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Discuss the proposal\",\"plannedAt\":\"%lld\","
                    "\"durationMinutes\":30,\"responsibleId\":\"%lld\"}",
                    (long long)id, (long long)planned, (long long)li);
    int64_t call_id = sys_jint(sc, "id");
    assert_true(call_id > 0);
    assert_string_equal(sys_jstr(sc, "status"), "CALL_STATUS_SCHEDULED");
    assert_int_equal(sys_jint(sc, "plannedAt"), planned);
    assert_int_equal(sys_jint(sc, "at"), planned);
    assert_int_equal(sys_jint(sc, "responsibleId"), li);
    assert_int_equal(sys_jint(sc, "createdBy"), li);
    assert_int_equal(sys_jint(sc, "durationMinutes"), 30);
    json_decref(sc);

    /* "Scheduled Calls" */
    json_t *sched = OK(lee, A("ListCalls"), "{\"status\":\"CALL_STATUS_SCHEDULED\",\"responsibleId\":\"%lld\"}", (long long)li);
    json_t *c = call_in(sched, call_id);
    assert_non_null(c);
    assert_string_equal(sys_jstr(c, "status"), "CALL_STATUS_SCHEDULED");
    assert_string_equal(sys_jstr(c, "summary"), "Discuss the proposal");
    assert_int_equal(sys_jint(c, "doc.id"), id);
    json_decref(sched);

    /* on Li's calendar, seen by Li and by the administrator */
    for (int k = 0; k < 2; k++) {
        json_t *cal = OK(k ? admin : lee, A("ListCalendar"), "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(k ? li : 0),
                         (long long)(planned - DAY_US), (long long)(planned + DAY_US));
        json_t *e = event_in(cal, "CALENDAR_EVENT_KIND_CALL", call_id);
        assert_non_null(e);
        assert_int_equal(sys_jint(e, "startAt"), planned);
        assert_int_equal(sys_jint(e, "endAt"), planned + 30 * 60000000LL);
        assert_string_equal(sys_jstr(e, "title"), "Discuss the proposal");
        assert_string_equal(sys_jstr(e, "callStatus"), "CALL_STATUS_SCHEDULED");
        assert_int_equal(sys_jint(e, "doc.id"), id);
        json_decref(cal);
    }
    /* ... and not on a range that ends before it */
    json_t *early = OK(lee, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
                       (long long)planned);
    assert_null(event_in(early, "CALENDAR_EVENT_KIND_CALL", call_id));
    json_decref(early);

    /* ... and logged on the opportunity */
    list = OK(lee, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", (long long)id);
    json_t *logged = json_array_get(json_object_get(list, "messages"), 0);
    assert_string_equal(sys_jstr(logged, "kind"), "MESSAGE_KIND_CALL");
    assert_int_equal(sys_jint(logged, "callId"), call_id);
    /* the planned date, who calls, what about */
    char when[40], line[160];
    snprintf(line, sizeof line, "%s with Li: Discuss the proposal", shown_time(when, sizeof when, planned));
    if (!strstr(sys_jstr(logged, "body"), line))
        fail_msg("call record \"%s\" lacks \"%s\"", sys_jstr(logged, "body"), line);
    assert_true(sys_jstr(list, "nextPageToken")[0] != '\0');
    json_decref(list);

    /* marked held */
    json_t *held = OK(lee, A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)call_id);
    assert_string_equal(sys_jstr(held, "status"), "CALL_STATUS_HELD");
    assert_int_equal(sys_jint(held, "plannedAt"), planned);
    json_decref(held);
    sched = OK(lee, A("ListCalls"), "{\"status\":\"CALL_STATUS_SCHEDULED\",\"responsibleId\":\"%lld\"}", (long long)li);
    assert_null(call_in(sched, call_id));
    json_decref(sched);
    json_t *doc_calls_r = OK(lee, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)id);
    assert_string_equal(sys_jstr(call_in(doc_calls_r, call_id), "status"), "CALL_STATUS_HELD");
    json_decref(doc_calls_r);
    list = OK(lee, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", (long long)id);
    logged = json_array_get(json_object_get(list, "messages"), 0);
    assert_string_equal(sys_jstr(logged, "kind"), "MESSAGE_KIND_CALL");
    assert_int_equal(sys_jint(logged, "callId"), call_id);
    assert_non_null(strstr(sys_jstr(logged, "body"), "held"));
    assert_non_null(strstr(sys_jstr(logged, "body"), "Discuss the proposal"));
    json_decref(list);
    /* a held call stays on the calendar, as held */
    json_t *cal = OK(lee, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
                     (long long)(planned + DAY_US));
    assert_string_equal(sys_jstr(event_in(cal, "CALENDAR_EVENT_KIND_CALL", call_id), "callStatus"), "CALL_STATUS_HELD");
    json_decref(cal);

    /* "Log a call": one already made, three hours ago */
    int64_t past = now_us() - 3 * HOUR_US;
    json_t *lc = OK(lee, A("LogCall"),
                    "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Zhang called about the price\",\"durationMinutes\":10,\"at\":\"%lld\"}",
                    (long long)id, (long long)past);
    int64_t logged_id = sys_jint(lc, "id");
    assert_string_equal(sys_jstr(lc, "status"), "CALL_STATUS_HELD");
    assert_int_equal(sys_jint(lc, "at"), past);
    assert_int_equal(sys_jint(lc, "plannedAt"), 0);
    assert_int_equal(sys_jint(lc, "responsibleId"), li);
    json_decref(lc);
    list = OK(lee, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", (long long)id);
    logged = json_array_get(json_object_get(list, "messages"), 0);
    assert_string_equal(sys_jstr(logged, "kind"), "MESSAGE_KIND_CALL");
    assert_int_equal(sys_jint(logged, "callId"), logged_id);
    assert_non_null(strstr(sys_jstr(logged, "body"), "Zhang called about the price"));
    assert_non_null(strstr(sys_jstr(logged, "body"), shown_time(when, sizeof when, past)));
    json_decref(list);
    /* the opportunity's calls in time order: the one made before the one planned */
    doc_calls_r = OK(lee, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)id);
    json_t *calls = json_object_get(doc_calls_r, "calls");
    assert_int_equal(json_array_size(calls), 2);
    assert_int_equal(sys_jint(json_array_get(calls, 0), "id"), logged_id);
    assert_int_equal(sys_jint(json_array_get(calls, 1), "id"), call_id);
    json_decref(doc_calls_r);
    /* the same, a page at a time */
    json_t *pg = OK(lee, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", (long long)id);
    assert_int_equal(json_array_size(json_object_get(pg, "calls")), 1);
    assert_int_equal(sys_jint(json_array_get(json_object_get(pg, "calls"), 0), "id"), logged_id);
    char next[64];
    snprintf(next, sizeof next, "%s", sys_jstr(pg, "nextPageToken"));
    json_decref(pg);
    assert_true(next[0] != '\0');
    pg = OK(lee, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1,\"pageToken\":\"%s\"}", (long long)id,
            next);
    assert_int_equal(json_array_size(json_object_get(pg, "calls")), 1);
    assert_int_equal(sys_jint(json_array_get(json_object_get(pg, "calls"), 0), "id"), call_id);
    json_decref(pg);

    /* the whole chatter, oldest at the bottom: created, note, comment, note,
     * call scheduled, call held, call logged */
    json_t *all = chatter(lee, id, 2);
    assert_int_equal(json_array_size(all), 7);
    const char *kinds[] = {"MESSAGE_KIND_CALL", "MESSAGE_KIND_CALL", "MESSAGE_KIND_CALL", "MESSAGE_KIND_NOTE",
                           "MESSAGE_KIND_COMMENT", "MESSAGE_KIND_NOTE", "MESSAGE_KIND_TRACKING"};
    for (size_t k = 0; k < 7; k++)
        assert_string_equal(sys_jstr(json_array_get(all, k), "kind"), kinds[k]);
    for (size_t k = 1; k < 7; k++)
        assert_true(sys_jint(json_array_get(all, k - 1), "at") >= sys_jint(json_array_get(all, k), "at"));
    json_decref(all);
    free(lee);
}

/* Meetings go on every attendee's calendar, merged with calls in time order. */
static void test_meetings_on_calendar(void **state)
{
    int64_t mia, max;
    char *m1 = login_new_user("mia", "Mia", "SALES_ACCESS_MANAGER", &mia);
    char *m2 = login_new_user("max", "Max", "SALES_ACCESS_OWN_LEADS", &max);
    int64_t lead = new_lead(admin, "Fleet renewal", mia);
    sync_activities();
    int64_t day = (now_us() / DAY_US + 3) * DAY_US;

    json_t *c1 = OK(m1, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Morning call\",\"plannedAt\":\"%lld\",\"durationMinutes\":15}",
                    (long long)lead, (long long)(day + 9 * HOUR_US));
    int64_t call1 = sys_jint(c1, "id");
    assert_int_equal(sys_jint(c1, "responsibleId"), mia); /* 0: the caller */
    json_decref(c1);
    json_t *c2 = OK(m1, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Afternoon call\",\"plannedAt\":\"%lld\",\"durationMinutes\":15}",
                    (long long)lead, (long long)(day + 13 * HOUR_US));
    int64_t call2 = sys_jint(c2, "id");
    json_decref(c2);
    /* scheduled after the calls but between them in time; Mia named twice */
    json_t *mt = OK(m1, A("ScheduleMeeting"),
                    "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"Demo at the customer\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"attendeeIds\":[\"%lld\",\"%lld\"]}",
                    (long long)lead, (long long)(day + 11 * HOUR_US), (long long)(day + 12 * HOUR_US), (long long)max,
                    (long long)mia);
    int64_t meeting = sys_jint(mt, "id");
    assert_true(meeting > 0);
    assert_int_equal(sys_jint(mt, "organizerId"), mia);
    json_t *att = json_object_get(mt, "attendeeIds");
    assert_int_equal(json_array_size(att), 2);
    int64_t a0 = strtoll(json_string_value(json_array_get(att, 0)), NULL, 10);
    int64_t a1 = strtoll(json_string_value(json_array_get(att, 1)), NULL, 10);
    assert_int_equal(a0, mia); /* the organiser first */
    assert_int_equal(a1, max);
    json_decref(mt);

    /* Mia's day: call, meeting, call */
    json_t *cal = OK(m1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)day, (long long)(day + DAY_US));
    json_t *ev = json_object_get(cal, "events");
    assert_int_equal(json_array_size(ev), 3);
    assert_string_equal(sys_jstr(json_array_get(ev, 0), "kind"), "CALENDAR_EVENT_KIND_CALL");
    assert_int_equal(sys_jint(json_array_get(ev, 0), "id"), call1);
    assert_string_equal(sys_jstr(json_array_get(ev, 1), "kind"), "CALENDAR_EVENT_KIND_MEETING");
    assert_int_equal(sys_jint(json_array_get(ev, 1), "id"), meeting);
    assert_int_equal(sys_jint(json_array_get(ev, 1), "startAt"), day + 11 * HOUR_US);
    assert_int_equal(sys_jint(json_array_get(ev, 1), "endAt"), day + 12 * HOUR_US);
    assert_string_equal(sys_jstr(json_array_get(ev, 1), "title"), "Demo at the customer");
    assert_string_equal(sys_jstr(json_array_get(ev, 2), "kind"), "CALENDAR_EVENT_KIND_CALL");
    assert_int_equal(sys_jint(json_array_get(ev, 2), "id"), call2);
    json_decref(cal);
    /* paged one event at a time, the same three in the same order */
    char page[64] = "";
    int64_t seen[4] = {0};
    int n = 0;
    do {
        json_t *pg = OK(m1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\",\"pageSize\":1,\"pageToken\":\"%s\"}",
                        (long long)day, (long long)(day + DAY_US), page);
        json_t *e = json_object_get(pg, "events");
        assert_true(json_array_size(e) <= 1);
        if (json_array_size(e) == 1) {
            assert_true(n < 4);
            seen[n++] = sys_jint(json_array_get(e, 0), "id");
        }
        snprintf(page, sizeof page, "%s", sys_jstr(pg, "nextPageToken"));
        json_decref(pg);
    } while (page[0]);
    assert_int_equal(n, 3);
    assert_int_equal(seen[0], call1);
    assert_int_equal(seen[1], meeting);
    assert_int_equal(seen[2], call2);

    /* Max's day: the meeting only */
    cal = OK(m2, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)day, (long long)(day + DAY_US));
    ev = json_object_get(cal, "events");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_equal(sys_jstr(json_array_get(ev, 0), "kind"), "CALENDAR_EVENT_KIND_MEETING");
    assert_int_equal(sys_jint(json_array_get(ev, 0), "id"), meeting);
    json_decref(cal);

    /* the meeting is in the opportunity's chatter */
    json_t *list = OK(m1, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", (long long)lead);
    json_t *m = json_array_get(json_object_get(list, "messages"), 0);
    assert_string_equal(sys_jstr(m, "kind"), "MESSAGE_KIND_MEETING");
    assert_int_equal(sys_jint(m, "meetingId"), meeting);
    assert_non_null(strstr(sys_jstr(m, "body"), "Demo at the customer"));
    char when[40];
    assert_non_null(strstr(sys_jstr(m, "body"), shown_time(when, sizeof when, day + 11 * HOUR_US)));
    json_decref(list);

    /* a cancelled call leaves the calendar but stays listed */
    json_t *cc = OK(m1, A("CancelCall"), "{\"id\":\"%lld\"}", (long long)call2);
    assert_string_equal(sys_jstr(cc, "status"), "CALL_STATUS_CANCELLED");
    json_decref(cc);
    cal = OK(m1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)day, (long long)(day + DAY_US));
    assert_int_equal(json_array_size(json_object_get(cal, "events")), 2);
    assert_null(event_in(cal, "CALENDAR_EVENT_KIND_CALL", call2));
    json_decref(cal);
    json_t *lc = OK(m1, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    assert_string_equal(sys_jstr(call_in(lc, call2), "status"), "CALL_STATUS_CANCELLED");
    json_decref(lc);
    free(m1);
    free(m2);
}

/* --- 2. tracking --------------------------------------------------------------- */

/* The tracking value of field in message m, or NULL. */
static json_t *tracked(json_t *m, const char *field)
{
    json_t *vals = json_object_get(m, "tracking"), *v;
    size_t i;
    json_array_foreach(vals, i, v) if (!strcmp(sys_jstr(v, "field"), field)) return v;
    return NULL;
}

static void assert_tracked(json_t *m, const char *field, const char *oldv, const char *newv, const char *old_text,
                           const char *new_text)
{
    json_t *v = tracked(m, field);
    if (!v)
        fail_msg("no %s in tracking message \"%s\"", field, sys_jstr(m, "body"));
    assert_string_equal(sys_jstr(v, "oldValue"), oldv);
    assert_string_equal(sys_jstr(v, "newValue"), newv);
    if (old_text)
        assert_string_equal(sys_jstr(v, "oldText"), old_text);
    if (new_text)
        assert_string_equal(sys_jstr(v, "newText"), new_text);
}

static void test_tracking(void **state)
{
    int64_t li;
    char *lee = login_new_user("trackli", "Li", "SALES_ACCESS_MANAGER", &li);
    json_t *me = OK(admin, I("WhoAmI"), "{}");
    int64_t admin_id = sys_jint(me, "id");
    json_decref(me);
    json_t *zhang = OK(admin, P("CreateCustomer"), "{\"name\":\"Zhang San\"}");
    int64_t customer = sys_jint(zhang, "id");
    json_decref(zhang);
    int64_t newst = stage_named("New"), prop = stage_named("Proposition"), nego = stage_named("Negotiation"),
            won = stage_named("Won");
    json_t *opp = OK(admin, P("CreateLead"), "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Tracked deal\",\"currency\":\"EUR\",\"unassigned\":true}");
    int64_t id = sys_jint(opp, "id");
    assert_int_equal(sys_jint(opp, "stageId"), newst);
    assert_int_equal(sys_jint(opp, "salespersonId"), 0);
    json_decref(opp);

    /* the walkthrough's edits, one event each */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)id, (long long)prop));
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"expectedRevenue\":\"375000\",\"probability\":80}",
                   (long long)id, (long long)nego));
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)id, (long long)li));
    /* an edit of untracked fields leaves no trace */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"name\":\"Tracked deal (Zhang)\",\"internalNotes\":\"x\"}", (long long)id));
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"%lld\"}", (long long)id, (long long)customer));
    json_t *q = OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\",\"markWon\":true}", (long long)id);
    char qline[128];
    snprintf(qline, sizeof qline, "Quotation %s made: 3,750.00 EUR", sys_jstr(q, "name"));
    json_decref(q);

    /* one message per event, never two: exactly seven, read by Li */
    json_t *t = await_kind(lee, id, "MESSAGE_KIND_TRACKING", 7);
    if (json_array_size(t) != 7) {
        char *text = json_dumps(t, JSON_INDENT(1));
        fail_msg("want 7 tracking messages, got %zu: %s", json_array_size(t), text);
    }
    /* newest first: the oldest at the bottom */
    json_t *m = json_array_get(t, 6);
    assert_string_equal(sys_jstr(m, "event"), "lead.created");
    assert_string_equal(sys_jstr(m, "body"), "Opportunity created");
    assert_int_equal(sys_jint(m, "authorId"), admin_id);

    m = json_array_get(t, 5);
    assert_string_equal(sys_jstr(m, "event"), "lead.updated");
    assert_string_equal(sys_jstr(m, "body"), "Stage: New → Proposition\nStatus: New → In progress\nProbability: 10 % → 40 %");
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)newst);
    snprintf(b, sizeof b, "%lld", (long long)prop);
    assert_tracked(m, "stageId", a, b, "New", "Proposition");
    assert_tracked(m, "status", "LEAD_STATUS_NEW", "LEAD_STATUS_IN_PROGRESS", "New", "In progress");
    assert_tracked(m, "probability", "10", "40", "10 %", "40 %");
    assert_int_equal(json_array_size(json_object_get(m, "tracking")), 3);
    assert_string_equal(sys_jstr(tracked(m, "stageId"), "label"), "Stage");

    m = json_array_get(t, 4);
    assert_string_equal(sys_jstr(m, "event"), "lead.updated");
    assert_string_equal(sys_jstr(m, "body"),
                        "Stage: Proposition → Negotiation\nExpected revenue: 0.00 → 3,750.00 EUR\nProbability: 40 % → 80 %");
    snprintf(a, sizeof a, "%lld", (long long)prop);
    snprintf(b, sizeof b, "%lld", (long long)nego);
    assert_tracked(m, "stageId", a, b, "Proposition", "Negotiation");
    assert_tracked(m, "expectedRevenue", "0", "375000", "0.00 EUR", "3,750.00 EUR");
    assert_tracked(m, "probability", "40", "80", NULL, NULL);
    assert_null(tracked(m, "status")); /* In progress either way */
    assert_string_equal(sys_jstr(tracked(m, "expectedRevenue"), "label"), "Expected revenue");

    m = json_array_get(t, 3);
    assert_string_equal(sys_jstr(m, "body"), "Salesperson: — → Li");
    snprintf(b, sizeof b, "%lld", (long long)li);
    assert_tracked(m, "salespersonId", "0", b, "—", "Li");
    assert_int_equal(json_array_size(json_object_get(m, "tracking")), 1);

    m = json_array_get(t, 2);
    assert_string_equal(sys_jstr(m, "body"), "Customer: — → Zhang San");
    snprintf(b, sizeof b, "%lld", (long long)customer);
    assert_tracked(m, "customerId", "0", b, "—", "Zhang San");

    m = json_array_get(t, 1);
    assert_string_equal(sys_jstr(m, "event"), "quotation.created");
    assert_string_equal(sys_jstr(m, "body"), qline);

    m = json_array_get(t, 0);
    assert_string_equal(sys_jstr(m, "event"), "lead.won");
    assert_string_equal(sys_jstr(m, "body"), "Opportunity won\nStage: Negotiation → Won\nStatus: In progress → Won\nProbability: 80 % → 100 %");
    snprintf(a, sizeof a, "%lld", (long long)nego);
    snprintf(b, sizeof b, "%lld", (long long)won);
    assert_tracked(m, "stageId", a, b, "Negotiation", "Won");
    assert_tracked(m, "status", "LEAD_STATUS_IN_PROGRESS", "LEAD_STATUS_WON", "In progress", "Won");
    for (size_t k = 1; k < 7; k++)
        assert_true(sys_jint(json_array_get(t, k - 1), "at") >= sys_jint(json_array_get(t, k), "at"));
    for (size_t k = 0; k < 7; k++) {
        assert_string_equal(sys_jstr(json_array_get(t, k), "doc.model"), "lead");
        assert_int_equal(sys_jint(json_array_get(t, k), "doc.id"), id);
    }
    json_decref(t);
    free(lee);
}

/* A lead's other events: created as a lead, a team, converted with a new
 * customer, lost. */
static void test_tracking_lead_lifecycle(void **state)
{
    json_t *team = OK(admin, I("CreateTeam"), "{\"name\":\"Fairs\"}");
    int64_t team_id = sys_jint(team, "id");
    json_decref(team);
    json_t *l = OK(admin, P("CreateLead"), "{\"name\":\"Card from the fair\",\"contactName\":\"Wang Wu\"}");
    int64_t id = sys_jint(l, "id");
    json_decref(l);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"teamId\":\"%lld\"}", (long long)id, (long long)team_id));
    json_t *conv = OK(admin, P("ConvertLead"), "{\"id\":\"%lld\",\"customerAction\":\"CUSTOMER_ACTION_CREATE\"}", (long long)id);
    int64_t customer = sys_jint(conv, "customerId");
    assert_true(customer > 0);
    json_decref(conv);
    json_t *lost = OK(admin, P("MarkLost"), "{\"id\":\"%lld\"}", (long long)id);
    char lost_stage[24];
    snprintf(lost_stage, sizeof lost_stage, "%lld", (long long)sys_jint(lost, "stageId"));
    json_decref(lost);

    json_t *t = await_kind(admin, id, "MESSAGE_KIND_TRACKING", 4);
    if (json_array_size(t) != 4) {
        char *text = json_dumps(t, JSON_INDENT(1));
        fail_msg("want 4 tracking messages, got %zu: %s", json_array_size(t), text);
    }
    json_t *m = json_array_get(t, 3);
    assert_string_equal(sys_jstr(m, "event"), "lead.created");
    assert_string_equal(sys_jstr(m, "body"), "Lead created");
    m = json_array_get(t, 2);
    assert_string_equal(sys_jstr(m, "body"), "Sales team: — → Fairs");
    char want[24];
    snprintf(want, sizeof want, "%lld", (long long)team_id);
    assert_tracked(m, "teamId", "0", want, "—", "Fairs");
    m = json_array_get(t, 1);
    assert_string_equal(sys_jstr(m, "event"), "lead.converted");
    assert_string_equal(sys_jstr(m, "body"), "Converted to an opportunity\nCustomer: — → Wang Wu");
    snprintf(want, sizeof want, "%lld", (long long)customer);
    assert_tracked(m, "customerId", "0", want, "—", "Wang Wu");
    m = json_array_get(t, 0);
    assert_string_equal(sys_jstr(m, "event"), "lead.lost");
    assert_non_null(strstr(sys_jstr(m, "body"), "Opportunity lost\nStage: New → Lost\nStatus: New → Lost"));
    assert_tracked(m, "status", "LEAD_STATUS_NEW", "LEAD_STATUS_LOST", "New", "Lost");
    assert_string_equal(sys_jstr(tracked(m, "stageId"), "newValue"), lost_stage);
    json_decref(t);
}

/* Read your writes across services: a session's write to identity or
 * pipeline is seen by its next call to activities, however far behind
 * activities' read models are when the call arrives. */
static void test_read_your_writes(void **state)
{
    int64_t lead = new_lead(admin, "Seen at once", 0);
    sync_activities();
    int64_t planned = (now_us() / HOUR_US + 24) * HOUR_US;
    for (int round = 0; round < 3; round++) {
        /* activities frozen: it applies nothing until the call that needs it is there */
        kill(env->pid[SYS_ACTIVITIES], SIGSTOP);
        char login[32];
        snprintf(login, sizeof login, "ryw%d", round);
        json_t *u = OK(admin, I("CreateUser"), "{\"login\":\"%s\",\"name\":\"Fresh %d\",\"salesAccess\":\"SALES_ACCESS_ALL_LEADS\"}",
                       login, round);
        int64_t user = sys_jint(u, "user.id");
        json_decref(u);
        json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"expectedRevenue\":\"%d\"}", (long long)lead, 100 * (round + 1)));
        kill(env->pid[SYS_ACTIVITIES], SIGCONT);
        /* the new user is a valid responsible at once, and the change is in the chatter */
        json_t *c = OK(admin, A("ScheduleCall"),
                       "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Welcome call\",\"plannedAt\":\"%lld\",\"responsibleId\":\"%lld\"}",
                       (long long)lead, (long long)planned, (long long)user);
        assert_int_equal(sys_jint(c, "responsibleId"), user);
        json_decref(c);
        json_t *all = chatter(admin, lead, 200);
        json_t *t = of_kind(all, "MESSAGE_KIND_TRACKING");
        assert_int_equal(json_array_size(t), (size_t)round + 2); /* created, and one per round */
        char want[24];
        snprintf(want, sizeof want, "%d", 100 * (round + 1));
        assert_string_equal(sys_jstr(tracked(json_array_get(t, 0), "expectedRevenue"), "newValue"), want);
        json_decref(t);
        json_decref(all);
    }
}

/* --- 3. exactly once while activities is killed ----------------------------------- */

#define LEADS 100
#define STEPS 10 /* updates per lead */

/* What step k of the writer does to a lead: even steps change the revenue,
 * odd ones move the stage with a new probability, so every update is a
 * tracked change and no two of a lead's messages can be alike. */
static int64_t step_revenue(int k) { return (int64_t)(k + 1) * 1000; }
static int step_probability(int k) { return 11 + k; }

/* One UpdateLead with an idempotency key, retried while the system answers
 * unavailable (a retry after a lost reply gets the first answer again, so
 * each step is one event). Child only. */
static int keyed_update(sys_env_t *e, const char *token, const char *key, const char *body)
{
    int64_t until = sys_now_ms() + 20000;
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *m = crm_services_find(P("UpdateLead"), &svc);
    while (m && sys_now_ms() < until) {
        crm_status_t st;
        ProtobufCMessage *in = crm_json_decode(m->input, body, strlen(body), CRM_JSON_FILL_UPDATE_MASK, NULL, &st);
        if (!in)
            return -1;
        ProtobufCMessage *out = sys_call_idem(e, P("UpdateLead"), token, key, in, m->output, &st);
        protobuf_c_message_free_unpacked(in, NULL);
        if (out) {
            protobuf_c_message_free_unpacked(out, NULL);
            return 0;
        }
        if (st.code != CODE(UNAVAILABLE) && st.code != CODE(DEADLINE_EXCEEDED)) {
            fprintf(stderr, "UpdateLead %s: %s %s\n", body, crm_code_name(st.code), st.message);
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

/* Makes STEPS updates to each lead, step by step across all leads, writing
 * a line to fd after each acknowledged one. */
static void update_writer(sys_env_t *e, int fd, const int64_t *leads, int64_t stage_b, int64_t stage_c)
{
    e->client = crm_client_new(e->zmq);
    crm_status_t st;
    char *token = sys_login(e, "admin", SYS_ADMIN_PASSWORD, &st);
    if (!token)
        _exit(1);
    for (int k = 0; k < STEPS; k++)
        for (int i = 0; i < LEADS; i++) {
            char key[32], body[160];
            snprintf(key, sizeof key, "upd-%d-%d", i, k);
            if (k % 2 == 0)
                snprintf(body, sizeof body, "{\"id\":\"%lld\",\"expectedRevenue\":\"%lld\"}", (long long)leads[i],
                         (long long)step_revenue(k));
            else
                snprintf(body, sizeof body, "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"probability\":%d}", (long long)leads[i],
                         (long long)(k % 4 == 1 ? stage_b : stage_c), step_probability(k));
            if (keyed_update(e, token, key, body) != 0)
                _exit(2);
            dprintf(fd, "%d\n", k * LEADS + i);
        }
    free(token);
    _exit(0);
}

/* Checks one lead's tracking: exactly one lead.created and STEPS
 * lead.updated messages, in the writer's order, none alike. */
static void check_lead_tracking(int64_t lead, int64_t stage_b, int64_t stage_c)
{
    json_t *all = chatter(admin, lead, 4);
    json_t *t = of_kind(all, "MESSAGE_KIND_TRACKING");
    json_decref(all);
    size_t n = json_array_size(t), updated = 0, created = 0;
    json_t *m;
    size_t i;
    json_array_foreach(t, i, m) {
        updated += !strcmp(sys_jstr(m, "event"), "lead.updated");
        created += !strcmp(sys_jstr(m, "event"), "lead.created");
    }
    if (updated != STEPS || created != 1 || n != STEPS + 1) {
        char *text = json_dumps(t, JSON_INDENT(1));
        fail_msg("lead %lld: %zu lead.updated (want %d), %zu lead.created, %zu tracking in all:\n%.4000s",
                 (long long)lead, updated, STEPS, created, n, text);
    }
    for (size_t x = 0; x < n; x++)
        for (size_t y = x + 1; y < n; y++) {
            json_t *p = json_array_get(t, x), *q = json_array_get(t, y);
            if (!strcmp(sys_jstr(p, "body"), sys_jstr(q, "body")) || sys_jint(p, "id") == sys_jint(q, "id"))
                fail_msg("lead %lld: messages %lld and %lld are alike: %s", (long long)lead, (long long)sys_jint(p, "id"),
                         (long long)sys_jint(q, "id"), sys_jstr(p, "body"));
        }
    /* newest first: step k is at n - 2 - k */
    for (int k = 0; k < STEPS; k++) {
        json_t *msg = json_array_get(t, n - 2 - (size_t)k);
        char want[24];
        assert_string_equal(sys_jstr(msg, "event"), "lead.updated");
        if (k % 2 == 0) {
            snprintf(want, sizeof want, "%lld", (long long)step_revenue(k));
            assert_string_equal(sys_jstr(tracked(msg, "expectedRevenue"), "newValue"), want);
        } else {
            snprintf(want, sizeof want, "%d", step_probability(k));
            assert_string_equal(sys_jstr(tracked(msg, "probability"), "newValue"), want);
            snprintf(want, sizeof want, "%lld", (long long)(k % 4 == 1 ? stage_b : stage_c));
            assert_string_equal(sys_jstr(tracked(msg, "stageId"), "newValue"), want);
        }
    }
    json_decref(t);
}

/* The pipeline sequence a service reports, produced (its own outbox head)
 * or applied (its consumer cursor), from Health; -1 if it does not answer. */
static int64_t pipeline_seq(const char *service, const char *which)
{
    crm_status_t st;
    json_t *h = sys_jcall(env, "crm.health.v1.Health/Check", NULL, &st, "{\"service\":\"%s\"}", service);
    if (!h)
        return -1;
    int64_t seq = -1;
    json_t *marks = json_object_get(h, which), *m;
    size_t i;
    json_array_foreach(marks, i, m) if (!strcmp(sys_jstr(m, "producer"), "pipeline")) seq = sys_jint(m, "seq");
    json_decref(h);
    return seq;
}

/* How many times activities has said it is serving (once per start). */
static int activities_starts(void)
{
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/activities.log", env->dir);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, "INFO activities serving on") != NULL;
    if (f)
        fclose(f);
    return n;
}

static void test_exactly_once_under_kill(void **state)
{
    int64_t stage_b = stage_named("Qualification"), stage_c = stage_named("Proposition");
    int64_t leads[LEADS];
    for (int i = 0; i < LEADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "Durable %d", i);
        leads[i] = new_lead(admin, name, 0);
    }
    sync_activities();
    int64_t t0 = sys_now_ms();

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        update_writer(env, fds[1], leads, stage_b, stage_c);
    }
    close(fds[1]);
    /* kill -9 on the writer's progress, in each state activities can be
     * in: applying the live stream (250, 800), down while events pile up
     * (450 to 600), and restarted with that backlog to replay (600: killed
     * the moment it says it serves, before it can have caught up) */
    FILE *acked = fdopen(fds[0], "r");
    int n = 0, step, kills = 0;
    int64_t lag[4] = {0};
    while (fscanf(acked, "%d", &step) == 1) {
        n++;
        if (n != 250 && n != 450 && n != 600 && n != 800)
            continue;
        int64_t applied = -1;
        if (n == 600) {
            int starts = activities_starts();
            int64_t until = sys_now_ms() + 15000;
            assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
            while (activities_starts() == starts && sys_now_ms() < until)
                usleep(1000);
            assert_true(activities_starts() > starts);
        } else {
            applied = pipeline_seq("activities", "applied");
        }
        lag[kills] = applied < 0 ? -1 : pipeline_seq("pipeline", "produced") - applied;
        assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
        kills++;
        if (n == 450)
            continue; /* stays down until 600 */
        assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
        if (n != 800)
            assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    }
    fclose(acked);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the writer failed (status %d) after %d updates", status, n);
    assert_int_equal(n, LEADS * STEPS);
    assert_int_equal(kills, 4);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    /* how far behind activities was at each kill (-1: not asked),
     * for whoever reads the log */
    print_message("%d updates, %d kills (activities %lld, %lld, %lld, %lld events behind) in %lld ms\n", n, kills,
                  (long long)lag[0], (long long)lag[1], (long long)lag[2], (long long)lag[3],
                  (long long)(sys_now_ms() - t0));

    /* caught up once the last update's message is there: events apply in order */
    json_decref(await_kind(admin, leads[LEADS - 1], "MESSAGE_KIND_TRACKING", STEPS + 1));
    for (int i = 0; i < LEADS; i++)
        check_lead_tracking(leads[i], stage_b, stage_c);
    print_message("checked in %lld ms\n", (long long)(sys_now_ms() - t0));
}

/* A keyed PostMessage whose answer was lost to a kill -9 is still one
 * message when retried after the restart: the stored reply is durable. */
static void test_keyed_post_survives_kill(void **state)
{
    int64_t lead = new_lead(admin, "Retried after a crash", 0);
    sync_activities();
    char body[256];
    snprintf(body, sizeof body, "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"once\"}",
             (long long)lead);
    json_t *first = post_keyed(admin, "crash-retry", body);
    int64_t id = sys_jint(first, "id");
    json_decref(first);
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    json_t *again = post_keyed(admin, "crash-retry", body);
    assert_int_equal(sys_jint(again, "id"), id);
    json_decref(again);
    json_t *notes = await_kind(admin, lead, "MESSAGE_KIND_NOTE", 1);
    assert_int_equal(json_array_size(notes), 1);
    json_decref(notes);
}

/* A user who has just logged in schedules a call for themselves. The
 * gateway learns the session's principal from identity (Authenticate), so
 * identity has produced the user's creation before the session's first
 * call; activities, which learns users from identity's events, must not
 * answer that call from a read model that has not seen them yet (see
 * ARCHITECTURE.md, Read-your-writes marks). Activities is made to lag for good, not by luck: it is restarted
 * listening for identity's events where identity is not. */
static void test_fresh_session_waits_for_its_user(void **state)
{
    int64_t lead = new_lead(admin, "For a newcomer", 0);
    sync_activities();
    char events[64], replay[64], dead_events[64], dead_replay[64];
    snprintf(events, sizeof events, "%s", env->identity_events);
    snprintf(replay, sizeof replay, "%s", env->identity_replay);
    /* the harness checked the whole block of 16 ports free; 14 and 15 are never used */
    snprintf(dead_events, sizeof dead_events, "tcp://127.0.0.1:%d", env->base_port + 14);
    snprintf(dead_replay, sizeof dead_replay, "tcp://127.0.0.1:%d", env->base_port + 15);
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
    snprintf(env->identity_events, sizeof env->identity_events, "%s", dead_events);
    snprintf(env->identity_replay, sizeof env->identity_replay, "%s", dead_replay);
    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    snprintf(env->identity_events, sizeof env->identity_events, "%s", events);
    snprintf(env->identity_replay, sizeof env->identity_replay, "%s", replay);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);

    int64_t fresh;
    char *token = login_new_user("newcomer", "New Comer", "SALES_ACCESS_ALL_LEADS", &fresh);
    crm_status_t st;
    int64_t t0 = sys_now_ms();
    json_t *c = sys_jcall(env, A("ScheduleCall"), token, &st,
                          "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"My first call\",\"plannedAt\":\"%lld\",\"responsibleId\":\"%lld\"}",
                          (long long)lead, (long long)((now_us() / HOUR_US + 24) * HOUR_US), (long long)fresh);
    int64_t took = sys_now_ms() - t0;
    json_decref(c);
    free(token);
    /* activities back to normal before any assertion can end the test */
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);
    /* held until the deadline (it can't catch up) or answered knowing the
     * user; never refused as if the logged-in user did not exist */
    if (!c && st.code != CODE(DEADLINE_EXCEEDED))
        fail_msg("a logged-in user's own call was answered %s \"%s\" (field %s) after %lld ms: activities "
                 "answered from a read model behind the session",
                 crm_code_name(st.code), st.message, st.field, (long long)took);
}

/* The default limit (10 MiB) is reachable end to end: an attachment of
 * exactly that size goes in through the gateway and comes back whole; one
 * byte more is refused, naming the field. */
static void test_default_attachment_limit(void **state)
{
    const size_t limit = 10 * 1024 * 1024;
    int64_t lead = new_lead(admin, "Big files", 0);
    sync_activities();
    uint8_t *big = malloc(limit + 1);
    assert_non_null(big);
    fill_binary(big, limit + 1, 17);
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = lead;
    Crm__Activities__V1__Attachment at = CRM__ACTIVITIES__V1__ATTACHMENT__INIT, *ats[1] = {&at};
    at.filename = "scan.tiff";
    at.content_type = "image/tiff";
    at.data.data = big;
    at.data.len = limit + 1;
    Crm__Activities__V1__PostMessageRequest req = CRM__ACTIVITIES__V1__POST_MESSAGE_REQUEST__INIT;
    req.doc = &doc;
    req.kind = CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_NOTE;
    req.attachments = ats;
    req.n_attachments = 1;
    crm_status_t st;
    Crm__Activities__V1__Message *m = sys_call(env, A("PostMessage"), admin, &req.base,
                                               &crm__activities__v1__message__descriptor, &st);
    assert_null(m);
    assert_int_equal(st.code, CODE(INVALID_ARGUMENT));
    assert_string_equal(st.field, "attachments[0].data");
    assert_int_equal(chatter_size(admin, lead), 1); /* its creation only */

    at.data.len = limit;
    m = sys_call(env, A("PostMessage"), admin, &req.base, &crm__activities__v1__message__descriptor, &st);
    if (!m)
        fail_msg("PostMessage of %zu bytes: %s %s (field %s)", limit, crm_code_name(st.code), st.message, st.field);
    assert_int_equal(m->n_attachments, 1);
    assert_int_equal(m->attachments[0]->size, (int64_t)limit);
    char hex[65];
    sha256_hex(hex, big, limit);
    assert_string_equal(m->attachments[0]->sha256, hex);
    Crm__Activities__V1__GetAttachmentRequest get = CRM__ACTIVITIES__V1__GET_ATTACHMENT_REQUEST__INIT;
    get.id = m->attachments[0]->id;
    protobuf_c_message_free_unpacked(&m->base, NULL);
    Crm__Activities__V1__Attachment *back = sys_call(env, A("GetAttachment"), admin, &get.base,
                                                     &crm__activities__v1__attachment__descriptor, &st);
    if (!back)
        fail_msg("GetAttachment of %zu bytes: %s %s", limit, crm_code_name(st.code), st.message);
    assert_int_equal(back->data.len, limit);
    assert_memory_equal(back->data.data, big, limit);
    assert_string_equal(back->sha256, hex);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    free(big);
}

/* --- 4. access ------------------------------------------------------------------- */

static void test_access(void **state)
{
    int64_t own1_id, own2_id;
    char *own1 = login_new_user("acc-own1", "Own One", "SALES_ACCESS_OWN_LEADS", &own1_id);
    char *own2 = login_new_user("acc-own2", "Own Two", "SALES_ACCESS_OWN_LEADS", &own2_id);
    char *none = login_new_user("acc-none", "No Sales", "SALES_ACCESS_NONE", NULL);
    int64_t mine = new_lead(admin, "Own one's deal", own1_id);
    int64_t theirs = new_lead(admin, "Own two's deal", own2_id);
    json_t *cu = OK(admin, P("CreateCustomer"), "{\"name\":\"Shared Customer\"}");
    int64_t customer = sys_jint(cu, "id");
    json_decref(cu);
    sync_activities();

    /* own2 fills their lead: a file, a call */
    uint8_t bytes[64];
    fill_binary(bytes, sizeof bytes, 3);
    char *data = b64(bytes, sizeof bytes);
    json_t *p = OK(own2, A("PostMessage"),
                   "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"secret\","
                   "\"attachments\":[{\"filename\":\"terms.txt\",\"contentType\":\"text/plain\",\"data\":\"%s\"}]}",
                   (long long)theirs, data);
    int64_t their_att = sys_jint(json_array_get(json_object_get(p, "attachments"), 0), "id");
    json_decref(p);
    int64_t planned = (now_us() / HOUR_US + 30) * HOUR_US;
    json_t *c = OK(own2, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Their call\",\"plannedAt\":\"%lld\"}",
                   (long long)theirs, (long long)planned);
    int64_t their_call = sys_jint(c, "id");
    json_decref(c);
    size_t their_msgs = chatter_size(own2, theirs);

    /* own1 can't tell another salesperson's lead from none */
    const char *doc_fmt = "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}";
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ListMessages"), doc_fmt, (long long)theirs);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("PostMessage"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"hi\"}", (long long)theirs);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\"}",
        (long long)theirs);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ScheduleCall"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\"}", (long long)theirs,
        (long long)planned);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ListCalls"), doc_fmt, (long long)theirs);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ScheduleMeeting"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}",
        (long long)theirs, (long long)planned, (long long)(planned + HOUR_US));
    ERR(CODE(NOT_FOUND), "id", own1, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)their_att);
    ERR(CODE(NOT_FOUND), "id", own1, A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)their_call);
    ERR(CODE(NOT_FOUND), "id", own1, A("CancelCall"), "{\"id\":\"%lld\"}", (long long)their_call);
    /* a list of all calls leaves theirs out */
    json_t *lc = OK(own1, A("ListCalls"), "{\"pageSize\":500}");
    assert_null(call_in(lc, their_call));
    json_decref(lc);
    /* nothing of own1's got in */
    assert_int_equal(chatter_size(own2, theirs), their_msgs);
    lc = OK(own2, A("ListCalls"), doc_fmt, (long long)theirs);
    assert_int_equal(json_array_size(json_object_get(lc, "calls")), 1);
    assert_string_equal(sys_jstr(call_in(lc, their_call), "status"), "CALL_STATUS_SCHEDULED");
    json_decref(lc);

    /* own1 on their own lead: everything */
    p = OK(own1, A("PostMessage"),
           "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"mine\","
           "\"attachments\":[{\"filename\":\"mine.txt\",\"contentType\":\"text/plain\",\"data\":\"%s\"}]}",
           (long long)mine, data);
    int64_t my_att = sys_jint(json_array_get(json_object_get(p, "attachments"), 0), "id");
    json_decref(p);
    json_t *g = OK(own1, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)my_att);
    assert_attachment_bytes(g, bytes, sizeof bytes);
    json_decref(g);
    json_decref(OK(own1, A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Called\"}", (long long)mine));
    c = OK(own1, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Call again\",\"plannedAt\":\"%lld\"}",
           (long long)mine, (long long)planned);
    int64_t my_call = sys_jint(c, "id");
    json_decref(c);
    lc = OK(own1, A("ListCalls"), doc_fmt, (long long)mine);
    assert_int_equal(json_array_size(json_object_get(lc, "calls")), 2);
    json_decref(lc);
    json_t *l = OK(own1, A("ListMessages"), doc_fmt, (long long)mine);
    /* created, note, call logged, call scheduled */
    assert_int_equal(json_array_size(json_object_get(l, "messages")), 4);
    json_decref(l);
    json_t *cal = OK(own1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
                     (long long)(planned + DAY_US));
    assert_non_null(event_in(cal, "CALENDAR_EVENT_KIND_CALL", my_call));
    assert_null(event_in(cal, "CALENDAR_EVENT_KIND_CALL", their_call));
    json_decref(cal);
    /* ... but only their own calendar */
    ERR(CODE(PERMISSION_DENIED), "userId", own1, A("ListCalendar"), "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}",
        (long long)own2_id, (long long)(planned - DAY_US), (long long)(planned + DAY_US));
    /* the same own1 call with an own1 user id is fine */
    json_decref(OK(own1, A("ListCalendar"), "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)own1_id,
                   (long long)(planned - DAY_US), (long long)(planned + DAY_US)));

    /* the lead handed to own2: own1 loses it in activities too */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)mine, (long long)own2_id));
    sync_activities();
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ListMessages"), doc_fmt, (long long)mine);
    ERR(CODE(NOT_FOUND), "id", own1, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)my_att);
    ERR(CODE(NOT_FOUND), "id", own1, A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)my_call);
    json_decref(OK(own2, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)my_att));
    /* ... and off their calendar, though they were its responsible */
    cal = OK(own1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
             (long long)(planned + DAY_US));
    assert_null(event_in(cal, "CALENDAR_EVENT_KIND_CALL", my_call));
    json_decref(cal);
    /* a page token naming a call own1 may not see is refused as a made-up one
     * is: resuming at it would tell when that call is */
    char token[24];
    crm_page_token_make(token, (uint64_t)their_call);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", own1, A("ListCalls"), "{\"pageToken\":\"%s\"}", token);
    crm_page_token_make(token, (uint64_t)their_call << 1); /* the calendar's token of that call */
    ERR(CODE(INVALID_ARGUMENT), "pageToken", own1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\",\"pageToken\":\"%s\"}",
        (long long)(planned - DAY_US), (long long)(planned + DAY_US), token);
    /* own2 invites own1 to a meeting on own2's lead: own1 sees the meeting
     * they were asked to, but not which lead it is about */
    json_t *mt = OK(own2, A("ScheduleMeeting"),
                    "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"Pricing\",\"startAt\":\"%lld\",\"endAt\":\"%lld\","
                    "\"attendeeIds\":[\"%lld\"]}",
                    (long long)theirs, (long long)planned, (long long)(planned + HOUR_US), (long long)own1_id);
    int64_t meeting = sys_jint(mt, "id");
    json_decref(mt);
    cal = OK(own1, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
             (long long)(planned + DAY_US));
    json_t *seen = event_in(cal, "CALENDAR_EVENT_KIND_MEETING", meeting);
    assert_non_null(seen);
    assert_string_equal(sys_jstr(seen, "title"), "Pricing");
    assert_null(json_object_get(seen, "doc"));
    json_decref(cal);
    cal = OK(own2, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)(planned - DAY_US),
             (long long)(planned + DAY_US));
    assert_int_equal(sys_jint(event_in(cal, "CALENDAR_EVENT_KIND_MEETING", meeting), "doc.id"), theirs);
    json_decref(cal);

    /* a quotation is seen as its opportunity; a customer by every salesperson, as in pipeline */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"%lld\"}", (long long)theirs, (long long)customer));
    json_t *q = OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)theirs);
    int64_t quote = sys_jint(q, "id");
    json_decref(q);
    sync_activities();
    json_decref(OK(own2, A("PostMessage"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"sent\"}",
                   (long long)quote));
    l = OK(own2, A("ListMessages"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)quote);
    assert_int_equal(json_array_size(json_object_get(l, "messages")), 1);
    json_decref(l);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("ListMessages"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)quote);
    ERR(CODE(NOT_FOUND), "doc.id", own1, A("PostMessage"),
        "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\"}", (long long)quote);
    json_decref(OK(own1, P("GetCustomer"), "{\"id\":\"%lld\"}", (long long)customer));
    json_decref(OK(own1, A("PostMessage"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"met them\"}",
                   (long long)customer));
    json_decref(OK(own2, A("ListMessages"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"}}", (long long)customer));
    /* the customer set and the quotation made are told on the lead */
    json_decref(await_kind(own2, theirs, "MESSAGE_KIND_TRACKING", 3));
    their_msgs = chatter_size(own2, theirs);

    /* no sales access: nothing at all */
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("ListMessages"), doc_fmt, (long long)theirs);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("PostMessage"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"hi\"}", (long long)theirs);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)their_att);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\"}",
        (long long)theirs);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("ScheduleCall"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\"}", (long long)theirs,
        (long long)planned);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("ListCalls"), "{}");
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)their_call);
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("ScheduleMeeting"),
        "{\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", (long long)planned, (long long)(planned + HOUR_US));
    ERR(CODE(PERMISSION_DENIED), NULL, none, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}",
        (long long)(planned - DAY_US), (long long)(planned + DAY_US));
    assert_int_equal(chatter_size(own2, theirs), their_msgs);
    free(data);
    free(own1);
    free(own2);
    free(none);
}

/* --- 5. bad input ------------------------------------------------------------- */

static int64_t watched;        /* the lead the refusals aim at */
static size_t watched_msgs, watched_calls;

/* A refusal that must leave nothing behind on the watched lead. */
#define REFUSED(code, field, method, ...)                                                                          \
    do {                                                                                                           \
        sys_expect_err(env, __LINE__, code, field, admin, method, __VA_ARGS__);                                         \
        assert_int_equal(chatter_size(admin, watched), watched_msgs);                                              \
        assert_int_equal(doc_calls(admin, watched), watched_calls);                                                \
    } while (0)

static void test_bad_input(void **state)
{
    watched = new_lead(admin, "Refusals", 0);
    int64_t other = new_lead(admin, "Elsewhere", 0);
    sync_activities();
    long long w = (long long)watched;
    /* one good message with a file, one scheduled call: the refusals' baseline */
    uint8_t ok_bytes[100], big[MAX_ATTACHMENT + 1];
    fill_binary(ok_bytes, sizeof ok_bytes, 11);
    fill_binary(big, sizeof big, 13);
    char *ok_data = b64(ok_bytes, sizeof ok_bytes), *big_data = b64(big, sizeof big);
    char *limit_data = b64(big, MAX_ATTACHMENT);
    json_t *first = OK(admin, A("PostMessage"),
                       "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"ok\","
                       "\"attachments\":[{\"filename\":\"ok.bin\",\"data\":\"%s\"}]}",
                       w, ok_data);
    int64_t first_att = sys_jint(json_array_get(json_object_get(first, "attachments"), 0), "id");
    /* no content type given: a safe default */
    assert_string_equal(sys_jstr(json_array_get(json_object_get(first, "attachments"), 0), "contentType"),
                        "application/octet-stream");
    json_decref(first);
    int64_t planned = (now_us() / HOUR_US + 5) * HOUR_US;
    json_t *sc = OK(admin, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"to hold\",\"plannedAt\":\"%lld\"}", w,
                    (long long)planned);
    int64_t to_hold = sys_jint(sc, "id");
    json_decref(sc);
    sc = OK(admin, A("ScheduleCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"to cancel\",\"plannedAt\":\"%lld\"}", w,
            (long long)planned);
    int64_t to_cancel = sys_jint(sc, "id");
    json_decref(sc);
    json_decref(OK(admin, A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)to_hold));
    json_decref(OK(admin, A("CancelCall"), "{\"id\":\"%lld\"}", (long long)to_cancel));
    watched_msgs = chatter_size(admin, watched);
    watched_calls = doc_calls(admin, watched);
    assert_int_equal(watched_calls, 2);

    /* attachments: over the limit (exactly at it is fine, below), empty, bad names and types */
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].data", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"big\","
            "\"attachments\":[{\"filename\":\"big.bin\",\"data\":\"%s\"}]}", w, big_data);
    /* the second of two, so the first's bytes must not stay */
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[1].data", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"big\","
            "\"attachments\":[{\"filename\":\"a.bin\",\"data\":\"%s\"},{\"filename\":\"big.bin\",\"data\":\"%s\"}]}", w,
            limit_data, big_data);
    ERR(CODE(NOT_FOUND), "id", admin, A("GetAttachment"), "{\"id\":\"%lld\"}", (long long)(first_att + 1));
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].data", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"empty\","
            "\"attachments\":[{\"filename\":\"empty.txt\",\"contentType\":\"text/plain\",\"data\":\"\"}]}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].filename", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\","
            "\"attachments\":[{\"filename\":\"../etc/passwd\",\"data\":\"%s\"}]}", w, ok_data);
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].filename", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\","
            "\"attachments\":[{\"filename\":\"\",\"data\":\"%s\"}]}", w, ok_data);
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].filename", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\","
            "\"attachments\":[{\"filename\":\"..\",\"data\":\"%s\"}]}", w, ok_data);
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].filename", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\","
            "\"attachments\":[{\"filename\":\"c:\\\\x.txt\",\"data\":\"%s\"}]}", w, ok_data);
    REFUSED(CODE(INVALID_ARGUMENT), "attachments[0].contentType", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\","
            "\"attachments\":[{\"filename\":\"a.txt\",\"contentType\":\"not a type\",\"data\":\"%s\"}]}", w, ok_data);
    /* a message needs something in it, and a kind people write */
    REFUSED(CODE(INVALID_ARGUMENT), "body", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "kind", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":9,\"body\":\"x\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "kind", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"body\":\"x\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "kind", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_TRACKING\",\"body\":\"Stage: forged\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "kind", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_CALL\",\"body\":\"x\"}", w);
    /* the document: missing, of no model, unknown */
    REFUSED(CODE(INVALID_ARGUMENT), "doc", A("PostMessage"), "{\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\"}");
    REFUSED(CODE(INVALID_ARGUMENT), "doc.model", A("PostMessage"),
            "{\"doc\":{\"model\":\"invoice\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\"}", w);
    REFUSED(CODE(NOT_FOUND), "doc.id", A("PostMessage"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"999999\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"x\"}");
    REFUSED(CODE(NOT_FOUND), "doc.id", A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"999999\"},\"summary\":\"x\"}");
    ERR(CODE(NOT_FOUND), "doc.id", admin, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"999999\"}}");
    ERR(CODE(INVALID_ARGUMENT), "doc", admin, A("ListMessages"), "{}");
    ERR(CODE(NOT_FOUND), "doc.id", admin, A("ListMessages"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"999999\"}}");
    /* calls: when */
    REFUSED(CODE(INVALID_ARGUMENT), "plannedAt", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"0\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "plannedAt", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"-5\"}", w);
    REFUSED(CODE(INVALID_ARGUMENT), "summary", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"\",\"plannedAt\":\"%lld\"}", w, (long long)planned);
    REFUSED(CODE(INVALID_ARGUMENT), "durationMinutes", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\",\"durationMinutes\":-1}", w,
            (long long)planned);
    REFUSED(CODE(INVALID_ARGUMENT), "responsibleId", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\",\"responsibleId\":\"999999\"}", w,
            (long long)planned);
    REFUSED(CODE(INVALID_ARGUMENT), "at", A("LogCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"at\":\"%lld\"}", w, (long long)(now_us() + DAY_US));
    REFUSED(CODE(INVALID_ARGUMENT), "at", A("LogCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"at\":\"-1\"}", w);
    /* meetings and the calendar: order of instants */
    REFUSED(CODE(INVALID_ARGUMENT), "endAt", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", w,
            (long long)planned, (long long)planned);
    REFUSED(CODE(INVALID_ARGUMENT), "endAt", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", w,
            (long long)planned, (long long)(planned - HOUR_US));
    REFUSED(CODE(INVALID_ARGUMENT), "attendeeIds[0]", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"attendeeIds\":[\"999999\"]}",
            w, (long long)planned, (long long)(planned + HOUR_US));
    REFUSED(CODE(INVALID_ARGUMENT), "endAt", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", w,
            (long long)planned, (long long)(planned + 15 * DAY_US));
    REFUSED(CODE(INVALID_ARGUMENT), "startAt", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"0\",\"endAt\":\"%lld\"}", w,
            (long long)planned);
    REFUSED(CODE(INVALID_ARGUMENT), "title", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", w,
            (long long)planned, (long long)(planned + HOUR_US));
    {
        char many[2048];
        size_t len = 0;
        for (int k = 0; k < 101; k++)
            len += (size_t)snprintf(many + len, sizeof many - len, "%s\"%d\"", k ? "," : "", 1000 + k);
        REFUSED(CODE(INVALID_ARGUMENT), "attendeeIds", A("ScheduleMeeting"),
                "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"attendeeIds\":[%s]}",
                w, (long long)planned, (long long)(planned + HOUR_US), many);
        len = 0;
        for (int k = 0; k < 17; k++)
            len += (size_t)snprintf(many + len, sizeof many - len, "%s{\"filename\":\"f%d\",\"data\":\"QQ==\"}", k ? "," : "", k);
        REFUSED(CODE(INVALID_ARGUMENT), "attachments", A("PostMessage"),
                "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"attachments\":[%s]}", w, many);
    }
    /* people: a responsible must be an active salesperson, an attendee an active user */
    int64_t clerk, gone;
    free(login_new_user("bad-clerk", "Clerk", "SALES_ACCESS_NONE", &clerk));
    free(login_new_user("bad-gone", "Gone", "SALES_ACCESS_ALL_LEADS", &gone));
    json_decref(OK(admin, I("UpdateUser"), "{\"id\":\"%lld\",\"active\":false}", (long long)gone));
    sync_activities();
    REFUSED(CODE(INVALID_ARGUMENT), "responsibleId", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\",\"responsibleId\":\"%lld\"}", w,
            (long long)planned, (long long)clerk);
    REFUSED(CODE(INVALID_ARGUMENT), "responsibleId", A("ScheduleCall"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\",\"responsibleId\":\"%lld\"}", w,
            (long long)planned, (long long)gone);
    /* a responsible must be able to see the lead, or could never hold the call */
    int64_t owner, own;
    free(login_new_user("bad-owner", "Owner", "SALES_ACCESS_ALL_LEADS", &owner));
    free(login_new_user("bad-own", "Own", "SALES_ACCESS_OWN_LEADS", &own));
    int64_t owned = new_lead(admin, "Owned", owner);
    sync_activities();
    ERR(CODE(INVALID_ARGUMENT), "responsibleId", admin, A("ScheduleCall"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"x\",\"plannedAt\":\"%lld\",\"responsibleId\":\"%lld\"}",
        (long long)owned, (long long)planned, (long long)own);
    assert_int_equal(doc_calls(admin, owned), 0);
    REFUSED(CODE(INVALID_ARGUMENT), "attendeeIds[1]", A("ScheduleMeeting"),
            "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"attendeeIds\":[\"%lld\",\"%lld\"]}",
            w, (long long)planned, (long long)(planned + HOUR_US), (long long)clerk, (long long)gone);
    ERR(CODE(INVALID_ARGUMENT), "to", admin, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)planned,
        (long long)(planned + 367 * DAY_US));
    ERR(CODE(INVALID_ARGUMENT), "from", admin, A("ListCalendar"), "{\"to\":\"%lld\"}", (long long)planned);
    ERR(CODE(INVALID_ARGUMENT), "to", admin, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)planned,
        (long long)planned);
    ERR(CODE(INVALID_ARGUMENT), "to", admin, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)planned,
        (long long)(planned - HOUR_US));
    ERR(CODE(INVALID_ARGUMENT), "to", admin, A("ListCalls"), "{\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)planned,
        (long long)planned);
    /* a call moves only from scheduled */
    REFUSED(CODE(FAILED_PRECONDITION), "id", A("CancelCall"), "{\"id\":\"%lld\"}", (long long)to_hold);
    REFUSED(CODE(FAILED_PRECONDITION), "id", A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)to_hold);
    REFUSED(CODE(FAILED_PRECONDITION), "id", A("MarkCallHeld"), "{\"id\":\"%lld\"}", (long long)to_cancel);
    REFUSED(CODE(FAILED_PRECONDITION), "id", A("CancelCall"), "{\"id\":\"%lld\"}", (long long)to_cancel);
    json_t *lc = OK(admin, A("ListCalls"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", w);
    assert_string_equal(sys_jstr(call_in(lc, to_hold), "status"), "CALL_STATUS_HELD");
    assert_string_equal(sys_jstr(call_in(lc, to_cancel), "status"), "CALL_STATUS_CANCELLED");
    json_decref(lc);
    REFUSED(CODE(NOT_FOUND), "id", A("MarkCallHeld"), "{\"id\":\"999999\"}");
    REFUSED(CODE(NOT_FOUND), "id", A("CancelCall"), "{\"id\":\"0\"}");
    ERR(CODE(NOT_FOUND), "id", admin, A("GetAttachment"), "{\"id\":\"999999\"}");
    /* page tokens: forged, or from another document's chatter */
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, A("ListMessages"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageToken\":\"forged\"}", w);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, A("ListCalls"), "{\"pageToken\":\"forged\"}");
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, A("ListCalendar"), "{\"from\":\"%lld\",\"to\":\"%lld\",\"pageToken\":\"forged\"}",
        (long long)planned, (long long)(planned + HOUR_US));
    json_t *pg = OK(admin, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}", w);
    char token[64];
    snprintf(token, sizeof token, "%s", sys_jstr(pg, "nextPageToken"));
    json_decref(pg);
    assert_true(token[0] != '\0');
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, A("ListMessages"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageToken\":\"%s\"}", (long long)other, token);
    ERR(CODE(INVALID_ARGUMENT), "pageSize", admin, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":-1}", w);

    /* exactly at the limit is accepted */
    json_t *at_limit = OK(admin, A("PostMessage"),
                          "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\","
                          "\"attachments\":[{\"filename\":\"limit.bin\",\"data\":\"%s\"}]}", w, limit_data);
    assert_int_equal(sys_jint(json_array_get(json_object_get(at_limit, "attachments"), 0), "size"), MAX_ATTACHMENT);
    json_decref(at_limit);
    watched_msgs++;
    assert_int_equal(chatter_size(admin, watched), watched_msgs);

    /* a retried post with one idempotency key is one message, through either door */
    char body[256];
    snprintf(body, sizeof body, "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"only once\"}", w);
    json_t *p1 = post_keyed(admin, "post-once-1", body);
    json_t *p2 = post_keyed(admin, "post-once-1", body);
    assert_true(sys_jint(p1, "id") > 0);
    assert_int_equal(sys_jint(p1, "id"), sys_jint(p2, "id"));
    json_decref(p1);
    json_decref(p2);
    watched_msgs++;
    assert_int_equal(chatter_size(admin, watched), watched_msgs);
    char headers[512];
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nIdempotency-Key: post-once-2\r\nContent-Type: application/json\r\n",
             admin);
    int64_t ids[2];
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        int status = sys_http(env, "POST", "/twirp/" A("PostMessage"), headers, body, strlen(body), &out, NULL);
        if (status != 200)
            fail_msg("HTTP PostMessage: %d %s", status, out ? out : "");
        json_t *j = json_loads(out, 0, NULL);
        assert_non_null(j);
        ids[k] = sys_jint(j, "id");
        json_decref(j);
        free(out);
    }
    assert_true(ids[0] > 0);
    assert_int_equal(ids[0], ids[1]);
    watched_msgs++;
    assert_int_equal(chatter_size(admin, watched), watched_msgs);
    free(ok_data);
    free(big_data);
    free(limit_data);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_chatter_and_calls),
        cmocka_unit_test(test_meetings_on_calendar),
        cmocka_unit_test(test_tracking),
        cmocka_unit_test(test_tracking_lead_lifecycle),
        cmocka_unit_test(test_read_your_writes),
        cmocka_unit_test(test_access),
        cmocka_unit_test(test_bad_input),
    };
    const struct CMUnitTest durability[] = {
        cmocka_unit_test(test_exactly_once_under_kill),
        cmocka_unit_test(test_keyed_post_survives_kill),
        cmocka_unit_test(test_fresh_session_waits_for_its_user),
        cmocka_unit_test(test_default_attachment_limit),
    };
    int failed = cmocka_run_group_tests_name("activities", tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("activities-durability", durability, setup_plain, teardown);
}
