#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "crm_rpc_server.h"
#include "crm_service.h"
#include "crm_store.h"
#include "identity.pb-c.h"

/* The service skeleton: a handler table that does not match its proto stops
 * the server from taking it (crm_rpc_server_add) and the service from
 * starting (crm_service_main), saying which method; and a service that
 * starts runs its hooks in order and tears down after a signal. */

static int h_any(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out) { return 0; }

/* Every method of crm.identity.v1.Identity, not in the proto's order. */
#define IDENTITY_HANDLERS                                                                                        \
    {"ListTeams", h_any, 0}, {"Login", h_any, CRM_METHOD_PUBLIC}, {"Logout", h_any, 0}, {"WhoAmI", h_any, 0},    \
        {"CreateUser", h_any, CRM_METHOD_WRITE}, {"GetUser", h_any, 0}, {"ListUsers", h_any, 0},                 \
        {"UpdateUser", h_any, CRM_METHOD_WRITE}, {"SetPassword", h_any, CRM_METHOD_WRITE},                       \
        {"ChangePassword", h_any, CRM_METHOD_WRITE}, {"CreateTeam", h_any, CRM_METHOD_WRITE},                    \
        {"UpdateTeam", h_any, CRM_METHOD_WRITE}, {"GetTeam", h_any, 0}

static const crm_method_t complete[] = {IDENTITY_HANDLERS};
static const crm_method_t missing[] = { /* no ListTeams */
    {"Login", h_any, CRM_METHOD_PUBLIC}, {"Logout", h_any, 0}, {"WhoAmI", h_any, 0},
    {"CreateUser", h_any, CRM_METHOD_WRITE}, {"GetUser", h_any, 0}, {"ListUsers", h_any, 0},
    {"UpdateUser", h_any, CRM_METHOD_WRITE}, {"SetPassword", h_any, CRM_METHOD_WRITE},
    {"ChangePassword", h_any, CRM_METHOD_WRITE}, {"CreateTeam", h_any, CRM_METHOD_WRITE},
    {"UpdateTeam", h_any, CRM_METHOD_WRITE}, {"GetTeam", h_any, 0}};
static const crm_method_t extra[] = {IDENTITY_HANDLERS, {"DeleteTeam", h_any, CRM_METHOD_WRITE}};
static const crm_method_t twice[] = {IDENTITY_HANDLERS, {"Login", h_any, 0}};
static const crm_method_t no_function[] = {IDENTITY_HANDLERS, {"Logout", NULL, 0}};

#define API(table) ((crm_rpc_api_t)CRM_RPC_API(crm__identity__v1__identity__descriptor, table))

/* --- a temporary folder and what was logged -------------------------------- */

typedef struct {
    char dir[64];
    char log[96];
    int saved_stderr;
} fixture_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/crm-test-service.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->log, sizeof f->log, "%s.log", f->dir);
    f->saved_stderr = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    remove(f->log);
    free(f);
    return 0;
}

/* Logs go to f->log until log_text, which returns them (static buffer). */
static void capture_log(fixture_t *f)
{
    fflush(stderr);
    f->saved_stderr = dup(2);
    int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0 && f->saved_stderr >= 0);
    dup2(fd, 2);
    close(fd);
}

static const char *log_text(fixture_t *f)
{
    static char text[16384];
    fflush(stderr);
    dup2(f->saved_stderr, 2);
    close(f->saved_stderr);
    FILE *in = fopen(f->log, "r");
    assert_non_null(in);
    size_t n = fread(text, 1, sizeof text - 1, in);
    fclose(in);
    text[n] = 0;
    fputs(text, stderr); /* still shown with the test's output */
    return text;
}

/* --- crm_rpc_server_add -------------------------------------------------------- */

typedef struct {
    struct ev_loop *loop;
    void *zctx;
    crm_store_t *store;
    crm_rpc_server_t *server;
} server_t;

static void server_open(fixture_t *f, server_t *s)
{
    const char *err;
    s->store = crm_store_open(f->dir, NULL, 0, 1, 0, &err);
    assert_non_null(s->store);
    s->loop = ev_loop_new(EVFLAG_AUTO);
    s->zctx = zmq_ctx_new();
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/rpc", f->dir);
    s->server = crm_rpc_server_new(s->loop, s->zctx, "test", endpoint, s->store, 1 << 20);
    assert_non_null(s->server);
}

static void server_close(server_t *s)
{
    crm_rpc_server_destroy(&s->server);
    zmq_ctx_term(s->zctx);
    ev_loop_destroy(s->loop);
    crm_store_close(&s->store);
}

