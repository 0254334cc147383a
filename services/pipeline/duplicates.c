/* Likely duplicates: leads and customers that share an e-mail, a phone or a
 * company name with another. Each normal form (dup_norm.h) is an index key
 * written in the transaction of every write, so finding a record's likely
 * twins is a few range scans, never a scan of the store. The key holds 8
 * bytes of the value's hash: every candidate is read and its value compared,
 * so a hash collision costs a read, never a false report. As in OpenERP,
 * a duplicate is only ever reported, never refused. */
#include "pipeline.h"
#include "dup_norm.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define REASON(x) CRM__PIPELINE__V1__DUPLICATE_REASON__DUPLICATE_REASON_##x
#define IMODEL(x) CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_##x
#define N_REASONS 3
/* Index entries one lookup reads per reason: a value shared by thousands of
 * records (a switchboard number) must not make every GetLead read them all. */
#define DUP_SCAN_MAX 200

typedef Crm__Pipeline__V1__LikelyDuplicate dup_t;

/* The normal forms of one record, by reason (index 0: e-mail). */
typedef struct {
    char v[N_REASONS][PL_DUP_VALUE_MAX + 1];
    size_t len[N_REASONS];
} forms_t;

static void forms_of(forms_t *f, const char *email, const char *phone, const char *company)
{
    f->len[0] = pl_norm_email(email, f->v[0]);
    f->len[1] = pl_norm_phone(phone, f->v[1]);
    f->len[2] = pl_norm_company(company ? company : "", f->v[2]);
}

/* The company a lead names: its own company name, else its customer's name
 * when that customer is a company. Returns an LMDB code; *out in a buffer of
 * PL_DUP_VALUE_MAX + 1 bytes. */
static int lead_company(pipeline_t *pl, MDB_txn *txn, const lead_t *l, char *out)
{
    out[0] = '\0';
    if (l->company_name[0] || !l->customer_id) {
        pl_norm_company(l->company_name, out);
        return 0;
    }
    customer_t *c;
    int rc = crm_db_get_id(txn, pl->customers, (uint64_t)l->customer_id, &crm__pipeline__v1__customer__descriptor,
                           NULL, (void **)&c);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (c->is_company)
        pl_norm_company(c->name, out);
    crm__pipeline__v1__customer__free_unpacked(c, NULL);
    return 0;
}

static int lead_forms(pipeline_t *pl, MDB_txn *txn, const lead_t *l, forms_t *f)
{
    forms_of(f, l->email, l->phone, NULL);
    int rc = lead_company(pl, txn, l, f->v[2]);
    f->len[2] = strlen(f->v[2]);
    return rc;
}

static void customer_forms(const customer_t *c, forms_t *f)
{
    forms_of(f, c->email, c->phone, c->is_company ? c->name : "");
}

/* --- upkeep ------------------------------------------------------------------- */

/* Deletes the keys of old that new has not, and puts those of new that old
 * had not (either may be NULL). */
