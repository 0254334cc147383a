/* Every user's inbox: one entry per follower for each change they asked to
 * hear of, written with the consumer's cursor; read and marked read by the
 * user alone. */
#include "notifications.h"
#include "crm_log.h"
#include "crm_time.h"
#include "crm_log.h"
#include "crm_request.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

typedef Crm__Notifications__V1__InboxEntry entry_t;

/* A follower told of a change gets it under its headline subtype if they
 * follow that, else under the first of these they follow: a drag to
 * Proposition is a stage change even though the status moves with it. */
static const int subtype_order[] = {SUBTYPE(STAGE_CHANGED), SUBTYPE(STATUS_CHANGED), SUBTYPE(ASSIGNED),
                                    SUBTYPE(DISCUSSION), SUBTYPE(CALL), SUBTYPE(ACTIVITY)};

/* The by_user index holds each entry's read flag, so that listing unread
 * entries and marking them all read need no decoding and no index of their
 * own (each index is one more page written per user at every commit). */
enum { FLAG_UNREAD = 0, FLAG_READ = 1 };

static int put_flag(MDB_txn *txn, MDB_dbi dbi, int64_t user, int64_t id, uint8_t flag)
{
    uint8_t key[NTF_USER_KEY];
    ntf_user_key(key, user, id);
    MDB_val k = {sizeof key, key}, d = {1, &flag};
    return mdb_put(txn, dbi, &k, &d, 0);
}

#define ENTRY_COUNTER "notification"

/* One entry in user's inbox, numbered ++*last_id; doc NULL: an entry about
 * no document (nor under a document's topic). Returns an LMDB code. */
static int write_entry(notifications_t *n, MDB_txn *txn, const ntf_change_t *c, const crm_docinfo_t *doc,
                       uint64_t *doc_seq, int64_t user, int subtype, const char *author_name, uint64_t *last_id)
{
    crm_arena_t *arena = n->apply_arena;
    inbox_state_t *st;
    int rc = ntf_state_get(n, txn, arena, user, &st);
    if (rc)
        return rc;
    uint64_t id = ++*last_id;
    st->unread++;
    st->stream_seq++;
    if (doc)
        ++*doc_seq;
    doc_t ref = CRM__COMMON__V1__DOC_REF__INIT;
    ref.model = (char *)crm_doc_model_name(c->model);
    ref.id = c->doc_id;
    notification_t m = CRM__NOTIFICATIONS__V1__NOTIFICATION__INIT;
    m.id = (int64_t)id;
    m.doc = doc ? &ref : NULL;
    m.subtype = (Crm__Notifications__V1__Subtype)subtype;
    m.summary = (char *)c->summary;
    m.message_id = c->message_id;
    m.at = c->ev->at;
    m.user_id = user;
    m.author_id = c->ev->actor_id;
    m.author_name = (char *)author_name;
    m.doc_name = doc ? doc->name : "";
    m.event = c->ev->type;
    entry_t e = CRM__NOTIFICATIONS__V1__INBOX_ENTRY__INIT;
    e.notification = &m;
    e.user_seq = st->stream_seq;
    e.doc_seq = doc ? *doc_seq : 0;
    if ((rc = crm_db_put_id(txn, n->inbox, id, &e.base)) != 0 ||
        (rc = put_flag(txn, n->by_user, user, (int64_t)id, FLAG_UNREAD)) != 0)
        return rc;
    return crm_db_put_id(txn, n->state, (uint64_t)user, &st->base);
}

