#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "crm_mem.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "activities.pb-c.h"
#include "crm_json.h"
#include "crm_services.h"
#include "../common/http_chunks.h"

#include <jansson.h>
#include <stdarg.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *const proc_names[SYS_PROCS] = {"identity", "pipeline", "activities", "notifications", "gateway", "recorder"};

int64_t sys_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The programs sit beside the test binaries: build/asan/tests/system/x →
 * build/asan/crm-identity. */
void sys_program(char *out, size_t cap, const char *name)
{
    char self[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    /* build/release/tests/soak/crm-soak (make soak) uses this harness too */
    char *cut = strstr(self, "/tests/system/");
    if (!cut)
        cut = strstr(self, "/tests/soak/");
    if (cut)
        *cut = '\0';
    if (!strcmp(name, "recorder"))
        snprintf(out, cap, "%s/tests/system/event-recorder", self);
    else if (!strcmp(name, "crmctl"))
        snprintf(out, cap, "%s/crmctl", self);
    else
        snprintf(out, cap, "%s/crm-%s", self, name);
}

static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* The lowest port the kernel hands out for outgoing connections: a port
 * above it may be taken by any connect() between our check and the bind. */
static int ephemeral_low(void)
{
    int lo = 32768, hi;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    return lo;
}

/* A block of 16 ports below the ephemeral range that nothing holds now. */
static int free_port_base(void)
{
    static unsigned calls;
    unsigned seed = (unsigned)getpid() * 7919u + (unsigned)sys_now_ms();
    int first = 20000, blocks = (ephemeral_low() - first) / 16;
    if (blocks < 64) { /* a range that starts low: use the ports below 20000 */
        first = 10000;
        blocks = 600;
    }
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = first + (int)((seed + calls++ * 104729u) % (unsigned)blocks) * 16;
        int ok = 1;
        for (int p = base; p < base + 16 && ok; p++)
            ok = port_free(p);
        if (ok)
            return base;
    }
    return first + (int)(seed % (unsigned)blocks) * 16;
}

int sys_spawn(sys_env_t *env, sys_proc_t which)
{
    char path[PATH_MAX], log[512];
    sys_program(path, sizeof path, proc_names[which]);
    snprintf(log, sizeof log, "%s/%s.log", env->dir, proc_names[which]);
    char data[300], port[16];
    snprintf(data, sizeof data, "%s/%s", env->dir, proc_names[which]);
    snprintf(port, sizeof port, "%d", env->http_port);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* a test that dies (a failed assertion, a timeout) takes its system with it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        setenv("CRM_PWHASH_OPS", "1", 1);
        setenv("CRM_PWHASH_MEM_KIB", "1024", 1);
        setenv("CRM_ADMIN_PASSWORD", SYS_ADMIN_PASSWORD, 1);
        setenv("CRM_HEARTBEAT_MS", "100", 1);
        setenv("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1", 0);
        for (int i = 0; env->extra_env[i]; i++)
            putenv((char *)env->extra_env[i]);
        if (env->netns[which][0]) {
            char ns[300];
            snprintf(ns, sizeof ns, "/var/run/netns/%s", env->netns[which]);
            int fd = open(ns, O_RDONLY | O_CLOEXEC);
            if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
                fprintf(stderr, "entering network namespace %s: %s\n", ns, strerror(errno));
                _exit(126);
            }
            close(fd);
        }
        switch (which) {
        case SYS_IDENTITY:
            execl(path, path, "--data-dir", data, "--rpc", env->identity_rpc, "--events",
                  env->identity_events, "--replay", env->identity_replay, (char *)NULL);
            break;
        case SYS_PIPELINE:
            execl(path, path, "--data-dir", data, "--rpc", env->pipeline_rpc, "--events",
                  env->pipeline_events, "--replay", env->pipeline_replay, "--identity-events",
                  env->identity_events, "--identity-replay", env->identity_replay, (char *)NULL);
            break;
        case SYS_ACTIVITIES:
            execl(path, path, "--data-dir", data, "--rpc", env->activities_rpc, "--events",
                  env->activities_events, "--replay", env->activities_replay, "--identity-events",
                  env->identity_events, "--identity-replay", env->identity_replay, "--pipeline-events",
                  env->pipeline_events, "--pipeline-replay", env->pipeline_replay, (char *)NULL);
            break;
        case SYS_NOTIFICATIONS:
            execl(path, path, "--data-dir", data, "--rpc", env->notifications_rpc, "--stream",
                  env->notifications_stream, "--identity-events", env->identity_events, "--identity-replay",
                  env->identity_replay, "--pipeline-events", env->pipeline_events, "--pipeline-replay",
                  env->pipeline_replay, "--activities-events", env->activities_events, "--activities-replay",
                  env->activities_replay, (char *)NULL);
            break;
        case SYS_GATEWAY:
            execl(path, path, "--zmq", env->zmq, "--http-address", env->http_address, "--http-port", port, "--identity-rpc",
                  env->identity_rpc, "--identity-events", env->identity_events, "--pipeline-rpc",
                  env->pipeline_rpc, "--activities-rpc", env->activities_rpc, "--notifications-rpc",
                  env->notifications_rpc, "--notifications-stream", env->notifications_stream, (char *)NULL);
            break;
        case SYS_RECORDER:
            execl(path, path, "--data-dir", data, "--events", env->identity_events, "--replay",
                  env->identity_replay, (char *)NULL);
            break;
        default:
            break;
        }
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    env->pid[which] = pid;
    return 0;
}

