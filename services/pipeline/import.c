/* ImportRecords: one page of a CSV file of leads or customers. Each row
 * becomes a CreateLead/CreateCustomer request (or UpdateLead/UpdateCustomer
 * of the record an earlier import made from it) and runs through those
 * very handlers, in a transaction of its own nested in the call's: a bad
 * row is reported and leaves nothing behind, its events included.
 *
 * Re-runs create nothing twice: DBI `imports` maps (model, external id)
 * → (record id, content hash), the external id being the row's "id" cell
 * or, without one, the hash of its content. The same row again is
 * unchanged; a changed row with the same external id updates its record.
 * An export id of this store ("lead/42@…", not seen before) names its
 * record; another store's is an external id like any other. */
#include "transfer.h"
#include "crm_csv.h"
#include "crm_limits.h"
#include "crm_map.h"
#include "crm_request.h"
#include "crm_tracking.h"
#include "crm_validate.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x
#define PRIO(x) CRM__PIPELINE__V1__PRIORITY__PRIORITY_##x
#define HASH_LEN 16
#define EXTERNAL_ID_MAX 256
#define TAGS_PER_ROW 64

/* internal notes take 65,536 characters of up to 4 bytes */
static const crm_csv_limits_t page_limits = {.max_field = 256 << 10, .max_columns = 64};

typedef Crm__Pipeline__V1__CreateLeadRequest create_lead_t;
typedef Crm__Pipeline__V1__CreateCustomerRequest create_customer_t;

/* A record found by name: users (login and e-mail), teams, tags. */
typedef struct {
    const char *a, *b; /* names it answers to (b may be NULL) */
    int64_t id;
} named_t;

typedef struct {
    named_t *items;
    size_t n, cap;
    int loaded;
} names_t;

typedef struct {
    const Crm__Pipeline__V1__ImportRecordsRequest *req;
    int model;
    char sep;
    size_t n_header;
    const char **header;  /* the header's texts */
    int *column_at;       /* header position → column */
    int position[COL_COUNT]; /* column → header position, -1 when absent */
    names_t users, teams, tags;
    crm_map_t *customers_by_name; /* hash of the lower-cased name → id (the first) */
    int customers_loaded;
} page_t;

typedef enum { ROW_CREATED, ROW_UPDATED, ROW_UNCHANGED } outcome_t;

typedef struct {
    page_t *page;
    char **cells;   /* by header position */
    size_t n_cells;
    outcome_t outcome;
    int64_t id;
    int dry_run;
} row_t;

/* --- helpers -------------------------------------------------------------------------- */

static const char *cell(const row_t *row, pl_column_t col)
{
    int p = row->page->position[col];
    return p >= 0 && (size_t)p < row->n_cells ? row->cells[p] : "";
}

static int has(const row_t *row, pl_column_t col) { return row->page->position[col] >= 0; }

static int bad(crm_call_t *call, pl_column_t col, Crm__Rpc__V1__Code code, const char *fmt, const char *value)
{
    return crm_call_fail(call, code, pl_columns[col].error_field, fmt, value);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (uint8_t)tolower((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

static void names_add(crm_call_t *call, names_t *list, const char *a, const char *b, int64_t id)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 32;
        named_t *items = crm_arena_alloc(crm_call_arena(call), cap * sizeof *items);
        if (list->n)
            memcpy(items, list->items, list->n * sizeof *items);
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = (named_t){a, b, id};
}

static int64_t names_find(const names_t *list, const char *s)
{
    for (size_t i = 0; i < list->n; i++)
        if (!strcasecmp(list->items[i].a, s) || (list->items[i].b && list->items[i].b[0] && !strcasecmp(list->items[i].b, s)))
            return list->items[i].id;
    return 0;
}

/* Reads every record of dbi (id → desc) and hands it to add. */
typedef void (add_fn)(crm_call_t *call, page_t *page, const void *record);
static int load_all(crm_call_t *call, page_t *page, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, add_fn *add)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        void *m = crm_call_unpack(call, desc, d.mv_data, d.mv_size);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        add(call, page, m);
    }
    mdb_cursor_close(cur);
    return rc && rc != MDB_NOTFOUND ? crm_call_fail_db(call, rc) : 0;
}

static void add_user(crm_call_t *call, page_t *p, const void *m)
{
    const crm_userinfo_t *u = m;
    names_add(call, &p->users, u->login, u->email, u->id);
}
static void add_team(crm_call_t *call, page_t *p, const void *m)
{
    const Crm__Pipeline__V1__TeamInfo *t = m;
    names_add(call, &p->teams, t->name, NULL, t->id);
}
static void add_tag(crm_call_t *call, page_t *p, const void *m)
{
    const Crm__Pipeline__V1__Tag *t = m;
    names_add(call, &p->tags, t->name, NULL, t->id);
}
static void add_customer(crm_call_t *call, page_t *p, const void *m)
{
    const customer_t *c = m;
    uint64_t h = name_hash(c->name);
    if (!crm_map_get(p->customers_by_name, h))
        crm_map_put(p->customers_by_name, h, (void *)(intptr_t)c->id);
}

