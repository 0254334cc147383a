/* GetPipeline: a team's kanban. Counts and sums come from the kanban cells
 * kept by index.c, cards from the per-salesperson ordered card lists merged:
 * the cost depends on the number of stages, salespeople and cards shown,
 * never on the number of leads. A board filtered by tag or text is the
 * exception: no cell knows those, so it reads its columns' leads. */
#include "pipeline.h"
#include "board_token.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x

typedef Crm__Pipeline__V1__PipelineColumn column_t;
typedef Crm__Pipeline__V1__CurrencyTotal total_t;

#define ORDER_LEN PL_ORDER_LEN /* priority, age, id: a card's place in its column */

static size_t column_prefix(uint8_t *k, int64_t team, int type, int64_t stage, int with_sp, int64_t sp)
{
    crm_key_put_u64(k, (uint64_t)team);
    k[8] = (uint8_t)type;
    crm_key_put_u64(k + 9, (uint64_t)stage);
    if (!with_sp)
        return 17;
    crm_key_put_u64(k + 17, (uint64_t)sp);
    return 25;
}

/* --- per-currency totals ------------------------------------------------------- */

/* Adds to the column's total of currency (kept sorted by code). Returns 0,
 * or -1 with OUT_OF_RANGE set when a sum would pass 64 bits. */
static int total_add(crm_call_t *call, column_t *col, const char *currency, int64_t count, int64_t expected,
                     int64_t weighted)
{
    size_t at = 0;
    while (at < col->n_totals && strcmp(col->totals[at]->currency, currency) < 0)
        at++;
    if (at == col->n_totals || strcmp(col->totals[at]->currency, currency) != 0) {
        total_t **t = crm_arena_alloc(crm_call_arena(call), sizeof *t * (col->n_totals + 1));
        if (col->n_totals) { /* memcpy from NULL is undefined even for 0 bytes */
            memcpy(t, col->totals, sizeof *t * at);
            memcpy(t + at + 1, col->totals + at, sizeof *t * (col->n_totals - at));
        }
        t[at] = crm_call_new(call, &crm__pipeline__v1__currency_total__descriptor);
        t[at]->currency = crm_arena_strdup(crm_call_arena(call), currency);
        col->totals = t;
        col->n_totals++;
    }
    total_t *t = col->totals[at];
    col->count += count;
    if (__builtin_add_overflow(t->expected_revenue, expected, &t->expected_revenue) ||
        __builtin_add_overflow(t->weighted_revenue, weighted, &t->weighted_revenue))
        return crm_call_fail(call, CODE(OUT_OF_RANGE), "teamId",
                             "the %s revenue of column \"%s\" is past what a 64-bit sum holds", currency,
                             col->stage->name);
    t->count += count;
    return 0;
}

/* The single-sum fields never add currencies together (pipeline.proto). */
static void column_sums(column_t *col)
{
    if (col->n_totals == 1) {
        col->expected_revenue = col->totals[0]->expected_revenue;
        col->weighted_revenue = col->totals[0]->weighted_revenue;
    }
}

/* --- cells ------------------------------------------------------------------------ */

static int add_cell(crm_call_t *call, const MDB_val *d, column_t *col)
{
    Crm__Pipeline__V1__KanbanCell *cell = crm__pipeline__v1__kanban_cell__unpack(
        crm_arena_allocator(crm_call_arena(call)), d->mv_size, d->mv_data);
    if (!cell)
        return crm_call_fail_db(call, MDB_CORRUPTED);
    for (size_t i = 0; i < cell->n_currencies; i++) {
        total_t *t = cell->currencies[i];
        if (total_add(call, col, t->currency, t->count, t->expected_revenue, t->weighted_revenue) != 0)
            return -1;
    }
    return 0;
}

/* Salespeople (0: unassigned) with leads in a column, from its cells. */
typedef struct {
    int64_t *ids;
    size_t n, cap;
} people_t;

/* Sums the cells under prefix (a column, or a column and salesperson) into
 * col unless NULL; when people is given, notes whose cells they were.
 * Returns 0 or -1 (set). */
