/* Meetings: scheduled on a document (or on none) with attendees, on each
 * attendee's calendar. */
#include "activities.h"
#include "crm_tracking.h"
#include "crm_validate.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define EVKIND(x) CRM__ACTIVITIES__V1__CALENDAR_EVENT_KIND__CALENDAR_EVENT_KIND_##x
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x

#define TITLE_MAX 256
#define ATTENDEES_MAX 100
#define TIME_MIN 946684800000000LL   /* 2000-01-01 */
#define TIME_MAX 4102444800000000LL  /* 2100-01-01 */

int act_schedule_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ScheduleMeetingRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_status_t st;
    int has_doc = r->doc && (*r->doc->model || r->doc->id);
    if (crm_call_require_sales(call) != 0 || (has_doc && act_check_doc(call, "doc", r->doc) != 0))
        return -1;
    if (crm_check_text(&st, "title", r->title, 1, TITLE_MAX) != 0)
        return crm_call_fail_status(call, &st);
    if (r->start_at < TIME_MIN || r->start_at >= TIME_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "startAt",
                             "startAt must be Unix microseconds between 2000 and 2100");
    if (r->end_at <= r->start_at || r->end_at - r->start_at > ACT_MEETING_MAX_US)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "endAt",
                             "endAt must be after startAt, at most 14 days later");
    if (r->n_attendee_ids > ATTENDEES_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "attendeeIds", "a meeting has at most %d attendees",
                             ATTENDEES_MAX);

    meeting_t *m = (meeting_t *)out;
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    m->organizer_id = p->user_id;
    m->title = r->title;
    m->start_at = r->start_at;
    m->end_at = r->end_at;
    m->created_at = crm_call_now(call);
    /* the organiser first, then each other attendee once */
    m->attendee_ids = crm_arena_alloc(crm_call_arena(call), sizeof(int64_t) * (r->n_attendee_ids + 1));
    m->attendee_ids[m->n_attendee_ids++] = p->user_id;
    for (size_t i = 0; i < r->n_attendee_ids; i++) {
        int64_t u = r->attendee_ids[i];
        int seen = 0;
        for (size_t j = 0; j < m->n_attendee_ids && !seen; j++)
            seen = m->attendee_ids[j] == u;
        if (seen)
            continue;
        char f[48];
        snprintf(f, sizeof f, "attendeeIds[%zu]", i);
        if (act_check_user(call, f, u, 0) != 0)
            return -1;
        m->attendee_ids[m->n_attendee_ids++] = u;
    }
    if (has_doc) {
        doc_t *d = crm_call_new(call, &crm__common__v1__doc_ref__descriptor);
        d->model = (char *)crm_doc_model_name(crm_doc_model(r->doc->model));
        d->id = r->doc->id;
        m->doc = d;
    }
    uint64_t id;
    int rc = crm_store_next_id(a->store, txn, "meeting", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    m->id = (int64_t)id;
    if ((rc = crm_db_put_id(txn, a->meetings, id, &m->base)) != 0)
        return crm_call_fail_db(call, rc);
    for (size_t i = 0; i < m->n_attendee_ids; i++) {
        uint8_t key[25];
        act_calendar_key(key, m->attendee_ids[i], m->start_at, EVKIND(MEETING), m->id);
        MDB_val k = {sizeof key, key}, d = {0, ""};
        if ((rc = mdb_put(txn, a->calendar, &k, &d, 0)) != 0)
            return crm_call_fail_db(call, rc);
    }
    Crm__Activities__V1__MeetingEvent ev = CRM__ACTIVITIES__V1__MEETING_EVENT__INIT;
    ev.meeting = m;
    if (crm_call_emit(call, "meeting.scheduled", &ev.base) != 0)
        return -1;
    if (has_doc) {
        char from[40], to[40];
        crm_format_time(from, sizeof from, m->start_at);
        crm_format_time(to, sizeof to, m->end_at);
        const char *body = crm_arena_printf(crm_call_arena(call), "Meeting scheduled: %s, %s to %s (%zu attendee%s)",
                                            m->title, from, to, m->n_attendee_ids, m->n_attendee_ids == 1 ? "" : "s");
        if (act_post_system(call, m->doc, KIND(MEETING), body, 0, m->id) != 0)
            return -1;
    }
    return 0;
}
