/* MergeLeads: leads and opportunities merged into one, as OpenERP's "Merge
 * opportunities" does. The destination keeps its own values and takes, for
 * each of its empty fields, the first value the others have (in the order
 * given); its tags are the union, its internal notes all of theirs. The
 * others are deleted with every index and kanban share they had, their
 * quotations re-pointed to the destination (quotation.updated, so that a
 * quotation stays visible to whoever sees its opportunity), and one
 * lead.merged tells activities and notifications to move the chatter,
 * calls, meetings and followers; no lead.deleted is emitted for them. */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x
#define MERGE_MIN 2
#define MERGE_MAX 10
#define TAGS_MAX 64 /* as a lead's own rule (leads.c) */
#define NOTES_MAX 65536

typedef Crm__Pipeline__V1__FieldChange change_t;

typedef struct {
    change_t **items;
    size_t n, cap;
} changes_t;

static void add_change(crm_call_t *call, changes_t *ch, const char *field, const char *oldv, const char *newv,
                       const char *oldl, const char *newl)
{
    if (ch->n == ch->cap)
        return; /* cap is every field merge.c may change */
    change_t *c = crm_call_new(call, &crm__pipeline__v1__field_change__descriptor);
    c->field = (char *)field;
    c->old_value = crm_arena_strdup(crm_call_arena(call), oldv);
    c->new_value = crm_arena_strdup(crm_call_arena(call), newv);
    c->old_label = (char *)oldl;
    c->new_label = (char *)newl;
    ch->items[ch->n++] = c;
}

static void id_change(crm_call_t *call, changes_t *ch, const char *field, int64_t a, int64_t b, const char *al,
                      const char *bl)
{
    if (a == b)
        return;
    char x[24], y[24];
    snprintf(x, sizeof x, "%lld", (long long)a);
    snprintf(y, sizeof y, "%lld", (long long)b);
    add_change(call, ch, field, x, y, al, bl);
}

/* Text fields the destination fills from the others when it has none. */
#define TEXT_FIELDS(X)                                                                                          \
    X(contact_name, "contactName") X(function, "function") X(email, "email") X(phone, "phone")                  \
    X(next_action, "nextAction") X(next_action_date, "nextActionDate") X(expected_closing, "expectedClosing")   \
    X(referred_by, "referredBy") X(company_name, "companyName")

/* The destination: into_id, else the first opportunity given, else the
 * oldest lead (OpenERP's rule). */
static size_t pick_destination(lead_t **leads, size_t n, int64_t into_id)
{
    size_t best = 0;
    for (size_t i = 0; i < n; i++)
        if (into_id && leads[i]->id == into_id)
            return i;
    for (size_t i = 0; i < n; i++)
        if (pl_lead_type(leads[i]) == LTYPE(OPPORTUNITY))
            return i;
    for (size_t i = 1; i < n; i++)
        if (leads[i]->created_at < leads[best]->created_at ||
            (leads[i]->created_at == leads[best]->created_at && leads[i]->id < leads[best]->id))
            best = i;
    return best;
}

/* The ids asked, checked (field names the one at fault), into_id added when
 * it is not among them. */
static int check_ids(crm_call_t *call, const Crm__Pipeline__V1__MergeLeadsRequest *r, int64_t **ids, size_t *n)
{
    if (r->n_ids < MERGE_MIN || r->n_ids > MERGE_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids", "give %d to %d lead ids to merge (%zu given)",
                             MERGE_MIN, MERGE_MAX, r->n_ids);
    if (r->into_id < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "intoId", "intoId must be 0 or a lead id");
    int64_t *out = crm_arena_alloc(crm_call_arena(call), sizeof *out * (r->n_ids + 1));
    size_t k = 0;
    int into_given = 0;
    for (size_t i = 0; i < r->n_ids; i++) {
        if (r->ids[i] <= 0)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids", "ids[%zu] is not a lead id", i);
        for (size_t j = 0; j < k; j++)
            if (out[j] == r->ids[i])
                return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids", "lead %lld is given twice",
                                     (long long)r->ids[i]);
        into_given |= r->ids[i] == r->into_id;
        out[k++] = r->ids[i];
    }
    if (r->into_id && !into_given) {
        if (k == MERGE_MAX)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "intoId",
                                 "intoId is not among ids, which makes more than %d leads", MERGE_MAX);
        out[k++] = r->into_id;
    }
    *ids = out;
    *n = k;
    return 0;
}

/* Every lead asked, each one the caller may change: for an own-leads user
 * theirs and unassigned ones (exactly those they see); an unknown or
 * unreadable one is not_found. */
static int load_leads(crm_call_t *call, const int64_t *ids, size_t n, size_t n_asked, lead_t ***out)
{
    pipeline_t *pl = crm_call_ctx(call);
    lead_t **leads = crm_arena_alloc(crm_call_arena(call), sizeof *leads * n);
    for (size_t i = 0; i < n; i++) {
        const char *field = i < n_asked ? "ids" : "intoId";
        if (pl_get(call, pl->leads, ids[i], &crm__pipeline__v1__lead__descriptor, field, "lead",
                   (void **)&leads[i]) != 0)
            return -1;
        if (!crm_call_sees_lead(call, leads[i]->salesperson_id))
            return crm_call_fail(call, CODE(NOT_FOUND), field, "no lead %lld", (long long)ids[i]);
    }
    *out = leads;
    return 0;
}

