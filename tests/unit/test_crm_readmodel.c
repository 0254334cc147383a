#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "crm_access.h"
#include "crm_consumer.h"
#include "crm_readmodel.h"
#include "crm_wire.h"
#include "identity.pb-c.h"
#include "pipeline.pb-c.h"

/* The read model activities, notifications and pipeline keep of identity's
 * and pipeline's data: what its applier writes and says, who reads which
 * document, and stores written by the services' schema 1 read after an
 * upgrade. */

#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

/* --- fixture ------------------------------------------------------------- */

typedef struct {
    char root[64];
    crm_store_t *store;
    crm_readmodel_t rm;
    MDB_dbi doc_streams;
    crm_arena_t *arena;
} fixture_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static void open_at(fixture_t *f, uint32_t version)
{
    crm_store_dbi_t dbis[] = {
        {"docs", 0, &f->rm.docs}, {"users", 0, &f->rm.users}, {"doc_streams", 0, &f->doc_streams}};
    const char *err;
    f->store = crm_store_open(f->root, dbis, 3, version, 0, &err);
    if (!f->store)
        fail_msg("open: %s", err);
}

static fixture_t fixture; /* one test at a time */

static int setup(void **state)
{
    memset(&fixture, 0, sizeof fixture);
    snprintf(fixture.root, sizeof fixture.root, "/tmp/crm-test-readmodel-XXXXXX");
    fixture.rm.keeps_docs = 1;
    fixture.arena = crm_arena_new();
    *state = &fixture;
    return mkdtemp(fixture.root) ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    crm_store_close(&f->store);
    crm_arena_destroy(&f->arena);
    return nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- events ------------------------------------------------------------------ */

static Crm__Events__V1__Event *event(fixture_t *f, const char *type, const ProtobufCMessage *payload)
{
    Crm__Events__V1__Event *ev = crm_arena_alloc(f->arena, sizeof *ev);
    crm__events__v1__event__init(ev);
    ev->type = (char *)type;
    ev->producer = "test";
    if (payload) {
        ev->payload.len = protobuf_c_message_get_packed_size(payload);
        ev->payload.data = crm_arena_alloc(f->arena, ev->payload.len + 1);
        protobuf_c_message_pack(payload, ev->payload.data);
    }
    return ev;
}

static Crm__Events__V1__Event *user_event(fixture_t *f, const char *type, int64_t id, const char *name, int level,
                                          int is_admin, int active)
{
    static int64_t teams[] = {4, 9};
    Crm__Identity__V1__User u = CRM__IDENTITY__V1__USER__INIT;
    u.id = id;
    u.name = (char *)name;
    u.sales_access = level;
    u.is_admin = is_admin;
    u.active = active;
    u.team_ids = teams;
    u.n_team_ids = 2;
    Crm__Identity__V1__UserEvent e = CRM__IDENTITY__V1__USER_EVENT__INIT;
    e.user = &u;
    return event(f, type, &e.base);
}

/* A pipeline event of type about document id (a lead, a customer or a
 * quotation, by type), of salesperson, made from opportunity (quotations). */
static Crm__Events__V1__Event *doc_event(fixture_t *f, const char *type, int64_t id, int64_t salesperson,
                                         int64_t opportunity, int64_t revenue)
{
    Crm__Pipeline__V1__Lead l = CRM__PIPELINE__V1__LEAD__INIT;
    Crm__Pipeline__V1__Customer c = CRM__PIPELINE__V1__CUSTOMER__INIT;
    Crm__Pipeline__V1__Quotation q = CRM__PIPELINE__V1__QUOTATION__INIT;
    l.id = c.id = q.id = id;
    l.salesperson_id = c.salesperson_id = salesperson;
    l.team_id = 4;
    l.name = c.name = q.name = "Big deal";
    l.expected_revenue = revenue;
    q.opportunity_id = opportunity;
    Crm__Pipeline__V1__LeadEvent le = CRM__PIPELINE__V1__LEAD_EVENT__INIT;
    Crm__Pipeline__V1__CustomerEvent ce = CRM__PIPELINE__V1__CUSTOMER_EVENT__INIT;
    Crm__Pipeline__V1__QuotationEvent qe = CRM__PIPELINE__V1__QUOTATION_EVENT__INIT;
    le.lead = &l;
    ce.customer = &c;
    qe.quotation = &q;
    const ProtobufCMessage *payload = !strncmp(type, "lead.", 5)       ? &le.base
                                      : !strncmp(type, "customer.", 9) ? &ce.base
                                                                       : &qe.base;
    return event(f, type, payload);
}
#define lead_event(f, type, id, salesperson, revenue) doc_event(f, type, id, salesperson, 0, revenue)
#define quotation_event(f, id, opportunity) doc_event(f, "quotation.created", id, 0, opportunity, 0)
#define customer_event(f, id, salesperson) doc_event(f, "customer.created", id, salesperson, 0, 0)

static int apply_txn(MDB_txn *txn, void *ev) { return crm_readmodel_apply(&fixture.rm, txn, fixture.arena, ev); }

/* Applies ev as a consumer does: committed on 0, rolled back otherwise. */
static int apply(fixture_t *f, const Crm__Events__V1__Event *ev)
{
    return crm_store_write(f->store, apply_txn, (void *)ev);
}

static crm_userinfo_t *user(fixture_t *f, int64_t id)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    crm_userinfo_t *u = crm_readmodel_user(&f->rm, txn, f->arena, id);
    crm_store_read_end(f->store, txn);
    return u;
}

