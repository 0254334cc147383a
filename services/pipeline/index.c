/* A lead and everything derived from it, changed together in the caller's
 * transaction: the secondary indexes behind ListLeads, the ordered card lists
 * and the kanban cells (count, revenue, weighted revenue per team, type, stage
 * and salesperson) behind GetPipeline, which therefore never scans leads. */
#include "pipeline.h"
#include "crm_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x
#define PRIO(x) CRM__PIPELINE__V1__PRIORITY__PRIORITY_##x

int pl_lead_type(const lead_t *lead)
{
    return lead->type == LTYPE(OPPORTUNITY) ? LTYPE(OPPORTUNITY) : LTYPE(LEAD);
}

static int lead_priority(const lead_t *lead)
{
    return lead->priority == PRIO(UNSPECIFIED) ? PRIO(NORMAL) : lead->priority;
}

/* --- keys ------------------------------------------------------------------------ */

static size_t pair_key(uint8_t *k, int64_t a, int64_t id)
{
    crm_key_put_u64(k, (uint64_t)a);
    crm_key_put_u64(k + 8, (uint64_t)id);
    return 16;
}

/* team, type, stage[, salesperson]: the prefix of a column */
static size_t column_key(uint8_t *k, const lead_t *l, int with_sp)
{
    crm_key_put_u64(k, (uint64_t)l->team_id);
    k[8] = (uint8_t)pl_lead_type(l);
    crm_key_put_u64(k + 9, (uint64_t)l->stage_id);
    if (!with_sp)
        return 17;
    crm_key_put_u64(k + 17, (uint64_t)l->salesperson_id);
    return 25;
}

/* a column prefix, then highest priority first, then newest first */
static size_t card_key(uint8_t *k, const lead_t *l, int with_sp)
{
    size_t n = column_key(k, l, with_sp);
    k[n] = (uint8_t)(255 - lead_priority(l));
    crm_key_put_u64(k + n + 1, UINT64_MAX - (uint64_t)l->created_at);
    crm_key_put_u64(k + n + 9, (uint64_t)l->id);
    return n + 17;
}

/* --- changes ------------------------------------------------------------------- */

static int key_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len)
{
    MDB_val k = {len, (void *)key}, d = {0, ""};
    return mdb_put(txn, dbi, &k, &d, 0);
}

static int key_del(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len)
{
    MDB_val k = {len, (void *)key};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Moves one key from old to new in dbi, doing nothing when they are equal. */
static int key_move(MDB_txn *txn, MDB_dbi dbi, const uint8_t *ok, size_t ol, const uint8_t *nk, size_t nl)
{
    if (ok && nk && ol == nl && !memcmp(ok, nk, ol))
        return 0;
    int rc = 0;
    if (ok)
        rc = key_del(txn, dbi, ok, ol);
    if (rc == 0 && nk)
        rc = key_put(txn, dbi, nk, nl);
    return rc;
}

/* keep_zero: whether leads without a value (0) are indexed too; new NULL:
 * the lead is deleted */
static int pair_move(MDB_txn *txn, MDB_dbi dbi, const lead_t *old, int64_t old_v, const lead_t *new,
                     int64_t new_v, int keep_zero)
{
    uint8_t ok[16], nk[16];
    int had = old && (old_v || keep_zero), has = new && (new_v || keep_zero);
    if (had)
        pair_key(ok, old_v, old->id);
    if (has)
        pair_key(nk, new_v, new->id);
    return key_move(txn, dbi, had ? ok : NULL, 16, has ? nk : NULL, 16);
}

/* A cell holds one total per currency, kept sorted by code so that readers
 * merge them in one pass. Any number of currencies fits: codes are three
 * capitals, not ISO's list, and a cell refused for its size would fail a
 * valid write (or, rebuilt on upgrade, the service's start). */
static int kanban_add(MDB_txn *txn, MDB_dbi dbi, const lead_t *l, int sign)
{
    uint8_t key[25];
    column_key(key, l, 1);
    MDB_val k = {sizeof key, key}, d;
    Crm__Pipeline__V1__KanbanCell cell = CRM__PIPELINE__V1__KANBAN_CELL__INIT, *have = NULL;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc == 0) {
        have = crm__pipeline__v1__kanban_cell__unpack(NULL, d.mv_size, d.mv_data);
        if (!have)
            return MDB_CORRUPTED;
        cell.count = have->count;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    size_t n = have ? have->n_currencies : 0, at = 0;
    /* have's totals with room for one more; have keeps its own array to free */
    Crm__Pipeline__V1__CurrencyTotal added = CRM__PIPELINE__V1__CURRENCY_TOTAL__INIT,
                                     **totals = crm_malloc(sizeof *totals * (n + 1));
    if (n)
        memcpy(totals, have->currencies, sizeof *totals * n);
    uint8_t *buf = NULL;
    rc = 0;
    while (at < n && strcmp(totals[at]->currency, l->currency) < 0)
        at++;
    if (at == n || strcmp(totals[at]->currency, l->currency) != 0) {
        if (sign < 0) {
            rc = MDB_CORRUPTED; /* removing a lead the cell never counted */
            goto out;
        }
        memmove(&totals[at + 1], &totals[at], sizeof *totals * (n - at));
        added.currency = l->currency;
        totals[at] = &added;
        n++;
    }
    Crm__Pipeline__V1__CurrencyTotal *t = totals[at];
    cell.count += sign;
    t->count += sign;
    /* a lead's revenue is bounded (REVENUE_MAX), a cell's count is not:
     * the sums are checked rather than left to wrap */
    if (__builtin_add_overflow(t->expected_revenue, sign * l->expected_revenue, &t->expected_revenue) ||
        __builtin_add_overflow(t->weighted_revenue, sign * PL_WEIGHTED(l), &t->weighted_revenue)) {
        rc = PL_SUM_OVERFLOW;
        goto out;
    }
    if (t->count <= 0) {
        memmove(&totals[at], &totals[at + 1], sizeof *totals * (n - at - 1));
        n--;
    }
    if (cell.count <= 0) {
        rc = key_del(txn, dbi, key, sizeof key);
        goto out;
    }
    cell.currencies = totals;
    cell.n_currencies = n;
    buf = crm_malloc(crm__pipeline__v1__kanban_cell__get_packed_size(&cell));
    MDB_val v = {crm__pipeline__v1__kanban_cell__pack(&cell, buf), buf};
    rc = mdb_put(txn, dbi, &k, &v, 0);
out:
    free(buf);
    free(totals);
    if (have)
        crm__pipeline__v1__kanban_cell__free_unpacked(have, NULL);
    return rc;
}

int pl_version_bump(MDB_txn *txn, const pipeline_t *pl, int64_t team_id)
{
    uint8_t key[8], val[8];
    crm_key_put_u64(key, (uint64_t)team_id);
    MDB_val k = {sizeof key, key}, d;
    uint64_t v = 0;
    int rc = mdb_get(txn, pl->board_versions, &k, &d);
    if (rc == 0 && d.mv_size == 8)
        v = crm_key_get_u64(d.mv_data);
    else if (rc == 0)
        return MDB_CORRUPTED;
    else if (rc != MDB_NOTFOUND)
        return rc;
    crm_key_put_u64(val, v + 1);
    MDB_val nv = {sizeof val, val};
    return mdb_put(txn, pl->board_versions, &k, &nv, 0);
}

int pl_version_get(MDB_txn *txn, const pipeline_t *pl, int64_t team_id, int64_t *out)
{
    uint8_t key[8];
    crm_key_put_u64(key, (uint64_t)team_id);
    MDB_val k = {sizeof key, key}, d;
    int rc = mdb_get(txn, pl->board_versions, &k, &d);
    *out = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && d.mv_size != 8)
        return MDB_CORRUPTED;
    if (rc == 0)
        *out = (int64_t)crm_key_get_u64(d.mv_data);
    return rc;
}