/* add(table) fails and the log names why. */
static void assert_refused(fixture_t *f, server_t *s, crm_rpc_api_t api, const char *why)
{
    capture_log(f);
    int rc = crm_rpc_server_add(s->server, &api, NULL);
    const char *log = log_text(f);
    assert_int_equal(rc, -1);
    if (!strstr(log, why))
        fail_msg("the log does not say \"%s\": %s", why, log);
}

static void test_add_needs_a_handler_for_every_method(void **state)
{
    fixture_t *f = *state;
    server_t s;
    server_open(f, &s);
    assert_refused(f, &s, API(missing), "crm.identity.v1.Identity/ListTeams has no handler");
    /* a refused table leaves the server as it was: the right one is taken */
    assert_int_equal(crm_rpc_server_add(s.server, &API(complete), NULL), 0);
    server_close(&s);
}

static void test_add_refuses_a_handler_for_no_method(void **state)
{
    fixture_t *f = *state;
    server_t s;
    server_open(f, &s);
    assert_refused(f, &s, API(extra), "handler 13 (\"DeleteTeam\") names no method");
    assert_refused(f, &s, API(twice), "crm.identity.v1.Identity/Login has two handlers");
    assert_refused(f, &s, API(no_function), "crm.identity.v1.Identity/Logout: its handler has no function");
    server_close(&s);
}

static void test_add_takes_any_order_up_to_eight_services(void **state)
{
    fixture_t *f = *state;
    server_t s;
    server_open(f, &s);
    for (int i = 0; i < 8 - 2; i++) /* after Health and Operations, which every server has */
        assert_int_equal(crm_rpc_server_add(s.server, &API(complete), NULL), 0);
    assert_refused(f, &s, API(complete), "crm.identity.v1.Identity: a server serves 8 services at most");
    server_close(&s);
}

/* --- crm_service_main ---------------------------------------------------------- */

typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    int configured, started, stopped;
    int store_seen, outbox_seen, rpc_seen;
    int refuse_configure;
    char rpc_path[160];    /* the RPC endpoint's ipc file */
    int rpc_bound_at_start; /* it existed when start ran */
    ev_timer quit;
} ctx_t;

static int configure(void *arg)
{
    ctx_t *c = arg;
    c->configured++;
    return c->refuse_configure ? -1 : 0;
}

static void on_quit(struct ev_loop *loop, ev_timer *w, int revents) { raise(SIGTERM); }

static int start(crm_service_t *svc, void *arg)
{
    ctx_t *c = arg;
    c->started++;
    c->rpc_bound_at_start = c->rpc_path[0] && access(c->rpc_path, F_OK) == 0;
    c->store_seen = c->store != NULL;
    c->outbox_seen = c->outbox != NULL;
    c->rpc_seen = crm_service_rpc(svc) != NULL && crm_service_zctx(svc) != NULL &&
                  crm_service_heartbeat_ms(svc) == 100 && !strncmp(crm_service_data_dir(svc), "/tmp/", 5);
    ev_timer_init(&c->quit, on_quit, 0.05, 0);
    ev_timer_start(crm_service_loop(svc), &c->quit);
    return 0;
}

static void stop(crm_service_t *svc, void *arg)
{
    ctx_t *c = arg;
    c->stopped++;
    if (ev_is_active(&c->quit))
        ev_timer_stop(crm_service_loop(svc), &c->quit);
}

static int applied(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev) { return 0; }

static MDB_dbi things;

static crm_service_def_t def_with(ctx_t *c, crm_rpc_api_t api)
{
    return (crm_service_def_t){
        .name = "identity", .ctx = c, .store = &c->store, .outbox = &c->outbox, .schema = 1,
        .dbis = {{"things", 0, &things}},
        .consumes = {{"pipeline", applied}},
        .apis = {api},
        .configure = configure, .start = start, .stop = stop};
}

/* Runs def with every endpoint in f->dir (never a port another test or
 * program holds) plus extra_arg (may be NULL). */
static int run(fixture_t *f, const crm_service_def_t *def, const char *extra_arg)
{
    char args[7][160];
    const char *names[] = {"data-dir=%s/store", "rpc=ipc://%s/rpc", "events=ipc://%s/events", "replay=ipc://%s/replay",
                           "pipeline-events=ipc://%s/pl-events", "pipeline-replay=ipc://%s/pl-replay",
                           "heartbeat-ms=100"};
    char *argv[10] = {"crm-identity"};
    int argc = 1;
    for (int i = 0; i < 7; i++) {
        char fmt[64];
        snprintf(fmt, sizeof fmt, "--%s", names[i]);
        snprintf(args[i], sizeof args[i], fmt, f->dir);
        argv[argc++] = args[i];
    }
    if (extra_arg)
        argv[argc++] = (char *)extra_arg;
    return crm_service_main(def, argc, argv);
}