static int doc_rc(fixture_t *f, int model, int64_t id, crm_docinfo_t **d)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    int rc = crm_readmodel_doc(&f->rm, txn, f->arena, model, id, d);
    crm_store_read_end(f->store, txn);
    return rc;
}

/* The owner of (model, id): 0, or MDB_NOTFOUND if the document is unknown. */
static int owner(fixture_t *f, int model, int64_t id, crm_doc_owner_t *o)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    int rc = crm_readmodel_owner(&f->rm, txn, f->arena, model, id, o);
    crm_store_read_end(f->store, txn);
    if (rc != MDB_NOTFOUND)
        assert_int_equal(rc, 0);
    return rc;
}

/* 1 if a user of level and id reads (model, id); -1 if the document is unknown. */
static int reads(fixture_t *f, int level, int64_t user_id, int model, int64_t id)
{
    crm_doc_owner_t o;
    return owner(f, model, id, &o) ? -1 : crm_level_reads(level, user_id, &o);
}

/* --- applier ------------------------------------------------------------------- */

static void test_admin_kept_as_is_admin(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    assert_int_equal(apply(f, user_event(f, "user.created", 4, "Root", ACCESS(NONE), 1, 1)), 0);
    crm_userinfo_t *u = user(f, 4);
    assert_non_null(u);
    assert_string_equal(u->name, "Root");
    assert_true(u->is_admin);
    assert_int_equal(u->sales_access, ACCESS(NONE)); /* identity's value, not folded */
    assert_int_equal(u->n_team_ids, 2);
    assert_int_equal(u->team_ids[1], 9);
    assert_int_equal(crm_readmodel_user_level(u), ACCESS(MANAGER));

    /* an own-leads user who is also an administrator counts as a manager */
    assert_int_equal(apply(f, user_event(f, "user.updated", 4, "Root", ACCESS(OWN_LEADS), 1, 1)), 0);
    u = user(f, 4);
    assert_int_equal(u->sales_access, ACCESS(OWN_LEADS));
    assert_int_equal(crm_readmodel_user_level(u), ACCESS(MANAGER));
    /* no longer an administrator: their own level again */
    assert_int_equal(apply(f, user_event(f, "user.updated", 4, "Root", ACCESS(OWN_LEADS), 0, 1)), 0);
    assert_int_equal(crm_readmodel_user_level(user(f, 4)), ACCESS(OWN_LEADS));
    /* deactivated: none */
    assert_int_equal(apply(f, user_event(f, "user.updated", 4, "Root", ACCESS(MANAGER), 1, 0)), 0);
    assert_int_equal(crm_readmodel_user_level(user(f, 4)), ACCESS(NONE));
    assert_int_equal(crm_readmodel_user_level(NULL), ACCESS(NONE));
    assert_null(user(f, 5));
}

