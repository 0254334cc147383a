/* Planned activities ("next activity"): a to-do on a document with a type,
 * a deadline day and a responsible person, done with feedback written in
 * the chatter, or cancelled. A scheduled call is one of a CALL type: the
 * call record (calls.c) and its activity are made, moved and closed
 * together, in one transaction, whichever door is used. Meetings are read
 * here (as activities of their attendees), never written.
 *
 * Two indexes make the lists range scans: by responsible (list state,
 * deadline day, id), where a planned activity of an archived document is
 * kept under a state of its own so that it leaves its responsible's lists
 * until the document is restored, and by document (state, deadline day,
 * id). Counts of "my activities" come from a bounded scan of the keys
 * alone, which hold the deadline: no per-user counter to keep right. */
#include "activities.h"
#include "crm_consumer.h"
#include "crm_date.h"
#include "crm_request.h"
#include "crm_validate.h"
#include "pipeline.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATE(x) CRM__ACTIVITIES__V1__ACTIVITY_STATE__ACTIVITY_STATE_##x
#define CATEGORY(x) CRM__ACTIVITIES__V1__ACTIVITY_CATEGORY__ACTIVITY_CATEGORY_##x
#define CALL_STATUS(x) CRM__ACTIVITIES__V1__CALL_STATUS__CALL_STATUS_##x
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define EVKIND(x) CRM__ACTIVITIES__V1__CALENDAR_EVENT_KIND__CALENDAR_EVENT_KIND_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

#define SUMMARY_MAX 512     /* characters, as a call's */
#define NOTE_MAX 4000       /* characters */
#define FEEDBACK_MAX 4000   /* characters */
#define DURATION_MAX (24 * 60)
#define LIST_SCAN_MAX 20000 /* index entries one ListActivities page reads at most */
#define MY_SCAN_MAX 100000  /* entries counted for one person's groups: exact up to this */
#define MY_LIMIT_MAX 500
#define NEXT_DOCS_MAX 200
#define NEXT_COUNT_MAX 1000 /* a document's planned activities counted at most */
#define MEETING_SCAN_MAX 2000 /* a person's upcoming calendar entries read for meetings */
#define ACTIVITY_COUNTER "activity"

/* Index keys. HELD_BACK is the list state of a planned activity whose
 * document is archived. */
#define RESP_KEY 21 /* responsible (8), list state (1), deadline day (4), id (8) */
#define DOC_KEY 22  /* model (1), doc (8), state (1), deadline day (4), id (8) */
#define CAL_KEY 25  /* calendar: user (8), start (8), kind (1), id (8) */
#define HELD_BACK 0x81

static void resp_key(uint8_t out[RESP_KEY], int64_t resp, int list_state, int32_t day, int64_t id)
{
    crm_key_put_u64(out, (uint64_t)resp);
    out[8] = (uint8_t)list_state;
    crm_date_key_put(out + 9, day);
    crm_key_put_u64(out + 13, (uint64_t)id);
}

static void doc_key(uint8_t out[DOC_KEY], int model, int64_t doc, int state, int32_t day, int64_t id)
{
    act_doc_key(out, model, doc);
    out[9] = (uint8_t)state;
    crm_date_key_put(out + 10, day);
    crm_key_put_u64(out + 14, (uint64_t)id);
}

/* --- records and indexes (shared by handlers and the pipeline consumer) --- */

