/* Sales teams: a leader and members. A user's teamIds are kept up to date in
 * the same transaction as the team, so the Principal always carries them.
 * Teams are archived, never deleted: leads and customers name them in
 * pipeline's store, which identity cannot see. */
#include "identity.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define TEAM_MEMBERS_MAX 1000

typedef Crm__Identity__V1__Team team_t;

static int can_write(crm_call_t *call)
{
    if (identity_is_manager(call))
        return 0;
    return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL,
                         "only sales managers and administrators change teams");
}

static int team_get(crm_call_t *call, int64_t id, team_t **out)
{
    identity_t *idn = crm_call_ctx(call);
    int rc = id > 0 ? crm_db_get_id(crm_call_txn(call), idn->teams, (uint64_t)id,
                                    &crm__identity__v1__team__descriptor,
                                    crm_arena_allocator(crm_call_arena(call)), (void **)out)
                    : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no team %lld", (long long)id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

static int contains(const int64_t *v, size_t n, int64_t x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == x)
            return 1;
    return 0;
}

/* Checks leader and members exist and are active; drops duplicate members.
 * People already in the team (before) stay even when deactivated since, as in
 * OpenERP: a deactivated salesperson must not stop the team being renamed or
 * given another member, only from being added again. */
static int check_people(crm_call_t *call, team_t *t, const team_t *before)
{
    Crm__Identity__V1__UserRecord *rec;
    int kept_leader = before && before->leader_id == t->leader_id;
    if (t->leader_id && !kept_leader &&
        (identity_user_get(call, t->leader_id, &rec) != 0 || !rec->user->active))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "leaderId",
                             "leader %lld is not an active user", (long long)t->leader_id);
    if (t->n_member_ids > TEAM_MEMBERS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "memberIds",
                             "a team has at most %d members", TEAM_MEMBERS_MAX);
    int64_t *uniq = crm_arena_alloc(crm_call_arena(call), sizeof *uniq * (t->n_member_ids + 1));
    size_t n = 0;
    for (size_t i = 0; i < t->n_member_ids; i++) {
        if (contains(uniq, n, t->member_ids[i]))
            continue;
        int kept = before && contains(before->member_ids, before->n_member_ids, t->member_ids[i]);
        if (!kept && (identity_user_get(call, t->member_ids[i], &rec) != 0 || !rec->user->active))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "memberIds",
                                 "member %lld is not an active user", (long long)t->member_ids[i]);
        uniq[n++] = t->member_ids[i];
    }
    t->member_ids = uniq;
    t->n_member_ids = n;
    return 0;
}

static int in_team(const team_t *t, int64_t user)
{
    return t && (t->leader_id == user || contains(t->member_ids, t->n_member_ids, user));
}

/* Adds or removes team from one user's teamIds and tells the world. */
static int set_membership(crm_call_t *call, int64_t user_id, int64_t team_id, int member)
{
    Crm__Identity__V1__UserRecord *rec;
    if (identity_user_get(call, user_id, &rec) != 0)
        return -1;
    Crm__Identity__V1__User *old = rec->user, *u = crm_call_new(call, &crm__identity__v1__user__descriptor);
    *u = *old;
    int64_t *ids = crm_arena_alloc(crm_call_arena(call), sizeof *ids * (old->n_team_ids + 1));
    size_t n = 0;
    for (size_t i = 0; i < old->n_team_ids; i++)
        if (old->team_ids[i] != team_id)
            ids[n++] = old->team_ids[i];
    if (member)
        ids[n++] = team_id;
    else if (u->default_team_id == team_id)
        u->default_team_id = 0; /* a default team is always one of theirs */
    u->team_ids = ids;
    u->n_team_ids = n;
    u->updated_at = crm_call_now(call);
    rec->user = u;
    if (identity_user_put(call, rec) != 0)
        return -1;
    return identity_emit_user(call, "user.updated", u, old);
}