static int has_tag(const int64_t *tags, size_t n, int64_t tag)
{
    for (size_t i = 0; i < n; i++)
        if (tags[i] == tag)
            return 1;
    return 0;
}

/* The destination l (a copy of dest) takes the others' values; ch gets what
 * changed. Returns 0 or -1. */
static int merge_values(crm_call_t *call, lead_t *l, const lead_t *dest, lead_t **others, size_t n, changes_t *ch)
{
    crm_arena_t *arena = crm_call_arena(call);
    for (size_t i = 0; i < n; i++) {
        const lead_t *o = others[i];
#define TAKE_TEXT(f, json)                                                                                      \
    if (!l->f[0] && o->f[0]) {                                                                                  \
        l->f = o->f;                                                                                            \
        add_change(call, ch, json, "", o->f, "", "");                                                           \
    }
        TEXT_FIELDS(TAKE_TEXT)
#undef TAKE_TEXT
        if (!l->customer_id && o->customer_id)
            l->customer_id = o->customer_id;
        if (!l->salesperson_id && o->salesperson_id)
            l->salesperson_id = o->salesperson_id;
        if (!l->team_id && o->team_id)
            l->team_id = o->team_id;
        if (!l->expected_revenue && o->expected_revenue) {
            l->expected_revenue = o->expected_revenue;
            l->currency = o->currency; /* an amount means nothing without its currency */
        }
    }
    /* tags: the union, the destination's first */
    int64_t *tags = crm_arena_alloc(arena, sizeof *tags * TAGS_MAX);
    size_t nt = 0;
    for (size_t i = 0; i <= n; i++) {
        const lead_t *o = i == 0 ? dest : others[i - 1];
        for (size_t j = 0; j < o->n_tag_ids; j++) {
            if (has_tag(tags, nt, o->tag_ids[j]))
                continue;
            if (nt == TAGS_MAX)
                return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids",
                                     "the merged lead would have more than %d tags", TAGS_MAX);
            tags[nt++] = o->tag_ids[j];
        }
    }
    if (nt != l->n_tag_ids)
        add_change(call, ch, "tagIds", "", "", "", "");
    l->tag_ids = tags;
    l->n_tag_ids = nt;
    /* internal notes: every lead's, the destination's first */
    size_t len = strlen(dest->internal_notes);
    for (size_t i = 0; i < n; i++)
        len += others[i]->internal_notes[0] ? strlen(others[i]->internal_notes) + 2 : 0;
    if (len > NOTES_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "ids",
                             "the merged internal notes would pass %d bytes", NOTES_MAX);
    if (len != strlen(dest->internal_notes)) {
        char *notes = crm_arena_alloc(arena, len + 1), *p = notes;
        p += sprintf(p, "%s", dest->internal_notes);
        for (size_t i = 0; i < n; i++)
            if (others[i]->internal_notes[0])
                p += sprintf(p, "%s%s", p == notes ? "" : "\n\n", others[i]->internal_notes);
        l->internal_notes = notes;
        add_change(call, ch, "internalNotes", "", "", "", "");
    }
    /* a team taken from another may not use the destination's stage */
    pipeline_t *pl = crm_call_ctx(call);
    stage_t *s;
    if (pl_get(call, pl->stages, l->stage_id, &crm__pipeline__v1__stage__descriptor, "ids", "stage", (void **)&s) != 0)
        return -1;
    if (!pl_stage_fits(s, l->team_id, l->type)) {
        if (pl_first_stage(call, l->team_id, l->type, 0, &s) != 0)
            return -1;
        l->stage_id = s->id;
        l->status = s->status ? s->status : STATUS(IN_PROGRESS);
        l->closed_at = l->status == STATUS(WON) || l->status == STATUS(LOST) ? crm_call_now(call) : 0;
    }
    return 0;
}

/* The tracked changes, with the names people read, as lead.updated has them. */
static int track_ids(crm_call_t *call, const lead_t *dest, const lead_t *l, changes_t *ch)
{
    lead_t a = *dest, b = *l;
    if (pl_lead_names(call, &a) != 0 || pl_lead_names(call, &b) != 0)
        return -1;
    id_change(call, ch, "stageId", a.stage_id, b.stage_id, "", "");
    id_change(call, ch, "salespersonId", a.salesperson_id, b.salesperson_id, a.salesperson_name, b.salesperson_name);
    id_change(call, ch, "teamId", a.team_id, b.team_id, a.team_name, b.team_name);
    id_change(call, ch, "customerId", a.customer_id, b.customer_id, a.customer_name, b.customer_name);
    if (a.expected_revenue != b.expected_revenue) {
        char x[24], y[24];
        snprintf(x, sizeof x, "%lld", (long long)a.expected_revenue);
        snprintf(y, sizeof y, "%lld", (long long)b.expected_revenue);
        add_change(call, ch, "expectedRevenue", x, y, a.currency, b.currency);
    }
    return 0;
}

