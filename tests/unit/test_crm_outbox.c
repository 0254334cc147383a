#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crm_outbox.h"
#include "crm_store.h"
#include "crm_time.h"
#include "events.pb-c.h"
#include "identity.pb-c.h"

/* --- fixture: a store with an outbox ---------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

typedef struct {
    char dir[64];
    crm_store_t *store;
    MDB_dbi outbox_dbi, other_dbi, outbox2_dbi;
    crm_outbox_t *outbox;
} fixture_t;

static crm_store_t *open_store(fixture_t *f, const char **err)
{
    crm_store_dbi_t dbis[] = {{"outbox", 0, &f->outbox_dbi},
                              {"other", 0, &f->other_dbi},
                              {"outbox2", 0, &f->outbox2_dbi}};
    return crm_store_open(f->dir, dbis, 3, 1, 0, err);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/crm-test-outbox-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    const char *err;
    f->store = open_store(f, &err);
    if (!f->store)
        return -1;
    f->outbox = crm_outbox_new("identity", f->outbox_dbi);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    crm_outbox_destroy(&f->outbox);
    crm_store_close(&f->store);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Appends n events "team.created" with a TeamEvent naming team first+i, and
 * returns rc_after from the transaction (non-zero aborts it). */
typedef struct {
    fixture_t *f;
    int n;
    int64_t first;
    int rc_after;
    uint64_t seqs[64];
    size_t name_len;   /* pads the team name, to make events of a known size */
} append_ctx_t;

static int append_events(MDB_txn *txn, void *arg)
{
    append_ctx_t *c = arg;
    for (int i = 0; i < c->n; i++) {
        char name[600];
        snprintf(name, sizeof name, "team-%lld", (long long)(c->first + i));
        if (c->name_len) {
            size_t l = strlen(name);
            memset(name + l, 'x', c->name_len - l);
            name[c->name_len] = '\0';
        }
        Crm__Identity__V1__Team team = CRM__IDENTITY__V1__TEAM__INIT;
        team.id = c->first + i;
        team.name = name;
        Crm__Identity__V1__TeamEvent te = CRM__IDENTITY__V1__TEAM_EVENT__INIT;
        te.team = &team;
        int rc = crm_outbox_append(c->f->outbox, txn, "team.created", 1000 + c->first + i, &te.base,
                                   &c->seqs[i]);
        if (rc)
            return rc;
        /* the change the event describes, in the same transaction */
        uint8_t key[8];
        crm_key_put_u64(key, (uint64_t)team.id);
        MDB_val k = {8, key}, d = {strlen(name), name};
        if ((rc = mdb_put(txn, c->f->other_dbi, &k, &d, 0)) != 0)
            return rc;
    }
    return c->rc_after;
}

static uint64_t last_seq(fixture_t *f)
{
    MDB_txn *txn;
    uint64_t seq = 999;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(crm_outbox_last(f->outbox, txn, &seq), 0);
    crm_store_read_end(f->store, txn);
    return seq;
}

/* Collects what crm_outbox_read gives, decoded. */
typedef struct {
    int n;
    uint64_t seqs[128];
    size_t sizes[128];
    Crm__Events__V1__Event *events[128];
    int stop_after; /* fn returns 1 after this many (0: never) */
} collect_t;

static int collect(void *arg, uint64_t seq, const void *data, size_t len)
{
    collect_t *c = arg;
    c->seqs[c->n] = seq;
    c->sizes[c->n] = len;
    c->events[c->n] = crm__events__v1__event__unpack(NULL, len, data);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void collect_free(collect_t *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->events[i])
            crm__events__v1__event__free_unpacked(c->events[i], NULL);
    c->n = 0;
}

static void read_from(fixture_t *f, uint64_t from, size_t max, size_t max_bytes, collect_t *c)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(crm_outbox_read(f->outbox, txn, from, max, max_bytes, collect, c), 0);
    crm_store_read_end(f->store, txn);
}

/* --- tests ------------------------------------------------------------------- */