int sys_reap(pid_t pid, int timeout_ms, int *status)
{
    int64_t until = sys_now_ms() + timeout_ms;
    while (waitpid(pid, status, WNOHANG) == 0) {
        if (sys_now_ms() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -1;
        }
        usleep(10000);
    }
    return 0;
}

int sys_kill(sys_env_t *env, sys_proc_t which, int sig)
{
    pid_t pid = env->pid[which];
    if (pid <= 0)
        return 0;
    kill(pid, sig);
    int status = 0;
    int reaped = sys_reap(pid, 20000, &status);
    env->pid[which] = 0;
    if (reaped != 0) {
        fprintf(stderr, "%s did not stop; killed it\n", proc_names[which]);
        return -1;
    }
    if (sig == SIGKILL)
        return 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int sys_wait_ready(sys_env_t *env, sys_proc_t which, int timeout_ms)
{
    int64_t until = sys_now_ms() + timeout_ms;
    const char *service = which == SYS_GATEWAY ? "gateway" : proc_names[which];
    while (sys_now_ms() < until) {
        Crm__Health__V1__CheckRequest req = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
        req.service = (char *)service;
        crm_status_t st;
        uint8_t buf[64], *out = NULL;
        size_t out_len;
        size_t len = crm__health__v1__check_request__pack(&req, buf);
        if (crm_client_call(env->client, "crm.health.v1.Health/Check", NULL, NULL, buf, len, 500,
                            &st, &out, &out_len) == 0 &&
            st.code == CRM__RPC__V1__CODE__CODE_OK) {
            free(out);
            return 0;
        }
        free(out);
        usleep(50000);
    }
    fprintf(stderr, "%s not ready after %d ms\n", service, timeout_ms);
    return -1;
}

/* Systems still running, stopped at exit when a failed assertion skipped
 * their sys_stop. */
static sys_env_t *live[16];

static void stop_leftovers(void)
{
    for (int i = 0; i < 16; i++)
        if (live[i]) {
            for (int p = 0; p < SYS_PROCS; p++)
                if (live[i]->pid[p] > 0) {
                    kill(live[i]->pid[p], SIGKILL);
                    waitpid(live[i]->pid[p], NULL, 0);
                }
            live[i] = NULL;
        }
}

sys_env_t *sys_prepare(const char *const *extra)
{
    static int registered;
    if (!registered++)
        atexit(stop_leftovers);
    sys_env_t *env = crm_calloc(1, sizeof *env);
    for (int i = 0; i < 16; i++)
        if (!live[i]) {
            live[i] = env;
            break;
        }
    snprintf(env->dir, sizeof env->dir, "/tmp/crm-systest-XXXXXX");
    if (!mkdtemp(env->dir)) {
        perror("mkdtemp");
        free(env);
        return NULL;
    }
    for (int i = 0; extra && extra[i] && i < 7; i++)
        env->extra_env[i] = extra[i];
    int b = env->base_port = free_port_base();
    snprintf(env->zmq, sizeof env->zmq, "tcp://127.0.0.1:%d", b);
    env->http_port = b + 1;
    snprintf(env->identity_rpc, sizeof env->identity_rpc, "tcp://127.0.0.1:%d", b + 2);
    snprintf(env->identity_events, sizeof env->identity_events, "tcp://127.0.0.1:%d", b + 3);
    snprintf(env->identity_replay, sizeof env->identity_replay, "tcp://127.0.0.1:%d", b + 4);
    snprintf(env->pipeline_rpc, sizeof env->pipeline_rpc, "tcp://127.0.0.1:%d", b + 5);
    snprintf(env->pipeline_events, sizeof env->pipeline_events, "tcp://127.0.0.1:%d", b + 6);
    snprintf(env->pipeline_replay, sizeof env->pipeline_replay, "tcp://127.0.0.1:%d", b + 7);
    snprintf(env->activities_rpc, sizeof env->activities_rpc, "tcp://127.0.0.1:%d", b + 8);
    snprintf(env->activities_events, sizeof env->activities_events, "tcp://127.0.0.1:%d", b + 9);
    snprintf(env->activities_replay, sizeof env->activities_replay, "tcp://127.0.0.1:%d", b + 10);
    snprintf(env->notifications_rpc, sizeof env->notifications_rpc, "tcp://127.0.0.1:%d", b + 11);
    snprintf(env->notifications_stream, sizeof env->notifications_stream, "tcp://127.0.0.1:%d", b + 12);
    snprintf(env->http_address, sizeof env->http_address, "127.0.0.1");
    return env;
}

sys_env_t *sys_launch(sys_env_t *env)
{
    env->client = crm_client_new(env->zmq);
    if (!env->client || sys_spawn(env, SYS_IDENTITY) != 0 || sys_spawn(env, SYS_PIPELINE) != 0 ||
        sys_spawn(env, SYS_ACTIVITIES) != 0 || sys_spawn(env, SYS_NOTIFICATIONS) != 0 ||
        sys_spawn(env, SYS_GATEWAY) != 0 ||
        sys_wait_ready(env, SYS_GATEWAY, 15000) != 0 || sys_wait_ready(env, SYS_IDENTITY, 15000) != 0 ||
        sys_wait_ready(env, SYS_PIPELINE, 15000) != 0 || sys_wait_ready(env, SYS_ACTIVITIES, 15000) != 0 ||
        sys_wait_ready(env, SYS_NOTIFICATIONS, 15000) != 0) {
        fprintf(stderr, "system did not start; logs in %s\n", env->dir);
        sys_stop(env);
        return NULL;
    }
    return env;
}

sys_env_t *sys_start(const char *const *extra)
{
    sys_env_t *env = sys_prepare(extra);
    return env ? sys_launch(env) : NULL;
}

sys_env_t *sys_start_admin(const char *const *extra, char **admin)
{
    sys_env_t *env = sys_start(extra);
    crm_status_t st;
    *admin = env ? sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st) : NULL;
    if (env && !*admin) {
        fprintf(stderr, "admin login: %s %s\n", crm_code_name(st.code), st.message);
        sys_stop(env);
        env = NULL;
    }
    return env;
}

