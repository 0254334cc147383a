#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_validate.h"

#define CODE_INVALID CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT

static long len_of(const char *s) { return crm_utf8_length(s, strlen(s)); }

static void test_utf8_valid(void **state)
{
    assert_int_equal(crm_utf8_length("", 0), 0);
    assert_int_equal(len_of("hello"), 5);
    assert_int_equal(len_of("caf\xc3\xa9"), 4);              /* é: 2 bytes */
    assert_int_equal(len_of("\xe2\x82\xac"), 1);             /* €: 3 bytes */
    assert_int_equal(len_of("\xf0\x9f\x98\x80"), 1);         /* 😀: 4 bytes */
    assert_int_equal(len_of("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), 5);
    /* the edges of each length */
    assert_int_equal(len_of("\x7f"), 1);
    assert_int_equal(len_of("\xc2\x80"), 1);                 /* U+0080 */
    assert_int_equal(len_of("\xdf\xbf"), 1);                 /* U+07FF */
    assert_int_equal(len_of("\xe0\xa0\x80"), 1);             /* U+0800 */
    assert_int_equal(len_of("\xed\x9f\xbf"), 1);             /* U+D7FF */
    assert_int_equal(len_of("\xee\x80\x80"), 1);             /* U+E000 */
    assert_int_equal(len_of("\xef\xbf\xbf"), 1);             /* U+FFFF */
    assert_int_equal(len_of("\xf0\x90\x80\x80"), 1);         /* U+10000 */
    assert_int_equal(len_of("\xf4\x8f\xbf\xbf"), 1);         /* U+10FFFF */
    /* len limits what is read: a prefix of a valid string */
    assert_int_equal(crm_utf8_length("abc\xc3\xa9", 3), 3);
}

static void test_utf8_invalid(void **state)
{
    static const char *bad[] = {
        "\xff",                 /* never valid */
        "\xfe",
        "\x80",                 /* lone continuation */
        "a\xbf" "b",
        "\xc0\x80",             /* overlong NUL */
        "\xc1\xbf",             /* overlong U+007F */
        "\xe0\x80\xaf",         /* overlong '/' */
        "\xe0\x9f\xbf",         /* overlong U+07FF */
        "\xf0\x80\x80\xaf",     /* overlong '/' in 4 bytes */
        "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
        "\xed\xa0\x80",         /* surrogate U+D800 */
        "\xed\xbf\xbf",         /* surrogate U+DFFF */
        "\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 pair */
        "\xf4\x90\x80\x80",     /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xf8\x88\x80\x80\x80", /* 5-byte form */
        "\xc3",                 /* truncated */
        "\xe2\x82",
        "\xf0\x9f\x98",
        "abc\xc3",
        "\xc3(",                /* bad continuation */
        "\xe2(\xa1",
        "\xf0\x9f(\x80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (len_of(bad[i]) != -1)
            fail_msg("case %zu accepted as %ld code points", i, len_of(bad[i]));

    /* a sequence cut by len is truncated even if the bytes go on */
    assert_int_equal(crm_utf8_length("\xe2\x82\xac", 2), -1);
    /* an embedded NUL, only expressible with len */
    assert_int_equal(crm_utf8_length("ab\0cd", 5), -1);
    assert_int_equal(crm_utf8_length("\0", 1), -1);
}

static void test_check_text_counts_code_points(void **state)
{
    crm_status_t st;
    /* five é: 10 bytes, 5 characters */
    const char *five = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";
    assert_int_equal(crm_check_text(&st, "name", five, 1, 5), 0);
    assert_int_equal(crm_check_text(&st, "name", five, 5, 5), 0);

    assert_int_equal(crm_check_text(&st, "name", five, 1, 4), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "name");
    assert_non_null(strstr(st.message, "at most 4"));

    assert_int_equal(crm_check_text(&st, "name", five, 6, 10), -1);
    assert_string_equal(st.field, "name");
    assert_non_null(strstr(st.message, "at least 6"));

    /* four-byte characters count once too */
    assert_int_equal(crm_check_text(&st, "t", "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 2, 2), 0);
}

static void test_check_text_required_and_invalid(void **state)
{
    crm_status_t st;
    assert_int_equal(crm_check_text(&st, "login", "", 1, 10), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "login");
    assert_non_null(strstr(st.message, "required"));

    assert_int_equal(crm_check_text(&st, "login", "", 0, 10), 0);

    assert_int_equal(crm_check_text(&st, "displayName", "ab\xed\xa0\x80", 0, 100), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "displayName");
    assert_non_null(strstr(st.message, "UTF-8"));
}

static void test_email_accepted(void **state)
{
    static const char *good[] = {
        "a@b.co",
        "alice@example.com",
        "first.last+tag@sub.example.org",
        "x_y-z@domain-name.io",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        crm_status_t st;
        crm_status_clear(&st);
        if (crm_check_email(&st, "email", good[i], 0) != 0)
            fail_msg("\"%s\" refused: %s", good[i], st.message);
    }
    crm_status_t st;
    assert_int_equal(crm_check_email(&st, "email", "", 1), 0);
}

static void test_email_refused(void **state)
{
    static const char *bad[] = {
        "",                    /* required */
        "plain",
        "@example.com",
        "alice@",
        "alice@example",       /* no dot in the domain */
        "alice@.example.com",
        "alice@example.com.",
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@@example.com",
        "a@b@example.com",
        "<alice@example.com>",
        "alice@example.com,bob@example.com",
        "\"alice\"@example.com",
        "alice\t@example.com",
        "alice@ex\xc3(ample.com", /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        crm_status_t st;
        crm_status_clear(&st);
        if (crm_check_email(&st, "email", bad[i], 0) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(st.code, CODE_INVALID);
        assert_string_equal(st.field, "email");
    }
}

static void test_email_length_limit_in_bytes(void **state)
{
    crm_status_t st;
    char addr[400];
    /* 254 bytes exactly: accepted; 255: refused */
    size_t n = 254 - strlen("@example.com");
    memset(addr, 'a', n);
    strcpy(addr + n, "@example.com");
    assert_int_equal(strlen(addr), 254);
    assert_int_equal(crm_check_email(&st, "email", addr, 0), 0);
    memset(addr, 'a', n + 1);
    strcpy(addr + n + 1, "@example.com");
    assert_int_equal(crm_check_email(&st, "email", addr, 0), -1);
    assert_string_equal(st.field, "email");

    /* The contract says at most 254 *bytes*: 130 two-byte characters before
     * the @ make 272 bytes though only 142 code points. */
    size_t off = 0;
    for (int i = 0; i < 130; i++) {
        addr[off++] = '\xc3';
        addr[off++] = '\xa9';
    }
    strcpy(addr + off, "@example.com");
    assert_true(strlen(addr) > 254);
    assert_int_equal(crm_check_email(&st, "email", addr, 0), -1);
    assert_int_equal(st.code, CODE_INVALID);
    assert_string_equal(st.field, "email");
}

static void test_parse_id(void **state)
{
    int64_t v = 0;
    assert_int_equal(crm_parse_id("42", 2, &v), 0);
    assert_true(v == 42);
    assert_int_equal(crm_parse_id("9223372036854775807", 19, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(crm_parse_id("42x", 2, &v), 0); /* only the length given counts */
    assert_true(v == 42);
    static const char *const bad[] = {"", "0", "-1", "+1", " 1", "1 ", "1e3", "9223372036854775808",
                                      "99999999999999999999", "00", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(crm_parse_id(bad[i], strlen(bad[i]), &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_id),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_check_text_counts_code_points),
        cmocka_unit_test(test_check_text_required_and_invalid),
        cmocka_unit_test(test_email_accepted),
        cmocka_unit_test(test_email_refused),
        cmocka_unit_test(test_email_length_limit_in_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
