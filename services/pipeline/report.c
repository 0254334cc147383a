/* PipelineReport: the managers' statistics, grouped by stage, salesperson,
 * team, status or expected-closing month. A report reads every lead in
 * range; the kanban is what must stay cheap, and it never does this. */
#include "pipeline.h"
#include "crm_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x
#define GROUP(x) CRM__PIPELINE__V1__GROUP_BY__GROUP_BY_##x

typedef Crm__Pipeline__V1__ReportRow row_t;
typedef Crm__Pipeline__V1__CurrencyTotal total_t;

static void day_of(int64_t micros, char out[16])
{
    time_t t = (time_t)(micros / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

static const char *label_of(crm_call_t *call, int group, const lead_t *l, char *key, size_t cap)
{
    pipeline_t *pl = crm_call_ctx(call);
    switch (group) {
    case GROUP(SALESPERSON):
        snprintf(key, cap, "%lld", (long long)l->salesperson_id);
        return l->salesperson_id ? pl_user_name(call, l->salesperson_id) : "Unassigned";
    case GROUP(TEAM): {
        snprintf(key, cap, "%lld", (long long)l->team_id);
        Crm__Pipeline__V1__TeamInfo *t;
        if (l->team_id && crm_db_get_id(crm_call_txn(call), pl->teams, (uint64_t)l->team_id,
                                        &crm__pipeline__v1__team_info__descriptor,
                                        crm_arena_allocator(crm_call_arena(call)), (void **)&t) == 0)
            return t->name;
        return "No team";
    }
    case GROUP(STATUS): {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&crm__pipeline__v1__lead_status__descriptor, l->status);
        snprintf(key, cap, "%s", v ? v->name : "LEAD_STATUS_UNSPECIFIED");
        return key;
    }
    case GROUP(EXPECTED_CLOSING_MONTH):
        snprintf(key, cap, "%.7s", l->expected_closing);
        return key[0] ? key : "No date";
    default: {
        snprintf(key, cap, "%lld", (long long)l->stage_id);
        stage_t *s;
        if (crm_db_get_id(crm_call_txn(call), pl->stages, (uint64_t)l->stage_id, &crm__pipeline__v1__stage__descriptor,
                          crm_arena_allocator(crm_call_arena(call)), (void **)&s) == 0)
            return s->name;
        return "Unknown stage";
    }
    }
}

/* The row's total of currency, made on first use; the few currencies a row
 * has are kept sorted by code. Can't fail. */
static total_t *row_total(crm_call_t *call, row_t *row, const char *currency)
{
    size_t at = 0;
    while (at < row->n_totals && strcmp(row->totals[at]->currency, currency) < 0)
        at++;
    if (at < row->n_totals && !strcmp(row->totals[at]->currency, currency))
        return row->totals[at];
    total_t **t = crm_arena_alloc(crm_call_arena(call), sizeof *t * (row->n_totals + 1));
    if (row->n_totals) { /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(t, row->totals, sizeof *t * at);
        memcpy(t + at + 1, row->totals + at, sizeof *t * (row->n_totals - at));
    }
    t[at] = crm_call_new(call, &crm__pipeline__v1__currency_total__descriptor);
    t[at]->currency = crm_arena_strdup(crm_call_arena(call), currency);
    row->totals = t;
    row->n_totals++;
    return t[at];
}

static uint64_t key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The row of key, or NULL; two keys of one hash fall back to a scan. */
static row_t *find_row(crm_map_t *index, row_t **rows, const char *key)
{
    row_t *row = crm_map_get(index, key_hash(key));
    if (!row || !strcmp(row->key, key))
        return row;
    for (row_t **r = rows; *r; r++)
        if (!strcmp((*r)->key, key))
            return *r;
    return NULL;
}

static int by_key(const void *a, const void *b)
{
    const row_t *x = *(row_t *const *)a, *y = *(row_t *const *)b;
    size_t lx = strlen(x->key), ly = strlen(y->key);
    /* numeric keys (ids) in numeric order: shorter first */
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x->key, y->key);
}

