/* ExportRecords: leads or customers as CSV pages, in the columns import
 * reads, so that an export imports back as the same records. */
#include "transfer.h"
#include "crm_csv.h"
#include "crm_request.h"
#include "crm_tracking.h"
#include "crm_validate.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ARCHIVE(x) CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_##x
#define L (1u << PL_MODEL_LEAD)
#define C (1u << PL_MODEL_CUSTOMER)
/* A page stops growing past this many bytes of CSV, whatever its rows: a
 * reply stays well under what the doors hold for a slow reader. */
#define EXPORT_PAGE_BYTES (2 << 20)

const pl_column_def_t pl_columns[COL_COUNT] = {
    [COL_ID] = {"id", "external id|externalid|export id", "", "id", L | C},
    [COL_NAME] = {"name", "subject|opportunity|lead|customer name", "name", "name", L | C},
    [COL_TYPE] = {"type", "", "type", "type", L},
    [COL_REVENUE] = {"expectedRevenue", "expected revenue|revenue", "expected_revenue", "expectedRevenue", L},
    [COL_CURRENCY] = {"currency", "", "currency", "currency", L},
    [COL_PROBABILITY] = {"probability", "probability (%)", "probability", "probability", L},
    [COL_CUSTOMER] = {"customer", "customer id|partner", "customer_id", "customerId", L},
    [COL_CONTACT] = {"contactName", "contact name|contact", "contact_name", "contactName", L},
    [COL_COMPANY] = {"companyName", "company name|company", "company_name", "companyName", L},
    [COL_IS_COMPANY] = {"isCompany", "is company|is a company|company type", "is_company", "isCompany", C},
    [COL_PARENT] = {"parent", "parent id|related company|company", "parent_id", "parentId", C},
    [COL_EMAIL] = {"email", "e-mail|email address", "email", "email", L | C},
    [COL_PHONE] = {"phone", "telephone|phone number", "phone", "phone", L | C},
    [COL_FUNCTION] = {"function", "job position|job title", "function", "function", L | C},
    [COL_STREET] = {"street", "address", "street", "street", C},
    [COL_CITY] = {"city", "", "city", "city", C},
    [COL_COUNTRY] = {"country", "", "country", "country", C},
    [COL_SALESPERSON] = {"salesperson", "salesperson id|sales person|user", "salesperson_id", "salespersonId", L | C},
    [COL_TEAM] = {"team", "sales team|team id", "team_id", "teamId", L | C},
    [COL_STAGE] = {"stage", "stage id", "stage_id", "stageId", L},
    [COL_TAGS] = {"tags", "tag|tag ids", "tag_ids", "tagIds", L},
    [COL_PRIORITY] = {"priority", "", "priority", "priority", L},
    [COL_CLOSING] = {"expectedClosing", "expected closing|deadline", "expected_closing", "expectedClosing", L},
    [COL_NEXT_ACTION] = {"nextAction", "next action", "next_action", "nextAction", L},
    [COL_NEXT_DATE] = {"nextActionDate", "next action date", "next_action_date", "nextActionDate", L},
    [COL_REFERRED] = {"referredBy", "referred by", "referred_by", "referredBy", L},
    [COL_NOTES] = {"internalNotes", "internal notes|notes|description", "internal_notes", "internalNotes", L},
};

static const pl_column_t lead_columns[] = {
    COL_ID, COL_NAME, COL_TYPE, COL_REVENUE, COL_CURRENCY, COL_PROBABILITY, COL_CUSTOMER, COL_CONTACT,
    COL_COMPANY, COL_EMAIL, COL_PHONE, COL_FUNCTION, COL_SALESPERSON, COL_TEAM, COL_STAGE, COL_TAGS,
    COL_PRIORITY, COL_CLOSING, COL_NEXT_ACTION, COL_NEXT_DATE, COL_REFERRED, COL_NOTES};
