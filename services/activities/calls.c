/* Phone calls: logged after the fact (held) or scheduled with a planned
 * time, then held or cancelled. Each change is written in the document's
 * chatter; calls not cancelled are on their responsible user's calendar. */
#include "activities.h"
#include "crm_tracking.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__ACTIVITIES__V1__CALL_STATUS__CALL_STATUS_##x
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x

#define SUMMARY_MAX 512
#define DURATION_MAX (24 * 60)      /* minutes */
#define CLOCK_SKEW_US 300000000LL   /* a logged call may be 5 min "in the future" */
#define SCAN_MAX 20000              /* index entries one List call reads at most */

/* Instants a person could mean: 2000-01-01 to 2100-01-01 UTC. */
#define TIME_MIN 946684800000000LL
#define TIME_MAX 4102444800000000LL

static int check_instant(crm_call_t *call, const char *field, int64_t at)
{
    if (at < TIME_MIN || at >= TIME_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "%s must be Unix microseconds between 2000 and 2100", field);
    return 0;
}

/* The index entries of a call: by time, by responsible, by document, and
 * its responsible's calendar unless cancelled. put: 1 adds, 0 removes the
 * calendar entry, INDEX_DROP_ALL every entry (a call moved in time). */
#define INDEX_DROP_ALL (-1)
static int index_call(crm_call_t *call, const call_t *c, int put)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    uint8_t by_time[16], by_resp[24], by_doc[ACT_TIME_KEY], cal[25];
    crm_key_put_u64(by_time, (uint64_t)c->at);
    crm_key_put_u64(by_time + 8, (uint64_t)c->id);
    crm_key_put_u64(by_resp, (uint64_t)c->responsible_id);
    memcpy(by_resp + 8, by_time, 16);
    act_doc_time_key(by_doc, crm_doc_model(c->doc->model), c->doc->id, c->at, c->id);
    crm_key_put_u64(cal, (uint64_t)c->responsible_id);
    crm_key_put_u64(cal + 8, (uint64_t)c->at);
    cal[16] = CRM__ACTIVITIES__V1__CALENDAR_EVENT_KIND__CALENDAR_EVENT_KIND_CALL;
    crm_key_put_u64(cal + 17, (uint64_t)c->id);
    struct {
        MDB_dbi dbi;
        void *key;
        size_t len;
    } entries[] = {{a->calls_by_time, by_time, sizeof by_time},
                   {a->calls_by_resp, by_resp, sizeof by_resp},
                   {a->calls_by_doc, by_doc, sizeof by_doc},
                   {a->calendar, cal, sizeof cal}};
    size_t n = sizeof entries / sizeof entries[0];
    for (size_t i = 0; i < n; i++) {
        int on_calendar = entries[i].dbi == a->calendar;
        if (on_calendar && put && c->status == STATUS(CANCELLED))
            continue;
        if (!on_calendar && put == 0)
            continue; /* only the calendar entry goes when it closes: the call stays listed */
        MDB_val k = {entries[i].len, entries[i].key}, d = {0, ""};
        int rc = put > 0 ? mdb_put(txn, entries[i].dbi, &k, &d, 0) : mdb_del(txn, entries[i].dbi, &k, NULL);
        if (rc && !(rc == MDB_NOTFOUND && put <= 0))
            return crm_call_fail_db(call, rc);
    }
    return 0;
}

static int save_call(crm_call_t *call, call_t *c, const char *event, const char *body)
{
    activities_t *a = crm_call_ctx(call);
    int rc = crm_db_put_id(crm_call_txn(call), a->calls, (uint64_t)c->id, &c->base);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Activities__V1__CallEvent ev = CRM__ACTIVITIES__V1__CALL_EVENT__INIT;
    ev.call = c;
    if (crm_call_emit(call, event, &ev.base) != 0)
        return -1;
    return act_post_system(call, c->doc, KIND(CALL), body, c->id, 0);
}

