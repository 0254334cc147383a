#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crm_curve.h"
#include "crm_zloop.h"
#include "loop_until.h"

/* A CURVE server in a real loop with its ZAP handler, and clients that hold
 * the right keys, a stranger's key, a wrong server key, or none. A refused
 * client never gets its echo back. */

/* The process holds the gateway's key; its sockets have each role: server
 * (a service's methods), open (the front door), events and stream. */
typedef struct {
    struct ev_loop *loop;
    void *zctx, *server, *open_server, *events_server, *stream_server;
    crm_zwatch_t *watch, *open_watch, *events_watch, *stream_watch;
    char dir[64], endpoint[64], open_endpoint[64], events_endpoint[64], stream_endpoint[64];
} fixture_t;

static void echo(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_frames_t f;
    while (crm_frames_recv(socket, &f) == 0) {
        const void *data[CRM_FRAMES_MAX];
        size_t size[CRM_FRAMES_MAX];
        for (int i = 0; i < f.count; i++) {
            data[i] = crm_frame_data(&f, i);
            size[i] = crm_frame_size(&f, i);
        }
        crm_zsend(socket, data, size, f.count);
        crm_frames_close(&f);
    }
}

static void *bound(fixture_t *f, crm_curve_role_t role, char *endpoint, size_t size)
{
    void *s = zmq_socket(f->zctx, ZMQ_ROUTER);
    assert_non_null(s);
    assert_int_equal(crm_zsock_setup(s, 0), 0);
    assert_int_equal(crm_curve_server(s, role), 0);
    assert_int_equal(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    size_t len = size;
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
    return s;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/crm-test-curve-%d", (int)getpid());
    if (crm_curve_keygen(f->dir, "gateway") != 0 || crm_curve_keygen(f->dir, "operator") != 0 ||
        crm_curve_keygen(f->dir, "crmctl") != 0 || crm_curve_keygen(f->dir, "pipeline") != 0)
        return -1;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->zctx = zmq_ctx_new();
    if (crm_curve_configure(f->zctx, f->loop, f->dir, "gateway") != 0)
        return -1;
    f->server = bound(f, CRM_CURVE_RPC, f->endpoint, sizeof f->endpoint);
    f->open_server = bound(f, CRM_CURVE_OPEN, f->open_endpoint, sizeof f->open_endpoint);
    f->events_server = bound(f, CRM_CURVE_EVENTS, f->events_endpoint, sizeof f->events_endpoint);
    f->stream_server = bound(f, CRM_CURVE_STREAM, f->stream_endpoint, sizeof f->stream_endpoint);
    f->watch = crm_zwatch_new(f->loop, f->server, echo, NULL);
    f->open_watch = crm_zwatch_new(f->loop, f->open_server, echo, NULL);
    f->events_watch = crm_zwatch_new(f->loop, f->events_server, echo, NULL);
    f->stream_watch = crm_zwatch_new(f->loop, f->stream_server, echo, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    crm_zwatch_destroy(&f->watch);
    crm_zwatch_destroy(&f->open_watch);
    crm_zwatch_destroy(&f->events_watch);
    crm_zwatch_destroy(&f->stream_watch);
    zmq_close(f->server);
    zmq_close(f->open_server);
    zmq_close(f->events_server);
    zmq_close(f->stream_server);
    crm_curve_shutdown();
    zmq_ctx_term(f->zctx);
    ev_loop_destroy(f->loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static int got_echo(void *socket)
{
    char buf[16];
    return zmq_recv(socket, buf, sizeof buf, ZMQ_DONTWAIT) == 5 && !memcmp(buf, "hello", 5);
}

/* Sends "hello" on a client socket and runs the loop until the echo comes
 * back (1) or a short while passes (0). */
static int round_trip(fixture_t *f, void *client, const char *endpoint)
{
    int linger = 0;
    zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(client, endpoint), 0);
    assert_int_equal(zmq_send(client, "hello", 5, ZMQ_DONTWAIT), 5);
    int ok = loop_until(f->loop, got_echo, client, 0.5);
    zmq_close(client);
    return ok;
}

static void *client_with_keys(fixture_t *f, const char *server_pub_z85, const char *pub_z85, const char *sec_z85)
{
    void *c = zmq_socket(f->zctx, ZMQ_DEALER);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SERVERKEY, server_pub_z85, 41), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_PUBLICKEY, pub_z85, 41), 0);
    assert_int_equal(zmq_setsockopt(c, ZMQ_CURVE_SECRETKEY, sec_z85, 41), 0);
    return c;
}

static void read_z85(fixture_t *f, const char *file, char out[41])
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, file);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_int_equal(fread(out, 1, 40, fp), 40);
    out[40] = '\0';
    fclose(fp);
}

static void test_known_client_is_served(void **state)
{
    fixture_t *f = *state;
    void *c = zmq_socket(f->zctx, ZMQ_DEALER);
    assert_int_equal(crm_curve_client(c, "gateway"), 0); /* the process's own key: known */
    assert_true(round_trip(f, c, f->endpoint));
}

