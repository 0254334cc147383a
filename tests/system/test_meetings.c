/* Meetings through the gateway, both doors: scheduled with a place and a
 * description, read, listed by user and by document, changed (a new time
 * asks attendees again and moves the calendar), cancelled and answered;
 * who may see and change them (own-leads users, attendees, managers); bad
 * input named by field; the chatter messages and the inbox entries each
 * change gives. Services start once for the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "activities.pb-c.h"
#include "crm_request.h"
#include "crm_store.h"
#include "harness.h"

#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define A(m) "crm.activities.v1.Activities/" m
#define N(m) "crm.notifications.v1.Notifications/" m
#define TWIRP "/twirp/crm.activities.v1.Activities/"

#define HOUR_US 3600000000LL
#define DAY_US (24 * HOUR_US)

static sys_env_t *env;
static char *admin;
/* olga organises, ari attends (both All Leads), mona manages; ona and otto
 * see their own leads only */
static char *olga, *ari, *mona, *ona, *otto;
static int64_t olga_id, ari_id, mona_id, ona_id, otto_id;
static int64_t day; /* midnight UTC, a few days ahead */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    if (!env)
        return -1;
    olga = sys_new_sales_user(env, admin, "olga", "Olga Organiser", "SALES_ACCESS_ALL_LEADS", &olga_id);
    ari = sys_new_sales_user(env, admin, "ari", "Ari Attendee", "SALES_ACCESS_ALL_LEADS", &ari_id);
    mona = sys_new_sales_user(env, admin, "mona", "Mona Manager", "SALES_ACCESS_MANAGER", &mona_id);
    ona = sys_new_sales_user(env, admin, "ona", "Ona Own", "SALES_ACCESS_OWN_LEADS", &ona_id);
    otto = sys_new_sales_user(env, admin, "otto", "Otto Own", "SALES_ACCESS_OWN_LEADS", &otto_id);
    day = (now_us() / DAY_US + 3) * DAY_US;
    return 0;
}

static int teardown(void **state)
{
    free(olga), free(ari), free(mona), free(ona), free(otto), free(admin);
    int bad = sys_stop(env);
    env = NULL;
    return bad == 0 ? 0 : -1;
}

/* Activities learns of users and leads from events: a read by admin's
 * session waits for admin's writes to be applied there. */
static void sync_activities(void) { json_decref(OK(admin, A("ListCalls"), "{\"pageSize\":1}")); }

static int64_t new_lead(const char *name, int64_t salesperson)
{
    int64_t id = sys_new_opportunity(env, admin, name, salesperson);
    sync_activities();
    return id;
}

/* --- HTTP door -------------------------------------------------------------------- */

/* A Twirp JSON call as token: the HTTP status, the body parsed into *out. */
static int http_json(const char *token, const char *idem, const char *method, json_t **out, const char *fmt, ...)
{
    char body[4096], headers[512], *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s%s%s", token,
             idem ? "Idempotency-Key: " : "", idem ? idem : "", idem ? "\r\n" : "");
    char path[128];
    snprintf(path, sizeof path, TWIRP "%s", method);
    int status = sys_http(env, "POST", path, headers, body, strlen(body), &text, NULL);
    *out = text ? json_loads(text, 0, NULL) : NULL;
    if (!*out)
        fail_msg("HTTP %s: %d, not JSON: %s", method, status, text ? text : "(nothing)");
    free(text);
    return status;
}

static json_t *http_ok(const char *token, const char *method, const char *body)
{
    json_t *j;
    int status = http_json(token, NULL, method, &j, "%s", body);
    if (status != 200) {
        char *s = json_dumps(j, 0);
        fail_msg("HTTP %s: %d %s", method, status, s);
    }
    return j;
}

/* A Twirp error with code (Twirp's name) naming field. */
static void http_err(const char *token, const char *method, const char *body, const char *code, const char *field)
{
    json_t *j;
    int status = http_json(token, NULL, method, &j, "%s", body);
    if (status == 200 || strcmp(sys_jstr(j, "code"), code) || strcmp(sys_jstr(j, "meta.field"), field)) {
        char *s = json_dumps(j, 0);
        fail_msg("HTTP %s: want %s on %s, got %d %s", method, code, field, status, s);
    }
    json_decref(j);
}

/* --- helpers ----------------------------------------------------------------------------- */

/* An attendee's answer in a Meeting reply ("" for one not given: proto3
 * JSON leaves out the zero value), or NULL if not an attendee. */
static const char *answer_of(json_t *m, int64_t user)
{
    json_t *list = json_object_get(m, "attendees"), *at;
    size_t i;
    json_array_foreach(list, i, at) if (sys_jint(at, "userId") == user) return sys_jstr(at, "answer");
    return NULL;
}

static const char *name_of(json_t *m, int64_t user)
{
    json_t *list = json_object_get(m, "attendees"), *at;
    size_t i;
    json_array_foreach(list, i, at) if (sys_jint(at, "userId") == user) return sys_jstr(at, "name");
    return NULL;
}

