#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdint.h>
#include "crm_access.h"
#include "crm_arena.h"
#include "crm_outbox.h"
#include "crm_readmodel.h"
#include "crm_rpc_server.h"
#include "crm_store.h"
#include "pipeline.pb-c.h"

/* The pipeline service: customers, leads and opportunities, stages and the
 * kanban, won/lost, quotations and reports. */

/* The first schema that indexes leads by lost reason, customers by parent
 * and quotations by customer (what a delete must know is unused). */
#define PIPELINE_SCHEMA_ARCHIVE 4
/* The first schema with the likely-duplicate indexes (lead_dups,
 * customer_dups); older stores have them built on upgrade. */
#define PIPELINE_SCHEMA_DUPLICATES 5
#define PIPELINE_SCHEMA 6
/* The first schema that lists each team's open leads of nobody
 * (unassigned), built from the leads on upgrade. */
#define PIPELINE_SCHEMA_UNASSIGNED 6
/* The first schema whose kanban cells sum per currency (older ones added
 * every currency together; their cells are rebuilt from the leads). */
#define PIPELINE_SCHEMA_CURRENCY_CELLS 3
/* The first schema whose users are crm.common.v1 records (schema 1's had
 * another layout, rewritten on upgrade). */
#define PIPELINE_SCHEMA_READMODEL 2
#define REVENUE_MAX 10000000000000LL /* 10^13 minor units: kanban sums of 900,000 such leads still fit */

/* A lead's weighted revenue in minor units, as the kanban and reports sum it. */
#define PL_WEIGHTED(lead) ((lead)->expected_revenue * (lead)->probability / 100)

typedef Crm__Pipeline__V1__Lead lead_t;
typedef Crm__Pipeline__V1__Stage stage_t;
typedef Crm__Pipeline__V1__Customer customer_t;

typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    char default_currency[4];
    /* Names this store in its export ids ("lead/42@…"), drawn at random
     * when the store is made: an export id of another store is then an
     * external id like any other, never a record of this one. */
    uint64_t export_namespace;
    size_t report_max_rows; /* groups one PipelineReport may have */
    size_t board_filter_reads; /* leads one GetPipeline with a tag or text filter may read */
    MDB_dbi leads;       /* id → Lead */
    MDB_dbi customers;   /* id → Customer */
    MDB_dbi stages;      /* id → Stage */
    MDB_dbi tags;        /* id → Tag */
    MDB_dbi lost_reasons;/* id → LostReason */
    MDB_dbi quotations;  /* id → Quotation */
    crm_readmodel_t readmodel; /* users: id → UserInfo (from identity's events); documents are its own */
    crm_arena_t *apply_arena;  /* for one consumed event at a time */
    MDB_dbi teams;       /* id → TeamInfo (from identity's events) */
    MDB_dbi by_stage, by_salesperson, by_customer, by_team, by_tag; /* key, lead id → "" */
    MDB_dbi cards_sp;    /* team, type, stage, salesperson, priority, age, id → "" */
    MDB_dbi kanban;      /* team, type, stage, salesperson → KanbanCell */
    MDB_dbi quotes_by_lead; /* lead id, quotation id → "" */
    MDB_dbi board_versions; /* team id (PL_BOARDS_ALL: what every board shows) → u64 version */
    MDB_dbi by_lost_reason; /* lost reason id, lead id → "" */
    MDB_dbi by_parent;      /* parent customer id, contact id → "" */
    MDB_dbi quotes_by_customer; /* customer id, quotation id → "" */
    MDB_dbi assign_rules; /* team id → AssignmentRules */
    MDB_dbi assign_log;   /* team, user, time, lead id → "" (assign_log.h) */
    MDB_dbi lead_dups;      /* reason, value hash (8), lead id → "" (dup_norm.h) */
    MDB_dbi customer_dups;  /* reason, value hash (8), customer id → "" */
    MDB_dbi unassigned;     /* team id, lead id → "": open, active leads of nobody (AssignLeads) */
    MDB_dbi imports;     /* model, kind, external id or content hash → record id, content hash (transfer.h) */
} pipeline_t;

/* --- validation (util.c) ----------------------------------------------- */

/* Each returns 0 or -1 with the call's error set, naming field. */
int pl_check_text(crm_call_t *call, const char *field, const char *s, size_t min, size_t max);
int pl_check_date(crm_call_t *call, const char *field, const char *s);
int pl_check_currency(crm_call_t *call, const char *field, const char *s);
int pl_check_salesperson(crm_call_t *call, const char *field, int64_t user_id);
int pl_check_team(crm_call_t *call, const char *field, int64_t team_id);

/* --- records (util.c) ------------------------------------------------------ */

/* Reads a record by id into the call's arena. Returns 0, or -1 with
 * not_found naming field (or a storage error). */
int pl_get(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessageDescriptor *desc,
           const char *field, const char *what, void **out);