static void test_known_peer_key_is_served(void **state)
{
    fixture_t *f = *state;
    char server[41], pub[41], sec[41];
    read_z85(f, "gateway.pub", server);
    read_z85(f, "operator.pub", pub);
    read_z85(f, "operator.key", sec);
    assert_true(round_trip(f, client_with_keys(f, server, pub, sec), f->endpoint));
}

static void test_stranger_is_refused(void **state)
{
    fixture_t *f = *state;
    char server[41], pub[41], sec[41];
    read_z85(f, "gateway.pub", server);
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_false(round_trip(f, client_with_keys(f, server, pub, sec), f->endpoint));
    /* the same stranger is let in at an open door (the gateway's front door) */
    assert_true(round_trip(f, client_with_keys(f, server, pub, sec), f->open_endpoint));
}

static void test_wrong_server_key_gets_nothing(void **state)
{
    fixture_t *f = *state;
    char not_server[41], pub[41], sec[41], junk[41];
    read_z85(f, "operator.pub", not_server);
    read_z85(f, "operator.pub", pub);
    read_z85(f, "operator.key", sec);
    assert_false(round_trip(f, client_with_keys(f, not_server, pub, sec), f->endpoint));
    assert_int_equal(zmq_curve_keypair(junk, sec), 0);
    read_z85(f, "operator.key", sec);
    assert_false(round_trip(f, client_with_keys(f, junk, pub, sec), f->open_endpoint));
}

static void test_plain_client_gets_nothing(void **state)
{
    fixture_t *f = *state;
    assert_false(round_trip(f, zmq_socket(f->zctx, ZMQ_DEALER), f->endpoint));
    assert_false(round_trip(f, zmq_socket(f->zctx, ZMQ_DEALER), f->open_endpoint));
}

/* A key opens what its role needs and nothing else. */
static int admitted(fixture_t *f, const char *name, const char *endpoint)
{
    char server[41], pub[41], sec[41], file[64];
    read_z85(f, "gateway.pub", server);
    snprintf(file, sizeof file, "%s.pub", name);
    read_z85(f, file, pub);
    snprintf(file, sizeof file, "%s.key", name);
    read_z85(f, file, sec);
    return round_trip(f, client_with_keys(f, server, pub, sec), endpoint);
}

static void test_roles(void **state)
{
    fixture_t *f = *state;
    /* the stream readers' key (crmctl tail) reads the stream, calls nothing */
    assert_true(admitted(f, "crmctl", f->stream_endpoint));
    assert_false(admitted(f, "crmctl", f->endpoint));
    assert_false(admitted(f, "crmctl", f->events_endpoint));
    /* the operator calls methods (crmctl consumers), reads nothing */
    assert_true(admitted(f, "operator", f->endpoint));
    assert_false(admitted(f, "operator", f->events_endpoint));
    assert_false(admitted(f, "operator", f->stream_endpoint));
    /* a service reads events and never calls another service's methods */
    assert_true(admitted(f, "pipeline", f->events_endpoint));
    assert_false(admitted(f, "pipeline", f->endpoint));
    assert_false(admitted(f, "pipeline", f->stream_endpoint));
    /* the gateway does all three */
    assert_true(admitted(f, "gateway", f->endpoint));
    assert_true(admitted(f, "gateway", f->events_endpoint));
    assert_true(admitted(f, "gateway", f->stream_endpoint));
    /* anyone reaches the front door */
    assert_true(admitted(f, "crmctl", f->open_endpoint));
}

static void test_bad_configuration_is_refused(void **state)
{
    fixture_t *f = *state;
    /* checked on a second configuration of this process: it must fail before changing anything */
    char path[128];
    assert_int_equal(crm_curve_configure(NULL, NULL, f->dir, "nobody"), -1);
    snprintf(path, sizeof path, "%s/broken.key", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("not a key\n", fp);
    fclose(fp);
    assert_int_equal(crm_curve_configure(NULL, NULL, f->dir, "broken"), -1);
    unlink(path);
    assert_int_equal(crm_curve_configure(NULL, NULL, "/nonexistent/keys", "gateway"), -1);
    void *orphan = zmq_socket(f->zctx, ZMQ_DEALER);
    int failed = crm_curve_client(orphan, "nobody");
    zmq_close(orphan);
    assert_int_equal(failed, -1);
    /* and the configuration in place still works */
    void *c = zmq_socket(f->zctx, ZMQ_DEALER);
    assert_int_equal(crm_curve_client(c, "gateway"), 0);
    assert_true(round_trip(f, c, f->endpoint));
}

static void test_keygen_modes(void **state)
{
    fixture_t *f = *state;
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/gateway.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/gateway.pub", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(crm_curve_keygen(f->dir, "../escape"), -1);
    assert_int_equal(crm_curve_keygen(f->dir, ""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_client_is_served),
        cmocka_unit_test(test_known_peer_key_is_served),
        cmocka_unit_test(test_stranger_is_refused),
        cmocka_unit_test(test_wrong_server_key_gets_nothing),
        cmocka_unit_test(test_plain_client_gets_nothing),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_bad_configuration_is_refused),
        cmocka_unit_test(test_keygen_modes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
