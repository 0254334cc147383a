/* Archive, restore and delete of leads and customers, reopening a won or
 * lost opportunity, and the upkeep of tags and lost reasons. An archived
 * record keeps its chatter and followers and is out of lists, boards and
 * totals; a deleted one is gone with every key derived from it, and only
 * managers delete (OpenERP's rule). A record still in use is never deleted:
 * each use is an index kept in the transaction of the write that makes it. */
#include "pipeline.h"
#include "crm_log.h"
#include "crm_request.h"

#include <string.h>
#include <strings.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x

/* Refusals say how many records use what would be deleted, up to this. */
#define USES_MAX 1000

static int count_uses(crm_call_t *call, MDB_dbi dbi, int64_t id, int64_t *n)
{
    int rc = pl_index_count(crm_call_txn(call), dbi, id, USES_MAX, n);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* "at least " before a count that reached USES_MAX. */
static const char *at_least(int64_t n) { return n >= USES_MAX ? "at least " : ""; }

/* --- leads ----------------------------------------------------------------------- */

static int set_lead_archived(crm_call_t *call, int64_t id, int archived, ProtobufCMessage *out)
{
    lead_t *old;
    if (crm_call_require_sales(call) != 0 || pl_lead_get_visible(call, id, "id", &old) != 0)
        return -1;
    if (old->archived == archived)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "lead %lld is %s", (long long)id,
                             archived ? "already archived" : "not archived");
    lead_t *l = (lead_t *)out;
    *l = *old;
    l->archived = archived;
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    return pl_lead_emit(call, archived ? "lead.archived" : "lead.restored", l, NULL);
}

int pl_archive_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return set_lead_archived(call, ((const Crm__Pipeline__V1__ArchiveLeadRequest *)in)->id, 1, out);
}

int pl_restore_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return set_lead_archived(call, ((const Crm__Pipeline__V1__RestoreLeadRequest *)in)->id, 0, out);
}

int pl_delete_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t id = ((const Crm__Pipeline__V1__DeleteLeadRequest *)in)->id, quotes;
    lead_t *old;
    if (crm_call_require_manager(call) != 0 || pl_lead_get_visible(call, id, "id", &old) != 0 ||
        count_uses(call, pl->quotes_by_lead, id, &quotes) != 0)
        return -1;
    if (quotes)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id",
                             "lead %lld has %s%lld quotation%s: archive it instead", (long long)id,
                             at_least(quotes), (long long)quotes, quotes == 1 ? "" : "s");
    if (pl_lead_save(call, old, NULL) != 0)
        return -1;
    Crm__Pipeline__V1__LeadEvent ev = CRM__PIPELINE__V1__LEAD_EVENT__INIT;
    ev.lead = old;
    return crm_call_emit(call, "lead.deleted", &ev.base);
}

/* The first stage of the lead's board, by sequence, that is neither won nor
 * lost; or failed_precondition naming stageId. */
static int first_open_stage(crm_call_t *call, const lead_t *l, int64_t *out)
{
    stage_t **list;
    int n = pl_stages_for(call, l->team_id, pl_lead_type(l), &list);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (list[i]->status != STATUS(WON) && list[i]->status != STATUS(LOST)) {
            *out = list[i]->id;
            return 0;
        }
    return crm_call_fail(call, CODE(FAILED_PRECONDITION), "stageId",
                         "this board has no stage that is neither won nor lost");
}

int pl_reopen_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__ReopenLeadRequest *r = (const void *)in;
    lead_t *old;
    if (crm_call_require_sales(call) != 0 || pl_lead_get_visible(call, r->id, "id", &old) != 0)
        return -1;
    if (old->status != STATUS(WON) && old->status != STATUS(LOST))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "lead %lld is neither won nor lost",
                             (long long)r->id);
    lead_t *l = (lead_t *)out;
    *l = *old;
    int64_t stage_id = r->stage_id;
    if (!stage_id && first_open_stage(call, l, &stage_id) != 0)
        return -1;
    l->lost_reason_id = 0;
    l->closed_at = 0;
    if (pl_lead_enter_stage(call, l, stage_id, 0) != 0)
        return -1;
    if (l->status == STATUS(WON) || l->status == STATUS(LOST))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "stageId",
                             "a reopened lead goes to a stage that is neither won nor lost");
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    return pl_lead_emit(call, "lead.reopened", l, old);
}

/* --- customers ------------------------------------------------------------------- */

/* The customer as UpdateCustomer may change it: every sales user, but an
 * own-leads user only their own and nobody's (customers.c). */
static int get_writable_customer(crm_call_t *call, int64_t id, customer_t **out)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (crm_call_require_sales(call) != 0 ||
        pl_get(call, pl->customers, id, &crm__pipeline__v1__customer__descriptor, "id", "customer", (void **)out) != 0)
        return -1;
    if (crm_call_own_leads_only(call) && (*out)->salesperson_id &&
        (*out)->salesperson_id != crm_call_principal(call)->user_id)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "id",
                             "with own-leads access you may change only your own and unassigned customers");
    return 0;
}