/* 1 if the document is archived, 0 if not or unknown, or -(LMDB code). */
static int doc_archived(activities_t *a, MDB_txn *txn, crm_arena_t *arena, const doc_t *doc)
{
    crm_docinfo_t *d;
    int rc = crm_readmodel_doc(&a->readmodel, txn, arena, crm_doc_model(doc->model), doc->id, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? -rc : d->archived != 0;
}

static int put_empty(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len)
{
    MDB_val k = {len, key}, d = {0, ""};
    return mdb_put(txn, dbi, &k, &d, 0);
}

static int del_key(MDB_txn *txn, MDB_dbi dbi, void *key, size_t len)
{
    MDB_val k = {len, key};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int deadline_day(const activity_t *act, int32_t *day)
{
    return crm_date_parse(act->deadline, day) == 0 ? 0 : MDB_CORRUPTED;
}

/* Takes act's index entries out (either list state of a planned one: the
 * document may have been archived since they were written). */
static int unindex(activities_t *a, MDB_txn *txn, const activity_t *act)
{
    int32_t day;
    int rc = deadline_day(act, &day);
    uint8_t rk[RESP_KEY], dk[DOC_KEY];
    if (rc)
        return rc;
    resp_key(rk, act->responsible_id, act->state, day, act->id);
    if ((rc = del_key(txn, a->acts_by_resp, rk, sizeof rk)) != 0)
        return rc;
    if (act->state == STATE(PLANNED)) {
        resp_key(rk, act->responsible_id, HELD_BACK, day, act->id);
        if ((rc = del_key(txn, a->acts_by_resp, rk, sizeof rk)) != 0)
            return rc;
    }
    doc_key(dk, crm_doc_model(act->doc->model), act->doc->id, act->state, day, act->id);
    return del_key(txn, a->acts_by_doc, dk, sizeof dk);
}

/* Writes act (replacing old, NULL for a new one): its index entries and
 * its record without the fields only replies carry. A planned activity is
 * held back from its responsible's lists when held_back is 1, or, with -1,
 * when its document is archived. Returns an LMDB code. */
static int write_activity_as(activities_t *a, MDB_txn *txn, crm_arena_t *arena, const activity_t *old,
                             const activity_t *act, int held_back)
{
    int rc = old ? unindex(a, txn, old) : 0;
    int32_t day;
    if (rc || (rc = deadline_day(act, &day)) != 0)
        return rc;
    int list_state = act->state;
    if (act->state == STATE(PLANNED)) {
        int archived = held_back >= 0 ? held_back : doc_archived(a, txn, arena, act->doc);
        if (archived < 0)
            return -archived;
        if (archived)
            list_state = HELD_BACK;
    }
    uint8_t rk[RESP_KEY], dk[DOC_KEY];
    resp_key(rk, act->responsible_id, list_state, day, act->id);
    doc_key(dk, crm_doc_model(act->doc->model), act->doc->id, act->state, day, act->id);
    if ((rc = put_empty(txn, a->acts_by_resp, rk, sizeof rk)) != 0 ||
        (rc = put_empty(txn, a->acts_by_doc, dk, sizeof dk)) != 0)
        return rc;
    if (act->call_id) {
        uint8_t ck[8], id[8];
        crm_key_put_u64(ck, (uint64_t)act->call_id);
        crm_key_put_u64(id, (uint64_t)act->id);
        MDB_val k = {8, ck}, d = {8, id};
        if ((rc = mdb_put(txn, a->acts_by_call, &k, &d, 0)) != 0)
            return rc;
    }
    activity_t stored = *act;
    stored.type_name = stored.doc_name = stored.responsible_name = "";
    stored.due = 0;
    return crm_db_put_id(txn, a->acts, (uint64_t)act->id, &stored.base);
}

static int write_activity(activities_t *a, MDB_txn *txn, crm_arena_t *arena, const activity_t *old,
                          const activity_t *act)
{
    return write_activity_as(a, txn, arena, old, act, -1);
}

static int load_activity(activities_t *a, MDB_txn *txn, crm_arena_t *arena, int64_t id, activity_t **out)
{
    return crm_db_get_id(txn, a->acts, (uint64_t)id, &crm__activities__v1__activity__descriptor,
                         crm_arena_allocator(arena), (void **)out);
}

static activity_t *copy_activity(crm_arena_t *arena, const activity_t *act)
{
    activity_t *c = crm_arena_alloc(arena, sizeof *c);
    *c = *act;
    return c;
}

/* --- replies ----------------------------------------------------------------------- */

static const char *type_name(activities_t *a, MDB_txn *txn, crm_arena_t *arena, int64_t id)
{
    activity_type_t *t;
    return crm_db_get_id(txn, a->activity_types, (uint64_t)id, &crm__activities__v1__activity_type__descriptor,
                         crm_arena_allocator(arena), (void **)&t) == 0
               ? t->name
               : "";
}

/* The fields replies carry beside the record: names, and due against today. */
static void fill_reply(crm_call_t *call, activity_t *act, int32_t today)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    act->type_name = (char *)type_name(a, txn, arena, act->type_id);
    int32_t day;
    act->due = act->state == STATE(PLANNED) && crm_date_parse(act->deadline, &day) == 0 ? crm_date_due(day, today) : 0;
    crm_docinfo_t *d;
    act->doc_name = crm_readmodel_doc(&a->readmodel, txn, arena, crm_doc_model(act->doc->model), act->doc->id, &d) == 0
                        ? d->name
                        : "";
    crm_userinfo_t *u = act_user(call, act->responsible_id);
    act->responsible_name = u ? u->name : "";
}

static int32_t today_utc(crm_call_t *call) { return crm_date_of_instant(crm_call_now(call)); }

/* The request's today (empty: today in UTC). */
static int read_today(crm_call_t *call, const char *field, const char *s, int32_t *today)
{
    if (!s || !*s) {
        *today = today_utc(call);
        return 0;
    }
    if (crm_date_parse(s, today) != 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "%s must be a real date written YYYY-MM-DD", field);
    return 0;
}

static const char *format_day(crm_call_t *call, int32_t day)
{
    char *s = crm_arena_alloc(crm_call_arena(call), CRM_DATE_LEN + 1);
    crm_date_format(s, day);
    return s;
}

static int emit(crm_call_t *call, const char *type, activity_t *act, activity_t *old)
{
    Crm__Activities__V1__ActivityEvent ev = CRM__ACTIVITIES__V1__ACTIVITY_EVENT__INIT;
    ev.activity = act;
    ev.old = old;
    return crm_call_emit(call, type, &ev.base);
}

/* --- access ------------------------------------------------------------------------ */

/* The activity id if the caller may read its document; else not_found. */
static int get_activity(crm_call_t *call, int64_t id, activity_t **out)
{
    activities_t *a = crm_call_ctx(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    int rc = id > 0 ? load_activity(a, crm_call_txn(call), crm_call_arena(call), id, out) : MDB_NOTFOUND;
    if (rc == 0) {
        int r = act_doc_readable(call, (*out)->doc);
        if (r < 0)
            return -1;
        if (!r)
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no activity %lld", (long long)id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int act_activity_may_change(crm_call_t *call, const activity_t *act)
{
    activities_t *a = crm_call_ctx(call);
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (p->user_id == act->created_by || p->user_id == act->responsible_id ||
        crm_sales_level(p) >= ACCESS(ALL_LEADS))
        return 0;
    crm_doc_owner_t owner;
    int rc = crm_readmodel_owner(&a->readmodel, crm_call_txn(call), crm_call_arena(call),
                                 crm_doc_model(act->doc->model), act->doc->id, &owner);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (rc == 0 && (owner.salesperson_id == 0 || owner.salesperson_id == p->user_id))
        return 0;
    return crm_call_fail(call, CODE(PERMISSION_DENIED), "id",
                         "only its creator, its responsible or who may change %s %lld may change activity %lld",
                         act->doc->model, (long long)act->doc->id, (long long)act->id);
}

static int require_planned(crm_call_t *call, const activity_t *act)
{
    if (act->state != STATE(PLANNED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "activity %lld is %s; only a planned one can change",
                             (long long)act->id, act->state == STATE(DONE) ? "done" : "cancelled");
    return 0;
}

static int check_text(crm_call_t *call, const char *field, const char *s, size_t min, size_t max)
{
    crm_status_t st;
    return crm_check_text(&st, field, s, min, max) == 0 ? 0 : crm_call_fail_status(call, &st);
}

/* A type a new activity may take: known, not archived, not a meeting. */
static int usable_type(crm_call_t *call, int64_t id, activity_type_t **t)
{
    if (act_type_get(call, "typeId", id, CATEGORY(TODO), t) != 0)
        return -1;
    if ((*t)->category == CATEGORY(MEETING))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "typeId", "schedule a meeting with ScheduleMeeting");
    if (id && (*t)->archived)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "typeId", "activity type %lld is archived", (long long)id);
    return 0;
}

/* --- planning ---------------------------------------------------------------------- */

static activity_t *new_activity(crm_call_t *call, const doc_t *doc, const activity_type_t *t)
{
    activity_t *act = crm_call_new(call, &crm__activities__v1__activity__descriptor);
    doc_t *d = crm_call_new(call, &crm__common__v1__doc_ref__descriptor);
    d->model = (char *)crm_doc_model_name(crm_doc_model(doc->model));
    d->id = doc->id;
    act->doc = d;
    act->type_id = t->id;
    act->category = t->category == CATEGORY(UNSPECIFIED) ? CATEGORY(TODO) : t->category;
    act->state = STATE(PLANNED);
    act->created_by = crm_call_principal(call)->user_id;
    act->created_at = act->updated_at = crm_call_now(call);
    return act;
}

/* Numbers, writes and (announce) announces a new activity. */
static int create_activity(crm_call_t *call, activity_t *act, int announce)
{
    activities_t *a = crm_call_ctx(call);
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), ACTIVITY_COUNTER, &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    act->id = (int64_t)id;
    if ((rc = write_activity(a, crm_call_txn(call), crm_call_arena(call), NULL, act)) != 0)
        return crm_call_fail_db(call, rc);
    fill_reply(call, act, today_utc(call));
    return announce ? emit(call, "activity.planned", act, NULL) : 0;
}

static activity_t *activity_from_call(crm_call_t *call, const call_t *c, const activity_type_t *t)
{
    activity_t *act = new_activity(call, c->doc, t);
    act->category = CATEGORY(CALL);
    act->summary = c->summary;
    act->note = "";
    act->deadline = (char *)format_day(call, crm_date_of_instant(c->planned_at));
    act->responsible_id = c->responsible_id;
    act->planned_at = c->planned_at;
    act->duration_minutes = c->duration_minutes;
    act->call_id = c->id;
    return act;
}

int act_activity_of_call(crm_call_t *call, const call_t *c, int announce, activity_t **out)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    *out = NULL;
    if (c->status != CALL_STATUS(SCHEDULED))
        return 0;
    uint8_t ck[8];
    crm_key_put_u64(ck, (uint64_t)c->id);
    MDB_val k = {8, ck}, d;
    int rc = mdb_get(txn, a->acts_by_call, &k, &d);
    if (rc == 0) {
        if (d.mv_size != 8)
            return crm_call_fail_db(call, MDB_CORRUPTED);
        rc = load_activity(a, txn, crm_call_arena(call), (int64_t)crm_key_get_u64(d.mv_data), out);
        if (rc)
            return crm_call_fail_db(call, rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
        if ((*out)->state != STATE(PLANNED))
            *out = NULL; /* closed with its call: cannot be, but no reason to fail a call's close on it */
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    /* a call scheduled before calls were activities, or just now by ScheduleCall */
    activity_type_t *t;
    if (act_type_get(call, "typeId", 0, CATEGORY(CALL), &t) != 0)
        return -1;
    activity_t *act = activity_from_call(call, c, t);
    if (create_activity(call, act, announce) != 0)
        return -1;
    *out = act;
    return 0;
}

int act_plan_activity(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__PlanActivityRequest *r = (const void *)in;
    activity_type_t *t;
    if (act_check_doc(call, "doc", r->doc) != 0 || usable_type(call, r->type_id, &t) != 0)
        return -1;
    int is_call = t->category == CATEGORY(CALL);
    if (check_text(call, "summary", r->summary, 0, SUMMARY_MAX) != 0 || check_text(call, "note", r->note, 0, NOTE_MAX) != 0)
        return -1;
    int64_t resp = r->responsible_id ? r->responsible_id : crm_call_principal(call)->user_id;
    /* the responsible must be able to do it: see the document */
    if (r->responsible_id && (act_check_user(call, "responsibleId", resp, 1) != 0 ||
                              act_check_reader(call, "responsibleId", resp, r->doc) != 0))
        return -1;
    int32_t deadline;
    if (*r->deadline && crm_date_parse(r->deadline, &deadline) != 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "deadline", "deadline must be a real date written YYYY-MM-DD");
    activity_t *act;
    if (is_call) {
        if (!r->planned_at)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "a call needs plannedAt, its time");
        if (*r->deadline && deadline != crm_date_of_instant(r->planned_at))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "deadline",
                                 "a call's deadline is the day (UTC) of its plannedAt");
        call_t *c;
        if (act_call_schedule(call, r->doc, *r->summary ? r->summary : t->name, r->planned_at, r->duration_minutes,
                              r->responsible_id, &c) != 0)
            return -1;
        act = activity_from_call(call, c, t);
        act->note = r->note;
    } else {
        if (r->planned_at)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "only a call has a time: give a deadline");
        if (r->duration_minutes)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes", "only a call has a duration");
        act = new_activity(call, r->doc, t);
        act->summary = r->summary;
        act->note = r->note;
        act->responsible_id = resp;
        act->deadline = (char *)format_day(call, *r->deadline ? deadline : today_utc(call) + t->default_days);
    }
    if (create_activity(call, act, 1) != 0)
        return -1;
    *(activity_t *)out = *act;
    return 0;
}

