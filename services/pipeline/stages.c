/* Stages (the kanban's columns), tags and lost reasons: the configuration a
 * sales manager keeps. A stage is usable the moment CreateStage returns:
 * everything reads stages from the store, nothing caches them. */
#include "pipeline.h"
#include "crm_request.h"

#include <stdlib.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x
#define STYPE(x) CRM__PIPELINE__V1__STAGE_TYPE__STAGE_TYPE_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x

int pl_stage_fits(const stage_t *s, int64_t team_id, int type)
{
    if (s->team_id != 0 && s->team_id != team_id)
        return 0;
    if (type == 0 || s->type == STYPE(BOTH) || s->type == STYPE(UNSPECIFIED))
        return 1;
    return (type == LTYPE(LEAD) && s->type == STYPE(LEAD)) ||
           (type == LTYPE(OPPORTUNITY) && s->type == STYPE(OPPORTUNITY));
}

static int by_sequence(const void *a, const void *b)
{
    const stage_t *x = *(stage_t *const *)a, *y = *(stage_t *const *)b;
    if (x->sequence != y->sequence)
        return x->sequence < y->sequence ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int pl_stages_for(crm_call_t *call, int64_t team_id, int type, stage_t ***out)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_stat ms;
    MDB_cursor *cur;
    int rc = mdb_stat(crm_call_txn(call), pl->stages, &ms);
    if (rc || (rc = mdb_cursor_open(crm_call_txn(call), pl->stages, &cur)) != 0)
        return crm_call_fail_db(call, rc);
    stage_t **list = crm_arena_alloc(crm_call_arena(call), sizeof *list * (ms.ms_entries + 1));
    int n = 0;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && (size_t)n < ms.ms_entries;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        stage_t *s = crm_call_unpack(call, &crm__pipeline__v1__stage__descriptor, d.mv_data, d.mv_size);
        if (!s) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (pl_stage_fits(s, team_id, type))
            list[n++] = s;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    qsort(list, (size_t)n, sizeof *list, by_sequence);
    *out = list;
    return n;
}

int pl_first_stage(crm_call_t *call, int64_t team_id, int type, int status, stage_t **out)
{
    stage_t **list;
    int n = pl_stages_for(call, team_id, type, &list);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (status == 0 || (int)list[i]->status == status) {
            *out = list[i];
            return 0;
        }
    return crm_call_fail(call, CODE(FAILED_PRECONDITION), "stageId",
                         "team %lld has no %s stage for this type", (long long)team_id,
                         status == STATUS(WON) ? "won" : status == STATUS(LOST) ? "lost" : "usable");
}

int pl_stages_bootstrap(pipeline_t *pl, MDB_txn *txn)
{
    MDB_stat ms;
    int rc = mdb_stat(txn, pl->stages, &ms);
    if (rc || ms.ms_entries)
        return rc;
    static const struct {
        const char *name;
        int status, probability, type, fold;
    } defaults[] = {
        {"New", STATUS(NEW), 10, STYPE(BOTH), 0},
        {"Qualification", STATUS(IN_PROGRESS), 20, STYPE(OPPORTUNITY), 0},
        {"Proposition", STATUS(IN_PROGRESS), 40, STYPE(OPPORTUNITY), 0},
        {"Negotiation", STATUS(IN_PROGRESS), 60, STYPE(OPPORTUNITY), 0},
        {"Won", STATUS(WON), 100, STYPE(BOTH), 0},
        {"Lost", STATUS(LOST), 0, STYPE(BOTH), 1},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        uint64_t id;
        if ((rc = crm_store_next_id(pl->store, txn, "stage", &id)) != 0)
            return rc;
        stage_t s = CRM__PIPELINE__V1__STAGE__INIT;
        s.id = (int64_t)id;
        s.name = (char *)defaults[i].name;
        s.status = defaults[i].status;
        s.probability = defaults[i].probability;
        s.type = defaults[i].type;
        s.sequence = (int32_t)(i + 1) * 10;
        s.fold = defaults[i].fold;
        if ((rc = crm_db_put_id(txn, pl->stages, id, &s.base)) != 0)
            return rc;
    }
    return 0;
}