/* Quotations made from a merged lead now count as made from the
 * destination: their index moves and quotation.updated carries the new
 * opportunity to the services that decide who sees them. */
static int repoint_quotations(crm_call_t *call, int64_t from, int64_t to)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    int64_t ids[64];
    size_t n;
    int rc;
    /* in rounds, as the index changes under the scan */
    do {
        n = 0;
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, pl->quotes_by_lead, &cur)) != 0)
            return crm_call_fail_db(call, rc);
        uint8_t key[16];
        crm_key_put_u64(key, (uint64_t)from);
        crm_key_put_u64(key + 8, 0);
        MDB_val k = {16, key}, d;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && n < 64;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
            if (k.mv_size != 16 || memcmp(k.mv_data, key, 8) != 0)
                break;
            ids[n++] = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + 8);
        }
        mdb_cursor_close(cur);
        if (rc && rc != MDB_NOTFOUND)
            return crm_call_fail_db(call, rc);
        for (size_t i = 0; i < n; i++) {
            Crm__Pipeline__V1__Quotation *q;
            if (pl_get(call, pl->quotations, ids[i], &crm__pipeline__v1__quotation__descriptor, "ids", "quotation",
                       (void **)&q) != 0)
                return -1;
            q->opportunity_id = to;
            uint8_t ok[16], nk[16];
            crm_key_put_u64(ok, (uint64_t)from);
            crm_key_put_u64(ok + 8, (uint64_t)q->id);
            crm_key_put_u64(nk, (uint64_t)to);
            crm_key_put_u64(nk + 8, (uint64_t)q->id);
            MDB_val okv = {16, ok}, nkv = {16, nk}, empty = {0, ""};
            if ((rc = mdb_del(txn, pl->quotes_by_lead, &okv, NULL)) != 0 ||
                (rc = mdb_put(txn, pl->quotes_by_lead, &nkv, &empty, 0)) != 0)
                return crm_call_fail_db(call, rc);
            if (pl_put(call, pl->quotations, q->id, &q->base) != 0)
                return -1;
            Crm__Pipeline__V1__QuotationEvent ev = CRM__PIPELINE__V1__QUOTATION_EVENT__INIT;
            ev.quotation = q;
            if (crm_call_emit(call, "quotation.updated", &ev.base) != 0)
                return -1;
        }
    } while (n == 64);
    return 0;
}

int pl_merge_leads(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__MergeLeadsRequest *r = (const void *)in;
    int64_t *ids = NULL;
    size_t n = 0;
    lead_t **leads = NULL;
    if (crm_call_require_sales(call) != 0 || check_ids(call, r, &ids, &n) != 0 ||
        load_leads(call, ids, n, r->n_ids, &leads) != 0)
        return -1;
    size_t at = pick_destination(leads, n, r->into_id);
    const lead_t *dest = leads[at];
    lead_t **others = crm_arena_alloc(crm_call_arena(call), sizeof *others * n);
    int64_t *merged_ids = crm_arena_alloc(crm_call_arena(call), sizeof *merged_ids * n);
    for (size_t i = 0, k = 0; i < n; i++)
        if (i != at) {
            merged_ids[k] = leads[i]->id;
            others[k++] = leads[i];
        }
    lead_t *l = (lead_t *)out;
    *l = *dest;
    /* every text field, four ids, revenue, tags, notes, stage and status */
    changes_t ch = {crm_arena_alloc(crm_call_arena(call), sizeof(change_t *) * 24), 0, 24};
    if (merge_values(call, l, dest, others, n - 1, &ch) != 0 || track_ids(call, dest, l, &ch) != 0)
        return -1;
    /* an active lead merged into an archived one would leave the board
     * unseen: the result is archived only when every lead was */
    for (size_t i = 0; i < n - 1 && l->archived; i++)
        if (!others[i]->archived)
            l->archived = 0;
    l->updated_at = crm_call_now(call);
    for (size_t i = 0; i < n - 1; i++)
        if (repoint_quotations(call, others[i]->id, l->id) != 0 || pl_lead_save(call, others[i], NULL) != 0)
            return -1;
    if (pl_lead_save(call, dest, l) != 0)
        return -1;
    Crm__Pipeline__V1__LeadMergedEvent ev = CRM__PIPELINE__V1__LEAD_MERGED_EVENT__INIT;
    ev.lead = l;
    ev.merged_ids = merged_ids;
    ev.n_merged_ids = n - 1;
    ev.changes = ch.items;
    ev.n_changes = ch.n;
    if (crm_call_emit(call, "lead.merged", &ev.base) != 0)
        return -1;
    /* after the event, which carries the lead as stored: names are the reply's */
    return pl_lead_names(call, l);
}