/* --- changing ---------------------------------------------------------------------- */

/* What an update asks for; has_* from the mask. */
typedef struct {
    int has_type, has_summary, has_note, has_deadline, has_resp, has_planned_at, has_duration;
    int64_t type_id, responsible_id, planned_at;
    const char *summary, *note, *deadline;
    int32_t duration;
} change_t;

/* Applies ch to act (planned, the caller allowed), and to its call. */
static int change_activity(crm_call_t *call, activity_t *act, const change_t *ch)
{
    activities_t *a = crm_call_ctx(call);
    activity_t *old = copy_activity(crm_call_arena(call), act);
    int is_call = act->category == CATEGORY(CALL);
    if (ch->has_type) {
        activity_type_t *t;
        if (usable_type(call, ch->type_id ? ch->type_id : -1, &t) != 0)
            return -1;
        if ((t->category == CATEGORY(CALL)) != is_call)
            return crm_call_fail(call, CODE(FAILED_PRECONDITION), "typeId",
                                 is_call ? "a call's type can only become another call type"
                                         : "a call is planned with a time: plan one rather than change this");
        act->type_id = t->id;
        act->category = t->category;
    }
    if (ch->has_summary) {
        if (check_text(call, "summary", ch->summary, is_call, SUMMARY_MAX) != 0)
            return -1;
        act->summary = (char *)ch->summary;
    }
    if (ch->has_note) {
        if (check_text(call, "note", ch->note, 0, NOTE_MAX) != 0)
            return -1;
        act->note = (char *)ch->note;
    }
    if (ch->has_resp) {
        if (act_check_user(call, "responsibleId", ch->responsible_id, 1) != 0 ||
            act_check_reader(call, "responsibleId", ch->responsible_id, act->doc) != 0)
            return -1;
        act->responsible_id = ch->responsible_id;
    }
    int32_t old_day, day;
    if (deadline_day(act, &old_day) != 0)
        return crm_call_fail_db(call, MDB_CORRUPTED);
    day = old_day;
    if (ch->has_deadline && crm_date_parse(ch->deadline, &day) != 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "deadline", "deadline must be a real date written YYYY-MM-DD");
    if (is_call) {
        int64_t at = act->planned_at;
        if (ch->has_planned_at) {
            if (ch->has_deadline && day != crm_date_of_instant(ch->planned_at))
                return crm_call_fail(call, CODE(INVALID_ARGUMENT), "deadline",
                                     "a call's deadline is the day (UTC) of its plannedAt");
            at = ch->planned_at;
        } else if (day != old_day) {
            at += (int64_t)(day - old_day) * 86400000000LL; /* the same time on the new day */
        }
        if (ch->has_duration)
            act->duration_minutes = ch->duration;
        call_t *c;
        if (act_call_get(call, "id", act->call_id, &c) != 0)
            return -1;
        if (at != act->planned_at || act->duration_minutes != c->duration_minutes ||
            act->responsible_id != c->responsible_id || strcmp(act->summary, c->summary)) {
            c->summary = act->summary;
            if (act_call_move(call, c, at, act->duration_minutes ? act->duration_minutes : c->duration_minutes,
                              act->responsible_id) != 0)
                return -1;
        }
        act->planned_at = c->planned_at;
        act->duration_minutes = c->duration_minutes;
        day = crm_date_of_instant(c->planned_at);
    } else if (ch->has_planned_at && ch->planned_at) {
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "only a call has a time: give a deadline");
    } else if (ch->has_duration && ch->duration) {
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes", "only a call has a duration");
    }
    if (day != old_day)
        act->deadline = (char *)format_day(call, day);
    act->updated_at = crm_call_now(call);
    int rc = write_activity(a, crm_call_txn(call), crm_call_arena(call), old, act);
    if (rc)
        return crm_call_fail_db(call, rc);
    int32_t today = today_utc(call);
    fill_reply(call, act, today);
    fill_reply(call, old, today);
    return emit(call, "activity.updated", act, old);
}

