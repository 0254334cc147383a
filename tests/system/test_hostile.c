/* Hostile clients at both doors: body bombs before and after
 * authentication, oversized calls to every service, too many connections
 * from one address, one session's unread replies from many addresses,
 * fields this version does not know. Every request is
 * refused with a coded error, the gateway's memory stays bounded, and
 * everyone else keeps being served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "activities.pb-c.h"
#include "crm_mem.h"
#include "harness.h"
#include "identity.pb-c.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define BOMB_BYTES (8 << 20)
#define BOMBERS 4
#define PER_ADDRESS 8 /* CRM_HTTP_PER_ADDRESS in setup */
#define MIB (1024 * 1024)

static sys_env_t *env;
static char *admin, *sales;

/* Starts the system with extra settings, the administrator and sales
 * logged in. */
static int start_system(const char *const *extra)
{
    env = sys_start_admin(extra, &admin);
    if (!env)
        return -1;
    sales = sys_new_sales_user(env, admin, "hostile.sales", "Sam", "SALES_ACCESS_OWN_LEADS", NULL);
    return 0;
}

static int setup(void **state)
{
    /* ASan's quarantine would keep every freed block counted in the RSS */
    /* hashes of a real cost (16 MiB, not the harness's 1 MiB), so that a
     * flood of them would show on identity's loop if they ran there */
    static const char *const extra[] = {"CRM_HTTP_PER_ADDRESS=8", "CRM_PWHASH_MEM_KIB=16384", "CRM_REPORT_MAX_ROWS=3",
                                        "CRM_INBOX_KEEP_READ_SECONDS=3",
                                        "ASAN_OPTIONS=quarantine_size_mb=8:detect_leaks=1", NULL};
    return start_system(extra);
}

static int teardown(void **state)
{
    free(admin);
    free(sales);
    return sys_stop(env) == 0 ? 0 : -1;
}


static void assert_healthz(void)
{
    char *out = NULL;
    assert_int_equal(sys_http(env, "GET", "/healthz", NULL, NULL, 0, &out, NULL), 200);
    free(out);
}

/* {"attachments":[{},{},...]} of about n bytes: each 3 bytes becomes a
 * jansson object and a protobuf message, some 70 times their size. */
static char *json_bomb(size_t n)
{
    char *b = crm_malloc(n + 64);
    size_t at = (size_t)sprintf(b, "{\"doc\":{\"model\":\"lead\",\"id\":\"1\"},\"attachments\":[{}");
    while (at + 8 < n) {
        memcpy(b + at, ",{}", 3);
        at += 3;
    }
    strcpy(b + at, "]}");
    return b;
}

typedef struct {
    const char *headers;
    const char *body;
    size_t len;
    int status;
    char *out;
} bomber_t;

static void *bomb(void *arg)
{
    bomber_t *b = arg;
    b->status = sys_http(env, "POST", "/twirp/crm.activities.v1.Activities/PostMessage", b->headers, b->body,
                         b->len, &b->out, NULL);
    return NULL;
}

/* BOMBERS clients at once send body; each must get status with code, and
 * /healthz answers meanwhile. Returns the gateway's peak RSS growth in KiB
 * (the peak is reset first). */
static long bombard(const char *headers, const char *body, int status, const char *code)
{
    long before = sys_reset_peak(env->pid[SYS_GATEWAY]);
    pthread_t t[BOMBERS];
    bomber_t b[BOMBERS];
    for (int i = 0; i < BOMBERS; i++) {
        b[i] = (bomber_t){headers, body, strlen(body), 0, NULL};
        assert_int_equal(pthread_create(&t[i], NULL, bomb, &b[i]), 0);
    }
    assert_healthz();
    for (int i = 0; i < BOMBERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(b[i].status, status);
        assert_non_null(b[i].out);
        char want[64];
        snprintf(want, sizeof want, "\"code\":\"%s\"", code);
        if (!strstr(b[i].out, want))
            fail_msg("expected %s in %s", want, b[i].out);
        free(b[i].out);
    }
    assert_healthz();
    return sys_proc_kib(env->pid[SYS_GATEWAY], "VmHWM") - before;
}

