/* The blocking front-door client against a scripted ROUTER in a child
 * process: matching replies by id, skipping stale ones, timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "client.pb-c.h"
#include "crm_client.h"
#include "crm_time.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

static char endpoint[128];

static void reply(void *sock, zmq_msg_t *peer, uint64_t id, Crm__Rpc__V1__Code code, const char *body)
{
    Crm__Client__V1__ClientReply r = CRM__CLIENT__V1__CLIENT_REPLY__INIT;
    Crm__Rpc__V1__Status st = CRM__RPC__V1__STATUS__INIT;
    st.code = code;
    st.message = "scripted";
    st.field = code ? "someField" : "";
    r.id = id;
    r.status = &st;
    r.body.data = (uint8_t *)body;
    r.body.len = strlen(body);
    uint8_t buf[256];
    size_t n = crm__client__v1__client_reply__pack(&r, buf);
    zmq_send(sock, zmq_msg_data(peer), zmq_msg_size(peer), ZMQ_SNDMORE);
    zmq_send(sock, buf, n, 0);
}

/* The script: 1st request answered with a stale id then the right one;
 * 2nd answered with an error; 3rd never answered. */
static void fake_gateway(void)
{
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(sock, endpoint) != 0)
        _exit(1);
    for (int i = 0; i < 3; i++) {
        zmq_msg_t peer, body;
        zmq_msg_init(&peer);
        zmq_msg_init(&body);
        zmq_msg_recv(&peer, sock, 0);
        zmq_msg_recv(&body, sock, 0);
        Crm__Client__V1__ClientRequest *req =
            crm__client__v1__client_request__unpack(NULL, zmq_msg_size(&body), zmq_msg_data(&body));
        if (!req)
            _exit(2);
        if (i == 0) {
            reply(sock, &peer, req->id + 1000, 0, "stale");
            reply(sock, &peer, req->id, 0, req->method);
        } else if (i == 1) {
            reply(sock, &peer, req->id, CRM__RPC__V1__CODE__CODE_NOT_FOUND, "");
        }
        crm__client__v1__client_request__free_unpacked(req, NULL);
        zmq_msg_close(&peer);
        zmq_msg_close(&body);
    }
    sleep(5);
    _exit(0);
}

static void test_scripted_exchange(void **state)
{
    snprintf(endpoint, sizeof endpoint, "ipc:///tmp/crm-client-test-%d", getpid());
    pid_t pid = fork();
    if (pid == 0)
        fake_gateway();
    crm_client_t *c = crm_client_new(endpoint);
    assert_non_null(c);
    crm_status_t st;
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal(crm_client_call(c, "pkg.Svc/Echo", "tok", NULL, "", 0, 5000, &st, &out, &len), 0);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_OK);
    assert_int_equal(len, strlen("pkg.Svc/Echo"));
    assert_memory_equal(out, "pkg.Svc/Echo", len);
    free(out);

    assert_int_equal(crm_client_call(c, "pkg.Svc/Missing", NULL, "key", "x", 1, 5000, &st, &out, &len), 0);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_NOT_FOUND);
    assert_string_equal(st.field, "someField");
    assert_null(out);

    int64_t start = crm_time_mono_us();
    assert_int_equal(crm_client_call(c, "pkg.Svc/Silent", NULL, NULL, "", 0, 300, &st, &out, &len), -1);
    int64_t waited = crm_time_mono_us() - start;
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_UNAVAILABLE);
    assert_true(waited >= 290000 && waited < 2000000);
    crm_client_destroy(&c);
    assert_null(c);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(endpoint + strlen("ipc://"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