/* A name from a list loaded on first use. Returns 0 with *id (0: none) or -1. */
static int lookup(crm_call_t *call, page_t *p, names_t *list, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                  add_fn *add, const char *s, int64_t *id)
{
    if (!list->loaded) {
        list->loaded = 1;
        if (load_all(call, p, dbi, desc, add) != 0)
            return -1;
    }
    *id = names_find(list, s);
    return 0;
}

/* --- the imports DBI --------------------------------------------------------------------- */

/* key: model (1 byte), kind ('x': an external id, 'h': a content hash), the id or hash */
static size_t import_key(uint8_t *key, int model, char kind, const void *id, size_t len)
{
    key[0] = (uint8_t)model;
    key[1] = (uint8_t)kind;
    memcpy(key + 2, id, len);
    return len + 2;
}

/* 1 with *record and hash, 0 when unknown, or -1 (storage error set). */
static int import_get(crm_call_t *call, const uint8_t *key, size_t len, int64_t *record, uint8_t *hash)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_val k = {len, (void *)key}, d;
    int rc = mdb_get(crm_call_txn(call), pl->imports, &k, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return crm_call_fail_db(call, rc);
    if (d.mv_size != 8 + HASH_LEN)
        return crm_call_fail_db(call, MDB_CORRUPTED);
    *record = (int64_t)crm_key_get_u64(d.mv_data);
    memcpy(hash, (uint8_t *)d.mv_data + 8, HASH_LEN);
    return 1;
}

static int import_put(crm_call_t *call, const uint8_t *key, size_t len, int64_t record, const uint8_t *hash)
{
    pipeline_t *pl = crm_call_ctx(call);
    uint8_t value[8 + HASH_LEN];
    crm_key_put_u64(value, (uint64_t)record);
    memcpy(value + 8, hash, HASH_LEN);
    MDB_val k = {len, (void *)key}, d = {sizeof value, value};
    int rc = mdb_put(crm_call_txn(call), pl->imports, &k, &d, 0);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* The row's content as import reads it: its cells in the model's column
 * order (not the file's), the id left out, so the same data in another
 * column order or with other spacing is the same row. */
static void content_hash(const row_t *row, uint8_t *out)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_LEN);
    uint8_t model = (uint8_t)row->page->model;
    crypto_generichash_update(&st, &model, 1);
    size_t n;
    const pl_column_t *cols = pl_model_columns(row->page->model, &n);
    for (size_t i = 0; i < n; i++) {
        if (cols[i] == COL_ID || !has(row, cols[i]))
            continue;
        const char *v = cell(row, cols[i]);
        uint8_t tag[2] = {(uint8_t)cols[i], 0};
        crypto_generichash_update(&st, tag, 2);
        crypto_generichash_update(&st, (const uint8_t *)v, strlen(v) + 1);
    }
    crypto_generichash_final(&st, out, HASH_LEN);
}

/* --- cells to values ---------------------------------------------------------------------- */

/* A decimal of major units ("3750.00", "3 750,00" in a ";" file, "3,750.00"
 * in a "," one) in minor units of currency. */
static int parse_money(crm_call_t *call, const char *s, char sep, const char *currency, int64_t *out)
{
    char decimal = sep == ';' ? ',' : '.', group = sep == ';' ? '.' : ',';
    int digits = crm_currency_exponent(currency), frac = -1;
    int64_t v = 0;
    int any = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isdigit(*p)) {
            if (frac >= 0 && ++frac > digits)
                return bad(call, COL_REVENUE, CODE(INVALID_ARGUMENT),
                           "\"%s\" has more decimals than the currency has", s);
            if (v > (REVENUE_MAX / 10))
                return bad(call, COL_REVENUE, CODE(INVALID_ARGUMENT), "\"%s\" is too large", s);
            v = v * 10 + (*p - '0');
            any = 1;
        } else if (*p == (unsigned char)decimal && frac < 0) {
            frac = 0;
        } else if ((*p == (unsigned char)group || *p == ' ' || *p == '\'') && frac < 0) {
            continue;
        } else if (p[0] == 0xC2 && p[1] == 0xA0 && frac < 0) { /* no-break space */
            p++;
        } else if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xAF && frac < 0) { /* narrow no-break space */
            p += 2;
        } else {
            return bad(call, COL_REVENUE, CODE(INVALID_ARGUMENT),
                       "\"%s\" is not an amount (write it like 3750.00, or 3 750,00 in a \";\" file)", s);
        }
    }
    if (!any)
        return bad(call, COL_REVENUE, CODE(INVALID_ARGUMENT), "\"%s\" is not an amount", s);
    for (int i = frac < 0 ? 0 : frac; i < digits; i++)
        v *= 10;
    *out = v;
    return 0;
}

