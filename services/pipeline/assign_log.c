/* The assignment log (who was given how many leads in the last 30 days)
 * and the round-robin choice; see assign_log.h. Only LMDB here, so that a
 * unit test can drive it with any clock. */
#include "assign_log.h"
#include "crm_store.h"

#include <string.h>

static void log_key(uint8_t key[PL_ASSIGN_LOG_KEY], int64_t team, int64_t user, int64_t at, int64_t lead)
{
    crm_key_put_u64(key, (uint64_t)team);
    crm_key_put_u64(key + 8, (uint64_t)user);
    crm_key_put_u64(key + 16, (uint64_t)at);
    crm_key_put_u64(key + 24, (uint64_t)lead);
}

/* The window's first instant; a clock near its origin (tests) starts at 0. */
static int64_t window_start(int64_t now) { return now > PL_ASSIGN_WINDOW_US ? now - PL_ASSIGN_WINDOW_US : 0; }

/* 1 if k is a log key of (team, user) */
static int same_member(const MDB_val *k, const uint8_t prefix[16])
{
    return k->mv_size == PL_ASSIGN_LOG_KEY && memcmp(k->mv_data, prefix, 16) == 0;
}

int pl_assign_log_count(MDB_txn *txn, MDB_dbi log, int64_t team, int64_t user, int64_t now, int64_t cap,
                        int64_t *count)
{
    uint8_t key[PL_ASSIGN_LOG_KEY];
    log_key(key, team, user, window_start(now), 0);
    *count = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, log, &cur);
    if (rc)
        return rc;
    MDB_val k = {sizeof key, key}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0 && *count < cap && same_member(&k, key);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        (*count)++;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int pl_assign_log_add(MDB_txn *txn, MDB_dbi log, int64_t team, int64_t user, int64_t now, int64_t lead)
{
    uint8_t first[PL_ASSIGN_LOG_KEY];
    log_key(first, team, user, 0, 0);
    int64_t start = window_start(now);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, log, &cur);
    if (rc)
        return rc;
    /* the member's oldest entry is always the first of their range: seek it
     * again after each deletion rather than trust a cursor across one */
    for (int deleted = 0; deleted < PL_ASSIGN_PRUNE_MAX; deleted++) {
        MDB_val k = {sizeof first, first}, d;
        rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
        if (rc || !same_member(&k, first) || (int64_t)crm_key_get_u64((const uint8_t *)k.mv_data + 16) >= start)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    uint8_t key[PL_ASSIGN_LOG_KEY];
    log_key(key, team, user, now, lead);
    MDB_val k = {sizeof key, key}, d = {0, ""};
    return mdb_put(txn, log, &k, &d, 0);
}

int pl_assign_next(const int64_t *user_ids, size_t n, int64_t last, pl_assign_available_fn *available, void *arg)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++)
        if (user_ids[i] == last) {
            from = i + 1;
            break;
        }
    for (size_t step = 0; step < n; step++) {
        size_t i = (from + step) % n;
        int ok = available(arg, i);
        if (ok < 0)
            return -2;
        if (ok)
            return (int)i;
    }
    return -1;
}
