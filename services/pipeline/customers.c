/* Customers: companies and their contacts, each with a salesperson and a
 * sales team. Every sales user may see and keep them. */
#include "pipeline.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

static int check_customer(crm_call_t *call, customer_t *c, const customer_t *old)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_status_t st;
    if (pl_check_text(call, "name", c->name, 1, 256) != 0 ||
        pl_check_text(call, "phone", c->phone, 0, 64) != 0 ||
        pl_check_text(call, "street", c->street, 0, 256) != 0 ||
        pl_check_text(call, "city", c->city, 0, 128) != 0 ||
        pl_check_text(call, "country", c->country, 0, 128) != 0 ||
        pl_check_text(call, "function", c->function, 0, 128) != 0)
        return -1;
    if (crm_check_email(&st, "email", c->email, 1) != 0)
        return crm_call_fail_status(call, &st);
    if (c->parent_id) {
        customer_t *parent;
        if (pl_get(call, pl->customers, c->parent_id, &crm__pipeline__v1__customer__descriptor, "parentId",
                   "customer", (void **)&parent) != 0)
            return -1;
        if (!parent->is_company || parent->id == c->id)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "parentId",
                                 "a contact's parent must be another customer that is a company");
    }
    if ((!old || old->team_id != c->team_id) && pl_check_team(call, "teamId", c->team_id) != 0)
        return -1;
    if ((!old || old->salesperson_id != c->salesperson_id) &&
        pl_check_salesperson(call, "salespersonId", c->salesperson_id) != 0)
        return -1;
    return 0;
}

/* The contact index: parent, contact id → "", so that a company's contacts
 * are found without reading every customer. */
static int parent_key_move(MDB_txn *txn, MDB_dbi dbi, const customer_t *old, const customer_t *c)
{
    int64_t was = old ? old->parent_id : 0, is = c ? c->parent_id : 0;
    if (was == is)
        return 0;
    uint8_t key[16];
    int rc = 0;
    if (was) {
        crm_key_put_u64(key, (uint64_t)was);
        crm_key_put_u64(key + 8, (uint64_t)old->id);
        MDB_val k = {sizeof key, key};
        rc = mdb_del(txn, dbi, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0 && is) {
        crm_key_put_u64(key, (uint64_t)is);
        crm_key_put_u64(key + 8, (uint64_t)c->id);
        MDB_val k = {sizeof key, key}, d = {0, ""};
        rc = mdb_put(txn, dbi, &k, &d, 0);
    }
    return rc;
}

int pl_customer_save(crm_call_t *call, const customer_t *old, customer_t *c)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    int rc;
    if (c)
        rc = crm_db_put_id(txn, pl->customers, (uint64_t)c->id, &c->base);
    else {
        uint8_t id_key[8];
        crm_key_put_u64(id_key, (uint64_t)old->id);
        MDB_val k = {sizeof id_key, id_key};
        rc = mdb_del(txn, pl->customers, &k, NULL);
    }
    if (rc == 0)
        rc = parent_key_move(txn, pl->by_parent, old, c);
    if (rc != 0)
        return crm_call_fail_db(call, rc);
    return pl_dup_index_customer(call, old, c);
}

static int save_customer(crm_call_t *call, const customer_t *old, customer_t *c, const char *type)
{
    if (pl_customer_save(call, old, c) != 0)
        return -1;
    Crm__Pipeline__V1__CustomerEvent ev = CRM__PIPELINE__V1__CUSTOMER_EVENT__INIT;
    ev.customer = c;
    return crm_call_emit(call, type, &ev.base);
}