/* Brings every user's teamIds in line with the change from before to after. */
static int sync_members(crm_call_t *call, const team_t *before, const team_t *after)
{
    int64_t team_id = after->id;
    if (before) {
        if (before->leader_id && !in_team(after, before->leader_id) &&
            set_membership(call, before->leader_id, team_id, 0) != 0)
            return -1;
        for (size_t i = 0; i < before->n_member_ids; i++)
            if (!in_team(after, before->member_ids[i]) && before->member_ids[i] != before->leader_id &&
                set_membership(call, before->member_ids[i], team_id, 0) != 0)
                return -1;
    }
    if (after->leader_id && !in_team(before, after->leader_id) &&
        set_membership(call, after->leader_id, team_id, 1) != 0)
        return -1;
    for (size_t i = 0; i < after->n_member_ids; i++)
        if (!in_team(before, after->member_ids[i]) && after->member_ids[i] != after->leader_id &&
            set_membership(call, after->member_ids[i], team_id, 1) != 0)
            return -1;
    return 0;
}

static int save_team(crm_call_t *call, team_t *t, const char *type)
{
    identity_t *idn = crm_call_ctx(call);
    int rc = crm_db_put_id(crm_call_txn(call), idn->teams, (uint64_t)t->id, &t->base);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Identity__V1__TeamEvent ev = CRM__IDENTITY__V1__TEAM_EVENT__INIT;
    ev.team = t;
    return crm_call_emit(call, type, &ev.base);
}

int identity_create_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__CreateTeamRequest *req = (const void *)in;
    team_t *t = (team_t *)out;
    crm_status_t st;
    if (can_write(call) != 0)
        return -1;
    if (crm_check_text(&st, "name", req->name, 1, 128) != 0)
        return crm_call_fail_status(call, &st);
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), "team", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    t->id = (int64_t)id;
    t->name = req->name;
    t->leader_id = req->leader_id;
    t->member_ids = req->member_ids;
    t->n_member_ids = req->n_member_ids;
    t->created_at = t->updated_at = crm_call_now(call);
    if (check_people(call, t, NULL) != 0 || save_team(call, t, "team.created") != 0)
        return -1;
    return sync_members(call, NULL, t);
}

int identity_update_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__UpdateTeamRequest *req = (const void *)in;
    static const char *const allowed[] = {"name", "leader_id", "member_ids", "archived", NULL};
    crm_status_t st;
    team_t *before, *t = (team_t *)out;
    if (can_write(call) != 0)
        return -1;
    if (crm_mask_check(&st, req->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    if (team_get(call, req->id, &before) != 0)
        return -1;
    *t = *before;
    if (crm_mask_has(req->update_mask, "name")) {
        if (crm_check_text(&st, "name", req->name, 1, 128) != 0)
            return crm_call_fail_status(call, &st);
        t->name = req->name;
    }
    if (crm_mask_has(req->update_mask, "leader_id"))
        t->leader_id = req->leader_id;
    if (crm_mask_has(req->update_mask, "member_ids")) {
        t->member_ids = req->member_ids;
        t->n_member_ids = req->n_member_ids;
    }
    if (crm_mask_has(req->update_mask, "archived"))
        t->archived = req->archived;
    t->updated_at = crm_call_now(call);
    if (check_people(call, t, before) != 0 || save_team(call, t, "team.updated") != 0)
        return -1;
    return sync_members(call, before, t);
}

int identity_get_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__GetTeamRequest *req = (const void *)in;
    team_t *t;
    if (team_get(call, req->id, &t) != 0)
        return -1;
    *(team_t *)out = *t;
    return 0;
}

int identity_list_teams(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__ListTeamsRequest *req = (const void *)in;
    Crm__Identity__V1__ListTeamsReply *reply = (void *)out;
    MDB_stat ms;
    int rc = mdb_stat(crm_call_txn(call), idn->teams, &ms);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->teams = crm_arena_alloc(crm_call_arena(call), sizeof *reply->teams * (ms.ms_entries + 1));
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(crm_call_txn(call), idn->teams, &cur)) != 0)
        return crm_call_fail_db(call, rc);
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && reply->n_teams < ms.ms_entries;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        team_t *t = crm_call_unpack(call, &crm__identity__v1__team__descriptor, d.mv_data, d.mv_size);
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!t->archived || req->include_archived)
            reply->teams[reply->n_teams++] = t;
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? crm_call_fail_db(call, rc) : 0;
}