static const pl_column_t customer_columns[] = {COL_ID, COL_NAME, COL_IS_COMPANY, COL_PARENT, COL_EMAIL,
                                               COL_PHONE, COL_STREET, COL_CITY, COL_COUNTRY, COL_FUNCTION,
                                               COL_SALESPERSON, COL_TEAM};

const pl_column_t *pl_model_columns(int model, size_t *n)
{
    if (model == PL_MODEL_LEAD) {
        *n = sizeof lead_columns / sizeof lead_columns[0];
        return lead_columns;
    }
    *n = sizeof customer_columns / sizeof customer_columns[0];
    return customer_columns;
}

/* s[0, len) lower-cased without spaces, "_" and "-" into out (cap bytes). */
static void header_key(char *out, size_t cap, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++)
        if (s[i] != ' ' && s[i] != '_' && s[i] != '-' && s[i] != '\t')
            out[o++] = (char)tolower((unsigned char)s[i]);
    out[o] = '\0';
}

int pl_column_find(int model, const char *header)
{
    char want[128], have[128];
    header_key(want, sizeof want, header, strlen(header));
    size_t n;
    const pl_column_t *cols = pl_model_columns(model, &n);
    for (size_t i = 0; i < n; i++) {
        const pl_column_def_t *d = &pl_columns[cols[i]];
        header_key(have, sizeof have, d->json, strlen(d->json));
        if (!strcmp(want, have))
            return (int)cols[i];
        for (const char *a = d->aliases; *a;) {
            const char *bar = strchr(a, '|');
            size_t len = bar ? (size_t)(bar - a) : strlen(a);
            header_key(have, sizeof have, a, len);
            if (!strcmp(want, have))
                return (int)cols[i];
            a += len + (bar ? 1 : 0);
        }
    }
    return -1;
}

static const char *model_prefix(int model) { return model == PL_MODEL_LEAD ? "lead/" : "customer/"; }

char *pl_export_id(crm_call_t *call, int model, int64_t id)
{
    const pipeline_t *pl = crm_call_ctx(call);
    return crm_arena_printf(crm_call_arena(call), "%s%lld@%012llx", model_prefix(model), (long long)id,
                            (unsigned long long)pl->export_namespace);
}

int64_t pl_export_id_parse(crm_call_t *call, int model, const char *s)
{
    const pipeline_t *pl = crm_call_ctx(call);
    const char *p = model_prefix(model), *at = strchr(s, '@');
    size_t n = strlen(p);
    char ns[16];
    int64_t id;
    if (strncmp(s, p, n) != 0 || !at || crm_parse_id(s + n, (size_t)(at - s - (ptrdiff_t)n), &id) != 0)
        return 0;
    snprintf(ns, sizeof ns, "%012llx", (unsigned long long)pl->export_namespace);
    return strcmp(at + 1, ns) == 0 ? id : 0;
}

const char *pl_priority_text(int priority)
{
    static const char *const names[] = {"normal", "low", "normal", "high", "very high"};
    return priority >= 0 && priority <= 4 ? names[priority] : "normal";
}

const char *pl_type_text(int type)
{
    return type == CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_OPPORTUNITY ? "opportunity" : "lead";
}

void pl_money_text(char *out, int64_t minor, const char *currency)
{
    int exp = crm_currency_exponent(currency);
    int64_t scale = 1;
    for (int i = 0; i < exp; i++)
        scale *= 10;
    if (exp)
        snprintf(out, 32, "%" PRId64 ".%0*" PRId64, minor / scale, exp, minor % scale);
    else
        snprintf(out, 32, "%" PRId64, minor);
}

/* --- names of what records point to ------------------------------------------------ */

static const char *login_of(crm_call_t *call, int64_t id)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u = id ? crm_readmodel_user(&pl->readmodel, crm_call_txn(call), crm_call_arena(call), id) : NULL;
    return u ? u->login : "";
}