static call_t *new_call(crm_call_t *call, const doc_t *doc, const char *summary, int32_t duration)
{
    call_t *c = crm_call_new(call, &crm__activities__v1__call__descriptor);
    doc_t *d = crm_call_new(call, &crm__common__v1__doc_ref__descriptor);
    d->model = (char *)crm_doc_model_name(crm_doc_model(doc->model));
    d->id = doc->id;
    c->doc = d;
    c->summary = (char *)summary;
    c->duration_minutes = duration;
    c->created_by = crm_call_principal(call)->user_id;
    c->created_at = c->updated_at = crm_call_now(call);
    return c;
}

static int check_common(crm_call_t *call, const doc_t *doc, const char *summary, int32_t duration)
{
    crm_status_t st;
    if (act_check_doc(call, "doc", doc) != 0)
        return -1;
    if (crm_check_text(&st, "summary", summary, 1, SUMMARY_MAX) != 0)
        return crm_call_fail_status(call, &st);
    if (duration < 0 || duration > DURATION_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes",
                             "durationMinutes must be between 0 and %d", DURATION_MAX);
    return 0;
}

static int next_call_id(crm_call_t *call, call_t *c)
{
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), "call", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    c->id = (int64_t)id;
    return 0;
}

int act_log_call(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__LogCallRequest *r = (const void *)in;
    if (check_common(call, r->doc, r->summary, r->duration_minutes) != 0)
        return -1;
    int64_t now = crm_call_now(call), at = r->at ? r->at : now;
    if (check_instant(call, "at", at) != 0)
        return -1;
    if (at > now + CLOCK_SKEW_US)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "at",
                             "at is in the future: log a call once held, or schedule it");
    call_t *c = new_call(call, r->doc, r->summary, r->duration_minutes);
    c->status = STATUS(HELD);
    c->at = at;
    c->responsible_id = c->created_by;
    if (next_call_id(call, c) != 0 || index_call(call, c, 1) != 0)
        return -1;
    char when[40];
    crm_format_time(when, sizeof when, at);
    const char *body = crm_arena_printf(crm_call_arena(call), "Call logged (%s, %d min): %s", when,
                                        c->duration_minutes, c->summary);
    if (save_call(call, c, "call.held", body) != 0)
        return -1;
    *(call_t *)out = *c;
    return 0;
}

int act_call_schedule(crm_call_t *call, const doc_t *doc, const char *summary, int64_t planned_at, int32_t duration,
                      int64_t responsible_id, call_t **out)
{
    if (check_common(call, doc, summary, duration) != 0)
        return -1;
    if (!planned_at)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "plannedAt is required");
    if (check_instant(call, "plannedAt", planned_at) != 0)
        return -1;
    int64_t resp = responsible_id ? responsible_id : crm_call_principal(call)->user_id;
    /* the responsible must be able to hold the call: see it, mark it held */
    if (responsible_id && (act_check_user(call, "responsibleId", resp, 1) != 0 ||
                           act_check_reader(call, "responsibleId", resp, doc) != 0))
        return -1;
    call_t *c = new_call(call, doc, summary, duration);
    c->status = STATUS(SCHEDULED);
    c->at = c->planned_at = planned_at;
    c->responsible_id = resp;
    if (next_call_id(call, c) != 0 || index_call(call, c, 1) != 0)
        return -1;
    char when[40];
    crm_format_time(when, sizeof when, c->at);
    crm_userinfo_t *u = act_user(call, resp);
    const char *body = crm_arena_printf(crm_call_arena(call), "Call scheduled for %s with %s: %s", when,
                                        u && *u->name ? u->name : "its responsible", c->summary);
    if (save_call(call, c, "call.scheduled", body) != 0)
        return -1;
    *out = c;
    return 0;
}

/* A scheduled call is a planned activity of a CALL type: both are made
 * here, in the call's transaction. */
