#ifndef ACTIVITIES_H
#define ACTIVITIES_H

#include <stdint.h>
#include "activities.pb-c.h"
#include "crm_access.h"
#include "crm_arena.h"
#include "crm_outbox.h"
#include "crm_readmodel.h"
#include "crm_rpc_server.h"
#include "crm_store.h"

/* The activities service: the chatter of every document (notes, comments,
 * tracking messages built from pipeline's events, call records, attachments),
 * phone calls, meetings and the calendar. */

#define ACTIVITIES_SCHEMA 3
/* The first schema whose meetings hold each attendee's answer and are
 * listed by user and by document (older ones are given both on upgrade). */
#define ACTIVITIES_SCHEMA_MEETING_LISTS 3
/* The first schema whose documents and users are crm.common.v1 records;
 * schema 1's had the same layout, checked on upgrade. */
#define ACTIVITIES_SCHEMA_READMODEL 2

typedef Crm__Activities__V1__Message message_t;
typedef Crm__Activities__V1__Call call_t;
typedef Crm__Activities__V1__Meeting meeting_t;
typedef Crm__Common__V1__DocRef doc_t;
typedef Crm__Activities__V1__Activity activity_t;
typedef Crm__Activities__V1__ActivityType activity_type_t;

enum { ACT_LEAD = CRM_DOC_LEAD, ACT_CUSTOMER = CRM_DOC_CUSTOMER, ACT_QUOTATION = CRM_DOC_QUOTATION };

typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    int64_t max_attachment; /* bytes */
    crm_arena_t *apply_arena; /* for one consumed event at a time */
    MDB_dbi messages;        /* id → Message (attachments without data) */
    MDB_dbi chatter;         /* model, doc, at, message id → "" */
    MDB_dbi attachments;     /* id → AttachmentRecord */
    MDB_dbi blobs;           /* SHA-256 → bytes, one copy per content */
    MDB_dbi calls;           /* id → Call */
    MDB_dbi calls_by_time;   /* at, id → "" */
    MDB_dbi calls_by_resp;   /* responsible, at, id → "" */
    MDB_dbi calls_by_doc;    /* model, doc, at, id → "" */
    MDB_dbi meetings;        /* id → Meeting */
    MDB_dbi calendar;        /* user, start, kind, id → "" (calls not cancelled, meetings not cancelled) */
    MDB_dbi meetings_by_user; /* attendee, start, id → "" (cancelled ones too) */
    MDB_dbi meetings_by_doc;  /* model, doc, start, id → "" (cancelled ones too) */
    crm_readmodel_t readmodel; /* docs: model, id → DocInfo; users: id → UserInfo */
    /* planned activities (planned.c, activity_types.c) */
    MDB_dbi activity_types;  /* id → ActivityType */
    MDB_dbi acts;            /* id → Activity (without the reply-only fields) */
    MDB_dbi acts_by_resp;    /* responsible, list state, deadline day, id → "" */
    MDB_dbi acts_by_doc;     /* model, doc, state, deadline day, id → "" */
    MDB_dbi acts_by_call;    /* call id → activity id (8 bytes) */
} activities_t;

/* --- documents and access (access.c) ------------------------------------ */

/* Checks that the caller has sales access and may read doc (a lead by
 * pipeline's rules, a customer always, a quotation as its opportunity).
 * Unknown and unreadable documents are both not_found, so another
 * salesperson's lead cannot be told from none. field names the DocRef in
 * errors ("doc"). Returns 0 or -1 with the call's error set. */
int act_check_doc(crm_call_t *call, const char *field, const doc_t *doc);
/* 1 if the caller may read doc; 0 if not or unknown (no error set); -1
 * on a storage error (set). */
int act_doc_readable(crm_call_t *call, const doc_t *doc);
/* The user from identity's events, in the call's arena, or NULL if unknown. */
crm_userinfo_t *act_user(crm_call_t *call, int64_t id);
/* Checks that user_id is an active user (with sales access if sales).
 * Returns 0 or -1 with invalid_argument naming field. */
