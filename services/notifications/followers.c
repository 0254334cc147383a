/* Followers: who is told of a document's changes, and of which kinds.
 * Following needs read access; the document's salesperson, a manager or an
 * administrator may add and remove others; the creator and the salesperson
 * of a lead follow it by themselves unless they switched that off. */
#include "notifications.h"
#include "crm_access.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

typedef Crm__Notifications__V1__Follower follower_t;

/* The subtypes of a request as bits; all of them when none is named.
 * Returns 0, or -1 with invalid_argument naming the bad element. */
static int subtype_bits(crm_call_t *call, const Crm__Notifications__V1__Subtype *s, size_t n, unsigned *out)
{
    unsigned bits = 0;
    if (n > 64)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "subtypes", "at most 64 subtypes");
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= SUBTYPE(UNSPECIFIED) || s[i] > SUBTYPE_MAX) {
            char f[32];
            snprintf(f, sizeof f, "subtypes[%zu]", i);
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), f,
                                 "%s: unknown subtype %d (DISCUSSION, STAGE_CHANGED, STATUS_CHANGED, ASSIGNED, CALL, ACTIVITY)",
                                 f, (int)s[i]);
        }
        bits |= 1u << s[i];
    }
    *out = n ? bits : ALL_SUBTYPES;
    return 0;
}

static follower_t *follower_reply(crm_call_t *call, follower_t *f, const doc_t *doc, int64_t user,
                                  const follower_rec_t *rec)
{
    notifications_t *n = crm_call_ctx(call);
    f->doc = (doc_t *)doc;
    f->user_id = user;
    crm_userinfo_t *u = crm_readmodel_user(&n->readmodel, crm_call_txn(call), crm_call_arena(call), user);
    f->user_name = u ? u->name : "";
    f->subtypes = crm_arena_alloc(crm_call_arena(call), sizeof *f->subtypes * SUBTYPE_MAX);
    for (int s = 1; s <= SUBTYPE_MAX; s++)
        if (rec && rec->subtypes & (1u << s))
            f->subtypes[f->n_subtypes++] = (Crm__Notifications__V1__Subtype)s;
    f->since = rec ? rec->since : 0;
    f->automatic = rec ? rec->automatic : 0;
    return f;
}

/* The user a Follow or Unfollow is about, checked: the caller, or someone
 * the caller may manage on this document; a user added (reader set) must be
 * active and able to read it, one removed need not (a manager clears out
 * those who left). Returns the user id, or -1 with the error set. */
static int64_t target_user(crm_call_t *call, const crm_doc_owner_t *owner, const doc_t *doc, int64_t requested,
                           int reader)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (requested < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "userId", "userId must be 0 (yourself) or a user id");
    if (requested == 0 || requested == p->user_id)
        return p->user_id;
    int manager = crm_sales_level(p) == CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER;
    if (!manager && owner->salesperson_id != p->user_id)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "userId",
                             "only the document's salesperson, a sales manager or an administrator may change others' following");
    if (!reader)
        return requested;
    notifications_t *n = crm_call_ctx(call);
    crm_userinfo_t *u = crm_readmodel_user(&n->readmodel, crm_call_txn(call), crm_call_arena(call), requested);
    if (!u || !u->active)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "userId", "user %lld is not an active user",
                             (long long)requested);
    if (!crm_readmodel_user_reads(u, owner))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "userId", "user %lld may not see %s %lld",
                             (long long)requested, doc->model, (long long)doc->id);
    return requested;
}

/* What Follow and Unfollow share: the document (readable by the caller),
 * the subtypes asked, the user concerned and their record, if any. */
typedef struct {
    int model;
    crm_doc_owner_t owner;
    unsigned bits;
    int64_t user;
    uint8_t key[NTF_FOLLOWER_KEY];
    follower_rec_t *rec; /* NULL: not following */
} following_t;

static int following_get(crm_call_t *call, const doc_t *doc, int64_t user_id,
                         const Crm__Notifications__V1__Subtype *subtypes, size_t n_subtypes, int adding, following_t *f)
{
    notifications_t *n = crm_call_ctx(call);
    if ((f->model = ntf_check_doc(call, doc, &f->owner)) < 0 || subtype_bits(call, subtypes, n_subtypes, &f->bits) != 0 ||
        (f->user = target_user(call, &f->owner, doc, user_id, adding)) < 0)
        return -1;
    ntf_follower_key(f->key, f->model, doc->id, f->user);
    int rc = crm_db_get_msg(crm_call_txn(call), n->followers, f->key, NTF_FOLLOWER_KEY,
                            &crm__notifications__v1__follower_record__descriptor,
                            crm_arena_allocator(crm_call_arena(call)), (void **)&f->rec);
    if (rc == MDB_NOTFOUND)
        f->rec = NULL;
    else if (rc)
        return crm_call_fail_db(call, rc);
    return 0;
}

