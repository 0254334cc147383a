/* Clocks: wall time in Unix microseconds, monotonic time that never goes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_time.h"

#include <time.h>
#include <unistd.h>

static void test_wall_clock_is_unix_microseconds(void **state)
{
    int64_t us = crm_time_now_us();
    int64_t s = (int64_t)time(NULL);
    assert_true(us / 1000000 >= s - 1 && us / 1000000 <= s + 1);
}

static void test_monotonic_advances(void **state)
{
    int64_t a = crm_time_mono_us();
    usleep(20000);
    int64_t b = crm_time_mono_us();
    assert_true(b - a >= 19000);
    assert_true(b - a < 2000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_clock_is_unix_microseconds),
        cmocka_unit_test(test_monotonic_advances),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
