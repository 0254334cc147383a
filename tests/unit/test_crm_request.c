#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_request.h"

#define CODE_INVALID CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT

static const char *const allowed[] = {"name", "email", "sales_access", "is_admin", "hr_access", NULL};

/* A field mask over the given paths (pointers kept, not copied). */
static Google__Protobuf__FieldMask mask_of(char **paths, size_t n)
{
    Google__Protobuf__FieldMask m = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    m.paths = paths;
    m.n_paths = n;
    return m;
}

static void test_mask_empty_refused(void **state)
{
    crm_status_t st;
    Google__Protobuf__FieldMask m = mask_of(NULL, 0);
    assert_int_equal(crm_mask_check(&st, &m, allowed), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "updateMask");

    crm_status_clear(&st);
    assert_int_equal(crm_mask_check(&st, NULL, allowed), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "updateMask");
}

static void test_mask_snake_and_camel_accepted(void **state)
{
    crm_status_t st;
    char *paths[] = {"name", "sales_access", "salesAccess", "isAdmin", "hr_access"};
    Google__Protobuf__FieldMask m = mask_of(paths, 5);
    crm_status_clear(&st);
    assert_int_equal(crm_mask_check(&st, &m, allowed), 0);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_OK);
}

static void test_mask_unknown_refused(void **state)
{
    static char *cases[] = {
        "password",      /* not allowed */
        "Name",          /* wrong case */
        "salesaccess",   /* neither spelling */
        "SalesAccess",
        "sales_Access",
        "sales__access",
        "sales_access_",
        "salesAccessx",
        "",
        "email.address", /* sub-paths are not allowed fields */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crm_status_t st;
        crm_status_clear(&st);
        char *paths[] = {"name", cases[i]};
        Google__Protobuf__FieldMask m = mask_of(paths, 2);
        if (crm_mask_check(&st, &m, allowed) != -1)
            fail_msg("path \"%s\" accepted", cases[i]);
        assert_int_equal(st.code, CODE_INVALID);
        assert_string_equal(st.field, "updateMask");
    }
    /* the message names the offending path */
    crm_status_t st;
    char *paths[] = {"password"};
    Google__Protobuf__FieldMask m = mask_of(paths, 1);
    crm_mask_check(&st, &m, allowed);
    assert_non_null(strstr(st.message, "password"));
}

static void test_mask_has(void **state)
{
    char *paths[] = {"name", "salesAccess", "is_admin"};
    Google__Protobuf__FieldMask m = mask_of(paths, 3);
    assert_int_equal(crm_mask_has(&m, "name"), 1);
    assert_int_equal(crm_mask_has(&m, "sales_access"), 1);
    assert_int_equal(crm_mask_has(&m, "is_admin"), 1);
    assert_int_equal(crm_mask_has(&m, "email"), 0);
    assert_int_equal(crm_mask_has(&m, "hr_access"), 0);
    assert_int_equal(crm_mask_has(&m, "nam"), 0);
    assert_int_equal(crm_mask_has(NULL, "name"), 0);
    Google__Protobuf__FieldMask empty = mask_of(NULL, 0);
    assert_int_equal(crm_mask_has(&empty, "name"), 0);
}

static void test_page_token_round_trip(void **state)
{
    static const uint64_t values[] = {0, 1, 2, 255, 256, 65535, 1ull << 32, 123456789012345ull,
                                      UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char tok[24];
        memset(tok, 'X', sizeof tok);
        crm_page_token_make(tok, values[i]);
        assert_non_null(memchr(tok, '\0', sizeof tok));
        /* base64url: safe in a URL without escaping */
        for (const char *p = tok; *p; p++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
        crm_status_t st;
        uint64_t after = 42;
        assert_int_equal(crm_page_token_read(&st, tok, &after), 0);
        assert_true(after == values[i]);
    }
    crm_status_t st;
    uint64_t after = 42;
    assert_int_equal(crm_page_token_read(&st, "", &after), 0);
    assert_true(after == 0);
}

static void test_page_token_garbage_refused(void **state)
{
    char good[24];
    crm_page_token_make(good, 1000);
    char longer[32], shorter[24], badchar[24], std64[24];
    snprintf(longer, sizeof longer, "%sA", good);
    snprintf(shorter, sizeof shorter, "%.*s", (int)strlen(good) - 1, good);
    snprintf(badchar, sizeof badchar, "%s", good);
    badchar[3] = '*';
    snprintf(std64, sizeof std64, "%s", good);
    std64[0] = '+';
    const char *cases[] = {"x", "abc", "!!!!!!!!!!!", "AAAAAAAAAAAAAAAA", longer, shorter, badchar,
                           std64, "AAAAAAAAAA=", " AAAAAAAAAA"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crm_status_t st;
        crm_status_clear(&st);
        uint64_t after = 42;
        if (crm_page_token_read(&st, cases[i], &after) != -1)
            fail_msg("token \"%s\" accepted as %llu", cases[i], (unsigned long long)after);
        assert_int_equal(st.code, CODE_INVALID);
        assert_string_equal(st.field, "pageToken");
    }
}

static void test_page_size(void **state)
{
    crm_status_t st;
    uint32_t out = 7;
    assert_int_equal(crm_page_size(&st, 0, 100, 1000, &out), 0);
    assert_int_equal(out, 100);
    assert_int_equal(crm_page_size(&st, 1, 100, 1000, &out), 0);
    assert_int_equal(out, 1);
    assert_int_equal(crm_page_size(&st, 1000, 100, 1000, &out), 0);
    assert_int_equal(out, 1000);
    assert_int_equal(crm_page_size(&st, 1001, 100, 1000, &out), 0);
    assert_int_equal(out, 1000);
    assert_int_equal(crm_page_size(&st, INT32_MAX, 100, 1000, &out), 0);
    assert_int_equal(out, 1000);

    crm_status_clear(&st);
    out = 7;
    assert_int_equal(crm_page_size(&st, -1, 100, 1000, &out), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "pageSize");
    assert_int_equal(crm_page_size(&st, INT32_MIN, 100, 1000, &out), -1);
    assert_string_equal(st.field, "pageSize");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_empty_refused),
        cmocka_unit_test(test_mask_snake_and_camel_accepted),
        cmocka_unit_test(test_mask_unknown_refused),
        cmocka_unit_test(test_mask_has),
        cmocka_unit_test(test_page_token_round_trip),
        cmocka_unit_test(test_page_token_garbage_refused),
        cmocka_unit_test(test_page_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