static int parse_int(crm_call_t *call, pl_column_t col, const char *s, int32_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < -1000000 || v > 1000000)
        return bad(call, col, CODE(INVALID_ARGUMENT), "\"%s\" is not a whole number", s);
    *out = (int32_t)v;
    return 0;
}

static int parse_bool(crm_call_t *call, pl_column_t col, const char *s, protobuf_c_boolean *out)
{
    static const char *const yes[] = {"true", "yes", "1", "company", "y", NULL};
    static const char *const no[] = {"false", "no", "0", "person", "individual", "n", NULL};
    for (int i = 0; yes[i]; i++)
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 0;
    for (int i = 0; no[i]; i++)
        if (!strcasecmp(s, no[i]))
            return *out = 0, 0;
    return bad(call, col, CODE(INVALID_ARGUMENT), "\"%s\" is neither true nor false", s);
}

static int parse_type(crm_call_t *call, const char *s, Crm__Pipeline__V1__LeadType *out)
{
    if (!strcasecmp(s, "lead") || !strcasecmp(s, "LEAD_TYPE_LEAD"))
        *out = LTYPE(LEAD);
    else if (!strcasecmp(s, "opportunity") || !strcasecmp(s, "LEAD_TYPE_OPPORTUNITY"))
        *out = LTYPE(OPPORTUNITY);
    else
        return bad(call, COL_TYPE, CODE(INVALID_ARGUMENT), "\"%s\" is neither lead nor opportunity", s);
    return 0;
}

static int parse_priority(crm_call_t *call, const char *s, Crm__Pipeline__V1__Priority *out)
{
    static const char *const names[] = {"", "low", "normal", "high", "very high"};
    for (int i = 1; i <= 4; i++) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&crm__pipeline__v1__priority__descriptor, i);
        if (!strcasecmp(s, names[i]) || (v && !strcasecmp(s, v->name))) {
            *out = (Crm__Pipeline__V1__Priority)i;
            return 0;
        }
    }
    return bad(call, COL_PRIORITY, CODE(INVALID_ARGUMENT), "\"%s\" is not low, normal, high or very high", s);
}

static int find_user(crm_call_t *call, page_t *p, pl_column_t col, const char *s, int64_t *id)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (lookup(call, p, &p->users, pl->readmodel.users, &crm__common__v1__user_info__descriptor, add_user, s, id) != 0)
        return -1;
    return *id ? 0 : bad(call, col, CODE(NOT_FOUND), "no user with the login or e-mail \"%s\"", s);
}

static int find_team(crm_call_t *call, page_t *p, const char *s, int64_t *id)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (lookup(call, p, &p->teams, pl->teams, &crm__pipeline__v1__team_info__descriptor, add_team, s, id) != 0)
        return -1;
    return *id ? 0 : bad(call, COL_TEAM, CODE(NOT_FOUND), "no sales team named \"%s\"", s);
}

/* Tags by name, separated by commas inside the cell. An unknown tag fails
 * the row rather than being made: tags are configuration, a manager's. */
static int find_tags(crm_call_t *call, page_t *p, const char *s, int64_t **ids, size_t *n)
{
    pipeline_t *pl = crm_call_ctx(call);
    *ids = crm_arena_alloc(crm_call_arena(call), sizeof(int64_t) * TAGS_PER_ROW);
    *n = 0;
    char *copy = crm_arena_strdup(crm_call_arena(call), s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len && t[len - 1] == ' ')
            t[--len] = '\0';
        if (!len)
            continue;
        if (*n == TAGS_PER_ROW)
            return bad(call, COL_TAGS, CODE(INVALID_ARGUMENT), "more than 64 tags in \"%s\"", s);
        int64_t id;
        if (lookup(call, p, &p->tags, pl->tags, &crm__pipeline__v1__tag__descriptor, add_tag, t, &id) != 0)
            return -1;
        if (!id)
            return bad(call, COL_TAGS, CODE(NOT_FOUND), "no tag named \"%s\" (a manager creates tags)", t);
        (*ids)[(*n)++] = id;
    }
    return 0;
}

static int customer_exists(crm_call_t *call, int64_t id, customer_t **out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int rc = crm_db_get_id(crm_call_txn(call), pl->customers, (uint64_t)id, &crm__pipeline__v1__customer__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)out);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? crm_call_fail_db(call, rc) : 1;
}

/* A customer by its export id, the external id a customers import gave
 * it, or its name (the first of that name). */
