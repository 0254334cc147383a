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

#include "crm_store.h"
#include "identity.pb-c.h"

/* --- helpers ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_rf(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

typedef struct {
    char root[64];   /* mkdtemp folder, removed by teardown */
    char dir[128];   /* the store folder inside it (not yet created) */
    MDB_dbi items, users;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/crm-test-store-XXXXXX");
    if (!mkdtemp(f->root)) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/nested/data", f->root);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    rm_rf(f->root);
    free(f);
    return 0;
}

static crm_store_t *open_store(fixture_t *f, uint32_t version, size_t map_size, const char **err)
{
    crm_store_dbi_t dbis[] = {{"items", 0, &f->items}, {"users", 0, &f->users}};
    return crm_store_open(f->dir, dbis, 2, version, map_size, err);
}

static crm_store_t *open_ok(fixture_t *f, uint32_t version, size_t map_size)
{
    const char *err = "unset";
    crm_store_t *s = open_store(f, version, map_size, &err);
    if (!s)
        fail_msg("open %s: %s", f->dir, err ? err : "(no reason)");
    return s;
}

static uint64_t meta_get(crm_store_t *s, const char *key)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    uint64_t v = 12345;
    assert_int_equal(crm_store_meta_get_u64(s, txn, key, &v), 0);
    crm_store_read_end(s, txn);
    return v;
}

/* Counts entries of dbi and checks they hold the bytes put_fill wrote. */
static size_t count_entries(crm_store_t *s, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, d;
    size_t n = 0;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    while (mdb_cursor_get(cur, &k, &d, n ? MDB_NEXT : MDB_FIRST) == 0) {
        assert_int_equal(k.mv_size, 8);
        uint8_t want = (uint8_t)crm_key_get_u64(k.mv_data);
        const uint8_t *p = d.mv_data;
        if (p[0] != want || p[d.mv_size - 1] != want)
            fail_msg("entry %llu holds the wrong bytes", (unsigned long long)crm_key_get_u64(k.mv_data));
        n++;
    }
    mdb_cursor_close(cur);
    crm_store_read_end(s, txn);
    return n;
}

/* --- open and schema ------------------------------------------------------ */

