#include "crm_readmodel.h"
#include "crm_access.h"
#include "crm_consumer.h"
#include "crm_log.h"
#include "crm_wire.h"
#include "identity.pb-c.h"
#include "pipeline.pb-c.h"

#include <string.h>

#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x
#define UPGRADE_BATCH 1000 /* records a transaction when upgrading a store */

void crm_doc_key(uint8_t out[CRM_DOC_KEY], int model, int64_t id)
{
    out[0] = (uint8_t)model;
    crm_key_put_u64(out + 1, (uint64_t)id);
}

/* --- applying events ------------------------------------------------------ */

/* Stores m under key unless the same bytes are there already (protobuf-c
 * packs a message's fields in one order, so equal records pack equal). A
 * record there that does not decode is a damaged store, not replaced
 * unseen: MDB_CORRUPTED stops the consumer on this event, for an operator
 * to see (Health, crmctl consumers). */
static int put_changed(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const ProtobufCMessage *m,
                       crm_arena_t *arena)
{
    MDB_val k = {klen, (void *)key}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        size_t len = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = crm_arena_alloc(arena, len ? len : 1);
        protobuf_c_message_pack(m, buf);
        if (d.mv_size == len && !memcmp(buf, d.mv_data, len))
            return CRM_CONSUMER_UNCHANGED;
        if (!protobuf_c_message_unpack(m->descriptor, crm_arena_allocator(arena), d.mv_size, d.mv_data))
            return MDB_CORRUPTED;
    }
    return crm_db_put_msg(txn, dbi, key, klen, m);
}

/* Keeps what a pipeline event says of its document; a payload that names
 * none can never be applied: it is skipped rather than stall the consumer. */
