/* GetPipeline: a team's kanban. Counts and sums come from the kanban cells
 * kept by index.c, cards from the per-salesperson ordered card lists merged:
 * the cost depends on the number of stages, salespeople and cards shown,
 * never on the number of leads. */
#include "pipeline.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x

typedef Crm__Pipeline__V1__PipelineColumn column_t;

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

static int add_cell(const MDB_val *d, column_t *col)
{
    Crm__Pipeline__V1__KanbanCell *cell = crm__pipeline__v1__kanban_cell__unpack(NULL, d->mv_size, d->mv_data);
    if (!cell)
        return MDB_CORRUPTED;
    col->count += cell->count;
    col->expected_revenue += cell->expected_revenue;
    col->weighted_revenue += cell->weighted_revenue;
    crm__pipeline__v1__kanban_cell__free_unpacked(cell, NULL);
    return 0;
}

/* Salespeople (0: unassigned) with leads in a column, from its cells. */
typedef struct {
    int64_t *ids;
    size_t n, cap;
} people_t;

/* Sums the cells under prefix (a column, or a column and salesperson); when
 * people is given, notes whose cells they were. */
static int sum_cells(crm_call_t *call, MDB_dbi dbi, const uint8_t *prefix, size_t plen, column_t *col,
                     people_t *people)
{
    MDB_txn *txn = crm_call_txn(call);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    MDB_val k = {plen, (void *)prefix}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= plen && !memcmp(k.mv_data, prefix, plen);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if ((rc = add_cell(&d, col)) != 0)
            break;
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
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A cursor over the card keys under one prefix, in key order. */
typedef struct {
    MDB_cursor *cur;
    uint8_t prefix[25];
    size_t plen;
    MDB_val key; /* current; mv_data NULL when done */
} cards_t;

static int cards_open(cards_t *c, MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t plen)
{
    memcpy(c->prefix, prefix, plen);
    c->plen = plen;
    c->key.mv_data = NULL;
    c->cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &c->cur);
    if (rc)
        c->cur = NULL;
    if (rc)
        return rc;
    MDB_val k = {plen, c->prefix}, d;
    rc = mdb_cursor_get(c->cur, &k, &d, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == plen + 17 && !memcmp(k.mv_data, prefix, plen))
        c->key = k;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cards_next(cards_t *c)
{
    MDB_val k, d;
    int rc = mdb_cursor_get(c->cur, &k, &d, MDB_NEXT);
    c->key.mv_data = NULL;
    if (rc == 0 && k.mv_size == c->plen + 17 && !memcmp(k.mv_data, c->prefix, c->plen))
        c->key = k;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The order within a column: priority, age, id, the 17 bytes after the prefix */
static const uint8_t *card_order(const cards_t *c) { return (const uint8_t *)c->key.mv_data + c->plen; }

/* The first limit cards of the merge of the card lists under prefixes (each
 * plen bytes): priority, then newest, whatever the salesperson. */
static int fill_cards(crm_call_t *call, column_t *col, const uint8_t *prefixes, size_t n, size_t plen,
                      MDB_dbi dbi, uint32_t limit)
{
    pipeline_t *pl = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    cards_t *c = crm_arena_alloc(crm_call_arena(call), sizeof *c * (n + 1));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cards_open(&c[i], txn, dbi, prefixes + i * plen, plen);
    col->leads = crm_arena_alloc(crm_call_arena(call), sizeof *col->leads * (limit + 1));
    while (rc == 0 && col->n_leads < limit) {
        size_t pick = n;
        for (size_t i = 0; i < n; i++)
            if (c[i].key.mv_data && (pick == n || memcmp(card_order(&c[i]), card_order(&c[pick]), 17) < 0))
                pick = i;
        if (pick == n)
            break;
        int64_t id = (int64_t)crm_key_get_u64(card_order(&c[pick]) + 9);
        lead_t *l;
        rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)&l);
        if (rc)
            break;
        col->leads[col->n_leads++] = l;
        rc = cards_next(&c[pick]);
    }
    for (size_t i = 0; i < n; i++)
        if (c[i].cur)
            mdb_cursor_close(c[i].cur);
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
    uint32_t limit = r->cards_per_column == 0 ? 20 : r->cards_per_column > 200 ? 200 : (uint32_t)r->cards_per_column;
    int type = r->type ? r->type : LTYPE(OPPORTUNITY);
    int64_t me = crm_call_principal(call)->user_id;
    int own = crm_call_own_leads_only(call);
    /* an own-leads user filtering on someone else sees nothing, not an error
     * that would tell whether that person has leads */
    int hidden = own && r->salesperson_id && r->salesperson_id != me;

    stage_t **stages;
    int n = pl_stages_for(call, r->team_id, type, &stages);
    if (n < 0)
        return -1;
    reply->columns = crm_arena_alloc(crm_call_arena(call), sizeof *reply->columns * ((size_t)n + 1));
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
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
            for (size_t p = 0; p < n_prefixes && rc == 0; p++) {
                column_prefix(prefixes + 25 * p, r->team_id, type, stages[i]->id, 1, who[p]);
                rc = sum_cells(call, pl->kanban, prefixes + 25 * p, 25, col, NULL);
            }
        } else {
            /* the whole column: every salesperson's card list, merged */
            uint8_t column[17];
            people_t people = {0};
            column_prefix(column, r->team_id, type, stages[i]->id, 0, 0);
            rc = sum_cells(call, pl->kanban, column, 17, col, &people);
            prefixes = crm_arena_alloc(crm_call_arena(call), 25 * (people.n + 1));
            for (size_t p = 0; p < people.n; p++)
                column_prefix(prefixes + 25 * p, r->team_id, type, stages[i]->id, 1, people.ids[p]);
            n_prefixes = people.n;
        }
        if (rc == 0)
            rc = fill_cards(call, col, prefixes, n_prefixes, 25, pl->cards_sp, limit);
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}
