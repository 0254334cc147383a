/* What pipeline knows of identity's users and teams, fed by its events
 * (no synchronous calls between services; see ARCHITECTURE.md, Read models). */
#include "pipeline.h"
#include "identity.pb-c.h"

#include <string.h>

int pl_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    pipeline_t *pl = arg;
    int rc = 0;
    if (!strcmp(ev->type, "user.created") || !strcmp(ev->type, "user.updated")) {
        Crm__Identity__V1__UserEvent *e =
            crm__identity__v1__user_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (!e || !e->user) {
            /* a malformed payload can never be applied: skip it rather than stall */
            if (e)
                crm__identity__v1__user_event__free_unpacked(e, NULL);
            return 0;
        }
        Crm__Pipeline__V1__UserInfo u = CRM__PIPELINE__V1__USER_INFO__INIT;
        u.id = e->user->id;
        u.name = e->user->name;
        u.active = e->user->active;
        u.sales_access = e->user->is_admin ? CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER
                                           : (int32_t)e->user->sales_access;
        u.team_ids = e->user->team_ids;
        u.n_team_ids = e->user->n_team_ids;
        rc = crm_db_put_id(txn, pl->users, (uint64_t)u.id, &u.base);
        crm__identity__v1__user_event__free_unpacked(e, NULL);
    } else if (!strcmp(ev->type, "team.created") || !strcmp(ev->type, "team.updated")) {
        Crm__Identity__V1__TeamEvent *e =
            crm__identity__v1__team_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (!e || !e->team) {
            if (e)
                crm__identity__v1__team_event__free_unpacked(e, NULL);
            return 0;
        }
        Crm__Pipeline__V1__TeamInfo t = CRM__PIPELINE__V1__TEAM_INFO__INIT;
        t.id = e->team->id;
        t.name = e->team->name;
        rc = crm_db_put_id(txn, pl->teams, (uint64_t)t.id, &t.base);
        crm__identity__v1__team_event__free_unpacked(e, NULL);
    }
    return rc;
}