int sys_stop(sys_env_t *env)
{
    if (!env)
        return 0;
    for (int i = 0; i < 16; i++)
        if (live[i] == env)
            live[i] = NULL;
    int bad = 0;
    for (int i = SYS_PROCS - 1; i >= 0; i--) {
        if (env->pid[i] <= 0)
            continue;
        int rc = sys_kill(env, (sys_proc_t)i, SIGTERM);
        if (rc != 0) {
            fprintf(stderr, "%s exited with %d; its log:\n", proc_names[i], rc);
            char cmd[400];
            snprintf(cmd, sizeof cmd, "tail -40 %s/%s.log >&2", env->dir, proc_names[i]);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
            bad++;
        }
    }
    crm_client_destroy(&env->client);
    if (!bad) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", env->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", env->dir);
    }
    free(env);
    return bad;
}

void *sys_call_idem(sys_env_t *env, const char *method, const char *token, const char *idem,
                    const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                    crm_status_t *st)
{
    size_t n = protobuf_c_message_get_packed_size(in);
    uint8_t *buf = crm_malloc(n), *out = NULL;
    size_t out_len = 0;
    protobuf_c_message_pack(in, buf);
    int rc = crm_client_call(env->client, method, token, idem, buf, n, SYS_TIMEOUT_MS, st, &out, &out_len);
    free(buf);
    if (rc != 0 || st->code != CRM__RPC__V1__CODE__CODE_OK)
        return NULL;
    void *m = protobuf_c_message_unpack(out_desc, NULL, out_len, out);
    free(out);
    if (!m)
        crm_status_set(st, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "reply does not decode");
    return m;
}