static void test_unchanged_for_an_event_that_changes_nothing(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    /* types not kept here */
    assert_int_equal(apply(f, event(f, "stage.created", NULL)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, event(f, "team.updated", NULL)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, event(f, "session.revoked", NULL)), CRM_CONSUMER_UNCHANGED);
    /* a payload that does not decode, or names no document */
    Crm__Events__V1__Event *bad = event(f, "lead.updated", NULL);
    bad->payload.data = (uint8_t *)"\xff\xff\xff";
    bad->payload.len = 3;
    assert_int_equal(apply(f, bad), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 0, 7, 0)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, user_event(f, "user.updated", 0, "Nobody", 1, 0, 1)), CRM_CONSUMER_UNCHANGED);

    /* the same record again, or a change of what is not kept (revenue) */
    assert_int_equal(apply(f, lead_event(f, "lead.created", 10, 7, 100)), 0);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 7, 100)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 7, 999)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 8, 999)), 0); /* reassigned */
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
    assert_int_equal(d->salesperson_id, 8);
    assert_int_equal(d->team_id, 4);
    assert_string_equal(d->name, "Big deal");
    assert_int_equal(apply(f, user_event(f, "user.created", 3, "Ann", 1, 0, 1)), 0);
    assert_int_equal(apply(f, user_event(f, "user.updated", 3, "Ann", 1, 0, 1)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, user_event(f, "user.updated", 3, "Ann B.", 1, 0, 1)), 0);
    assert_int_equal(apply(f, customer_event(f, 30, 3)), 0);
    assert_int_equal(apply(f, customer_event(f, 30, 3)), CRM_CONSUMER_UNCHANGED);

    /* a service that owns the documents keeps only users */
    f->rm.keeps_docs = 0;
    assert_int_equal(apply(f, lead_event(f, "lead.created", 11, 7, 0)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, quotation_event(f, 21, 11)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 11, &d), MDB_NOTFOUND);
    assert_int_equal(apply(f, user_event(f, "user.created", 6, "Bob", 2, 0, 1)), 0);
}

/* An archived document is kept, archived; a deleted one is forgotten, so
 * that what hangs on it is as unreadable as an unknown document's. */
static void test_archived_kept_deleted_dropped(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    assert_int_equal(apply(f, lead_event(f, "lead.created", 10, 7, 0)), 0);
    Crm__Events__V1__Event *archived = lead_event(f, "lead.archived", 10, 7, 0);
    Crm__Pipeline__V1__LeadEvent *le = crm__pipeline__v1__lead_event__unpack(NULL, archived->payload.len, archived->payload.data);
    assert_non_null(le);
    le->lead->archived = 1;
    archived->payload.len = crm__pipeline__v1__lead_event__get_packed_size(le);
    archived->payload.data = crm_arena_alloc(f->arena, archived->payload.len);
    crm__pipeline__v1__lead_event__pack(le, archived->payload.data);
    crm__pipeline__v1__lead_event__free_unpacked(le, NULL);
    assert_int_equal(apply(f, archived), 0);
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
    assert_true(d->archived);
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 7, CRM_DOC_LEAD, 10), 1);

    assert_int_equal(apply(f, lead_event(f, "lead.deleted", 10, 7, 0)), 0);
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), MDB_NOTFOUND);
    assert_int_equal(reads(f, ACCESS(MANAGER), 1, CRM_DOC_LEAD, 10), -1);
    /* told twice (a replay), or of a document never known: nothing to do */
    assert_int_equal(apply(f, lead_event(f, "lead.deleted", 10, 7, 0)), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, customer_event(f, 30, 3)), 0);
    assert_int_equal(apply(f, doc_event(f, "customer.deleted", 30, 3, 0, 0)), 0);
    assert_int_equal(doc_rc(f, CRM_DOC_CUSTOMER, 30, &d), MDB_NOTFOUND);
    assert_int_equal(apply(f, doc_event(f, "customer.deleted", 31, 3, 0, 0)), CRM_CONSUMER_UNCHANGED);
}

/* lead.merged of leads merged (n of them) into lead into, now of salesperson. */
static Crm__Events__V1__Event *merged_event(fixture_t *f, int64_t into, int64_t salesperson, int64_t *merged, size_t n)
{
    Crm__Pipeline__V1__Lead l = CRM__PIPELINE__V1__LEAD__INIT;
    l.id = into;
    l.salesperson_id = salesperson;
    l.team_id = 4;
    l.name = "Merged deal";
    Crm__Pipeline__V1__LeadMergedEvent e = CRM__PIPELINE__V1__LEAD_MERGED_EVENT__INIT;
    e.lead = &l;
    e.merged_ids = merged;
    e.n_merged_ids = n;
    return event(f, "lead.merged", &e.base);
}