static int64_t schedule(const char *token, int64_t lead, const char *title, int64_t start, int64_t end,
                        int64_t attendee1, int64_t attendee2)
{
    char doc[96] = "";
    if (lead)
        snprintf(doc, sizeof doc, "\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},", (long long)lead);
    json_t *m = OK(token, A("ScheduleMeeting"),
                   "{%s\"title\":\"%s\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"attendeeIds\":[\"%lld\",\"%lld\"]}",
                   doc, title, (long long)start, (long long)end, (long long)attendee1, (long long)attendee2);
    int64_t id = sys_jint(m, "id");
    assert_true(id > 0);
    json_decref(m);
    return id;
}

/* The meeting ids ListMeetings gives (as token, with the JSON filter
 * members in filter), page by page of page_size; count in *n. */
static void list_ids(const char *token, const char *filter, int page_size, int64_t *ids, size_t cap, size_t *n)
{
    char page[64] = "";
    *n = 0;
    for (int pages = 0;; pages++) {
        assert_true(pages < 100);
        json_t *r = OK(token, A("ListMeetings"), "{%s%s\"pageSize\":%d,\"pageToken\":\"%s\"}", filter,
                       *filter ? "," : "", page_size, page);
        json_t *list = json_object_get(r, "meetings"), *m;
        assert_true(json_array_size(list) <= (size_t)page_size);
        size_t i;
        json_array_foreach(list, i, m)
        {
            assert_true(*n < cap);
            ids[(*n)++] = sys_jint(m, "id");
        }
        snprintf(page, sizeof page, "%s", sys_jstr(r, "nextPageToken"));
        json_decref(r);
        if (!page[0])
            return;
    }
}