int ntf_follow(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__FollowRequest *r = (const void *)in;
    notifications_t *n = crm_call_ctx(call);
    following_t f;
    if (following_get(call, r->doc, r->user_id, r->subtypes, r->n_subtypes, 1, &f) != 0)
        return -1;
    if (!f.rec) {
        f.rec = crm_arena_alloc(crm_call_arena(call), sizeof *f.rec);
        crm__notifications__v1__follower_record__init(f.rec);
        f.rec->since = crm_call_now(call);
    }
    /* chosen now by hand: the subtypes are what was asked, no longer automatic */
    f.rec->subtypes = f.bits;
    f.rec->automatic = 0;
    int rc = crm_db_put_msg(crm_call_txn(call), n->followers, f.key, sizeof f.key, &f.rec->base);
    if (rc)
        return crm_call_fail_db(call, rc);
    follower_reply(call, (follower_t *)out, r->doc, f.user, f.rec);
    return 0;
}

int ntf_unfollow(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__UnfollowRequest *r = (const void *)in;
    notifications_t *n = crm_call_ctx(call);
    following_t f;
    if (following_get(call, r->doc, r->user_id, r->subtypes, r->n_subtypes, 0, &f) != 0)
        return -1;
    if (!f.rec)
        return crm_call_fail(call, CODE(NOT_FOUND), "userId", "user %lld does not follow %s %lld", (long long)f.user,
                             r->doc->model, (long long)r->doc->id);
    f.rec->subtypes &= ~f.bits;
    int rc;
    if (f.rec->subtypes) {
        f.rec->automatic = 0;
        rc = crm_db_put_msg(crm_call_txn(call), n->followers, f.key, sizeof f.key, &f.rec->base);
    } else {
        MDB_val k = {sizeof f.key, f.key};
        rc = mdb_del(crm_call_txn(call), n->followers, &k, NULL);
    }
    if (rc)
        return crm_call_fail_db(call, rc);
    follower_reply(call, (follower_t *)out, r->doc, f.user, f.rec->subtypes ? f.rec : NULL);
    return 0;
}

int ntf_list_followers(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__ListFollowersRequest *r = (const void *)in;
    Crm__Notifications__V1__ListFollowersReply *reply = (void *)out;
    notifications_t *n = crm_call_ctx(call);
    crm_doc_owner_t owner;
    int model = ntf_check_doc(call, r->doc, &owner);
    if (model < 0)
        return -1;
    uint8_t key[NTF_FOLLOWER_KEY];
    ntf_follower_key(key, model, r->doc->id, 0);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), n->followers, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    size_t cap = 0;
    MDB_val k = {sizeof key, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != NTF_FOLLOWER_KEY || memcmp(k.mv_data, key, NTF_DOC_KEY) != 0)
            break;
        follower_rec_t *rec = crm__notifications__v1__follower_record__unpack(
            crm_arena_allocator(crm_call_arena(call)), d.mv_size, d.mv_data);
        if (!rec) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (reply->n_followers == cap) {
            cap = cap ? cap * 2 : 16;
            follower_t **grown = crm_arena_alloc(crm_call_arena(call), sizeof *grown * cap);
            if (reply->n_followers)
                memcpy(grown, reply->followers, sizeof *grown * reply->n_followers);
            reply->followers = grown;
        }
        follower_t *f = crm_call_new(call, &crm__notifications__v1__follower__descriptor);
        int64_t user = (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + NTF_DOC_KEY);
        reply->followers[reply->n_followers++] = follower_reply(call, f, r->doc, user, rec);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

int ntf_auto_follow(notifications_t *n, MDB_txn *txn, int model, int64_t id, int64_t user, int64_t now)
{
    if (user <= 0)
        return 0;
    uint8_t key[NTF_FOLLOWER_KEY];
    ntf_follower_key(key, model, id, user);
    MDB_val k = {sizeof key, key}, d;
    int rc = mdb_get(txn, n->followers, &k, &d);
    if (rc != MDB_NOTFOUND)
        return rc; /* already following, with the subtypes they chose */
    inbox_state_t *st;
    if ((rc = ntf_state_get(n, txn, n->apply_arena, user, &st)) != 0 || st->auto_follow_off)
        return rc;
    follower_rec_t rec = CRM__NOTIFICATIONS__V1__FOLLOWER_RECORD__INIT;
    rec.subtypes = ALL_SUBTYPES;
    rec.since = now;
    rec.automatic = 1;
    return crm_db_put_msg(txn, n->followers, key, sizeof key, &rec.base);
}
