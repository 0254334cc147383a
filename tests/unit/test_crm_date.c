/* Calendar dates: parsing only real YYYY-MM-DD dates, day numbers that
 * agree with the C library's UTC calendar, the UTC day of an instant, due
 * against today, and keys that sort as days do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_date.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void test_parse_and_format_agree_with_libc(void **state)
{
    /* every day from 1900 to 2400, against gmtime_r */
    for (int32_t day = -25567; day < 157000; day++) {
        time_t t = (time_t)day * 86400;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[16], got[CRM_DATE_LEN + 1];
        snprintf(want, sizeof want, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        crm_date_format(got, day);
        assert_string_equal(got, want);
        int32_t back = 0;
        assert_int_equal(crm_date_parse(want, &back), 0);
        assert_int_equal(back, day);
    }
}

static void test_parse_refuses_what_is_not_a_date(void **state)
{
    const char *bad[] = {"", "2026-1-01", "2026-01-1", "2026/01/01", "2026-13-01", "2026-00-10", "2026-01-00",
                         "2026-02-29", "1900-02-29", "2100-02-29", "2026-04-31", "1899-12-31", "2026-01-01 ",
                         " 2026-01-01", "2026-01-01x", "+026-01-01", "2026-0a-01", "20260101", "2026-01", NULL};
    int32_t day = 12345;
    for (int i = 0; bad[i]; i++) {
        if (crm_date_parse(bad[i], &day) != -1)
            fail_msg("%s parsed", bad[i]);
        assert_int_equal(day, 12345);
    }
    assert_int_equal(crm_date_parse(NULL, &day), -1);
    assert_int_equal(crm_date_parse("2024-02-29", &day), 0);
    assert_int_equal(crm_date_parse("2000-02-29", &day), 0);
    assert_int_equal(crm_date_parse("9999-12-31", &day), 0);
    assert_int_equal(crm_date_parse("1900-01-01", &day), 0);
    assert_int_equal(day, -25567);
}

static void test_day_of_instant_is_utc_and_floors(void **state)
{
    int32_t day;
    assert_int_equal(crm_date_parse("2026-12-06", &day), 0);
    int64_t start = crm_date_start_us(day);
    assert_int_equal(crm_date_of_instant(start), day);
    assert_int_equal(crm_date_of_instant(start - 1), day - 1);
    assert_int_equal(crm_date_of_instant(start + 86400000000LL - 1), day);
    assert_int_equal(crm_date_of_instant(0), 0);
    assert_int_equal(crm_date_of_instant(-1), -1);
    assert_int_equal(crm_date_of_instant(-86400000000LL), -1);
}

static void test_due_against_today(void **state)
{
    assert_int_equal(crm_date_due(9, 10), CRM_DUE_OVERDUE);
    assert_int_equal(crm_date_due(10, 10), CRM_DUE_TODAY);
    assert_int_equal(crm_date_due(11, 10), CRM_DUE_LATER);
    assert_int_equal(crm_date_due(-5, -4), CRM_DUE_OVERDUE);
}

static void test_keys_sort_as_days(void **state)
{
    const int32_t days[] = {-25567, -2, -1, 0, 1, 255, 256, 65536, 2932896};
    uint8_t prev[4], key[4];
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        crm_date_key_put(key, days[i]);
        assert_int_equal(crm_date_key_get(key), days[i]);
        if (i)
            assert_true(memcmp(prev, key, 4) < 0);
        memcpy(prev, key, 4);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format_agree_with_libc),
        cmocka_unit_test(test_parse_refuses_what_is_not_a_date),
        cmocka_unit_test(test_day_of_instant_is_utc_and_floors),
        cmocka_unit_test(test_due_against_today),
        cmocka_unit_test(test_keys_sort_as_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