static int has_id(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* The calendar event of meeting id on user's calendar (as token) that day,
 * or NULL; json_decref *cal after. */
static json_t *on_calendar(const char *token, int64_t user, int64_t from, int64_t id, json_t **cal)
{
    *cal = OK(token, A("ListCalendar"), "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)user,
              (long long)from, (long long)(from + DAY_US));
    json_t *events = json_object_get(*cal, "events"), *e;
    size_t i;
    json_array_foreach(events, i, e) if (sys_jint(e, "id") == id &&
                                         !strcmp(sys_jstr(e, "kind"), "CALENDAR_EVENT_KIND_MEETING")) return e;
    return NULL;
}

/* The newest chatter message of a lead (as admin). */
static json_t *newest_message(int64_t lead)
{
    json_t *r = OK(admin, A("ListMessages"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":1}",
                   (long long)lead);
    json_t *m = json_incref(json_array_get(json_object_get(r, "messages"), 0));
    json_decref(r);
    assert_non_null(m);
    return m;
}

/* How many of token's inbox entries have a summary containing text and
 * the title (several meetings give the same kind of news), after waiting
 * (up to 10 s) for at least want of them. */
#define inbox_count(token, text, want) inbox_count_of(token, text, title, want)
static int inbox_count_of(const char *token, const char *text, const char *title, int want)
{
    int n = 0;
    for (int64_t until = sys_now_ms() + 10000;;) {
        json_t *r = OK(token, N("ListInbox"), "{\"pageSize\":500}");
        json_t *list = json_object_get(r, "notifications"), *e;
        size_t i;
        n = 0;
        json_array_foreach(list, i, e) if (strstr(sys_jstr(e, "summary"), text) &&
                                           strstr(sys_jstr(e, "summary"), title)) n++;
        json_decref(r);
        if (n >= want || sys_now_ms() > until)
            return n;
        usleep(50000);
    }
}

/* The first entry of token's inbox whose summary contains text (json_decref it). */
static json_t *inbox_entry(const char *token, const char *text)
{
    const char *title = "";
    assert_true(inbox_count(token, text, 1) >= 1);
    json_t *r = OK(token, N("ListInbox"), "{\"pageSize\":500}");
    json_t *list = json_object_get(r, "notifications"), *e, *found = NULL;
    size_t i;
    json_array_foreach(list, i, e) if (!found && strstr(sys_jstr(e, "summary"), text)) found = json_incref(e);
    json_decref(r);
    return found;
}

/* --- tests ---------------------------------------------------------------------------------- */

/* Scheduled with a place and a description, read through both doors (JSON
 * and protobuf over HTTP, the ZeroMQ door), listed by user and by document
 * in start order, paged, within a time range. */
static void test_schedule_get_list(void **state)
{
    int64_t lead = new_lead("Harbour cranes", olga_id);
    int64_t start = day + 10 * HOUR_US, end = start + HOUR_US;
    char body[1024];
    snprintf(body, sizeof body,
             "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"Site visit\",\"startAt\":\"%lld\","
             "\"endAt\":\"%lld\",\"attendeeIds\":[\"%lld\"],\"location\":\"Pier 4, gate B\","
             "\"description\":\"Bring the crane specs. Café after.\"}",
             (long long)lead, (long long)start, (long long)end, (long long)ari_id);
    json_t *m = http_ok(olga, "ScheduleMeeting", body);
    int64_t id = sys_jint(m, "id");
    assert_true(id > 0);
    assert_string_equal(sys_jstr(m, "location"), "Pier 4, gate B");
    assert_string_equal(sys_jstr(m, "description"), "Bring the crane specs. Café after.");
    assert_string_equal(answer_of(m, olga_id), "MEETING_ANSWER_ACCEPTED");
    assert_string_equal(answer_of(m, ari_id), ""); /* not answered yet */
    assert_string_equal(name_of(m, ari_id), "Ari Attendee");
    assert_int_equal(sys_jint(m, "organizerId"), olga_id);
    assert_true(sys_jint(m, "updatedAt") > 0);
    json_decref(m);

    /* GetMeeting: ZeroMQ, HTTP JSON, HTTP protobuf */
    m = OK(ari, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(m, "title"), "Site visit");
    assert_int_equal(sys_jint(m, "doc.id"), lead);
    assert_string_equal(name_of(m, olga_id), "Olga Organiser");
    json_decref(m);
    snprintf(body, sizeof body, "{\"id\":\"%lld\"}", (long long)id);
    m = http_ok(mona, "GetMeeting", body); /* a manager reads the lead */
    assert_string_equal(sys_jstr(m, "location"), "Pier 4, gate B");
    json_decref(m);
    Crm__Activities__V1__GetMeetingRequest req = CRM__ACTIVITIES__V1__GET_MEETING_REQUEST__INIT;
    req.id = id;
    uint8_t packed[32];
    size_t len = crm__activities__v1__get_meeting_request__pack(&req, packed);
    char headers[512], *out = NULL;
    size_t out_len = 0;
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/protobuf\r\n", ari);
    assert_int_equal(sys_http(env, "POST", TWIRP "GetMeeting", headers, packed, len, &out, &out_len), 200);
    Crm__Activities__V1__Meeting *pm = crm__activities__v1__meeting__unpack(NULL, out_len, (uint8_t *)out);
    free(out);
    assert_non_null(pm);
    assert_int_equal(pm->id, id);
    assert_int_equal(pm->n_attendees, 2);
    assert_int_equal(pm->attendees[0]->user_id, olga_id);
    assert_int_equal(pm->attendees[0]->answer, CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_ACCEPTED);
    assert_int_equal(pm->attendees[1]->answer, CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_UNSPECIFIED);
    crm__activities__v1__meeting__free_unpacked(pm, NULL);
    ERR(CODE(NOT_FOUND), "id", ari, A("GetMeeting"), "{\"id\":\"999999\"}");
    http_err(ari, "GetMeeting", "{\"id\":\"0\"}", "not_found", "id");

    /* two more of ari's, one before and one after; the list is by start time */
    int64_t later = schedule(olga, lead, "Contract review", day + 15 * HOUR_US, day + 16 * HOUR_US, ari_id, mona_id);
    int64_t earlier = schedule(mona, 0, "Breakfast", day + 8 * HOUR_US, day + 9 * HOUR_US, ari_id, ari_id);
    char filter[256];
    snprintf(filter, sizeof filter, "\"from\":\"%lld\",\"to\":\"%lld\"", (long long)day, (long long)(day + DAY_US));
    int64_t ids[16];
    size_t n;
    for (int size = 1; size <= 3; size++) {
        list_ids(ari, filter, size, ids, 16, &n);
        assert_int_equal(n, 3);
        assert_int_equal(ids[0], earlier);
        assert_int_equal(ids[1], id);
        assert_int_equal(ids[2], later);
    }
    /* another user's, as ListCalendar allows (not own-leads); the same
     * order through the HTTP door */
    snprintf(body, sizeof body, "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)ari_id,
             (long long)day, (long long)(day + DAY_US));
    m = http_ok(olga, "ListMeetings", body);
    json_t *list = json_object_get(m, "meetings");
    /* Breakfast is on no document: its attendees' alone, not olga's */
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(sys_jint(json_array_get(list, 0), "id"), id);
    assert_int_equal(sys_jint(json_array_get(list, 1), "id"), later);
    json_decref(m);
    /* and ari's calendar, looked at by olga, hides it the same way */
    snprintf(body, sizeof body, "{\"userId\":\"%lld\",\"from\":\"%lld\",\"to\":\"%lld\"}", (long long)ari_id,
             (long long)day, (long long)(day + DAY_US));
    json_t *ari_cal = OK(olga, A("ListCalendar"), "%s", body);
    json_t *ev;
    size_t ei;
    int breakfast_seen = 0, visit_seen = 0;
    json_array_foreach(json_object_get(ari_cal, "events"), ei, ev) {
        breakfast_seen |= sys_jint(ev, "id") == earlier;
        visit_seen |= sys_jint(ev, "id") == id;
    }
    assert_false(breakfast_seen);
    assert_true(visit_seen);
    json_decref(ari_cal);
    /* a range: an hour that only the site visit overlaps (it began before) */
    snprintf(filter, sizeof filter, "\"from\":\"%lld\",\"to\":\"%lld\"", (long long)(start + HOUR_US / 2),
             (long long)(start + HOUR_US));
    list_ids(ari, filter, 10, ids, 16, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], id);
    /* by document: the two on the lead, for anyone who reads it */
    snprintf(filter, sizeof filter, "\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}", (long long)lead);
    list_ids(mona, filter, 1, ids, 16, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], id);
    assert_int_equal(ids[1], later);
    /* a page token from another list is refused */
    char token[24];
    crm_page_token_make(token, (uint64_t)earlier);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", mona, A("ListMeetings"), "{%s,\"pageToken\":\"%s\"}", filter, token);
    ERR(CODE(INVALID_ARGUMENT), "userId", mona, A("ListMeetings"), "{%s,\"userId\":\"%lld\"}", filter,
        (long long)ari_id);
    ERR(CODE(INVALID_ARGUMENT), "to", mona, A("ListMeetings"), "{\"from\":\"%lld\",\"to\":\"%lld\"}",
        (long long)day, (long long)(day - 1));
    ERR(CODE(INVALID_ARGUMENT), "pageSize", mona, A("ListMeetings"), "{\"pageSize\":-1}");

    /* the calendar carries the place and each one's own answer */
    json_t *cal, *e = on_calendar(ari, ari_id, day, id, &cal);
    assert_non_null(e);
    assert_string_equal(sys_jstr(e, "location"), "Pier 4, gate B");
    assert_string_equal(sys_jstr(e, "answer"), "");
    json_decref(cal);
    e = on_calendar(olga, olga_id, day, id, &cal);
    assert_string_equal(sys_jstr(e, "answer"), "MEETING_ANSWER_ACCEPTED");
    json_decref(cal);

    /* the chatter tells of it, with its place */
    json_t *msg = newest_message(lead);
    assert_string_equal(sys_jstr(msg, "kind"), "MESSAGE_KIND_MEETING");
    assert_non_null(strstr(sys_jstr(msg, "body"), "Contract review"));
    json_decref(msg);

    /* bad input on scheduling, named */
    char *big = malloc(4100);
    assert_non_null(big);
    memset(big, 'l', 257);
    big[257] = 0;
    ERR(CODE(INVALID_ARGUMENT), "location", olga, A("ScheduleMeeting"),
        "{\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"location\":\"%s\"}", (long long)start,
        (long long)end, big);
    assert_non_null(big);
    memset(big, 'd', 4001);
    big[4001] = 0;
    ERR(CODE(INVALID_ARGUMENT), "description", olga, A("ScheduleMeeting"),
        "{\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"description\":\"%s\"}", (long long)start,
        (long long)end, big);
    free(big);
}