int act_update_activity(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__UpdateActivityRequest *r = (const void *)in;
    static const char *const allowed[] = {"type_id", "summary", "note", "deadline", "responsible_id",
                                          "planned_at", "duration_minutes", NULL};
    crm_status_t st;
    activity_t *act;
    if (get_activity(call, r->id, &act) != 0 || act_activity_may_change(call, act) != 0 || require_planned(call, act) != 0)
        return -1;
    if (crm_mask_check(&st, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    const Google__Protobuf__FieldMask *m = r->update_mask;
    change_t ch = {
        .has_type = crm_mask_has(m, "type_id"), .has_summary = crm_mask_has(m, "summary"),
        .has_note = crm_mask_has(m, "note"), .has_deadline = crm_mask_has(m, "deadline"),
        .has_resp = crm_mask_has(m, "responsible_id"), .has_planned_at = crm_mask_has(m, "planned_at"),
        .has_duration = crm_mask_has(m, "duration_minutes"),
        .type_id = r->type_id, .responsible_id = r->responsible_id, .planned_at = r->planned_at,
        .summary = r->summary, .note = r->note, .deadline = r->deadline, .duration = r->duration_minutes,
    };
    if (ch.has_resp && !ch.responsible_id)
        ch.responsible_id = crm_call_principal(call)->user_id;
    if (ch.has_duration && (ch.duration < 0 || ch.duration > DURATION_MAX))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes", "durationMinutes must be between 0 and %d",
                             DURATION_MAX);
    if (ch.has_planned_at && act->category == CATEGORY(CALL) && !ch.planned_at)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "a call needs plannedAt, its time");
    if (change_activity(call, act, &ch) != 0)
        return -1;
    *(activity_t *)out = *act;
    return 0;
}

