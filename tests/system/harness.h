#ifndef HARNESS_H
#define HARNESS_H

/* System tests run the real programs (the ASan build) on real endpoints with
 * real stores in a temporary folder. One env = one running system. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>
#include "crm_client.h"
#include "crm_status.h"

#define SYS_ADMIN_PASSWORD "admin-pass-1"
#define SYS_TIMEOUT_MS 10000

typedef enum { SYS_IDENTITY, SYS_PIPELINE, SYS_ACTIVITIES, SYS_NOTIFICATIONS, SYS_GATEWAY, SYS_RECORDER, SYS_PROCS } sys_proc_t;

typedef struct {
    char dir[256];        /* temporary folder for stores and logs */
    int base_port;
    char zmq[64];         /* gateway ZeroMQ door */
    int http_port;
    char identity_rpc[64], identity_events[64], identity_replay[64];
    char pipeline_rpc[64], pipeline_events[64], pipeline_replay[64];
    char activities_rpc[64], activities_events[64], activities_replay[64];
    char notifications_rpc[64], notifications_stream[64];
    pid_t pid[SYS_PROCS];
    char http_address[64];
    const char *extra_env[8]; /* "NAME=value" added to every program's environment */
    char netns[SYS_PROCS][32]; /* a network namespace each program runs in ("": this one) */
    crm_client_t *client;
} sys_env_t;

/* Starts identity, pipeline, activities, notifications and gateway (and waits until each answers Health). extra
 * is a NULL-terminated list of "NAME=value" settings, or NULL. Returns NULL
 * on failure (reason printed). */
sys_env_t *sys_start(const char *const *extra);

/* sys_start in two steps, so that a test can change endpoints and
 * namespaces in between: sys_prepare makes the folder and picks loopback
 * endpoints (NULL on failure, reason printed); sys_launch starts
 * everything as sys_start does (NULL on failure, the env then freed). */
sys_env_t *sys_prepare(const char *const *extra);
sys_env_t *sys_launch(sys_env_t *env);

/* sys_start, then a login as the administrator: *admin gets the token
 * (malloc'd). Returns NULL, stopping what started, if either fails. */
sys_env_t *sys_start_admin(const char *const *extra, char **admin);

/* Stops everything with SIGTERM and checks each exited 0 (so sanitizer
 * reports in a service fail the test); removes the folder. Returns the
 * number of programs that did not exit cleanly. */
int sys_stop(sys_env_t *env);

/* Starts one program (again). Returns 0 or -1. */
int sys_spawn(sys_env_t *env, sys_proc_t which);
/* Sends sig and reaps the process. For SIGTERM returns its exit status (0 =
 * clean), for SIGKILL 0. */
int sys_kill(sys_env_t *env, sys_proc_t which, int sig);

/* Waits up to timeout_ms for child pid to end (its wait status in *status);
 * past that it is SIGKILLed and reaped, and -1 returned. */
int sys_reap(pid_t pid, int timeout_ms, int *status);
/* Waits until the program answers Health through the gateway (or, for the
 * gateway, at all). Returns 0 or -1 after timeout_ms. */
int sys_wait_ready(sys_env_t *env, sys_proc_t which, int timeout_ms);

/* Calls method through the ZeroMQ door. Returns the decoded reply (free with
 * protobuf_c_message_free_unpacked(m, NULL)) or NULL with *st set. */
void *sys_call(sys_env_t *env, const char *method, const char *token, const ProtobufCMessage *in,
               const ProtobufCMessageDescriptor *out_desc, crm_status_t *st);
/* The same with an idempotency key. */
void *sys_call_idem(sys_env_t *env, const char *method, const char *token, const char *idem,
                    const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                    crm_status_t *st);

/* Logs in; returns a malloc'd token or NULL with *st set. */
char *sys_login(sys_env_t *env, const char *login, const char *password, crm_status_t *st);

/* Creates a user with a password (as admin_token); returns its id or -1. */
int64_t sys_create_user(sys_env_t *env, const char *admin_token, const char *login,
                        const char *password, int sales_access, int is_admin);

/* One HTTP request to the gateway (Connection: close). headers is a string of
 * "Name: value\r\n" lines or NULL. Returns the status code (or -1) and a
 * malloc'd NUL-terminated body in *body_out (may be NULL). */
int sys_http(sys_env_t *env, const char *method, const char *path, const char *headers,
             const void *body, size_t len, char **body_out, size_t *body_len);
/* The same, giving the whole response, status line and headers included
 * (*response malloc'd and NUL-terminated, NULL on failure). */
int sys_http_response(sys_env_t *env, const char *method, const char *path, const char *headers,
                      const void *body, size_t len, char **response, size_t *response_len);

