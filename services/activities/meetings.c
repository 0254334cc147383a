/* Meetings: scheduled on a document (or on none) with attendees, each with
 * their answer; read, listed, changed and cancelled. A meeting is on each
 * attendee's calendar until cancelled, and every change is written in its
 * document's chatter in the transaction that makes it.
 *
 * Who sees a meeting: its attendees (the organiser is one), and whoever may
 * read its document. A meeting on no document is its attendees' alone. An
 * attendee who may not read the document (invited by someone who may) sees
 * the meeting without it, as on the calendar. */
#include "activities.h"
#include "crm_mem.h"
#include "crm_request.h"
#include "crm_tracking.h"
#include "crm_validate.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define EVKIND(x) CRM__ACTIVITIES__V1__CALENDAR_EVENT_KIND__CALENDAR_EVENT_KIND_##x
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define ANSWER(x) CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_##x
#define STATE(x) CRM__ACTIVITIES__V1__MEETING_STATE__MEETING_STATE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

#define TITLE_MAX 256
#define LOCATION_MAX 256
#define DESCRIPTION_MAX 4000         /* characters */
#define ATTENDEES_MAX 100
#define TIME_MIN 946684800000000LL   /* 2000-01-01 */
#define TIME_MAX 4102444800000000LL  /* 2100-01-01 */

typedef Crm__Activities__V1__MeetingAttendee attendee_t;

/* --- indexes ------------------------------------------------------------------ */

#define BY_USER_KEY 24 /* user, start, id */

static void by_user_key(uint8_t out[BY_USER_KEY], int64_t user, int64_t start, int64_t id)
{
    crm_key_put_u64(out, (uint64_t)user);
    crm_key_put_u64(out + 8, (uint64_t)start);
    crm_key_put_u64(out + 16, (uint64_t)id);
}

static int has_doc(const doc_t *doc) { return doc && crm_doc_model(doc->model) && doc->id > 0; }

/* The index entries of m: each attendee's list (cancelled meetings too),
 * the document's list, and each attendee's calendar unless cancelled.
 * put: 1 adds them, 0 removes them (those absent are no error). Returns an
 * LMDB code. */
