/* Logging: one line per event with time, level, service and request id;
 * the threshold from CRM_LOG_LEVEL; newlines in messages never split a line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char captured[8192];

/* Runs fn with stderr sent to a temporary file, then reads it back. */
static void capture(void (*fn)(void))
{
    char path[] = "/tmp/crm-log-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, captured, sizeof captured - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

static void log_some(void)
{
    crm_log_init("tester");
    crm_log(CRM_LOG_INFO, 42, "user %d created", 7);
    crm_log(CRM_LOG_DEBUG, 0, "hidden at info");
    crm_log(CRM_LOG_WARN, 0, "two\nlines");
}

static void test_format_and_threshold(void **state)
{
    unsetenv("CRM_LOG_LEVEL");
    capture(log_some);
    assert_non_null(strstr(captured, " INFO tester req=42 user 7 created\n"));
    assert_null(strstr(captured, "hidden"));
    assert_non_null(strstr(captured, " WARN tester two lines\n"));
    int lines = 0;
    for (char *p = captured; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2);
    /* ISO-8601 UTC time first */
    assert_true(captured[4] == '-' && captured[10] == 'T' && strchr(captured, 'Z') < strchr(captured, ' ') + 1);
}

static void test_debug_level_from_environment(void **state)
{
    setenv("CRM_LOG_LEVEL", "debug", 1);
    capture(log_some);
    assert_non_null(strstr(captured, " DEBUG tester hidden at info\n"));
    setenv("CRM_LOG_LEVEL", "error", 1);
    capture(log_some);
    assert_string_equal(captured, "");
    unsetenv("CRM_LOG_LEVEL");
}

static void long_line(void)
{
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    crm_log_init("tester");
    crm_log(CRM_LOG_ERROR, 1, "%s", big);
}

static void test_long_message_is_one_line(void **state)
{
    unsetenv("CRM_LOG_LEVEL");
    capture(long_line);
    size_t n = strlen(captured);
    assert_true(n > 0 && n <= 1024);
    assert_int_equal(captured[n - 1], '\n');
    assert_null(memchr(captured, '\n', n - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_threshold),
        cmocka_unit_test(test_debug_level_from_environment),
        cmocka_unit_test(test_long_message_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