int ntf_deliver(notifications_t *n, MDB_txn *txn, const ntf_change_t *c)
{
    crm_arena_t *arena = n->apply_arena;
    if (!c->subtypes)
        return 0;
    crm_docinfo_t *doc;
    crm_doc_owner_t owner;
    int rc = crm_readmodel_doc(&n->readmodel, txn, arena, c->model, c->doc_id, &doc);
    if (rc == 0)
        rc = crm_readmodel_owner_of(&n->readmodel, txn, arena, c->model, doc, &owner);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc; /* nobody can follow what nobody knows */
    crm_userinfo_t *author = crm_readmodel_user(&n->readmodel, txn, arena, c->ev->actor_id);
    const char *author_name = author ? author->name : "";
    uint8_t key[NTF_FOLLOWER_KEY];
    ntf_follower_key(key, c->model, c->doc_id, 0);
    /* numbered here and stored once, not read and written per entry */
    uint64_t last_id, before;
    if ((rc = crm_store_counter_get(n->store, txn, ENTRY_COUNTER, &last_id)) != 0 ||
        (rc = ntf_doc_stream_get(n, txn, c->model, c->doc_id, &before)) != 0)
        return rc;
    uint64_t doc_seq = before;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, n->followers, &cur)) != 0)
        return rc;
    MDB_val k = {sizeof key, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != NTF_FOLLOWER_KEY || memcmp(k.mv_data, key, NTF_DOC_KEY) != 0)
            break;
        int64_t user = (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + NTF_DOC_KEY);
        if (user == c->ev->actor_id)
            continue; /* nobody is told of their own change */
        follower_rec_t *rec = crm__notifications__v1__follower_record__unpack(crm_arena_allocator(arena), d.mv_size,
                                                                              d.mv_data);
        if (!rec) {
            /* one unreadable following must not stop every document's
             * notifications: that follower misses this change */
            crm_warn("follower %lld of %s %lld: record unreadable, not told", (long long)user,
                     crm_doc_model_name(c->model), (long long)c->doc_id);
            continue;
        }
        unsigned wanted = rec->subtypes & c->subtypes;
        if (!wanted)
            continue;
        int subtype = c->headline && (wanted & (1u << c->headline)) ? c->headline : 0;
        for (size_t i = 0; i < sizeof subtype_order / sizeof subtype_order[0] && !subtype; i++)
            if (wanted & (1u << subtype_order[i]))
                subtype = subtype_order[i];
        /* a follower who lost access (reassigned lead, lowered level,
         * deactivated) hears nothing more; the following stays for when
         * access comes back */
        /* the cursor stays valid across puts to other databases */
        if (crm_readmodel_user_reads(crm_readmodel_user(&n->readmodel, txn, arena, user), &owner) &&
            (rc = write_entry(n, txn, c, doc, &doc_seq, user, subtype, author_name, &last_id)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (doc_seq == before)
        return 0; /* nobody told */
    if ((rc = crm_store_counter_put(n->store, txn, ENTRY_COUNTER, last_id)) != 0)
        return rc;
    return ntf_doc_stream_put(n, txn, c->model, c->doc_id, doc_seq);
}

/* 1 if user follows the document with one of wanted's subtypes. */
static int follows(notifications_t *n, MDB_txn *txn, int model, int64_t doc_id, int64_t user, unsigned wanted,
                   int *rc)
{
    uint8_t key[NTF_FOLLOWER_KEY];
    ntf_follower_key(key, model, doc_id, user);
    MDB_val k = {sizeof key, key}, d;
    *rc = mdb_get(txn, n->followers, &k, &d);
    if (*rc) {
        *rc = *rc == MDB_NOTFOUND ? 0 : *rc;
        return 0;
    }
    follower_rec_t *rec =
        crm__notifications__v1__follower_record__unpack(crm_arena_allocator(n->apply_arena), d.mv_size, d.mv_data);
    return rec && (rec->subtypes & wanted);
}

int ntf_deliver_to(notifications_t *n, MDB_txn *txn, const ntf_change_t *c, int subtype, const int64_t *users,
                   size_t n_users)
{
    crm_arena_t *arena = n->apply_arena;
    crm_docinfo_t *doc = NULL;
    crm_doc_owner_t owner;
    int rc = 0;
    if (c->model) {
        rc = crm_readmodel_doc(&n->readmodel, txn, arena, c->model, c->doc_id, &doc);
        if (rc == 0)
            rc = crm_readmodel_owner_of(&n->readmodel, txn, arena, c->model, doc, &owner);
        if (rc == MDB_NOTFOUND)
            doc = NULL, rc = 0; /* not known here (yet): told without it */
        if (rc)
            return rc;
    }
    crm_userinfo_t *author = crm_readmodel_user(&n->readmodel, txn, arena, c->ev->actor_id);
    uint64_t last_id, first_id, before = 0;
    if ((rc = crm_store_counter_get(n->store, txn, ENTRY_COUNTER, &last_id)) != 0 ||
        (doc && (rc = ntf_doc_stream_get(n, txn, c->model, c->doc_id, &before)) != 0))
        return rc;
    first_id = last_id;
    uint64_t doc_seq = before;
    for (size_t i = 0; i < n_users; i++) {
        int64_t user = users[i];
        if (user == c->ev->actor_id)
            continue; /* nobody is told of their own change */
        crm_userinfo_t *u = crm_readmodel_user(&n->readmodel, txn, arena, user);
        if (!u || !u->active)
            continue;
        int reads = doc && crm_readmodel_user_reads(u, &owner);
        /* a follower hears of it through the chatter message: once is enough */
        if (reads && c->subtypes && follows(n, txn, c->model, c->doc_id, user, c->subtypes, &rc))
            continue;
        if (rc)
            return rc;
        /* the document only for those who may read it */
        if ((rc = write_entry(n, txn, c, reads ? doc : NULL, &doc_seq, user, subtype,
                              author ? author->name : "", &last_id)) != 0)
            return rc;
    }
    if (last_id == first_id)
        return 0;
    if ((rc = crm_store_counter_put(n->store, txn, ENTRY_COUNTER, last_id)) != 0)
        return rc;
    return doc_seq == before ? 0 : ntf_doc_stream_put(n, txn, c->model, c->doc_id, doc_seq);
}

/* --- reading the inbox ---------------------------------------------------------- */

int ntf_sweep_read(notifications_t *n, MDB_txn *txn, int64_t cutoff, size_t max, size_t *deleted)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, n->inbox, &cur);
    if (rc)
        return rc;
    uint8_t from[8];
    crm_key_put_u64(from, n->sweep_from);
    MDB_val k = {sizeof from, from}, d;
    size_t seen = 0;
    uint64_t last = n->sweep_from;
    *deleted = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && seen < max;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT), seen++) {
        entry_t *e = crm__notifications__v1__inbox_entry__unpack(NULL, d.mv_size, d.mv_data);
        if (!e || !e->notification) {
            if (e)
                crm__notifications__v1__inbox_entry__free_unpacked(e, NULL);
            continue; /* unreadable: not ours to judge here */
        }
        const notification_t *m = e->notification;
        int newer = m->at >= cutoff, drop = !newer && m->read;
        int64_t user = m->user_id, id = m->id;
        last = (uint64_t)id;
        crm__notifications__v1__inbox_entry__free_unpacked(e, NULL);
        if (newer) {
            rc = MDB_NOTFOUND; /* the rest is newer still: next pass from the start */
            break;
        }
        if (!drop)
            continue;
        uint8_t ukey[NTF_USER_KEY];
        ntf_user_key(ukey, user, id);
        MDB_val uk = {sizeof ukey, ukey};
        if ((rc = mdb_cursor_del(cur, 0)) != 0 ||
            ((rc = mdb_del(txn, n->by_user, &uk, NULL)) != 0 && rc != MDB_NOTFOUND))
            break;
        rc = 0;
        ++*deleted;
    }
    if (rc == 0) /* stopped at max: on from the entry after this one */
        n->sweep_from = last + 1;
    else if (rc == MDB_NOTFOUND)
        n->sweep_from = 0;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
    notifications_t *n;
    int64_t cutoff;
    size_t deleted;
} sweep_t;