int pl_pipeline_report(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__PipelineReportRequest *r = (const void *)in;
    Crm__Pipeline__V1__PipelineReportReply *reply = (void *)out;
    if (crm_call_require_manager(call) != 0 || pl_check_date(call, "from", r->from) != 0 ||
        pl_check_date(call, "to", r->to) != 0)
        return -1;
    if (r->group_by < 0 || r->group_by > GROUP(EXPECTED_CLOSING_MONTH))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "groupBy", "unknown grouping");
    if (r->from[0] && r->to[0] && strcmp(r->from, r->to) > 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "to", "to is before from");
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), pl->leads, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    row_t **rows = crm_arena_alloc(crm_call_arena(call), sizeof *rows * (pl->report_max_rows + 1)); /* NULL-ended */
    size_t n = 0;
    crm_map_t *index = crm_map_new(); /* key hash -> row: one look-up a lead, not a scan of the rows */
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        lead_t *l = crm__pipeline__v1__lead__unpack(NULL, d.mv_size, d.mv_data);
        if (!l) {
            rc = MDB_CORRUPTED;
            break;
        }
        char day[16], key[64];
        day_of(l->created_at, day);
        /* archived leads are out of every total, as out of the board */
        int in_range = !l->archived && (!r->team_id || l->team_id == r->team_id) && (!r->from[0] || strcmp(day, r->from) >= 0) &&
                       (!r->to[0] || strcmp(day, r->to) <= 0);
        if (in_range) {
            const char *label = label_of(call, r->group_by, l, key, sizeof key);
            row_t *row = find_row(index, rows, key);
            if (!row && n == pl->report_max_rows) {
                /* never a silent cut: the caller narrows the report */
                crm__pipeline__v1__lead__free_unpacked(l, NULL);
                mdb_cursor_close(cur);
                crm_map_destroy(&index);
                return crm_call_fail(call, CODE(RESOURCE_EXHAUSTED), "groupBy",
                                     "the report has more than %zu groups; narrow it by team or dates",
                                     pl->report_max_rows);
            }
            if (!row) {
                row = crm_call_new(call, &crm__pipeline__v1__report_row__descriptor);
                row->key = crm_arena_strdup(crm_call_arena(call), key);
                row->label = crm_arena_strdup(crm_call_arena(call), label);
                rows[n++] = row;
                crm_map_put(index, key_hash(key), row);
            }
            row->count++;
            row->won_count += l->status == STATUS(WON);
            row->lost_count += l->status == STATUS(LOST);
            total_t *t = row_total(call, row, l->currency);
            t->count++;
            if (__builtin_add_overflow(t->expected_revenue, l->expected_revenue, &t->expected_revenue) ||
                __builtin_add_overflow(t->weighted_revenue, PL_WEIGHTED(l), &t->weighted_revenue)) {
                crm__pipeline__v1__lead__free_unpacked(l, NULL);
                mdb_cursor_close(cur);
                crm_map_destroy(&index);
                return crm_call_fail(call, CODE(OUT_OF_RANGE), "groupBy",
                                     "the revenue of group \"%s\" is past what a 64-bit sum holds; "
                                     "narrow the report by team or dates", row->label);
            }
        }
        crm__pipeline__v1__lead__free_unpacked(l, NULL);
    }
    crm_map_destroy(&index);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    qsort(rows, n, sizeof *rows, by_key);
    /* the single sums never add currencies together (pipeline.proto) */
    for (size_t i = 0; i < n; i++)
        if (rows[i]->n_totals == 1) {
            rows[i]->expected_revenue = rows[i]->totals[0]->expected_revenue;
            rows[i]->weighted_revenue = rows[i]->totals[0]->weighted_revenue;
        }
    reply->rows = rows;
    reply->n_rows = n;
    return 0;
}