static int check_stage_fields(crm_call_t *call, const stage_t *s)
{
    if (pl_check_text(call, "name", s->name, 1, 128) != 0)
        return -1;
    if (s->status < 0 || s->status > STATUS(LOST))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "status", "unknown status");
    if (s->probability < 0 || s->probability > 100)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "probability", "probability must be 0 to 100");
    if (s->type < 0 || s->type > STYPE(BOTH))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "type", "unknown stage type");
    return 0;
}

/* Every stage write ends here: the boards that show the stage (its team's,
 * or every team's for a global one) learn of it through their version. */
static int emit_stage(crm_call_t *call, const char *type, stage_t *s)
{
    int rc = pl_version_bump(crm_call_txn(call), crm_call_ctx(call), s->team_id ? s->team_id : PL_BOARDS_ALL);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Pipeline__V1__StageEvent ev = CRM__PIPELINE__V1__STAGE_EVENT__INIT;
    ev.stage = s;
    return crm_call_emit(call, type, &ev.base);
}

/* 1 if any lead is in stage; -1 on a storage error (set on the call). */
static int stage_holds_leads(crm_call_t *call, int64_t stage_id)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), pl->by_stage, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    uint8_t prefix[8];
    crm_key_put_u64(prefix, (uint64_t)stage_id);
    MDB_val k = {8, prefix}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    int held = rc == 0 && k.mv_size >= 8 && !memcmp(k.mv_data, prefix, 8);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return held;
}

int pl_create_stage(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__CreateStageRequest *req = (const void *)in;
    stage_t *s = (stage_t *)out;
    if (crm_call_require_manager(call) != 0)
        return -1;
    s->name = req->name;
    s->team_id = req->team_id;
    s->status = req->status ? req->status : STATUS(IN_PROGRESS);
    s->probability = req->probability;
    s->type = req->type ? req->type : STYPE(BOTH);
    s->sequence = req->sequence;
    s->fold = req->fold;
    if (check_stage_fields(call, s) != 0 || pl_check_team(call, "teamId", s->team_id) != 0 ||
        pl_next_id(call, "stage", &s->id) != 0 || pl_put(call, pl->stages, s->id, &s->base) != 0)
        return -1;
    return emit_stage(call, "stage.created", s);
}

int pl_update_stage(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__UpdateStageRequest *req = (const void *)in;
    static const char *const allowed[] = {"name", "status", "probability", "type", "sequence", "fold", NULL};
    crm_status_t st;
    stage_t *s;
    if (crm_call_require_manager(call) != 0)
        return -1;
    if (crm_mask_check(&st, req->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    if (pl_get(call, pl->stages, req->id, &crm__pipeline__v1__stage__descriptor, "id", "stage", (void **)&s) != 0)
        return -1;
    const Google__Protobuf__FieldMask *m = req->update_mask;
    if (crm_mask_has(m, "name"))
        s->name = req->name;
    if (crm_mask_has(m, "status"))
        s->status = req->status ? req->status : STATUS(IN_PROGRESS);
    if (crm_mask_has(m, "probability"))
        s->probability = req->probability;
    if (crm_mask_has(m, "type")) {
        int type = req->type ? req->type : STYPE(BOTH);
        /* the kanban files leads by type: a type they no longer fit would hide them */
        int held = type != (int)s->type ? stage_holds_leads(call, s->id) : 0;
        if (held < 0)
            return -1;
        if (held)
            return crm_call_fail(call, CODE(FAILED_PRECONDITION), "type",
                                 "stage \"%s\" holds leads: its type can change once it is empty", s->name);
        s->type = type;
    }
    if (crm_mask_has(m, "sequence"))
        s->sequence = req->sequence;
    if (crm_mask_has(m, "fold"))
        s->fold = req->fold;
    if (check_stage_fields(call, s) != 0 || pl_put(call, pl->stages, s->id, &s->base) != 0)
        return -1;
    *(stage_t *)out = *s;
    return emit_stage(call, "stage.updated", s);
}

int pl_delete_stage(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__DeleteStageRequest *req = (const void *)in;
    stage_t *s;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->stages, req->id, &crm__pipeline__v1__stage__descriptor, "id", "stage", (void **)&s) != 0)
        return -1;
    int held = stage_holds_leads(call, s->id);
    if (held < 0)
        return -1;
    if (held)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id",
                             "stage \"%s\" holds leads: move them first", s->name);
    uint8_t id_key[8];
    crm_key_put_u64(id_key, (uint64_t)s->id);
    MDB_val key = {8, id_key};
    int rc = mdb_del(crm_call_txn(call), pl->stages, &key, NULL);
    if (rc)
        return crm_call_fail_db(call, rc);
    return emit_stage(call, "stage.deleted", s);
}

