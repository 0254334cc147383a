/* crm-activities: the chatter of every document, calls, meetings and the
 * calendar. Wiring, top to bottom: flags, store, identity's and pipeline's
 * events (users and documents read models, tracking messages), outbox
 * publisher, RPC door, loop. */
#include "activities.h"
#include "crm_config.h"
#include "crm_curve.h"
#include "crm_consumer.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_publisher.h"
#include "crm_zloop.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

const crm_method_t activities_methods[] = {
    {act_post_message, CRM_METHOD_WRITE},
    {act_list_messages, 0},
    {act_get_attachment, 0},
    {act_log_call, CRM_METHOD_WRITE},
    {act_schedule_call, CRM_METHOD_WRITE},
    {act_list_calls, 0},
    {act_mark_call_held, CRM_METHOD_WRITE},
    {act_cancel_call, CRM_METHOD_WRITE},
    {act_schedule_meeting, CRM_METHOD_WRITE},
    {act_list_calendar, 0},
};

int main(int argc, char **argv)
{
    const char *curve_dir, *data_dir, *rpc_ep, *pub_ep, *replay_ep, *id_events, *id_replay, *pl_events, *pl_replay;
    int64_t max_attachment, heartbeat_ms, outbox_keep_s, window_us;
    const crm_opt_t opts[] = {
        {"data-dir", "CRM_ACTIVITIES_DATA", CRM_OPT_STRING, &data_dir, "./data/activities", "LMDB folder"},
        {"rpc", "CRM_ACTIVITIES_RPC", CRM_OPT_STRING, &rpc_ep, "tcp://127.0.0.1:5621", "RPC endpoint (bind)"},
        {"events", "CRM_ACTIVITIES_EVENTS", CRM_OPT_STRING, &pub_ep, "tcp://127.0.0.1:5622", "event PUB endpoint (bind)"},
        {"replay", "CRM_ACTIVITIES_REPLAY", CRM_OPT_STRING, &replay_ep, "tcp://127.0.0.1:5623", "event replay endpoint (bind)"},
        {"identity-events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &id_events, "tcp://127.0.0.1:5602", "identity's event PUB"},
        {"identity-replay", "CRM_IDENTITY_REPLAY", CRM_OPT_STRING, &id_replay, "tcp://127.0.0.1:5603", "identity's replay"},
        {"pipeline-events", "CRM_PIPELINE_EVENTS", CRM_OPT_STRING, &pl_events, "tcp://127.0.0.1:5612", "pipeline's event PUB"},
        {"pipeline-replay", "CRM_PIPELINE_REPLAY", CRM_OPT_STRING, &pl_replay, "tcp://127.0.0.1:5613", "pipeline's replay"},
        {"max-attachment", "CRM_MAX_ATTACHMENT", CRM_OPT_INT, &max_attachment, CRM_STR(CRM_LIMIT_ATTACHMENT), "largest attachment (bytes)"},
        {"heartbeat-ms", "CRM_HEARTBEAT_MS", CRM_OPT_INT, &heartbeat_ms, "500", "event heartbeat interval"},
        {"outbox-keep-seconds", "CRM_OUTBOX_KEEP_SECONDS", CRM_OPT_INT, &outbox_keep_s, "604800",
         "events every consumer has applied are pruned after this (7 days; 0: kept for ever)"},
        {"commit-window-us", "CRM_COMMIT_WINDOW_US", CRM_OPT_INT, &window_us, CRM_STR(CRM_CONSUMER_WINDOW_US),
         "events that come this soon after a commit wait and go in one transaction (0: at once)"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
    };
    crm_log_init("activities");
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-activities [flags]") != 0)
        return 2;
    if (crm_consumer_set_window(window_us) != 0) {
        crm_error("--commit-window-us must be 0 to %d", CRM_CONSUMER_WINDOW_MAX_US);
        return 2;
    }
    if (sodium_init() < 0 || max_attachment <= 0 || max_attachment > CRM_LIMIT_ATTACHMENT) {
        crm_error("bad configuration (max attachment must be 1 to %d, the limits table's) or libsodium failure",
                  CRM_LIMIT_ATTACHMENT);
        return 2;
    }
    activities_t a = {.max_attachment = max_attachment, .readmodel.keeps_docs = 1};
    const crm_store_dbi_t dbis[] = {
        {"messages", 0, &a.messages},       {"chatter", 0, &a.chatter},
        {"attachments", 0, &a.attachments}, {"blobs", 0, &a.blobs},
        {"calls", 0, &a.calls},             {"calls_by_time", 0, &a.calls_by_time},
        {"calls_by_resp", 0, &a.calls_by_resp}, {"calls_by_doc", 0, &a.calls_by_doc},
        {"meetings", 0, &a.meetings},       {"calendar", 0, &a.calendar},
        {"docs", 0, &a.readmodel.docs},     {"users", 0, &a.readmodel.users},
        {"outbox", 0, &a.outbox_dbi},
    };
    const char *err;
    a.store = crm_store_open(data_dir, dbis, sizeof dbis / sizeof dbis[0], ACTIVITIES_SCHEMA, 0, &err);
    if (!a.store ||
        crm_readmodel_upgrade(&a.readmodel, a.store, &(crm_readmodel_layout_t){.since = ACTIVITIES_SCHEMA_READMODEL}) != 0)
        return 1;
    a.outbox = crm_outbox_new("activities", a.outbox_dbi);
    /* its events tell what it had applied of others' (identity's, ...) */
    crm_outbox_set_after(a.outbox, crm_consumer_positions, NULL);
    a.apply_arena = crm_arena_new();

    struct ev_loop *loop = EV_DEFAULT;
    void *zctx = zmq_ctx_new();
    if (crm_curve_configure(zctx, loop, curve_dir, "activities") != 0)
        return 1;
    crm_consumer_t *identity = crm_consumer_new(loop, zctx, a.store, "identity", id_events, id_replay,
                                                act_apply_identity_event, &a);
    crm_consumer_t *pipeline = crm_consumer_new(loop, zctx, a.store, "pipeline", pl_events, pl_replay,
                                                act_apply_pipeline_event, &a);
    crm_publisher_t *pub = crm_publisher_new(loop, zctx, a.store, a.outbox, pub_ep, replay_ep, (int)heartbeat_ms);
    crm_rpc_server_t *srv = crm_rpc_server_new(loop, zctx, "activities", rpc_ep, a.store, crm_limit_service("crm.activities.v1."));
    if (!identity || !pipeline || !pub || !srv)
        return 1;
    crm_rpc_server_set_publisher(srv, pub);
    crm_publisher_set_retention(pub, outbox_keep_s > 0 ? outbox_keep_s * 1000000 : 0);
    crm_rpc_server_hold_for(srv, identity);
    crm_rpc_server_hold_for(srv, pipeline);
    crm_rpc_server_add(srv, &crm__activities__v1__activities__descriptor, activities_methods, &a);
    crm_publisher_flush(pub);

    crm_info("serving on %s, events on %s (replay %s), data in %s", rpc_ep, pub_ep, replay_ep, data_dir);
    crm_loop_run(loop);

    crm_rpc_server_destroy(&srv);
    crm_publisher_destroy(&pub);
    crm_consumer_destroy(&pipeline);
    crm_consumer_destroy(&identity);
    crm_curve_shutdown();
    zmq_ctx_term(zctx);
    crm_arena_destroy(&a.apply_arena);
    crm_outbox_destroy(&a.outbox);
    crm_store_close(&a.store);
    return 0;
}