static int emit_customer(crm_call_t *call, const char *type, customer_t *c)
{
    Crm__Pipeline__V1__CustomerEvent ev = CRM__PIPELINE__V1__CUSTOMER_EVENT__INIT;
    ev.customer = c;
    return crm_call_emit(call, type, &ev.base);
}

static int set_customer_archived(crm_call_t *call, int64_t id, int archived, ProtobufCMessage *out)
{
    customer_t *old;
    if (get_writable_customer(call, id, &old) != 0)
        return -1;
    if (old->archived == archived)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "customer %lld is %s", (long long)id,
                             archived ? "already archived" : "not archived");
    customer_t *c = (customer_t *)out;
    *c = *old;
    c->archived = archived;
    c->updated_at = crm_call_now(call);
    if (pl_customer_save(call, old, c) != 0)
        return -1;
    return emit_customer(call, archived ? "customer.archived" : "customer.restored", c);
}

int pl_archive_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return set_customer_archived(call, ((const Crm__Pipeline__V1__ArchiveCustomerRequest *)in)->id, 1, out);
}

int pl_restore_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return set_customer_archived(call, ((const Crm__Pipeline__V1__RestoreCustomerRequest *)in)->id, 0, out);
}

int pl_delete_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t id = ((const Crm__Pipeline__V1__DeleteCustomerRequest *)in)->id, leads, contacts, quotes;
    customer_t *old;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->customers, id, &crm__pipeline__v1__customer__descriptor, "id", "customer",
               (void **)&old) != 0 ||
        count_uses(call, pl->by_customer, id, &leads) != 0 || count_uses(call, pl->by_parent, id, &contacts) != 0 ||
        count_uses(call, pl->quotes_by_customer, id, &quotes) != 0)
        return -1;
    if (leads || contacts || quotes)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id",
                             "customer %lld has %s%lld lead%s or opportunit%s, %s%lld contact%s and %s%lld "
                             "quotation%s: archive it instead",
                             (long long)id, at_least(leads), (long long)leads, leads == 1 ? "" : "s",
                             leads == 1 ? "y" : "ies", at_least(contacts), (long long)contacts, contacts == 1 ? "" : "s",
                             at_least(quotes), (long long)quotes, quotes == 1 ? "" : "s");
    /* no card names it (a customer with leads is never deleted): the
     * boards are as they were */
    if (pl_customer_save(call, old, NULL) != 0)
        return -1;
    return emit_customer(call, "customer.deleted", old);
}

/* --- tags and lost reasons ---------------------------------------------------------- */

/* A name each, unique without regard to case. Tags and lost reasons are a
 * manager's short lists: reading them all is the cheap way. */
int pl_check_unique_name(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, int64_t self,
                         const char *name)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k, d;
    int taken = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && !taken; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        /* Tag and LostReason are both {id = 1, name = 2} */
        Crm__Pipeline__V1__Tag *t = crm_call_unpack(call, desc, d.mv_data, d.mv_size);
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        taken = t->id != self && !strcasecmp(t->name, name);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (taken)
        return crm_call_fail(call, CODE(ALREADY_EXISTS), "name", "\"%s\" is already taken", name);
    return 0;
}

int pl_update_tag(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__UpdateTagRequest *r = (const void *)in;
    Crm__Pipeline__V1__Tag *t;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->tags, r->id, &crm__pipeline__v1__tag__descriptor, "id", "tag", (void **)&t) != 0 ||
        pl_check_text(call, "name", r->name, 1, 128) != 0 ||
        pl_check_unique_name(call, pl->tags, &crm__pipeline__v1__tag__descriptor, r->id, r->name) != 0)
        return -1;
    Crm__Pipeline__V1__Tag *nt = (void *)out;
    *nt = *t;
    nt->name = r->name;
    /* cards show their tags' names: every board that polls reloads */
    int rc = pl_version_bump(crm_call_txn(call), pl, PL_BOARDS_ALL);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (pl_put(call, pl->tags, nt->id, &nt->base) != 0)
        return -1;
    Crm__Pipeline__V1__TagEvent ev = CRM__PIPELINE__V1__TAG_EVENT__INIT;
    ev.tag = nt;
    return crm_call_emit(call, "tag.updated", &ev.base);
}