static void test_new_and_accessors(void **state)
{
    fixture_t *f = *state;
    assert_string_equal(crm_outbox_producer(f->outbox), "identity");
    assert_int_equal(crm_outbox_dbi(f->outbox), f->outbox_dbi);
    assert_int_equal(last_seq(f), 0);
    crm_outbox_t *o = crm_outbox_new("p", 0);
    crm_outbox_destroy(&o);
    assert_null(o);
    crm_outbox_destroy(&o);
}

static void test_append_numbers_without_gaps(void **state)
{
    fixture_t *f = *state;
    append_ctx_t a = {f, 1, 1, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &a), 0);
    assert_true(a.seqs[0] == 1);
    append_ctx_t b = {f, 2, 2, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &b), 0);
    assert_true(b.seqs[0] == 2 && b.seqs[1] == 3);
    assert_int_equal(last_seq(f), 3);

    /* an aborted transaction leaves no number used, and none of its change */
    append_ctx_t ab = {f, 3, 4, MDB_KEYEXIST, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &ab), MDB_KEYEXIST);
    assert_true(ab.seqs[0] == 4 && ab.seqs[2] == 6); /* what it saw inside */
    assert_int_equal(last_seq(f), 3);
    append_ctx_t c = {f, 1, 4, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &c), 0);
    assert_true(c.seqs[0] == 4);
    assert_int_equal(last_seq(f), 4);

    collect_t got = {0};
    read_from(f, 1, 100, SIZE_MAX, &got);
    assert_int_equal(got.n, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(got.seqs[i] == (uint64_t)i + 1);
        assert_non_null(got.events[i]);
        assert_true(got.events[i]->seq == (uint64_t)i + 1);
    }
    collect_free(&got);

    /* the sequence survives a reopen */
    crm_store_close(&f->store);
    const char *err;
    f->store = open_store(f, &err);
    assert_non_null(f->store);
    append_ctx_t d = {f, 1, 5, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &d), 0);
    assert_true(d.seqs[0] == 5);
}

static void test_events_decode(void **state)
{
    fixture_t *f = *state;
    int64_t before = crm_time_now_us();
    append_ctx_t a = {f, 3, 10, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &a), 0);
    int64_t after = crm_time_now_us();

    collect_t got = {0};
    read_from(f, 1, 100, SIZE_MAX, &got);
    assert_int_equal(got.n, 3);
    for (int i = 0; i < 3; i++) {
        Crm__Events__V1__Event *ev = got.events[i];
        assert_non_null(ev);
        assert_string_equal(ev->producer, "identity");
        assert_true(ev->seq == (uint64_t)i + 1);
        assert_string_equal(ev->type, "team.created");
        assert_true(ev->actor_id == 1010 + i);
        assert_true(ev->at >= before && ev->at <= after);
        Crm__Identity__V1__TeamEvent *te =
            crm__identity__v1__team_event__unpack(NULL, ev->payload.len, ev->payload.data);
        assert_non_null(te);
        assert_non_null(te->team);
        assert_true(te->team->id == 10 + i);
        char want[32];
        snprintf(want, sizeof want, "team-%d", 10 + i);
        assert_string_equal(te->team->name, want);
        crm__identity__v1__team_event__free_unpacked(te, NULL);
    }
    collect_free(&got);
}

static int append_no_payload(MDB_txn *txn, void *arg)
{
    fixture_t *f = arg;
    return crm_outbox_append(f->outbox, txn, "system.started", 0, NULL, NULL);
}

static void test_append_without_payload(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(crm_store_write(f->store, append_no_payload, f), 0);
    collect_t got = {0};
    read_from(f, 1, 10, SIZE_MAX, &got);
    assert_int_equal(got.n, 1);
    assert_non_null(got.events[0]);
    assert_string_equal(got.events[0]->type, "system.started");
    assert_true(got.events[0]->actor_id == 0);
    assert_int_equal(got.events[0]->payload.len, 0);
    collect_free(&got);
}