static int sweep_txn(MDB_txn *txn, void *arg)
{
    sweep_t *sw = arg;
    return ntf_sweep_read(sw->n, txn, sw->cutoff, 10000, &sw->deleted);
}

void ntf_retention_pass(notifications_t *n)
{
    sweep_t sw = {n, crm_time_now_us() - n->keep_read_us, 0};
    uint64_t from = n->sweep_from;
    int rc = crm_store_write(n->store, sweep_txn, &sw);
    if (rc) {
        n->sweep_from = from; /* not committed: the same pass again */
        crm_warn("inbox retention: %s", mdb_strerror(rc));
    } else if (sw.deleted) {
        crm_info("inbox retention: %zu read entries past their time deleted", sw.deleted);
    }
}

static int require_user(crm_call_t *call)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (!p || p->user_id <= 0)
        return crm_call_fail(call, CODE(UNAUTHENTICATED), "token", "this needs a session");
    return 0;
}

static int get_entry(crm_call_t *call, int64_t id, entry_t **out)
{
    notifications_t *n = crm_call_ctx(call);
    int rc = crm_db_get_id(crm_call_txn(call), n->inbox, (uint64_t)id, &crm__notifications__v1__inbox_entry__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)out);
    if (rc == 0 && !(*out)->notification)
        rc = MDB_CORRUPTED;
    return rc;
}