static int find_customer(crm_call_t *call, page_t *p, pl_column_t col, const char *s, int64_t *id)
{
    pipeline_t *pl = crm_call_ctx(call);
    uint8_t key[2 + EXTERNAL_ID_MAX], hash[HASH_LEN];
    size_t len = strlen(s);
    customer_t *c;
    int found;
    if (len <= EXTERNAL_ID_MAX) {
        found = import_get(call, key, import_key(key, PL_MODEL_CUSTOMER, 'x', s, len), id, hash);
        if (found < 0)
            return -1;
        if (found && (found = customer_exists(call, *id, &c)) != 0)
            return found < 0 ? -1 : 0;
    }
    int64_t native = pl_export_id_parse(call, PL_MODEL_CUSTOMER, s);
    if (native && (found = customer_exists(call, native, &c)) != 0) {
        *id = native;
        return found < 0 ? -1 : 0;
    }
    if (!p->customers_loaded) {
        p->customers_loaded = 1;
        if (load_all(call, p, pl->customers, &crm__pipeline__v1__customer__descriptor, add_customer) != 0)
            return -1;
    }
    *id = (int64_t)(intptr_t)crm_map_get(p->customers_by_name, name_hash(s));
    if (*id && (found = customer_exists(call, *id, &c)) != 0) {
        if (found < 0)
            return -1;
        if (!strcasecmp(c->name, s))
            return 0;
    }
    return bad(call, col, CODE(NOT_FOUND), "no customer \"%s\" (a name, or an id from an export or import)", s);
}

/* --- rows to requests ---------------------------------------------------------------------------- */

/* Columns whose empty cell means "as it is" rather than "empty": on a
 * create the service's default applies, on an update the record keeps its
 * value. */
static int empty_keeps(pl_column_t col)
{
    return col == COL_TYPE || col == COL_CURRENCY || col == COL_PROBABILITY || col == COL_PRIORITY ||
           col == COL_STAGE || col == COL_SALESPERSON || col == COL_TEAM || col == COL_IS_COMPANY ||
           col == COL_REVENUE;
}

/* The columns this row sets: in the header, not the id, not an empty
 * cell of a column where empty keeps the value. */
static int sets(const row_t *row, pl_column_t col)
{
    return col != COL_ID && has(row, col) && !(empty_keeps(col) && !cell(row, col)[0]);
}

static const char *text(const row_t *row, pl_column_t col) { return (char *)crm_csv_unguard(cell(row, col)); }

static int lead_request(crm_call_t *call, row_t *row, create_lead_t *r)
{
    pipeline_t *pl = crm_call_ctx(call);
    page_t *p = row->page;
    crm__pipeline__v1__create_lead_request__init(r);
    r->name = (char *)text(row, COL_NAME);
    r->contact_name = (char *)text(row, COL_CONTACT);
    r->company_name = (char *)text(row, COL_COMPANY);
    r->email = (char *)text(row, COL_EMAIL);
    r->phone = (char *)text(row, COL_PHONE);
    r->function = (char *)text(row, COL_FUNCTION);
    r->expected_closing = (char *)text(row, COL_CLOSING);
    r->next_action = (char *)text(row, COL_NEXT_ACTION);
    r->next_action_date = (char *)text(row, COL_NEXT_DATE);
    r->referred_by = (char *)text(row, COL_REFERRED);
    r->internal_notes = (char *)text(row, COL_NOTES);
    r->currency = sets(row, COL_CURRENCY) ? (char *)cell(row, COL_CURRENCY) : pl->default_currency;
    r->type = LTYPE(LEAD);
    r->priority = PRIO(NORMAL);
    if ((sets(row, COL_TYPE) && parse_type(call, cell(row, COL_TYPE), &r->type) != 0) ||
        (sets(row, COL_PRIORITY) && parse_priority(call, cell(row, COL_PRIORITY), &r->priority) != 0) ||
        (sets(row, COL_PROBABILITY) && parse_int(call, COL_PROBABILITY, cell(row, COL_PROBABILITY), &r->probability) != 0) ||
        (sets(row, COL_REVENUE) &&
         parse_money(call, cell(row, COL_REVENUE), p->sep, r->currency, &r->expected_revenue) != 0) ||
        (sets(row, COL_SALESPERSON) && find_user(call, p, COL_SALESPERSON, text(row, COL_SALESPERSON), &r->salesperson_id) != 0) ||
        (sets(row, COL_TEAM) && find_team(call, p, text(row, COL_TEAM), &r->team_id) != 0) ||
        (text(row, COL_CUSTOMER)[0] && find_customer(call, p, COL_CUSTOMER, text(row, COL_CUSTOMER), &r->customer_id) != 0) ||
        (sets(row, COL_TAGS) && find_tags(call, p, text(row, COL_TAGS), &r->tag_ids, &r->n_tag_ids) != 0))
        return -1;
    if (sets(row, COL_STAGE)) {
        /* a stage name is one of the lead's team and type: several teams
         * may each have a "Qualification". The team is the one the
         * defaults will give a row that names none; a row that names no
         * type is an opportunity when only an opportunity's stage fits. */
        int64_t team = r->team_id;
        if (!team) {
            lead_t t = CRM__PIPELINE__V1__LEAD__INIT;
            t.salesperson_id = r->salesperson_id;
            if (pl_lead_defaults(call, &t, !r->salesperson_id) != 0)
                return -1;
            team = t.team_id;
        }
        for (int pass = 0; pass < 2 && !r->stage_id; pass++) {
            if (pass == 1 && (sets(row, COL_TYPE) || r->type == LTYPE(OPPORTUNITY)))
                break;
            int type = pass == 0 ? r->type : LTYPE(OPPORTUNITY);
            stage_t **stages;
            int n = pl_stages_for(call, team, type, &stages);
            if (n < 0)
                return -1;
            for (int i = 0; i < n && !r->stage_id; i++)
                if (!strcasecmp(stages[i]->name, text(row, COL_STAGE))) {
                    r->stage_id = stages[i]->id;
                    r->type = type;
                }
        }
        if (!r->stage_id)
            return bad(call, COL_STAGE, CODE(NOT_FOUND), "no stage named \"%s\" for this team and type",
                       text(row, COL_STAGE));
    }
    /* imported data says who owns a lead: without a salesperson it is
     * nobody's, not the importer's (the team's rules may give it out) */
    r->unassigned = !r->salesperson_id;
    return 0;
}