static void test_read_from_and_limits(void **state)
{
    fixture_t *f = *state;
    /* ten events of equal size (names padded to 100 bytes) */
    append_ctx_t a = {f, 10, 100, 0, {0}, 100};
    assert_int_equal(crm_store_write(f->store, append_events, &a), 0);
    assert_int_equal(last_seq(f), 10);

    collect_t got = {0};
    read_from(f, 4, 3, SIZE_MAX, &got);
    assert_int_equal(got.n, 3);
    assert_true(got.seqs[0] == 4 && got.seqs[1] == 5 && got.seqs[2] == 6);
    assert_true(got.events[0]->seq == 4);
    size_t size = got.sizes[0];
    assert_int_equal(got.sizes[1], size);
    collect_free(&got);

    /* from 0 means from the start */
    read_from(f, 0, 2, SIZE_MAX, &got);
    assert_int_equal(got.n, 2);
    assert_true(got.seqs[0] == 1);
    collect_free(&got);

    /* up to the end */
    read_from(f, 8, 100, SIZE_MAX, &got);
    assert_int_equal(got.n, 3);
    assert_true(got.seqs[2] == 10);
    collect_free(&got);

    /* past the end: nothing, no error */
    read_from(f, 11, 100, SIZE_MAX, &got);
    assert_int_equal(got.n, 0);

    /* max_bytes: one event always, even when it alone is too big */
    read_from(f, 2, 100, 1, &got);
    assert_int_equal(got.n, 1);
    assert_true(got.seqs[0] == 2);
    collect_free(&got);
    read_from(f, 2, 100, 0, &got);
    assert_int_equal(got.n, 1);
    collect_free(&got);

    /* exactly three events' bytes: three; one byte less: two */
    read_from(f, 1, 100, 3 * size, &got);
    assert_int_equal(got.n, 3);
    collect_free(&got);
    read_from(f, 1, 100, 3 * size - 1, &got);
    assert_int_equal(got.n, 2);
    collect_free(&got);

    /* the count limit wins over a large byte limit */
    read_from(f, 1, 5, 1000 * size, &got);
    assert_int_equal(got.n, 5);
    collect_free(&got);

    /* fn returning non-zero stops the read */
    got.stop_after = 2;
    read_from(f, 1, 100, SIZE_MAX, &got);
    assert_int_equal(got.n, 2);
    collect_free(&got);
}

typedef struct {
    crm_outbox_t *a, *b;
    uint64_t seq_a, seq_b1, seq_b2;
} two_ctx_t;

static int append_two(MDB_txn *txn, void *arg)
{
    two_ctx_t *c = arg;
    int rc = crm_outbox_append(c->b, txn, "deal.won", 5, NULL, &c->seq_b1);
    if (rc == 0)
        rc = crm_outbox_append(c->a, txn, "user.created", 5, NULL, &c->seq_a);
    if (rc == 0)
        rc = crm_outbox_append(c->b, txn, "deal.lost", 5, NULL, &c->seq_b2);
    return rc;
}

static void test_two_producers_are_independent(void **state)
{
    fixture_t *f = *state;
    append_ctx_t a = {f, 2, 1, 0, {0}, 0};
    assert_int_equal(crm_store_write(f->store, append_events, &a), 0);
    crm_outbox_t *other = crm_outbox_new("pipeline", f->outbox2_dbi);
    two_ctx_t c = {f->outbox, other, 0, 0, 0};
    assert_int_equal(crm_store_write(f->store, append_two, &c), 0);
    assert_true(c.seq_a == 3);
    assert_true(c.seq_b1 == 1 && c.seq_b2 == 2);

    crm_outbox_t *mine = f->outbox;
    f->outbox = other;
    collect_t got = {0};
    read_from(f, 1, 10, SIZE_MAX, &got);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.events[0]->producer, "pipeline");
    assert_string_equal(got.events[1]->type, "deal.lost");
    collect_free(&got);
    f->outbox = mine;
    crm_outbox_destroy(&other);
    assert_int_equal(last_seq(f), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_numbers_without_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_without_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_from_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_producers_are_independent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