static void test_merged_leads_are_forgotten(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    for (int64_t id = 10; id <= 12; id++)
        assert_int_equal(apply(f, lead_event(f, "lead.created", id, 7, 0)), 0);
    assert_int_equal(apply(f, quotation_event(f, 20, 11)), 0);
    int64_t merged[] = {11, 12};
    /* the destination as it is now (another salesperson), the others gone */
    assert_int_equal(apply(f, merged_event(f, 10, 8, merged, 2)), 0);
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
    assert_int_equal(d->salesperson_id, 8);
    assert_string_equal(d->name, "Merged deal");
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 11, &d), MDB_NOTFOUND);
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 12, &d), MDB_NOTFOUND);
    /* a quotation of a merged lead not re-pointed is an orphan (pipeline
     * re-points them with quotation.updated before lead.merged) */
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 7, CRM_DOC_QUOTATION, 20), 0);
    assert_int_equal(reads(f, ACCESS(ALL_LEADS), 7, CRM_DOC_QUOTATION, 20), 1);
    /* applied again after a crash: nothing more changes */
    assert_int_equal(apply(f, merged_event(f, 10, 8, merged, 2)), CRM_CONSUMER_UNCHANGED);
    /* a payload that is not a LeadMergedEvent is skipped */
    Crm__Events__V1__Event *bad = event(f, "lead.merged", NULL);
    bad->payload.data = (uint8_t *)"\xff\xff\xff";
    bad->payload.len = 3;
    assert_int_equal(apply(f, bad), CRM_CONSUMER_UNCHANGED);
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
}

/* --- who reads what ---------------------------------------------------------------- */

static void test_quotation_seen_as_its_opportunity(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    assert_int_equal(apply(f, lead_event(f, "lead.created", 10, 7, 0)), 0);
    assert_int_equal(apply(f, quotation_event(f, 20, 10)), 0);  /* from lead 10 */
    assert_int_equal(apply(f, quotation_event(f, 21, 0)), 0);   /* from none */
    assert_int_equal(apply(f, quotation_event(f, 22, 99)), 0);  /* from one not known here */
    assert_int_equal(apply(f, customer_event(f, 30, 8)), 0);

    /* own leads: as the opportunity's salesperson sees it */
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 7, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 8, CRM_DOC_QUOTATION, 20), 0);
    assert_int_equal(reads(f, ACCESS(ALL_LEADS), 8, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(reads(f, ACCESS(MANAGER), 8, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(reads(f, ACCESS(NONE), 7, CRM_DOC_QUOTATION, 20), 0);
    /* orphans: everyone but own-leads users */
    for (int64_t q = 21; q <= 22; q++) {
        assert_int_equal(reads(f, ACCESS(OWN_LEADS), 7, CRM_DOC_QUOTATION, q), 0);
        assert_int_equal(reads(f, ACCESS(ALL_LEADS), 7, CRM_DOC_QUOTATION, q), 1);
        assert_int_equal(reads(f, ACCESS(NONE), 7, CRM_DOC_QUOTATION, q), 0);
    }
    /* the opportunity handed to nobody: every own-leads user sees it, and its quotation */
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 0, 0)), 0);
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 8, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 8, CRM_DOC_LEAD, 10), 1);
    /* customers: everyone with sales access */
    assert_int_equal(reads(f, ACCESS(OWN_LEADS), 7, CRM_DOC_CUSTOMER, 30), 1);
    assert_int_equal(reads(f, ACCESS(NONE), 8, CRM_DOC_CUSTOMER, 30), 0);
    /* unknown documents */
    assert_int_equal(reads(f, ACCESS(MANAGER), 1, CRM_DOC_QUOTATION, 23), -1);
    assert_int_equal(reads(f, ACCESS(MANAGER), 1, CRM_DOC_LEAD, 99), -1);

    /* users as identity describes them: an administrator without a sales
     * level reads another's opportunity's quotation; an inactive user nothing */
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 7, 0)), 0);
    assert_int_equal(apply(f, user_event(f, "user.created", 4, "Root", ACCESS(NONE), 1, 1)), 0);
    assert_int_equal(apply(f, user_event(f, "user.created", 8, "Bea", ACCESS(OWN_LEADS), 0, 1)), 0);
    assert_int_equal(apply(f, user_event(f, "user.created", 7, "Cid", ACCESS(MANAGER), 0, 0)), 0);
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    crm_doc_owner_t o;
    assert_int_equal(crm_readmodel_owner(&f->rm, txn, f->arena, CRM_DOC_QUOTATION, 20, &o), 0);
    assert_int_equal(o.model, CRM_DOC_LEAD);
    assert_int_equal(o.salesperson_id, 7);
    assert_int_equal(crm_readmodel_user_reads(crm_readmodel_user(&f->rm, txn, f->arena, 4), &o), 1);
    assert_int_equal(crm_readmodel_user_reads(crm_readmodel_user(&f->rm, txn, f->arena, 8), &o), 0);
    assert_int_equal(crm_readmodel_user_reads(crm_readmodel_user(&f->rm, txn, f->arena, 7), &o), 0);
    assert_int_equal(crm_readmodel_user_reads(NULL, &o), 0);
    crm_store_read_end(f->store, txn);
}