int act_reschedule_call(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__RescheduleCallRequest *r = (const void *)in;
    call_t *c;
    activity_t *act;
    if (act_call_get(call, "id", r->id, &c) != 0)
        return -1;
    if (c->status != CALL_STATUS(SCHEDULED))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "call %lld is not scheduled; only a scheduled call can be moved",
                             (long long)c->id);
    if (!r->planned_at)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "plannedAt", "plannedAt is required");
    if (r->duration_minutes < 0 || r->duration_minutes > DURATION_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "durationMinutes", "durationMinutes must be between 0 and %d",
                             DURATION_MAX);
    if (act_activity_of_call(call, c, 0, &act) != 0 || act_activity_may_change(call, act) != 0)
        return -1;
    change_t ch = {.has_planned_at = 1, .planned_at = r->planned_at, .has_duration = r->duration_minutes != 0,
                   .duration = r->duration_minutes};
    if (change_activity(call, act, &ch) != 0 || act_call_get(call, "id", r->id, &c) != 0)
        return -1;
    *(call_t *)out = *c;
    return 0;
}

int act_activity_close(crm_call_t *call, activity_t *act, int state, const char *feedback)
{
    activities_t *a = crm_call_ctx(call);
    activity_t *old = copy_activity(crm_call_arena(call), act);
    if (act->call_id) {
        /* a call's chatter message is its activity's: one record, told once */
        call_t *c;
        if (act_call_get(call, "id", act->call_id, &c) != 0)
            return -1;
        if (c->status == CALL_STATUS(SCHEDULED) &&
            act_call_close(call, "id", c, state == STATE(DONE) ? CALL_STATUS(HELD) : CALL_STATUS(CANCELLED), feedback) != 0)
            return -1;
    } else if (state == STATE(DONE)) {
        const char *type = type_name(a, crm_call_txn(call), crm_call_arena(call), act->type_id);
        const char *body = crm_arena_printf(crm_call_arena(call), "%s done: %s%s%s", *type ? type : "Activity",
                                            *act->summary ? act->summary : act->note, feedback && *feedback ? "\n" : "",
                                            feedback ? feedback : "");
        if (act_post_system(call, act->doc, KIND(ACTIVITY), body, 0, 0) != 0)
            return -1;
    }
    act->state = state;
    act->feedback = feedback ? (char *)feedback : "";
    act->done_at = act->updated_at = crm_call_now(call);
    int rc = write_activity(a, crm_call_txn(call), crm_call_arena(call), old, act);
    if (rc)
        return crm_call_fail_db(call, rc);
    fill_reply(call, act, today_utc(call));
    return emit(call, state == STATE(DONE) ? "activity.done" : "activity.cancelled", act, NULL);
}

int act_mark_activity_done(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__MarkActivityDoneRequest *r = (const void *)in;
    activity_t *act;
    if (get_activity(call, r->id, &act) != 0 || act_activity_may_change(call, act) != 0 || require_planned(call, act) != 0 ||
        check_text(call, "feedback", r->feedback, 0, FEEDBACK_MAX) != 0 ||
        act_activity_close(call, act, STATE(DONE), r->feedback) != 0)
        return -1;
    *(activity_t *)out = *act;
    return 0;
}

int act_cancel_activity(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__CancelActivityRequest *r = (const void *)in;
    activity_t *act;
    if (get_activity(call, r->id, &act) != 0 || act_activity_may_change(call, act) != 0 || require_planned(call, act) != 0 ||
        act_activity_close(call, act, STATE(CANCELLED), NULL) != 0)
        return -1;
    *(activity_t *)out = *act;
    return 0;
}

/* --- lists ------------------------------------------------------------------------- */

/* Whose lists the caller may read: their own, or anyone's with All Leads. */
static int read_person(crm_call_t *call, int64_t asked, int64_t *person)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (asked < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "responsibleId", "responsibleId must be an id");
    *person = asked ? asked : p->user_id;
    if (*person != p->user_id && crm_call_own_leads_only(call))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "responsibleId",
                             "with own-leads access only your own activities are shown");
    return 0;
}

static int check_state(crm_call_t *call, int state)
{
    if (state < 0 || state > STATE(CANCELLED))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "state", "state is not an activity state");
    return 0;
}

