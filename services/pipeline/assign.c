/* Assignment rules: per team, its members in round-robin order, each with
 * a maximum of new leads in any 30 days; the team's unassigned leads given
 * by them as they come (CreateLead, when the team says auto_assign) and on
 * demand (AssignLeads). The log of who was given what is assign_log.c. */
#include "pipeline.h"
#include "assign_log.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x
#define MEMBERS_MAX 100
#define PER_30_DAYS_MAX 10000
#define ASSIGN_DEFAULT 100
#define ASSIGN_MAX 1000

typedef Crm__Pipeline__V1__AssignmentRules rules_t;
typedef Crm__Pipeline__V1__AssignmentMember member_t;
typedef Crm__Pipeline__V1__TeamInfo team_t;

/* The rules of a team as round robin needs them. A member's eligibility
 * and count are read when their turn comes, once: a lead given as it comes
 * reads one count, not the whole team's. */
typedef struct {
    crm_call_t *call;
    rules_t *rules;       /* as stored; an empty one for a team without */
    int stored;           /* 1 if the team has a record */
    team_t *team;
    int64_t *user_ids;    /* the members' ids, in order */
    int64_t *counts;      /* leads given in the last 30 days; -1 not read yet */
    signed char *eligible; /* active, with sales access, in the team; -1 not read yet */
} pool_t;

/* --- records ---------------------------------------------------------------- */

/* The team's rules into *out (an empty record when it has none), *stored
 * telling which. Returns 0 or -1 with a storage error set. */