static int delete_id(crm_call_t *call, MDB_dbi dbi, int64_t id)
{
    uint8_t key[8];
    crm_key_put_u64(key, (uint64_t)id);
    MDB_val k = {sizeof key, key};
    int rc = mdb_del(crm_call_txn(call), dbi, &k, NULL);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_delete_tag(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t id = ((const Crm__Pipeline__V1__DeleteTagRequest *)in)->id, uses;
    Crm__Pipeline__V1__Tag *t;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->tags, id, &crm__pipeline__v1__tag__descriptor, "id", "tag", (void **)&t) != 0 ||
        count_uses(call, pl->by_tag, id, &uses) != 0)
        return -1;
    if (uses)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "tag \"%s\" is on %s%lld lead%s", t->name,
                             at_least(uses), (long long)uses, uses == 1 ? "" : "s");
    int rc = pl_version_bump(crm_call_txn(call), pl, PL_BOARDS_ALL);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (delete_id(call, pl->tags, id) != 0)
        return -1;
    Crm__Pipeline__V1__TagEvent ev = CRM__PIPELINE__V1__TAG_EVENT__INIT;
    ev.tag = t;
    return crm_call_emit(call, "tag.deleted", &ev.base);
}

int pl_update_lost_reason(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__UpdateLostReasonRequest *r = (const void *)in;
    Crm__Pipeline__V1__LostReason *t;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->lost_reasons, r->id, &crm__pipeline__v1__lost_reason__descriptor, "id", "lost reason",
               (void **)&t) != 0 ||
        pl_check_text(call, "name", r->name, 1, 128) != 0 ||
        pl_check_unique_name(call, pl->lost_reasons, &crm__pipeline__v1__lost_reason__descriptor, r->id, r->name) != 0)
        return -1;
    Crm__Pipeline__V1__LostReason *nt = (void *)out;
    *nt = *t;
    nt->name = r->name;
    if (pl_put(call, pl->lost_reasons, nt->id, &nt->base) != 0)
        return -1;
    Crm__Pipeline__V1__LostReasonEvent ev = CRM__PIPELINE__V1__LOST_REASON_EVENT__INIT;
    ev.lost_reason = nt;
    return crm_call_emit(call, "lost_reason.updated", &ev.base);
}

int pl_delete_lost_reason(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t id = ((const Crm__Pipeline__V1__DeleteLostReasonRequest *)in)->id, uses;
    Crm__Pipeline__V1__LostReason *t;
    if (crm_call_require_manager(call) != 0 ||
        pl_get(call, pl->lost_reasons, id, &crm__pipeline__v1__lost_reason__descriptor, "id", "lost reason",
               (void **)&t) != 0 ||
        count_uses(call, pl->by_lost_reason, id, &uses) != 0)
        return -1;
    if (uses)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "lost reason \"%s\" is on %s%lld lead%s",
                             t->name, at_least(uses), (long long)uses, uses == 1 ? "" : "s");
    if (delete_id(call, pl->lost_reasons, id) != 0)
        return -1;
    Crm__Pipeline__V1__LostReasonEvent ev = CRM__PIPELINE__V1__LOST_REASON_EVENT__INIT;
    ev.lost_reason = t;
    return crm_call_emit(call, "lost_reason.deleted", &ev.base);
}

/* --- schema 4 ------------------------------------------------------------------------- */

static int index_parent(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    pipeline_t *pl = arg;
    customer_t *c = crm__pipeline__v1__customer__unpack(NULL, data->mv_size, data->mv_data);
    if (!c)
        return MDB_CORRUPTED;
    int rc = 0;
    if (c->parent_id) {
        uint8_t k[16];
        crm_key_put_u64(k, (uint64_t)c->parent_id);
        crm_key_put_u64(k + 8, (uint64_t)c->id);
        MDB_val kv = {sizeof k, k}, dv = {0, ""};
        rc = mdb_put(txn, pl->by_parent, &kv, &dv, 0);
    }
    crm__pipeline__v1__customer__free_unpacked(c, NULL);
    return rc;
}

static int index_quote_customer(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    pipeline_t *pl = arg;
    Crm__Pipeline__V1__Quotation *q = crm__pipeline__v1__quotation__unpack(NULL, data->mv_size, data->mv_data);
    if (!q)
        return MDB_CORRUPTED;
    uint8_t k[16];
    crm_key_put_u64(k, (uint64_t)q->customer_id);
    crm_key_put_u64(k + 8, (uint64_t)q->id);
    MDB_val kv = {sizeof k, k}, dv = {0, ""};
    int rc = q->customer_id ? mdb_put(txn, pl->quotes_by_customer, &kv, &dv, 0) : 0;
    crm__pipeline__v1__quotation__free_unpacked(q, NULL);
    return rc;
}

/* Each pass only adds keys, so a pass cut short and run again from its
 * last kept key writes what is there already: nothing twice. */
int pl_upgrade_archive_indexes(pipeline_t *pl, crm_store_t *store)
{
    int rc;
    if ((rc = crm_store_rewrite(store, pl->leads, "by_lost_reason", pl_index_lost_reason, pl, 1000)) != 0 ||
        (rc = crm_store_rewrite(store, pl->customers, "by_parent", index_parent, pl, 1000)) != 0 ||
        (rc = crm_store_rewrite(store, pl->quotations, "quotes_by_customer", index_quote_customer, pl, 1000)) != 0)
        crm_error("indexing lost reasons, contacts and quotations: %s", mdb_strerror(rc));
    return rc;
}
