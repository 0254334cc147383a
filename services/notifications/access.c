/* Who may read which document, by pipeline's rules (see ARCHITECTURE.md, Access rules), on what
 * notifications learned of each document and user from other services'
 * events: a service never asks another synchronously (see ARCHITECTURE.md, Read models). */
#include "notifications.h"
#include "crm_access.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

void ntf_doc_key(uint8_t out[NTF_DOC_KEY], int model, int64_t id)
{
    out[0] = (uint8_t)model;
    crm_key_put_u64(out + 1, (uint64_t)id);
}

void ntf_follower_key(uint8_t out[NTF_FOLLOWER_KEY], int model, int64_t id, int64_t user)
{
    ntf_doc_key(out, model, id);
    crm_key_put_u64(out + NTF_DOC_KEY, (uint64_t)user);
}

void ntf_user_key(uint8_t out[NTF_USER_KEY], int64_t user, int64_t entry)
{
    crm_key_put_u64(out, (uint64_t)user);
    crm_key_put_u64(out + 8, (uint64_t)entry);
}

int ntf_doc_get(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id, docinfo_t **out)
{
    uint8_t key[NTF_DOC_KEY];
    ntf_doc_key(key, model, id);
    return crm_db_get_msg(txn, n->docs, key, sizeof key, &crm__notifications__v1__doc_info__descriptor,
                          crm_arena_allocator(arena), (void **)out);
}

userinfo_t *ntf_user_get(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int64_t id)
{
    userinfo_t *u;
    if (id <= 0 || crm_db_get_id(txn, n->users, (uint64_t)id, &crm__notifications__v1__user_info__descriptor,
                                 crm_arena_allocator(arena), (void **)&u) != 0)
        return NULL;
    return u;
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

int ntf_owner_get(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id, ntf_owner_t *out)
{
    docinfo_t *d;
    int rc = ntf_doc_get(n, txn, arena, model, id, &d);
    return rc ? rc : ntf_owner_of(n, txn, arena, model, d, out);
}

int ntf_owner_of(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int model, const docinfo_t *d,
                 ntf_owner_t *out)
{
    if (model == NTF_QUOTATION && d->opportunity_id) {
        docinfo_t *opportunity;
        int rc = ntf_doc_get(n, txn, arena, NTF_LEAD, d->opportunity_id, &opportunity);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0) {
            model = NTF_LEAD;
            d = opportunity;
        }
    }
    out->model = model;
    out->salesperson_id = model == NTF_QUOTATION ? 0 : d->salesperson_id;
    return 0;
}

int ntf_level_reads(int level, int64_t user_id, const ntf_owner_t *o)
{
    if (level == ACCESS(NONE))
        return 0;
    if (o->model == NTF_QUOTATION)
        return level != ACCESS(OWN_LEADS);
    return o->model == NTF_CUSTOMER || crm_lead_visible(level, user_id, o->salesperson_id);
}

int ntf_user_reads(const userinfo_t *user, const ntf_owner_t *o)
{
    if (!user || !user->active)
        return 0;
    return ntf_level_reads(user->is_admin ? ACCESS(MANAGER) : user->sales_access, user->id, o);
}

int ntf_check_doc(crm_call_t *call, const doc_t *doc, ntf_owner_t *owner)
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
    int rc = ntf_owner_get(crm_call_ctx(call), crm_call_txn(call), crm_call_arena(call), model, doc->id, owner);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (rc || !ntf_level_reads(crm_sales_level(p), p->user_id, owner))
        return crm_call_fail(call, CODE(NOT_FOUND), "doc.id", "no %s %lld", doc->model, (long long)doc->id);
    return model;
}