static void test_service_runs_until_a_signal(void **state)
{
    fixture_t *f = *state;
    ctx_t c = {0};
    snprintf(c.rpc_path, sizeof c.rpc_path, "%s/rpc", f->dir);
    crm_service_def_t def = def_with(&c, API(complete));
    assert_int_equal(run(f, &def, NULL), 0);
    /* the RPC port opens once start is done: an open port (what a
     * container's health check probes) means a started service */
    assert_false(c.rpc_bound_at_start);
    assert_int_equal(c.configured, 1);
    assert_int_equal(c.started, 1);
    assert_int_equal(c.stopped, 1);
    assert_true(c.store_seen && c.outbox_seen && c.rpc_seen);
    assert_null(c.store); /* closed, and said so */
    assert_null(c.outbox);
    /* the store holds the service's DBIs and the outbox */
    char path[128];
    snprintf(path, sizeof path, "%s/store/data.mdb", f->dir);
    assert_int_equal(access(path, F_OK), 0);
}

/* A service whose table is table does not start, and its log says why. */
static void assert_does_not_start(fixture_t *f, crm_rpc_api_t api, const char *why)
{
    ctx_t c = {0};
    crm_service_def_t def = def_with(&c, api);
    capture_log(f);
    int status = run(f, &def, NULL);
    const char *log = log_text(f);
    assert_int_equal(status, 1);
    assert_non_null(strstr(log, why));
    assert_non_null(strstr(log, "identity cannot serve crm.identity.v1.Identity (said above why), so it does not start"));
    assert_int_equal(c.started, 0);
    assert_int_equal(c.stopped, 1); /* what configure made is freed all the same */
    assert_null(c.store);
}

static void test_service_with_a_missing_handler_does_not_start(void **state)
{
    assert_does_not_start(*state, API(missing), "crm.identity.v1.Identity/ListTeams has no handler");
}

static void test_service_with_an_extra_handler_does_not_start(void **state)
{
    assert_does_not_start(*state, API(extra), "(\"DeleteTeam\") names no method of the service");
}

static void test_service_bad_flags_exit_2(void **state)
{
    fixture_t *f = *state;
    ctx_t c = {0};
    crm_service_def_t def = def_with(&c, API(complete));
    capture_log(f);
    int status = run(f, &def, "--no-such-flag=1");
    log_text(f);
    assert_int_equal(status, 2);
    assert_int_equal(c.configured + c.started + c.stopped, 0);

    c.refuse_configure = 1; /* the service's own check */
    assert_int_equal(run(f, &def, NULL), 2);
    assert_int_equal(c.configured, 1);
    assert_int_equal(c.started + c.stopped, 0);

    c = (ctx_t){0};
    capture_log(f);
    status = run(f, &def, "--commit-window-us=-1");
    const char *log = log_text(f);
    assert_int_equal(status, 2);
    assert_non_null(strstr(log, "--commit-window-us must be 0 to"));
}

static void test_service_a_store_that_cannot_open_exits_1(void **state)
{
    fixture_t *f = *state;
    ctx_t c = {0};
    crm_service_def_t def = def_with(&c, API(complete));
    char file[128], arg[160];
    snprintf(file, sizeof file, "%s/a-file", f->dir);
    FILE *out = fopen(file, "w");
    assert_non_null(out);
    fclose(out);
    snprintf(arg, sizeof arg, "--data-dir=%s/sub", file); /* under a file: cannot be made */
    capture_log(f);
    int status = run(f, &def, arg);
    const char *log = log_text(f);
    assert_int_equal(status, 1);
    assert_non_null(strstr(log, "a-file/sub: cannot create the data folder"));
    assert_int_equal(c.started, 0);
    assert_int_equal(c.stopped, 1);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_add_needs_a_handler_for_every_method),   TEST(test_add_refuses_a_handler_for_no_method),
        TEST(test_add_takes_any_order_up_to_eight_services), TEST(test_service_runs_until_a_signal),
        TEST(test_service_with_a_missing_handler_does_not_start),
        TEST(test_service_with_an_extra_handler_does_not_start),
        TEST(test_service_bad_flags_exit_2),               TEST(test_service_a_store_that_cannot_open_exits_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