static int rules_read(crm_call_t *call, int64_t team_id, rules_t **out, int *stored)
{
    pipeline_t *pl = crm_call_ctx(call);
    int rc = crm_db_get_id(crm_call_txn(call), pl->assign_rules, (uint64_t)team_id,
                           &crm__pipeline__v1__assignment_rules__descriptor, crm_arena_allocator(crm_call_arena(call)),
                           (void **)out);
    *stored = rc == 0;
    if (rc == MDB_NOTFOUND) {
        *out = crm_call_new(call, &crm__pipeline__v1__assignment_rules__descriptor);
        (*out)->team_id = team_id;
        return 0;
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* Stores the rules without what replies add (the counts). */
static int rules_write(crm_call_t *call, const rules_t *r)
{
    pipeline_t *pl = crm_call_ctx(call);
    rules_t copy = *r;
    member_t *members = crm_arena_alloc(crm_call_arena(call), sizeof *members * (r->n_members + 1));
    member_t **list = crm_arena_alloc(crm_call_arena(call), sizeof *list * (r->n_members + 1));
    for (size_t i = 0; i < r->n_members; i++) {
        crm__pipeline__v1__assignment_member__init(&members[i]);
        members[i].user_id = r->members[i]->user_id;
        members[i].max_per_30_days = r->members[i]->max_per_30_days;
        list[i] = &members[i];
    }
    copy.members = list;
    return pl_put(call, pl->assign_rules, r->team_id, &copy.base);
}

/* The team by id: not_found naming field when there is none. */
static int team_get(crm_call_t *call, int64_t team_id, const char *field, team_t **out)
{
    pipeline_t *pl = crm_call_ctx(call);
    return pl_get(call, pl->teams, team_id, &crm__pipeline__v1__team_info__descriptor, field, "sales team",
                  (void **)out);
}

static int in_list(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* Why user may not be given the team's leads ("" if they may): an unknown,
 * inactive, sales-less user or one not in the team. */
static const char *ineligible(crm_call_t *call, int64_t team_id, int64_t user_id)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u = crm_readmodel_user(&pl->readmodel, crm_call_txn(call), crm_call_arena(call), user_id);
    if (!u || !u->active)
        return "is not an active user";
    if (crm_readmodel_user_level(u) == ACCESS(NONE))
        return "has no sales access";
    if (!in_list(u->team_ids, u->n_team_ids, team_id))
        return "is not a member of the team";
    return "";
}

/* --- the pool ------------------------------------------------------------------ */

/* The team's rules, nothing of its members read yet. Returns 0 or -1 with
 * the error set. */
static int pool_load(crm_call_t *call, int64_t team_id, pool_t *p)
{
    memset(p, 0, sizeof *p);
    p->call = call;
    if (team_get(call, team_id, "teamId", &p->team) != 0 || rules_read(call, team_id, &p->rules, &p->stored) != 0)
        return -1;
    size_t n = p->rules->n_members;
    crm_arena_t *arena = crm_call_arena(call);
    p->user_ids = crm_arena_alloc(arena, sizeof *p->user_ids * (n + 1));
    p->counts = crm_arena_alloc(arena, sizeof *p->counts * (n + 1));
    p->eligible = crm_arena_alloc(arena, n + 1);
    for (size_t i = 0; i < n; i++) {
        p->user_ids[i] = p->rules->members[i]->user_id;
        p->counts[i] = -1;
        p->eligible[i] = -1;
    }
    return 0;
}

/* Member i's count of the last 30 days, read once into the pool and the
 * reply's member row. Returns 0 or -1 with the error set. */
static int pool_count(pool_t *p, size_t i)
{
    if (p->counts[i] >= 0)
        return 0;
    pipeline_t *pl = crm_call_ctx(p->call);
    int rc = pl_assign_log_count(crm_call_txn(p->call), pl->assign_log, p->rules->team_id, p->user_ids[i],
                                 crm_call_now(p->call), PER_30_DAYS_MAX, &p->counts[i]);
    if (rc)
        return crm_call_fail_db(p->call, rc);
    p->rules->members[i]->assigned_last_30_days = (int32_t)p->counts[i];
    return 0;
}

/* Every member's count, for a reply. Returns 0 or -1 with the error set. */
static int pool_count_all(pool_t *p)
{
    for (size_t i = 0; i < p->rules->n_members; i++)
        if (pool_count(p, i) != 0)
            return -1;
    return 0;
}

/* pl_assign_next's question: may member i be given a lead now? */
static int pool_available(void *arg, size_t i)
{
    pool_t *p = arg;
    if (p->eligible[i] < 0)
        p->eligible[i] = !ineligible(p->call, p->rules->team_id, p->user_ids[i])[0];
    if (!p->eligible[i])
        return 0;
    if (pool_count(p, i) != 0)
        return -1;
    return p->counts[i] < p->rules->members[i]->max_per_30_days;
}

/* Gives lead_id to the next member in turn: *user_id gets them, or 0 when
 * nobody may take it now. Logs it and moves the turn (the rules record is
 * written by the caller, once). Returns 0 or -1 with the error set. */
static int pool_take(crm_call_t *call, pool_t *p, int64_t lead_id, int64_t *user_id)
{
    pipeline_t *pl = crm_call_ctx(call);
    *user_id = 0;
    int i = pl_assign_next(p->user_ids, p->rules->n_members, p->rules->last_assigned_user_id, pool_available, p);
    if (i == -2)
        return -1;
    if (i < 0)
        return 0;
    int rc = pl_assign_log_add(crm_call_txn(call), pl->assign_log, p->rules->team_id, p->user_ids[i],
                               crm_call_now(call), lead_id);
    if (rc)
        return crm_call_fail_db(call, rc);
    p->rules->members[i]->assigned_last_30_days = (int32_t)++p->counts[i];
    p->rules->last_assigned_user_id = *user_id = p->user_ids[i];
    return 0;
}

/* --- as leads come --------------------------------------------------------------- */

int pl_assign_new_lead(crm_call_t *call, lead_t *lead)
{
    if (lead->salesperson_id || !lead->team_id || lead->status == STATUS(WON) || lead->status == STATUS(LOST))
        return 0;
    pool_t p;
    if (pool_load(call, lead->team_id, &p) != 0)
        return -1;
    if (!p.rules->auto_assign)
        return 0;
    int64_t user;
    if (pool_take(call, &p, lead->id, &user) != 0)
        return -1;
    if (!user)
        return 0; /* nobody can take it now: it waits, unassigned, for AssignLeads */
    lead->salesperson_id = user;
    lead->assigned_by = "assignment";
    /* events carry the team's name so that the chatter can say whose rules */
    lead->team_name = p.team->name;
    return rules_write(call, p.rules);
}

/* --- methods ------------------------------------------------------------------------ */

int pl_get_assignment_rules(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__GetAssignmentRulesRequest *r = (const void *)in;
    const Crm__Rpc__V1__Principal *me = crm_call_principal(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    team_t *team;
    if (team_get(call, r->team_id, "teamId", &team) != 0)
        return -1;
    /* membership as the read model has it, like the members' own: a
     * session's principal may be older than the team's last change */
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u = crm_readmodel_user(&pl->readmodel, crm_call_txn(call), crm_call_arena(call), me->user_id);
    int manager = crm_sales_level(me) == ACCESS(MANAGER);
    if (!manager && !(u && in_list(u->team_ids, u->n_team_ids, r->team_id)))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "teamId",
                             "only the team's members and sales managers see its assignment rules");
    pool_t p;
    if (pool_load(call, r->team_id, &p) != 0 || pool_count_all(&p) != 0)
        return -1;
    rules_t *reply = (rules_t *)out;
    *reply = *p.rules;
    if (crm_call_own_leads_only(call)) {
        /* an own-leads user sees their own row, not how many leads others get */
        size_t n = 0;
        for (size_t i = 0; i < p.rules->n_members; i++)
            if (p.rules->members[i]->user_id == me->user_id)
                reply->members[n++] = p.rules->members[i];
        reply->n_members = n;
        reply->last_assigned_user_id = 0;
    }
    return 0;
}

int pl_set_assignment_rules(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__SetAssignmentRulesRequest *r = (const void *)in;
    if (crm_call_require_manager(call) != 0)
        return -1;
    team_t *team;
    if (team_get(call, r->team_id, "teamId", &team) != 0)
        return -1;
    if (team->archived)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "teamId", "team \"%s\" is archived", team->name);
    if (r->n_members > MEMBERS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "members", "at most %d members", MEMBERS_MAX);
    for (size_t i = 0; i < r->n_members; i++) {
        const member_t *m = r->members[i];
        char field[48];
        snprintf(field, sizeof field, "members[%zu].userId", i);
        for (size_t j = 0; j < i; j++)
            if (r->members[j]->user_id == m->user_id)
                return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld is already member %zu",
                                     (long long)m->user_id, j);
        const char *why = m->user_id > 0 ? ineligible(call, r->team_id, m->user_id) : "is not a user";
        if (why[0])
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "user %lld %s", (long long)m->user_id, why);
        if (m->max_per_30_days < 1 || m->max_per_30_days > PER_30_DAYS_MAX) {
            snprintf(field, sizeof field, "members[%zu].maxPer30Days", i);
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "the maximum must be 1 to %d leads in 30 days",
                                 PER_30_DAYS_MAX);
        }
    }
    rules_t *old;
    int stored;
    if (rules_read(call, r->team_id, &old, &stored) != 0)
        return -1;
    rules_t *rules = crm_call_new(call, &crm__pipeline__v1__assignment_rules__descriptor);
    rules->team_id = r->team_id;
    rules->auto_assign = r->auto_assign;
    rules->members = r->members;
    rules->n_members = r->n_members;
    rules->updated_at = crm_call_now(call);
    /* the turn stays with whoever had the last lead, wherever they now are */
    rules->last_assigned_user_id = old->last_assigned_user_id;
    if (rules_write(call, rules) != 0)
        return -1;
    pool_t p;
    if (pool_load(call, r->team_id, &p) != 0 || pool_count_all(&p) != 0)
        return -1;
    *(rules_t *)out = *p.rules;
    return 0;
}