static int sum_cells(crm_call_t *call, MDB_dbi dbi, const uint8_t *prefix, size_t plen, column_t *col,
                     people_t *people)
{
    MDB_txn *txn = crm_call_txn(call);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k = {plen, (void *)prefix}, d;
    int failed = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= plen && !memcmp(k.mv_data, prefix, plen);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (col && add_cell(call, &d, col) != 0) {
            failed = 1;
            break;
        }
        if (people && k.mv_size == 25) {
            if (people->n == people->cap) {
                size_t cap = people->cap ? people->cap * 2 : 16;
                int64_t *ids = crm_arena_alloc(crm_call_arena(call), sizeof *ids * cap);
                if (people->n)
                    memcpy(ids, people->ids, sizeof *ids * people->n);
                people->ids = ids;
                people->cap = cap;
            }
            people->ids[people->n++] = (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + 17);
        }
    }
    mdb_cursor_close(cur);
    if (failed)
        return -1;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : crm_call_fail_db(call, rc);
}

/* --- cards ------------------------------------------------------------------------ */

/* A cursor over the card keys under one prefix, in key order. */
typedef struct {
    MDB_cursor *cur;
    uint8_t prefix[25];
    size_t plen;
    MDB_val key; /* current; mv_data NULL when done */
} cards_t;

static int in_list(const cards_t *c, const MDB_val *k)
{
    return k->mv_size == c->plen + ORDER_LEN && !memcmp(k->mv_data, c->prefix, c->plen);
}

/* Positions at the first card of the list after `after` (NULL: the first). */
static int cards_open(cards_t *c, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
                      const uint8_t *after)
{
    memcpy(c->prefix, prefix, plen);
    c->plen = plen;
    c->key.mv_data = NULL;
    c->cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &c->cur);
    if (rc) {
        c->cur = NULL;
        return rc;
    }
    uint8_t start[25 + ORDER_LEN];
    memcpy(start, prefix, plen);
    if (after)
        memcpy(start + plen, after, ORDER_LEN);
    MDB_val k = {plen + (after ? ORDER_LEN : 0), start}, d;
    rc = mdb_cursor_get(c->cur, &k, &d, MDB_SET_RANGE);
    if (rc == 0 && after && k.mv_size == plen + ORDER_LEN && !memcmp(k.mv_data, start, plen + ORDER_LEN))
        rc = mdb_cursor_get(c->cur, &k, &d, MDB_NEXT); /* the card the page ended on */
    if (rc == 0 && in_list(c, &k))
        c->key = k;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cards_next(cards_t *c)
{
    MDB_val k, d;
    int rc = mdb_cursor_get(c->cur, &k, &d, MDB_NEXT);
    c->key.mv_data = NULL;
    if (rc == 0 && in_list(c, &k))
        c->key = k;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static const uint8_t *card_order(const cards_t *c) { return (const uint8_t *)c->key.mv_data + c->plen; }

/* What one column shows: the cards after `after` that pass the filter, at
 * most limit. */
typedef struct {
    const Crm__Pipeline__V1__ListLeadsRequest *filter; /* NULL: none, totals from the cells */
    const uint8_t *after;                              /* a page token's order, or NULL */
    uint32_t limit;
    size_t reads_left; /* leads a filtered board may still read */
} fill_t;

/* A filtered board reads leads, which no cell sums: one read more, or -1
 * with RESOURCE_EXHAUSTED past --board-filter-reads (never a cut column,
 * whose totals would be wrong). */
static int filter_read(crm_call_t *call, fill_t *f)
{
    if (f->reads_left) {
        f->reads_left--;
        return 0;
    }
    pipeline_t *pl = crm_call_ctx(call);
    return crm_call_fail(call, CODE(RESOURCE_EXHAUSTED), f->filter->query[0] ? "query" : "tagId",
                         "this board has more than %zu leads to filter; narrow it to a salesperson or a stage",
                         pl->board_filter_reads / 2);
}

static char *order_token(crm_call_t *call, const uint8_t *order)
{
    char *t = crm_arena_alloc(crm_call_arena(call), PL_ORDER_TOKEN_SIZE);
    pl_order_token(order, t);
    return t;
}

/* The merge of the card lists under prefixes (each plen bytes): priority,
 * then newest, whatever the salesperson. It stops one card past the page,
 * to know whether another page follows. Returns 0 or -1 (set). */
static int fill_cards(crm_call_t *call, column_t *col, const uint8_t *prefixes, size_t n, size_t plen,
                      fill_t *f)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    cards_t *c = crm_arena_alloc(crm_call_arena(call), sizeof *c * (n + 1));
    int rc = 0;
    size_t opened = 0;
    for (; opened < n && rc == 0; opened++)
        rc = cards_open(&c[opened], txn, pl->cards_sp, prefixes + opened * plen, plen, f->after);
    col->leads = crm_arena_alloc(crm_call_arena(call), sizeof *col->leads * (f->limit + 1));
    uint8_t last[ORDER_LEN];
    int more = 0, refused = 0;
    while (rc == 0 && !more) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (c[i].key.mv_data && (pick == n || memcmp(card_order(&c[i]), card_order(&c[pick]), ORDER_LEN) < 0))
                pick = i;
        if (pick == n)
            break;
        int64_t id = (int64_t)crm_key_get_u64(card_order(&c[pick]) + 9);
        if (f->filter && filter_read(call, f) != 0) {
            refused = 1;
            break;
        }
        lead_t *l;
        rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)&l);
        if (rc)
            break;
        if (!f->filter || pl_lead_matches(call, f->filter, l)) {
            if (col->n_leads == f->limit)
                more = 1;
            else {
                memcpy(last, card_order(&c[pick]), ORDER_LEN);
                col->leads[col->n_leads++] = l;
            }
        }
        rc = cards_next(&c[pick]);
    }
    for (size_t i = 0; i < opened; i++)
        if (c[i].cur)
            mdb_cursor_close(c[i].cur);
    if (refused)
        return -1;
    if (rc)
        return crm_call_fail_db(call, rc);
    if (more)
        col->next_page_token = order_token(call, last);
    for (size_t i = 0; i < col->n_leads; i++)
        if (pl_lead_names(call, col->leads[i]) != 0)
            return -1;
    return 0;
}

