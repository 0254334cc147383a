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

#define PIPELINE_SCHEMA 3
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

/* The normalised type of a lead (LEAD or OPPORTUNITY). */
int pl_lead_type(const lead_t *lead);
/* Stores lead and brings every index, card list and kanban cell in line
 * with the change from old (NULL for a new lead). Returns 0 or -1. */
int pl_lead_save(crm_call_t *call, const lead_t *old, lead_t *lead);

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

/* Applies one identity event to the users and teams read model (readmodel.c).
 * Returns 0, CRM_CONSUMER_UNCHANGED or an LMDB code. */
int pl_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);

#endif
