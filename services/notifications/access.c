/* Who may read which document, by pipeline's rules (see ARCHITECTURE.md, Access rules), on what
 * notifications learned of each document and user from other services'
 * events: a service never asks another synchronously (see ARCHITECTURE.md, Read models). */
#include "notifications.h"
#include "crm_access.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

void ntf_follower_key(uint8_t out[NTF_FOLLOWER_KEY], int model, int64_t id, int64_t user)
{
    crm_doc_key(out, model, id);
    crm_key_put_u64(out + NTF_DOC_KEY, (uint64_t)user);
}

void ntf_user_key(uint8_t out[NTF_USER_KEY], int64_t user, int64_t entry)
{
    crm_key_put_u64(out, (uint64_t)user);
    crm_key_put_u64(out + 8, (uint64_t)entry);
}

int ntf_state_get(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int64_t user, inbox_state_t **out)
{
    int rc = crm_db_get_id(txn, n->state, (uint64_t)user, &crm__notifications__v1__inbox_state__descriptor,
                           crm_arena_allocator(arena), (void **)out);
    if (rc == MDB_NOTFOUND) {
        *out = crm_arena_alloc(arena, sizeof **out);
        crm__notifications__v1__inbox_state__init(*out);
        rc = 0;
    }
    return rc;
}

int ntf_doc_stream_get(notifications_t *n, MDB_txn *txn, int model, int64_t id, uint64_t *seq)
{
    uint8_t key[CRM_DOC_KEY];
    crm_doc_key(key, model, id);
    MDB_val k = {sizeof key, key}, d;
    int rc = mdb_get(txn, n->doc_streams, &k, &d);
    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && d.mv_size != 8)
        return MDB_CORRUPTED;
    if (rc == 0)
        *seq = crm_key_get_u64(d.mv_data);
    return rc;
}

int ntf_doc_stream_put(notifications_t *n, MDB_txn *txn, int model, int64_t id, uint64_t seq)
{
    uint8_t key[CRM_DOC_KEY], val[8];
    crm_doc_key(key, model, id);
    crm_key_put_u64(val, seq);
    MDB_val k = {sizeof key, key}, d = {sizeof val, val};
    return mdb_put(txn, n->doc_streams, &k, &d, 0);
}

int ntf_check_doc(crm_call_t *call, const doc_t *doc, crm_doc_owner_t *owner)
{
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (!doc)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "doc", "doc is required: {model, id}");
    int model = crm_doc_model(doc->model);
    if (!model)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "doc.model", "doc.model must be lead, customer or quotation");
    if (doc->id <= 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "doc.id", "doc.id must be a positive id");
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    notifications_t *n = crm_call_ctx(call);
    int rc = crm_readmodel_owner(&n->readmodel, crm_call_txn(call), crm_call_arena(call), model, doc->id, owner);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (rc || !crm_level_reads(crm_sales_level(p), p->user_id, owner))
        return crm_call_fail(call, CODE(NOT_FOUND), "doc.id", "no %s %lld", doc->model, (long long)doc->id);
    return model;
}