static int customer_request(crm_call_t *call, row_t *row, create_customer_t *r)
{
    page_t *p = row->page;
    crm__pipeline__v1__create_customer_request__init(r);
    r->name = (char *)text(row, COL_NAME);
    r->email = (char *)text(row, COL_EMAIL);
    r->phone = (char *)text(row, COL_PHONE);
    r->street = (char *)text(row, COL_STREET);
    r->city = (char *)text(row, COL_CITY);
    r->country = (char *)text(row, COL_COUNTRY);
    r->function = (char *)text(row, COL_FUNCTION);
    if ((sets(row, COL_IS_COMPANY) && parse_bool(call, COL_IS_COMPANY, cell(row, COL_IS_COMPANY), &r->is_company) != 0) ||
        (sets(row, COL_SALESPERSON) && find_user(call, p, COL_SALESPERSON, text(row, COL_SALESPERSON), &r->salesperson_id) != 0) ||
        (sets(row, COL_TEAM) && find_team(call, p, text(row, COL_TEAM), &r->team_id) != 0) ||
        (text(row, COL_PARENT)[0] && find_customer(call, p, COL_PARENT, text(row, COL_PARENT), &r->parent_id) != 0))
        return -1;
    return 0;
}

/* The update mask of the columns the row sets. */
static Google__Protobuf__FieldMask *row_mask(crm_call_t *call, const row_t *row)
{
    Google__Protobuf__FieldMask *m = crm_call_new(call, &google__protobuf__field_mask__descriptor);
    m->paths = crm_arena_alloc(crm_call_arena(call), sizeof(char *) * COL_COUNT);
    for (int c = 0; c < COL_COUNT; c++)
        if (sets(row, (pl_column_t)c) && pl_columns[c].field[0])
            m->paths[m->n_paths++] = (char *)pl_columns[c].field;
    return m;
}

/* Whether record holds what the row sets already, compared as requests. */
static int lead_same(const row_t *row, const create_lead_t *r, const lead_t *l)
{
#define SAME(col, a, b) (!sets(row, col) || (a) == (b))
#define SAME_S(col, a, b) (!sets(row, col) || !strcmp((a), (b)))
    int tags = !sets(row, COL_TAGS) || (r->n_tag_ids == l->n_tag_ids &&
                                        (!r->n_tag_ids || !memcmp(r->tag_ids, l->tag_ids, r->n_tag_ids * sizeof(int64_t))));
    return tags && SAME_S(COL_NAME, r->name, l->name) && SAME(COL_TYPE, (int)r->type, pl_lead_type(l)) &&
           SAME(COL_REVENUE, r->expected_revenue, l->expected_revenue) && SAME_S(COL_CURRENCY, r->currency, l->currency) &&
           SAME(COL_PROBABILITY, r->probability, l->probability) && SAME(COL_CUSTOMER, r->customer_id, l->customer_id) &&
           SAME_S(COL_CONTACT, r->contact_name, l->contact_name) && SAME_S(COL_COMPANY, r->company_name, l->company_name) &&
           SAME_S(COL_EMAIL, r->email, l->email) && SAME_S(COL_PHONE, r->phone, l->phone) &&
           SAME_S(COL_FUNCTION, r->function, l->function) && SAME(COL_SALESPERSON, r->salesperson_id, l->salesperson_id) &&
           SAME(COL_TEAM, r->team_id, l->team_id) && SAME(COL_STAGE, r->stage_id, l->stage_id) &&
           SAME(COL_PRIORITY, (int)r->priority, (int)l->priority) && SAME_S(COL_CLOSING, r->expected_closing, l->expected_closing) &&
           SAME_S(COL_NEXT_ACTION, r->next_action, l->next_action) &&
           SAME_S(COL_NEXT_DATE, r->next_action_date, l->next_action_date) &&
           SAME_S(COL_REFERRED, r->referred_by, l->referred_by) && SAME_S(COL_NOTES, r->internal_notes, l->internal_notes);
}