/* Writes a record under its id. Returns 0 or -1 (storage error set). */
int pl_put(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessage *m);
/* A new id from counter. */
int pl_next_id(crm_call_t *call, const char *counter, int64_t *id);
/* One page of a List call over dbi (id → message of type desc), in id order,
 * resuming after page_token: the records keep() accepts, at most page_size
 * (default 50, at most 500), reading at most PL_SCAN_MAX records so that a
 * filter matching little never reads the whole store in one call (the page
 * then ends early and its token resumes the scan). Returns 0 or -1. */
#define PL_SCAN_MAX 20000
typedef int (pl_keep_fn)(crm_call_t *call, const void *item, const void *filter);
int pl_list_page(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, int32_t page_size,
                 const char *page_token, pl_keep_fn *keep, const void *filter, void ***items, size_t *n,
                 char **next_token);

/* A user's name from identity's events ("" if unknown). */
const char *pl_user_name(crm_call_t *call, int64_t id);

/* --- stages (stages.c) --------------------------------------------------------- */

/* The stages usable by team (its own and the global ones) for a lead of type
 * (0: any), ordered by sequence then id. Returns the count, or -1 on error. */
int pl_stages_for(crm_call_t *call, int64_t team_id, int type, stage_t ***out);
/* 1 if stage can hold a lead of type in team. */
int pl_stage_fits(const stage_t *stage, int64_t team_id, int type);
/* The first stage (lowest sequence) for team and type whose status is
 * status (0: any). Returns 0, or -1 with failed_precondition. */
int pl_first_stage(crm_call_t *call, int64_t team_id, int type, int status, stage_t **out);
/* Creates OpenERP's default stages on first start. Returns an LMDB code. */
int pl_stages_bootstrap(pipeline_t *pl, MDB_txn *txn);

/* --- leads and their derived state (index.c) -------------------------------- */

/* How many keys of dbi (8-byte prefix, then an id) begin with prefix, the
 * records that use it, counting no further than max (a write must not walk
 * a million keys to refuse a delete). Returns an LMDB code. */
int pl_index_count(MDB_txn *txn, MDB_dbi dbi, int64_t prefix, int64_t max, int64_t *count);
/* A crm_store_rewrite step over leads: indexes the lead (data) by its lost
 * reason, for stores of schemas before PIPELINE_SCHEMA_ARCHIVE. */
int pl_index_lost_reason(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg);

/* The normalised type of a lead (LEAD or OPPORTUNITY). */
int pl_lead_type(const lead_t *lead);
/* Stores lead and brings every index, card list and kanban cell in line
 * with the change from old (NULL for a new lead; lead NULL deletes old and
 * everything derived from it). An archived lead keeps its indexes but has
 * no card and no share of the kanban cells. Returns 0 or -1. */
int pl_lead_save(crm_call_t *call, const lead_t *old, lead_t *lead);
/* crm_store_rewrite's step of the schema 6 upgrade: lists a stored lead in
 * unassigned if it awaits assignment (index.c). Returns an LMDB code. */
int pl_index_unassigned(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg);

/* The version key every board adds to its team's: global stages, names. */
#define PL_BOARDS_ALL ((int64_t)-1)
/* Bumps the board version of team (0: the leads of no team; PL_BOARDS_ALL:
 * every board) in txn. Returns an LMDB code. */
int pl_version_bump(MDB_txn *txn, const pipeline_t *pl, int64_t team_id);
/* The board version of team as stored (0 if never bumped). Returns an LMDB code. */
int pl_version_get(MDB_txn *txn, const pipeline_t *pl, int64_t team_id, int64_t *out);
/* What index.c returns, beside LMDB codes, when a kanban cell's sum of one
 * currency would pass 64 bits (outside LMDB's range and errno's). */
#define PL_SUM_OVERFLOW (-30000)
/* A crm_store_rewrite step: adds the lead (data) to its kanban cell, to
 * rebuild the cells of an older schema. Returns an LMDB code or
 * PL_SUM_OVERFLOW. */
int pl_kanban_rebuild_lead(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg);
/* 1 if the caller sees lead l and it passes ListLeads' filters r (leads.c). */
int pl_lead_matches(crm_call_t *call, const Crm__Pipeline__V1__ListLeadsRequest *r, const lead_t *l);
/* Fills the lead's display names (customer, salesperson, team) for a reply,
 * in the call's arena; a name not known (yet) is left empty. Returns 0, or
 * -1 with a storage error set when a record cannot be read. */
int pl_lead_names(crm_call_t *call, lead_t *lead);

/* Moves lead (a copy of old) to its team's won or lost stage (status),
 * saves it and emits lead.won / lead.lost (leads.c). Returns 0 or -1. */
int pl_close_lead(crm_call_t *call, lead_t *lead, const lead_t *old, int status, int64_t lost_reason);

/* The single place a customer record and its index entries are written
 * (customers.c): old NULL for a new one, c NULL to delete old. Returns 0 or
 * -1 with the call's error set. */
