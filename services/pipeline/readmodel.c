/* What pipeline knows of identity's users and teams, fed by its events
 * (no synchronous calls between services; see ARCHITECTURE.md, Read models).
 * Users are the read model every service shares (crm_readmodel); teams are
 * pipeline's own. */
#include "pipeline.h"
#include "crm_consumer.h"
#include "identity.pb-c.h"

#include <string.h>

int pl_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    pipeline_t *pl = arg;
    crm_arena_reset(pl->apply_arena);
    if (strcmp(ev->type, "team.created") && strcmp(ev->type, "team.updated")) {
        int rc = crm_readmodel_apply(&pl->readmodel, txn, pl->apply_arena, ev);
        /* a user's name or access changed: every board may show it */
        if (rc == 0 && (rc = pl_version_bump(txn, pl, PL_BOARDS_ALL)) != 0)
            return rc;
        return rc;
    }
    Crm__Identity__V1__TeamEvent *e = crm__identity__v1__team_event__unpack(crm_arena_allocator(pl->apply_arena),
                                                                           ev->payload.len, ev->payload.data);
    if (!e || !e->team)
        return CRM_CONSUMER_UNCHANGED; /* a malformed payload can never be applied: skip it rather than stall */
    Crm__Pipeline__V1__TeamInfo t = CRM__PIPELINE__V1__TEAM_INFO__INIT;
    t.id = e->team->id;
    t.name = e->team->name;
    t.archived = e->team->archived;
    int rc = crm_db_put_id(txn, pl->teams, (uint64_t)t.id, &t.base);
    /* the team's cards show its name: its board changes with this batch */
    return rc ? rc : pl_version_bump(txn, pl, t.id);
}
