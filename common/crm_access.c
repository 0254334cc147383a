#include "crm_access.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

static const char *const model_names[] = {NULL, "lead", "customer", "quotation"};

int crm_doc_model(const char *name)
{
    for (int i = CRM_DOC_LEAD; i <= CRM_DOC_QUOTATION; i++)
        if (name && !strcmp(name, model_names[i]))
            return i;
    return 0;
}

const char *crm_doc_model_name(int model)
{
    return model >= CRM_DOC_LEAD && model <= CRM_DOC_QUOTATION ? model_names[model] : "";
}

int crm_sales_level(const Crm__Rpc__V1__Principal *p)
{
    if (!p)
        return ACCESS(NONE);
    return p->is_admin ? ACCESS(MANAGER) : (int)p->sales_access;
}

int crm_lead_visible(int level, int64_t user_id, int64_t salesperson_id)
{
    if (level == ACCESS(NONE))
        return 0;
    return level != ACCESS(OWN_LEADS) || salesperson_id == 0 || salesperson_id == user_id;
}

int crm_call_sees_lead(crm_call_t *call, int64_t salesperson_id)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    return crm_lead_visible(crm_sales_level(p), p ? p->user_id : 0, salesperson_id);
}

int crm_call_own_leads_only(crm_call_t *call)
{
    return crm_sales_level(crm_call_principal(call)) == ACCESS(OWN_LEADS);
}

int crm_call_require_sales(crm_call_t *call)
{
    if (crm_sales_level(crm_call_principal(call)) != ACCESS(NONE))
        return 0;
    return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL, "this needs sales access");
}

int crm_call_require_manager(crm_call_t *call)
{
    if (crm_sales_level(crm_call_principal(call)) == ACCESS(MANAGER))
        return 0;
    return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL, "this needs the sales manager level");
}