void *sys_call(sys_env_t *env, const char *method, const char *token, const ProtobufCMessage *in,
               const ProtobufCMessageDescriptor *out_desc, crm_status_t *st)
{
    return sys_call_idem(env, method, token, NULL, in, out_desc, st);
}

char *sys_login(sys_env_t *env, const char *login, const char *password, crm_status_t *st)
{
    Crm__Identity__V1__LoginRequest req = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.login = (char *)login;
    req.password = (char *)password;
    Crm__Identity__V1__LoginReply *r = sys_call(env, "crm.identity.v1.Identity/Login", NULL, &req.base,
                                                &crm__identity__v1__login_reply__descriptor, st);
    if (!r)
        return NULL;
    char *token = crm_strdup(r->token);
    crm__identity__v1__login_reply__free_unpacked(r, NULL);
    return token;
}

static int64_t create_user(sys_env_t *env, const char *admin_token, const char *login, const char *name,
                           const char *password, int sales_access, int is_admin)
{
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = (char *)login;
    req.name = (char *)name;
    req.password = (char *)(password ? password : "");
    req.sales_access = sales_access;
    req.is_admin = is_admin;
    crm_status_t st;
    Crm__Identity__V1__CreateUserReply *r =
        sys_call(env, "crm.identity.v1.Identity/CreateUser", admin_token, &req.base,
                 &crm__identity__v1__create_user_reply__descriptor, &st);
    if (!r) {
        fprintf(stderr, "create user %s: %s %s\n", login, crm_code_name(st.code), st.message);
        return -1;
    }
    int64_t id = r->user->id;
    crm__identity__v1__create_user_reply__free_unpacked(r, NULL);
    return id;
}

int64_t sys_create_user(sys_env_t *env, const char *admin_token, const char *login,
                        const char *password, int sales_access, int is_admin)
{
    return create_user(env, admin_token, login, login, password, sales_access, is_admin);
}

int sys_http(sys_env_t *env, const char *method, const char *path, const char *headers,
             const void *body, size_t len, char **body_out, size_t *body_len)
{
    char *buf;
    size_t n;
    if (body_out)
        *body_out = NULL;
    int status = sys_http_response(env, method, path, headers, body, len, &buf, &n);
    if (status < 0)
        return -1;
    char *b = strstr(buf, "\r\n\r\n");
    if (body_out && b) {
        size_t blen = n - (size_t)(b + 4 - buf);
        *body_out = crm_memdup(b + 4, blen + 1);
        (*body_out)[blen] = '\0';
        if (body_len)
            *body_len = blen;
    }
    free(buf);
    return status;
}

int sys_http_response(sys_env_t *env, const char *method, const char *path, const char *headers,
                      const void *body, size_t len, char **response, size_t *response_len)
{
    *response = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)env->http_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char head[2048];
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n",
                      method, path, headers ? headers : "", len);
    if (write(fd, head, (size_t)hn) != hn || (len && write(fd, body, len) != (ssize_t)len)) {
        /* the server may answer and close before reading an oversized body */
    }
    size_t cap = 65536, n = 0;
    char *buf = crm_malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = crm_realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        free(buf);
        return -1;
    }
    *response = buf;
    if (response_len)
        *response_len = n;
    return status;
}

json_t *sys_jcall(sys_env_t *env, const char *method, const char *token, crm_status_t *st,
                  const char *fmt, ...)
{
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *m = crm_services_find(method, &svc);
    if (!m) {
        crm_status_set(st, CRM__RPC__V1__CODE__CODE_BAD_ROUTE, "method", "test asked for %s", method);
        return NULL;
    }
    ProtobufCMessage *in = crm_json_decode(m->input, body, strlen(body), CRM_JSON_FILL_UPDATE_MASK, NULL, st);
    if (!in)
        return NULL;
    char full[256];
    snprintf(full, sizeof full, "%s/%s", svc->name, m->name);
    ProtobufCMessage *out = sys_call(env, full, token, in, m->output, st);
    protobuf_c_message_free_unpacked(in, NULL);
    if (!out)
        return NULL;
    char *text = crm_json_encode(out, NULL);
    protobuf_c_message_free_unpacked(out, NULL);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

static json_t *jpath(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok(buf, "."); part && o; part = strtok(NULL, "."))
        o = json_object_get(o, part);
    return o;
}