/* --- stores of schema 1 ---------------------------------------------------------------- */

/* Records as the schema 1 programs wrote them, encoded field by field here
 * so that no descriptor of today's code is involved. */
typedef struct {
    uint8_t b[256];
    size_t n;
} wire_t;

static void field_varint(wire_t *w, int field, uint64_t v) { w->n += crm_wire_put_uint(w->b + w->n, field, v); }
static void field_bytes(wire_t *w, int field, const void *p, size_t len)
{
    w->n += crm_wire_put_bytes_head(w->b + w->n, field, len);
    memcpy(w->b + w->n, p, len);
    w->n += len;
}
static void field_string(wire_t *w, int field, const char *s) { field_bytes(w, field, s, strlen(s)); }

/* activities' and notifications' UserInfo: id, name, active, sales_access, is_admin */
static wire_t old_user(int64_t id, const char *name, int active, int level, int is_admin)
{
    wire_t w = {.n = 0};
    field_varint(&w, 1, (uint64_t)id);
    field_string(&w, 2, name);
    field_varint(&w, 3, (uint64_t)active);
    field_varint(&w, 4, (uint64_t)level);
    field_varint(&w, 5, (uint64_t)is_admin);
    return w;
}

/* pipeline's UserInfo: id, name, active, sales_access (an administrator's
 * raised to manager), team_ids packed */
static wire_t old_pipeline_user(int64_t id, const char *name, int level, const int64_t *teams, size_t n_teams)
{
    wire_t w = {.n = 0}, packed = {.n = 0};
    field_varint(&w, 1, (uint64_t)id);
    field_string(&w, 2, name);
    field_varint(&w, 3, 1);
    field_varint(&w, 4, (uint64_t)level);
    for (size_t i = 0; i < n_teams; i++)
        packed.n += crm_wire_put_varint(packed.b + packed.n, (uint64_t)teams[i]);
    if (n_teams)
        field_bytes(&w, 5, packed.b, packed.n);
    return w;
}

/* activities' DocInfo (salesperson, team, opportunity, name) and
 * notifications', which adds stream_seq (5) */
static wire_t old_doc(int64_t salesperson, int64_t team, int64_t opportunity, const char *name, uint64_t stream_seq)
{
    wire_t w = {.n = 0};
    field_varint(&w, 1, (uint64_t)salesperson);
    field_varint(&w, 2, (uint64_t)team);
    field_varint(&w, 3, (uint64_t)opportunity);
    field_string(&w, 4, name);
    field_varint(&w, 5, stream_seq);
    return w;
}

typedef struct {
    fixture_t *f;
    int is_doc;
    uint8_t key[CRM_DOC_KEY];
    size_t klen;
    wire_t w;
} raw_put_t;

static int raw_put_txn(MDB_txn *txn, void *arg)
{
    raw_put_t *p = arg;
    MDB_val k = {p->klen, p->key}, d = {p->w.n, p->w.b};
    return mdb_put(txn, p->is_doc ? p->f->rm.docs : p->f->rm.users, &k, &d, 0);
}

static void put_old_user(fixture_t *f, int64_t id, wire_t w)
{
    raw_put_t p = {f, 0, {0}, 8, w};
    crm_key_put_u64(p.key, (uint64_t)id);
    assert_int_equal(crm_store_write(f->store, raw_put_txn, &p), 0);
}

static void put_old_doc(fixture_t *f, int model, int64_t id, wire_t w)
{
    raw_put_t p = {f, 1, {0}, CRM_DOC_KEY, w};
    crm_doc_key(p.key, model, id);
    assert_int_equal(crm_store_write(f->store, raw_put_txn, &p), 0);
}

/* A record that does not decode is not replaced unseen: the event stops
 * there (the consumer reports it stuck) until an operator mends it. */