static int put_doc(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id,
                   crm_docinfo_t *d)
{
    if (id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    uint8_t key[CRM_DOC_KEY];
    crm_doc_key(key, model, id);
    return put_changed(txn, rm->docs, key, sizeof key, &d->base, arena);
}

/* A deleted document is forgotten: what was kept of it (chatter, followers)
 * is then unreadable to everyone, as an unknown document is. */
static int drop_doc(const crm_readmodel_t *rm, MDB_txn *txn, int model, int64_t id)
{
    if (id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    uint8_t key[CRM_DOC_KEY];
    crm_doc_key(key, model, id);
    MDB_val k = {sizeof key, key};
    int rc = mdb_del(txn, rm->docs, &k, NULL);
    return rc == MDB_NOTFOUND ? CRM_CONSUMER_UNCHANGED : rc;
}

static int is_deleted(const char *type)
{
    const char *dot = strchr(type, '.');
    return dot && !strcmp(dot, ".deleted");
}

/* lead.merged: the destination as it is now; the leads merged into it are
 * gone, so their records go (what was theirs now hangs on the destination). */
static int apply_merged(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena,
                        const Crm__Events__V1__Event *ev)
{
    Crm__Pipeline__V1__LeadMergedEvent *e = crm__pipeline__v1__lead_merged_event__unpack(
        crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->lead)
        return CRM_CONSUMER_UNCHANGED;
    crm_docinfo_t d = CRM__COMMON__V1__DOC_INFO__INIT;
    d.salesperson_id = e->lead->salesperson_id;
    d.team_id = e->lead->team_id;
    d.name = e->lead->name;
    d.archived = e->lead->archived;
    int rc = put_doc(rm, txn, arena, CRM_DOC_LEAD, e->lead->id, &d), changed = rc == 0;
    if (rc && rc != CRM_CONSUMER_UNCHANGED)
        return rc;
    for (size_t i = 0; i < e->n_merged_ids; i++) {
        uint8_t key[CRM_DOC_KEY];
        crm_doc_key(key, CRM_DOC_LEAD, e->merged_ids[i]);
        MDB_val k = {sizeof key, key};
        rc = mdb_del(txn, rm->docs, &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        changed |= rc == 0;
    }
    return changed ? 0 : CRM_CONSUMER_UNCHANGED;
}

static int apply_document(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena,
                          const Crm__Events__V1__Event *ev)
{
    if (!strcmp(ev->type, "lead.merged")) /* not a LeadEvent */
        return apply_merged(rm, txn, arena, ev);
    ProtobufCAllocator *alloc = crm_arena_allocator(arena);
    const ProtobufCBinaryData *p = &ev->payload;
    crm_docinfo_t d = CRM__COMMON__V1__DOC_INFO__INIT;
    if (!strncmp(ev->type, "lead.", 5)) {
        Crm__Pipeline__V1__LeadEvent *e = crm__pipeline__v1__lead_event__unpack(alloc, p->len, p->data);
        const Crm__Pipeline__V1__Lead *l = e ? e->lead : NULL;
        if (!l)
            return CRM_CONSUMER_UNCHANGED;
        if (is_deleted(ev->type))
            return drop_doc(rm, txn, CRM_DOC_LEAD, l->id);
        d.salesperson_id = l->salesperson_id;
        d.team_id = l->team_id;
        d.name = l->name;
        d.archived = l->archived;
        return put_doc(rm, txn, arena, CRM_DOC_LEAD, l->id, &d);
    }
    if (!strncmp(ev->type, "customer.", 9)) {
        Crm__Pipeline__V1__CustomerEvent *e = crm__pipeline__v1__customer_event__unpack(alloc, p->len, p->data);
        const Crm__Pipeline__V1__Customer *c = e ? e->customer : NULL;
        if (c && is_deleted(ev->type))
            return drop_doc(rm, txn, CRM_DOC_CUSTOMER, c->id);
        if (c) {
            d.salesperson_id = c->salesperson_id;
            d.team_id = c->team_id;
            d.name = c->name;
            d.archived = c->archived;
        }
        return c ? put_doc(rm, txn, arena, CRM_DOC_CUSTOMER, c->id, &d) : CRM_CONSUMER_UNCHANGED;
    }
    if (!strncmp(ev->type, "quotation.", 10)) {
        Crm__Pipeline__V1__QuotationEvent *e = crm__pipeline__v1__quotation_event__unpack(alloc, p->len, p->data);
        if (!e || !e->quotation)
            return CRM_CONSUMER_UNCHANGED;
        d.opportunity_id = e->quotation->opportunity_id;
        d.name = e->quotation->name;
        return put_doc(rm, txn, arena, CRM_DOC_QUOTATION, e->quotation->id, &d);
    }
    return CRM_CONSUMER_UNCHANGED; /* stages, tags, ...: nothing kept here */
}

static int apply_user(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, const Crm__Events__V1__Event *ev)
{
    Crm__Identity__V1__UserEvent *e =
        crm__identity__v1__user_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->user || e->user->id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    crm_userinfo_t u = CRM__COMMON__V1__USER_INFO__INIT;
    u.id = e->user->id;
    u.name = e->user->name;
    u.login = e->user->login;
    u.email = e->user->email;
    u.active = e->user->active;
    u.sales_access = (int32_t)e->user->sales_access;
    u.is_admin = e->user->is_admin;
    u.team_ids = e->user->team_ids;
    u.n_team_ids = e->user->n_team_ids;
    u.default_team_id = e->user->default_team_id;
    uint8_t key[8];
    crm_key_put_u64(key, (uint64_t)u.id);
    return put_changed(txn, rm->users, key, sizeof key, &u.base, arena);
}

int crm_readmodel_apply(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena,
                        const Crm__Events__V1__Event *ev)
{
    if (!strcmp(ev->type, "user.created") || !strcmp(ev->type, "user.updated"))
        return apply_user(rm, txn, arena, ev);
    if (!rm->keeps_docs)
        return CRM_CONSUMER_UNCHANGED; /* teams, sessions, ...; pipeline's documents are its own */
    return apply_document(rm, txn, arena, ev);
}

/* --- reading ---------------------------------------------------------------- */

int crm_readmodel_doc(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id,
                      crm_docinfo_t **out)
{
    uint8_t key[CRM_DOC_KEY];
    crm_doc_key(key, model, id);
    return crm_db_get_msg(txn, rm->docs, key, sizeof key, &crm__common__v1__doc_info__descriptor,
                          crm_arena_allocator(arena), (void **)out);
}

crm_userinfo_t *crm_readmodel_user(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int64_t id)
{
    crm_userinfo_t *u;
    if (id <= 0 || crm_db_get_id(txn, rm->users, (uint64_t)id, &crm__common__v1__user_info__descriptor,
                                 crm_arena_allocator(arena), (void **)&u) != 0)
        return NULL;
    return u;
}

/* --- who reads what --------------------------------------------------------- */

int crm_readmodel_owner(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id,
                        crm_doc_owner_t *out)
{
    crm_docinfo_t *d;
    int rc = crm_readmodel_doc(rm, txn, arena, model, id, &d);
    return rc ? rc : crm_readmodel_owner_of(rm, txn, arena, model, d, out);
}

int crm_readmodel_owner_of(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model,
                           const crm_docinfo_t *d, crm_doc_owner_t *out)
{
    if (model == CRM_DOC_QUOTATION && d->opportunity_id) {
        crm_docinfo_t *opportunity;
        int rc = crm_readmodel_doc(rm, txn, arena, CRM_DOC_LEAD, d->opportunity_id, &opportunity);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (rc == 0) {
            model = CRM_DOC_LEAD;
            d = opportunity;
        }
    }
    out->model = model;
    out->salesperson_id = model == CRM_DOC_QUOTATION ? 0 : d->salesperson_id;
    return 0;
}

int crm_level_reads(int level, int64_t user_id, const crm_doc_owner_t *o)
{
    if (level == ACCESS(NONE))
        return 0;
    if (o->model == CRM_DOC_QUOTATION)
        return level != ACCESS(OWN_LEADS);
    return o->model == CRM_DOC_CUSTOMER || crm_lead_visible(level, user_id, o->salesperson_id);
}

int crm_readmodel_user_level(const crm_userinfo_t *u)
{
    if (!u || !u->active)
        return ACCESS(NONE);
    return u->is_admin ? ACCESS(MANAGER) : u->sales_access;
}

int crm_readmodel_user_reads(const crm_userinfo_t *u, const crm_doc_owner_t *o)
{
    return crm_level_reads(crm_readmodel_user_level(u), u ? u->id : 0, o);
}

/* --- upgrading a store -------------------------------------------------------- */

typedef struct {
    const crm_readmodel_t *rm;
    const crm_readmodel_layout_t *old;
    const ProtobufCMessageDescriptor *desc; /* for a table checked only */
    const char *table;
} upgrade_t;

static int check_record(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    const upgrade_t *u = arg;
    ProtobufCMessage *m = protobuf_c_message_unpack(u->desc, NULL, data->mv_size, data->mv_data);
    if (!m) {
        crm_error("%s: a record of %zu bytes does not decode as %s", u->table, data->mv_size, u->desc->name);
        return MDB_CORRUPTED;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}

static int upgrade_user(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    const upgrade_t *up = arg;
    Crm__Pipeline__V1__UserInfoSchema1 *old =
        crm__pipeline__v1__user_info_schema1__unpack(NULL, data->mv_size, data->mv_data);
    if (!old) {
        crm_error("users: a record of %zu bytes does not decode as schema 1's", data->mv_size);
        return MDB_CORRUPTED;
    }
    crm_userinfo_t u = CRM__COMMON__V1__USER_INFO__INIT;
    u.id = old->id;
    u.name = old->name;
    u.active = old->active;
    u.sales_access = old->sales_access;
    u.team_ids = old->team_ids;
    u.n_team_ids = old->n_team_ids;
    int rc = crm_db_put_msg(txn, up->rm->users, key->mv_data, key->mv_size, &u.base);
    crm__pipeline__v1__user_info_schema1__free_unpacked(old, NULL);
    return rc;
}

#define SCHEMA1_STREAM_SEQ 5 /* notifications' DocInfo.stream_seq, now reserved */

static int upgrade_doc(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    const upgrade_t *up = arg;
    crm_docinfo_t *d = crm__common__v1__doc_info__unpack(NULL, data->mv_size, data->mv_data);
    if (!d || key->mv_size != CRM_DOC_KEY) {
        crm_error("docs: a record of %zu bytes does not decode", data->mv_size);
        if (d)
            crm__common__v1__doc_info__free_unpacked(d, NULL);
        return MDB_CORRUPTED;
    }
    /* the count is no field of today's record: read from the bytes */
    uint64_t seq = 0;
    size_t pos = 0;
    crm_wire_field_t f;
    while (crm_wire_next(data->mv_data, data->mv_size, &pos, &f) == 1)
        if (f.number == SCHEMA1_STREAM_SEQ && f.wire_type == 0)
            seq = f.varint;
    int rc = 0;
    if (seq) {
        uint8_t val[8];
        crm_key_put_u64(val, seq);
        MDB_val k = *key, v = {sizeof val, val};
        rc = mdb_put(txn, up->old->doc_streams, &k, &v, 0);
    }
    if (rc == 0 && d->base.n_unknown_fields) {
        size_t unknown = d->base.n_unknown_fields; /* the count, decoded as unknown */
        d->base.n_unknown_fields = 0;             /* packed without it, freed with it */
        rc = crm_db_put_msg(txn, up->rm->docs, key->mv_data, key->mv_size, &d->base);
        d->base.n_unknown_fields = unknown;
    }
    crm__common__v1__doc_info__free_unpacked(d, NULL);
    return rc;
}

static int upgrade_table(crm_store_t *store, MDB_dbi dbi, crm_store_rewrite_fn *fn, upgrade_t *up)
{
    int rc = crm_store_rewrite(store, dbi, up->table, fn ? fn : check_record, up, UPGRADE_BATCH);
    if (rc)
        crm_error("upgrading the %s table: %s", up->table, mdb_strerror(rc));
    return rc;
}

int crm_readmodel_upgrade(const crm_readmodel_t *rm, crm_store_t *store, const crm_readmodel_layout_t *old)
{
    uint64_t from;
    int rc = crm_store_upgrade_from(store, &from);
    if (rc || !from)
        return rc;
    if (from < old->since) {
        upgrade_t users = {rm, old, &crm__common__v1__user_info__descriptor, "users"};
        if ((rc = upgrade_table(store, rm->users, old->users_schema1 ? upgrade_user : NULL, &users)) != 0)
            return rc;
        upgrade_t docs = {rm, old, &crm__common__v1__doc_info__descriptor, "docs"};
        if (rm->keeps_docs &&
            (rc = upgrade_table(store, rm->docs, old->has_doc_streams ? upgrade_doc : NULL, &docs)) != 0)
            return rc;
    }
    if ((rc = crm_store_upgrade_done(store)) != 0)
        return rc;
    crm_info("store upgraded from schema %llu", (unsigned long long)from);
    return 0;
}
