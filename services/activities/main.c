/* crm-activities: the chatter of every document, calls, meetings and the
 * calendar. Its wiring: identity's and pipeline's events feed the users and
 * documents read models and the tracking messages; it produces call.*,
 * meeting.* and message.*; crm_service.h does the rest (shared flags,
 * sockets, loop, teardown). */
#include "activities.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_service.h"

#define W CRM_METHOD_WRITE
static const crm_method_t methods[] = {
    {"PostMessage", act_post_message, W},   {"ListMessages", act_list_messages, 0},
    {"GetAttachment", act_get_attachment, 0}, {"LogCall", act_log_call, W},
    {"ScheduleCall", act_schedule_call, W}, {"ListCalls", act_list_calls, 0},
    {"MarkCallHeld", act_mark_call_held, W}, {"CancelCall", act_cancel_call, W},
    {"ScheduleMeeting", act_schedule_meeting, W}, {"ListCalendar", act_list_calendar, 0},
    /* planned activities */
    {"CreateActivityType", act_create_activity_type, W},
    {"UpdateActivityType", act_update_activity_type, W},
    {"ListActivityTypes", act_list_activity_types, 0},
    {"PlanActivity", act_plan_activity, W},
    {"UpdateActivity", act_update_activity, W},
    {"MarkActivityDone", act_mark_activity_done, W},
    {"CancelActivity", act_cancel_activity, W},
    {"ListActivities", act_list_activities, 0},
    {"ListMyActivities", act_list_my_activities, 0},
    {"NextActivities", act_next_activities, 0},
    {"RescheduleCall", act_reschedule_call, W},
    /* meetings */
    {"GetMeeting", act_get_meeting, 0},
    {"ListMeetings", act_list_meetings, 0},
    {"UpdateMeeting", act_update_meeting, W},
    {"CancelMeeting", act_cancel_meeting, W},
    {"AnswerMeeting", act_answer_meeting, W},
};

static activities_t a = {.readmodel.keeps_docs = 1};

/* Meetings from before answers get them, and their lists by user and by
 * document, resumably, before the read model's step ends the upgrade. */
static int upgrade(crm_store_t *store, void *ctx)
{
    if (act_types_seed(&a, store) != 0)
        return -1;
    uint64_t from;
    int rc = crm_store_upgrade_from(store, &from);
    if (rc == 0 && from && from < ACTIVITIES_SCHEMA_MEETING_LISTS &&
        (rc = crm_store_rewrite(store, a.meetings, "meeting_lists", act_meeting_reindex, &a, 1000)) != 0)
        crm_error("listing meetings by user and document: %s", mdb_strerror(rc));
    if (rc)
        return rc;
    return crm_readmodel_upgrade(&a.readmodel, store,
                                 &(crm_readmodel_layout_t){.since = ACTIVITIES_SCHEMA_READMODEL});
}

static int configure(void *ctx)
{
    if (a.max_attachment <= 0 || a.max_attachment > CRM_LIMIT_ATTACHMENT) {
        crm_error("--max-attachment must be 1 to %d, the limits table's", CRM_LIMIT_ATTACHMENT);
        return -1;
    }
    a.apply_arena = crm_arena_new();
    return 0;
}

static void stop(crm_service_t *svc, void *ctx) { crm_arena_destroy(&a.apply_arena); }

int main(int argc, char **argv)
{
    return crm_service_main(&(crm_service_def_t){
        .name = "activities", .ctx = &a, .store = &a.store, .outbox = &a.outbox, .schema = ACTIVITIES_SCHEMA,
        .flags = {{"max-attachment", "CRM_MAX_ATTACHMENT", CRM_OPT_INT, &a.max_attachment,
                   CRM_STR(CRM_LIMIT_ATTACHMENT), "largest attachment (bytes)"}},
        .dbis = {
            {"messages", 0, &a.messages}, {"chatter", 0, &a.chatter}, {"attachments", 0, &a.attachments},
            {"blobs", 0, &a.blobs}, {"calls", 0, &a.calls}, {"calls_by_time", 0, &a.calls_by_time},
            {"calls_by_resp", 0, &a.calls_by_resp}, {"calls_by_doc", 0, &a.calls_by_doc},
            {"meetings", 0, &a.meetings}, {"calendar", 0, &a.calendar},
            {"meetings_by_user", 0, &a.meetings_by_user}, {"meetings_by_doc", 0, &a.meetings_by_doc}, {"docs", 0, &a.readmodel.docs},
            {"users", 0, &a.readmodel.users},
            {"activity_types", 0, &a.activity_types}, {"acts", 0, &a.acts}, {"acts_by_resp", 0, &a.acts_by_resp},
            {"acts_by_doc", 0, &a.acts_by_doc}, {"acts_by_call", 0, &a.acts_by_call},
        },
        .consumes = {{"identity", act_apply_identity_event}, {"pipeline", act_apply_pipeline_event}},
        .apis = {CRM_RPC_API(crm__activities__v1__activities__descriptor, methods)},
        .configure = configure, .upgrade = upgrade, .stop = stop}, argc, argv);
}