/* The lead given to user by the rules of team: saved, and told as a
 * salesperson change made for that reason. */
static int give_lead(crm_call_t *call, const team_t *team, const lead_t *old, int64_t user, lead_t **out)
{
    lead_t *l = crm_call_new(call, &crm__pipeline__v1__lead__descriptor);
    *l = *old;
    l->salesperson_id = user;
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    Crm__Pipeline__V1__FieldChange change = CRM__PIPELINE__V1__FIELD_CHANGE__INIT, *changes[1] = {&change};
    change.field = "salespersonId";
    change.old_value = "0";
    change.new_value = crm_arena_printf(crm_call_arena(call), "%lld", (long long)user);
    change.old_label = "";
    change.new_label = (char *)pl_user_name(call, user);
    lead_t told = *l;
    told.team_name = team->name; /* so that the chatter can say whose rules */
    Crm__Pipeline__V1__LeadEvent ev = CRM__PIPELINE__V1__LEAD_EVENT__INIT;
    ev.lead = &told;
    ev.changes = changes;
    ev.n_changes = 1;
    ev.reason = "assignment";
    if (crm_call_emit(call, "lead.updated", &ev.base) != 0)
        return -1;
    *out = l;
    return 0;
}

/* The team's open, active leads of nobody, oldest first: up to limit of
 * them in *out (*n), and in *more how many wait behind those (counted up
 * to PL_SCAN_MAX keys). One range of the unassigned index, so leads of
 * other teams, or closed, archived or assigned ones, are never read.
 * Returns 0 or -1 with the error set. */