int act_check_user(crm_call_t *call, const char *field, int64_t user_id, int sales);

/* Checks that user_id (an active user) may read doc (already checked for
 * the caller). Returns 0 or -1 with invalid_argument naming field. */
int act_check_reader(crm_call_t *call, const char *field, int64_t user_id, const doc_t *doc);

/* --- keys (access.c) ------------------------------------------------------- */

#define ACT_DOC_KEY CRM_DOC_KEY /* model, id */
#define ACT_TIME_KEY 25 /* model, id, at, record id */
void act_doc_key(uint8_t out[ACT_DOC_KEY], int model, int64_t id);
void act_doc_time_key(uint8_t out[ACT_TIME_KEY], int model, int64_t doc_id, int64_t at, int64_t id);

/* --- calendar (calendar.c) ------------------------------------------------ */

#define ACT_CALENDAR_KEY 25 /* user, start, kind, id */
/* No meeting lasts longer: longer is a mistake, and it bounds a calendar's
 * range scan (what began before the range may still be going). */
#define ACT_MEETING_MAX_US (14 * 86400000000LL)
void act_calendar_key(uint8_t out[ACT_CALENDAR_KEY], int64_t user, int64_t at, int kind, int64_t id);

/* --- meetings (meetings.c) ------------------------------------------------ */

/* Adds (put 1) or removes (put 0) the index entries of m: each attendee's
 * list and, unless cancelled, calendar; its document's list. Removing what
 * is absent is no error. Returns an LMDB code. */
int act_meeting_index(activities_t *a, MDB_txn *txn, const meeting_t *m, int put);
/* An upgrade step (crm_store_rewrite over meetings, arg the service): gives
 * a meeting from before answers its attendees' (the organiser ACCEPTED)
 * and adds its index entries. Returns an LMDB code. */
int act_meeting_reindex(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg);
/* user's answer to m (a MeetingAnswer; UNSPECIFIED for one not invited). */
/* 0 if the caller may change the activity (its document read by the
 * caller): its creator, its responsible, or whoever may change the
 * document; else -1 with permission_denied on "id" (planned.c). The calls'
 * doors (MarkCallHeld, CancelCall, RescheduleCall) ask it too. */
int act_activity_may_change(crm_call_t *call, const activity_t *act);
int act_meeting_answer(const meeting_t *m, int64_t user);
/* Whether the caller sees m: its attendees, and whoever may read its
 * document (a meeting on none is its attendees' alone, managers too):
 * 1 (*doc_readable says if its document too), 0, or -1 with the error set
 * (meetings.c). */
int act_meeting_visible(crm_call_t *call, const meeting_t *m, int *doc_readable);

/* --- messages (messages.c) ------------------------------------------------ */

/* Gives m the next message id, stores it with its chatter entry and appends
 * message.posted, all within txn (an RPC call's or a consumer batch's).
 * actor_id is the event's actor. Returns an LMDB code. */
int act_message_store(activities_t *a, MDB_txn *txn, message_t *m, int64_t actor_id);
/* A tracking message of pipeline's event ev on the document (model,
 * doc_id), by its actor at its time, in the apply arena; the caller sets
 * its body and stores it (tracking.c). Can't fail. */
message_t *act_tracking_message(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, int model,
                                int64_t doc_id);

/* Posts a message of kind on doc by the caller, with body: the chatter
 * record of a call or a meeting. Returns 0 or -1 with the error set. */
int act_post_system(crm_call_t *call, const doc_t *doc, int kind, const char *body, int64_t call_id,
                    int64_t meeting_id);

/* --- read models and tracking (tracking.c) ------------------------------- */

/* Applies one pipeline event: keeps what activities knows of each document
 * and writes the tracking message the event gives (one at most). */
