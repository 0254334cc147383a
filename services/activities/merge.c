/* Leads merged into one (pipeline's lead.merged): everything activities
 * holds on the merged leads moves to the destination, in the consumer's
 * transaction, so each move happens exactly once: chatter messages (their
 * by-document keys re-made at the same instant), the attachment records and
 * meetings those messages point to, and calls (their by-document keys). The
 * read model then drops the merged leads, and one tracking message on the
 * destination says what was merged and which fields it took. */
#include "activities.h"
#include "pipeline.pb-c.h"
#include "crm_consumer.h"
#include "crm_tracking.h"

#include <string.h>

#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x
/* keys moved a round: the scan starts again after each, as moved keys
 * leave the range it reads */
#define ROUND 1000

/* The by-document keys (model, doc, at, id) of one document in dbi, at most
 * ROUND. Returns an LMDB code; *n gets how many. */
static int doc_keys(MDB_txn *txn, MDB_dbi dbi, int64_t doc, uint8_t (*keys)[ACT_TIME_KEY], size_t *n)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    uint8_t from[ACT_TIME_KEY];
    act_doc_time_key(from, ACT_LEAD, doc, 0, 0);
    MDB_val k = {sizeof from, from}, d;
    *n = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && *n < ROUND;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != ACT_TIME_KEY || memcmp(k.mv_data, from, ACT_DOC_KEY) != 0)
            break;
        memcpy(keys[(*n)++], k.mv_data, ACT_TIME_KEY);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Moves one by-document key of dbi to the destination, the same instant and record. */
static int rekey(MDB_txn *txn, MDB_dbi dbi, const uint8_t *old, int64_t dest)
{
    uint8_t key[ACT_TIME_KEY];
    memcpy(key, old, ACT_TIME_KEY);
    crm_key_put_u64(key + 1, (uint64_t)dest);
    MDB_val ok = {ACT_TIME_KEY, (void *)old}, nk = {ACT_TIME_KEY, key}, empty = {0, ""};
    int rc = mdb_del(txn, dbi, &ok, NULL);
    return rc ? rc : mdb_put(txn, dbi, &nk, &empty, 0);
}

/* The attachments and the meeting a moved message points to. */
static int move_message_refs(activities_t *a, MDB_txn *txn, const message_t *m, int64_t from, int64_t dest)
{
    ProtobufCAllocator *alloc = crm_arena_allocator(a->apply_arena);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->n_attachments; i++) {
        Crm__Activities__V1__AttachmentRecord *r;
        rc = crm_db_get_id(txn, a->attachments, (uint64_t)m->attachments[i]->id,
                           &crm__activities__v1__attachment_record__descriptor, alloc, (void **)&r);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc == 0 && r->doc && crm_doc_model(r->doc->model) == ACT_LEAD && r->doc->id == from) {
            r->doc->id = dest;
            rc = crm_db_put_id(txn, a->attachments, (uint64_t)r->id, &r->base);
        }
    }
    if (rc == 0 && m->meeting_id > 0) {
        meeting_t *mt;
        rc = crm_db_get_id(txn, a->meetings, (uint64_t)m->meeting_id, &crm__activities__v1__meeting__descriptor,
                           alloc, (void **)&mt);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc == 0 && mt->doc && crm_doc_model(mt->doc->model) == ACT_LEAD && mt->doc->id == from) {
            /* its entry in the document's meeting list moves with it */
            if ((rc = act_meeting_index(a, txn, mt, 0)) != 0)
                return rc;
            mt->doc->id = dest;
            if ((rc = crm_db_put_id(txn, a->meetings, (uint64_t)mt->id, &mt->base)) == 0)
                rc = act_meeting_index(a, txn, mt, 1);
        }
    }
    return rc;
}

static int move_chatter(activities_t *a, MDB_txn *txn, int64_t from, int64_t dest, uint8_t (*keys)[ACT_TIME_KEY])
{
    size_t n;
    int rc;
    do {
        if ((rc = doc_keys(txn, a->chatter, from, keys, &n)) != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            message_t *m;
            int64_t id = (int64_t)crm_key_get_u64(keys[i] + 17);
            rc = crm_db_get_id(txn, a->messages, (uint64_t)id, &crm__activities__v1__message__descriptor,
                               crm_arena_allocator(a->apply_arena), (void **)&m);
            if (rc)
                return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* a chatter entry without its message */
            if (!m->doc)
                return MDB_CORRUPTED; /* a chatter entry of a message on no document */
            m->doc->id = dest;
            if ((rc = crm_db_put_id(txn, a->messages, (uint64_t)id, &m->base)) != 0 ||
                (rc = rekey(txn, a->chatter, keys[i], dest)) != 0 ||
                (rc = move_message_refs(a, txn, m, from, dest)) != 0)
                return rc;
        }
    } while (n == ROUND);
    return 0;
}

