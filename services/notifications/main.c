/* crm-notifications: followers, inboxes and the live stream. Wiring, top to
 * bottom: flags, store, identity's, pipeline's and activities' events (the
 * read models and the entries they give), live stream, RPC door, loop. */
#include "notifications.h"
#include "crm_config.h"
#include "crm_consumer.h"
#include "crm_curve.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_zloop.h"

#include <sodium.h>
#include <zmq.h>

const crm_method_t notifications_methods[] = {
    {ntf_follow, CRM_METHOD_WRITE},
    {ntf_unfollow, CRM_METHOD_WRITE},
    {ntf_list_followers, 0},
    {ntf_list_inbox, 0},
    {ntf_mark_read, CRM_METHOD_WRITE},
    {ntf_mark_all_read, CRM_METHOD_WRITE},
    {ntf_unread_count, 0},
    {ntf_get_preferences, 0},
    {ntf_update_preferences, CRM_METHOD_WRITE},
};

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents) { ntf_retention_pass(w->data); }

int main(int argc, char **argv)
{
    const char *curve_dir, *data_dir, *rpc_ep, *stream_ep, *id_events, *id_replay, *pl_events, *pl_replay, *act_events,
        *act_replay;
    int64_t heartbeat_ms, window_us, keep_read_s;
    const crm_opt_t opts[] = {
        {"data-dir", "CRM_NOTIFICATIONS_DATA", CRM_OPT_STRING, &data_dir, "./data/notifications", "LMDB folder"},
        {"rpc", "CRM_NOTIFICATIONS_RPC", CRM_OPT_STRING, &rpc_ep, "tcp://127.0.0.1:5631", "RPC endpoint (bind)"},
        {"stream", "CRM_NOTIFICATIONS_STREAM", CRM_OPT_STRING, &stream_ep, "tcp://127.0.0.1:5632", "live stream PUB endpoint (bind)"},
        {"identity-events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &id_events, "tcp://127.0.0.1:5602", "identity's event PUB"},
        {"identity-replay", "CRM_IDENTITY_REPLAY", CRM_OPT_STRING, &id_replay, "tcp://127.0.0.1:5603", "identity's replay"},
        {"pipeline-events", "CRM_PIPELINE_EVENTS", CRM_OPT_STRING, &pl_events, "tcp://127.0.0.1:5612", "pipeline's event PUB"},
        {"pipeline-replay", "CRM_PIPELINE_REPLAY", CRM_OPT_STRING, &pl_replay, "tcp://127.0.0.1:5613", "pipeline's replay"},
        {"activities-events", "CRM_ACTIVITIES_EVENTS", CRM_OPT_STRING, &act_events, "tcp://127.0.0.1:5622", "activities' event PUB"},
        {"activities-replay", "CRM_ACTIVITIES_REPLAY", CRM_OPT_STRING, &act_replay, "tcp://127.0.0.1:5623", "activities' replay"},
        {"heartbeat-ms", "CRM_HEARTBEAT_MS", CRM_OPT_INT, &heartbeat_ms, "500", "stream heartbeat interval"},
        {"commit-window-us", "CRM_COMMIT_WINDOW_US", CRM_OPT_INT, &window_us, CRM_STR(CRM_CONSUMER_WINDOW_US),
         "events that come this soon after a commit wait and go in one transaction (0: at once)"},
        {"inbox-keep-read-seconds", "CRM_INBOX_KEEP_READ_SECONDS", CRM_OPT_INT, &keep_read_s, "7776000",
         "read inbox entries older than this are deleted (90 days; 0: kept for ever); unread ones stay"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
    };
    crm_log_init("notifications");
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-notifications [flags]") != 0)
        return 2;
    if (crm_consumer_set_window(window_us) != 0) {
        crm_error("--commit-window-us must be 0 to %d", CRM_CONSUMER_WINDOW_MAX_US);
        return 2;
    }
    if (sodium_init() < 0) {
        crm_error("libsodium failed to initialise");
        return 2;
    }
    notifications_t n = {.readmodel.keeps_docs = 1};
    if (keep_read_s < 0) {
        crm_error("--inbox-keep-read-seconds must be 0 or more");
        return 2;
    }
    n.keep_read_us = keep_read_s * 1000000;
    const crm_store_dbi_t dbis[] = {
        {"docs", 0, &n.readmodel.docs}, {"users", 0, &n.readmodel.users}, {"state", 0, &n.state},
        {"followers", 0, &n.followers}, {"inbox", 0, &n.inbox},   {"by_user", 0, &n.by_user},
        {"doc_streams", 0, &n.doc_streams},
    };
    const char *err;
    n.store = crm_store_open(data_dir, dbis, sizeof dbis / sizeof dbis[0], NOTIFICATIONS_SCHEMA, 0, &err);
    if (!n.store ||
        crm_readmodel_upgrade(&n.readmodel, n.store,
                              &(crm_readmodel_layout_t){.since = NOTIFICATIONS_SCHEMA_READMODEL,
                                                        .has_doc_streams = 1, .doc_streams = n.doc_streams}) != 0)
        return 1;
    n.apply_arena = crm_arena_new();

    struct ev_loop *loop = EV_DEFAULT;
    void *zctx = zmq_ctx_new();
    if (crm_curve_configure(zctx, loop, curve_dir, "notifications") != 0)
        return 1;
    crm_consumer_t *identity = crm_consumer_new(loop, zctx, n.store, "identity", id_events, id_replay,
                                                ntf_apply_identity_event, &n);
    crm_consumer_t *pipeline = crm_consumer_new(loop, zctx, n.store, "pipeline", pl_events, pl_replay,
                                                ntf_apply_pipeline_event, &n);
    crm_consumer_t *activities = crm_consumer_new(loop, zctx, n.store, "activities", act_events, act_replay,
                                                  ntf_apply_activities_event, &n);
    ntf_stream_t *stream = ntf_stream_new(loop, zctx, &n, stream_ep, (int)heartbeat_ms);
    crm_rpc_server_t *srv = crm_rpc_server_new(loop, zctx, "notifications", rpc_ep, n.store, crm_limit_service("crm.notifications.v1."));
    if (!identity || !pipeline || !activities || !stream || !srv)
        return 1;
    crm_rpc_server_set_stream(srv, &(crm_rpc_stream_t){"notifications", ntf_stream_flush, ntf_stream_head, stream});
    crm_rpc_server_hold_for(srv, identity);
    crm_rpc_server_hold_for(srv, pipeline);
    crm_rpc_server_hold_for(srv, activities);
    crm_rpc_server_add(srv, &crm__notifications__v1__notifications__descriptor, notifications_methods, &n);

    ev_timer sweep;
    if (n.keep_read_us) {
        /* often enough that a short retention (tests) is kept to, else a minute */
        double every = (double)n.keep_read_us / 1e6 / 10;
        ev_timer_init(&sweep, on_sweep, every < 60 ? every : 60, every < 60 ? every : 60);
        sweep.data = &n;
        ev_timer_start(loop, &sweep);
    }
    crm_info("serving on %s, live stream on %s, data in %s", rpc_ep, stream_ep, data_dir);
    crm_loop_run(loop);

    crm_rpc_server_destroy(&srv);
    ntf_stream_destroy(&stream);
    crm_consumer_destroy(&activities);
    crm_consumer_destroy(&pipeline);
    crm_consumer_destroy(&identity);
    crm_curve_shutdown();
    zmq_ctx_term(zctx);
    crm_arena_destroy(&n.apply_arena);
    crm_store_close(&n.store);
    return 0;
}