static int move_keys(MDB_txn *txn, MDB_dbi dbi, const forms_t *old, int64_t old_id, const forms_t *new,
                     int64_t new_id)
{
    uint8_t key[PL_DUP_KEY];
    int rc = 0;
    for (int r = 0; r < N_REASONS && rc == 0; r++) {
        int had = old && old->len[r], has = new && new->len[r];
        int same = had && has && old_id == new_id && old->len[r] == new->len[r] &&
                   !memcmp(old->v[r], new->v[r], old->len[r]);
        if (same)
            continue;
        if (had) {
            MDB_val k = {pl_dup_key(key, r + 1, old->v[r], old->len[r], old_id), key};
            rc = mdb_del(txn, dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
        if (rc == 0 && has) {
            MDB_val k = {pl_dup_key(key, r + 1, new->v[r], new->len[r], new_id), key}, d = {0, ""};
            rc = mdb_put(txn, dbi, &k, &d, 0);
        }
    }
    return rc;
}

int pl_dup_index_lead_txn(pipeline_t *pl, MDB_txn *txn, const lead_t *old, const lead_t *new)
{
    forms_t *of = NULL, *nf = NULL, buf[2];
    int rc = 0;
    if (old && (rc = lead_forms(pl, txn, old, of = &buf[0])) != 0)
        return rc;
    if (new && (rc = lead_forms(pl, txn, new, nf = &buf[1])) != 0)
        return rc;
    return move_keys(txn, pl->lead_dups, of, old ? old->id : 0, nf, new ? new->id : 0);
}

/* A company renamed renames the company of its leads that name none of
 * their own: their keys move with it. */
static int rename_leads_company(pipeline_t *pl, MDB_txn *txn, int64_t customer_id, const char *old_name,
                                const char *new_name)
{
    forms_t of, nf;
    memset(&of, 0, sizeof of);
    memset(&nf, 0, sizeof nf);
    of.len[2] = pl_norm_company(old_name, of.v[2]);
    nf.len[2] = pl_norm_company(new_name, nf.v[2]);
    if (of.len[2] == nf.len[2] && !memcmp(of.v[2], nf.v[2], of.len[2]))
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, pl->by_customer, &cur);
    if (rc)
        return rc;
    uint8_t prefix[16];
    crm_key_put_u64(prefix, (uint64_t)customer_id);
    crm_key_put_u64(prefix + 8, 0);
    MDB_val k = {16, prefix}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 16 || memcmp(k.mv_data, prefix, 8) != 0)
            break;
        int64_t id = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + 8);
        lead_t *l;
        if ((rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor, NULL,
                                (void **)&l)) != 0)
            break;
        int own = l->company_name[0] != '\0';
        crm__pipeline__v1__lead__free_unpacked(l, NULL);
        if (!own && (rc = move_keys(txn, pl->lead_dups, &of, id, &nf, id)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int pl_dup_index_customer_txn(pipeline_t *pl, MDB_txn *txn, const customer_t *old, const customer_t *new)
{
    forms_t of, nf;
    if (old)
        customer_forms(old, &of);
    if (new)
        customer_forms(new, &nf);
    int rc = move_keys(txn, pl->customer_dups, old ? &of : NULL, old ? old->id : 0, new ? &nf : NULL,
                       new ? new->id : 0);
    if (rc == 0 && old && new)
        rc = rename_leads_company(pl, txn, new->id, old->is_company ? old->name : "",
                                  new->is_company ? new->name : "");
    return rc;
}

int pl_dup_index_lead(crm_call_t *call, const lead_t *old, const lead_t *new)
{
    int rc = pl_dup_index_lead_txn(crm_call_ctx(call), crm_call_txn(call), old, new);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_dup_index_customer(crm_call_t *call, const customer_t *old, const customer_t *new)
{
    int rc = pl_dup_index_customer_txn(crm_call_ctx(call), crm_call_txn(call), old, new);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* --- lookup --------------------------------------------------------------------- */

typedef struct {
    dup_t **items;
    size_t n;
} found_t;

static dup_t *found_get(found_t *f, int64_t id)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->items[i]->id == id)
            return f->items[i];
    return NULL;
}

/* The records of dbi (lead_dups or customer_dups) whose value for each
 * reason equals the query's, the caller may see, and are not exclude_id. */
static int find(crm_call_t *call, int lead_model, const forms_t *q, int64_t exclude_id, found_t *f)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    crm_arena_t *arena = crm_call_arena(call);
    MDB_dbi dbi = lead_model ? pl->lead_dups : pl->customer_dups;
    f->items = crm_arena_alloc(arena, sizeof *f->items * PL_DUP_MAX);
    f->n = 0;
    int rc = 0;
    for (int r = 0; r < N_REASONS && rc == 0; r++) {
        if (!q->len[r])
            continue;
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
            break;
        uint8_t prefix[PL_DUP_KEY];
        pl_dup_key(prefix, r + 1, q->v[r], q->len[r], 0);
        MDB_val k = {PL_DUP_KEY, prefix}, d;
        int scanned = 0;
        for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && scanned < DUP_SCAN_MAX;
             rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT), scanned++) {
            if (k.mv_size != PL_DUP_KEY || memcmp(k.mv_data, prefix, PL_DUP_PREFIX) != 0)
                break;
            int64_t id = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + PL_DUP_PREFIX);
            dup_t *dup = found_get(f, id);
            if (id == exclude_id || (!dup && f->n == PL_DUP_MAX))
                continue;
            forms_t have;
            const char *name;
            if (lead_model) {
                lead_t *l;
                rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor,
                                   crm_arena_allocator(arena), (void **)&l);
                if (rc == 0 && !crm_call_sees_lead(call, l->salesperson_id))
                    continue; /* another salesperson's lead is not even a duplicate */
                if (rc == 0)
                    rc = lead_forms(pl, txn, l, &have);
                name = rc == 0 ? l->name : "";
            } else {
                customer_t *c;
                rc = crm_db_get_id(txn, pl->customers, (uint64_t)id, &crm__pipeline__v1__customer__descriptor,
                                   crm_arena_allocator(arena), (void **)&c);
                if (rc == 0)
                    customer_forms(c, &have);
                name = rc == 0 ? c->name : "";
            }
            if (rc) {
                rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* an index key without its record */
                break;
            }
            if (have.len[r] != q->len[r] || memcmp(have.v[r], q->v[r], q->len[r]) != 0)
                continue; /* the hashes collide, the values differ */
            if (!dup) {
                dup = crm_call_new(call, &crm__pipeline__v1__likely_duplicate__descriptor);
                dup->model = lead_model ? "lead" : "customer";
                dup->id = id;
                dup->name = (char *)name;
                dup->reasons = crm_arena_alloc(arena, sizeof *dup->reasons * N_REASONS);
                f->items[f->n++] = dup;
            }
            dup->reasons[dup->n_reasons++] = (Crm__Pipeline__V1__DuplicateReason)(r + 1);
        }
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_dup_fill_lead(crm_call_t *call, lead_t *l)
{
    forms_t q;
    found_t f;
    int rc = lead_forms(crm_call_ctx(call), crm_call_txn(call), l, &q);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (find(call, 1, &q, l->id, &f) != 0)
        return -1;
    l->likely_duplicates = f.items;
    l->n_likely_duplicates = f.n;
    return 0;
}