int ntf_list_inbox(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__ListInboxRequest *r = (const void *)in;
    Crm__Notifications__V1__ListInboxReply *reply = (void *)out;
    notifications_t *n = crm_call_ctx(call);
    if (require_user(call) != 0)
        return -1;
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 50, 500, &size, &after) != 0)
        return -1;
    if (r->after_id < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "afterId", "afterId must be 0 or an entry id");
    int64_t user = crm_call_principal(call)->user_id;
    int oldest_first = r->after_id > 0;
    /* the token is the last id given; the key holds the user, so a token
     * can only ever move within the caller's own inbox */
    uint64_t from = after ? after : oldest_first ? (uint64_t)r->after_id : INT64_MAX;
    if (from > INT64_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this inbox");
    if (oldest_first && from == INT64_MAX)
        return 0; /* nothing comes after the last possible id */
    uint8_t key[NTF_USER_KEY];
    ntf_user_key(key, user, (int64_t)(oldest_first ? from + 1 : from));
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), n->by_user, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->notifications = crm_arena_alloc(crm_call_arena(call), sizeof *reply->notifications * size);
    MDB_val k = {sizeof key, key}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    if (!oldest_first)
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &d, MDB_LAST) : mdb_cursor_get(cur, &k, &d, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, oldest_first ? MDB_NEXT : MDB_PREV)) {
        if (k.mv_size != NTF_USER_KEY || memcmp(k.mv_data, key, 8) != 0)
            break;
        if (r->unread_only && d.mv_size == 1 && *(const uint8_t *)d.mv_data == FLAG_READ)
            continue;
        if (reply->n_notifications == size) {
            reply->next_page_token = crm_call_page_token(call, (uint64_t)reply->notifications[size - 1]->id);
            break;
        }
        entry_t *e;
        rc = get_entry(call, (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + 8), &e);
        if (rc) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index key without its entry */
            break;
        }
        reply->notifications[reply->n_notifications++] = e->notification;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

int ntf_unread_count(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    Crm__Notifications__V1__CountReply *reply = (void *)out;
    inbox_state_t *st;
    if (require_user(call) != 0)
        return -1;
    int rc = ntf_state_get(crm_call_ctx(call), crm_call_txn(call), crm_call_arena(call),
                           crm_call_principal(call)->user_id, &st);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->count = st->unread;
    return 0;
}

/* --- marking read ------------------------------------------------------------------- */

/* Marks one unread entry of user read: 1 if it was unread, 0 if not, or
 * -1 with the LMDB code in *err. */
static int mark_one(crm_call_t *call, entry_t *e, int *err)
{
    notifications_t *n = crm_call_ctx(call);
    notification_t *m = e->notification;
    if (m->read)
        return 0;
    m->read = 1;
    int rc = crm_db_put_id(crm_call_txn(call), n->inbox, (uint64_t)m->id, &e->base);
    if (rc == 0)
        rc = put_flag(crm_call_txn(call), n->by_user, m->user_id, m->id, FLAG_READ);
    if (rc) {
        *err = rc;
        return -1;
    }
    return 1;
}