static const char *record_name(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, int64_t id)
{
    void *m;
    if (id <= 0 || crm_db_get_id(crm_call_txn(call), dbi, (uint64_t)id, desc, crm_arena_allocator(crm_call_arena(call)),
                                 &m) != 0)
        return "";
    if (desc == &crm__pipeline__v1__team_info__descriptor)
        return ((Crm__Pipeline__V1__TeamInfo *)m)->name;
    if (desc == &crm__pipeline__v1__stage__descriptor)
        return ((stage_t *)m)->name;
    return ((Crm__Pipeline__V1__Tag *)m)->name;
}

/* --- rows ---------------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    crm_arena_t *arena;
} out_t;

static void out_reserve(out_t *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return;
    size_t cap = (o->cap ? o->cap * 2 : 65536);
    while (cap < o->len + more + 1)
        cap *= 2;
    char *b = crm_arena_alloc(o->arena, cap);
    if (o->len)
        memcpy(b, o->buf, o->len);
    o->buf = b;
    o->cap = cap;
}

static void out_row(out_t *o, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out_reserve(o, crm_csv_field_size(cells[i]) + 3);
        if (i)
            o->buf[o->len++] = ',';
        o->len += crm_csv_field(o->buf + o->len, cells[i], ',', 1);
    }
    out_reserve(o, 2);
    o->buf[o->len++] = '\r';
    o->buf[o->len++] = '\n';
    o->buf[o->len] = '\0';
}

static void lead_cells(crm_call_t *call, const lead_t *l, const char **cells)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_arena_t *a = crm_call_arena(call);
    char money[32];
    pl_money_text(money, l->expected_revenue, l->currency);
    size_t tags_len = 1;
    const char **tag_names = crm_arena_alloc(a, sizeof(char *) * (l->n_tag_ids + 1));
    for (size_t i = 0; i < l->n_tag_ids; i++) {
        tag_names[i] = record_name(call, pl->tags, &crm__pipeline__v1__tag__descriptor, l->tag_ids[i]);
        tags_len += strlen(tag_names[i]) + 1;
    }
    char *tags = crm_arena_alloc(a, tags_len);
    tags[0] = '\0';
    for (size_t i = 0; i < l->n_tag_ids; i++) {
        if (i)
            strcat(tags, ",");
        strcat(tags, tag_names[i]);
    }
    cells[COL_ID] = pl_export_id(call, PL_MODEL_LEAD, l->id);
    cells[COL_NAME] = l->name;
    cells[COL_TYPE] = pl_type_text(pl_lead_type(l));
    cells[COL_REVENUE] = crm_arena_strdup(a, money);
    cells[COL_CURRENCY] = l->currency;
    cells[COL_PROBABILITY] = crm_arena_printf(a, "%d", l->probability);
    cells[COL_CUSTOMER] = l->customer_id ? pl_export_id(call, PL_MODEL_CUSTOMER, l->customer_id) : "";
    cells[COL_CONTACT] = l->contact_name;
    cells[COL_COMPANY] = l->company_name;
    cells[COL_EMAIL] = l->email;
    cells[COL_PHONE] = l->phone;
    cells[COL_FUNCTION] = l->function;
    cells[COL_SALESPERSON] = login_of(call, l->salesperson_id);
    cells[COL_TEAM] = record_name(call, pl->teams, &crm__pipeline__v1__team_info__descriptor, l->team_id);
    cells[COL_STAGE] = record_name(call, pl->stages, &crm__pipeline__v1__stage__descriptor, l->stage_id);
    cells[COL_TAGS] = tags;
    cells[COL_PRIORITY] = pl_priority_text(l->priority);
    cells[COL_CLOSING] = l->expected_closing;
    cells[COL_NEXT_ACTION] = l->next_action;
    cells[COL_NEXT_DATE] = l->next_action_date;
    cells[COL_REFERRED] = l->referred_by;
    cells[COL_NOTES] = l->internal_notes;
}

static void customer_cells(crm_call_t *call, const customer_t *c, const char **cells)
{
    pipeline_t *pl = crm_call_ctx(call);
    cells[COL_ID] = pl_export_id(call, PL_MODEL_CUSTOMER, c->id);
    cells[COL_NAME] = c->name;
    cells[COL_IS_COMPANY] = c->is_company ? "true" : "false";
    cells[COL_PARENT] = c->parent_id ? pl_export_id(call, PL_MODEL_CUSTOMER, c->parent_id) : "";
    cells[COL_EMAIL] = c->email;
    cells[COL_PHONE] = c->phone;
    cells[COL_STREET] = c->street;
    cells[COL_CITY] = c->city;
    cells[COL_COUNTRY] = c->country;
    cells[COL_FUNCTION] = c->function;
    cells[COL_SALESPERSON] = login_of(call, c->salesperson_id);
    cells[COL_TEAM] = record_name(call, pl->teams, &crm__pipeline__v1__team_info__descriptor, c->team_id);
}

static int archive_keeps(int filter, int archived)
{
    if (filter == ARCHIVE(ALL))
        return 1;
    return filter == ARCHIVE(ARCHIVED) ? archived : !archived;
}

int pl_export_records(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__ExportRecordsRequest *r = (const void *)in;
    Crm__Pipeline__V1__ExportRecordsReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (r->model != PL_MODEL_LEAD && r->model != PL_MODEL_CUSTOMER)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "model", "model must be IMPORT_MODEL_LEAD or IMPORT_MODEL_CUSTOMER");
    if (r->archived < ARCHIVE(UNSPECIFIED) || r->archived > ARCHIVE(ALL))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "archived", "unknown archive filter");
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 1000, 10000, &size, &after) != 0)
        return -1;
    size_t n_cols;
    const pl_column_t *cols = pl_model_columns(r->model, &n_cols);
    const char *all[COL_COUNT], *row[COL_COUNT];
    out_t o = {.arena = crm_call_arena(call)};
    out_reserve(&o, 0);
    o.buf[0] = '\0';
    if (!r->page_token[0]) {
        for (size_t i = 0; i < n_cols; i++)
            row[i] = pl_columns[cols[i]].json;
        out_row(&o, row, n_cols);
    }
    MDB_dbi dbi = r->model == PL_MODEL_LEAD ? pl->leads : pl->customers;
    const ProtobufCMessageDescriptor *desc =
        r->model == PL_MODEL_LEAD ? &crm__pipeline__v1__lead__descriptor : &crm__pipeline__v1__customer__descriptor;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    uint8_t key[8];
    crm_key_put_u64(key, after + 1);
    MDB_val k = {8, key}, d;
    uint64_t last = 0;
    int more = 0;
    int64_t scanned = 0;
    /* an own-leads user's page may read many leads it may not see: past
     * the budget the page ends early and its token goes on from there */
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((uint32_t)reply->rows == size || ++scanned > PL_SCAN_MAX || o.len > EXPORT_PAGE_BYTES) {
            more = 1;
            break;
        }
        last = crm_key_get_u64(k.mv_data);
        void *m = crm_call_unpack(call, desc, d.mv_data, d.mv_size);
        if (!m) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (r->model == PL_MODEL_LEAD) {
            const lead_t *l = m;
            if (!crm_call_sees_lead(call, l->salesperson_id) || !archive_keeps(r->archived, l->archived))
                continue;
            lead_cells(call, l, all);
        } else {
            const customer_t *c = m;
            if (!archive_keeps(r->archived, c->archived))
                continue;
            customer_cells(call, c, all);
        }
        for (size_t i = 0; i < n_cols; i++)
            row[i] = all[cols[i]];
        out_row(&o, row, n_cols);
        reply->rows++;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    reply->csv = o.buf;
    if (more && last)
        reply->next_page_token = crm_call_page_token(call, last);
    return 0;
}