/* UpdateMeeting: a new time asks the others again and moves every
 * calendar entry; attendees added and taken off; only the organiser or a
 * manager; bad input named; an idempotency key answers a retry again. */
static void test_update(void **state)
{
    int64_t lead = new_lead("Grain silos", olga_id);
    int64_t start = day + DAY_US + 9 * HOUR_US;
    int64_t id = schedule(olga, lead, "Silo tour", start, start + HOUR_US, ari_id, mona_id);
    json_decref(OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}",
                   (long long)id));
    json_decref(OK(mona, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_TENTATIVE\"}",
                   (long long)id));

    /* the place only: answers stay */
    json_t *m = OK(olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"location\":\"Silo 3\",\"updateMask\":\"location\"}",
                   (long long)id);
    assert_string_equal(sys_jstr(m, "location"), "Silo 3");
    assert_string_equal(sys_jstr(m, "title"), "Silo tour");
    assert_string_equal(answer_of(m, ari_id), "MEETING_ANSWER_ACCEPTED");
    assert_string_equal(answer_of(m, mona_id), "MEETING_ANSWER_TENTATIVE");
    json_decref(m);

    /* a new time (over HTTP, the mask from the keys): answers asked again,
     * the organiser's kept; the calendar moved */
    int64_t moved = start + 2 * HOUR_US;
    char body[512];
    snprintf(body, sizeof body, "{\"id\":\"%lld\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", (long long)id,
             (long long)moved, (long long)(moved + HOUR_US));
    m = http_ok(mona, "UpdateMeeting", body); /* a manager may */
    assert_int_equal(sys_jint(m, "startAt"), moved);
    assert_string_equal(answer_of(m, olga_id), "MEETING_ANSWER_ACCEPTED");
    assert_string_equal(answer_of(m, ari_id), "");
    assert_string_equal(answer_of(m, mona_id), "");
    assert_string_equal(sys_jstr(m, "location"), "Silo 3");
    json_decref(m);
    json_t *cal, *e = on_calendar(ari, ari_id, start - 8 * HOUR_US, id, &cal);
    assert_non_null(e);
    assert_int_equal(sys_jint(e, "startAt"), moved);
    json_decref(cal);
    json_t *msg = newest_message(lead);
    assert_non_null(strstr(sys_jstr(msg, "body"), "Meeting moved to"));
    assert_int_equal(sys_jint(msg, "meetingId"), id);
    json_decref(msg);

    /* attendees: ari taken off, otto added (he may not read olga's lead, but may attend) */
    m = OK(olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"attendeeIds\":[\"%lld\",\"%lld\"],\"updateMask\":\"attendeeIds\"}",
           (long long)id, (long long)mona_id, (long long)otto_id);
    assert_int_equal(json_array_size(json_object_get(m, "attendees")), 3);
    assert_null(answer_of(m, ari_id));
    assert_string_equal(answer_of(m, otto_id), "");
    json_decref(m);
    e = on_calendar(ari, ari_id, start - 8 * HOUR_US, id, &cal);
    assert_null(e);
    json_decref(cal);
    int64_t ids[8];
    size_t n;
    char filter[128];
    snprintf(filter, sizeof filter, "\"from\":\"%lld\"", (long long)(start - 8 * HOUR_US));
    list_ids(ari, filter, 10, ids, 8, &n);
    assert_false(has_id(ids, n, id));
    list_ids(otto, filter, 10, ids, 8, &n);
    assert_true(has_id(ids, n, id));
    /* otto sees it without the lead he may not read */
    m = OK(otto, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_null(json_object_get(m, "doc"));
    json_decref(m);

    /* only the organiser or a manager */
    ERR(CODE(PERMISSION_DENIED), "id", otto, A("UpdateMeeting"), "{\"id\":\"%lld\",\"title\":\"Mine\",\"updateMask\":\"title\"}",
        (long long)id);
    /* ari, no longer invited, still reads the lead: sees it, may not change it */
    ERR(CODE(PERMISSION_DENIED), "id", ari, A("UpdateMeeting"), "{\"id\":\"%lld\",\"title\":\"Mine\",\"updateMask\":\"title\"}",
        (long long)id);

    /* bad input, named */
    ERR(CODE(INVALID_ARGUMENT), "endAt", olga, A("UpdateMeeting"),
        "{\"id\":\"%lld\",\"endAt\":\"%lld\",\"updateMask\":\"endAt\"}", (long long)id, (long long)(moved - HOUR_US));
    snprintf(body, sizeof body, "{\"id\":\"%lld\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}", (long long)id,
             (long long)moved, (long long)(moved - 1));
    http_err(olga, "UpdateMeeting", body, "invalid_argument", "endAt");
    ERR(CODE(INVALID_ARGUMENT), "attendeeIds[1]", olga, A("UpdateMeeting"),
        "{\"id\":\"%lld\",\"attendeeIds\":[\"%lld\",\"987654\"],\"updateMask\":\"attendeeIds\"}", (long long)id,
        (long long)mona_id);
    ERR(CODE(INVALID_ARGUMENT), "updateMask", olga, A("UpdateMeeting"),
        "{\"id\":\"%lld\",\"title\":\"x\",\"updateMask\":\"title,colour\"}", (long long)id);
    ERR(CODE(INVALID_ARGUMENT), "updateMask", olga, A("UpdateMeeting"),
        "{\"id\":\"%lld\",\"updateMask\":\"id\"}", (long long)id);
    ERR(CODE(INVALID_ARGUMENT), "title", olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"title\":\"\",\"updateMask\":\"title\"}",
        (long long)id);
    ERR(CODE(INVALID_ARGUMENT), "startAt", olga, A("UpdateMeeting"),
        "{\"id\":\"%lld\",\"startAt\":\"5\",\"updateMask\":\"startAt\"}", (long long)id);
    ERR(CODE(NOT_FOUND), "id", olga, A("UpdateMeeting"), "{\"id\":\"424242\",\"title\":\"x\",\"updateMask\":\"title\"}");
    /* nothing of those refusals was kept */
    m = OK(olga, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(m, "title"), "Silo tour");
    assert_int_equal(sys_jint(m, "endAt"), moved + HOUR_US);
    json_decref(m);

    /* a retry with the same key is answered again, not applied twice */
    json_t *r1, *r2;
    snprintf(body, sizeof body, "{\"id\":\"%lld\",\"description\":\"Hard hats\"}", (long long)id);
    assert_int_equal(http_json(olga, "upd-silo-1", "UpdateMeeting", &r1, "%s", body), 200);
    usleep(2000);
    assert_int_equal(http_json(olga, "upd-silo-1", "UpdateMeeting", &r2, "%s", body), 200);
    assert_int_equal(sys_jint(r1, "updatedAt"), sys_jint(r2, "updatedAt"));
    json_decref(r1);
    json_decref(r2);
}