static int lower_unread(crm_call_t *call, int64_t user, int64_t by)
{
    notifications_t *n = crm_call_ctx(call);
    inbox_state_t *st;
    int rc = ntf_state_get(n, crm_call_txn(call), crm_call_arena(call), user, &st);
    if (rc == 0 && by) {
        st->unread = st->unread > by ? st->unread - by : 0;
        rc = crm_db_put_id(crm_call_txn(call), n->state, (uint64_t)user, &st->base);
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int ntf_mark_read(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__MarkReadRequest *r = (const void *)in;
    Crm__Notifications__V1__CountReply *reply = (void *)out;
    if (require_user(call) != 0)
        return -1;
    if (!r->n_ids || r->n_ids > 1000)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids", "ids must name 1 to 1000 entries");
    int64_t user = crm_call_principal(call)->user_id;
    for (size_t i = 0; i < r->n_ids; i++) {
        char f[32];
        snprintf(f, sizeof f, "ids[%zu]", i);
        entry_t *e;
        int rc = r->ids[i] > 0 ? get_entry(call, r->ids[i], &e) : MDB_NOTFOUND;
        /* someone else's entry is as unknown as none: ids tell nothing */
        if (rc == MDB_NOTFOUND || (rc == 0 && e->notification->user_id != user))
            return crm_call_fail(call, CODE(NOT_FOUND), f, "%s: no entry %lld in your inbox", f, (long long)r->ids[i]);
        if (rc)
            return crm_call_fail_db(call, rc);
        int err, marked = mark_one(call, e, &err);
        if (marked < 0)
            return crm_call_fail_db(call, err);
        reply->count += marked;
    }
    return lower_unread(call, user, reply->count);
}

int ntf_mark_all_read(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    Crm__Notifications__V1__CountReply *reply = (void *)out;
    notifications_t *n = crm_call_ctx(call);
    if (require_user(call) != 0)
        return -1;
    int64_t user = crm_call_principal(call)->user_id;
    inbox_state_t *st;
    int rc = ntf_state_get(n, crm_call_txn(call), crm_call_arena(call), user, &st);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (!st->unread)
        return 0;
    /* newest first, down to the newest entry the last MarkAllRead saw: all
     * below it were read then, so each entry is visited once over time */
    uint8_t key[NTF_USER_KEY];
    ntf_user_key(key, user, INT64_MAX);
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(crm_call_txn(call), n->by_user, &cur)) != 0)
        return crm_call_fail_db(call, rc);
    int64_t newest = 0;
    MDB_val k = {sizeof key, key}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &d, MDB_LAST) : mdb_cursor_get(cur, &k, &d, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_PREV)) {
        if (k.mv_size != NTF_USER_KEY || memcmp(k.mv_data, key, 8) != 0)
            break;
        int64_t id = (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + 8);
        if (id <= st->read_upto)
            break;
        if (!newest)
            newest = id;
        if (d.mv_size == 1 && *(const uint8_t *)d.mv_data == FLAG_READ)
            continue;
        entry_t *e;
        int err;
        if ((rc = get_entry(call, id, &e)) != 0) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
            break;
        }
        /* the put below lands on the key under the cursor: LMDB keeps the
         * cursor on it */
        if (mark_one(call, e, &err) < 0) {
            rc = err;
            break;
        }
        reply->count++;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (newest > st->read_upto)
        st->read_upto = newest;
    st->unread = st->unread > reply->count ? st->unread - reply->count : 0;
    if ((rc = crm_db_put_id(crm_call_txn(call), n->state, (uint64_t)user, &st->base)) != 0)
        return crm_call_fail_db(call, rc);
    return 0;
}

/* --- preferences ------------------------------------------------------------------------ */

/* The user a preferences call is about: the caller, or anyone for an
 * administrator. Returns the id, or -1 with the error set. */
static int64_t prefs_user(crm_call_t *call, int64_t requested)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (require_user(call) != 0)
        return -1;
    if (requested < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "userId", "userId must be 0 (yourself) or a user id");
    if (requested == 0 || requested == p->user_id)
        return p->user_id;
    if (!p->is_admin)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "userId", "only an administrator may see or change others' preferences");
    notifications_t *n = crm_call_ctx(call);
    if (!crm_readmodel_user(&n->readmodel, crm_call_txn(call), crm_call_arena(call), requested))
        return crm_call_fail(call, CODE(NOT_FOUND), "userId", "no user %lld", (long long)requested);
    return requested;
}

int ntf_get_preferences(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__GetPreferencesRequest *r = (const void *)in;
    Crm__Notifications__V1__Preferences *reply = (void *)out;
    int64_t user = prefs_user(call, r->user_id);
    if (user < 0)
        return -1;
    inbox_state_t *st;
    int rc = ntf_state_get(crm_call_ctx(call), crm_call_txn(call), crm_call_arena(call), user, &st);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->user_id = user;
    reply->auto_follow = !st->auto_follow_off;
    return 0;
}

int ntf_update_preferences(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Notifications__V1__UpdatePreferencesRequest *r = (const void *)in;
    Crm__Notifications__V1__Preferences *reply = (void *)out;
    static const char *const allowed[] = {"auto_follow", NULL};
    crm_status_t s;
    int64_t user = prefs_user(call, r->user_id);
    if (user < 0)
        return -1;
    if (crm_mask_check(&s, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &s);
    notifications_t *n = crm_call_ctx(call);
    inbox_state_t *st;
    int rc = ntf_state_get(n, crm_call_txn(call), crm_call_arena(call), user, &st);
    if (rc == 0) {
        st->auto_follow_off = !r->auto_follow;
        rc = crm_db_put_id(crm_call_txn(call), n->state, (uint64_t)user, &st->base);
    }
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->user_id = user;
    reply->auto_follow = r->auto_follow;
    return 0;
}
