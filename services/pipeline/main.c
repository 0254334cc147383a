/* crm-pipeline: customers, leads and opportunities, stages and the kanban,
 * quotations and reports. Its wiring: identity's events feed the users and
 * teams read model; it produces lead.*, customer.*, stage.*, quotation.*;
 * crm_service.h does the rest (shared flags, sockets, loop, teardown). */
#include "pipeline.h"
#include "transfer.h"
#include "crm_log.h"
#include "crm_service.h"

#include <sodium.h>
#include <string.h>

#define W CRM_METHOD_WRITE
static const crm_method_t methods[] = {
    {"CreateCustomer", pl_create_customer, W}, {"UpdateCustomer", pl_update_customer, W},
    {"GetCustomer", pl_get_customer, 0},       {"ListCustomers", pl_list_customers, 0},
    {"CreateLead", pl_create_lead, W},         {"GetLead", pl_get_lead, 0},
    {"UpdateLead", pl_update_lead, W},         {"ListLeads", pl_list_leads, 0},
    {"ConvertLead", pl_convert_lead, W},       {"MarkWon", pl_mark_won, W},
    {"MarkLost", pl_mark_lost, W},             {"MakeQuotation", pl_make_quotation, W},
    {"GetQuotation", pl_get_quotation, 0},     {"ListQuotations", pl_list_quotations, 0},
    {"CreateStage", pl_create_stage, W},       {"UpdateStage", pl_update_stage, W},
    {"DeleteStage", pl_delete_stage, W},       {"ListStages", pl_list_stages, 0},
    {"GetPipeline", pl_get_pipeline, 0},       {"PipelineReport", pl_pipeline_report, 0},
    {"CreateTag", pl_create_tag, W},           {"ListTags", pl_list_tags, 0},
    {"CreateLostReason", pl_create_lost_reason, W}, {"ListLostReasons", pl_list_lost_reasons, 0},
    /* archive, restore, delete, reopen; tags and lost reasons */
    {"ArchiveLead", pl_archive_lead, W},
    {"RestoreLead", pl_restore_lead, W},
    {"DeleteLead", pl_delete_lead, W},
    {"ReopenLead", pl_reopen_lead, W},
    {"ArchiveCustomer", pl_archive_customer, W},
    {"RestoreCustomer", pl_restore_customer, W},
    {"DeleteCustomer", pl_delete_customer, W},
    {"UpdateTag", pl_update_tag, W},
    {"DeleteTag", pl_delete_tag, W},
    {"UpdateLostReason", pl_update_lost_reason, W},
    {"DeleteLostReason", pl_delete_lost_reason, W},
    /* import and export */
    {"ImportRecords", pl_import_records, W},
    {"ExportRecords", pl_export_records, 0},
    /* duplicates and merge */
    {"FindDuplicates", pl_find_duplicates, 0},
    {"MergeLeads", pl_merge_leads, W},
    /* assignment rules */
    {"GetAssignmentRules", pl_get_assignment_rules, 0},
    {"SetAssignmentRules", pl_set_assignment_rules, W},
    {"AssignLeads", pl_assign_leads, W},
};

static pipeline_t pl;
static const char *currency;
static int64_t report_rows, filter_reads;

static int configure(void *ctx)
{
    if (strlen(currency) != 3 || report_rows < 1 || report_rows > 1000000 || filter_reads < 1 ||
        filter_reads > 100000000) {
        crm_error("--default-currency must be a three-letter ISO code, --report-max-rows 1 to 1000000, "
                  "--board-filter-reads 1 to 100000000");
        return -1;
    }
    pl.board_filter_reads = (size_t)filter_reads;
    memcpy(pl.default_currency, currency, 4);
    pl.report_max_rows = (size_t)report_rows;
    pl.apply_arena = crm_arena_new();
    return 0;
}

static void stop(crm_service_t *svc, void *ctx) { crm_arena_destroy(&pl.apply_arena); }

/* Older kanban cells added every currency together: they are emptied and
 * summed again from the leads, each step resumable, before the read
 * model's step ends the upgrade. */
static int clear_cell(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    return mdb_del(txn, ((pipeline_t *)arg)->kanban, (MDB_val *)key, NULL);
}

