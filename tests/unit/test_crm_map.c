#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_map.h"

/* Values are fake pointers derived from the key, so that a wrong slot shows. */
static void *val(uint64_t key, unsigned gen) { return (void *)(uintptr_t)(((key * 2654435761u) << 4) | (gen << 1) | 1); }

/* xorshift64*: reproducible keys */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_put_get_remove_replace(void **state)
{
    crm_map_t *m = crm_map_new();
    assert_int_equal(crm_map_size(m), 0);
    assert_null(crm_map_get(m, 1));
    assert_null(crm_map_remove(m, 1));

    int a, b, c;
    crm_map_put(m, 1, &a);
    crm_map_put(m, 2, &b);
    crm_map_put(m, 0, &c); /* key 0 is an ordinary key */
    assert_int_equal(crm_map_size(m), 3);
    assert_ptr_equal(crm_map_get(m, 1), &a);
    assert_ptr_equal(crm_map_get(m, 2), &b);
    assert_ptr_equal(crm_map_get(m, 0), &c);
    assert_null(crm_map_get(m, 3));

    crm_map_put(m, 1, &c); /* replace: size unchanged */
    assert_int_equal(crm_map_size(m), 3);
    assert_ptr_equal(crm_map_get(m, 1), &c);

    assert_ptr_equal(crm_map_remove(m, 2), &b);
    assert_int_equal(crm_map_size(m), 2);
    assert_null(crm_map_get(m, 2));
    assert_null(crm_map_remove(m, 2));
    assert_int_equal(crm_map_size(m), 2);

    crm_map_put(m, UINT64_MAX, &a);
    assert_ptr_equal(crm_map_get(m, UINT64_MAX), &a);
    assert_ptr_equal(crm_map_remove(m, 0), &c);
    assert_ptr_equal(crm_map_remove(m, 1), &c);
    assert_ptr_equal(crm_map_remove(m, UINT64_MAX), &a);
    assert_int_equal(crm_map_size(m), 0);

    crm_map_destroy(&m);
    assert_null(m);
    crm_map_destroy(&m); /* a second destroy is harmless */
}

#define N_KEYS 100000

typedef struct {
    uint64_t *keys;
    void **ref;      /* expected value of keys[i], NULL if absent */
    size_t visited;
    int bad;
} ref_t;

static int find_key(const ref_t *r, uint64_t key)
{
    /* keys are sorted for this lookup */
    size_t lo = 0, hi = N_KEYS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < N_KEYS && r->keys[lo] == key ? (int)lo : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void visit(void *arg, uint64_t key, void *value)
{
    ref_t *r = arg;
    int i = find_key(r, key);
    if (i < 0 || r->ref[i] != value)
        r->bad++;
    else
        r->ref[i] = NULL; /* visited: a second visit would be caught as bad */
    r->visited++;
}

static void check_against(crm_map_t *m, ref_t *r)
{
    size_t live = 0;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (crm_map_get(m, r->keys[i]) != r->ref[i])
            fail_msg("key %llu: wrong value", (unsigned long long)r->keys[i]);
        live += r->ref[i] != NULL;
    }
    assert_int_equal(crm_map_size(m), live);
}

static void test_many_keys_against_reference(void **state)
{
    ref_t r = {calloc(N_KEYS, sizeof(uint64_t)), calloc(N_KEYS, sizeof(void *)), 0, 0};
    assert_non_null(r.keys);
    assert_non_null(r.ref);
    /* half sequential ids (the common case), half random 64-bit keys */
    for (size_t i = 0; i < N_KEYS; i++)
        r.keys[i] = i < N_KEYS / 2 ? i + 1 : rnd();
    qsort(r.keys, N_KEYS, sizeof(uint64_t), cmp_u64);
    for (size_t i = 1; i < N_KEYS; i++)
        assert_true(r.keys[i] != r.keys[i - 1]);

    crm_map_t *m = crm_map_new();
    for (size_t i = 0; i < N_KEYS; i++) {
        r.ref[i] = val(r.keys[i], 0);
        crm_map_put(m, r.keys[i], r.ref[i]);
    }
    check_against(m, &r);

    /* random removals, replacements and re-insertions: deletion shifts
     * entries back, so every later lookup must still find its key */
    for (int round = 0; round < 4; round++) {
        for (size_t n = 0; n < N_KEYS / 2; n++) {
            size_t i = rnd() % N_KEYS;
            uint64_t op = rnd() % 3;
            if (op == 0) {
                void *got = crm_map_remove(m, r.keys[i]);
                assert_ptr_equal(got, r.ref[i]);
                r.ref[i] = NULL;
            } else {
                r.ref[i] = val(r.keys[i], (unsigned)(op + (unsigned)round));
                crm_map_put(m, r.keys[i], r.ref[i]);
            }
        }
        check_against(m, &r);
    }
    /* keys never inserted are absent */
    for (int i = 0; i < 1000; i++) {
        uint64_t k = rnd() | (1ull << 63);
        if (find_key(&r, k) < 0)
            assert_null(crm_map_get(m, k));
    }

    /* each visits every live entry exactly once */
    size_t live = crm_map_size(m);
    crm_map_each(m, visit, &r);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.visited, live);
    for (size_t i = 0; i < N_KEYS; i++)
        assert_null(r.ref[i]);

    /* remove everything: empty again */
    for (size_t i = 0; i < N_KEYS; i++)
        crm_map_remove(m, r.keys[i]);
    assert_int_equal(crm_map_size(m), 0);
    r.visited = 0;
    crm_map_each(m, visit, &r);
    assert_int_equal(r.visited, 0);

    crm_map_destroy(&m);
    free(r.keys);
    free(r.ref);
}

static void test_churn_small_universe(void **state)
{
    /* a small key set put and removed over and over at a stable size, the
     * in-flight-requests pattern: clusters form and dissolve constantly */
    enum { U = 512 };
    void *ref[U] = {0};
    crm_map_t *m = crm_map_new();
    for (int step = 0; step < 200000; step++) {
        uint64_t k = rnd() % U;
        if (rnd() & 1) {
            ref[k] = val(k, (unsigned)step & 7);
            crm_map_put(m, k << 20, ref[k]); /* keys with equal low bits */
        } else {
            assert_ptr_equal(crm_map_remove(m, k << 20), ref[k]);
            ref[k] = NULL;
        }
    }
    size_t live = 0;
    for (uint64_t k = 0; k < U; k++) {
        assert_ptr_equal(crm_map_get(m, k << 20), ref[k]);
        live += ref[k] != NULL;
    }
    assert_int_equal(crm_map_size(m), live);
    crm_map_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove_replace),
        cmocka_unit_test(test_many_keys_against_reference),
        cmocka_unit_test(test_churn_small_universe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