static int unassigned_of_team(crm_call_t *call, int64_t team_id, size_t limit, lead_t ***out, size_t *n,
                              size_t *more)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, pl->unassigned, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    lead_t **leads = crm_arena_alloc(crm_call_arena(call), sizeof *leads * (limit + 1));
    *n = *more = 0;
    uint8_t key[16];
    crm_key_put_u64(key, (uint64_t)team_id);
    crm_key_put_u64(key + 8, 0);
    MDB_val k = {sizeof key, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 16 || crm_key_get_u64(k.mv_data) != (uint64_t)team_id)
            break;
        if (*n == limit) {
            if (++*more >= PL_SCAN_MAX)
                break;
            continue;
        }
        rc = crm_db_get_id(txn, pl->leads, crm_key_get_u64((const uint8_t *)k.mv_data + 8),
                           &crm__pipeline__v1__lead__descriptor, crm_arena_allocator(crm_call_arena(call)),
                           (void **)&leads[*n]);
        if (rc)
            break; /* the index names only stored leads: a miss is a damaged store */
        ++*n;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
    *out = leads;
    return 0;
}

int pl_assign_leads(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__AssignLeadsRequest *r = (const void *)in;
    Crm__Pipeline__V1__AssignLeadsReply *reply = (void *)out;
    if (crm_call_require_manager(call) != 0)
        return -1;
    if (r->limit < 0 || r->limit > ASSIGN_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "limit", "limit must be 0 (%d) to %d", ASSIGN_DEFAULT,
                             ASSIGN_MAX);
    size_t limit = r->limit ? (size_t)r->limit : ASSIGN_DEFAULT;
    pool_t p;
    if (pool_load(call, r->team_id, &p) != 0)
        return -1;
    if (!p.stored)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "teamId", "team \"%s\" has no assignment rules",
                             p.team->name);
    /* read first, then write: the index read is the one the writes change */
    lead_t **leads = NULL;
    size_t n = 0, more = 0;
    if (unassigned_of_team(call, r->team_id, limit, &leads, &n, &more) != 0)
        return -1;
    reply->assigned = crm_arena_alloc(crm_call_arena(call), sizeof *reply->assigned * (limit + 1));
    size_t i = 0;
    for (; i < n && reply->n_assigned < limit; i++) {
        int64_t user;
        if (pool_take(call, &p, leads[i]->id, &user) != 0)
            return -1;
        if (!user)
            break; /* everyone is at their maximum, or nobody may take leads */
        lead_t *given;
        if (give_lead(call, p.team, leads[i], user, &given) != 0)
            return -1;
        Crm__Pipeline__V1__LeadAssignment *a = crm_call_new(call, &crm__pipeline__v1__lead_assignment__descriptor);
        a->lead_id = given->id;
        a->salesperson_id = user;
        reply->assigned[reply->n_assigned++] = a;
    }
    reply->left_unassigned = (int32_t)(n - reply->n_assigned + more);
    return reply->n_assigned ? rules_write(call, p.rules) : 0;
}