/* AnswerMeeting and CancelMeeting. */
static void test_answer_and_cancel(void **state)
{
    int64_t lead = new_lead("Cold storage", olga_id);
    int64_t start = day + 2 * DAY_US + 14 * HOUR_US;
    int64_t id = schedule(olga, lead, "Freezer demo", start, start + HOUR_US, ari_id, ona_id);
    char body[256];
    snprintf(body, sizeof body, "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}", (long long)id);
    json_t *m = http_ok(ari, "AnswerMeeting", body);
    assert_string_equal(answer_of(m, ari_id), "MEETING_ANSWER_ACCEPTED");
    json_decref(m);
    json_t *msg = newest_message(lead);
    assert_string_equal(sys_jstr(msg, "kind"), "MESSAGE_KIND_MEETING");
    assert_non_null(strstr(sys_jstr(msg, "body"), "Ari Attendee accepted"));
    json_decref(msg);

    /* declined: off ari's calendar (still listed, with the answer) */
    m = OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_DECLINED\"}", (long long)id);
    assert_string_equal(answer_of(m, ari_id), "MEETING_ANSWER_DECLINED");
    json_decref(m);
    json_t *cal;
    assert_null(on_calendar(ari, ari_id, start - 14 * HOUR_US, id, &cal));
    json_decref(cal);
    assert_non_null(on_calendar(olga, olga_id, start - 14 * HOUR_US, id, &cal));
    json_decref(cal);
    int64_t ids[8];
    size_t n;
    char filter[128];
    snprintf(filter, sizeof filter, "\"from\":\"%lld\"", (long long)(start - HOUR_US));
    list_ids(ari, filter, 10, ids, 8, &n);
    assert_true(has_id(ids, n, id));
    /* tentative brings it back */
    json_decref(OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_TENTATIVE\"}", (long long)id));
    json_t *e = on_calendar(ari, ari_id, start - 14 * HOUR_US, id, &cal);
    assert_non_null(e);
    assert_string_equal(sys_jstr(e, "answer"), "MEETING_ANSWER_TENTATIVE");
    json_decref(cal);
    /* ona may not read the lead but is invited: she answers */
    json_decref(OK(ona, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}", (long long)id));

    /* not invited: mona reads the lead, so she is told why; otto sees
     * nothing of it, so for him there is no such meeting */
    ERR(CODE(PERMISSION_DENIED), "id", mona, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}",
        (long long)id);
    ERR(CODE(NOT_FOUND), "id", otto, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}",
        (long long)id);
    ERR(CODE(INVALID_ARGUMENT), "answer", ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_UNSPECIFIED\"}",
        (long long)id);
    ERR(CODE(INVALID_ARGUMENT), "answer", ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":7}", (long long)id);

    /* cancel: the organiser or a manager only */
    ERR(CODE(PERMISSION_DENIED), "id", ari, A("CancelMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    snprintf(body, sizeof body, "{\"id\":\"%lld\"}", (long long)id);
    http_err(ona, "CancelMeeting", body, "permission_denied", "id");
    m = http_ok(olga, "CancelMeeting", body);
    assert_string_equal(sys_jstr(m, "state"), "MEETING_STATE_CANCELLED");
    json_decref(m);
    assert_null(on_calendar(olga, olga_id, start - 14 * HOUR_US, id, &cal));
    json_decref(cal);
    assert_null(on_calendar(ona, ona_id, start - 14 * HOUR_US, id, &cal));
    json_decref(cal);
    list_ids(olga, filter, 10, ids, 8, &n);
    assert_false(has_id(ids, n, id));
    snprintf(filter, sizeof filter, "\"from\":\"%lld\",\"includeCancelled\":true", (long long)(start - HOUR_US));
    list_ids(olga, filter, 10, ids, 8, &n);
    assert_true(has_id(ids, n, id));
    m = OK(olga, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(sys_jstr(m, "state"), "MEETING_STATE_CANCELLED");
    json_decref(m);
    msg = newest_message(lead);
    assert_non_null(strstr(sys_jstr(msg, "body"), "Meeting cancelled"));
    json_decref(msg);
    /* a cancelled meeting is not changed, cancelled or answered again */
    ERR(CODE(FAILED_PRECONDITION), "id", olga, A("CancelMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    ERR(CODE(FAILED_PRECONDITION), "id", olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"title\":\"x\",\"updateMask\":\"title\"}",
        (long long)id);
    ERR(CODE(FAILED_PRECONDITION), "id", ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}",
        (long long)id);
}

/* A meeting on another salesperson's lead is no meeting at all to an
 * own-leads user who is not invited, whatever the method; a meeting on no
 * document is its attendees' alone. */
static void test_own_leads(void **state)
{
    int64_t theirs = new_lead("Otto's fleet", otto_id);
    int64_t start = day + 3 * DAY_US + 10 * HOUR_US;
    int64_t id = schedule(otto, theirs, "Fleet pricing", start, start + HOUR_US, mona_id, mona_id);
    const char *bodies[][2] = {{"GetMeeting", "{\"id\":\"%lld\"}"},
                               {"UpdateMeeting", "{\"id\":\"%lld\",\"title\":\"x\",\"updateMask\":\"title\"}"},
                               {"CancelMeeting", "{\"id\":\"%lld\"}"},
                               {"AnswerMeeting", "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}"}};
    for (size_t i = 0; i < 4; i++) {
        char method[96], body[160];
        snprintf(method, sizeof method, A("%s"), bodies[i][0]);
        snprintf(body, sizeof body, bodies[i][1], (long long)id);
        ERR(CODE(NOT_FOUND), "id", ona, method, "%s", body);
        http_err(ona, bodies[i][0], body, "not_found", "id");
    }
    ERR(CODE(NOT_FOUND), "doc.id", ona, A("ListMeetings"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)theirs);
    ERR(CODE(PERMISSION_DENIED), "userId", ona, A("ListMeetings"), "{\"userId\":\"%lld\"}", (long long)otto_id);
    ERR(CODE(INVALID_ARGUMENT), "doc.model", ona, A("ListMeetings"), "{\"doc\":{\"model\":\"pizza\",\"id\":\"1\"}}");
    /* its id as a page token tells nothing either */
    char token[24];
    crm_page_token_make(token, (uint64_t)id);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", ona, A("ListMeetings"), "{\"pageToken\":\"%s\"}", token);
    /* nor may she invite herself onto it */
    ERR(CODE(NOT_FOUND), "doc.id", ona, A("ScheduleMeeting"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"title\":\"x\",\"startAt\":\"%lld\",\"endAt\":\"%lld\"}",
        (long long)theirs, (long long)start, (long long)(start + HOUR_US));
    /* the owner and the invited manager see it */
    json_decref(OK(otto, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id));
    json_t *m = OK(mona, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_int_equal(sys_jint(m, "doc.id"), theirs);
    json_decref(m);

    /* a meeting on no document: a manager not invited does not see it */
    int64_t private_id = schedule(ona, 0, "One to one", start, start + HOUR_US, otto_id, otto_id);
    ERR(CODE(NOT_FOUND), "id", mona, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)private_id);
    ERR(CODE(NOT_FOUND), "id", mona, A("CancelMeeting"), "{\"id\":\"%lld\"}", (long long)private_id);
    json_decref(OK(otto, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)private_id));
    int64_t ids[8];
    size_t n;
    char filter[128];
    snprintf(filter, sizeof filter, "\"userId\":\"%lld\",\"from\":\"%lld\"", (long long)ona_id, (long long)day);
    list_ids(mona, filter, 10, ids, 8, &n);
    assert_false(has_id(ids, n, private_id));
    snprintf(filter, sizeof filter, "\"from\":\"%lld\"", (long long)day);
    list_ids(ona, filter, 10, ids, 8, &n);
    assert_true(has_id(ids, n, private_id));
    /* no sales access: refused */
    int64_t clerk_id;
    char *clerk = sys_new_sales_user(env, admin, "clerk", "Clerk", "SALES_ACCESS_NONE", &clerk_id);
    ERR(CODE(PERMISSION_DENIED), NULL, clerk, A("ListMeetings"), "{}");
    ERR(CODE(PERMISSION_DENIED), NULL, clerk, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)private_id);
    free(clerk);
}

/* What each change tells whom: attendees when invited, moved, taken off or
 * cancelled, the organiser when someone answers; once each, whether they
 * follow the document (told by its chatter message) or not. */
static void test_inbox(void **state)
{
    const char *title = "Turbine survey";
    int64_t lead = new_lead("Wind farm", olga_id); /* olga follows it, as its salesperson */
    int64_t start = day + 4 * DAY_US + 10 * HOUR_US;
    int64_t id = schedule(olga, lead, "Turbine survey", start, start + HOUR_US, ari_id, ona_id);

    /* ari follows nothing: told directly, with the lead */
    json_t *e = inbox_entry(ari, "Invited to Turbine survey");
    assert_string_equal(sys_jstr(e, "subtype"), "SUBTYPE_CALL");
    assert_string_equal(sys_jstr(e, "event"), "meeting.scheduled");
    assert_int_equal(sys_jint(e, "doc.id"), lead);
    assert_string_equal(sys_jstr(e, "authorName"), "Olga Organiser");
    json_decref(e);
    /* ona may not read olga's lead: told without it */
    e = inbox_entry(ona, "Invited to Turbine survey");
    assert_null(json_object_get(e, "doc"));
    json_decref(e);

    json_decref(OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_ACCEPTED\"}", (long long)id));
    /* olga follows the lead: the chatter message tells her, once */
    assert_int_equal(inbox_count(olga, "Ari Attendee accepted", 1), 1);

    int64_t moved = start + DAY_US;
    json_decref(OK(olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"startAt\":\"%lld\",\"endAt\":\"%lld\",\"updateMask\":\"startAt,endAt\"}",
                   (long long)id, (long long)moved, (long long)(moved + HOUR_US)));
    e = inbox_entry(ari, "Meeting moved to");
    assert_non_null(strstr(sys_jstr(e, "summary"), "Turbine survey"));
    json_decref(e);
    assert_int_equal(inbox_count(ona, "Meeting moved to", 1), 1);

    /* otto added, ona taken off */
    json_decref(OK(olga, A("UpdateMeeting"), "{\"id\":\"%lld\",\"attendeeIds\":[\"%lld\",\"%lld\"],\"updateMask\":\"attendeeIds\"}",
                   (long long)id, (long long)ari_id, (long long)otto_id));
    assert_int_equal(inbox_count(otto, "Invited to Turbine survey", 1), 1);
    assert_int_equal(inbox_count(ona, "No longer invited to Turbine survey", 1), 1);

    json_decref(OK(olga, A("CancelMeeting"), "{\"id\":\"%lld\"}", (long long)id));
    assert_int_equal(inbox_count(ari, "Meeting cancelled: Turbine survey", 1), 1);
    assert_int_equal(inbox_count(otto, "Meeting cancelled: Turbine survey", 1), 1);
    /* ona was taken off before; the organiser cancelled it herself */
    assert_int_equal(inbox_count(ona, "Meeting cancelled: Turbine survey", 0), 0);
    assert_int_equal(inbox_count(olga, "Meeting cancelled: Turbine survey", 0), 0);
    /* and ari, told of each change once */
    assert_int_equal(inbox_count(ari, "Invited to Turbine survey", 1), 1);
    assert_int_equal(inbox_count(ari, "Meeting moved to", 1), 1);

    /* a meeting on no document: told without one, live too (published
     * under the user's topic only) */
    title = "Budget chat";
    int status;
    sys_sse_t *sse = sys_sse_open(env, ari, 0, &status);
    assert_non_null(sse);
    int64_t private_id = schedule(mona, 0, "Budget chat", start, start + HOUR_US, ari_id, ari_id);
    e = inbox_entry(ari, "Invited to Budget chat");
    assert_null(json_object_get(e, "doc"));
    int64_t live_id = 0;
    json_t *live = NULL;
    assert_int_equal(sys_sse_next(sse, 5000, &live_id, &live), 1);
    assert_int_equal(live_id, sys_jint(e, "id"));
    assert_non_null(strstr(sys_jstr(live, "summary"), "Invited to Budget chat"));
    json_decref(live);
    sys_sse_close(&sse);
    json_decref(e);
    json_decref(OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_DECLINED\"}",
                   (long long)private_id));
    assert_int_equal(inbox_count(mona, "Ari Attendee declined: Budget chat", 1), 1);
}

