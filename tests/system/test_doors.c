/* Bad input on both front doors: each gets a clear coded error naming the
 * field, and the gateway keeps serving. Also the HTTP door's good paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "client.pb-c.h"
#include "crm_mem.h"
#include "harness.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define TWIRP "/twirp/crm.identity.v1.Identity/"

static sys_env_t *env;
static char *admin;
static char auth[256];

static int setup(void **state)
{
    static const char *const extra[] = {"CRM_MAX_BODY=65536", NULL};
    env = sys_start_admin(extra, &admin);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             admin ? admin : "");
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* The gateway still answers after whatever came before. */
static void assert_serving(void)
{
    crm_status_t st;
    Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    Crm__Health__V1__CheckReply *r = sys_call(env, "crm.health.v1.Health/Check", NULL, &req.base,
                                              &crm__health__v1__check_reply__descriptor, &st);
    assert_non_null(r);
    assert_string_equal(r->status, "SERVING");
    crm__health__v1__check_reply__free_unpacked(r, NULL);
}

/* --- ZeroMQ door ---------------------------------------------------------------- */

static void test_zmq_malformed_envelope(void **state)
{
    crm_client_t *c = crm_client_new(env->zmq);
    assert_non_null(c);
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12};
    assert_int_equal(crm_client_send_raw(c, junk, sizeof junk), 0);
    uint8_t *raw;
    long n = crm_client_recv_raw(c, 5000, &raw);
    assert_true(n > 0);
    Crm__Client__V1__ClientReply *r = crm__client__v1__client_reply__unpack(NULL, (size_t)n, raw);
    free(raw);
    assert_non_null(r);
    assert_int_equal(r->status->code, CODE(MALFORMED));
    crm__client__v1__client_reply__free_unpacked(r, NULL);
    crm_client_destroy(&c);
    assert_serving();
}

static void zmq_expect(const char *method, const char *token, const void *body, size_t len,
                       Crm__Rpc__V1__Code code, const char *field)
{
    crm_status_t st;
    uint8_t *out = NULL;
    size_t out_len;
    assert_int_equal(crm_client_call(env->client, method, token, NULL, body, len, SYS_TIMEOUT_MS, &st,
                                     &out, &out_len), 0);
    free(out);
    assert_int_equal(st.code, code);
    if (field)
        assert_string_equal(st.field, field);
    assert_true(strlen(st.message) > 0);
}

static void test_zmq_bad_requests(void **state)
{
    zmq_expect("crm.identity.v1.Identity/NoSuchMethod", admin, "", 0, CODE(BAD_ROUTE), "method");
    zmq_expect("no-slash-at-all", admin, "", 0, CODE(BAD_ROUTE), "method");
    zmq_expect("crm.identity.v1.IdentityInternal/Authenticate", NULL, "", 0, CODE(BAD_ROUTE), "method");
    const uint8_t bad_body[] = {0x0a, 0x80}; /* a string field whose length runs off the end */
    zmq_expect("crm.identity.v1.Identity/GetUser", admin, bad_body, sizeof bad_body, CODE(MALFORMED), NULL);
    zmq_expect("crm.identity.v1.Identity/WhoAmI", NULL, "", 0, CODE(UNAUTHENTICATED), "token");
    zmq_expect("crm.identity.v1.Identity/WhoAmI", "bogus", "", 0, CODE(UNAUTHENTICATED), "token");
    size_t big = 65536 + 10;
    uint8_t *huge = crm_calloc(1, big);
    zmq_expect("crm.identity.v1.Identity/WhoAmI", admin, huge, big, CODE(RESOURCE_EXHAUSTED), "body");
    free(huge);
    assert_serving();
}

/* --- HTTP door ---------------------------------------------------------------- */

static int post(const char *method, const char *headers, const char *body, char **out)
{
    char path[256];
    snprintf(path, sizeof path, TWIRP "%s", method);
    return sys_http(env, "POST", path, headers, body, strlen(body), out, NULL);
}

static void http_expect(const char *method, const char *headers, const char *body, int status,
                        const char *code, const char *field)
{
    char *out = NULL;
    int got = post(method, headers, body, &out);
    assert_int_equal(got, status);
    assert_non_null(out);
    char want[128];
    snprintf(want, sizeof want, "\"code\":\"%s\"", code);
    if (!strstr(out, want))
        fail_msg("expected %s in %s", want, out);
    if (field) {
        snprintf(want, sizeof want, "\"field\":\"%s\"", field);
        if (!strstr(out, want))
            fail_msg("expected %s in %s", want, out);
    }
    assert_non_null(strstr(out, "\"msg\":\""));
    free(out);
}