static void test_damaged_record_stops_the_event(void **state)
{
    fixture_t *f = *state;
    open_at(f, 2);
    wire_t junk = {.n = 3, .b = {0xff, 0xff, 0xff}};
    put_old_doc(f, CRM_DOC_LEAD, 12, junk);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 12, 7, 0)), MDB_CORRUPTED);
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 12, &d), MDB_CORRUPTED);
}

static uint64_t upgrade_pending(fixture_t *f)
{
    uint64_t from = 99;
    assert_int_equal(crm_store_upgrade_from(f->store, &from), 0);
    return from;
}

/* Upgrades the store as a program of schema 2 does on start. */
static void upgrade(fixture_t *f, const crm_readmodel_layout_t *layout)
{
    assert_int_equal(crm_readmodel_upgrade(&f->rm, f->store, layout), 0);
    assert_int_equal(upgrade_pending(f), 0);
}

/* The user as kept, checked field by field. */
static crm_userinfo_t *user_is(fixture_t *f, int64_t id, const char *name, int active, int level, int is_admin)
{
    crm_userinfo_t *u = user(f, id);
    if (!u)
        fail_msg("user %lld is gone", (long long)id);
    assert_string_equal(u->name, name);
    assert_int_equal(u->active, active);
    assert_int_equal(u->sales_access, level);
    assert_int_equal(u->is_admin, is_admin);
    return u;
}

/* Reopens the store as the next program: schema 2. */
static void reopen_upgraded(fixture_t *f)
{
    crm_store_close(&f->store);
    open_at(f, 2);
    assert_int_equal(upgrade_pending(f), 1);
}

/* Whether the user, as kept, reads (model, id), as the access rule decides. */
static int user_reads(fixture_t *f, int64_t user_id, int model, int64_t id)
{
    crm_doc_owner_t o;
    assert_int_equal(owner(f, model, id, &o), 0);
    return crm_readmodel_user_reads(user(f, user_id), &o);
}

