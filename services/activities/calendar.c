/* The calendar: a user's calls (not cancelled) and the meetings they are
 * invited to (not cancelled, not declined), in time order. */
#include "activities.h"
#include "crm_tracking.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define EVKIND(x) CRM__ACTIVITIES__V1__CALENDAR_EVENT_KIND__CALENDAR_EVENT_KIND_##x

#define DAY_US 86400000000LL
#define RANGE_MAX_US (366 * DAY_US)
#define TIME_MIN 946684800000000LL   /* 2000-01-01 */
#define TIME_MAX 4102444800000000LL  /* 2100-01-01 */

void act_calendar_key(uint8_t out[ACT_CALENDAR_KEY], int64_t user, int64_t at, int kind, int64_t id)
{
    crm_key_put_u64(out, (uint64_t)user);
    crm_key_put_u64(out + 8, (uint64_t)at);
    out[16] = (uint8_t)kind;
    crm_key_put_u64(out + 17, (uint64_t)id);
}

/* The calendar event of one calendar entry of user's, or NULL (with *rc
 * set) if its record cannot be read; *seen is 1 if the caller may see it,
 * 0 if not, -1 on a storage error (set). A call is seen while its document
 * may be read (a lead handed to another salesperson leaves the old one's
 * calendar with it). A meeting is seen by its attendees, as in OpenERP,
 * and by those who may read its document, as GetMeeting decides; the
 * document only by the latter. So a manager looking at a colleague's
 * calendar does not see the meetings about no document they are not in. */
static Crm__Activities__V1__CalendarEvent *entry_event(crm_call_t *call, int64_t user, int kind, int64_t id,
                                                       int *rc, int *seen)
{
    activities_t *a = crm_call_ctx(call);
    ProtobufCAllocator *alloc = crm_arena_allocator(crm_call_arena(call));
    Crm__Activities__V1__CalendarEvent *e = crm_call_new(call, &crm__activities__v1__calendar_event__descriptor);
    e->kind = kind;
    e->id = id;
    if (kind == EVKIND(CALL)) {
        call_t *c;
        if ((*rc = crm_db_get_id(crm_call_txn(call), a->calls, (uint64_t)id, &crm__activities__v1__call__descriptor,
                                 alloc, (void **)&c)) != 0)
            return NULL;
        e->title = c->summary;
        e->start_at = c->at;
        e->end_at = c->at + (int64_t)c->duration_minutes * 60000000LL;
        e->doc = c->doc;
        e->call_status = c->status;
        *seen = !c->doc || !*c->doc->model ? 1 : act_doc_readable(call, c->doc);
    } else {
        meeting_t *m;
        if ((*rc = crm_db_get_id(crm_call_txn(call), a->meetings, (uint64_t)id,
                                 &crm__activities__v1__meeting__descriptor, alloc, (void **)&m)) != 0)
            return NULL;
        e->title = m->title;
        e->start_at = m->start_at;
        e->end_at = m->end_at;
        e->location = m->location;
        e->answer = act_meeting_answer(m, user);
        int doc_readable;
        *seen = act_meeting_visible(call, m, &doc_readable);
        e->doc = doc_readable ? m->doc : NULL;
    }
    return e;
}

int act_list_calendar(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListCalendarRequest *r = (const void *)in;
    Crm__Activities__V1__ListCalendarReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    int64_t self = crm_call_principal(call)->user_id, user = r->user_id ? r->user_id : self;
    if (user != self && crm_call_own_leads_only(call))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "userId",
                             "with own-leads access only your own calendar is shown");
    if (r->from < TIME_MIN || r->from >= TIME_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "from", "from must be Unix microseconds between 2000 and 2100");
    if (r->to <= r->from || r->to - r->from > RANGE_MAX_US)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "to", "to must be after from, at most 366 days later");
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 200, 1000, &size, &after) != 0)
        return -1;

    /* events that began before from but are still going count: no call or
     * meeting lasts longer than ACT_MEETING_MAX_US */
    uint8_t key[25];
    act_calendar_key(key, user, r->from - ACT_MEETING_MAX_US, 0, 0);
    if (after) {
        int rc = 0, seen = 0, kind = (after & 1) ? EVKIND(MEETING) : EVKIND(CALL);
        Crm__Activities__V1__CalendarEvent *last = entry_event(call, user, kind, (int64_t)(after >> 1), &rc, &seen);
        if (!last && rc != MDB_NOTFOUND)
            return crm_call_fail_db(call, rc);
        /* a token names an entry this calendar gave, or it would tell of others */
        int shown = 0;
        if (last) {
            MDB_val k = {sizeof key, key}, d;
            act_calendar_key(key, user, last->start_at, kind, last->id);
            rc = mdb_get(txn, a->calendar, &k, &d);
            if (rc && rc != MDB_NOTFOUND)
                return crm_call_fail_db(call, rc);
            shown = rc == 0 ? seen : 0;
            if (shown < 0)
                return -1;
        }
        if (!shown)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this calendar");
        act_calendar_key(key, user, last->start_at, kind, last->id + 1);
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->calendar, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->events = crm_arena_alloc(crm_call_arena(call), sizeof *reply->events * size);
    MDB_val k = {sizeof key, key}, d;
    uint64_t last_token = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size != 25 || (int64_t)crm_key_get_u64(p) != user || (int64_t)crm_key_get_u64(p + 8) >= r->to)
            break;
        if (reply->n_events == size) {
            reply->next_page_token = crm_call_page_token(call, last_token);
            break;
        }
        int kind = p[16];
        int64_t id = (int64_t)crm_key_get_u64(p + 17);
        int visible = 0;
        Crm__Activities__V1__CalendarEvent *e = entry_event(call, user, kind, id, &rc, &visible);
        if (!e) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an entry without its call or meeting */
            break;
        }
        last_token = ((uint64_t)id << 1) | (kind == EVKIND(MEETING));
        if (visible < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        /* a meeting declined is kept on the calendar's index (an answer
         * changed back shows it again) but not shown */
        if (e->kind == EVKIND(MEETING) && e->answer == CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_DECLINED)
            visible = 0;
        if (visible && (e->end_at > r->from || e->start_at >= r->from))
            reply->events[reply->n_events++] = e;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}
