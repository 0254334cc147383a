#ifndef CRM_ACCESS_H
#define CRM_ACCESS_H

#include <stdint.h>
#include "crm_rpc_server.h"
#include "rpc.pb-c.h"

/* The sales access rules (see ARCHITECTURE.md, Access rules), one copy for every service that
 * keeps sales documents: Own Leads Only sees leads assigned to them or to
 * nobody, All Leads sees every lead, Manager also configures and reports;
 * an administrator counts as a manager, as OpenERP's admin does. */

/* Documents with a chatter and followers, by model: the number is the first
 * byte of every per-document key in the stores that keep them. */
enum { CRM_DOC_LEAD = 1, CRM_DOC_CUSTOMER = 2, CRM_DOC_QUOTATION = 3 };

/* The model number of a DocRef's model name ("lead", ...), or 0. */
int crm_doc_model(const char *name);
/* The name of a model number, or "". */
const char *crm_doc_model_name(int model);

/* The caller's sales level (a SalesAccess value); NONE without a principal. */
int crm_sales_level(const Crm__Rpc__V1__Principal *p);

/* 1 if a user of sales level `level` and id user_id may see a lead
 * assigned to salesperson_id (0: nobody). Can't fail. */
int crm_lead_visible(int level, int64_t user_id, int64_t salesperson_id);

/* The same for the caller of call. */
int crm_call_sees_lead(crm_call_t *call, int64_t salesperson_id);

/* 1 if the caller sees only their own and unassigned leads. */
int crm_call_own_leads_only(crm_call_t *call);

/* 0 if the caller has sales access, else -1 with permission_denied set. */
int crm_call_require_sales(crm_call_t *call);

/* 0 if the caller is a sales manager (or administrator), else -1 with
 * permission_denied set. */
int crm_call_require_manager(crm_call_t *call);

#endif
