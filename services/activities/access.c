/* Who may read which document, by pipeline's rules (see ARCHITECTURE.md, Access rules), on what
 * activities learned of each document from pipeline's events: a service
 * never asks another synchronously (see ARCHITECTURE.md, Read models). */
#include "activities.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

void act_doc_key(uint8_t out[ACT_DOC_KEY], int model, int64_t id) { crm_doc_key(out, model, id); }

void act_doc_time_key(uint8_t out[ACT_TIME_KEY], int model, int64_t doc_id, int64_t at, int64_t id)
{
    act_doc_key(out, model, doc_id);
    crm_key_put_u64(out + 9, (uint64_t)at);
    crm_key_put_u64(out + 17, (uint64_t)id);
}

/* Whether a user of sales level `level` may read the document: 1 yes, 0 no
 * (or unknown), or -1 with the LMDB code in *err. */
static int readable(crm_call_t *call, int level, int64_t user, int model, int64_t id, int *err)
{
    activities_t *a = crm_call_ctx(call);
    crm_doc_owner_t owner;
    int rc = crm_readmodel_owner(&a->readmodel, crm_call_txn(call), crm_call_arena(call), model, id, &owner);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc) {
        *err = rc;
        return -1;
    }
    return crm_level_reads(level, user, &owner);
}

static int caller_readable(crm_call_t *call, int model, int64_t id, int *err)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    return readable(call, crm_sales_level(p), p ? p->user_id : 0, model, id, err);
}

int act_doc_readable(crm_call_t *call, const doc_t *doc)
{
    if (!doc)
        return 0;
    int err, r = caller_readable(call, crm_doc_model(doc->model), doc->id, &err);
    return r < 0 ? crm_call_fail_db(call, err) : r;
}

int act_check_doc(crm_call_t *call, const char *field, const doc_t *doc)
{
    if (crm_call_require_sales(call) != 0)
        return -1;
    char f[64];
    if (!doc)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "%s is required: {model, id}", field);
    int model = crm_doc_model(doc->model);
    if (!model) {
        snprintf(f, sizeof f, "%s.model", field);
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be lead, customer or quotation", f);
    }
    snprintf(f, sizeof f, "%s.id", field);
    if (doc->id <= 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be a positive id", f);
    int err, r = caller_readable(call, model, doc->id, &err);
    if (r < 0)
        return crm_call_fail_db(call, err);
    if (!r)
        return crm_call_fail(call, CODE(NOT_FOUND), f, "no %s %lld", doc->model, (long long)doc->id);
    return 0;
}

crm_userinfo_t *act_user(crm_call_t *call, int64_t id)
{
    activities_t *a = crm_call_ctx(call);
    return crm_readmodel_user(&a->readmodel, crm_call_txn(call), crm_call_arena(call), id);
}

int act_check_user(crm_call_t *call, const char *field, int64_t user_id, int sales)
{
    crm_userinfo_t *u = act_user(call, user_id);
    if (!u || !u->active)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld is not an active user",
                             (long long)user_id);
    if (sales && crm_readmodel_user_level(u) == ACCESS(NONE))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld has no sales access",
                             (long long)user_id);
    return 0;
}

int act_check_reader(crm_call_t *call, const char *field, int64_t user_id, const doc_t *doc)
{
    int level = crm_readmodel_user_level(act_user(call, user_id));
    int err, r = readable(call, level, user_id, crm_doc_model(doc->model), doc->id, &err);
    if (r < 0)
        return crm_call_fail_db(call, err);
    if (!r)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld may not see %s %lld",
                             (long long)user_id, doc->model, (long long)doc->id);
    return 0;
}
