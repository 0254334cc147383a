/* Pipeline's assignment log and round-robin choice with a clock of the
 * test's own: the service has no clock to move, and 30 days cannot be
 * waited for. The module is compiled in from its source (it needs only
 * LMDB), as the fuzz targets do with theirs. */
#include "../../services/pipeline/assign_log.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define DAY (24LL * 3600 * 1000000)
#define T0 (1800000000LL * 1000000) /* some instant in 2027 */

static char dir[64];
static MDB_env *env;
static MDB_dbi log_dbi;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/crm-test-assign-XXXXXX");
    MDB_txn *txn;
    if (!mkdtemp(dir) || mdb_env_create(&env) || mdb_env_set_maxdbs(env, 2) || mdb_env_open(env, dir, 0, 0600) ||
        mdb_txn_begin(env, NULL, 0, &txn))
        return -1;
    if (mdb_dbi_open(txn, "assign_log", MDB_CREATE, &log_dbi) || mdb_txn_commit(txn))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    mdb_env_close(env);
    return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int64_t count(MDB_txn *txn, int64_t team, int64_t user, int64_t now, int64_t cap)
{
    int64_t n = -1;
    assert_int_equal(pl_assign_log_count(txn, log_dbi, team, user, now, cap, &n), 0);
    return n;
}

/* Every entry of the log, whatever its age. */
static size_t entries(MDB_txn *txn)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, log_dbi, &st), 0);
    return st.ms_entries;
}

static void test_count_is_per_team_and_user_within_30_days(void **state)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    /* user 7 of team 1: leads on day 0, 10 and 29; another user and team beside */
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 7, T0, 100), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 7, T0 + 10 * DAY, 101), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 7, T0 + 29 * DAY, 102), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 8, T0 + 29 * DAY, 103), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 2, 7, T0 + 29 * DAY, 104), 0);
    /* two leads in one instant (one batch) are two entries */
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 8, T0 + 29 * DAY, 105), 0);

    assert_int_equal(count(txn, 1, 7, T0 + 29 * DAY, 100), 3);
    assert_int_equal(count(txn, 1, 8, T0 + 29 * DAY, 100), 2);
    assert_int_equal(count(txn, 2, 7, T0 + 29 * DAY, 100), 1);
    assert_int_equal(count(txn, 3, 7, T0 + 29 * DAY, 100), 0);
    /* the count stops at its cap */
    assert_int_equal(count(txn, 1, 7, T0 + 29 * DAY, 2), 2);
    /* 30 days after day 0 that lead no longer counts; after day 10's, neither */
    assert_int_equal(count(txn, 1, 7, T0 + 30 * DAY + 1, 100), 2);
    assert_int_equal(count(txn, 1, 7, T0 + 40 * DAY + 1, 100), 1);
    assert_int_equal(count(txn, 1, 7, T0 + 60 * DAY, 100), 0);
    mdb_txn_abort(txn);
}

static void test_writing_prunes_the_members_old_entries(void **state)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 7, T0 + i * DAY, 200 + i), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 8, T0, 300), 0);
    assert_int_equal(entries(txn), 6);
    /* on day 33 the entries of days 0 to 2 are past the window: the write drops them, not user 8's */
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 1, 7, T0 + 33 * DAY, 210), 0);
    assert_int_equal(entries(txn), 4);
    assert_int_equal(count(txn, 1, 7, T0 + 33 * DAY, 100), 3);
    assert_int_equal(count(txn, 1, 8, T0, 100), 1);
    mdb_txn_abort(txn);
}

static void test_pruning_is_bounded_per_write(void **state)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    size_t old = PL_ASSIGN_PRUNE_MAX + 5;
    for (size_t i = 0; i < old; i++)
        assert_int_equal(pl_assign_log_add(txn, log_dbi, 4, 9, T0, (int64_t)i + 1), 0);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 4, 9, T0 + 31 * DAY, 5000), 0);
    /* at most PL_ASSIGN_PRUNE_MAX go in one write; the next write takes the rest */
    assert_int_equal(entries(txn), old - PL_ASSIGN_PRUNE_MAX + 1);
    assert_int_equal(count(txn, 4, 9, T0 + 31 * DAY, 10000), 1);
    assert_int_equal(pl_assign_log_add(txn, log_dbi, 4, 9, T0 + 31 * DAY, 5001), 0);
    assert_int_equal(entries(txn), 2);
    mdb_txn_abort(txn);
}

/* available() over an array, counting the questions asked */
typedef struct {
    const unsigned char *ok;
    int asked;
    int fail_at; /* the member whose question fails (-1: none) */
} answers_t;

static int answer(void *arg, size_t i)
{
    answers_t *a = arg;
    a->asked++;
    return (int)i == a->fail_at ? -1 : a->ok[i];
}

static int next(const int64_t *ids, const unsigned char *ok, size_t n, int64_t last, int *asked)
{
    answers_t a = {ok, 0, -1};
    int i = pl_assign_next(ids, n, last, answer, &a);
    if (asked)
        *asked = a.asked;
    return i;
}

static void test_round_robin_goes_on_after_the_last(void **state)
{
    const int64_t ids[] = {11, 12, 13};
    const unsigned char all[] = {1, 1, 1}, no_12[] = {1, 0, 1}, only_11[] = {1, 0, 0}, none[] = {0, 0, 0};
    int asked;
    assert_int_equal(next(ids, all, 3, 0, &asked), 0); /* nobody yet: the first */
    assert_int_equal(asked, 1);                        /* and only they were asked */
    assert_int_equal(next(ids, all, 3, 11, NULL), 1);
    assert_int_equal(next(ids, all, 3, 12, NULL), 2);
    assert_int_equal(next(ids, all, 3, 13, NULL), 0);  /* round again */
    assert_int_equal(next(ids, no_12, 3, 11, &asked), 2); /* at their maximum: skipped */
    assert_int_equal(asked, 2);
    assert_int_equal(next(ids, only_11, 3, 11, &asked), 0); /* the last one again when alone */
    assert_int_equal(asked, 3);
    assert_int_equal(next(ids, all, 3, 99, NULL), 0);  /* the last one left the rules: from the first */
    assert_int_equal(next(ids, none, 3, 11, &asked), -1);
    assert_int_equal(asked, 3);                        /* each asked once */
    assert_int_equal(next(ids, none, 0, 0, NULL), -1);
    /* a failed question stops the choice */
    answers_t a = {all, 0, 1};
    assert_int_equal(pl_assign_next(ids, 3, 0, answer, &a), 0);
    assert_int_equal(pl_assign_next(ids, 3, 11, answer, &a), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_is_per_team_and_user_within_30_days),
        cmocka_unit_test(test_writing_prunes_the_members_old_entries),
        cmocka_unit_test(test_pruning_is_bounded_per_write),
        cmocka_unit_test(test_round_robin_goes_on_after_the_last),
    };
    return cmocka_run_group_tests_name("pl_assign_log", tests, setup, teardown);
}
