/* crm-pipeline: customers, leads and opportunities, stages and the kanban,
 * quotations and reports. Wiring, top to bottom: flags, store, identity's
 * events (users and teams read model), outbox publisher, RPC door, loop. */
#include "pipeline.h"
#include "crm_config.h"
#include "crm_curve.h"
#include "crm_consumer.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_zloop.h"
#include "crm_publisher.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

const crm_method_t pipeline_methods[] = {
    {pl_create_customer, CRM_METHOD_WRITE},
    {pl_update_customer, CRM_METHOD_WRITE},
    {pl_get_customer, 0},
    {pl_list_customers, 0},
    {pl_create_lead, CRM_METHOD_WRITE},
    {pl_get_lead, 0},
    {pl_update_lead, CRM_METHOD_WRITE},
    {pl_list_leads, 0},
    {pl_convert_lead, CRM_METHOD_WRITE},
    {pl_mark_won, CRM_METHOD_WRITE},
    {pl_mark_lost, CRM_METHOD_WRITE},
    {pl_make_quotation, CRM_METHOD_WRITE},
    {pl_get_quotation, 0},
    {pl_list_quotations, 0},
    {pl_create_stage, CRM_METHOD_WRITE},
    {pl_update_stage, CRM_METHOD_WRITE},
    {pl_delete_stage, CRM_METHOD_WRITE},
    {pl_list_stages, 0},
    {pl_get_pipeline, 0},
    {pl_create_tag, CRM_METHOD_WRITE},
    {pl_list_tags, 0},
    {pl_create_lost_reason, CRM_METHOD_WRITE},
    {pl_list_lost_reasons, 0},
    {pl_pipeline_report, 0},
};

static int bootstrap(MDB_txn *txn, void *arg) { return pl_stages_bootstrap(arg, txn); }