/* The lead as the board counts it: an archived lead has no card and no
 * share of its column's totals (nor of the report's). */
static const lead_t *on_board(const lead_t *l) { return l && !l->archived ? l : NULL; }

/* What a team's assignment rules may give out: open, active, nobody's. */
static int awaits_assignment(const lead_t *l)
{
    return l && l->team_id && !l->salesperson_id && !l->archived &&
           l->status != CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_WON &&
           l->status != CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_LOST;
}

int pl_index_unassigned(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    pipeline_t *pl = arg;
    (void)key;
    lead_t *l = crm__pipeline__v1__lead__unpack(NULL, data->mv_size, data->mv_data);
    if (!l)
        return MDB_CORRUPTED;
    uint8_t k[16];
    int rc = awaits_assignment(l) ? key_put(txn, pl->unassigned, k, pair_key(k, l->team_id, l->id)) : 0;
    crm__pipeline__v1__lead__free_unpacked(l, NULL);
    return rc;
}

int pl_kanban_rebuild_lead(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    pipeline_t *pl = arg;
    lead_t *l = crm__pipeline__v1__lead__unpack(NULL, data->mv_size, data->mv_data);
    if (!l)
        return MDB_CORRUPTED;
    int rc = on_board(l) ? kanban_add(txn, pl->kanban, l, +1) : 0;
    crm__pipeline__v1__lead__free_unpacked(l, NULL);
    return rc;
}

static int same_column_and_sums(const lead_t *a, const lead_t *b)
{
    return a->team_id == b->team_id && pl_lead_type(a) == pl_lead_type(b) && a->stage_id == b->stage_id &&
           a->salesperson_id == b->salesperson_id && a->expected_revenue == b->expected_revenue &&
           a->probability == b->probability;
}

static int has_tag(const lead_t *l, int64_t tag)
{
    for (size_t i = 0; i < l->n_tag_ids; i++)
        if (l->tag_ids[i] == tag)
            return 1;
    return 0;
}

static int move_tags(MDB_txn *txn, MDB_dbi dbi, const lead_t *old, const lead_t *new)
{
    uint8_t k[16];
    int rc = 0;
    for (size_t i = 0; old && rc == 0 && i < old->n_tag_ids; i++)
        if (!new || !has_tag(new, old->tag_ids[i]))
            rc = key_del(txn, dbi, k, pair_key(k, old->tag_ids[i], old->id));
    for (size_t i = 0; new && rc == 0 && i < new->n_tag_ids; i++)
        if (!old || !has_tag(old, new->tag_ids[i]))
            rc = key_put(txn, dbi, k, pair_key(k, new->tag_ids[i], new->id));
    return rc;
}