static void test_http_good_json_and_protobuf(void **state)
{
    char *out = NULL;
    assert_int_equal(post("WhoAmI", auth, "{}", &out), 200);
    assert_non_null(strstr(out, "\"login\":\"admin\""));
    assert_non_null(strstr(out, "\"salesAccess\":\"SALES_ACCESS_MANAGER\""));
    free(out);

    /* the same call in application/protobuf */
    char headers[300];
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/protobuf\r\n", admin);
    size_t len = 0;
    assert_int_equal(sys_http(env, "POST", TWIRP "WhoAmI", headers, "", 0, &out, &len), 200);
    Crm__Identity__V1__User *u = crm__identity__v1__user__unpack(NULL, len, (uint8_t *)out);
    assert_non_null(u);
    assert_string_equal(u->login, "admin");
    crm__identity__v1__user__free_unpacked(u, NULL);
    free(out);

    /* keys present make the mask (see ARCHITECTURE.md, Data conventions) */
    assert_int_equal(post("UpdateUser", auth, "{\"id\": 1, \"email\": \"admin@example.com\"}", &out), 200);
    assert_non_null(strstr(out, "\"email\":\"admin@example.com\""));
    assert_non_null(strstr(out, "\"name\":\"Administrator\""));
    free(out);

    assert_int_equal(sys_http(env, "GET", "/healthz", NULL, "", 0, &out, NULL), 200);
    free(out);
    assert_int_equal(sys_http(env, "GET", "/metrics", NULL, "", 0, &out, NULL), 200);
    assert_non_null(strstr(out, "crm_gateway_requests_total{method=\"crm.identity.v1.Identity/WhoAmI\",code=\"ok\"}"));
    assert_non_null(strstr(out, "crm_gateway_request_seconds_bucket{method=\"crm.identity.v1.Identity/WhoAmI\",le=\"+Inf\"}"));
    free(out);
}

static void test_http_bad_requests(void **state)
{
    http_expect("WhoAmI", auth, "{not json", 400, "malformed", NULL);
    http_expect("GetUser", auth, "{\"id\": \"twelve\"}", 400, "invalid_argument", "id");
    http_expect("GetUser", auth, "{\"id\": 1, \"shoeSize\": 44}", 400, "invalid_argument", "shoeSize");
    http_expect("CreateUser", auth, "{\"login\": \"x\", \"isAdmin\": \"yes\"}", 400, "invalid_argument", "isAdmin");
    http_expect("CreateUser", auth, "{\"login\": \"x\", \"salesAccess\": \"SALES_ACCESS_KING\"}", 400,
                "invalid_argument", "salesAccess");
    http_expect("CreateUser", auth, "{\"login\": \"utf\", \"name\": \"\xc3\x28\"}", 400, "malformed", NULL);
    http_expect("NoSuchMethod", auth, "{}", 404, "bad_route", NULL);
    http_expect("WhoAmI", "Content-Type: application/json\r\n", "{}", 401, "unauthenticated", "token");
    http_expect("WhoAmI", "Authorization: Basic abc\r\nContent-Type: application/json\r\n", "{}", 401,
                "unauthenticated", "token");
    http_expect("WhoAmI", "Authorization: Bearer nope\r\nContent-Type: application/json\r\n", "{}", 401,
                "unauthenticated", "token");
    http_expect("WhoAmI", "Content-Type: text/plain\r\n", "{}", 404, "bad_route", NULL);

    char *big = crm_malloc(70000);
    memset(big, ' ', 69999);
    big[0] = '{';
    big[69998] = '}';
    big[69999] = '\0';
    http_expect("WhoAmI", auth, big, 429, "resource_exhausted", "body");
    free(big);

    char *out = NULL;
    /* bytes that are not UTF-8, echoed into the error, once aborted the gateway */
    assert_int_equal(sys_http(env, "POST", "/twirp/x%FF%C3/y", auth, "{}", 2, &out, NULL), 404);
    assert_non_null(strstr(out, "\"code\":\"bad_route\""));
    free(out);
    assert_int_equal(sys_http(env, "GET", "/nowhere", NULL, "", 0, &out, NULL), 404);
    free(out);
    assert_int_equal(sys_http(env, "PUT", TWIRP "WhoAmI", auth, "{}", 2, &out, NULL), 404);
    free(out);
    assert_serving();
}

static void test_http_idempotency_header(void **state)
{
    char headers[400], *a = NULL, *b = NULL;
    snprintf(headers, sizeof headers, "%sIdempotency-Key: http-key-1\r\n", auth);
    const char *body = "{\"login\":\"httpuser\",\"name\":\"H\",\"password\":\"http-pass-1\"}";
    assert_int_equal(post("CreateUser", headers, body, &a), 200);
    assert_int_equal(post("CreateUser", headers, body, &b), 200);
    assert_string_equal(a, b);
    free(a);
    free(b);
    assert_int_equal(post("CreateUser", auth, body, &a), 409); /* a new key: the login is taken */
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zmq_malformed_envelope),
        cmocka_unit_test(test_zmq_bad_requests),
        cmocka_unit_test(test_http_good_json_and_protobuf),
        cmocka_unit_test(test_http_bad_requests),
        cmocka_unit_test(test_http_idempotency_header),
    };
    return cmocka_run_group_tests_name("doors", tests, setup, teardown);
}