int act_meeting_index(activities_t *a, MDB_txn *txn, const meeting_t *m, int put)
{
    int rc = 0;
    MDB_val empty = {0, ""};
    for (size_t i = 0; i < m->n_attendee_ids && rc == 0; i++) {
        uint8_t user_key[BY_USER_KEY], cal_key[ACT_CALENDAR_KEY];
        by_user_key(user_key, m->attendee_ids[i], m->start_at, m->id);
        act_calendar_key(cal_key, m->attendee_ids[i], m->start_at, EVKIND(MEETING), m->id);
        MDB_val uk = {sizeof user_key, user_key}, ck = {sizeof cal_key, cal_key};
        if (put) {
            rc = mdb_put(txn, a->meetings_by_user, &uk, &empty, 0);
            if (rc == 0 && m->state != STATE(CANCELLED))
                rc = mdb_put(txn, a->calendar, &ck, &empty, 0);
        } else {
            rc = mdb_del(txn, a->meetings_by_user, &uk, NULL);
            if (rc == 0 || rc == MDB_NOTFOUND)
                rc = mdb_del(txn, a->calendar, &ck, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    if (rc == 0 && has_doc(m->doc)) {
        uint8_t doc_key[ACT_TIME_KEY];
        act_doc_time_key(doc_key, crm_doc_model(m->doc->model), m->doc->id, m->start_at, m->id);
        MDB_val dk = {sizeof doc_key, doc_key};
        rc = put ? mdb_put(txn, a->meetings_by_doc, &dk, &empty, 0) : mdb_del(txn, a->meetings_by_doc, &dk, NULL);
        if (rc == MDB_NOTFOUND && !put)
            rc = 0;
    }
    return rc;
}

int act_meeting_reindex(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    activities_t *a = arg;
    meeting_t *m = crm__activities__v1__meeting__unpack(NULL, data->mv_size, data->mv_data);
    if (!m)
        return MDB_CORRUPTED;
    int rc = 0;
    attendee_t *answers = NULL, **list = NULL;
    if (!m->n_attendees && m->n_attendee_ids) {
        /* meetings from before answers: the organiser's is ACCEPTED, as
         * ScheduleMeeting now makes it, the others' not given yet */
        answers = crm_calloc(m->n_attendee_ids, sizeof *answers);
        list = crm_calloc(m->n_attendee_ids, sizeof *list);
        for (size_t i = 0; i < m->n_attendee_ids; i++) {
            crm__activities__v1__meeting_attendee__init(&answers[i]);
            answers[i].user_id = m->attendee_ids[i];
            answers[i].answer = m->attendee_ids[i] == m->organizer_id ? ANSWER(ACCEPTED) : ANSWER(UNSPECIFIED);
            list[i] = &answers[i];
        }
        size_t n_old = m->n_attendees;
        attendee_t **old = m->attendees;
        m->attendees = list;
        m->n_attendees = m->n_attendee_ids;
        rc = crm_db_put_msg(txn, a->meetings, key->mv_data, key->mv_size, &m->base);
        m->attendees = old;
        m->n_attendees = n_old;
    }
    if (rc == 0)
        rc = act_meeting_index(a, txn, m, 1);
    free(answers);
    free(list);
    crm__activities__v1__meeting__free_unpacked(m, NULL);
    return rc;
}

/* --- reading ------------------------------------------------------------------- */

static int is_attendee(const meeting_t *m, int64_t user)
{
    for (size_t i = 0; i < m->n_attendee_ids; i++)
        if (m->attendee_ids[i] == user)
            return 1;
    return 0;
}

static attendee_t *attendee_of(const meeting_t *m, int64_t user)
{
    for (size_t i = 0; i < m->n_attendees; i++)
        if (m->attendees[i]->user_id == user)
            return m->attendees[i];
    return NULL;
}

int act_meeting_answer(const meeting_t *m, int64_t user)
{
    const attendee_t *at = attendee_of(m, user);
    return at ? (int)at->answer : (user == m->organizer_id ? ANSWER(ACCEPTED) : ANSWER(UNSPECIFIED));
}

int act_meeting_visible(crm_call_t *call, const meeting_t *m, int *doc_readable)
{
    *doc_readable = 0;
    if (has_doc(m->doc)) {
        int r = act_doc_readable(call, m->doc);
        if (r < 0)
            return -1;
        *doc_readable = r;
    }
    return *doc_readable || is_attendee(m, crm_call_principal(call)->user_id);
}

/* The meeting id the caller sees, or not_found (unknown and hidden alike,
 * so a meeting on another salesperson's lead cannot be told from none). */
static int get_meeting(crm_call_t *call, int64_t id, meeting_t **out, int *doc_readable)
{
    activities_t *a = crm_call_ctx(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    int rc = id > 0 ? crm_db_get_id(crm_call_txn(call), a->meetings, (uint64_t)id,
                                    &crm__activities__v1__meeting__descriptor,
                                    crm_arena_allocator(crm_call_arena(call)), (void **)out)
                    : MDB_NOTFOUND;
    if (rc == 0) {
        int r = act_meeting_visible(call, *out, doc_readable);
        if (r < 0)
            return -1;
        if (!r)
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no meeting %lld", (long long)id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* m as a reply: attendees' names filled in, the document left out for a
 * caller who may not read it. Names are never stored, so a renamed user
 * shows the new name. */
static meeting_t *as_reply(crm_call_t *call, meeting_t *m, int doc_readable)
{
    for (size_t i = 0; i < m->n_attendees; i++) {
        crm_userinfo_t *u = act_user(call, m->attendees[i]->user_id);
        m->attendees[i]->name = u ? u->name : "";
    }
    if (!doc_readable)
        m->doc = NULL;
    return m;
}

/* --- writing ---------------------------------------------------------------------- */

static int check_title(crm_call_t *call, const char *title)
{
    crm_status_t st;
    return crm_check_text(&st, "title", title, 1, TITLE_MAX) != 0 ? crm_call_fail_status(call, &st) : 0;
}

static int check_times(crm_call_t *call, int64_t start_at, int64_t end_at)
{
    if (start_at < TIME_MIN || start_at >= TIME_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "startAt",
                             "startAt must be Unix microseconds between 2000 and 2100");
    if (end_at <= start_at || end_at - start_at > ACT_MEETING_MAX_US)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "endAt",
                             "endAt must be after startAt, at most 14 days later");
    return 0;
}

static int check_place(crm_call_t *call, const char *location, const char *description)
{
    crm_status_t st;
    if (crm_check_text(&st, "location", location, 0, LOCATION_MAX) != 0 ||
        crm_check_text(&st, "description", description, 0, DESCRIPTION_MAX) != 0)
        return crm_call_fail_status(call, &st);
    return 0;
}

/* Sets m's attendees from ids: the organiser first, then each other user
 * once, each an active user. An attendee kept from old keeps their answer
 * (unless reset: the time moved), the organiser's is ACCEPTED, a new one's
 * not given yet. Returns 0 or -1 with the error set. */
static int set_attendees(crm_call_t *call, meeting_t *m, const int64_t *ids, size_t n_ids, const meeting_t *old,
                         int reset)
{
    if (n_ids > ATTENDEES_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "attendeeIds", "a meeting has at most %d attendees",
                             ATTENDEES_MAX);
    crm_arena_t *arena = crm_call_arena(call);
    m->n_attendee_ids = m->n_attendees = 0;
    m->attendee_ids = crm_arena_alloc(arena, sizeof *m->attendee_ids * (n_ids + 1));
    m->attendees = crm_arena_alloc(arena, sizeof *m->attendees * (n_ids + 1));
    for (size_t i = 0; i <= n_ids; i++) {
        int64_t u = i == 0 ? m->organizer_id : ids[i - 1];
        if (i > 0 && is_attendee(m, u))
            continue;
        if (i > 0 && !(old && is_attendee(old, u))) {
            /* a newcomer must be someone; one kept may since have left */
            char f[48];
            snprintf(f, sizeof f, "attendeeIds[%zu]", i - 1);
            if (act_check_user(call, f, u, 0) != 0)
                return -1;
        }
        attendee_t *at = crm_call_new(call, &crm__activities__v1__meeting_attendee__descriptor);
        at->user_id = u;
        at->answer = u == m->organizer_id ? ANSWER(ACCEPTED) : ANSWER(UNSPECIFIED);
        if (old && u != m->organizer_id && !reset && is_attendee(old, u))
            at->answer = act_meeting_answer(old, u);
        else if (old && u == m->organizer_id)
            at->answer = act_meeting_answer(old, u);
        m->attendee_ids[m->n_attendee_ids++] = u;
        m->attendees[m->n_attendees++] = at;
    }
    return 0;
}

static int save_meeting(crm_call_t *call, meeting_t *m)
{
    activities_t *a = crm_call_ctx(call);
    int rc = crm_db_put_id(crm_call_txn(call), a->meetings, (uint64_t)m->id, &m->base);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

static int emit(crm_call_t *call, const char *type, meeting_t *m, meeting_t *old, int64_t answered_by)
{
    Crm__Activities__V1__MeetingEvent ev = CRM__ACTIVITIES__V1__MEETING_EVENT__INIT;
    ev.meeting = m;
    ev.old = old;
    ev.answered_by = answered_by;
    return crm_call_emit(call, type, &ev.base);
}

/* The chatter message of a change, on the meeting's document if it has one. */
static int post(crm_call_t *call, const meeting_t *m, const char *body)
{
    return has_doc(m->doc) ? act_post_system(call, m->doc, KIND(MEETING), body, 0, m->id) : 0;
}

static const char *when_text(crm_call_t *call, const meeting_t *m)
{
    char from[40], to[40];
    crm_format_time(from, sizeof from, m->start_at);
    crm_format_time(to, sizeof to, m->end_at);
    return crm_arena_printf(crm_call_arena(call), "%s to %s", from, to);
}

int act_schedule_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ScheduleMeetingRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    int on_doc = r->doc && (*r->doc->model || r->doc->id);
    if (crm_call_require_sales(call) != 0 || (on_doc && act_check_doc(call, "doc", r->doc) != 0))
        return -1;
    if (check_title(call, r->title) != 0 || check_times(call, r->start_at, r->end_at) != 0 ||
        check_place(call, r->location, r->description) != 0)
        return -1;

    meeting_t *m = (meeting_t *)out;
    m->organizer_id = crm_call_principal(call)->user_id;
    m->title = r->title;
    m->start_at = r->start_at;
    m->end_at = r->end_at;
    m->location = r->location;
    m->description = r->description;
    m->created_at = m->updated_at = crm_call_now(call);
    if (set_attendees(call, m, r->attendee_ids, r->n_attendee_ids, NULL, 0) != 0)
        return -1;
    if (on_doc) {
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
    if (save_meeting(call, m) != 0)
        return -1;
    if ((rc = act_meeting_index(a, txn, m, 1)) != 0)
        return crm_call_fail_db(call, rc);
    if (emit(call, "meeting.scheduled", m, NULL, 0) != 0)
        return -1;
    const char *body = crm_arena_printf(crm_call_arena(call), "Meeting scheduled: %s, %s (%zu attendee%s)%s%s",
                                        m->title, when_text(call, m), m->n_attendee_ids,
                                        m->n_attendee_ids == 1 ? "" : "s", *m->location ? ", at " : "",
                                        m->location);
    if (post(call, m, body) != 0)
        return -1;
    as_reply(call, m, 1);
    return 0;
}

int act_get_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__GetMeetingRequest *r = (const void *)in;
    meeting_t *m;
    int doc_readable;
    if (get_meeting(call, r->id, &m, &doc_readable) != 0)
        return -1;
    *(meeting_t *)out = *as_reply(call, m, doc_readable);
    return 0;
}

/* The organiser or a sales manager (who may see the meeting) changes it,
 * and only while it is not cancelled. */
static int check_may_change(crm_call_t *call, const meeting_t *m, const char *verb)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (m->organizer_id != p->user_id && crm_sales_level(p) < ACCESS(MANAGER))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "id",
                             "only the organiser or a sales manager may %s meeting %lld", verb, (long long)m->id);
    if (m->state == STATE(CANCELLED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "meeting %lld is cancelled", (long long)m->id);
    return 0;
}

/* A copy of m's fields and lists that later changes to m leave alone. */
static meeting_t *copy_meeting(crm_call_t *call, const meeting_t *m)
{
    meeting_t *c = crm_call_new(call, &crm__activities__v1__meeting__descriptor);
    *c = *m;
    crm_arena_t *arena = crm_call_arena(call);
    c->attendee_ids = crm_arena_alloc(arena, sizeof *c->attendee_ids * (m->n_attendee_ids + 1));
    memcpy(c->attendee_ids, m->attendee_ids, sizeof *c->attendee_ids * m->n_attendee_ids);
    c->attendees = crm_arena_alloc(arena, sizeof *c->attendees * (m->n_attendees + 1));
    for (size_t i = 0; i < m->n_attendees; i++) {
        c->attendees[i] = crm_call_new(call, &crm__activities__v1__meeting_attendee__descriptor);
        *c->attendees[i] = *m->attendees[i];
    }
    return c;
}

int act_update_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    static const char *const allowed[] = {"title", "start_at", "end_at", "location", "description",
                                          "attendee_ids", NULL};
    const Crm__Activities__V1__UpdateMeetingRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    meeting_t *m;
    int doc_readable;
    crm_status_t st;
    if (get_meeting(call, r->id, &m, &doc_readable) != 0 || check_may_change(call, m, "change") != 0)
        return -1;
    if (crm_mask_check(&st, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    const Google__Protobuf__FieldMask *mask = r->update_mask;
    meeting_t *old = copy_meeting(call, m);
    if (crm_mask_has(mask, "title"))
        m->title = r->title;
    if (crm_mask_has(mask, "start_at"))
        m->start_at = r->start_at;
    if (crm_mask_has(mask, "end_at"))
        m->end_at = r->end_at;
    if (crm_mask_has(mask, "location"))
        m->location = r->location;
    if (crm_mask_has(mask, "description"))
        m->description = r->description;
    if (check_title(call, m->title) != 0 || check_times(call, m->start_at, m->end_at) != 0 ||
        check_place(call, m->location, m->description) != 0)
        return -1;
    /* as calendar apps do: a meeting at another time asks everyone again */
    int moved = m->start_at != old->start_at || m->end_at != old->end_at;
    const int64_t *ids = crm_mask_has(mask, "attendee_ids") ? r->attendee_ids : old->attendee_ids;
    size_t n_ids = crm_mask_has(mask, "attendee_ids") ? r->n_attendee_ids : old->n_attendee_ids;
    if (set_attendees(call, m, ids, n_ids, old, moved) != 0)
        return -1;
    m->updated_at = crm_call_now(call);
    int rc;
    if ((rc = act_meeting_index(a, txn, old, 0)) != 0 || (rc = act_meeting_index(a, txn, m, 1)) != 0)
        return crm_call_fail_db(call, rc);
    if (save_meeting(call, m) != 0 || emit(call, "meeting.updated", m, old, 0) != 0)
        return -1;
    crm_arena_t *arena = crm_call_arena(call);
    const char *body = moved ? crm_arena_printf(arena, "Meeting moved to %s: %s", when_text(call, m), m->title)
                             : crm_arena_printf(arena, "Meeting changed: %s", m->title);
    if (strcmp(m->location, old->location))
        body = crm_arena_printf(arena, "%s; location: %s", body, *m->location ? m->location : "none");
    if (m->n_attendee_ids != old->n_attendee_ids || memcmp(m->attendee_ids, old->attendee_ids,
                                                           sizeof *m->attendee_ids * m->n_attendee_ids))
        body = crm_arena_printf(arena, "%s; %zu attendee%s", body, m->n_attendee_ids,
                                m->n_attendee_ids == 1 ? "" : "s");
    if (post(call, m, body) != 0)
        return -1;
    *(meeting_t *)out = *as_reply(call, m, doc_readable);
    return 0;
}

int act_cancel_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__CancelMeetingRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    meeting_t *m;
    int doc_readable, rc;
    if (get_meeting(call, r->id, &m, &doc_readable) != 0 || check_may_change(call, m, "cancel") != 0)
        return -1;
    meeting_t *old = copy_meeting(call, m);
    m->state = STATE(CANCELLED);
    m->updated_at = crm_call_now(call);
    /* off every calendar; still listed (ListMeetings' includeCancelled) */
    if ((rc = act_meeting_index(a, crm_call_txn(call), old, 0)) != 0 ||
        (rc = act_meeting_index(a, crm_call_txn(call), m, 1)) != 0)
        return crm_call_fail_db(call, rc);
    if (save_meeting(call, m) != 0 || emit(call, "meeting.cancelled", m, old, 0) != 0)
        return -1;
    const char *body = crm_arena_printf(crm_call_arena(call), "Meeting cancelled: %s, %s", m->title,
                                        when_text(call, m));
    if (post(call, m, body) != 0)
        return -1;
    *(meeting_t *)out = *as_reply(call, m, doc_readable);
    return 0;
}

static const char *answer_verb(int answer)
{
    return answer == ANSWER(ACCEPTED)   ? "accepted"
           : answer == ANSWER(DECLINED) ? "declined"
                                        : "tentatively accepted";
}

int act_answer_meeting(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__AnswerMeetingRequest *r = (const void *)in;
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    meeting_t *m;
    int doc_readable;
    if (get_meeting(call, r->id, &m, &doc_readable) != 0)
        return -1;
    /* seen through its document but not invited: the meeting is no secret
     * to this caller, so the refusal may say why */
    attendee_t *at = attendee_of(m, p->user_id);
    if (!at)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "id", "you are not invited to meeting %lld",
                             (long long)m->id);
    if (r->answer != ANSWER(ACCEPTED) && r->answer != ANSWER(DECLINED) && r->answer != ANSWER(TENTATIVE))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "answer",
                             "answer must be MEETING_ANSWER_ACCEPTED, _DECLINED or _TENTATIVE");
    if (m->state == STATE(CANCELLED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "meeting %lld is cancelled", (long long)m->id);
    if ((int)at->answer != (int)r->answer) {
        meeting_t *old = copy_meeting(call, m);
        at->answer = r->answer;
        m->updated_at = crm_call_now(call);
        if (save_meeting(call, m) != 0 || emit(call, "meeting.answered", m, old, p->user_id) != 0)
            return -1;
        crm_userinfo_t *u = act_user(call, p->user_id);
        const char *body = crm_arena_printf(crm_call_arena(call), "%s %s: %s",
                                            u && *u->name ? u->name : p->login, answer_verb(r->answer),
                                            m->title);
        if (post(call, m, body) != 0)
            return -1;
    }
    *(meeting_t *)out = *as_reply(call, m, doc_readable);
    return 0;
}

/* --- lists ---------------------------------------------------------------------------- */

int act_list_meetings(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListMeetingsRequest *r = (const void *)in;
    Crm__Activities__V1__ListMeetingsReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    int64_t self = crm_call_principal(call)->user_id, user = 0;
    int on_doc = r->doc && (*r->doc->model || r->doc->id);
    if (on_doc && r->user_id)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "userId", "give userId or doc, not both");
    if (on_doc && act_check_doc(call, "doc", r->doc) != 0)
        return -1;
    if (!on_doc) {
        user = r->user_id ? r->user_id : self;
        if (user != self && crm_call_own_leads_only(call))
            return crm_call_fail(call, CODE(PERMISSION_DENIED), "userId",
                                 "with own-leads access only your own meetings are listed");
    }
    if (r->from < 0 || (r->from && r->from >= TIME_MAX))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "from", "from must be Unix microseconds before 2100");
    if (r->to < 0 || (r->to && r->to <= r->from))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "to", "to must be after from (or 0: no end)");
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 50, 500, &size, &after) != 0)
        return -1;

    /* the user's or the document's index, by start time; meetings that
     * began before from but are still going count, and none lasts longer
     * than ACT_MEETING_MAX_US */
    MDB_dbi dbi = on_doc ? a->meetings_by_doc : a->meetings_by_user;
    uint8_t key[ACT_TIME_KEY];
    size_t plen = on_doc ? ACT_DOC_KEY : 8;
    if (on_doc)
        act_doc_key(key, crm_doc_model(r->doc->model), r->doc->id);
    else
        crm_key_put_u64(key, (uint64_t)user);
    int64_t start_at = r->from > ACT_MEETING_MAX_US ? r->from - ACT_MEETING_MAX_US : 0, start_id = 0;
    ProtobufCAllocator *alloc = crm_arena_allocator(crm_call_arena(call));
    if (after) {
        meeting_t *last;
        int rc = crm_db_get_id(txn, a->meetings, after, &crm__activities__v1__meeting__descriptor, alloc,
                               (void **)&last);
        if (rc && rc != MDB_NOTFOUND)
            return crm_call_fail_db(call, rc);
        /* a token names a meeting this list gave: one the caller sees, on
         * the index scanned; anything else would tell of other meetings */
        int doc_readable, shown = rc == 0 ? act_meeting_visible(call, last, &doc_readable) : 0;
        if (shown < 0)
            return -1;
        if (shown && on_doc)
            shown = has_doc(last->doc) && crm_doc_model(last->doc->model) == crm_doc_model(r->doc->model) &&
                    last->doc->id == r->doc->id;
        else if (shown)
            shown = is_attendee(last, user);
        if (!shown)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this list");
        start_at = last->start_at;
        start_id = last->id + 1;
    }
    crm_key_put_u64(key + plen, (uint64_t)start_at);
    crm_key_put_u64(key + plen + 8, (uint64_t)start_id);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->meetings = crm_arena_alloc(crm_call_arena(call), sizeof *reply->meetings * size);
    MDB_val k = {plen + 16, key}, d;
    int64_t last_id = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != plen + 16 || memcmp(k.mv_data, key, plen) != 0)
            break;
        const uint8_t *p = (const uint8_t *)k.mv_data + plen;
        if (r->to && (int64_t)crm_key_get_u64(p) >= r->to)
            break;
        if (reply->n_meetings == size) {
            reply->next_page_token = crm_call_page_token(call, (uint64_t)last_id);
            break;
        }
        meeting_t *m;
        int64_t id = (int64_t)crm_key_get_u64(p + 8);
        rc = crm_db_get_id(txn, a->meetings, (uint64_t)id, &crm__activities__v1__meeting__descriptor, alloc,
                           (void **)&m);
        if (rc) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index entry without its meeting */
            break;
        }
        if (m->end_at <= r->from || (m->state == STATE(CANCELLED) && !r->include_cancelled))
            continue;
        int doc_readable, visible = act_meeting_visible(call, m, &doc_readable);
        if (visible < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        if (!visible)
            continue;
        reply->meetings[reply->n_meetings++] = as_reply(call, m, doc_readable);
        last_id = id;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}