int64_t sys_jint(json_t *o, const char *path)
{
    json_t *v = jpath(o, path);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v))
        return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

const char *sys_jstr(json_t *o, const char *path)
{
    json_t *v = jpath(o, path);
    return json_is_string(v) ? json_string_value(v) : "";
}

char *sys_new_sales_user(sys_env_t *env, const char *admin_token, const char *login, const char *name,
                         const char *access, int64_t *id_out)
{
    const ProtobufCEnumValue *level =
        protobuf_c_enum_descriptor_get_value_by_name(&crm__common__v1__sales_access__descriptor, access);
    if (!level)
        fail_msg("no sales access %s", access);
    char pw[64];
    snprintf(pw, sizeof pw, "%s-pass-1", login);
    int64_t id = create_user(env, admin_token, login, name, pw, level->value, 0);
    if (id <= 0)
        fail_msg("create user %s failed", login);
    if (id_out)
        *id_out = id;
    crm_status_t st;
    char *t = sys_login(env, login, pw, &st);
    if (!t)
        fail_msg("login %s: %s %s", login, crm_code_name(st.code), st.message);
    return t;
}

int64_t sys_unread(sys_env_t *env, const char *token)
{
    json_t *r = sys_expect_ok(env, __LINE__, token, "crm.notifications.v1.Notifications/UnreadCount", "{}");
    int64_t n = sys_jint(r, "count");
    json_decref(r);
    return n;
}

int64_t sys_wait_unread(sys_env_t *env, const char *token, int64_t want, int ms)
{
    int64_t until = sys_now_ms() + ms, n;
    while ((n = sys_unread(env, token)) != want && sys_now_ms() < until)
        usleep(5000);
    return n;
}

int64_t sys_new_opportunity(sys_env_t *env, const char *token, const char *name, int64_t salesperson)
{
    json_t *l = sys_expect_ok(env, __LINE__, token, "crm.pipeline.v1.Pipeline/CreateLead",
                              "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"%s\",\"salespersonId\":\"%lld\"%s}", name,
                              (long long)salesperson, salesperson ? "" : ",\"unassigned\":true");
    int64_t id = sys_jint(l, "id");
    json_decref(l);
    if (id <= 0)
        fail_msg("CreateLead %s gave no id", name);
    return id;
}

size_t sys_big_attachment(sys_env_t *env, const char *token, const char *lead_name, size_t size, uint8_t body[32])
{
    json_t *me = sys_expect_ok(env, __LINE__, token, "crm.identity.v1.Identity/WhoAmI", "{}");
    int64_t user_id = sys_jint(me, "id");
    json_decref(me);
    int64_t lead = sys_new_opportunity(env, token, lead_name, user_id);
    Crm__Activities__V1__Attachment at = CRM__ACTIVITIES__V1__ATTACHMENT__INIT, *ats[1] = {&at};
    at.filename = "big.bin";
    at.content_type = "application/octet-stream";
    at.data.len = size;
    at.data.data = crm_malloc(size);
    memset(at.data.data, 'b', size);
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "lead";
    doc.id = lead;
    Crm__Activities__V1__PostMessageRequest pm = CRM__ACTIVITIES__V1__POST_MESSAGE_REQUEST__INIT;
    pm.doc = &doc;
    pm.kind = CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_NOTE;
    pm.body = "the file";
    pm.attachments = ats;
    pm.n_attachments = 1;
    crm_status_t st;
    Crm__Activities__V1__Message *m = sys_call(env, "crm.activities.v1.Activities/PostMessage", token, &pm.base,
                                               &crm__activities__v1__message__descriptor, &st);
    free(at.data.data);
    assert_non_null(m);
    assert_int_equal(m->n_attachments, 1);
    Crm__Activities__V1__GetAttachmentRequest get = CRM__ACTIVITIES__V1__GET_ATTACHMENT_REQUEST__INIT;
    get.id = m->attachments[0]->id;
    crm__activities__v1__message__free_unpacked(m, NULL);
    return crm__activities__v1__get_attachment_request__pack(&get, body);
}