int act_schedule_call(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ScheduleCallRequest *r = (const void *)in;
    call_t *c;
    activity_t *act;
    if (act_call_schedule(call, r->doc, r->summary, r->planned_at, r->duration_minutes, r->responsible_id, &c) != 0 ||
        act_activity_of_call(call, c, 1, &act) != 0)
        return -1;
    *(call_t *)out = *c;
    return 0;
}

int act_call_get(crm_call_t *call, const char *field, int64_t id, call_t **out)
{
    activities_t *a = crm_call_ctx(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    int rc = id > 0 ? crm_db_get_id(crm_call_txn(call), a->calls, (uint64_t)id,
                                    &crm__activities__v1__call__descriptor,
                                    crm_arena_allocator(crm_call_arena(call)), (void **)out)
                    : MDB_NOTFOUND;
    if (rc == 0) {
        int r = act_doc_readable(call, (*out)->doc);
        if (r < 0)
            return -1;
        if (!r)
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), field, "no call %lld", (long long)id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

static const char *status_word(int status)
{
    return status == STATUS(HELD) ? "held" : status == STATUS(CANCELLED) ? "cancelled" : "scheduled";
}

int act_call_close(crm_call_t *call, const char *field, call_t *c, int status, const char *feedback)
{
    if (c->status != STATUS(SCHEDULED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), field, "call %lld is %s; only a scheduled call can be %s",
                             (long long)c->id, status_word(c->status), status_word(status));
    c->status = status;
    c->updated_at = crm_call_now(call);
    if (status == STATUS(CANCELLED) && index_call(call, c, 0) != 0)
        return -1;
    const char *body = crm_arena_printf(crm_call_arena(call), "Call %s: %s%s%s", status_word(status), c->summary,
                                        feedback && *feedback ? "\n" : "", feedback ? feedback : "");
    return save_call(call, c, status == STATUS(HELD) ? "call.held" : "call.cancelled", body);
}

int act_call_move(crm_call_t *call, call_t *c, int64_t planned_at, int32_t duration, int64_t responsible_id)
{
    if (c->status != STATUS(SCHEDULED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "call %lld is %s; only a scheduled call can be moved",
                             (long long)c->id, status_word(c->status));
    if (check_instant(call, "plannedAt", planned_at) != 0)
        return -1;
    if (duration < 0 || duration > DURATION_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes",
                             "durationMinutes must be between 0 and %d", DURATION_MAX);
    if (index_call(call, c, INDEX_DROP_ALL) != 0)
        return -1;
    c->at = c->planned_at = planned_at;
    if (duration)
        c->duration_minutes = duration;
    if (responsible_id)
        c->responsible_id = responsible_id;
    c->updated_at = crm_call_now(call);
    if (index_call(call, c, 1) != 0)
        return -1;
    char when[40];
    crm_format_time(when, sizeof when, c->at);
    crm_userinfo_t *u = act_user(call, c->responsible_id);
    const char *body = crm_arena_printf(crm_call_arena(call), "Call rescheduled for %s with %s: %s", when,
                                        u && *u->name ? u->name : "its responsible", c->summary);
    return save_call(call, c, "call.rescheduled", body);
}

/* Holding or cancelling a scheduled call is marking its activity done or
 * cancelling it: both move together. */
static int close_call(crm_call_t *call, int64_t id, int status, ProtobufCMessage *out)
{
    call_t *c;
    activity_t *act;
    if (act_call_get(call, "id", id, &c) != 0 || act_activity_of_call(call, c, 0, &act) != 0)
        return -1;
    if (!act) { /* not scheduled: act_call_close says so */
        if (act_call_close(call, "id", c, status, NULL) != 0)
            return -1;
        *(call_t *)out = *c;
        return 0;
    }
    int state = status == STATUS(HELD) ? CRM__ACTIVITIES__V1__ACTIVITY_STATE__ACTIVITY_STATE_DONE
                                       : CRM__ACTIVITIES__V1__ACTIVITY_STATE__ACTIVITY_STATE_CANCELLED;
    if (act_activity_may_change(call, act) != 0 || act_activity_close(call, act, state, NULL) != 0 || act_call_get(call, "id", id, &c) != 0)
        return -1;
    *(call_t *)out = *c;
    return 0;
}

int act_mark_call_held(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return close_call(call, ((const Crm__Activities__V1__MarkCallHeldRequest *)in)->id, STATUS(HELD), out);
}

int act_cancel_call(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return close_call(call, ((const Crm__Activities__V1__CancelCallRequest *)in)->id, STATUS(CANCELLED), out);
}

int act_list_calls(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListCallsRequest *r = (const void *)in;
    Crm__Activities__V1__ListCallsReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (r->status < 0 || r->status > STATUS(CANCELLED))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "status", "status is not a call status");
    if (r->from < 0 || r->to < 0 || (r->to && r->to <= r->from))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), r->from < 0 ? "from" : "to",
                             "from and to must be instants with from before to");
    int has_doc = r->doc && (*r->doc->model || r->doc->id);
    if (has_doc && act_check_doc(call, "doc", r->doc) != 0)
        return -1;
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 50, 500, &size, &after) != 0)
        return -1;

    /* the narrowest index: prefix (document or responsible), then at, id */
    MDB_dbi dbi = a->calls_by_time;
    uint8_t key[ACT_TIME_KEY];
    size_t plen = 0;
    if (has_doc) {
        dbi = a->calls_by_doc;
        act_doc_key(key, crm_doc_model(r->doc->model), r->doc->id);
        plen = ACT_DOC_KEY;
    } else if (r->responsible_id) {
        dbi = a->calls_by_resp;
        crm_key_put_u64(key, (uint64_t)r->responsible_id);
        plen = 8;
    }
    int64_t start_at = r->from, start_id = 0;
    if (after) {
        call_t *last;
        int rc = crm_db_get_id(txn, a->calls, after, &crm__activities__v1__call__descriptor,
                               crm_arena_allocator(crm_call_arena(call)), (void **)&last);
        if (rc && rc != MDB_NOTFOUND)
            return crm_call_fail_db(call, rc);
        /* a token names a call this list gave: one the caller may see, on
         * the index scanned; anything else would tell of other calls */
        int readable = rc == 0 ? act_doc_readable(call, last->doc) : 0;
        if (readable < 0)
            return -1;
        if (!readable || (has_doc && (crm_doc_model(last->doc->model) != crm_doc_model(r->doc->model) ||
                                      last->doc->id != r->doc->id)) ||
            (!has_doc && r->responsible_id && last->responsible_id != r->responsible_id))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this list");
        start_at = last->at;
        start_id = last->id + 1;
    }
    crm_key_put_u64(key + plen, (uint64_t)start_at);
    crm_key_put_u64(key + plen + 8, (uint64_t)start_id);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->calls = crm_arena_alloc(crm_call_arena(call), sizeof *reply->calls * size);
    MDB_val k = {plen + 16, key}, d;
    int64_t last_id = 0, scanned = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != plen + 16 || memcmp(k.mv_data, key, plen) != 0)
            break;
        const uint8_t *p = (const uint8_t *)k.mv_data + plen;
        if (r->to && (int64_t)crm_key_get_u64(p) >= r->to)
            break;
        if (reply->n_calls == size || ++scanned > SCAN_MAX) {
            reply->next_page_token = crm_call_page_token(call, (uint64_t)last_id);
            break;
        }
        call_t *c;
        last_id = (int64_t)crm_key_get_u64(p + 8);
        rc = crm_db_get_id(txn, a->calls, (uint64_t)last_id, &crm__activities__v1__call__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)&c);
        if (rc) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index entry without its call */
            break;
        }
        if ((r->status && c->status != r->status) || (r->responsible_id && c->responsible_id != r->responsible_id))
            continue;
        int readable = act_doc_readable(call, c->doc);
        if (readable < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        if (readable)
            reply->calls[reply->n_calls++] = c;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}