/* Calls method with a JSON request (printf-formatted), as crmctl does: the
 * JSON goes through the codec to protobuf and the reply back to JSON.
 * Returns the reply as a jansson object (json_decref it), or NULL with *st. */
typedef struct json_t json_t;
json_t *sys_jcall(sys_env_t *env, const char *method, const char *token, crm_status_t *st,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Assertions for cmocka tests: a JSON call (as sys_jcall) that must
 * succeed, giving its reply (json_decref it), or must fail with code
 * naming field (NULL: any field). A failure fails the test, naming line.
 * OK and ERR pass the sys_env_t named env in scope. */
json_t *sys_expect_ok(sys_env_t *env, int line, const char *token, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void sys_expect_err(sys_env_t *env, int line, Crm__Rpc__V1__Code code, const char *field, const char *token,
                    const char *method, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
#define OK(token, method, ...) sys_expect_ok(env, __LINE__, token, method, __VA_ARGS__)
#define ERR(code, field, token, method, ...) sys_expect_err(env, __LINE__, code, field, token, method, __VA_ARGS__)

/* Creates a user (as admin_token) with sales access `access`
 * ("SALES_ACCESS_ALL_LEADS", ...) and the password "<login>-pass-1", and
 * logs them in: the token (malloc'd). *id_out (may be NULL) gets the id.
 * A failure fails the test. */
char *sys_new_sales_user(sys_env_t *env, const char *admin_token, const char *login, const char *name,
                         const char *access, int64_t *id_out);

/* Creates an opportunity named name (a JSON-safe text) of salesperson (0:
 * no one, asked for as unassigned) as token; its id. A failure fails the
 * test. */
int64_t sys_new_opportunity(sys_env_t *env, const char *token, const char *name, int64_t salesperson);
/* Posts an attachment of size bytes on a new opportunity of the token's user
 * named lead_name; body gets the packed GetAttachmentRequest of it, its
 * length returned. */
size_t sys_big_attachment(sys_env_t *env, const char *token, const char *lead_name, size_t size, uint8_t body[32]);

/* The caller's unread notifications (UnreadCount as token); and polling it
 * until it is want, for at most ms: the last count. A failed call fails
 * the test. */
int64_t sys_unread(sys_env_t *env, const char *token);
int64_t sys_wait_unread(sys_env_t *env, const char *token, int64_t want, int ms);

/* The id of the opportunity stage named name that every team shares (as
 * token). A failure fails the test. */
int64_t sys_stage_id(sys_env_t *env, const char *token, const char *name);

/* An integer member (int64 as string or number); path may be "a.b". 0 if absent. */
int64_t sys_jint(struct json_t *o, const char *path);
/* A string member, or "" if absent. */
const char *sys_jstr(struct json_t *o, const char *path);

/* A Server-Sent Events client of the gateway's GET /v1/stream. */
typedef struct sys_sse sys_sse_t;
/* Connects with the bearer token and, if last_event_id > 0, Last-Event-ID;
 * waits for the response headers. Returns the client when the answer is
 * 200, else NULL with the status (or -1) in *status. */
sys_sse_t *sys_sse_open(sys_env_t *env, const char *token, int64_t last_event_id, int *status);
/* The same with a tiny receive window, for a client that will not read. */
sys_sse_t *sys_sse_open_stalled(sys_env_t *env, const char *token, int *status);
/* The next event within timeout_ms: 1 with its id and its data parsed as
 * JSON (json_decref it; data may be NULL), 0 on timeout, -1 when the
 * server closed the stream. Comments (keepalives) are skipped. */
int sys_sse_next(sys_sse_t *c, int timeout_ms, int64_t *id, json_t **data);
void sys_sse_close(sys_sse_t **c);

/* The path of a program of this build: "identity" (crm-identity), ...,
 * "crmctl", "recorder". */
void sys_program(char *out, size_t cap, const char *name);

/* Runs the printf-formatted shell command; 0 if it exited 0, else -1. */
int sys_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds since an arbitrary start. */
int64_t sys_now_ms(void);

/* A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or -1. */
long sys_proc_kib(pid_t pid, const char *field);
/* Resets the process's peak RSS (VmHWM) to its RSS now, and gives that in
 * KiB; fails the test when it cannot. */
long sys_reset_peak(pid_t pid);
/* A figure of the gateway's /metrics (name may carry labels), asked over
 * HTTP from 127.0.0.9, an address whose budget no test client touches; 0
 * when absent, or the test fails when required. */
long long sys_gateway_metric(sys_env_t *env, const char *name, int required);

#endif