int act_list_activities(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListActivitiesRequest *r = (const void *)in;
    Crm__Activities__V1__ListActivitiesReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    int has_doc = r->doc && (*r->doc->model || r->doc->id);
    int state = r->state ? r->state : STATE(PLANNED);
    int64_t person = 0;
    int32_t today;
    uint32_t size;
    uint64_t after;
    if (crm_call_require_sales(call) != 0 || check_state(call, r->state) != 0 ||
        (has_doc ? act_check_doc(call, "doc", r->doc) : read_person(call, r->responsible_id, &person)) != 0 ||
        read_today(call, "today", r->today, &today) != 0 ||
        crm_call_page(call, r->page_size, r->page_token, 50, 500, &size, &after) != 0)
        return -1;
    uint8_t key[DOC_KEY];
    size_t plen;
    MDB_dbi dbi;
    if (has_doc) {
        dbi = a->acts_by_doc;
        act_doc_key(key, crm_doc_model(r->doc->model), r->doc->id);
        key[9] = (uint8_t)state;
        plen = 10;
    } else {
        dbi = a->acts_by_resp;
        crm_key_put_u64(key, (uint64_t)person);
        key[8] = (uint8_t)state;
        plen = 9;
    }
    int32_t start_day = INT32_MIN;
    int64_t start_id = 0;
    if (after) {
        activity_t *last;
        int rc = load_activity(a, txn, arena, (int64_t)after, &last);
        if (rc && rc != MDB_NOTFOUND)
            return crm_call_fail_db(call, rc);
        /* a token names an activity this list gave, or it would tell of others */
        int readable = rc == 0 ? act_doc_readable(call, last->doc) : 0;
        if (readable < 0)
            return -1;
        if (!readable || deadline_day(last, &start_day) != 0 ||
            (has_doc ? crm_doc_model(last->doc->model) != crm_doc_model(r->doc->model) || last->doc->id != r->doc->id
                     : last->responsible_id != person))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this list");
        start_id = last->id + 1;
    }
    crm_date_key_put(key + plen, start_day);
    crm_key_put_u64(key + plen + 4, (uint64_t)start_id);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->activities = crm_arena_alloc(arena, sizeof *reply->activities * size);
    MDB_val k = {plen + 12, key}, d;
    int64_t last_id = 0, scanned = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != plen + 12 || memcmp(k.mv_data, key, plen) != 0)
            break;
        if (reply->n_activities == size || ++scanned > LIST_SCAN_MAX) {
            reply->next_page_token = crm_call_page_token(call, (uint64_t)last_id);
            break;
        }
        last_id = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + plen + 4);
        activity_t *act;
        if ((rc = load_activity(a, txn, arena, last_id, &act)) != 0) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index entry without its activity */
            break;
        }
        int readable = has_doc ? 1 : act_doc_readable(call, act->doc);
        if (readable < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        if (!readable)
            continue;
        fill_reply(call, act, today);
        reply->activities[reply->n_activities++] = act;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

/* --- meetings, as their attendees' activities --------------------------------------- */

/* The caller's meetings on documents from day on (at most max, by start),
 * as activities, and with doc (if not NULL) only those on it; *n set. A
 * cancelled meeting, one about no document, or one on a document the
 * caller cannot read or that is archived is left out. */
static int upcoming_meetings(crm_call_t *call, int64_t user, int32_t day, size_t max, activity_t ***out, size_t *n)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    *n = 0;
    *out = crm_arena_alloc(arena, sizeof **out * (max ? max : 1));
    activity_type_t *type = NULL;
    uint8_t key[CAL_KEY];
    crm_key_put_u64(key, (uint64_t)user);
    crm_key_put_u64(key + 8, (uint64_t)crm_date_start_us(day));
    memset(key + 16, 0, CAL_KEY - 16);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->calendar, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k = {sizeof key, key}, d;
    size_t scanned = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && *n < max && scanned++ < MEETING_SCAN_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size != CAL_KEY || crm_key_get_u64(p) != (uint64_t)user)
            break;
        if (p[16] != EVKIND(MEETING))
            continue;
        meeting_t *m;
        rc = crm_db_get_id(txn, a->meetings, crm_key_get_u64(p + 17), &crm__activities__v1__meeting__descriptor,
                           crm_arena_allocator(arena), (void **)&m);
        if (rc == MDB_NOTFOUND)
            continue; /* the meetings' writer keeps its own calendar entries */
        if (rc)
            break;
        if (m->state == CRM__ACTIVITIES__V1__MEETING_STATE__MEETING_STATE_CANCELLED || !m->doc || !m->doc->id ||
            act_meeting_answer(m, user) == CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_DECLINED)
            continue; /* declined: kept in the calendar's index, out of the lists, as ListCalendar does */
        int readable = act_doc_readable(call, m->doc);
        if (readable < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        int archived = readable ? doc_archived(a, txn, arena, m->doc) : 0;
        if (archived < 0) {
            rc = -archived;
            break;
        }
        if (!readable || archived)
            continue;
        if (!type && (rc = act_type_find(a, txn, arena, CATEGORY(MEETING), &type)) != 0)
            break;
        activity_t *act = new_activity(call, m->doc, type);
        act->id = 0;
        act->category = CATEGORY(MEETING);
        act->summary = m->title;
        act->note = m->description;
        act->deadline = (char *)format_day(call, crm_date_of_instant(m->start_at));
        act->responsible_id = user;
        act->created_by = m->organizer_id;
        act->created_at = m->created_at;
        act->updated_at = m->updated_at ? m->updated_at : m->created_at;
        act->planned_at = m->start_at;
        act->duration_minutes = (int32_t)((m->end_at - m->start_at) / 60000000);
        act->meeting_id = m->id;
        (*out)[(*n)++] = act;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

static int by_deadline(const void *x, const void *y)
{
    const activity_t *a = *(activity_t *const *)x, *b = *(activity_t *const *)y;
    int c = strcmp(a->deadline, b->deadline); /* YYYY-MM-DD sorts as dates do */
    if (c)
        return c;
    if (a->planned_at != b->planned_at)
        return a->planned_at < b->planned_at ? -1 : 1;
    int64_t ia = a->id ? a->id : a->meeting_id, ib = b->id ? b->id : b->meeting_id;
    return ia < ib ? -1 : ia > ib;
}

/* --- my activities ------------------------------------------------------------------ */

typedef struct {
    activity_t **items;
    size_t n;
    int64_t count;
} group_t;

int act_list_my_activities(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListMyActivitiesRequest *r = (const void *)in;
    Crm__Activities__V1__ListMyActivitiesReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    int64_t person;
    int32_t today;
    if (read_person(call, r->responsible_id, &person) != 0 || read_today(call, "today", r->today, &today) != 0)
        return -1;
    if (r->limit < 0 || r->limit > MY_LIMIT_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "limit", "limit must be between 0 and %d", MY_LIMIT_MAX);
    size_t limit = r->limit ? (size_t)r->limit : 50;
    /* an own-leads caller may have lost sight of a document since (a lead
     * given to another salesperson): each entry is checked, not only listed */
    int check_each = crm_call_own_leads_only(call);
    group_t groups[4] = {{0}}; /* by CRM_DUE_* */
    for (int g = 1; g <= 3; g++)
        groups[g].items = crm_arena_alloc(arena, sizeof(activity_t *) * limit * 2);

    uint8_t key[RESP_KEY];
    crm_key_put_u64(key, (uint64_t)person);
    key[8] = STATE(PLANNED);
    memset(key + 9, 0, RESP_KEY - 9);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->acts_by_resp, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k = {sizeof key, key}, d;
    size_t scanned = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && scanned++ < MY_SCAN_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *p = k.mv_data;
        if (k.mv_size != RESP_KEY || memcmp(p, key, 9) != 0)
            break;
        group_t *g = &groups[crm_date_due(crm_date_key_get(p + 9), today)];
        if (!check_each && g->n == limit) {
            g->count++; /* counted from the key alone */
            continue;
        }
        activity_t *act;
        if ((rc = load_activity(a, txn, arena, (int64_t)crm_key_get_u64(p + 13), &act)) != 0) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
            break;
        }
        int readable = check_each ? act_doc_readable(call, act->doc) : 1;
        if (readable < 0) {
            mdb_cursor_close(cur);
            return -1;
        }
        if (!readable)
            continue;
        g->count++;
        if (g->n < limit) {
            fill_reply(call, act, today);
            g->items[g->n++] = act;
        }
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);

    /* meetings: today's and later ones, never overdue; shown only to the
     * person themselves or to a reader of every document */
    activity_t **meetings;
    size_t n_meetings;
    if (upcoming_meetings(call, person, today, MEETING_SCAN_MAX, &meetings, &n_meetings) != 0)
        return -1;
    for (size_t i = 0; i < n_meetings; i++) {
        int32_t day;
        crm_date_parse(meetings[i]->deadline, &day);
        group_t *g = &groups[crm_date_due(day, today) == CRM_DUE_TODAY ? CRM_DUE_TODAY : CRM_DUE_LATER];
        g->count++;
        fill_reply(call, meetings[i], today);
        if (g->n < limit * 2)
            g->items[g->n++] = meetings[i];
    }
    for (int gi = 1; gi <= 3; gi++) {
        group_t *g = &groups[gi];
        qsort(g->items, g->n, sizeof *g->items, by_deadline);
        if (g->n > limit)
            g->n = limit;
    }
    reply->overdue = groups[CRM_DUE_OVERDUE].items;
    reply->n_overdue = groups[CRM_DUE_OVERDUE].n;
    reply->overdue_count = groups[CRM_DUE_OVERDUE].count;
    reply->today = groups[CRM_DUE_TODAY].items;
    reply->n_today = groups[CRM_DUE_TODAY].n;
    reply->today_count = groups[CRM_DUE_TODAY].count;
    reply->planned = groups[CRM_DUE_LATER].items;
    reply->n_planned = groups[CRM_DUE_LATER].n;
    reply->planned_count = groups[CRM_DUE_LATER].count;
    return 0;
}

