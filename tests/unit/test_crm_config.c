#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crm_config.h"

/* The options of a made-up program; every test starts from a clean
 * environment for its variables. */
typedef struct {
    char *dir;
    int64_t port;
    int verbose;
    char *name;
} conf_t;

#define ENV_DIR "CRM_TEST_CONFIG_DATA_DIR"
#define ENV_PORT "CRM_TEST_CONFIG_PORT"
#define ENV_VERBOSE "CRM_TEST_CONFIG_VERBOSE"

static int setup(void **state)
{
    unsetenv(ENV_DIR);
    unsetenv(ENV_PORT);
    unsetenv(ENV_VERBOSE);
    return 0;
}

static int parse(conf_t *c, int argc, char **argv)
{
    const crm_opt_t opts[] = {
        {"data-dir", ENV_DIR, CRM_OPT_STRING, &c->dir, "/var/lib/crm", "data folder"},
        {"port", ENV_PORT, CRM_OPT_INT, &c->port, "5555", "port"},
        {"verbose", ENV_VERBOSE, CRM_OPT_BOOL, &c->verbose, "false", "log more"},
        {"name", NULL, CRM_OPT_STRING, &c->name, NULL, "flag only, no default"},
    };
    memset(c, 0x5a, sizeof *c); /* every field must be written by parse */
    return crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "test [flags]");
}

#define ARGV(...) (char *[]){"prog", __VA_ARGS__}
#define ARGC(...) (int)(sizeof((char *[]){"prog", __VA_ARGS__}) / sizeof(char *))

static void test_defaults(void **state)
{
    conf_t c;
    char *argv[] = {"prog"};
    assert_int_equal(parse(&c, 1, argv), 0);
    assert_string_equal(c.dir, "/var/lib/crm");
    assert_int_equal(c.port, 5555);
    assert_int_equal(c.verbose, 0);
    assert_string_equal(c.name, "");
}

static void test_env_overrides_default(void **state)
{
    setenv(ENV_DIR, "/srv/env", 1);
    setenv(ENV_PORT, "6000", 1);
    setenv(ENV_VERBOSE, "yes", 1);
    conf_t c;
    char *argv[] = {"prog"};
    assert_int_equal(parse(&c, 1, argv), 0);
    assert_string_equal(c.dir, "/srv/env");
    assert_int_equal(c.port, 6000);
    assert_int_equal(c.verbose, 1);
}

static void test_flag_overrides_env(void **state)
{
    setenv(ENV_DIR, "/srv/env", 1);
    setenv(ENV_PORT, "6000", 1);
    setenv(ENV_VERBOSE, "true", 1);
    conf_t c;
    assert_int_equal(parse(&c, ARGC("--data-dir=/srv/flag", "--port", "7000", "--verbose=off"),
                           ARGV("--data-dir=/srv/flag", "--port", "7000", "--verbose=off")),
                     0);
    assert_string_equal(c.dir, "/srv/flag");
    assert_int_equal(c.port, 7000);
    assert_int_equal(c.verbose, 0);
}

static void test_equals_and_separate_value(void **state)
{
    conf_t c;
    assert_int_equal(parse(&c, ARGC("--data-dir", "/a b", "--port=1", "--name=x=y"),
                           ARGV("--data-dir", "/a b", "--port=1", "--name=x=y")),
                     0);
    assert_string_equal(c.dir, "/a b");
    assert_int_equal(c.port, 1);
    assert_string_equal(c.name, "x=y");

    /* an explicitly empty value */
    assert_int_equal(parse(&c, ARGC("--name="), ARGV("--name=")), 0);
    assert_string_equal(c.name, "");

    /* the last of a repeated flag wins */
    assert_int_equal(parse(&c, ARGC("--port=1", "--port=2"), ARGV("--port=1", "--port=2")), 0);
    assert_int_equal(c.port, 2);

    /* 64-bit and negative integers */
    assert_int_equal(parse(&c, ARGC("--port=9000000000"), ARGV("--port=9000000000")), 0);
    assert_true(c.port == 9000000000LL);
    assert_int_equal(parse(&c, ARGC("--port", "-5"), ARGV("--port", "-5")), 0);
    assert_true(c.port == -5);
}

static void test_bool_flags(void **state)
{
    conf_t c;
    /* a bare bool flag is true and does not take the next argument */
    assert_int_equal(parse(&c, ARGC("--verbose", "--port=3"), ARGV("--verbose", "--port=3")), 0);
    assert_int_equal(c.verbose, 1);
    assert_int_equal(c.port, 3);

    static const char *truthy[] = {"1", "true", "TRUE", "yes", "on"};
    static const char *falsy[] = {"0", "false", "No", "off", ""};
    for (size_t i = 0; i < 5; i++) {
        char arg[32];
        snprintf(arg, sizeof arg, "--verbose=%s", truthy[i]);
        assert_int_equal(parse(&c, 2, ARGV(arg)), 0);
        assert_int_equal(c.verbose, 1);
        snprintf(arg, sizeof arg, "--verbose=%s", falsy[i]);
        assert_int_equal(parse(&c, 2, ARGV(arg)), 0);
        assert_int_equal(c.verbose, 0);
    }
    setenv(ENV_VERBOSE, "on", 1);
    assert_int_equal(parse(&c, 1, ARGV()), 0);
    assert_int_equal(c.verbose, 1);
}