/* l NULL: old is deleted, with every key derived from it. */
static int save(pipeline_t *pl, MDB_txn *txn, const lead_t *old, const lead_t *l)
{
    int rc;
    const lead_t *any = l ? l : old;
    if (l) {
        /* names and assigned_by are the reply's (and an event's), never stored */
        lead_t stored = *l;
        stored.customer_name = stored.salesperson_name = stored.team_name = stored.assigned_by = "";
        rc = crm_db_put_id(txn, pl->leads, (uint64_t)l->id, &stored.base);
    } else {
        uint8_t id_key[8];
        crm_key_put_u64(id_key, (uint64_t)old->id);
        rc = key_del(txn, pl->leads, id_key, sizeof id_key);
    }
    if (rc != 0 ||
        (rc = pair_move(txn, pl->by_stage, old, old ? old->stage_id : 0, l, l ? l->stage_id : 0, 1)) != 0 ||
        /* unassigned leads are listed for own-leads users: keep salesperson 0 */
        (rc = pair_move(txn, pl->by_salesperson, old, old ? old->salesperson_id : 0, l, l ? l->salesperson_id : 0, 1)) != 0 ||
        (rc = pair_move(txn, pl->by_customer, old, old ? old->customer_id : 0, l, l ? l->customer_id : 0, 0)) != 0 ||
        (rc = pair_move(txn, pl->by_team, old, old ? old->team_id : 0, l, l ? l->team_id : 0, 0)) != 0 ||
        (rc = pair_move(txn, pl->by_lost_reason, old, old ? old->lost_reason_id : 0, l, l ? l->lost_reason_id : 0, 0)) != 0 ||
        (rc = move_tags(txn, pl->by_tag, old, l)) != 0)
        return rc;
    {
        uint8_t ok[16], nk[16];
        int was_waiting = awaits_assignment(old), waits = awaits_assignment(l);
        if (was_waiting)
            pair_key(ok, old->team_id, old->id);
        if (waits)
            pair_key(nk, l->team_id, l->id);
        if ((rc = key_move(txn, pl->unassigned, was_waiting ? ok : NULL, 16, waits ? nk : NULL, 16)) != 0)
            return rc;
    }
    /* one card list per salesperson and column; the whole column is their
     * merge (kanban.c), which halves what every write touches */
    const lead_t *was = on_board(old), *is = on_board(l);
    uint8_t ok[42], nk[42];
    size_t ol = was ? card_key(ok, was, 1) : 0, nl = is ? card_key(nk, is, 1) : 0;
    if ((rc = key_move(txn, pl->cards_sp, was ? ok : NULL, ol, is ? nk : NULL, nl)) != 0)
        return rc;
    /* any change may show on the board: its version moves in this batch */
    if ((rc = pl_version_bump(txn, pl, any->team_id)) != 0 ||
        (old && old->team_id != any->team_id && (rc = pl_version_bump(txn, pl, old->team_id)) != 0))
        return rc;
    if (was && is && same_column_and_sums(was, is) && !strcmp(was->currency, is->currency))
        return 0;
    if (was && (rc = kanban_add(txn, pl->kanban, was, -1)) != 0)
        return rc;
    return is ? kanban_add(txn, pl->kanban, is, +1) : 0;
}

int pl_lead_save(crm_call_t *call, const lead_t *old, lead_t *lead)
{
    int rc = save(crm_call_ctx(call), crm_call_txn(call), old, lead);
    if (rc == PL_SUM_OVERFLOW && lead)
        return crm_call_fail(call, CRM__RPC__V1__CODE__CODE_OUT_OF_RANGE, "expectedRevenue",
                             "the %s revenue of this lead's kanban column is past what a 64-bit sum holds",
                             lead->currency);
    if (rc)
        return crm_call_fail_db(call, rc);
    return pl_dup_index_lead(call, old, lead);
}

int pl_index_lost_reason(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg)
{
    pipeline_t *pl = arg;
    lead_t *l = crm__pipeline__v1__lead__unpack(NULL, data->mv_size, data->mv_data);
    if (!l)
        return MDB_CORRUPTED;
    uint8_t k[16];
    int rc = l->lost_reason_id ? key_put(txn, pl->by_lost_reason, k, pair_key(k, l->lost_reason_id, l->id)) : 0;
    crm__pipeline__v1__lead__free_unpacked(l, NULL);
    return rc;
}

int pl_index_count(MDB_txn *txn, MDB_dbi dbi, int64_t prefix, int64_t max, int64_t *count)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    uint8_t key[8];
    crm_key_put_u64(key, (uint64_t)prefix);
    MDB_val k = {sizeof key, key}, d;
    *count = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         rc == 0 && *count < max && k.mv_size >= 8 && !memcmp(k.mv_data, key, 8);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        (*count)++;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}
