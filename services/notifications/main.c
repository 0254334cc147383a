/* crm-notifications: followers, inboxes and the live stream. Its wiring:
 * identity's, pipeline's and activities' events feed the read models and
 * the inbox entries they give; it produces no events but publishes every
 * entry on the live stream; a timer deletes old read entries; crm_service.h
 * does the rest (shared flags, sockets, loop, teardown). */
#include "notifications.h"
#include "crm_log.h"
#include "crm_service.h"

#define W CRM_METHOD_WRITE
static const crm_method_t methods[] = {
    {"Follow", ntf_follow, W},            {"Unfollow", ntf_unfollow, W},
    {"ListFollowers", ntf_list_followers, 0}, {"ListInbox", ntf_list_inbox, 0},
    {"MarkRead", ntf_mark_read, W},       {"MarkAllRead", ntf_mark_all_read, W},
    {"UnreadCount", ntf_unread_count, 0}, {"GetPreferences", ntf_get_preferences, 0},
    {"UpdatePreferences", ntf_update_preferences, W},
};

static notifications_t n = {.readmodel.keeps_docs = 1};
static const char *stream_ep;
static int64_t keep_read_s;
static ntf_stream_t *stream;

static int configure(void *ctx)
{
    if (keep_read_s < 0) {
        crm_error("--inbox-keep-read-seconds must be 0 or more");
        return -1;
    }
    n.keep_read_us = keep_read_s * 1000000;
    n.apply_arena = crm_arena_new();
    return 0;
}

static int upgrade(crm_store_t *store, void *ctx)
{
    return crm_readmodel_upgrade(&n.readmodel, store,
                                 &(crm_readmodel_layout_t){.since = NOTIFICATIONS_SCHEMA_READMODEL,
                                                           .has_doc_streams = 1, .doc_streams = n.doc_streams});
}

static void sweep(void *ctx) { ntf_retention_pass(ctx); }

static int start(crm_service_t *svc, void *ctx)
{
    if (!(stream = ntf_stream_new(crm_service_loop(svc), crm_service_zctx(svc), &n, stream_ep,
                                  crm_service_heartbeat_ms(svc))))
        return -1;
    crm_rpc_server_set_stream(crm_service_rpc(svc), &(crm_rpc_stream_t){"notifications", ntf_stream_flush,
                                                                       ntf_stream_head, stream});
    crm_info("live stream on %s", stream_ep);
    /* often enough that a short retention (tests) is kept to, else a minute */
    double every = (double)n.keep_read_us / 1e6 / 10;
    if (every > 60)
        every = 60;
    return n.keep_read_us ? crm_service_every(svc, every, every, sweep) : 0;
}

static void stop(crm_service_t *svc, void *ctx)
{
    ntf_stream_destroy(&stream);
    crm_arena_destroy(&n.apply_arena);
}

int main(int argc, char **argv)
{
    return crm_service_main(&(crm_service_def_t){
        .name = "notifications", .ctx = &n, .store = &n.store, .schema = NOTIFICATIONS_SCHEMA,
        .flags = {
            {"stream", "CRM_NOTIFICATIONS_STREAM", CRM_OPT_STRING, &stream_ep, "tcp://127.0.0.1:5632",
             "live stream PUB endpoint (bind)"},
            {"inbox-keep-read-seconds", "CRM_INBOX_KEEP_READ_SECONDS", CRM_OPT_INT, &keep_read_s, "7776000",
             "read inbox entries older than this are deleted (90 days; 0: kept for ever); unread ones stay"},
        },
        .dbis = {
            {"docs", 0, &n.readmodel.docs}, {"users", 0, &n.readmodel.users}, {"state", 0, &n.state},
            {"followers", 0, &n.followers}, {"inbox", 0, &n.inbox}, {"by_user", 0, &n.by_user},
            {"doc_streams", 0, &n.doc_streams},
        },
        .consumes = {{"identity", ntf_apply_identity_event}, {"pipeline", ntf_apply_pipeline_event},
                     {"activities", ntf_apply_activities_event}},
        .apis = {CRM_RPC_API(crm__notifications__v1__notifications__descriptor, methods)},
        .configure = configure, .upgrade = upgrade, .start = start, .stop = stop}, argc, argv);
}
