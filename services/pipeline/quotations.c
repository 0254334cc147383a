/* Quotations made from opportunities ("Make Quotation"), numbered SO001, ... */
#include "pipeline.h"
#include "crm_request.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x

typedef Crm__Pipeline__V1__Quotation quote_t;

int pl_make_quotation(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__MakeQuotationRequest *r = (const void *)in;
    quote_t *q = (quote_t *)out;
    lead_t *old;
    if (crm_call_require_sales(call) != 0 ||
        pl_get(call, pl->leads, r->opportunity_id, &crm__pipeline__v1__lead__descriptor, "opportunityId", "lead",
               (void **)&old) != 0)
        return -1;
    if (!crm_call_sees_lead(call, old->salesperson_id))
        return crm_call_fail(call, CODE(NOT_FOUND), "opportunityId", "no lead %lld", (long long)r->opportunity_id);
    if (!old->customer_id)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "opportunityId",
                             "a quotation needs a customer: set one on the opportunity first");
    if (old->status == STATUS(LOST))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "opportunityId", "the opportunity is lost");
    q->customer_id = old->customer_id;
    q->opportunity_id = old->id;
    q->amount = old->expected_revenue;
    q->currency = old->currency;
    q->state = "draft";
    q->created_at = crm_call_now(call);
    q->created_by = crm_call_principal(call)->user_id;
    if (pl_next_id(call, "quotation", &q->id) != 0)
        return -1;
    q->name = crm_arena_printf(crm_call_arena(call), "SO%03lld", (long long)q->id);
    uint8_t key[16];
    crm_key_put_u64(key, (uint64_t)old->id);
    crm_key_put_u64(key + 8, (uint64_t)q->id);
    MDB_val k = {16, key}, d = {0, ""};
    int rc = mdb_put(crm_call_txn(call), pl->quotes_by_lead, &k, &d, 0);
    /* and by customer: a customer with quotations is never deleted */
    crm_key_put_u64(key, (uint64_t)q->customer_id);
    if (rc == 0 && q->customer_id)
        rc = mdb_put(crm_call_txn(call), pl->quotes_by_customer, &k, &d, 0);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (pl_put(call, pl->quotations, q->id, &q->base) != 0)
        return -1;
    Crm__Pipeline__V1__QuotationEvent ev = CRM__PIPELINE__V1__QUOTATION_EVENT__INIT;
    ev.quotation = q;
    if (crm_call_emit(call, "quotation.created", &ev.base) != 0)
        return -1;
    if (r->mark_won && old->status != STATUS(WON)) {
        lead_t *l = crm_call_new(call, &crm__pipeline__v1__lead__descriptor);
        *l = *old;
        return pl_close_lead(call, l, old, STATUS(WON), 0);
    }
    return 0;
}

/* The caller sees a quotation when they see its opportunity. */
static int quote_visible(crm_call_t *call, const quote_t *q)
{
    pipeline_t *pl = crm_call_ctx(call);
    lead_t *l;
    if (crm_db_get_id(crm_call_txn(call), pl->leads, (uint64_t)q->opportunity_id, &crm__pipeline__v1__lead__descriptor,
                      crm_arena_allocator(crm_call_arena(call)), (void **)&l) != 0)
        return !crm_call_own_leads_only(call);
    return crm_call_sees_lead(call, l->salesperson_id);
}

int pl_get_quotation(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t id = ((const Crm__Pipeline__V1__GetQuotationRequest *)in)->id;
    quote_t *q;
    if (crm_call_require_sales(call) != 0 ||
        pl_get(call, pl->quotations, id, &crm__pipeline__v1__quotation__descriptor, "id", "quotation", (void **)&q) != 0)
        return -1;
    if (!quote_visible(call, q))
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no quotation %lld", (long long)id);
    *(quote_t *)out = *q;
    return 0;
}

static int keep_quote(crm_call_t *call, const void *item, const void *filter)
{
    const quote_t *q = item;
    const Crm__Pipeline__V1__ListQuotationsRequest *r = filter;
    return (!r->customer_id || q->customer_id == r->customer_id) &&
           (!r->opportunity_id || q->opportunity_id == r->opportunity_id) && quote_visible(call, q);
}

int pl_list_quotations(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__ListQuotationsRequest *r = (const void *)in;
    Crm__Pipeline__V1__ListQuotationsReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    return pl_list_page(call, pl->quotations, &crm__pipeline__v1__quotation__descriptor, r->page_size, r->page_token,
                        keep_quote, r, (void ***)&reply->quotations, &reply->n_quotations, &reply->next_page_token);
}