static int customer_same(const row_t *row, const create_customer_t *r, const customer_t *c)
{
    return SAME_S(COL_NAME, r->name, c->name) && SAME(COL_IS_COMPANY, !!r->is_company, !!c->is_company) &&
           SAME(COL_PARENT, r->parent_id, c->parent_id) && SAME_S(COL_EMAIL, r->email, c->email) &&
           SAME_S(COL_PHONE, r->phone, c->phone) && SAME_S(COL_STREET, r->street, c->street) &&
           SAME_S(COL_CITY, r->city, c->city) && SAME_S(COL_COUNTRY, r->country, c->country) &&
           SAME_S(COL_FUNCTION, r->function, c->function) && SAME(COL_SALESPERSON, r->salesperson_id, c->salesperson_id) &&
           SAME(COL_TEAM, r->team_id, c->team_id);
#undef SAME
#undef SAME_S
}

/* The record of id, or NULL when there is none (or the caller may not see
 * it: an own-leads user's import cannot tell another's lead from none). */
/* The record id names, or NULL when there is none. A lead the caller may
 * not see is not_found on "id", or, with hidden given, NULL and *hidden 1. */
static int read_record(crm_call_t *call, int model, int64_t id, void **out, int *hidden)
{
    pipeline_t *pl = crm_call_ctx(call);
    *out = NULL;
    int rc = crm_db_get_id(crm_call_txn(call), model == PL_MODEL_LEAD ? pl->leads : pl->customers, (uint64_t)id,
                           model == PL_MODEL_LEAD ? &crm__pipeline__v1__lead__descriptor
                                                  : &crm__pipeline__v1__customer__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), out);
    if (rc == MDB_NOTFOUND) {
        *out = NULL;
        return 0;
    }
    if (rc)
        return crm_call_fail_db(call, rc);
    if (model == PL_MODEL_LEAD && !crm_call_sees_lead(call, ((lead_t *)*out)->salesperson_id)) {
        *out = NULL;
        if (hidden) {
            *hidden = 1;
            return 0;
        }
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no lead %lld", (long long)id);
    }
    return 0;
}

static int import_row(crm_call_t *call, void *arg)
{
    row_t *row = arg;
    page_t *p = row->page;
    int model = p->model;
    create_lead_t lr;
    create_customer_t cr;
    if (model == PL_MODEL_LEAD ? lead_request(call, row, &lr) != 0 : customer_request(call, row, &cr) != 0)
        return -1;
    uint8_t hash[HASH_LEN], old_hash[HASH_LEN], key[2 + EXTERNAL_ID_MAX];
    content_hash(row, hash);
    const char *external = cell(row, COL_ID);
    size_t key_len;
    if (external[0]) {
        if (strlen(external) > EXTERNAL_ID_MAX)
            return bad(call, COL_ID, CODE(INVALID_ARGUMENT), "an id is at most 256 bytes: \"%.40s...\"", external);
        key_len = import_key(key, model, 'x', external, strlen(external));
    } else {
        key_len = import_key(key, model, 'h', hash, HASH_LEN);
    }
    int64_t id = 0;
    void *record = NULL;
    int known = import_get(call, key, key_len, &id, old_hash), hidden = 0;
    if (known < 0 || (known && read_record(call, model, id, &record, &hidden) != 0))
        return -1;
    if (known && (record || hidden) && !memcmp(hash, old_hash, HASH_LEN)) {
        /* imported before as it is; one the rules then gave to another
         * salesperson is not named to an own-leads importer */
        row->outcome = ROW_UNCHANGED;
        row->id = hidden ? 0 : id;
        return 0;
    }
    if (hidden)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no lead %lld", (long long)id);
    if (known && !record)
        /* deleted or merged away since: a re-run must not bring it back */
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id",
                             "this row made %s %lld in an earlier import, deleted or merged since; it is not made "
                             "again (give it a new id to import it anew)",
                             model == PL_MODEL_LEAD ? "lead" : "customer", (long long)id);
    if (!record) {
        /* an export id this store has not imported names its own record */
        int64_t native = external[0] ? pl_export_id_parse(call, model, external) : 0;
        if (native && read_record(call, model, native, &record, NULL) != 0)
            return -1;
        id = record ? native : 0;
    }
    if (record && (model == PL_MODEL_LEAD ? lead_same(row, &lr, record) : customer_same(row, &cr, record))) {
        row->outcome = ROW_UNCHANGED;
    } else if (record && model == PL_MODEL_LEAD) {
        Crm__Pipeline__V1__UpdateLeadRequest u = CRM__PIPELINE__V1__UPDATE_LEAD_REQUEST__INIT;
        u.id = id, u.type = lr.type, u.name = lr.name, u.expected_revenue = lr.expected_revenue, u.currency = lr.currency;
        u.probability = lr.probability, u.customer_id = lr.customer_id, u.contact_name = lr.contact_name;
        u.function = lr.function, u.email = lr.email, u.phone = lr.phone, u.next_action = lr.next_action;
        u.next_action_date = lr.next_action_date, u.expected_closing = lr.expected_closing, u.priority = lr.priority;
        u.tag_ids = lr.tag_ids, u.n_tag_ids = lr.n_tag_ids, u.team_id = lr.team_id, u.salesperson_id = lr.salesperson_id;
        u.referred_by = lr.referred_by, u.internal_notes = lr.internal_notes, u.stage_id = lr.stage_id;
        u.company_name = lr.company_name;
        u.update_mask = row_mask(call, row);
        if (pl_update_lead(call, &u.base, crm_call_new(call, &crm__pipeline__v1__lead__descriptor)) != 0)
            return -1;
        row->outcome = ROW_UPDATED;
    } else if (record) {
        Crm__Pipeline__V1__UpdateCustomerRequest u = CRM__PIPELINE__V1__UPDATE_CUSTOMER_REQUEST__INIT;
        u.id = id, u.name = cr.name, u.is_company = cr.is_company, u.parent_id = cr.parent_id, u.email = cr.email;
        u.phone = cr.phone, u.street = cr.street, u.city = cr.city, u.country = cr.country, u.function = cr.function;
        u.salesperson_id = cr.salesperson_id, u.team_id = cr.team_id;
        u.update_mask = row_mask(call, row);
        if (pl_update_customer(call, &u.base, crm_call_new(call, &crm__pipeline__v1__customer__descriptor)) != 0)
            return -1;
        row->outcome = ROW_UPDATED;
    } else if (model == PL_MODEL_LEAD) {
        lead_t *l = crm_call_new(call, &crm__pipeline__v1__lead__descriptor);
        if (pl_create_lead(call, &lr.base, &l->base) != 0)
            return -1;
        id = l->id;
        row->outcome = ROW_CREATED;
    } else {
        customer_t *c = crm_call_new(call, &crm__pipeline__v1__customer__descriptor);
        if (pl_create_customer(call, &cr.base, &c->base) != 0)
            return -1;
        id = c->id;
        row->outcome = ROW_CREATED;
        /* a contact further down the page may name this company */
        if (p->customers_loaded && !crm_map_get(p->customers_by_name, name_hash(c->name)))
            crm_map_put(p->customers_by_name, name_hash(c->name), (void *)(intptr_t)id);
    }
    row->id = id;
    return import_put(call, key, key_len, id, hash);
}