/* --- a store of schema 2 ------------------------------------------------------------------ */

/* Makes activities' store look as schema 2 left it: meetings without
 * answers, state or place, and no lists by user or document. */
static int write_schema2_meetings(MDB_txn *txn, void *arg)
{
    crm_store_t *store = arg;
    MDB_dbi meetings, by_user, by_doc;
    MDB_cursor *cur;
    int rc;
    if ((rc = mdb_dbi_open(txn, "meetings", 0, &meetings)) != 0 ||
        (rc = mdb_dbi_open(txn, "meetings_by_user", 0, &by_user)) != 0 ||
        (rc = mdb_dbi_open(txn, "meetings_by_doc", 0, &by_doc)) != 0 || (rc = mdb_drop(txn, by_user, 0)) != 0 ||
        (rc = mdb_drop(txn, by_doc, 0)) != 0 || (rc = mdb_cursor_open(txn, meetings, &cur)) != 0)
        return rc;
    /* the ids first: a record put back shorter moves what a cursor points at */
    uint64_t ids[64];
    size_t n = 0;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && n < 64; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        ids[n++] = crm_key_get_u64(k.mv_data);
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < n; i++) {
        Crm__Activities__V1__Meeting *m;
        if ((rc = crm_db_get_id(txn, meetings, ids[i], &crm__activities__v1__meeting__descriptor, NULL, (void **)&m)) != 0)
            return rc;
        Crm__Activities__V1__Meeting old = *m;
        old.n_attendees = 0;
        old.attendees = NULL;
        old.location = old.description = "";
        old.updated_at = 0;
        rc = crm_db_put_id(txn, meetings, ids[i], &old.base);
        crm__activities__v1__meeting__free_unpacked(m, NULL);
        if (rc)
            return rc;
    }
    return crm_store_meta_put_u64(store, txn, "schema_version", 2);
}