int pl_create_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__CreateCustomerRequest *r = (const void *)in;
    customer_t *c = (customer_t *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    c->name = r->name;
    c->is_company = r->is_company;
    c->parent_id = r->parent_id;
    c->email = r->email;
    c->phone = r->phone;
    c->street = r->street;
    c->city = r->city;
    c->country = r->country;
    c->function = r->function;
    c->salesperson_id = r->salesperson_id;
    c->team_id = r->team_id;
    c->created_at = c->updated_at = crm_call_now(call);
    if (pl_customer_defaults(call, c) != 0 || check_customer(call, c, NULL) != 0 ||
        pl_next_id(call, "customer", &c->id) != 0)
        return -1;
    if (save_customer(call, NULL, c, "customer.created") != 0)
        return -1;
    return pl_dup_fill_customer(call, c); /* after the event: never stored */
}

int pl_update_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__UpdateCustomerRequest *r = (const void *)in;
    static const char *const allowed[] = {"name", "is_company", "parent_id", "email", "phone", "street", "city",
                                          "country", "function", "salesperson_id", "team_id", NULL};
    crm_status_t st;
    customer_t *old;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (crm_mask_check(&st, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    if (pl_get(call, pl->customers, r->id, &crm__pipeline__v1__customer__descriptor, "id", "customer",
               (void **)&old) != 0)
        return -1;
    /* OpenERP's record rule for own-leads users: their own customers and
     * nobody's, never another salesperson's (else they could make it theirs) */
    if (crm_call_own_leads_only(call) && old->salesperson_id &&
        old->salesperson_id != crm_call_principal(call)->user_id)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "id",
                             "with own-leads access you may change only your own and unassigned customers");
    customer_t *c = (customer_t *)out;
    *c = *old;
    const Google__Protobuf__FieldMask *m = r->update_mask;
#define TAKE(f, name) if (crm_mask_has(m, name)) c->f = r->f
    TAKE(name, "name");
    TAKE(is_company, "is_company");
    TAKE(parent_id, "parent_id");
    TAKE(email, "email");
    TAKE(phone, "phone");
    TAKE(street, "street");
    TAKE(city, "city");
    TAKE(country, "country");
    TAKE(function, "function");
    TAKE(salesperson_id, "salesperson_id");
    TAKE(team_id, "team_id");
#undef TAKE
    c->updated_at = crm_call_now(call);
    if (check_customer(call, c, old) != 0)
        return -1;
    /* cards show the customer's name, on the boards of any team */
    int rc = strcmp(old->name, c->name) ? pl_version_bump(crm_call_txn(call), pl, PL_BOARDS_ALL) : 0;
    if (rc)
        return crm_call_fail_db(call, rc);
    return save_customer(call, old, c, "customer.updated");
}

int pl_get_customer(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    customer_t *c;
    if (crm_call_require_sales(call) != 0 ||
        pl_get(call, pl->customers, ((const Crm__Pipeline__V1__GetCustomerRequest *)in)->id,
               &crm__pipeline__v1__customer__descriptor, "id", "customer", (void **)&c) != 0)
        return -1;
    *(customer_t *)out = *c;
    return pl_dup_fill_customer(call, (customer_t *)out);
}

static int keep_customer(crm_call_t *call, const void *item, const void *filter)
{
    const customer_t *c = item;
    const Crm__Pipeline__V1__ListCustomersRequest *r = filter;
    if (!pl_archive_filter_keeps(r->archived, c->archived))
        return 0;
    return (!r->parent_id || c->parent_id == r->parent_id) &&
           (!r->query[0] || strcasestr(c->name, r->query) || strcasestr(c->email, r->query));
}

int pl_list_customers(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__ListCustomersRequest *r = (const void *)in;
    Crm__Pipeline__V1__ListCustomersReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0 || pl_check_text(call, "query", r->query, 0, 256) != 0 ||
        pl_check_archive_filter(call, r->archived) != 0)
        return -1;
    return pl_list_page(call, pl->customers, &crm__pipeline__v1__customer__descriptor, r->page_size, r->page_token,
                        keep_customer, r, (void ***)&reply->customers, &reply->n_customers, &reply->next_page_token);
}