/* --- the page ------------------------------------------------------------------------------------ */

/* The header: every column known, none twice, a name among them. */
static int read_header(crm_call_t *call, page_t *p, const crm_csv_record_t *rec)
{
    for (int c = 0; c < COL_COUNT; c++)
        p->position[c] = -1;
    p->n_header = rec->n_fields;
    p->header = crm_arena_alloc(crm_call_arena(call), sizeof(char *) * rec->n_fields);
    p->column_at = crm_arena_alloc(crm_call_arena(call), sizeof(int) * rec->n_fields);
    for (size_t i = 0; i < rec->n_fields; i++) {
        p->header[i] = crm_arena_strdup(crm_call_arena(call), rec->fields[i]);
        int c = pl_column_find(p->model, rec->fields[i]);
        if (c < 0)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv",
                                 "the header's column %zu, \"%.60s\", is not a column of %s (see ExportRecords' header)",
                                 i + 1, rec->fields[i], p->model == PL_MODEL_LEAD ? "leads" : "customers");
        if (p->position[c] >= 0)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "the header names \"%s\" twice",
                                 pl_columns[c].json);
        p->position[c] = (int)i;
        p->column_at[i] = c;
    }
    if (p->position[COL_NAME] < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "the header has no \"name\" column");
    return 0;
}

/* The column of the header that err.field (a request field's JSON name)
 * stands for; the JSON name itself when no column does. */
static const char *error_column(const page_t *p, const char *field)
{
    for (size_t i = 0; i < p->n_header; i++)
        if (!strcmp(pl_columns[p->column_at[i]].error_field, field))
            return p->header[i];
    return field;
}

typedef struct {
    page_t *page;
    crm_csv_t *csv;
    Crm__Pipeline__V1__ImportRecordsReply *reply;
} rows_t;

static void add_error(crm_call_t *call, Crm__Pipeline__V1__ImportRecordsReply *reply, size_t cap, int32_t row,
                      const char *field, Crm__Rpc__V1__Code code, const char *message)
{
    if (reply->n_errors == cap)
        return;
    Crm__Pipeline__V1__RowError *e = crm_call_new(call, &crm__pipeline__v1__row_error__descriptor);
    e->row = row;
    e->field = crm_arena_strdup(crm_call_arena(call), field);
    e->code = (char *)crm_code_name(code);
    e->message = crm_arena_strdup(crm_call_arena(call), message);
    reply->errors[reply->n_errors++] = e;
}