/* Meetings a schema 2 store holds are given their answers and listed by
 * user and by document when schema 3 opens it. */
static void test_upgrade_from_schema2(void **state)
{
    int64_t lead = new_lead("Old meetings", olga_id);
    int64_t start = day + 6 * DAY_US + 10 * HOUR_US;
    int64_t id = schedule(olga, lead, "Before answers", start, start + HOUR_US, ari_id, ari_id);
    assert_int_equal(sys_kill(env, SYS_ACTIVITIES, SIGTERM), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/activities", env->dir);
    const char *err;
    MDB_dbi meetings, by_user, by_doc;
    const crm_store_dbi_t dbis[] = {
        {"meetings", 0, &meetings}, {"meetings_by_user", 0, &by_user}, {"meetings_by_doc", 0, &by_doc}};
    crm_store_t *store = crm_store_open(dir, dbis, 3, 3 /* today's */, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, write_schema2_meetings, store), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(env, SYS_ACTIVITIES), 0);
    assert_int_equal(sys_wait_ready(env, SYS_ACTIVITIES, 15000), 0);

    json_t *m = OK(ari, A("GetMeeting"), "{\"id\":\"%lld\"}", (long long)id);
    assert_string_equal(answer_of(m, olga_id), "MEETING_ANSWER_ACCEPTED");
    assert_string_equal(answer_of(m, ari_id), "");
    assert_string_equal(sys_jstr(m, "location"), "");
    json_decref(m);
    int64_t ids[8];
    size_t n;
    char filter[128];
    snprintf(filter, sizeof filter, "\"from\":\"%lld\"", (long long)(start - HOUR_US));
    list_ids(ari, filter, 10, ids, 8, &n);
    assert_true(has_id(ids, n, id));
    snprintf(filter, sizeof filter, "\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}", (long long)lead);
    list_ids(olga, filter, 10, ids, 8, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], id);
    /* and it is changed as any other */
    json_decref(OK(ari, A("AnswerMeeting"), "{\"id\":\"%lld\",\"answer\":\"MEETING_ANSWER_DECLINED\"}", (long long)id));
    json_t *cal;
    assert_null(on_calendar(ari, ari_id, start - 10 * HOUR_US, id, &cal));
    json_decref(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_get_list), cmocka_unit_test(test_update),
        cmocka_unit_test(test_answer_and_cancel), cmocka_unit_test(test_own_leads),
        cmocka_unit_test(test_inbox), cmocka_unit_test(test_upgrade_from_schema2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