static void test_http_bombs(void **state)
{
    char *body = json_bomb(BOMB_BYTES);
    /* before authentication not a byte of the body is kept */
    long grew = bombard("Content-Type: application/json\r\n", body, 401, "unauthenticated");
    printf("  gateway peak RSS growth, %d unauthenticated %d MiB bombs: %ld KiB\n", BOMBERS, BOMB_BYTES / MIB, grew);
    assert_true(grew < 16 * 1024);
    grew = bombard("Content-Type: application/json\r\nAuthorization: Bearer forged-token\r\n", body, 401,
                   "unauthenticated");
    assert_true(grew < 16 * 1024);
    /* after authentication the bodies are read, and the decoding of each
     * is held to 8 times its size: four bodies and one decode at a time;
     * the budget counts what is asked of malloc, so the allocator's own
     * overhead per block (and ASan's redzones, here) is allowed once more */
    char headers[256];
    snprintf(headers, sizeof headers, "Content-Type: application/json\r\nAuthorization: Bearer %s\r\n", sales);
    grew = bombard(headers, body, 429, "resource_exhausted");
    printf("  gateway peak RSS growth, %d authenticated %d MiB bombs: %ld KiB\n", BOMBERS, BOMB_BYTES / MIB, grew);
    assert_true(grew < (long)(BOMBERS * BOMB_BYTES + 2 * 8 * BOMB_BYTES + 64 * MIB) / 1024);
    free(body);
}

/* The same bomb as protobuf on the ZeroMQ door: attachments of zero bytes,
 * two bytes each on the wire. */
static void test_zmq_bombs(void **state)
{
    size_t n = BOMB_BYTES;
    uint8_t *body = crm_malloc(n);
    for (size_t i = 0; i + 1 < n; i += 2) {
        body[i] = 4 << 3 | 2; /* attachments, length-delimited */
        body[i + 1] = 0;
    }
    const char *method = "crm.activities.v1.Activities/PostMessage";
    crm_status_t st;
    uint8_t *out = NULL;
    size_t out_len;
    const char *tokens[] = {NULL, "forged-token", sales};
    const Crm__Rpc__V1__Code want[] = {CODE(UNAUTHENTICATED), CODE(UNAUTHENTICATED), CODE(RESOURCE_EXHAUSTED)};
    long before = sys_reset_peak(env->pid[SYS_GATEWAY]);
    for (int i = 0; i < 3; i++) {
        for (int k = 0; k < BOMBERS; k++) {
            assert_int_equal(crm_client_call(env->client, method, tokens[i], NULL, body, n, SYS_TIMEOUT_MS, &st,
                                             &out, &out_len), 0);
            free(out);
            out = NULL;
            assert_int_equal(st.code, want[i]);
        }
        assert_healthz();
    }
    long grew = sys_proc_kib(env->pid[SYS_GATEWAY], "VmHWM") - before;
    printf("  gateway peak RSS growth, %d ZeroMQ bombs: %ld KiB\n", 3 * BOMBERS, grew);
    assert_true(grew < (long)(BOMB_BYTES + 2 * 8 * BOMB_BYTES + 64 * MIB) / 1024);
    free(body);
}

/* Past a method's limit the gateway answers, so that the service never
 * meets (and libzmq never drops the connection for) an oversized message;
 * another user of the same service is answered at once after it. */
static void test_oversized_calls_to_every_service(void **state)
{
    static const char *const methods[] = {
        "crm.identity.v1.Identity/WhoAmI", "crm.pipeline.v1.Pipeline/ListTags",
        "crm.activities.v1.Activities/ListCalls", "crm.notifications.v1.Notifications/UnreadCount"};
    size_t n = 2 * MIB;
    uint8_t *body = crm_calloc(1, n);
    body[0] = 0x7a; /* field 15, length-delimited: one unknown field of the rest */
    body[1] = 0xfa;
    body[2] = 0xff;
    body[3] = 0x7f;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        crm_status_t st;
        uint8_t *out = NULL;
        size_t out_len;
        assert_int_equal(crm_client_call(env->client, methods[i], admin, NULL, body, n, SYS_TIMEOUT_MS, &st,
                                         &out, &out_len), 0);
        assert_int_equal(st.code, CODE(RESOURCE_EXHAUSTED));
        assert_string_equal(st.field, "body");
        free(out);
        int64_t t0 = sys_now_ms();
        assert_int_equal(crm_client_call(env->client, methods[i], sales, NULL, "", 0, SYS_TIMEOUT_MS, &st, &out,
                                         &out_len), 0);
        assert_int_equal(st.code, CODE(OK));
        free(out);
        printf("  %s after an oversized call: answered in %lld ms\n", methods[i], (long long)(sys_now_ms() - t0));
    }
    free(body);
}