int act_apply_pipeline_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);
/* Applies pipeline's lead.merged (merge.c): moves the chatter, attachments,
 * calls and meetings of the merged leads to the destination, drops the
 * merged leads from the read model and writes one tracking message on the
 * destination, all within txn. Returns 0, CRM_CONSUMER_UNCHANGED or an LMDB code. */
int act_apply_merge(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev);
/* Applies one identity event to the users read model. */
int act_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);

/* --- calls (calls.c), which planned activities of a CALL type drive -------- */

/* Schedules a call on doc (checked readable here) for responsible_id (0:
 * the caller): the call record, its indexes and calendar entry, its chatter
 * message and call.scheduled. Returns 0 with *out, or -1 with the error set
 * (fields summary, plannedAt, durationMinutes, responsibleId). */
int act_call_schedule(crm_call_t *call, const doc_t *doc, const char *summary, int64_t planned_at, int32_t duration,
                      int64_t responsible_id, call_t **out);
/* The call id, if the caller may read its document; else not_found
 * naming field. Returns 0 or -1 with the error set. */
int act_call_get(crm_call_t *call, const char *field, int64_t id, call_t **out);
/* Moves scheduled call c to status (HELD or CANCELLED), writing the chatter
 * message (with feedback, if any, on a line of its own) and the event.
 * failed_precondition naming field when c is not scheduled. Returns 0 or -1. */
int act_call_close(crm_call_t *call, const char *field, call_t *c, int status, const char *feedback);
/* Moves scheduled call c to planned_at, duration (0: unchanged) and
 * responsible (0: unchanged), with its indexes, calendar entry, chatter
 * message and call.rescheduled. Returns 0 or -1. */
int act_call_move(crm_call_t *call, call_t *c, int64_t planned_at, int32_t duration, int64_t responsible_id);

/* --- planned activities (planned.c, activity_types.c) -------------------------- */

/* Seeds the activity types (Call, Meeting, Email, To-do) into a store that
 * has none. Returns 0 or an LMDB code (logged). */
int act_types_seed(activities_t *a, crm_store_t *store);
/* The type id (0 and category: the first type not archived of category,
 * else the first of it). not_found naming field for an unknown id. */
int act_type_get(crm_call_t *call, const char *field, int64_t id, int category, activity_type_t **out);
/* The same without a call: the first type of category not archived, else
 * the first; in arena. Returns 0, MDB_NOTFOUND (none) or an LMDB code. */
int act_type_find(activities_t *a, MDB_txn *txn, crm_arena_t *arena, int category, activity_type_t **out);
/* The planned activity of scheduled call c, creating it (of the first Call
 * type) for a call scheduled just now (announce 1: activity.planned) or
 * before calls were activities (announce 0: it is being held, cancelled or
 * moved, so nobody is told it is planned): *out NULL when c is not
 * scheduled. Returns 0 or -1 with the error set. */
int act_activity_of_call(crm_call_t *call, const call_t *c, int announce, activity_t **out);
/* Closes activity act (PLANNED) as DONE with feedback or CANCELLED, and
 * its call if it has one. Returns 0 or -1 with the error set. */
int act_activity_close(crm_call_t *call, activity_t *act, int state, const char *feedback);
/* What a pipeline event does to planned activities: a document deleted
 * cancels them, archived or restored takes them out of or back into the
 * lists of their responsible, merged leads' move to the lead they went
 * into. Returns 0, CRM_CONSUMER_UNCHANGED or an LMDB code. */
int act_apply_pipeline_activities(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev);

/* Handlers. */
int act_post_message(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_messages(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_get_attachment(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_log_call(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_schedule_call(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_calls(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_mark_call_held(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_cancel_call(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_schedule_meeting(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_calendar(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_get_meeting(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_meetings(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_update_meeting(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_cancel_meeting(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_answer_meeting(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_create_activity_type(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_update_activity_type(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_activity_types(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_plan_activity(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_update_activity(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_mark_activity_done(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_cancel_activity(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_activities(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_list_my_activities(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_next_activities(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int act_reschedule_call(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

#endif