int64_t sys_stage_id(sys_env_t *env, const char *token, const char *name)
{
    json_t *r = sys_expect_ok(env, __LINE__, token, "crm.pipeline.v1.Pipeline/ListStages",
                              "{\"type\":\"LEAD_TYPE_OPPORTUNITY\"}");
    json_t *stages = json_object_get(r, "stages"), *s;
    size_t i;
    int64_t id = 0;
    json_array_foreach(stages, i, s) {
        if (!strcmp(sys_jstr(s, "name"), name) && sys_jint(s, "teamId") == 0)
            id = sys_jint(s, "id");
    }
    json_decref(r);
    if (id <= 0)
        fail_msg("no stage %s", name);
    return id;
}

#define EXPECT_BODY_MAX 8192

/* The call of sys_expect_ok and sys_expect_err, its body kept for their messages. */
static json_t *expect_call(sys_env_t *env, const char *token, const char *method, crm_status_t *st, char *body,
                           const char *fmt, va_list ap)
{
    vsnprintf(body, EXPECT_BODY_MAX, fmt, ap);
    return sys_jcall(env, method, token, st, "%s", body);
}

json_t *sys_expect_ok(sys_env_t *env, int line, const char *token, const char *method, const char *fmt, ...)
{
    char body[EXPECT_BODY_MAX];
    crm_status_t st;
    va_list ap;
    va_start(ap, fmt);
    json_t *r = expect_call(env, token, method, &st, body, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("line %d: %s %.300s: %s %s (field %s)", line, method, body, crm_code_name(st.code), st.message,
                 st.field);
    return r;
}

void sys_expect_err(sys_env_t *env, int line, Crm__Rpc__V1__Code code, const char *field, const char *token,
                    const char *method, const char *fmt, ...)
{
    char body[EXPECT_BODY_MAX];
    crm_status_t st;
    va_list ap;
    va_start(ap, fmt);
    json_t *r = expect_call(env, token, method, &st, body, fmt, ap);
    va_end(ap);
    if (r) {
        char *text = json_dumps(r, 0);
        fail_msg("line %d: %s %.300s succeeded: %.300s", line, method, body, text);
    }
    if (st.code != code)
        fail_msg("line %d: %s %.300s: want %s, got %s %s (field %s)", line, method, body, crm_code_name(code),
                 crm_code_name(st.code), st.message, st.field);
    if (field && strcmp(st.field, field) != 0)
        fail_msg("line %d: %s: want field %s, got \"%s\" (%s)", line, method, field, st.field, st.message);
}

/* --- Server-Sent Events ------------------------------------------------------- */

struct sys_sse {
    int fd;
    char raw[65536];   /* bytes read, not yet de-chunked */
    size_t raw_len;
    http_chunks_t chunks;
    char *text;        /* de-chunked event text not yet parsed */
    size_t text_len, text_cap;
    int closed;
};

/* Reads once (waiting up to timeout_ms); 1 read, 0 timeout, -1 closed. */
static int sse_fill(sys_sse_t *c, int timeout_ms)
{
    if (c->closed)
        return -1;
    struct pollfd p = {c->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (r <= 0)
        return 0;
    if (c->raw_len == sizeof c->raw)
        return -1;
    ssize_t n = read(c->fd, c->raw + c->raw_len, sizeof c->raw - c->raw_len);
    if (n <= 0) {
        c->closed = 1;
        return -1;
    }
    c->raw_len += (size_t)n;
    return 1;
}

static void sse_text_put(void *arg, const char *data, size_t len)
{
    sys_sse_t *c = arg;
    if (c->text_len + len + 1 > c->text_cap) {
        c->text_cap = (c->text_len + len + 1) * 2;
        c->text = crm_realloc(c->text, c->text_cap);
    }
    memcpy(c->text + c->text_len, data, len);
    c->text_len += len;
    c->text[c->text_len] = '\0';
}

/* Moves whole chunk data from raw to text. */
static void sse_dechunk(sys_sse_t *c)
{
    http_chunks_decode(&c->chunks, c->raw, &c->raw_len, sse_text_put, c);
    if (c->chunks.ended)
        c->closed = 1; /* the last chunk: the server ended the stream */
}

static sys_sse_t *sse_open(sys_env_t *env, const char *token, int64_t last_event_id, int *status, int rcvbuf)
{
    *status = -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    /* before connect, so the window offered is small from the start */
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)env->http_port);
    inet_pton(AF_INET, env->http_address, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return NULL;
    }
    char head[1024], resume[64] = "";
    if (last_event_id > 0)
        snprintf(resume, sizeof resume, "Last-Event-ID: %lld\r\n", (long long)last_event_id);
    int hn = snprintf(head, sizeof head,
                      "GET /v1/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                      "Authorization: Bearer %s\r\n%s\r\n",
                      token ? token : "", resume);
    if (write(fd, head, (size_t)hn) != hn) {
        close(fd);
        return NULL;
    }
    sys_sse_t *c = crm_calloc(1, sizeof *c);
    c->fd = fd;
    int64_t until = sys_now_ms() + SYS_TIMEOUT_MS;
    char *end;
    while (!(end = memmem(c->raw, c->raw_len, "\r\n\r\n", 4))) {
        if (sys_now_ms() > until || sse_fill(c, 100) < 0) {
            sys_sse_close(&c);
            return NULL;
        }
    }
    sscanf(c->raw, "HTTP/1.%*d %d", status);
    int chunked = memmem(c->raw, (size_t)(end - c->raw), "chunked", 7) != NULL;
    size_t hlen = (size_t)(end + 4 - c->raw);
    memmove(c->raw, c->raw + hlen, c->raw_len - hlen);
    c->raw_len -= hlen;
    if (*status != 200 || !chunked) {
        if (*status == 200)
            fprintf(stderr, "sse: a stream without chunked encoding\n");
        sys_sse_close(&c);
        return NULL;
    }
    return c;
}