static int move_calls(activities_t *a, MDB_txn *txn, int64_t from, int64_t dest, uint8_t (*keys)[ACT_TIME_KEY])
{
    size_t n;
    int rc;
    do {
        if ((rc = doc_keys(txn, a->calls_by_doc, from, keys, &n)) != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            call_t *c;
            int64_t id = (int64_t)crm_key_get_u64(keys[i] + 17);
            rc = crm_db_get_id(txn, a->calls, (uint64_t)id, &crm__activities__v1__call__descriptor,
                               crm_arena_allocator(a->apply_arena), (void **)&c);
            if (rc)
                return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index key without its call */
            if (!c->doc)
                return MDB_CORRUPTED;
            c->doc->id = dest;
            if ((rc = crm_db_put_id(txn, a->calls, (uint64_t)id, &c->base)) != 0 ||
                (rc = rekey(txn, a->calls_by_doc, keys[i], dest)) != 0)
                return rc;
        }
    } while (n == ROUND);
    return 0;
}

/* Labels of the fields a merge fills that lead.updated does not track. */
static const struct {
    const char *field, *label;
} untracked[] = {
    {"contactName", "Contact"},        {"function", "Job position"}, {"email", "Email"},
    {"phone", "Phone"},                {"nextAction", "Next action"}, {"nextActionDate", "Next action date"},
    {"expectedClosing", "Expected closing"}, {"referredBy", "Referred by"}, {"companyName", "Company"},
    {"tagIds", "Tags"},                {"internalNotes", "Internal notes"},
};

/* "Merged with: A, B", the tracked changes, then the fields filled. */
static char *merge_text(crm_arena_t *arena, const Crm__Pipeline__V1__LeadMergedEvent *e, const char *names)
{
    char *text = crm_tracking_text(arena, e->changes, e->n_changes,
                                   crm_arena_printf(arena, "Merged with: %s", names), NULL, NULL, NULL);
    for (size_t i = 0; i < e->n_changes; i++)
        for (size_t j = 0; j < sizeof untracked / sizeof untracked[0]; j++) {
            if (strcmp(e->changes[i]->field, untracked[j].field))
                continue;
            const char *v = e->changes[i]->new_value;
            text = *v ? crm_arena_printf(arena, "%s\n%s: → %s", text, untracked[j].label, v)
                      : crm_arena_printf(arena, "%s\n%s: merged", text, untracked[j].label);
        }
    return text;
}

int act_apply_merge(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    crm_arena_t *arena = a->apply_arena;
    Crm__Pipeline__V1__LeadMergedEvent *e = crm__pipeline__v1__lead_merged_event__unpack(
        crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->lead || e->lead->id <= 0)
        return CRM_CONSUMER_UNCHANGED; /* can never apply: skipped rather than stall */
    int64_t dest = e->lead->id;
    uint8_t(*keys)[ACT_TIME_KEY] = crm_arena_alloc(arena, sizeof *keys * ROUND);
    const char *names = "";
    int rc = 0;
    for (size_t i = 0; i < e->n_merged_ids && rc == 0; i++) {
        int64_t from = e->merged_ids[i];
        if (from <= 0 || from == dest)
            continue;
        /* the name, before the read model forgets the lead */
        crm_docinfo_t *d;
        rc = crm_readmodel_doc(&a->readmodel, txn, arena, ACT_LEAD, from, &d);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        const char *name = rc == 0 && *d->name ? d->name : crm_arena_printf(arena, "#%lld", (long long)from);
        names = *names ? crm_arena_printf(arena, "%s, %s", names, name) : name;
        if ((rc = move_chatter(a, txn, from, dest, keys)) == 0)
            rc = move_calls(a, txn, from, dest, keys);
    }
    if (rc)
        return rc;
    rc = crm_readmodel_apply(&a->readmodel, txn, arena, ev);
    if (rc && rc != CRM_CONSUMER_UNCHANGED)
        return rc;
    message_t *m = act_tracking_message(a, txn, ev, ACT_LEAD, dest);
    m->body = merge_text(arena, e, names);
    return act_message_store(a, txn, m, ev->actor_id);
}