static int import_rows(crm_call_t *call, void *arg)
{
    rows_t *rs = arg;
    page_t *p = rs->page;
    Crm__Pipeline__V1__ImportRecordsReply *reply = rs->reply;
    crm_csv_record_t rec;
    crm_csv_error_t cerr;
    int rc;
    size_t cap = CRM_LIMIT_IMPORT_ROWS;
    reply->errors = crm_arena_alloc(crm_call_arena(call), sizeof(void *) * cap);
    reply->ids = crm_arena_alloc(crm_call_arena(call), sizeof(int64_t) * cap);
    while ((rc = crm_csv_next(rs->csv, &rec, &cerr)) == 1) {
        int32_t number = p->req->first_row + (int32_t)rec.index - 1;
        reply->rows++;
        reply->ids[reply->n_ids++] = 0;
        if (rec.n_fields > p->n_header) {
            add_error(call, reply, cap, number, "csv", CODE(INVALID_ARGUMENT), "the row has more cells than the header");
            continue;
        }
        row_t row = {.page = p, .cells = rec.fields, .n_cells = rec.n_fields};
        crm_status_t err;
        int r = crm_call_nested(call, import_row, &row, 1, &err);
        if (r < 0)
            return -1;
        if (r > 0) {
            add_error(call, reply, cap, number, error_column(p, err.field), err.code, err.message);
            continue;
        }
        reply->ids[reply->n_ids - 1] = row.outcome == ROW_CREATED && p->req->dry_run ? 0 : row.id;
        if (row.outcome == ROW_CREATED)
            reply->created++;
        else if (row.outcome == ROW_UPDATED)
            reply->updated++;
        else
            reply->unchanged++;
    }
    return rc < 0 ? crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "%s", cerr.message) : 0;
}

/* The whole page is read before any row runs: a page that cannot be told
 * into rows, or has too many, is refused whole and at once. */
static int check_page(crm_call_t *call, const page_t *p, const char *text, size_t len)
{
    crm_csv_t *csv = crm_csv_new(text, len, &page_limits);
    crm_csv_record_t rec;
    crm_csv_error_t cerr;
    int got, rc = 0;
    size_t rows = 0;
    while ((got = crm_csv_next(csv, &rec, &cerr)) == 1)
        if (rec.index > 0 && ++rows > CRM_LIMIT_IMPORT_ROWS) {
            rc = crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "a page has at most %d rows: send the file in "
                               "smaller pages", CRM_LIMIT_IMPORT_ROWS);
            break;
        }
    if (got < 0) {
        const char *column = cerr.column < p->n_header ? p->header[cerr.column] : "";
        rc = crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "row %d%s%s: %s",
                           p->req->first_row + (int32_t)cerr.record - 1, column[0] ? ", column " : "", column,
                           cerr.message);
    }
    crm_csv_destroy(&csv);
    return rc;
}

int pl_import_records(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__ImportRecordsRequest *r = (const void *)in;
    Crm__Pipeline__V1__ImportRecordsReply *reply = (void *)out;
    page_t page = {.model = r->model};
    crm_csv_t *csv = NULL;
    int rc = -1;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (r->model != PL_MODEL_LEAD && r->model != PL_MODEL_CUSTOMER)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "model", "model must be IMPORT_MODEL_LEAD or IMPORT_MODEL_CUSTOMER");
    if (r->first_row < 0 || r->first_row > 1000000000)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "firstRow", "firstRow is the file's row number of the page's first row, from 1");
    /* a file sent whole needs no numbering: 0 (not given) is its first row */
    Crm__Pipeline__V1__ImportRecordsRequest numbered = *r;
    numbered.first_row = r->first_row ? r->first_row : 1;
    page.req = &numbered;
    size_t len = strlen(r->csv);
    if (len > CRM_LIMIT_IMPORT_PAGE)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "a page is at most %d bytes: send the file in pages of whole rows",
                             CRM_LIMIT_IMPORT_PAGE);
    csv = crm_csv_new(r->csv, len, &page_limits);
    crm_csv_record_t rec;
    crm_csv_error_t cerr;
    int got = crm_csv_next(csv, &rec, &cerr);
    if (got == 0) {
        crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "the page has no header line");
        goto fail;
    }
    if (got < 0) {
        crm_call_fail(call, CODE(INVALID_ARGUMENT), "csv", "the header: %s", cerr.message);
        goto fail;
    }
    page.sep = crm_csv_separator(csv);
    page.customers_by_name = crm_map_new();
    if (read_header(call, &page, &rec) != 0 || check_page(call, &page, r->csv, len) != 0)
        goto fail;
    rows_t rs = {&page, csv, reply};
    if (r->dry_run) {
        /* every row as it would go, each seeing the rows before it, then
         * all undone */
        crm_status_t err;
        int nested = crm_call_nested(call, import_rows, &rs, 0, &err);
        if (nested < 0)
            goto fail;
        if (nested > 0) {
            crm_call_fail_status(call, &err);
            goto fail;
        }
    } else if (import_rows(call, &rs) != 0) {
        goto fail;
    }
    rc = 0;
fail:
    crm_map_destroy(&page.customers_by_name);
    crm_csv_destroy(&csv);
    return rc;
}