/* --- next activity of each document (kanban cards) ----------------------------------- */

int act_next_activities(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__NextActivitiesRequest *r = (const void *)in;
    Crm__Activities__V1__NextActivitiesReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    int32_t today;
    if (crm_call_require_sales(call) != 0 || read_today(call, "today", r->today, &today) != 0)
        return -1;
    if (r->n_docs > NEXT_DOCS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "docs", "at most %d documents", NEXT_DOCS_MAX);
    for (size_t i = 0; i < r->n_docs; i++) {
        char f[48];
        const doc_t *doc = r->docs[i];
        snprintf(f, sizeof f, "docs[%zu].model", i);
        if (!doc || !crm_doc_model(doc->model))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be lead, customer or quotation", f);
        snprintf(f, sizeof f, "docs[%zu].id", i);
        if (doc->id <= 0)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be a positive id", f);
    }
    activity_t **meetings;
    size_t n_meetings;
    if (upcoming_meetings(call, crm_call_principal(call)->user_id, today, MEETING_SCAN_MAX, &meetings, &n_meetings) != 0)
        return -1;
    reply->items = crm_arena_alloc(arena, sizeof *reply->items * (r->n_docs ? r->n_docs : 1));
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->acts_by_doc, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    for (size_t i = 0; i < r->n_docs && rc == 0; i++) {
        const doc_t *doc = r->docs[i];
        int model = crm_doc_model(doc->model);
        /* another's lead is left out as one without activities is */
        int readable = act_doc_readable(call, doc);
        int archived = readable > 0 ? doc_archived(a, txn, arena, doc) : 0;
        if (readable < 0 || archived < 0) {
            mdb_cursor_close(cur);
            return readable < 0 ? -1 : crm_call_fail_db(call, -archived);
        }
        if (!readable || archived)
            continue;
        uint8_t key[DOC_KEY];
        doc_key(key, model, doc->id, STATE(PLANNED), INT32_MIN, 0);
        MDB_val k = {sizeof key, key}, d;
        activity_t *next = NULL;
        int32_t count = 0;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && count < NEXT_COUNT_MAX;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            if (k.mv_size != DOC_KEY || memcmp(k.mv_data, key, 10) != 0)
                break;
            if (!count++ && (rc = load_activity(a, txn, arena, (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + 14),
                                                &next)) != 0) {
                rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
                break;
            }
        }
        if (rc == MDB_NOTFOUND || rc == 0)
            rc = 0;
        else
            break;
        for (size_t j = 0; j < n_meetings; j++) {
            activity_t *m = meetings[j];
            if (crm_doc_model(m->doc->model) != model || m->doc->id != doc->id)
                continue;
            count++;
            if (!next || by_deadline(&m, &next) < 0)
                next = m;
        }
        if (!next)
            continue;
        fill_reply(call, next, today);
        Crm__Activities__V1__DocNextActivity *item = crm_call_new(call, &crm__activities__v1__doc_next_activity__descriptor);
        item->doc = next->doc;
        item->next = next;
        item->planned_count = count;
        reply->items[reply->n_items++] = item;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

/* --- documents deleted, archived, restored, merged (pipeline's events) -------------- */

/* Calls fn on each activity of document (model, id) in state (0: every
 * state), the activities read first so that fn may rewrite their keys. */
typedef int (each_fn)(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, activity_t *act, void *arg);
static int each_of_doc(activities_t *a, MDB_txn *txn, int model, int64_t id, int state,
                       const Crm__Events__V1__Event *ev, each_fn *fn, void *arg, int *changed)
{
    crm_arena_t *arena = a->apply_arena;
    uint8_t key[DOC_KEY];
    doc_key(key, model, id, state, INT32_MIN, 0);
    size_t plen = state ? 10 : 9;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->acts_by_doc, &cur);
    if (rc)
        return rc;
    size_t n = 0, cap = 16;
    int64_t *ids = crm_arena_alloc(arena, sizeof *ids * cap);
    MDB_val k = {state ? sizeof key : 9, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != DOC_KEY || memcmp(k.mv_data, key, plen) != 0)
            break;
        if (n == cap) {
            int64_t *more = crm_arena_alloc(arena, sizeof *ids * cap * 2);
            memcpy(more, ids, sizeof *ids * n);
            ids = more;
            cap *= 2;
        }
        ids[n++] = (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + 14);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < n; i++) {
        activity_t *act;
        if ((rc = load_activity(a, txn, arena, ids[i], &act)) != 0)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if ((rc = fn(a, txn, ev, act, arg)) != 0)
            return rc;
        *changed = 1;
    }
    return 0;
}

