#ifndef PL_ASSIGN_LOG_H
#define PL_ASSIGN_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>

/* The assignment log and the round-robin choice, apart from any call so
 * that they can be tested with a clock of the test's own.
 *
 * Log key: team, user, time (Unix us), lead id, each 8 bytes big-endian →
 * "". A member's leads of the last 30 days are one contiguous key range,
 * so counting them is a bounded range scan. */

#define PL_ASSIGN_WINDOW_US (30LL * 24 * 3600 * 1000000)
/* Old entries one write deletes at most: the rest go with later writes
 * (they are outside every count already, so they cost only space). */
#define PL_ASSIGN_PRUNE_MAX 1000
#define PL_ASSIGN_LOG_KEY 32

/* Counts the entries of (team, user) at or after now - PL_ASSIGN_WINDOW_US
 * into *count, stopping at cap. Returns an LMDB code (0 when there are
 * none). */
int pl_assign_log_count(MDB_txn *txn, MDB_dbi log, int64_t team, int64_t user, int64_t now, int64_t cap,
                        int64_t *count);

/* Logs lead as given to user of team at now, after deleting at most
 * PL_ASSIGN_PRUNE_MAX entries of (team, user) older than the window.
 * Returns an LMDB code. */
int pl_assign_log_add(MDB_txn *txn, MDB_dbi log, int64_t team, int64_t user, int64_t now, int64_t lead);

/* Whether member i may be given a lead now: 1 or 0, or -1 on an error
 * (which stops the choice). */
typedef int (pl_assign_available_fn)(void *arg, size_t i);

/* Round robin: the index of the first member available() accepts after the
 * one whose user id is last, going round once (from the first when last is
 * none of them); members are asked in that order and only until one is
 * found, so that a count is read only for those whose turn it is. -1 when
 * nobody is available, -2 when available() failed. */
int pl_assign_next(const int64_t *user_ids, size_t n, int64_t last, pl_assign_available_fn *available, void *arg);

#endif