int pl_list_stages(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__ListStagesRequest *req = (const void *)in;
    Crm__Pipeline__V1__ListStagesReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (req->type < 0 || req->type > LTYPE(OPPORTUNITY))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "type", "unknown lead type");
    stage_t **list;
    int n = pl_stages_for(call, req->team_id, req->type, &list);
    if (n < 0)
        return -1;
    reply->stages = list;
    reply->n_stages = (size_t)n;
    return 0;
}

/* --- tags and lost reasons: a name each --------------------------------------- */

static int create_named(crm_call_t *call, const char *name, MDB_dbi dbi, const char *counter,
                        ProtobufCMessage *out, int64_t *id_field, char **name_field)
{
    if (crm_call_require_manager(call) != 0 || pl_check_text(call, "name", name, 1, 128) != 0 ||
        pl_check_unique_name(call, dbi, out->descriptor, 0, name) != 0 || pl_next_id(call, counter, id_field) != 0)
        return -1;
    *name_field = (char *)name;
    return pl_put(call, dbi, *id_field, out);
}

/* Reads every record of dbi, decoded as desc, into an arena array. */
static int list_all(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                    void ***items, size_t *n)
{
    MDB_stat ms;
    MDB_cursor *cur;
    int rc = mdb_stat(crm_call_txn(call), dbi, &ms);
    if (rc || (rc = mdb_cursor_open(crm_call_txn(call), dbi, &cur)) != 0)
        return crm_call_fail_db(call, rc);
    *items = crm_arena_alloc(crm_call_arena(call), sizeof(void *) * (ms.ms_entries + 1));
    *n = 0;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && *n < ms.ms_entries;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        void *m = crm_call_unpack(call, desc, d.mv_data, d.mv_size);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        (*items)[(*n)++] = m;
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? crm_call_fail_db(call, rc) : 0;
}

int pl_create_tag(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__Tag *t = (void *)out;
    return create_named(call, ((const Crm__Pipeline__V1__CreateTagRequest *)in)->name, pl->tags, "tag",
                        out, &t->id, &t->name);
}

int pl_list_tags(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__ListTagsReply *r = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    return list_all(call, pl->tags, &crm__pipeline__v1__tag__descriptor, (void ***)&r->tags, &r->n_tags);
}

int pl_create_lost_reason(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__LostReason *t = (void *)out;
    return create_named(call, ((const Crm__Pipeline__V1__CreateLostReasonRequest *)in)->name,
                        pl->lost_reasons, "lost_reason", out, &t->id, &t->name);
}

int pl_list_lost_reasons(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__ListLostReasonsReply *r = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    return list_all(call, pl->lost_reasons, &crm__pipeline__v1__lost_reason__descriptor,
                    (void ***)&r->lost_reasons, &r->n_lost_reasons);
}