/* A deleted document's planned activities are cancelled, and a call
 * among them leaves its responsible's calendar. */
static int cancel_for_deleted(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, activity_t *act,
                              void *arg)
{
    crm_arena_t *arena = a->apply_arena;
    activity_t *old = copy_activity(arena, act);
    act->state = STATE(CANCELLED);
    act->done_at = act->updated_at = ev->at;
    int rc = write_activity(a, txn, arena, old, act);
    if (rc)
        return rc;
    if (act->call_id) {
        call_t *c;
        rc = crm_db_get_id(txn, a->calls, (uint64_t)act->call_id, &crm__activities__v1__call__descriptor,
                           crm_arena_allocator(arena), (void **)&c);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0 && c->status == CALL_STATUS(SCHEDULED)) {
            uint8_t cal[CAL_KEY];
            crm_key_put_u64(cal, (uint64_t)c->responsible_id);
            crm_key_put_u64(cal + 8, (uint64_t)c->at);
            cal[16] = EVKIND(CALL);
            crm_key_put_u64(cal + 17, (uint64_t)c->id);
            c->status = CALL_STATUS(CANCELLED);
            c->updated_at = ev->at;
            Crm__Activities__V1__CallEvent cev = CRM__ACTIVITIES__V1__CALL_EVENT__INIT;
            cev.call = c;
            if ((rc = del_key(txn, a->calendar, cal, sizeof cal)) != 0 ||
                (rc = crm_db_put_id(txn, a->calls, (uint64_t)c->id, &c->base)) != 0 ||
                (rc = crm_outbox_append(a->outbox, txn, "call.cancelled", ev->actor_id, &cev.base, NULL)) != 0)
                return rc;
        }
    }
    Crm__Activities__V1__ActivityEvent aev = CRM__ACTIVITIES__V1__ACTIVITY_EVENT__INIT;
    aev.activity = act;
    return crm_outbox_append(a->outbox, txn, "activity.cancelled", ev->actor_id, &aev.base, NULL);
}

/* Rewrites a planned activity's keys after its document was archived or
 * restored, as the event says (arg: 1 archived, 0 restored). */
static int rekey(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, activity_t *act, void *arg)
{
    return write_activity_as(a, txn, a->apply_arena, act, act, *(const int *)arg);
}

/* Moves an activity of a merged lead to the lead it went into. */
static int move_to(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, activity_t *act, void *arg)
{
    crm_arena_t *arena = a->apply_arena;
    activity_t *old = copy_activity(arena, act);
    doc_t *d = crm_arena_alloc(arena, sizeof *d);
    crm__common__v1__doc_ref__init(d);
    d->model = (char *)crm_doc_model_name(ACT_LEAD);
    d->id = *(const int64_t *)arg;
    act->doc = d;
    return write_activity(a, txn, arena, old, act);
}

int act_apply_pipeline_activities(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    crm_arena_t *arena = a->apply_arena;
    ProtobufCAllocator *alloc = crm_arena_allocator(arena);
    const char *type = ev->type;
    int model = !strncmp(type, "lead.", 5) ? ACT_LEAD : !strncmp(type, "customer.", 9) ? ACT_CUSTOMER : 0;
    const char *what = model == ACT_LEAD ? type + 5 : model == ACT_CUSTOMER ? type + 9 : "";
    int deleted = !strcmp(what, "deleted"), moved_list = !strcmp(what, "archived") || !strcmp(what, "restored");
    int changed = 0, rc = 0;
    if (model == ACT_LEAD && !strcmp(what, "merged")) {
        Crm__Pipeline__V1__LeadMergedEvent *e =
            crm__pipeline__v1__lead_merged_event__unpack(alloc, ev->payload.len, ev->payload.data);
        if (!e || !e->lead || e->lead->id <= 0)
            return CRM_CONSUMER_UNCHANGED;
        int64_t into = e->lead->id;
        for (size_t i = 0; i < e->n_merged_ids && rc == 0; i++)
            if (e->merged_ids[i] > 0 && e->merged_ids[i] != into)
                rc = each_of_doc(a, txn, ACT_LEAD, e->merged_ids[i], 0, ev, move_to, &into, &changed);
        return rc ? rc : changed ? 0 : CRM_CONSUMER_UNCHANGED;
    }
    if (!deleted && !moved_list)
        return CRM_CONSUMER_UNCHANGED;
    int64_t id = 0;
    if (model == ACT_LEAD) {
        Crm__Pipeline__V1__LeadEvent *e = crm__pipeline__v1__lead_event__unpack(alloc, ev->payload.len, ev->payload.data);
        id = e && e->lead ? e->lead->id : 0;
    } else {
        Crm__Pipeline__V1__CustomerEvent *e =
            crm__pipeline__v1__customer_event__unpack(alloc, ev->payload.len, ev->payload.data);
        id = e && e->customer ? e->customer->id : 0;
    }
    if (id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    int archived = !strcmp(what, "archived");
    rc = each_of_doc(a, txn, model, id, STATE(PLANNED), ev, deleted ? cancel_for_deleted : rekey, &archived, &changed);
    return rc ? rc : changed ? 0 : CRM_CONSUMER_UNCHANGED;
}