static void test_open_creates_folder_and_schema(void **state)
{
    fixture_t *f = *state;
    struct stat sb;
    assert_int_not_equal(stat(f->dir, &sb), 0);
    crm_store_t *s = open_ok(f, 3, 0);
    assert_int_equal(stat(f->dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    char path[256];
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_non_null(crm_store_env(s));
    assert_int_equal(meta_get(s, "schema_version"), 3);
    assert_int_equal(crm_store_map_size(s), 64u << 20); /* the default */
    assert_true(f->items != f->users);
    assert_true(crm_store_meta(s) != f->items);
    crm_store_close(&s);
    assert_null(s);
    crm_store_close(&s);
}

static void test_open_refuses_newer_schema(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 3, 0);
    crm_store_close(&s);

    const char *err = NULL;
    s = open_store(f, 2, 0, &err);
    assert_null(s);
    assert_non_null(err);
    assert_non_null(strstr(err, "newer"));

    /* equal: fine, and unchanged */
    s = open_ok(f, 3, 0);
    assert_int_equal(meta_get(s, "schema_version"), 3);
    crm_store_close(&s);
    /* higher: fine, and recorded, so the older version is refused after */
    s = open_ok(f, 5, 0);
    assert_int_equal(meta_get(s, "schema_version"), 5);
    crm_store_close(&s);
    err = NULL;
    assert_null(open_store(f, 4, 0, &err));
    assert_non_null(err);
}

static uint64_t upgrade_from(crm_store_t *s)
{
    uint64_t from = 12345;
    assert_int_equal(crm_store_upgrade_from(s, &from), 0);
    return from;
}

static void test_upgrade_noted_until_done(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    assert_int_equal(upgrade_from(s), 0); /* a new store has nothing to upgrade */
    crm_store_close(&s);
    s = open_ok(f, 2, 0);
    assert_int_equal(upgrade_from(s), 1);
    crm_store_close(&s);
    /* cut short, then opened by a later version: it still starts from 1 */
    s = open_ok(f, 3, 0);
    assert_int_equal(upgrade_from(s), 1);
    assert_int_equal(meta_get(s, "schema_version"), 3);
    assert_int_equal(crm_store_upgrade_done(s), 0);
    assert_int_equal(upgrade_from(s), 0);
    crm_store_close(&s);
    s = open_ok(f, 3, 0);
    assert_int_equal(upgrade_from(s), 0);
    crm_store_close(&s);
}

static void test_open_fails_on_unusable_folder(void **state)
{
    fixture_t *f = *state;
    /* a file where the folder should be */
    char path[160];
    snprintf(path, sizeof path, "%s/file", f->root);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(f->dir, sizeof f->dir, "%s/file/data", f->root);
    const char *err = NULL;
    assert_null(open_store(f, 1, 0, &err));
    assert_non_null(err);
}

/* --- writes ------------------------------------------------------------------ */

typedef struct {
    fixture_t *f;
    uint64_t key;
    const char *value;
    int rc;        /* what fn returns after its put */
    int calls;
} put_ctx_t;

static int put_then(MDB_txn *txn, void *arg)
{
    put_ctx_t *c = arg;
    c->calls++;
    uint8_t key[8];
    crm_key_put_u64(key, c->key);
    MDB_val k = {8, key}, d = {strlen(c->value), (void *)c->value};
    int rc = mdb_put(txn, c->f->items, &k, &d, 0);
    return rc ? rc : c->rc;
}

static int get_item(crm_store_t *s, fixture_t *f, uint64_t id, char *out, size_t cap)
{
    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    uint8_t key[8];
    crm_key_put_u64(key, id);
    MDB_val k = {8, key}, d;
    int rc = mdb_get(txn, f->items, &k, &d);
    if (rc == 0)
        snprintf(out, cap, "%.*s", (int)d.mv_size, (const char *)d.mv_data);
    crm_store_read_end(s, txn);
    return rc;
}

static void test_write_commits_or_aborts(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    char buf[64];

    put_ctx_t ok = {f, 1, "one", 0, 0};
    assert_int_equal(crm_store_write(s, put_then, &ok), 0);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(get_item(s, f, 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "one");

    /* a non-zero rc aborts: nothing of it is kept, and the code comes back */
    put_ctx_t bad = {f, 2, "two", MDB_KEYEXIST, 0};
    assert_int_equal(crm_store_write(s, put_then, &bad), MDB_KEYEXIST);
    assert_int_equal(bad.calls, 1);
    assert_int_equal(get_item(s, f, 2, buf, sizeof buf), MDB_NOTFOUND);
    put_ctx_t bad2 = {f, 1, "changed", MDB_NOTFOUND, 0};
    assert_int_equal(crm_store_write(s, put_then, &bad2), MDB_NOTFOUND);
    assert_int_equal(get_item(s, f, 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "one");

    /* committed data survives a reopen, aborted data does not appear */
    crm_store_close(&s);
    s = open_ok(f, 1, 0);
    assert_int_equal(get_item(s, f, 1, buf, sizeof buf), 0);
    assert_string_equal(buf, "one");
    assert_int_equal(get_item(s, f, 2, buf, sizeof buf), MDB_NOTFOUND);
    crm_store_close(&s);
}

static void test_read_txn_reuse_sees_new_commits(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    char buf[64];
    assert_int_equal(get_item(s, f, 7, buf, sizeof buf), MDB_NOTFOUND);
    put_ctx_t c = {f, 7, "seven", 0, 0};
    assert_int_equal(crm_store_write(s, put_then, &c), 0);
    /* the reset read txn is renewed on a fresh snapshot */
    assert_int_equal(get_item(s, f, 7, buf, sizeof buf), 0);
    assert_string_equal(buf, "seven");

    /* two read txns at once: both work, both can be ended */
    MDB_txn *t1, *t2;
    assert_int_equal(crm_store_read_begin(s, &t1), 0);
    assert_int_equal(crm_store_read_begin(s, &t2), 0);
    assert_ptr_not_equal(t1, t2);
    crm_store_read_end(s, t1);
    crm_store_read_end(s, t2);
    assert_int_equal(get_item(s, f, 7, buf, sizeof buf), 0);
    crm_store_close(&s);
}

/* --- map growth ------------------------------------------------------------ */

typedef struct {
    fixture_t *f;
    uint64_t first, count;
    size_t value_size;
    int calls;
} fill_ctx_t;

static int put_fill(MDB_txn *txn, void *arg)
{
    fill_ctx_t *c = arg;
    c->calls++;
    for (uint64_t i = c->first; i < c->first + c->count; i++) {
        uint8_t key[8];
        crm_key_put_u64(key, i);
        MDB_val k = {8, key}, d = {c->value_size, NULL};
        int rc = mdb_put(txn, c->f->items, &k, &d, MDB_RESERVE);
        if (rc)
            return rc;
        memset(d.mv_data, (uint8_t)i, c->value_size);
    }
    return 0;
}

static void test_map_grows_when_full(void **state)
{
    fixture_t *f = *state;
    const size_t initial = 1u << 20;
    crm_store_t *s = open_ok(f, 1, initial);
    assert_int_equal(crm_store_map_size(s), initial);

    /* 16 writes of 512 KiB: 8 MiB through a 1 MiB map */
    int grew_in_a_call = 0;
    for (uint64_t w = 0; w < 16; w++) {
        fill_ctx_t c = {f, w * 64, 64, 8192, 0};
        size_t before = crm_store_map_size(s);
        int rc = crm_store_write(s, put_fill, &c);
        if (rc)
            fail_msg("write %llu: %s", (unsigned long long)w, mdb_strerror(rc));
        if (crm_store_map_size(s) > before) {
            /* the full attempt was thrown away and fn run again */
            assert_true(c.calls >= 2);
            grew_in_a_call = 1;
        }
    }
    assert_true(grew_in_a_call);
    assert_true(crm_store_map_size(s) >= (8u << 20));
    assert_int_equal(count_entries(s, f->items), 16 * 64);

    /* one transaction bigger than several doublings at once */
    fill_ctx_t big = {f, 100000, 512, 8192, 0};
    size_t before = crm_store_map_size(s);
    assert_int_equal(crm_store_write(s, put_fill, &big), 0);
    assert_true(crm_store_map_size(s) > before);
    assert_int_equal(count_entries(s, f->items), 16 * 64 + 512);
    crm_store_close(&s);

    /* the data survives a reopen, even with a small map asked for */
    s = open_ok(f, 1, initial);
    assert_int_equal(count_entries(s, f->items), 16 * 64 + 512);
    fill_ctx_t more = {f, 200000, 256, 8192, 0};
    assert_int_equal(crm_store_write(s, put_fill, &more), 0);
    assert_int_equal(count_entries(s, f->items), 16 * 64 + 512 + 256);
    crm_store_close(&s);
}

/* --- ids and meta ------------------------------------------------------------ */

typedef struct {
    crm_store_t *s;
    const char *counter;
    int n;
    uint64_t ids[8];
    int rc;
} id_ctx_t;

static int take_ids(MDB_txn *txn, void *arg)
{
    id_ctx_t *c = arg;
    for (int i = 0; i < c->n; i++) {
        int rc = crm_store_next_id(c->s, txn, c->counter, &c->ids[i]);
        if (rc)
            return rc;
    }
    return c->rc;
}

static void test_next_id_sequence(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    id_ctx_t a = {s, "user", 3, {0}, 0};
    assert_int_equal(crm_store_write(s, take_ids, &a), 0);
    assert_true(a.ids[0] == 1 && a.ids[1] == 2 && a.ids[2] == 3);

    /* counters are independent */
    id_ctx_t t = {s, "team", 1, {0}, 0};
    assert_int_equal(crm_store_write(s, take_ids, &t), 0);
    assert_true(t.ids[0] == 1);

    /* an aborted transaction uses no id */
    id_ctx_t ab = {s, "user", 2, {0}, MDB_KEYEXIST};
    assert_int_equal(crm_store_write(s, take_ids, &ab), MDB_KEYEXIST);
    assert_true(ab.ids[0] == 4);

    crm_store_close(&s);
    s = open_ok(f, 1, 0);
    id_ctx_t b = {s, "user", 1, {0}, 0};
    assert_int_equal(crm_store_write(s, take_ids, &b), 0);
    assert_true(b.ids[0] == 4);
    assert_int_equal(meta_get(s, "next.user"), 4);
    assert_int_equal(meta_get(s, "next.team"), 1);
    crm_store_close(&s);
}

typedef struct {
    crm_store_t *s;
    const char *key;
    uint64_t v;
} meta_ctx_t;

static int meta_put(MDB_txn *txn, void *arg)
{
    meta_ctx_t *c = arg;
    return crm_store_meta_put_u64(c->s, txn, c->key, c->v);
}

static int meta_put_raw(MDB_txn *txn, void *arg)
{
    meta_ctx_t *c = arg;
    MDB_val k = {strlen(c->key), (void *)c->key}, d = {3, "abc"};
    return mdb_put(txn, crm_store_meta(c->s), &k, &d, 0);
}

static void test_meta_get_put(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    assert_int_equal(meta_get(s, "absent"), 0);
    meta_ctx_t c = {s, "answer", 42};
    assert_int_equal(crm_store_write(s, meta_put, &c), 0);
    assert_int_equal(meta_get(s, "answer"), 42);
    c.v = UINT64_MAX;
    assert_int_equal(crm_store_write(s, meta_put, &c), 0);
    assert_true(meta_get(s, "answer") == UINT64_MAX);

    /* a value that is not 8 bytes is corrupt, not misread */
    meta_ctx_t raw = {s, "bad", 0};
    assert_int_equal(crm_store_write(s, meta_put_raw, &raw), 0);
    MDB_txn *txn;
    uint64_t v;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    assert_int_equal(crm_store_meta_get_u64(s, txn, "bad", &v), MDB_CORRUPTED);
    crm_store_read_end(s, txn);
    crm_store_close(&s);

    s = open_ok(f, 1, 0);
    assert_true(meta_get(s, "answer") == UINT64_MAX);
    crm_store_close(&s);
}

/* --- messages ------------------------------------------------------------------ */

typedef struct {
    fixture_t *f;
    const ProtobufCMessage *m;
} msg_ctx_t;

static int put_user_msgs(MDB_txn *txn, void *arg)
{
    msg_ctx_t *c = arg;
    int rc = crm_db_put_msg(txn, c->f->users, "alice", 5, c->m);
    if (rc == 0)
        rc = crm_db_put_id(txn, c->f->users, 9, c->m);
    if (rc == 0) {
        /* bytes that are no User: field 1 as a length-delimited 64-byte run,
         * with 1 byte present */
        MDB_val k = {7, "garbage"}, d = {3, "\x0a\x40\x01"};
        rc = mdb_put(txn, c->f->users, &k, &d, 0);
    }
    return rc;
}

static void test_put_get_msg(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    Crm__Identity__V1__User u = CRM__IDENTITY__V1__USER__INIT;
    int64_t teams[] = {4, 2};
    u.id = 9;
    u.login = "alice";
    u.name = "Alice Ünicode";
    u.active = 1;
    u.team_ids = teams;
    u.n_team_ids = 2;
    msg_ctx_t c = {f, &u.base};
    assert_int_equal(crm_store_write(s, put_user_msgs, &c), 0);

    MDB_txn *txn;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    void *out = NULL;
    assert_int_equal(crm_db_get_msg(txn, f->users, "alice", 5, &crm__identity__v1__user__descriptor,
                                    NULL, &out),
                     0);
    Crm__Identity__V1__User *got = out;
    assert_true(got->id == 9);
    assert_string_equal(got->login, "alice");
    assert_string_equal(got->name, "Alice Ünicode");
    assert_int_equal(got->active, 1);
    assert_int_equal(got->n_team_ids, 2);
    assert_true(got->team_ids[0] == 4 && got->team_ids[1] == 2);
    crm__identity__v1__user__free_unpacked(got, NULL);

    out = NULL;
    assert_int_equal(crm_db_get_id(txn, f->users, 9, &crm__identity__v1__user__descriptor, NULL, &out), 0);
    assert_string_equal(((Crm__Identity__V1__User *)out)->login, "alice");
    crm__identity__v1__user__free_unpacked(out, NULL);

    out = NULL;
    assert_int_equal(crm_db_get_id(txn, f->users, 10, &crm__identity__v1__user__descriptor, NULL, &out),
                     MDB_NOTFOUND);
    assert_int_equal(crm_db_get_msg(txn, f->users, "bob", 3, &crm__identity__v1__user__descriptor, NULL,
                                    &out),
                     MDB_NOTFOUND);
    assert_int_equal(crm_db_get_msg(txn, f->users, "garbage", 7, &crm__identity__v1__user__descriptor,
                                    NULL, &out),
                     MDB_CORRUPTED);
    crm_store_read_end(s, txn);
    crm_store_close(&s);
}

/* --- keys ------------------------------------------------------------------------- */

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_big_endian_keys(void **state)
{
    uint8_t buf[8];
    crm_key_put_u64(buf, 0x0102030405060708ull);
    const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(buf, want, 8);

    static const uint64_t edges[] = {0, 1, 255, 256, 65535, 65536, 1ull << 32, (1ull << 63) - 1,
                                     1ull << 63, UINT64_MAX};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        crm_key_put_u64(buf, edges[i]);
        assert_true(crm_key_get_u64(buf) == edges[i]);
    }
    for (int i = 0; i < 100000; i++) {
        /* values of every magnitude, not just huge ones */
        uint64_t a = rnd() >> (rnd() % 64), b = rnd() >> (rnd() % 64);
        if (i % 7 == 0)
            b = a + 1;
        uint8_t ka[8], kb[8];
        crm_key_put_u64(ka, a);
        crm_key_put_u64(kb, b);
        assert_true(crm_key_get_u64(ka) == a);
        int m = memcmp(ka, kb, 8);
        int n = a < b ? -1 : a > b;
        if ((m < 0 ? -1 : m > 0) != n)
            fail_msg("memcmp order differs for %llu vs %llu", (unsigned long long)a,
                     (unsigned long long)b);
    }
}

typedef struct {
    fixture_t *f;
    const uint64_t *ids;
    size_t n;
    const ProtobufCMessage *m;
} ids_ctx_t;

static int put_ids(MDB_txn *txn, void *arg)
{
    ids_ctx_t *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        int rc = crm_db_put_id(txn, c->f->users, c->ids[i], c->m);
        if (rc)
            return rc;
    }
    return 0;
}

static void test_lmdb_scans_in_numeric_order(void **state)
{
    fixture_t *f = *state;
    crm_store_t *s = open_ok(f, 1, 0);
    static const uint64_t ids[] = {256, 1, 65536, 2, 255, 1ull << 40, 257, 0, UINT64_MAX, 10};
    Crm__Identity__V1__User u = CRM__IDENTITY__V1__USER__INIT;
    ids_ctx_t c = {f, ids, sizeof ids / sizeof ids[0], &u.base};
    assert_int_equal(crm_store_write(s, put_ids, &c), 0);

    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, d;
    assert_int_equal(crm_store_read_begin(s, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, f->users, &cur), 0);
    uint64_t prev = 0;
    size_t n = 0;
    while (mdb_cursor_get(cur, &k, &d, n ? MDB_NEXT : MDB_FIRST) == 0) {
        uint64_t id = crm_key_get_u64(k.mv_data);
        if (n)
            assert_true(id > prev);
        prev = id;
        n++;
    }
    assert_int_equal(n, c.n);
    assert_true(prev == UINT64_MAX);
    mdb_cursor_close(cur);
    crm_store_read_end(s, txn);
    crm_store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_folder_and_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_noted_until_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_fails_on_unusable_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_commits_or_aborts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_txn_reuse_sees_new_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_id_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meta_get_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_get_msg, setup, teardown),
        cmocka_unit_test(test_big_endian_keys),
        cmocka_unit_test_setup_teardown(test_lmdb_scans_in_numeric_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