/* activities: the same layout, so the upgrade checks and bumps the version */
static void test_upgrade_keeps_activities_records(void **state)
{
    fixture_t *f = *state;
    open_at(f, 1);
    put_old_user(f, 3, old_user(3, "Ann", 1, ACCESS(OWN_LEADS), 0));
    put_old_user(f, 4, old_user(4, "Root", 1, ACCESS(NONE), 1));
    put_old_user(f, 5, old_user(5, "Bea", 1, ACCESS(OWN_LEADS), 0));
    put_old_user(f, 6, old_user(6, "Gone", 0, ACCESS(MANAGER), 0));
    put_old_doc(f, CRM_DOC_LEAD, 10, old_doc(3, 2, 0, "Big deal", 0));
    put_old_doc(f, CRM_DOC_QUOTATION, 20, old_doc(0, 0, 10, "SO020", 0));
    put_old_doc(f, CRM_DOC_QUOTATION, 21, old_doc(0, 0, 0, "SO021", 0));
    put_old_doc(f, CRM_DOC_CUSTOMER, 30, old_doc(5, 0, 0, "Agrolait", 0));
    assert_int_equal(upgrade_pending(f), 0); /* a store as schema 1 left it */

    reopen_upgraded(f);
    crm_readmodel_layout_t layout = {.since = 2};
    upgrade(f, &layout);

    user_is(f, 4, "Root", 1, ACCESS(NONE), 1);
    user_is(f, 3, "Ann", 1, ACCESS(OWN_LEADS), 0);
    user_is(f, 6, "Gone", 0, ACCESS(MANAGER), 0);
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
    assert_int_equal(d->salesperson_id, 3);
    assert_int_equal(d->team_id, 2);
    assert_string_equal(d->name, "Big deal");
    assert_int_equal(doc_rc(f, CRM_DOC_QUOTATION, 20, &d), 0);
    assert_int_equal(d->opportunity_id, 10);
    assert_string_equal(d->name, "SO020");

    /* the decisions schema 1 made: Ann's quotation is hers, not Bea's; the
     * administrator reads it; the inactive manager nothing; the orphan is
     * for all but own-leads users; the customer for all */
    assert_int_equal(user_reads(f, 3, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(user_reads(f, 5, CRM_DOC_QUOTATION, 20), 0);
    assert_int_equal(user_reads(f, 4, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(user_reads(f, 6, CRM_DOC_QUOTATION, 20), 0);
    assert_int_equal(user_reads(f, 3, CRM_DOC_QUOTATION, 21), 0);
    assert_int_equal(user_reads(f, 4, CRM_DOC_QUOTATION, 21), 1);
    assert_int_equal(user_reads(f, 3, CRM_DOC_CUSTOMER, 30), 1);

    /* and the applier takes up from them: the same record is no change */
    assert_int_equal(apply(f, user_event(f, "user.updated", 6, "Gone", ACCESS(MANAGER), 0, 0)), 0); /* + teams */
    assert_int_equal(apply(f, user_event(f, "user.updated", 6, "Gone", ACCESS(MANAGER), 0, 0)),
                     CRM_CONSUMER_UNCHANGED);
    assert_int_equal(apply(f, lead_event(f, "lead.updated", 10, 3, 0)), 0); /* the team moved: 2 → 4 */

    /* reopened: nothing left to do */
    crm_store_close(&f->store);
    open_at(f, 2);
    assert_int_equal(upgrade_pending(f), 0);
    assert_int_equal(crm_readmodel_upgrade(&f->rm, f->store, &layout), 0);
}

static uint64_t doc_stream(fixture_t *f, int model, int64_t id)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    uint8_t key[CRM_DOC_KEY];
    crm_doc_key(key, model, id);
    MDB_val k = {sizeof key, key}, d;
    int rc = mdb_get(txn, f->doc_streams, &k, &d);
    uint64_t v = 0;
    if (rc == 0) {
        assert_int_equal(d.mv_size, 8);
        v = crm_key_get_u64(d.mv_data);
    } else {
        assert_int_equal(rc, MDB_NOTFOUND);
    }
    crm_store_read_end(f->store, txn);
    return v;
}

/* notifications: the stream count leaves the record for doc_streams */
static void test_upgrade_moves_notifications_stream_counts(void **state)
{
    fixture_t *f = *state;
    open_at(f, 1);
    put_old_user(f, 3, old_user(3, "Ann", 1, ACCESS(OWN_LEADS), 0));
    put_old_doc(f, CRM_DOC_LEAD, 10, old_doc(3, 2, 0, "Big deal", 300)); /* a two-byte varint */
    put_old_doc(f, CRM_DOC_LEAD, 11, old_doc(0, 0, 0, "Unassigned", 0));
    put_old_doc(f, CRM_DOC_QUOTATION, 20, old_doc(0, 0, 10, "SO020", 7));

    reopen_upgraded(f);
    upgrade(f, &(crm_readmodel_layout_t){.since = 2, .has_doc_streams = 1, .doc_streams = f->doc_streams});

    assert_int_equal(doc_stream(f, CRM_DOC_LEAD, 10), 300);
    assert_int_equal(doc_stream(f, CRM_DOC_LEAD, 11), 0);
    assert_int_equal(doc_stream(f, CRM_DOC_QUOTATION, 20), 7);
    crm_docinfo_t *d;
    assert_int_equal(doc_rc(f, CRM_DOC_LEAD, 10, &d), 0);
    assert_int_equal(d->salesperson_id, 3);
    assert_int_equal(d->team_id, 2);
    assert_string_equal(d->name, "Big deal");
    assert_int_equal(d->base.n_unknown_fields, 0); /* rewritten without it */
    assert_int_equal(doc_rc(f, CRM_DOC_QUOTATION, 20, &d), 0);
    assert_int_equal(d->opportunity_id, 10);
    assert_int_equal(d->base.n_unknown_fields, 0);
    assert_int_equal(user_reads(f, 3, CRM_DOC_QUOTATION, 20), 1);
    assert_int_equal(user_reads(f, 3, CRM_DOC_LEAD, 11), 1);
}

/* pipeline: another layout (team_ids where is_admin is now), rewritten */
static void test_upgrade_rewrites_pipeline_users(void **state)
{
    fixture_t *f = *state;
    f->rm.keeps_docs = 0;
    open_at(f, 1);
    static const int64_t teams[] = {1, 300};
    put_old_user(f, 3, old_pipeline_user(3, "Ann", ACCESS(OWN_LEADS), teams, 2));
    put_old_user(f, 4, old_pipeline_user(4, "Root", ACCESS(MANAGER), NULL, 0)); /* an administrator */
    put_old_user(f, 5, old_pipeline_user(5, "Eve", ACCESS(NONE), teams, 1));

    reopen_upgraded(f);
    /* schema 1's bytes are not today's record: protobuf-c reads the packed
     * teams as is_admin, and Ann would pass for an administrator */
    crm_userinfo_t *misread = user(f, 3);
    assert_non_null(misread);
    assert_true(misread->is_admin);
    assert_int_equal(misread->n_team_ids, 0);
    upgrade(f, &(crm_readmodel_layout_t){.since = 2, .users_schema1 = 1});

    crm_userinfo_t *u = user_is(f, 3, "Ann", 1, ACCESS(OWN_LEADS), 0);
    assert_int_equal(u->n_team_ids, 2);
    assert_int_equal(u->team_ids[0], 1);
    assert_int_equal(u->team_ids[1], 300);
    /* the level schema 1 decided with, until identity's next event */
    assert_int_equal(crm_readmodel_user_level(user(f, 4)), ACCESS(MANAGER));
    assert_int_equal(crm_readmodel_user_level(user(f, 5)), ACCESS(NONE));
    assert_int_equal(apply(f, user_event(f, "user.updated", 4, "Root", ACCESS(NONE), 1, 1)), 0);
    u = user(f, 4);
    assert_true(u->is_admin);
    assert_int_equal(crm_readmodel_user_level(u), ACCESS(MANAGER));
}

typedef struct {
    fixture_t *f;
    int64_t n;
    const int64_t *teams;
} many_t;

static int put_many_txn(MDB_txn *txn, void *arg)
{
    many_t *m = arg;
    for (int64_t id = 1; id <= m->n; id++) {
        wire_t w = old_pipeline_user(id, "Someone", ACCESS(ALL_LEADS), m->teams, 1);
        uint8_t key[8];
        crm_key_put_u64(key, (uint64_t)id);
        MDB_val k = {8, key}, d = {w.n, w.b};
        int rc = mdb_put(txn, m->f->rm.users, &k, &d, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* An upgrade stopped part way (here by a record that does not decode)
 * keeps what it committed and goes on from there once restarted: records
 * of the first batches are not converted twice. */
static void test_upgrade_resumes_where_it_stopped(void **state)
{
    fixture_t *f = *state;
    f->rm.keeps_docs = 0;
    open_at(f, 1);
    static const int64_t teams[] = {7};
    enum { USERS = 2500, BAD = 1500 };
    many_t many = {f, USERS, teams};
    assert_int_equal(crm_store_write(f->store, put_many_txn, &many), 0);
    wire_t junk = {.n = 2, .b = {0x0a, 0x7f}}; /* a string longer than the record */
    put_old_user(f, BAD, junk);

    reopen_upgraded(f);
    crm_readmodel_layout_t layout = {.since = 2, .users_schema1 = 1};
    assert_int_equal(crm_readmodel_upgrade(&f->rm, f->store, &layout), MDB_CORRUPTED);
    assert_int_equal(upgrade_pending(f), 1);
    assert_non_null(user(f, 1000));  /* the first batch stays done */
    crm_userinfo_t *u = user(f, BAD - 1); /* its batch was rolled back: still schema 1's, misread */
    assert_true(u->is_admin);
    assert_int_equal(u->n_team_ids, 0);

    /* restarted, after the operator mended the record */
    put_old_user(f, BAD, old_pipeline_user(BAD, "Mended", ACCESS(ALL_LEADS), teams, 1));
    crm_store_close(&f->store);
    open_at(f, 2);
    assert_int_equal(upgrade_pending(f), 1);
    upgrade(f, &layout);
    for (int64_t id = 1; id <= USERS; id++) {
        u = user(f, id);
        if (!u || u->n_team_ids != 1 || u->team_ids[0] != 7 || u->sales_access != ACCESS(ALL_LEADS))
            fail_msg("user %lld lost in the upgrade", (long long)id);
        crm_arena_reset(f->arena);
    }
    assert_string_equal(user(f, BAD)->name, "Mended");
}

int main(void)
{
#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_admin_kept_as_is_admin),
        TEST(test_unchanged_for_an_event_that_changes_nothing),
        TEST(test_archived_kept_deleted_dropped),
        TEST(test_quotation_seen_as_its_opportunity),
        TEST(test_merged_leads_are_forgotten),
        TEST(test_damaged_record_stops_the_event),
        TEST(test_upgrade_keeps_activities_records),
        TEST(test_upgrade_moves_notifications_stream_counts),
        TEST(test_upgrade_rewrites_pipeline_users),
        TEST(test_upgrade_resumes_where_it_stopped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
