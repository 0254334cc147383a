/* What a new lead or customer gets when the creator leaves it out, as
 * OpenERP's defaults give it: the creator as salesperson (user_id), their
 * default team (section_id). Every new lead goes through pl_lead_defaults,
 * so CreateLead and imports agree. */
#include "pipeline.h"

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

int pl_team_archived(crm_call_t *call, int64_t team_id)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__TeamInfo *t;
    if (team_id <= 0 || crm_db_get_id(crm_call_txn(call), pl->teams, (uint64_t)team_id,
                                      &crm__pipeline__v1__team_info__descriptor,
                                      crm_arena_allocator(crm_call_arena(call)), (void **)&t) != 0)
        return 0;
    return t->archived;
}

/* The team a record of user gets when it names none: their default team,
 * else their first; an archived one is passed over (it takes nothing new),
 * so a user whose teams are all archived gives none. A user not known here
 * yet gives none. */
static int64_t default_team(crm_call_t *call, int64_t user_id)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u = crm_readmodel_user(&pl->readmodel, crm_call_txn(call), crm_call_arena(call), user_id);
    if (!u)
        return 0;
    if (u->default_team_id && !pl_team_archived(call, u->default_team_id))
        return u->default_team_id;
    for (size_t i = 0; i < u->n_team_ids; i++)
        if (!pl_team_archived(call, u->team_ids[i]))
            return u->team_ids[i];
    return 0;
}

static int creator_sells(crm_call_t *call)
{
    return crm_sales_level(crm_call_principal(call)) != ACCESS(NONE);
}

int pl_lead_defaults(crm_call_t *call, lead_t *l, int unassigned)
{
    int64_t creator = crm_call_principal(call)->user_id;
    if (unassigned && l->salesperson_id)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "unassigned",
                             "a lead with a salesperson cannot also be unassigned");
    if (!l->salesperson_id && !unassigned && creator_sells(call)) {
        l->salesperson_id = creator;
        l->assigned_by = "default";
    }
    if (!l->team_id)
        l->team_id = default_team(call, l->salesperson_id ? l->salesperson_id : creator);
    /* Leads still nobody's here are where a team's assignment rules take
     * over (unassigned, in l->team_id). */
    return 0;
}

int pl_customer_defaults(crm_call_t *call, customer_t *c)
{
    int64_t creator = crm_call_principal(call)->user_id;
    if (!c->salesperson_id && creator_sells(call))
        c->salesperson_id = creator;
    if (!c->team_id)
        c->team_id = default_team(call, c->salesperson_id);
    return 0;
}

int pl_archive_filter_keeps(int filter, int archived)
{
    switch (filter) {
    case CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_ARCHIVED:
        return archived;
    case CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_ALL:
        return 1;
    default:
        return !archived;
    }
}

int pl_check_archive_filter(crm_call_t *call, int filter)
{
    if (filter < 0 || filter > CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_ALL)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "archived", "unknown archive filter");
    return 0;
}
