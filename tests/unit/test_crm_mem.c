/* Allocation helpers: copies are exact and zero-sized requests give memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_mem.h"

#include <stdlib.h>
#include <string.h>

static void test_copies(void **state)
{
    char *s = crm_strdup("Zhang San");
    assert_string_equal(s, "Zhang San");
    char *n = crm_strndup("Proposition", 4);
    assert_string_equal(n, "Prop");
    unsigned char bytes[] = {0, 1, 2, 255};
    unsigned char *m = crm_memdup(bytes, sizeof bytes);
    assert_memory_equal(m, bytes, sizeof bytes);
    void *empty = crm_memdup(NULL, 0); /* a NULL source is fine when nothing is copied */
    assert_non_null(empty);
    free(s);
    free(n);
    free(m);
    free(empty);
}

static void test_zero_sizes_and_growth(void **state)
{
    void *a = crm_malloc(0), *c = crm_calloc(0, 8);
    assert_non_null(a);
    assert_non_null(c);
    int *v = crm_calloc(4, sizeof *v);
    for (int i = 0; i < 4; i++)
        assert_int_equal(v[i], 0);
    v = crm_realloc(v, 1000 * sizeof *v);
    v[999] = 7;
    assert_int_equal(v[999], 7);
    free(a);
    free(c);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies),
        cmocka_unit_test(test_zero_sizes_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