sys_sse_t *sys_sse_open(sys_env_t *env, const char *token, int64_t last_event_id, int *status)
{
    return sse_open(env, token, last_event_id, status, 0);
}

sys_sse_t *sys_sse_open_stalled(sys_env_t *env, const char *token, int *status)
{
    return sse_open(env, token, 0, status, 2048);
}

int sys_sse_next(sys_sse_t *c, int timeout_ms, int64_t *id, json_t **data)
{
    int64_t until = sys_now_ms() + timeout_ms;
    *id = 0;
    if (data)
        *data = NULL;
    for (;;) {
        sse_dechunk(c);
        char *end = c->text ? strstr(c->text, "\n\n") : NULL;
        if (end) {
            *end = '\0';
            int64_t got_id = 0;
            json_t *got = NULL;
            for (char *line = c->text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                    *next++ = '\0';
                if (!strncmp(line, "id:", 3))
                    got_id = strtoll(line + 3, NULL, 10);
                else if (!strncmp(line, "data:", 5) && !got)
                    got = json_loads(line + 5 + (line[5] == ' '), 0, NULL);
            }
            size_t used = (size_t)(end + 2 - c->text);
            memmove(c->text, c->text + used, c->text_len - used + 1);
            c->text_len -= used;
            if (!got_id && !got)
                continue; /* a comment: a keepalive */
            *id = got_id;
            if (data)
                *data = got;
            else
                json_decref(got);
            return 1;
        }
        int64_t left = until - sys_now_ms();
        if (c->closed)
            return -1;
        if (left <= 0)
            return 0;
        if (sse_fill(c, (int)left) < 0 && !c->raw_len)
            return -1;
    }
}

void sys_sse_close(sys_sse_t **c)
{
    if (!*c)
        return;
    close((*c)->fd);
    free((*c)->text);
    free(*c);
    *c = NULL;
}

int sys_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd) == 0 ? 0 : -1;
}

long long sys_gateway_metric(sys_env_t *env, const char *name, int required)
{
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.9", &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)env->http_port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof src), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof dst), 0);
    static const char get[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, get, sizeof get - 1), (ssize_t)(sizeof get - 1));
    static char text[1 << 20];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof text - 1 && (r = read(fd, text + len, sizeof text - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    text[len] = '\0';
    char key[256];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *line = strstr(text, key);
    if (!line && required)
        fail_msg("no %s in /metrics: %.200s", name, text);
    return line ? atoll(line + strlen(key)) : 0;
}

long sys_reset_peak(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("5", f);
    fclose(f);
    return sys_proc_kib(pid, "VmRSS");
}

long sys_proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}