int main(int argc, char **argv)
{
    const char *curve_dir, *data_dir, *rpc_ep, *pub_ep, *replay_ep, *id_events, *id_replay, *currency;
    int64_t heartbeat_ms, outbox_keep_s, window_us, report_rows;
    const crm_opt_t opts[] = {
        {"data-dir", "CRM_PIPELINE_DATA", CRM_OPT_STRING, &data_dir, "./data/pipeline", "LMDB folder"},
        {"rpc", "CRM_PIPELINE_RPC", CRM_OPT_STRING, &rpc_ep, "tcp://127.0.0.1:5611", "RPC endpoint (bind)"},
        {"events", "CRM_PIPELINE_EVENTS", CRM_OPT_STRING, &pub_ep, "tcp://127.0.0.1:5612", "event PUB endpoint (bind)"},
        {"replay", "CRM_PIPELINE_REPLAY", CRM_OPT_STRING, &replay_ep, "tcp://127.0.0.1:5613", "event replay endpoint (bind)"},
        {"identity-events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &id_events, "tcp://127.0.0.1:5602", "identity's event PUB"},
        {"identity-replay", "CRM_IDENTITY_REPLAY", CRM_OPT_STRING, &id_replay, "tcp://127.0.0.1:5603", "identity's replay"},
        {"default-currency", "CRM_DEFAULT_CURRENCY", CRM_OPT_STRING, &currency, "EUR", "currency of leads that name none"},
        {"report-max-rows", "CRM_REPORT_MAX_ROWS", CRM_OPT_INT, &report_rows, "4096",
         "groups one PipelineReport may have; past it the report is refused, never cut"},
        {"heartbeat-ms", "CRM_HEARTBEAT_MS", CRM_OPT_INT, &heartbeat_ms, "500", "event heartbeat interval"},
        {"outbox-keep-seconds", "CRM_OUTBOX_KEEP_SECONDS", CRM_OPT_INT, &outbox_keep_s, "604800",
         "events every consumer has applied are pruned after this (7 days; 0: kept for ever)"},
        {"commit-window-us", "CRM_COMMIT_WINDOW_US", CRM_OPT_INT, &window_us, CRM_STR(CRM_CONSUMER_WINDOW_US),
         "events that come this soon after a commit wait and go in one transaction (0: at once)"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
    };
    crm_log_init("pipeline");
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-pipeline [flags]") != 0)
        return 2;
    if (crm_consumer_set_window(window_us) != 0) {
        crm_error("--commit-window-us must be 0 to %d", CRM_CONSUMER_WINDOW_MAX_US);
        return 2;
    }
    pipeline_t pl = {0};
    if (strlen(currency) != 3) {
        crm_error("default currency must be a three-letter ISO code");
        return 2;
    }
    memcpy(pl.default_currency, currency, 4);
    if (report_rows < 1 || report_rows > 1000000) {
        crm_error("--report-max-rows must be 1 to 1000000");
        return 2;
    }
    pl.report_max_rows = (size_t)report_rows;
    const crm_store_dbi_t dbis[] = {
        {"leads", 0, &pl.leads},           {"customers", 0, &pl.customers},
        {"stages", 0, &pl.stages},         {"tags", 0, &pl.tags},
        {"lost_reasons", 0, &pl.lost_reasons}, {"quotations", 0, &pl.quotations},
        {"users", 0, &pl.readmodel.users}, {"teams", 0, &pl.teams},
        {"by_stage", 0, &pl.by_stage},     {"by_salesperson", 0, &pl.by_salesperson},
        {"by_customer", 0, &pl.by_customer}, {"by_team", 0, &pl.by_team},
        {"by_tag", 0, &pl.by_tag},         {"cards_sp", 0, &pl.cards_sp},
        {"kanban", 0, &pl.kanban},
        {"quotes_by_lead", 0, &pl.quotes_by_lead}, {"outbox", 0, &pl.outbox_dbi},
    };
    const char *err;
    pl.store = crm_store_open(data_dir, dbis, sizeof dbis / sizeof dbis[0], PIPELINE_SCHEMA, 0, &err);
    if (!pl.store ||
        crm_readmodel_upgrade(&pl.readmodel, pl.store,
                              &(crm_readmodel_layout_t){.since = PIPELINE_SCHEMA_READMODEL, .users_schema1 = 1}) != 0)
        return 1;
    pl.apply_arena = crm_arena_new();
    pl.outbox = crm_outbox_new("pipeline", pl.outbox_dbi);
    /* its events tell what it had applied of others' (identity's, ...) */
    crm_outbox_set_after(pl.outbox, crm_consumer_positions, NULL);
    int rc = crm_store_write(pl.store, bootstrap, &pl);
    if (rc) {
        crm_error("creating the default stages: %s", mdb_strerror(rc));
        return 1;
    }

    struct ev_loop *loop = EV_DEFAULT;
    void *zctx = zmq_ctx_new();
    if (crm_curve_configure(zctx, loop, curve_dir, "pipeline") != 0)
        return 1;
    crm_consumer_t *identity = crm_consumer_new(loop, zctx, pl.store, "identity", id_events, id_replay,
                                                pl_apply_identity_event, &pl);
    crm_publisher_t *pub = crm_publisher_new(loop, zctx, pl.store, pl.outbox, pub_ep, replay_ep, (int)heartbeat_ms);
    crm_rpc_server_t *srv = crm_rpc_server_new(loop, zctx, "pipeline", rpc_ep, pl.store, crm_limit_service("crm.pipeline.v1."));
    if (!identity || !pub || !srv)
        return 1;
    crm_rpc_server_set_publisher(srv, pub);
    crm_publisher_set_retention(pub, outbox_keep_s > 0 ? outbox_keep_s * 1000000 : 0);
    crm_rpc_server_hold_for(srv, identity);
    crm_rpc_server_add(srv, &crm__pipeline__v1__pipeline__descriptor, pipeline_methods, &pl);
    crm_publisher_flush(pub);

    crm_info("serving on %s, events on %s (replay %s), data in %s", rpc_ep, pub_ep, replay_ep, data_dir);
    crm_loop_run(loop);

    crm_rpc_server_destroy(&srv);
    crm_publisher_destroy(&pub);
    crm_consumer_destroy(&identity);
    crm_curve_shutdown();
    zmq_ctx_term(zctx);
    crm_arena_destroy(&pl.apply_arena);
    crm_outbox_destroy(&pl.outbox);
    crm_store_close(&pl.store);
    return 0;
}