/* A field this version does not know is not refused: clients built from a
 * newer proto keep working. (That the gateway drops such fields before
 * forwarding is not visible from outside: protobuf-c would skip them too.) */
static void test_unknown_fields_accepted(void **state)
{
    const uint8_t body[] = {0xa0, 0x06, 0x01, 0xaa, 0x06, 0x02, 'h', 'i'}; /* fields 100 and 101 */
    crm_status_t st;
    Crm__Identity__V1__User *u = NULL;
    uint8_t *out = NULL;
    size_t out_len;
    assert_int_equal(crm_client_call(env->client, "crm.identity.v1.Identity/WhoAmI", sales, NULL, body, sizeof body,
                                     SYS_TIMEOUT_MS, &st, &out, &out_len), 0);
    assert_int_equal(st.code, CODE(OK));
    u = crm__identity__v1__user__unpack(NULL, out_len, out);
    assert_non_null(u);
    assert_string_equal(u->login, "hostile.sales");
    crm__identity__v1__user__free_unpacked(u, NULL);
    free(out);
}

/* A connection to the HTTP door from source (an address to bind, NULL:
 * any). */
static int connect_http_from(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    assert_true(fd >= 0);
    /* a fixed receive buffer, so that a client that reads nothing holds its
     * replies in the gateway on every machine: left to itself Linux grows
     * it up to tcp_rmem's maximum (32 MiB on some), where a whole 9 MiB
     * reply can sit, sent as far as the gateway can tell */
    int rcvbuf = 64 << 10;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    if (source) {
        assert_int_equal(inet_pton(AF_INET, source, &sa.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    }
    sa.sin_port = htons((uint16_t)env->http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static int connect_http(void) { return connect_http_from(NULL); }

/* One address holds at most PER_ADDRESS connections: the next is closed at
 * once; when they go, the address is served again. */
static void test_connections_per_address(void **state)
{
    int fds[PER_ADDRESS];
    for (int i = 0; i < PER_ADDRESS; i++)
        fds[i] = connect_http();
    /* the gateway accepts them on its next turn; let it */
    usleep(200 * 1000);
    int extra = connect_http();
    struct pollfd p = {extra, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    char c;
    assert_true(read(extra, &c, 1) <= 0); /* closed, not served */
    close(extra);
    for (int i = 0; i < PER_ADDRESS; i++)
        close(fds[i]);
    usleep(200 * 1000);
    assert_healthz();
}

/* A ZeroMQ client of the gateway whose connection comes from source (a
 * loopback address other than 127.0.0.1: another client's address). */
static crm_client_t *client_from(const char *source)
{
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://%s:0;%s", source, env->zmq + strlen("tcp://"));
    crm_client_t *c = crm_client_new(ep);
    assert_non_null(c);
    return c;
}

static Crm__Rpc__V1__Code login_from(crm_client_t *c, const char *login, const char *password)
{
    Crm__Identity__V1__LoginRequest req = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.login = (char *)login;
    req.password = (char *)password;
    crm_status_t st;
    Crm__Identity__V1__LoginReply *r = crm_client_call_msg(c, "crm.identity.v1.Identity/Login", NULL, &req.base,
                                                           &crm__identity__v1__login_reply__descriptor,
                                                           SYS_TIMEOUT_MS, &st);
    if (r)
        crm__identity__v1__login_reply__free_unpacked(r, NULL);
    return r ? CODE(OK) : st.code;
}

/* Five wrong passwords from one address lock that address out of that
 * login; the user at another address still logs in. */
static void test_failed_logins_lock_the_address_not_the_user(void **state)
{
    int64_t id = sys_create_user(env, admin, "victim", "victim-pass-1", CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_OWN_LEADS, 0);
    assert_true(id > 0);
    crm_client_t *guesser = client_from("127.0.0.3"), *user = client_from("127.0.0.4");
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_from(guesser, "victim", "guess-pass-1"), CODE(UNAUTHENTICATED));
    assert_int_equal(login_from(guesser, "victim", "victim-pass-1"), CODE(RESOURCE_EXHAUSTED));
    assert_int_equal(login_from(user, "victim", "victim-pass-1"), CODE(OK));
    assert_int_equal(login_from(user, "Victim", "victim-pass-1"), CODE(OK));
    crm_client_destroy(&guesser);
    crm_client_destroy(&user);
}

/* 1 if the file holds text anywhere. */
static int file_holds(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 20, n = 0, len = strlen(text);
    char *buf = crm_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = crm_realloc(buf, cap);
        }
    }
    fclose(f);
    int found = 0;
    for (size_t i = 0; !found && i + len <= n; i++)
        found = !memcmp(buf + i, text, len);
    free(buf);
    return found;
}

/* A keyed CreateUser's reply (with its invitation token) is kept for a
 * retry, but neither it nor the client's key is in the store in clear,
 * so a copy of the store gives no one the invitation. The generated
 * administrator password is not in any log. */
static void test_secrets_at_rest(void **state)
{
    const char *key = "invite-key-7f3a9c";
    crm_status_t st;
    uint8_t *out = NULL;
    size_t out_len;
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = "invited2";
    req.name = "Ivo";
    size_t n = crm__identity__v1__create_user_request__get_packed_size(&req);
    uint8_t body[256];
    crm__identity__v1__create_user_request__pack(&req, body);
    assert_int_equal(crm_client_call(env->client, "crm.identity.v1.Identity/CreateUser", admin, key, body, n,
                                     SYS_TIMEOUT_MS, &st, &out, &out_len), 0);
    assert_int_equal(st.code, CODE(OK));
    Crm__Identity__V1__CreateUserReply *r = crm__identity__v1__create_user_reply__unpack(NULL, out_len, out);
    free(out);
    assert_non_null(r);
    assert_true(strlen(r->invite_token) > 20);
    /* the retry gets the same reply, token included */
    assert_int_equal(crm_client_call(env->client, "crm.identity.v1.Identity/CreateUser", admin, key, body, n,
                                     SYS_TIMEOUT_MS, &st, &out, &out_len), 0);
    Crm__Identity__V1__CreateUserReply *again = crm__identity__v1__create_user_reply__unpack(NULL, out_len, out);
    free(out);
    assert_non_null(again);
    assert_string_equal(again->invite_token, r->invite_token);
    char path[512];
    snprintf(path, sizeof path, "%s/identity/data.mdb", env->dir);
    assert_false(file_holds(path, r->invite_token));
    assert_false(file_holds(path, key));
    assert_true(file_holds(path, "invited2")); /* the search itself works */
    crm__identity__v1__create_user_reply__free_unpacked(r, NULL);
    crm__identity__v1__create_user_reply__free_unpacked(again, NULL);
}

/* A report of more groups than --report-max-rows is refused, never cut;
 * narrowed, it is answered. */
static void test_report_refused_not_cut(void **state)
{
    const char *stages[] = {"New", "Qualification", "Proposition", "Negotiation"};
    json_t *team = OK(admin, "crm.identity.v1.Identity/CreateTeam", "{\"name\":\"Report team\"}");
    int64_t t = sys_jint(team, "id");
    json_decref(team);
    for (int i = 0; i < 4; i++) {
        json_t *l = OK(admin, "crm.pipeline.v1.Pipeline/CreateLead",
                       "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"R%d\",\"teamId\":\"%lld\",\"stageId\":\"%lld\"}",
                       i, (long long)(i < 2 ? t : 0), (long long)sys_stage_id(env, admin, stages[i]));
        json_decref(l);
    }
    ERR(CODE(RESOURCE_EXHAUSTED), "groupBy", admin, "crm.pipeline.v1.Pipeline/PipelineReport",
        "{\"groupBy\":\"GROUP_BY_STAGE\"}");
    json_t *r = OK(admin, "crm.pipeline.v1.Pipeline/PipelineReport", "{\"groupBy\":\"GROUP_BY_STAGE\",\"teamId\":\"%lld\"}",
                   (long long)t);
    assert_int_equal(json_array_size(json_object_get(r, "rows")), 2);
    json_decref(r);
}

/* Read inbox entries past their retention go; unread ones stay, and the
 * unread count is untouched. */
static void test_inbox_retention(void **state)
{
    json_t *me = OK(sales, "crm.identity.v1.Identity/WhoAmI", "{}");
    int64_t sales_id = sys_jint(me, "id");
    json_decref(me);
    int64_t lead = sys_new_opportunity(env, admin, "Kept or not", sales_id);
    json_decref(OK(admin, "crm.pipeline.v1.Pipeline/UpdateLead", "{\"id\":\"%lld\",\"stageId\":\"%lld\"}",
                   (long long)lead, (long long)sys_stage_id(env, admin, "Qualification")));
    int64_t before = sys_wait_unread(env, sales, 2, SYS_TIMEOUT_MS);
    assert_true(before >= 2);
    json_t *inbox = OK(sales, "crm.notifications.v1.Notifications/ListInbox", "{}");
    json_t *items = json_object_get(inbox, "notifications");
    size_t total = json_array_size(items);
    int64_t oldest = sys_jint(json_array_get(items, total - 1), "id");
    json_decref(inbox);
    json_decref(OK(sales, "crm.notifications.v1.Notifications/MarkRead", "{\"ids\":[\"%lld\"]}", (long long)oldest));
    int64_t until = sys_now_ms() + SYS_TIMEOUT_MS;
    size_t now = total;
    while (now == total && sys_now_ms() < until) {
        usleep(200 * 1000);
        inbox = OK(sales, "crm.notifications.v1.Notifications/ListInbox", "{}");
        now = json_array_size(json_object_get(inbox, "notifications"));
        json_decref(inbox);
    }
    assert_int_equal(now, total - 1);
    assert_int_equal(sys_unread(env, sales), before - 1);
    inbox = OK(sales, "crm.notifications.v1.Notifications/ListInbox", "{}");
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(inbox, "notifications"), i, it) {
        assert_true(sys_jint(it, "id") != oldest);
        assert_false(json_is_true(json_object_get(it, "read")));
    }
    json_decref(inbox);
}

/* Replies wait in the gateway until their reader takes them, and count
 * against the reader's address: a client that asks for large attachments
 * and reads none of them is refused past its budget (64 MiB), not given the
 * gateway's memory; once it reads, it is served again. */
#define ATTACHMENT (9 << 20)
#define READERS PER_ADDRESS /* the connections one address may hold here */

/* Sends a POST as sales from source (an address to bind, NULL: any) and
 * reads nothing: the connection. */
static int http_send_only_from(const char *source, const char *path, const void *body, size_t len)
{
    int fd = connect_http_from(source);
    char head[512];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/protobuf\r\nContent-Length: %zu\r\n\r\n", path, sales, len);
    assert_int_equal(write(fd, head, (size_t)n), n);
    assert_int_equal(write(fd, body, len), (ssize_t)len);
    return fd;
}

static int http_send_only(const char *path, const void *body, size_t len)
{
    return http_send_only_from(NULL, path, body, len);
}

/* The status of the answer on fd, read whole. */
static int http_read_status(int fd)
{
    char buf[65536];
    int status = -1;
    ssize_t r, total = 0;
    while ((r = read(fd, buf, sizeof buf - 1)) > 0) {
        if (total == 0) {
            buf[r] = '\0';
            sscanf(buf, "HTTP/1.%*d %d", &status);
        }
        total += r;
    }
    close(fd);
    return status;
}

/* Waits (30 s at most) until n answers of size bytes to unread requests
 * are made: held for their readers, or refused since refused_before. A
 * fixed sleep would let a slow machine serve a reader's answer only after
 * the reader before it freed the budget. */
static void wait_answers_made(int n, size_t size, long long refused_before)
{
    for (int64_t until = sys_now_ms() + 30000; sys_now_ms() < until; usleep(100 * 1000)) {
        long long held = sys_gateway_metric(env, "crm_gateway_bytes_in_flight", 1) / (long long)size;
        if (held + sys_gateway_metric(env, "crm_gateway_budget_refused_total", 1) - refused_before >= n)
            return;
    }
}

/* Once the n answers on fds are made (wait_answers_made), reads them all:
 * *served gets how many were 200, *refused how many 429. */
static void read_unread_answers(const int *fds, int n, size_t size, long long refused_before, int *served,
                                int *refused)
{
    wait_answers_made(n, size, refused_before);
    *served = *refused = 0;
    for (int i = 0; i < n; i++) {
        int status = http_read_status(fds[i]);
        *served += status == 200;
        *refused += status == 429;
        if (status != 200 && status != 429)
            printf("  reader %d: status %d\n", i, status);
    }
}

#define GET_ATTACHMENT "/twirp/crm.activities.v1.Activities/GetAttachment"

/* Sends n GetAttachment requests (body, of an attachment of size bytes) as
 * sales, reads none until every answer is made, then reads them all
 * (read_unread_answers). They come from addresses addresses in turn
 * (127.0.0.20, .21, ...), or 0: the default. */
static void unread_big_replies(const uint8_t *body, size_t len, size_t size, int n, int addresses, int *served,
                               int *refused)
{
    long long refused_before = sys_gateway_metric(env, "crm_gateway_budget_refused_total", 1);
    int fds[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        char source[32];
        snprintf(source, sizeof source, "127.0.0.%d", 20 + (addresses ? i % addresses : 0));
        fds[i] = http_send_only_from(addresses ? source : NULL, GET_ATTACHMENT, body, len);
    }
    read_unread_answers(fds, n, size, refused_before, served, refused);
}

static void test_slow_readers(void **state)
{
    uint8_t body[32];
    size_t len = sys_big_attachment(env, sales, "Big files", ATTACHMENT, body);
    const char *path = GET_ATTACHMENT;
    int served, refused;
    unread_big_replies(body, len, ATTACHMENT, READERS, 0, &served, &refused);
    printf("  %d unread replies of %d MiB from one address: %d served, %d refused\n", READERS, ATTACHMENT >> 20,
           served, refused);
    assert_int_equal(served + refused, READERS);
    assert_true(served >= 1 && refused >= 1);
    assert_true((long)served * ATTACHMENT <= 64L * MIB);
    /* read and gone: the budget is back, and the refusals were counted */
    assert_int_equal(http_read_status(http_send_only(path, body, len)), 200);
    char *metrics = NULL;
    assert_int_equal(sys_http(env, "GET", "/metrics", NULL, NULL, 0, &metrics, NULL), 200);
    const char *line = strstr(metrics, "\ncrm_gateway_budget_refused_total ");
    assert_non_null(line);
    assert_true(atol(line + strlen("\ncrm_gateway_budget_refused_total ")) >= refused);
    assert_non_null(strstr(metrics, "\ncrm_gateway_bytes_in_flight 0\n"));
    free(metrics);
}

/* One session's unread replies count against it from whatever address it
 * reads: spread over two addresses, each well under its own budget, a
 * session that reads none of its large answers is still refused past its
 * budget (--max-in-flight-per-session), so it cannot take the gateway's
 * whole budget by using more addresses. A system of its own, whose
 * sessions may hold 16 MiB (the least the gateway takes: the largest JSON
 * body), so that a few answers show it. */
#define SESSION_BUDGET (16 * MIB)
#define SESSION_ATTACHMENT (6 * MIB)
#define SESSION_ADDRESSES 2
#define SESSION_READERS (SESSION_ADDRESSES * 2) /* 12 MiB an address, 24 MiB the session */

static int setup_session_budget(void **state)
{
    static const char *const extra[] = {"CRM_MAX_IN_FLIGHT_PER_SESSION=16777216", "CRM_DEADLINE_MS=30000",
                                        "ASAN_OPTIONS=quarantine_size_mb=8:detect_leaks=1", NULL};
    return start_system(extra);
}

static void test_session_budget(void **state)
{
    uint8_t body[32];
    size_t len = sys_big_attachment(env, sales, "Big files for a session", SESSION_ATTACHMENT, body);
    int served, refused;
    unread_big_replies(body, len, SESSION_ATTACHMENT, SESSION_READERS, SESSION_ADDRESSES, &served, &refused);
    printf("  %d unread replies of %d MiB for one session from %d addresses: %d served, %d refused\n",
           SESSION_READERS, SESSION_ATTACHMENT >> 20, SESSION_ADDRESSES, served, refused);
    assert_int_equal(served + refused, SESSION_READERS);
    assert_true(served >= 1 && refused >= 1);
    assert_true((long)served * SESSION_ATTACHMENT <= SESSION_BUDGET);
    /* read and gone: the session is served again, and holds nothing */
    assert_int_equal(http_read_status(http_send_only_from("127.0.0.20", GET_ATTACHMENT, body, len)), 200);
    assert_int_equal(sys_gateway_metric(env, "crm_gateway_bytes_in_flight", 1), 0);
}

#define FLOODERS 8
#define FLOOD_MS 3000

typedef struct {
    int index;
    int sent, refused, denied, other;
} flooder_t;

static volatile int flooding;

static void *flood(void *arg)
{
    flooder_t *f = arg;
    crm_client_t *c = client_from("127.0.0.5");
    while (flooding) {
        char login[64];
        snprintf(login, sizeof login, "nobody-%d-%d", f->index, f->sent);
        Crm__Rpc__V1__Code code = login_from(c, login, "any-password-1");
        f->sent++;
        if (code == CODE(RESOURCE_EXHAUSTED))
            f->refused++;
        else if (code == CODE(UNAUTHENTICATED))
            f->denied++;
        else
            f->other++;
    }
    crm_client_destroy(&c);
    return NULL;
}

static int cmp_ms(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Logins with made-up names from eight clients at one address, as fast as
 * they are answered: identity's loop stays free (a logged-in user's WhoAmI
 * is served by it meanwhile) and an administrator at another address logs
 * in. The figures are printed; the bounds are generous on purpose (speed
 * is the benchmark's to judge). */
static void test_login_flood(void **state)
{
    pthread_t t[FLOODERS];
    flooder_t f[FLOODERS];
    flooding = 1;
    for (int i = 0; i < FLOODERS; i++) {
        f[i] = (flooder_t){.index = i};
        assert_int_equal(pthread_create(&t[i], NULL, flood, &f[i]), 0);
    }
    usleep(300 * 1000); /* the flood is on */
    crm_client_t *admin_client = client_from("127.0.0.6");
    int64_t t0 = sys_now_ms();
    assert_int_equal(login_from(admin_client, "admin", SYS_ADMIN_PASSWORD), CODE(OK));
    int64_t admin_ms = sys_now_ms() - t0;
    static int64_t lat[100000];
    int n = 0;
    int64_t end = sys_now_ms() + FLOOD_MS;
    while (sys_now_ms() < end && n < 100000) {
        crm_status_t st;
        uint8_t *out = NULL;
        size_t out_len;
        int64_t s0 = sys_now_ms();
        assert_int_equal(crm_client_call(env->client, "crm.identity.v1.Identity/WhoAmI", sales, NULL, "", 0,
                                         SYS_TIMEOUT_MS, &st, &out, &out_len), 0);
        lat[n++] = sys_now_ms() - s0;
        assert_int_equal(st.code, CODE(OK));
        free(out);
    }
    flooding = 0;
    int sent = 0, refused = 0, denied = 0, other = 0;
    for (int i = 0; i < FLOODERS; i++) {
        pthread_join(t[i], NULL);
        sent += f[i].sent;
        refused += f[i].refused;
        denied += f[i].denied;
        other += f[i].other;
    }
    qsort(lat, (size_t)n, sizeof lat[0], cmp_ms);
    int64_t p99 = lat[(size_t)n * 99 / 100];
    printf("  login flood: %d logins (%d refused at once, %d checked), admin Login %lld ms, "
           "WhoAmI p99 %lld ms over %d calls\n", sent, refused, denied, (long long)admin_ms, (long long)p99, n);
    assert_int_equal(other, 0);
    assert_true(refused > 0);  /* the flood met its bound */
    assert_true(denied > 0);
    assert_true(admin_ms < 5000);
    assert_true(p99 < 1000);
    crm_client_destroy(&admin_client);
}

/* Behind a reverse proxy the operator names (--trusted-proxies), the
 * client's address is the one the proxy writes in X-Forwarded-For: failed
 * logins lock that address, not the proxy's (every user's); from any other
 * peer the header is the client's own word and is ignored. */
static int setup_proxies(void **state)
{
    static const char *const extra[] = {"CRM_TRUSTED_PROXIES=127.0.0.1/32, 10.0.0.0/8", NULL};
    return start_system(extra);
}

static int login_over_http(const char *source, const char *xff, const char *login, const char *password)
{
    int fd = connect_http_from(source);
    char body[256], head[512];
    int blen = snprintf(body, sizeof body, "{\"login\":\"%s\",\"password\":\"%s\"}", login, password);
    /* "a|b": two header lines, as a proxy that adds its own line sends */
    char xff_line[200] = "";
    if (xff) {
        const char *bar = strchr(xff, '|');
        if (bar)
            snprintf(xff_line, sizeof xff_line, "X-Forwarded-For: %.*s\r\nX-Forwarded-For: %s\r\n", (int)(bar - xff),
                     xff, bar + 1);
        else
            snprintf(xff_line, sizeof xff_line, "X-Forwarded-For: %s\r\n", xff);
    }
    int n = snprintf(head, sizeof head,
                     "POST /twirp/crm.identity.v1.Identity/Login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", xff_line, blen, body);
    assert_int_equal(write(fd, head, (size_t)n), n);
    return http_read_status(fd);
}

static void test_client_address_behind_a_trusted_proxy(void **state)
{
    assert_true(sys_create_user(env, admin, "proxied", "proxied-pass-1", CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_OWN_LEADS,
                                0) > 0);
    /* through the proxy (127.0.0.1): a guesser at 203.0.113.7, whose own
     * proxy (10.1.2.3, trusted too) came first in the chain */
    const char *guesser = "203.0.113.7, 10.1.2.3";
    for (int i = 0; i < 5; i++)
        assert_int_equal(login_over_http("127.0.0.1", guesser, "proxied", "guess-pass-1"), 401);
    assert_int_equal(login_over_http("127.0.0.1", guesser, "proxied", "proxied-pass-1"), 429);
    /* the real user, through the same proxy from elsewhere, is not locked out */
    assert_int_equal(login_over_http("127.0.0.1", "198.51.100.4", "proxied", "proxied-pass-1"), 200);
    /* a client that leftmost-pads the header is still found at its hop */
    assert_int_equal(login_over_http("127.0.0.1", "198.51.100.4, 203.0.113.7", "proxied", "proxied-pass-1"), 429);
    /* and a proxy that adds a line of its own after the client's forged one
     * (HAProxy's forwardfor) is read to its last line */
    assert_int_equal(login_over_http("127.0.0.1", "198.51.100.77|203.0.113.7", "proxied", "proxied-pass-1"), 429);
    /* a peer that is no proxy writes what it likes, and is itself locked */
    for (int i = 0; i < 5; i++) {
        char forged[32];
        snprintf(forged, sizeof forged, "192.0.2.%d", i + 1);
        assert_int_equal(login_over_http("127.0.0.9", forged, "proxied", "guess-pass-1"), 401);
    }
    assert_int_equal(login_over_http("127.0.0.9", "192.0.2.99", "proxied", "proxied-pass-1"), 429);
    assert_int_equal(login_over_http("127.0.0.10", NULL, "proxied", "proxied-pass-1"), 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_bombs),
        cmocka_unit_test(test_zmq_bombs),
        cmocka_unit_test(test_oversized_calls_to_every_service),
        cmocka_unit_test(test_unknown_fields_accepted),
        cmocka_unit_test(test_connections_per_address),
        cmocka_unit_test(test_secrets_at_rest),
        cmocka_unit_test(test_report_refused_not_cut),
        cmocka_unit_test(test_inbox_retention),
        cmocka_unit_test(test_slow_readers),
        cmocka_unit_test(test_failed_logins_lock_the_address_not_the_user),
        cmocka_unit_test(test_login_flood),
    };
    const struct CMUnitTest session_tests[] = {
        cmocka_unit_test(test_session_budget),
    };
    const struct CMUnitTest proxy_tests[] = {
        cmocka_unit_test(test_client_address_behind_a_trusted_proxy),
    };
    int failed = cmocka_run_group_tests_name("hostile", tests, setup, teardown);
    failed += cmocka_run_group_tests_name("hostile_proxies", proxy_tests, setup_proxies, teardown);
    return failed + cmocka_run_group_tests_name("hostile_session_budget", session_tests, setup_session_budget,
                                                teardown);
}
