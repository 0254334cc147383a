/* Leads merged into one (pipeline's lead.merged), in the consumer's
 * transaction so that it happens exactly once: the followers of the merged
 * leads follow the destination (a user following several keeps the union of
 * their subtypes, the earliest "since", and counts as automatic only if
 * every following was), the merged leads' follower records go, the read
 * model drops them, and the destination's followers are told
 * (SUBTYPE_STATUS_CHANGED). Inbox entries already written about a merged
 * lead stay as they are: they record what was said then, and ListInbox shows
 * a user's own entries whatever became of their document. */
#include "notifications.h"
#include "crm_consumer.h"
#include "pipeline.pb-c.h"

#include <string.h>

/* Moves every follower record of lead from to lead dest. */
static int move_followers(notifications_t *n, MDB_txn *txn, int64_t from, int64_t dest)
{
    crm_arena_t *arena = n->apply_arena;
    uint8_t key[NTF_FOLLOWER_KEY];
    ntf_follower_key(key, NTF_LEAD, from, 0);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, n->followers, &cur);
    if (rc)
        return rc;
    /* the records are gathered first: writing under the cursor's feet would move it */
    size_t cap = 16, count = 0;
    int64_t *users = crm_arena_alloc(arena, sizeof *users * cap);
    follower_rec_t **recs = crm_arena_alloc(arena, sizeof *recs * cap);
    MDB_val k = {sizeof key, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != NTF_FOLLOWER_KEY || memcmp(k.mv_data, key, NTF_DOC_KEY) != 0)
            break;
        follower_rec_t *rec =
            crm__notifications__v1__follower_record__unpack(crm_arena_allocator(arena), d.mv_size, d.mv_data);
        if (!rec) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (count == cap) {
            int64_t *u2 = crm_arena_alloc(arena, sizeof *u2 * cap * 2);
            follower_rec_t **r2 = crm_arena_alloc(arena, sizeof *r2 * cap * 2);
            memcpy(u2, users, sizeof *users * count);
            memcpy(r2, recs, sizeof *recs * count);
            users = u2;
            recs = r2;
            cap *= 2;
        }
        users[count] = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + NTF_DOC_KEY);
        recs[count++] = rec;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < count; i++) {
        uint8_t old_key[NTF_FOLLOWER_KEY], new_key[NTF_FOLLOWER_KEY];
        ntf_follower_key(old_key, NTF_LEAD, from, users[i]);
        ntf_follower_key(new_key, NTF_LEAD, dest, users[i]);
        MDB_val ok = {sizeof old_key, old_key};
        if ((rc = mdb_del(txn, n->followers, &ok, NULL)) != 0)
            return rc;
        follower_rec_t *have, *rec = recs[i];
        rc = crm_db_get_msg(txn, n->followers, new_key, sizeof new_key,
                            &crm__notifications__v1__follower_record__descriptor, crm_arena_allocator(arena),
                            (void **)&have);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0) {
            rec->subtypes |= have->subtypes;
            rec->since = have->since < rec->since ? have->since : rec->since;
            rec->automatic = rec->automatic && have->automatic;
        }
        if ((rc = crm_db_put_msg(txn, n->followers, new_key, sizeof new_key, &rec->base)) != 0)
            return rc;
    }
    return 0;
}

int ntf_apply_merge(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    crm_arena_t *arena = n->apply_arena;
    Crm__Pipeline__V1__LeadMergedEvent *e = crm__pipeline__v1__lead_merged_event__unpack(
        crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->lead || e->lead->id <= 0)
        return CRM_CONSUMER_UNCHANGED; /* can never apply: skipped rather than stall */
    int64_t dest = e->lead->id;
    const char *names = "";
    int rc = 0;
    for (size_t i = 0; i < e->n_merged_ids; i++) {
        int64_t from = e->merged_ids[i];
        if (from <= 0 || from == dest)
            continue;
        /* the name, before the read model forgets the lead */
        crm_docinfo_t *d;
        rc = crm_readmodel_doc(&n->readmodel, txn, arena, NTF_LEAD, from, &d);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        const char *name = rc == 0 && *d->name ? d->name : crm_arena_printf(arena, "#%lld", (long long)from);
        names = *names ? crm_arena_printf(arena, "%s, %s", names, name) : name;
        if ((rc = move_followers(n, txn, from, dest)) != 0)
            return rc;
    }
    rc = crm_readmodel_apply(&n->readmodel, txn, arena, ev);
    if (rc && rc != CRM_CONSUMER_UNCHANGED)
        return rc;
    if (!*names)
        return 0;
    ntf_change_t c = {.model = NTF_LEAD,
                      .doc_id = dest,
                      .subtypes = 1u << SUBTYPE(STATUS_CHANGED),
                      .headline = SUBTYPE(STATUS_CHANGED),
                      .ev = ev};
    c.summary = crm_arena_printf(arena, "Merged with: %s", names);
    return ntf_deliver(n, txn, &c);
}