static int upgrade(crm_store_t *store, void *ctx)
{
    uint64_t from;
    int rc = crm_store_upgrade_from(store, &from);
    if (rc == 0 && from && from < PIPELINE_SCHEMA_CURRENCY_CELLS &&
        ((rc = crm_store_rewrite(store, pl.kanban, "kanban_clear", clear_cell, &pl, 1000)) != 0 ||
         (rc = crm_store_rewrite(store, pl.leads, "kanban_cells", pl_kanban_rebuild_lead, &pl, 1000)) != 0))
        crm_error("summing the kanban per currency: %s",
                  rc == PL_SUM_OVERFLOW ? "a cell's sum of one currency is past 64 bits" : mdb_strerror(rc));
    if (rc == 0 && from && from < PIPELINE_SCHEMA_ARCHIVE)
        rc = pl_upgrade_archive_indexes(&pl, store);
    if (rc == 0 && (rc = pl_dup_upgrade(&pl, store)) != 0)
        crm_error("building the likely-duplicate indexes: %s", mdb_strerror(rc));
    if (rc == 0 && from && from < PIPELINE_SCHEMA_UNASSIGNED &&
        (rc = crm_store_rewrite(store, pl.leads, "unassigned", pl_index_unassigned, &pl, 1000)) != 0)
        crm_error("listing the teams' unassigned leads: %s", mdb_strerror(rc));
    if (rc)
        return rc;
    return crm_readmodel_upgrade(&pl.readmodel, store,
                                 &(crm_readmodel_layout_t){.since = PIPELINE_SCHEMA_READMODEL, .users_schema1 = 1});
}

static int bootstrap(MDB_txn *txn, void *arg)
{
    pipeline_t *p = arg;
    int rc = crm_store_meta_get_u64(p->store, txn, "export_namespace", &p->export_namespace);
    if (rc == 0 && !p->export_namespace) { /* a store made before export namespaces, or a new one */
        do
            randombytes_buf(&p->export_namespace, sizeof p->export_namespace);
        while (!(p->export_namespace &= 0xffffffffffffULL));
        rc = crm_store_meta_put_u64(p->store, txn, "export_namespace", p->export_namespace);
    }
    return rc ? rc : pl_stages_bootstrap(p, txn);
}

static int start(crm_service_t *svc, void *ctx)
{
    int rc = crm_store_write(pl.store, bootstrap, &pl);
    if (rc)
        crm_error("creating the default stages and the export namespace: %s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    return crm_service_main(&(crm_service_def_t){
        .name = "pipeline", .ctx = &pl, .store = &pl.store, .outbox = &pl.outbox, .schema = PIPELINE_SCHEMA,
        .flags = {
            {"default-currency", "CRM_DEFAULT_CURRENCY", CRM_OPT_STRING, &currency, "EUR",
             "currency of leads that name none"},
            {"report-max-rows", "CRM_REPORT_MAX_ROWS", CRM_OPT_INT, &report_rows, "4096",
             "groups one PipelineReport may have; past it the report is refused, never cut"},
            {"board-filter-reads", "CRM_BOARD_FILTER_READS", CRM_OPT_INT, &filter_reads, "20000",
             "leads one kanban board filtered by tag or text may read (its totals and its page); past it the "
             "board is refused, never cut"},
        },
        .dbis = {
            {"leads", 0, &pl.leads}, {"customers", 0, &pl.customers}, {"stages", 0, &pl.stages}, {"tags", 0, &pl.tags},
            {"lost_reasons", 0, &pl.lost_reasons}, {"quotations", 0, &pl.quotations}, {"users", 0, &pl.readmodel.users},
            {"teams", 0, &pl.teams}, {"by_stage", 0, &pl.by_stage}, {"by_salesperson", 0, &pl.by_salesperson},
            {"by_customer", 0, &pl.by_customer}, {"by_team", 0, &pl.by_team}, {"by_tag", 0, &pl.by_tag},
            {"cards_sp", 0, &pl.cards_sp}, {"kanban", 0, &pl.kanban}, {"quotes_by_lead", 0, &pl.quotes_by_lead},
            {"board_versions", 0, &pl.board_versions},
            {"by_lost_reason", 0, &pl.by_lost_reason}, {"by_parent", 0, &pl.by_parent},
            {"quotes_by_customer", 0, &pl.quotes_by_customer},
            {"assign_rules", 0, &pl.assign_rules}, {"assign_log", 0, &pl.assign_log},
            {"lead_dups", 0, &pl.lead_dups}, {"customer_dups", 0, &pl.customer_dups},
            {"unassigned", 0, &pl.unassigned},
            {"imports", 0, &pl.imports},
        },
        .consumes = {{"identity", pl_apply_identity_event}},
        .apis = {CRM_RPC_API(crm__pipeline__v1__pipeline__descriptor, methods)},
        .configure = configure, .upgrade = upgrade, .start = start, .stop = stop}, argc, argv);
}