/* With a filter the totals are those of the cards that pass it, all of them,
 * not only the page's: a second walk that reads every card of the column. */
static int sum_filtered(crm_call_t *call, column_t *col, const uint8_t *prefixes, size_t n, size_t plen,
                        fill_t *f)
{
    const Crm__Pipeline__V1__ListLeadsRequest *filter = f->filter;
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    int rc = 0;
    for (size_t p = 0; p < n && rc == 0; p++) {
        cards_t c;
        rc = cards_open(&c, txn, pl->cards_sp, prefixes + p * plen, plen, NULL);
        while (rc == 0 && c.key.mv_data) {
            int64_t id = (int64_t)crm_key_get_u64(card_order(&c) + 9);
            if (filter_read(call, f) != 0) {
                mdb_cursor_close(c.cur);
                return -1;
            }
            lead_t *l;
            /* decoded outside the call's arena: a column may hold many leads */
            rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor, NULL, (void **)&l);
            if (rc)
                break;
            int fail = pl_lead_matches(call, filter, l) &&
                       total_add(call, col, l->currency, 1, l->expected_revenue, PL_WEIGHTED(l)) != 0;
            crm__pipeline__v1__lead__free_unpacked(l, NULL);
            if (fail) {
                mdb_cursor_close(c.cur);
                return -1;
            }
            rc = cards_next(&c);
        }
        if (c.cur)
            mdb_cursor_close(c.cur);
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* The board's version: its team's plus the one every board shares, both
 * only growing, so any bump of either changes the sum. */
static int board_version(crm_call_t *call, int64_t team_id, int64_t *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    int64_t team = 0, all = 0;
    int rc = pl_version_get(crm_call_txn(call), pl, PL_BOARDS_ALL, &all);
    if (rc == 0)
        rc = pl_version_get(crm_call_txn(call), pl, team_id, &team);
    *out = team + all;
    return rc;
}

int pl_get_pipeline(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__GetPipelineRequest *r = (const void *)in;
    Crm__Pipeline__V1__GetPipelineReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0 || pl_check_team(call, "teamId", r->team_id) != 0)
        return -1;
    if (r->type < 0 || r->type > LTYPE(OPPORTUNITY))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "type", "unknown lead type");
    if (r->cards_per_column < 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "cardsPerColumn", "cardsPerColumn must not be negative");
    if (pl_check_text(call, "query", r->query, 0, 256) != 0)
        return -1;
    uint8_t after[ORDER_LEN];
    if (r->page_token[0] && !r->stage_id)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "a page token pages one column: give its stageId");
    if (r->page_token[0] && pl_order_from_token(r->page_token, after) != 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "this page token was not made by GetPipeline");
    int rc = board_version(call, r->team_id, &reply->version);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (r->known_version && r->known_version == reply->version) {
        reply->unchanged = 1;
        return 0;
    }
    uint32_t limit = r->cards_per_column == 0 ? 20 : r->cards_per_column > 200 ? 200 : (uint32_t)r->cards_per_column;
    int type = r->type ? r->type : LTYPE(OPPORTUNITY);
    int64_t me = crm_call_principal(call)->user_id;
    int own = crm_call_own_leads_only(call);
    /* an own-leads user filtering on someone else sees nothing, not an error
     * that would tell whether that person has leads */
    int hidden = own && r->salesperson_id && r->salesperson_id != me;
    Crm__Pipeline__V1__ListLeadsRequest filter = CRM__PIPELINE__V1__LIST_LEADS_REQUEST__INIT;
    filter.tag_id = r->tag_id;
    filter.query = r->query;
    int filtered = r->tag_id || r->query[0];
    fill_t fill = {filtered ? &filter : NULL, r->page_token[0] ? after : NULL, limit, pl->board_filter_reads};

    stage_t **stages;
    int n = pl_stages_for(call, r->team_id, type, &stages);
    if (n < 0)
        return -1;
    if (r->stage_id) {
        int at = 0;
        while (at < n && stages[at]->id != r->stage_id)
            at++;
        if (at == n)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "stageId", "stage %lld is not a column of this board",
                                 (long long)r->stage_id);
        stages += at;
        n = 1;
    }
    reply->columns = crm_arena_alloc(crm_call_arena(call), sizeof *reply->columns * ((size_t)n + 1));
    for (int i = 0; i < n; i++) {
        column_t *col = crm_call_new(call, &crm__pipeline__v1__pipeline_column__descriptor);
        col->stage = stages[i];
        reply->columns[reply->n_columns++] = col;
        if (hidden)
            continue;
        uint8_t *prefixes;
        size_t n_prefixes = 0;
        if (r->salesperson_id || own) {
            /* one salesperson's cards, or an own-leads user's: theirs and nobody's */
            int64_t who[2] = {r->salesperson_id ? r->salesperson_id : me, 0};
            n_prefixes = r->salesperson_id ? 1 : 2;
            prefixes = crm_arena_alloc(crm_call_arena(call), 25 * 2);
            for (size_t p = 0; p < n_prefixes; p++) {
                column_prefix(prefixes + 25 * p, r->team_id, type, stages[i]->id, 1, who[p]);
                if (!filtered && sum_cells(call, pl->kanban, prefixes + 25 * p, 25, col, NULL) != 0)
                    return -1;
            }
        } else {
            /* the whole column: every salesperson's card list, merged */
            uint8_t column[17];
            people_t people = {0};
            column_prefix(column, r->team_id, type, stages[i]->id, 0, 0);
            if (sum_cells(call, pl->kanban, column, 17, filtered ? NULL : col, &people) != 0)
                return -1;
            prefixes = crm_arena_alloc(crm_call_arena(call), 25 * (people.n + 1));
            for (size_t p = 0; p < people.n; p++)
                column_prefix(prefixes + 25 * p, r->team_id, type, stages[i]->id, 1, people.ids[p]);
            n_prefixes = people.n;
        }
        if (filtered && sum_filtered(call, col, prefixes, n_prefixes, 25, &fill) != 0)
            return -1;
        if (fill_cards(call, col, prefixes, n_prefixes, 25, &fill) != 0)
            return -1;
        column_sums(col);
    }
    return 0;
}