int pl_customer_save(crm_call_t *call, const customer_t *old, customer_t *c);

/* What the service fills in for the creator (defaults.c), the one path of
 * every new lead (CreateLead, imports): without a salesperson and not
 * unassigned, the lead is the creator's (assigned_by "default"); without a
 * team, the salesperson's default team, else their first team that is not
 * archived (the creator's for an unassigned lead). Returns 0, or -1 with
 * invalid_argument on "unassigned" when it is set with a salesperson. */
int pl_lead_defaults(crm_call_t *call, lead_t *lead, int unassigned);
/* The same for a new customer: a salesperson's own when it names none. */
int pl_customer_defaults(crm_call_t *call, customer_t *c);
/* 1 if a record archived or not passes ListLeads' or ListCustomers'
 * archived filter (an ArchiveFilter value). Can't fail. */
int pl_archive_filter_keeps(int filter, int archived);
/* 0, or -1 with invalid_argument on "archived" for an unknown filter. */
int pl_check_archive_filter(crm_call_t *call, int filter);
/* 1 if team_id names an archived team in the read model. */
int pl_team_archived(crm_call_t *call, int64_t team_id);

/* Shared with archive.c (leads.c): the lead the caller may see, or
 * not_found; entering a stage; the event of a lead change, then the
 * reply's names. Each returns 0 or -1 (set). */
int pl_lead_get_visible(crm_call_t *call, int64_t id, const char *field, lead_t **out);
int pl_lead_enter_stage(crm_call_t *call, lead_t *lead, int64_t stage_id, int keep_probability);
int pl_lead_emit(crm_call_t *call, const char *type, lead_t *lead, const lead_t *old);

/* 0 if no record of dbi (Tag or LostReason, as desc) but self has name,
 * case aside; else -1 with already_exists on "name" (archive.c). */
int pl_check_unique_name(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, int64_t self,
                         const char *name);

/* The schema 4 upgrade step (archive.c): indexes of what a delete must
 * find unused, built from the records. Resumable; returns an LMDB code. */
int pl_upgrade_archive_indexes(pipeline_t *pl, crm_store_t *store);
/* Gives a new lead of nobody's, in a team whose assignment rules say
 * auto_assign, to the next member in turn who may take it (assign.c): sets
 * its salesperson_id and assigned_by ("assignment"). Call it once the lead
 * has its id and has passed its checks, before it is saved. Nobody
 * available leaves it unassigned; that is no error. Returns 0 or -1. */
int pl_assign_new_lead(crm_call_t *call, lead_t *lead);

/* Handlers. */
int pl_create_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_update_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_get_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_customers(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_create_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_get_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_update_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_leads(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_convert_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_mark_won(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_mark_lost(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_make_quotation(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_get_quotation(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_quotations(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_create_stage(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_update_stage(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_delete_stage(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_stages(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_get_pipeline(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_create_tag(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_tags(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_create_lost_reason(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_list_lost_reasons(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_pipeline_report(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
/* archive.c */
int pl_archive_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_restore_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_delete_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_reopen_lead(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_archive_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_restore_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_delete_customer(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_update_tag(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_delete_tag(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_update_lost_reason(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_delete_lost_reason(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_get_assignment_rules(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_set_assignment_rules(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_assign_leads(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

/* --- likely duplicates (duplicates.c) ------------------------------------------ */

/* Brings the duplicate index of a lead (or customer) in line with the change
 * from old (NULL: created) to new (NULL: deleted), in the call's
 * transaction. Returns 0 or -1 with the call's error set. */
int pl_dup_index_lead(crm_call_t *call, const lead_t *old, const lead_t *new);
int pl_dup_index_customer(crm_call_t *call, const customer_t *old, const customer_t *new);
/* The same within txn, for the upgrade step. Return LMDB codes. */
int pl_dup_index_lead_txn(pipeline_t *pl, MDB_txn *txn, const lead_t *old, const lead_t *new);
int pl_dup_index_customer_txn(pipeline_t *pl, MDB_txn *txn, const customer_t *old, const customer_t *new);
/* Fills the reply's likely_duplicates: other leads the caller may see (other
 * customers) sharing its e-mail, phone or company, at most PL_DUP_MAX.
 * Returns 0 or -1 with a storage error set. */
#define PL_DUP_MAX 10
int pl_dup_fill_lead(crm_call_t *call, lead_t *l);
int pl_dup_fill_customer(crm_call_t *call, customer_t *c);
/* Builds both indexes of a store made before they existed (resumable). Returns an LMDB code. */
int pl_dup_upgrade(pipeline_t *pl, crm_store_t *store);

int pl_find_duplicates(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_merge_leads(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

/* Applies one identity event to the users and teams read model (readmodel.c).
 * Returns 0, CRM_CONSUMER_UNCHANGED or an LMDB code. */
int pl_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);

#endif