static void test_bad_values_refused(void **state)
{
    conf_t c;
    assert_int_equal(parse(&c, ARGC("--port=12x"), ARGV("--port=12x")), -1);
    assert_int_equal(parse(&c, ARGC("--port="), ARGV("--port=")), -1);
    assert_int_equal(parse(&c, ARGC("--port", "abc"), ARGV("--port", "abc")), -1);
    assert_int_equal(parse(&c, ARGC("--port=99999999999999999999"), ARGV("--port=99999999999999999999")), -1);
    assert_int_equal(parse(&c, ARGC("--verbose=maybe"), ARGV("--verbose=maybe")), -1);
    /* a value-taking flag at the end with no value */
    assert_int_equal(parse(&c, ARGC("--port"), ARGV("--port")), -1);
    /* a bad environment value is refused too */
    setenv(ENV_PORT, "seven", 1);
    assert_int_equal(parse(&c, 1, ARGV()), -1);
    unsetenv(ENV_PORT);
    setenv(ENV_VERBOSE, "perhaps", 1);
    assert_int_equal(parse(&c, 1, ARGV()), -1);
}

static void test_unknown_flag_refused(void **state)
{
    conf_t c;
    assert_int_equal(parse(&c, ARGC("--nope=1"), ARGV("--nope=1")), -1);
    assert_int_equal(parse(&c, ARGC("--por=1"), ARGV("--por=1")), -1);
    assert_int_equal(parse(&c, ARGC("--port-number=1"), ARGV("--port-number=1")), -1);
    assert_int_equal(parse(&c, ARGC("positional"), ARGV("positional")), -1);
    assert_int_equal(parse(&c, ARGC("-p"), ARGV("-p")), -1);
}

static void test_double_flags(void **state)
{
    double d = -1, e = -1;
    const crm_opt_t opts[] = {
        {"rate", NULL, CRM_OPT_DOUBLE, &d, "1000", "a rate"},
        {"none", NULL, CRM_OPT_DOUBLE, &e, NULL, "no default: 0"},
    };
    assert_int_equal(crm_config_parse(opts, 2, 1, ARGV(), "test"), 0);
    assert_true(d == 1000 && e == 0);
    assert_int_equal(crm_config_parse(opts, 2, ARGC("--rate", "2.5", "--none=1e-3"), ARGV("--rate", "2.5", "--none=1e-3"), "test"), 0);
    assert_true(d == 2.5 && e == 0.001);
    assert_int_equal(crm_config_parse(opts, 2, ARGC("--rate=fast"), ARGV("--rate=fast"), "test"), -1);
    assert_int_equal(crm_config_parse(opts, 2, ARGC("--rate=1.5x"), ARGV("--rate=1.5x"), "test"), -1);
    assert_int_equal(crm_config_parse(opts, 2, ARGC("--rate=nan"), ARGV("--rate=nan"), "test"), -1);
    assert_int_equal(crm_config_parse(opts, 2, ARGC("--rate=1e999"), ARGV("--rate=1e999"), "test"), -1);
}

static void test_int_without_default_is_zero(void **state)
{
    /* the contract: def NULL means "" for strings and 0 for numbers */
    int64_t n = 99;
    int b = 99;
    const crm_opt_t opts[] = {
        {"count", NULL, CRM_OPT_INT, &n, NULL, "no default"},
        {"flag", NULL, CRM_OPT_BOOL, &b, NULL, "no default"},
    };
    char *argv[] = {"prog"};
    assert_int_equal(crm_config_parse(opts, 2, 1, argv, "test"), 0);
    assert_true(n == 0);
    assert_int_equal(b, 0);
}

static void test_help_exits_zero(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(3);
        conf_t c;
        parse(&c, 2, ARGV("--help"));
        _exit(2); /* --help must not return */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_env_overrides_default, setup),
        cmocka_unit_test_setup(test_flag_overrides_env, setup),
        cmocka_unit_test_setup(test_equals_and_separate_value, setup),
        cmocka_unit_test_setup(test_bool_flags, setup),
        cmocka_unit_test_setup(test_bad_values_refused, setup),
        cmocka_unit_test_setup(test_unknown_flag_refused, setup),
        cmocka_unit_test_setup(test_double_flags, setup),
        cmocka_unit_test_setup(test_int_without_default_is_zero, setup),
        cmocka_unit_test_setup(test_help_exits_zero, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
