#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_arena.h"
#include "identity.pb-c.h"

#define BIG (100 * 1000) /* well past the arena's block size */

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void test_alignment_and_zeroed(void **state)
{
    crm_arena_t *a = crm_arena_new();
    for (size_t size = 0; size < 300; size++) {
        unsigned char *p = crm_arena_alloc(a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(is_zero(p, size));
        memset(p, 0xaa, size); /* dirty it: reuse after reset must zero */
    }
    crm_arena_reset(a);
    for (size_t size = 0; size < 300; size++) {
        unsigned char *p = crm_arena_alloc(a, size);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(is_zero(p, size));
    }
    crm_arena_destroy(&a);
    assert_null(a);
    crm_arena_destroy(&a);
}

static void test_allocations_do_not_overlap(void **state)
{
    crm_arena_t *a = crm_arena_new();
    enum { N = 2000 };
    unsigned char *ptrs[N];
    size_t sizes[N];
    for (int i = 0; i < N; i++) {
        sizes[i] = (size_t)(i * 37 % 500) + 1;
        ptrs[i] = crm_arena_alloc(a, sizes[i]);
        memset(ptrs[i], i & 0xff, sizes[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            if (ptrs[i][j] != (i & 0xff))
                fail_msg("allocation %d overwritten at %zu", i, j);
    crm_arena_destroy(&a);
}

static void test_large_allocations(void **state)
{
    crm_arena_t *a = crm_arena_new();
    char *small = crm_arena_strdup(a, "before");
    unsigned char *big = crm_arena_alloc(a, BIG);
    assert_int_equal((uintptr_t)big % 16, 0);
    assert_true(is_zero(big, BIG));
    memset(big, 0x5a, BIG); /* all of it is ours (ASan checks the bounds) */
    unsigned char *big2 = crm_arena_alloc(a, 3 * BIG);
    assert_true(is_zero(big2, 3 * BIG));
    memset(big2, 0x6b, 3 * BIG);
    char *after = crm_arena_strdup(a, "after");
    assert_string_equal(small, "before");
    assert_string_equal(after, "after");
    for (size_t i = 0; i < BIG; i++)
        if (big[i] != 0x5a)
            fail_msg("big block overwritten at %zu", i);
    assert_true(crm_arena_used(a) >= 4 * BIG);

    /* reset frees the big blocks and works again afterwards */
    crm_arena_reset(a);
    assert_int_equal(crm_arena_used(a), 0);
    unsigned char *again = crm_arena_alloc(a, 2 * BIG);
    assert_true(is_zero(again, 2 * BIG));
    crm_arena_destroy(&a);
}

static void test_used_and_reset(void **state)
{
    crm_arena_t *a = crm_arena_new();
    assert_int_equal(crm_arena_used(a), 0);
    crm_arena_alloc(a, 1);
    assert_int_equal(crm_arena_used(a), 16);
    crm_arena_alloc(a, 16);
    assert_int_equal(crm_arena_used(a), 32);
    crm_arena_alloc(a, 17);
    assert_int_equal(crm_arena_used(a), 64);
    crm_arena_reset(a);
    assert_int_equal(crm_arena_used(a), 0);
    /* many resets of a busy arena keep working (and leak nothing) */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++)
            crm_arena_alloc(a, 1000);
        assert_int_equal(crm_arena_used(a), 100 * 1008);
        crm_arena_reset(a);
    }
    crm_arena_destroy(&a);
}

static void test_strings(void **state)
{
    crm_arena_t *a = crm_arena_new();
    char *s = crm_arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    char *e = crm_arena_strdup(a, "");
    assert_string_equal(e, "");
    char *n = crm_arena_strndup(a, "abcdef", 3);
    assert_string_equal(n, "abc");
    char bytes[4] = {'x', 'y', 'z', 'w'}; /* not terminated */
    char *t = crm_arena_strndup(a, bytes, 4);
    assert_string_equal(t, "xyzw");

    char *p = crm_arena_printf(a, "%s-%d-%05.1f", "id", 42, 3.14159);
    assert_string_equal(p, "id-42-003.1");
    char *empty = crm_arena_printf(a, "%s", "");
    assert_string_equal(empty, "");

    /* longer than a block */
    char *longs = malloc(BIG + 1);
    assert_non_null(longs);
    memset(longs, 'q', BIG);
    longs[BIG] = '\0';
    char *lp = crm_arena_printf(a, "<%s>", longs);
    assert_int_equal(strlen(lp), BIG + 2);
    assert_int_equal(lp[0], '<');
    assert_int_equal(lp[BIG + 1], '>');
    char *ld = crm_arena_strdup(a, longs);
    assert_string_equal(ld, longs);
    free(longs);
    /* earlier strings are untouched */
    assert_string_equal(s, "hello");
    assert_string_equal(p, "id-42-003.1");
    crm_arena_destroy(&a);
}

static void test_protobuf_allocator(void **state)
{
    /* a User with strings and a repeated field, packed with malloc ... */
    Crm__Identity__V1__User u = CRM__IDENTITY__V1__USER__INIT;
    int64_t teams[] = {3, 5, 8, 13};
    u.id = 77;
    u.login = "ada";
    u.name = "Ada Lovelace";
    u.email = "ada@example.com";
    u.is_admin = 1;
    u.team_ids = teams;
    u.n_team_ids = 4;
    Crm__Identity__V1__UserRecord rec = CRM__IDENTITY__V1__USER_RECORD__INIT;
    rec.user = &u;
    rec.password_hash = "$argon2id$v=19$...";
    size_t len = crm__identity__v1__user_record__get_packed_size(&rec);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    crm__identity__v1__user_record__pack(&rec, buf);

    /* ... unpacked into the arena, many times over: nothing to free */
    crm_arena_t *a = crm_arena_new();
    ProtobufCAllocator *alloc = crm_arena_allocator(a);
    assert_non_null(alloc);
    for (int i = 0; i < 200; i++) {
        Crm__Identity__V1__UserRecord *r = (Crm__Identity__V1__UserRecord *)protobuf_c_message_unpack(
            &crm__identity__v1__user_record__descriptor, alloc, len, buf);
        assert_non_null(r);
        assert_non_null(r->user);
        assert_true(r->user->id == 77);
        assert_string_equal(r->user->login, "ada");
        assert_string_equal(r->user->name, "Ada Lovelace");
        assert_string_equal(r->user->email, "ada@example.com");
        assert_int_equal(r->user->n_team_ids, 4);
        assert_true(r->user->team_ids[3] == 13);
        assert_string_equal(r->password_hash, "$argon2id$v=19$...");
        /* free through the arena allocator does nothing, and is safe */
        if (i % 2)
            protobuf_c_message_free_unpacked(&r->base, alloc);
    }
    assert_true(crm_arena_used(a) > 0);

    /* a malformed buffer fails cleanly */
    uint8_t garbage[] = {0x0a, 0x40, 0x01};
    assert_null(protobuf_c_message_unpack(&crm__identity__v1__user_record__descriptor, alloc,
                                          sizeof garbage, garbage));

    /* the allocator draws from the arena and stays valid across a reset */
    crm_arena_reset(a);
    assert_int_equal(crm_arena_used(a), 0);
    void *p = alloc->alloc(alloc->allocator_data, 40);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal(crm_arena_used(a), 48);
    alloc->free(alloc->allocator_data, p);
    assert_ptr_equal(crm_arena_allocator(a), alloc);
    crm_arena_destroy(&a);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_zeroed),
        cmocka_unit_test(test_allocations_do_not_overlap),
        cmocka_unit_test(test_large_allocations),
        cmocka_unit_test(test_used_and_reset),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_protobuf_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
