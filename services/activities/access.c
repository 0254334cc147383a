/* Who may read which document, by pipeline's rules (decision 8), on what
 * activities learned of each document from pipeline's events: a service
 * never asks another synchronously (decision 3). */
#include "activities.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

static const char *const model_names[] = {NULL, "lead", "customer", "quotation"};

int act_model(const char *name)
{
    for (int i = ACT_LEAD; i <= ACT_QUOTATION; i++)
        if (name && !strcmp(name, model_names[i]))
            return i;
    return 0;
}

const char *act_model_name(int model)
{
    return model >= ACT_LEAD && model <= ACT_QUOTATION ? model_names[model] : "";
}

void act_doc_key(uint8_t out[ACT_DOC_KEY], int model, int64_t id)
{
    out[0] = (uint8_t)model;
    crm_key_put_u64(out + 1, (uint64_t)id);
}

void act_doc_time_key(uint8_t out[ACT_TIME_KEY], int model, int64_t doc_id, int64_t at, int64_t id)
{
    act_doc_key(out, model, doc_id);
    crm_key_put_u64(out + 9, (uint64_t)at);
    crm_key_put_u64(out + 17, (uint64_t)id);
}

static int access_level(crm_call_t *call)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (!p)
        return ACCESS(NONE);
    return p->is_admin ? ACCESS(MANAGER) : (int)p->sales_access;
}

int act_require_sales(crm_call_t *call)
{
    if (access_level(call) != ACCESS(NONE))
        return 0;
    return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL, "this needs sales access");
}

int act_own_only(crm_call_t *call) { return access_level(call) == ACCESS(OWN_LEADS); }
int act_is_manager(crm_call_t *call) { return access_level(call) == ACCESS(MANAGER); }

/* The document's record: 0, MDB_NOTFOUND or another LMDB code. */
static int doc_info(crm_call_t *call, int model, int64_t id, Crm__Activities__V1__DocInfo **out)
{
    activities_t *a = crm_call_ctx(call);
    uint8_t key[ACT_DOC_KEY];
    act_doc_key(key, model, id);
    return crm_db_get_msg(crm_call_txn(call), a->docs, key, sizeof key,
                          &crm__activities__v1__doc_info__descriptor,
                          crm_arena_allocator(crm_call_arena(call)), (void **)out);
}

static int lead_readable(int level, int64_t user, const Crm__Activities__V1__DocInfo *lead)
{
    if (level != ACCESS(OWN_LEADS))
        return 1;
    return lead->salesperson_id == 0 || lead->salesperson_id == user;
}

/* Whether a user of sales level `level` may read the document: 1 yes, 0 no
 * (or unknown), or a negative LMDB code. */
static int readable(crm_call_t *call, int level, int64_t user, int model, int64_t id)
{
    if (level == ACCESS(NONE))
        return 0;
    Crm__Activities__V1__DocInfo *d;
    int rc = doc_info(call, model, id, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc > 0 ? -rc : rc;
    switch (model) {
    case ACT_LEAD:
        return lead_readable(level, user, d);
    case ACT_CUSTOMER:
        return 1;
    case ACT_QUOTATION:
        if (!d->opportunity_id)
            return level != ACCESS(OWN_LEADS);
        rc = doc_info(call, ACT_LEAD, d->opportunity_id, &d);
        if (rc == MDB_NOTFOUND)
            return level != ACCESS(OWN_LEADS);
        if (rc)
            return rc > 0 ? -rc : rc;
        return lead_readable(level, user, d);
    default:
        return 0;
    }
}

static int caller_readable(crm_call_t *call, int model, int64_t id)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    return readable(call, access_level(call), p ? p->user_id : 0, model, id);
}

int act_doc_readable(crm_call_t *call, const doc_t *doc)
{
    if (!doc)
        return 0;
    int r = caller_readable(call, act_model(doc->model), doc->id);
    return r < 0 ? crm_call_fail_db(call, -r) : r;
}

int act_check_doc(crm_call_t *call, const char *field, const doc_t *doc)
{
    if (act_require_sales(call) != 0)
        return -1;
    char f[64];
    if (!doc)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "%s is required: {model, id}", field);
    int model = act_model(doc->model);
    if (!model) {
        snprintf(f, sizeof f, "%s.model", field);
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be lead, customer or quotation", f);
    }
    snprintf(f, sizeof f, "%s.id", field);
    if (doc->id <= 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s must be a positive id", f);
    int r = caller_readable(call, model, doc->id);
    if (r < 0)
        return crm_call_fail_db(call, -r);
    if (!r)
        return crm_call_fail(call, CODE(NOT_FOUND), f, "no %s %lld", doc->model, (long long)doc->id);
    return 0;
}

Crm__Activities__V1__UserInfo *act_user(activities_t *a, MDB_txn *txn, crm_arena_t *arena, int64_t id)
{
    Crm__Activities__V1__UserInfo *u;
    if (id <= 0 || crm_db_get_id(txn, a->users, (uint64_t)id, &crm__activities__v1__user_info__descriptor,
                                 crm_arena_allocator(arena), (void **)&u) != 0)
        return NULL;
    return u;
}

int act_check_user(crm_call_t *call, const char *field, int64_t user_id, int sales)
{
    Crm__Activities__V1__UserInfo *u = act_user(crm_call_ctx(call), crm_call_txn(call), crm_call_arena(call), user_id);
    if (!u || !u->active)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld is not an active user",
                             (long long)user_id);
    if (sales && !u->is_admin && u->sales_access == ACCESS(NONE))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld has no sales access",
                             (long long)user_id);
    return 0;
}

int act_check_reader(crm_call_t *call, const char *field, int64_t user_id, const doc_t *doc)
{
    Crm__Activities__V1__UserInfo *u = act_user(crm_call_ctx(call), crm_call_txn(call), crm_call_arena(call), user_id);
    int level = !u ? ACCESS(NONE) : u->is_admin ? ACCESS(MANAGER) : u->sales_access;
    int r = readable(call, level, user_id, act_model(doc->model), doc->id);
    if (r < 0)
        return crm_call_fail_db(call, -r);
    if (!r)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld may not see %s %lld",
                             (long long)user_id, doc->model, (long long)doc->id);
    return 0;
}

int act_emit(crm_call_t *call, const char *type, const ProtobufCMessage *payload)
{
    activities_t *a = crm_call_ctx(call);
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    int rc = crm_outbox_append(a->outbox, crm_call_txn(call), type, p ? p->user_id : 0, payload, NULL);
    return rc ? crm_call_fail_db(call, rc) : 0;
}