int pl_dup_fill_customer(crm_call_t *call, customer_t *c)
{
    forms_t q;
    found_t f;
    customer_forms(c, &q);
    if (find(call, 0, &q, c->id, &f) != 0)
        return -1;
    c->likely_duplicates = f.items;
    c->n_likely_duplicates = f.n;
    return 0;
}

int pl_find_duplicates(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__FindDuplicatesRequest *r = (const void *)in;
    Crm__Pipeline__V1__FindDuplicatesReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (r->model != IMODEL(LEAD) && r->model != IMODEL(CUSTOMER))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "model", "model must be IMPORT_MODEL_LEAD or IMPORT_MODEL_CUSTOMER");
    if (pl_check_text(call, "email", r->email, 0, 256) != 0 || pl_check_text(call, "phone", r->phone, 0, 64) != 0 ||
        pl_check_text(call, "companyName", r->company_name, 0, 256) != 0)
        return -1;
    if (r->exclude_id < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "excludeId", "excludeId must be 0 or a record id");
    forms_t q;
    found_t f;
    forms_of(&q, r->email, r->phone, r->company_name);
    if (find(call, r->model == IMODEL(LEAD), &q, r->exclude_id, &f) != 0)
        return -1;
    reply->duplicates = f.items;
    reply->n_duplicates = f.n;
    return 0;
}

/* --- upgrade ---------------------------------------------------------------------- */

static int index_stored_lead(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    lead_t *l = crm__pipeline__v1__lead__unpack(NULL, data->mv_size, data->mv_data);
    if (!l)
        return MDB_CORRUPTED;
    int rc = pl_dup_index_lead_txn(arg, txn, NULL, l);
    crm__pipeline__v1__lead__free_unpacked(l, NULL);
    return rc;
}

static int index_stored_customer(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    customer_t *c = crm__pipeline__v1__customer__unpack(NULL, data->mv_size, data->mv_data);
    if (!c)
        return MDB_CORRUPTED;
    int rc = pl_dup_index_customer_txn(arg, txn, NULL, c);
    crm__pipeline__v1__customer__free_unpacked(c, NULL);
    return rc;
}

int pl_dup_upgrade(pipeline_t *pl, crm_store_t *store)
{
    uint64_t from;
    int rc = crm_store_upgrade_from(store, &from);
    if (rc || !from || from >= PIPELINE_SCHEMA_DUPLICATES)
        return rc;
    /* putting a key is idempotent: a batch done again after a crash is harmless */
    if ((rc = crm_store_rewrite(store, pl->leads, "dup_leads", index_stored_lead, pl, 1000)) == 0)
        rc = crm_store_rewrite(store, pl->customers, "dup_customers", index_stored_customer, pl, 1000);
    return rc;
}
