#include "crm_curve.h"
#include "crm_rpc_server.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_map.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_version.h"
#include "crm_zloop.h"
#include "health.pb-c.h"
#include "ops.pb-c.h"

#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERVICES 8
#define MAX_HOLD_PRODUCERS 8
#define BATCH_MAX 256
#define IDEM_KEY_MAX CRM_LIMIT_IDEMPOTENCY_KEY
#define IDEM_HASH 16
#define HOLD_SWEEP_S 0.02
#define IDEM_KEEP_US (24LL * 3600 * 1000000) /* a retry comes within a day */
#define IDEM_SWEEP_S 600.0
#define IDEM_SWEEP_MAX 10000                 /* deletions per pass: short write transactions */

typedef struct {
    const ProtobufCServiceDescriptor *desc;
    crm_method_t *methods; /* desc->n_methods, in the descriptor's order (owned) */
    void *ctx;
} service_t;

/* Whose key made a call (CurveZMQ's ZAP user id): with CURVE on, the public
 * API is the gateway's to call and the operations the operator's, so that
 * neither key does the other's work. CURVE off: not checked. */
typedef enum { CALLER_UNCHECKED, CALLER_GATEWAY, CALLER_OPERATOR, CALLER_OTHER } caller_t;

/* A call held for read-your-writes: its frames, copied. */
typedef struct held {
    struct held *next;
    uint8_t *peer, *data;
    size_t peer_len, len;
    int64_t deadline;
    caller_t caller;
} held_t;

struct crm_call {
    crm_rpc_server_t *server;
    const uint8_t *peer;
    size_t peer_len;
    Crm__Rpc__V1__RpcRequest *req;
    const service_t *service;
    const ProtobufCMethodDescriptor *method;
    unsigned flags;
    ProtobufCMessage *in, *out;
    MDB_txn *txn;
    crm_status_t st;
    int map_full;
    int storage_failed;  /* fail_storage ran: the call's error, never a nested part's */
    int done;            /* status or reply final; nothing more to run */
    const uint8_t *raw;  /* the reply body when already packed (idempotent replay) */
    size_t raw_len;
    crm_work_fn *defer_work; /* crm_call_defer: run this off the loop, then the call again */
    void *defer_arg;
    void *work_result;       /* on that second run: the work's argument */
    caller_t caller;
};

/* A deferred call's argument may hold secrets (passwords to hash): wiped
 * before it is freed. */
static void free_arg(void *p)
{
    if (p) {
        sodium_memzero(p, malloc_usable_size(p));
        free(p);
    }
}

/* A call waiting for its work on a worker thread: its frames, copied. */
typedef struct {
    crm_rpc_server_t *server;
    uint8_t *peer, *data;
    size_t peer_len, len;
    crm_work_fn *work;
    void *arg;
    uint64_t address_key; /* the client's address, for its share of the workers */
    caller_t caller;
} deferred_t;

struct crm_rpc_server {
    struct ev_loop *loop;
    char *service;
    void *socket;
    crm_zwatch_t *watch;
    crm_store_t *store;
    MDB_dbi idem;
    service_t services[MAX_SERVICES];
    int n_services;
    crm_publisher_t *publisher;
    crm_rpc_stream_t stream;
    crm_consumer_t *holds[MAX_HOLD_PRODUCERS];
    int n_holds;
    held_t *held;
    size_t n_held;
    ev_timer hold_sweep;
    ev_timer idem_sweep;
    crm_arena_t *arena;
    int64_t now;
    int64_t started;
    uint8_t idem_from[512];  /* where the next sweep goes on (a key; length 0: the start) */
    size_t idem_from_len;
    crm_workers_t *workers;
    int per_address;       /* deferred calls one client address may have at once */
    crm_map_t *deferred_by_address; /* address key -> count, as a pointer-sized integer */
};

/* Sends what the last commit made: the outbox's events, the stream's entries. */
static void flush_committed(crm_rpc_server_t *self)
{
    if (self->publisher)
        crm_publisher_flush(self->publisher);
    if (self->stream.flush)
        self->stream.flush(self->stream.arg);
}

/* --- call accessors ------------------------------------------------------- */

const Crm__Rpc__V1__Principal *crm_call_principal(crm_call_t *c) { return c->req->principal; }
MDB_txn *crm_call_txn(crm_call_t *c) { return c->txn; }
crm_arena_t *crm_call_arena(crm_call_t *c) { return c->server->arena; }
void *crm_call_ctx(crm_call_t *c) { return c->service->ctx; }
uint64_t crm_call_id(crm_call_t *c) { return c->req->id; }
const char *crm_call_method(crm_call_t *c) { return c->req->method; }
crm_store_t *crm_call_store(crm_call_t *c) { return c->server->store; }
int64_t crm_call_now(crm_call_t *c) { return c->server->now; }
const char *crm_call_client_address(crm_call_t *c) { return c->req->client_address ? c->req->client_address : ""; }

void *crm_call_new(crm_call_t *c, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = crm_arena_alloc(c->server->arena, desc->sizeof_message);
    desc->message_init(m);
    return m;
}

void *crm_call_unpack(crm_call_t *c, const ProtobufCMessageDescriptor *desc, const void *data,
                      size_t len)
{
    return protobuf_c_message_unpack(desc, crm_arena_allocator(c->server->arena), len, data);
}

int crm_call_fail(crm_call_t *c, Crm__Rpc__V1__Code code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    c->st.code = code;
    vsnprintf(c->st.message, sizeof c->st.message, fmt, ap);
    va_end(ap);
    snprintf(c->st.field, sizeof c->st.field, "%s", field ? field : "");
    crm_utf8_clean(c->st.message);
    crm_utf8_clean(c->st.field);
    return -1;
}

int crm_call_defer(crm_call_t *c, crm_work_fn *work, void *arg)
{
    /* a batch run again after the map grew defers again: keep the newest */
    free_arg(c->defer_arg);
    c->defer_work = work;
    c->defer_arg = arg;
    return -1;
}

void *crm_call_work_result(crm_call_t *c) { return c->work_result; }

void crm_rpc_server_set_workers(crm_rpc_server_t *self, crm_workers_t *workers, int per_address)
{
    self->workers = workers;
    self->per_address = per_address;
    if (!self->deferred_by_address)
        self->deferred_by_address = crm_map_new();
}

static uint64_t address_key(const char *address)
{
    uint64_t key;
    crypto_shorthash((unsigned char *)&key, (const unsigned char *)address, strlen(address),
                     (const unsigned char *)"crm-rpc-address-");
    return key ? key : 1;
}

/* Counts a client address's deferred calls up (delta 1, refused with -1
 * past per_address) or down (delta -1). */
static int address_share(crm_rpc_server_t *self, uint64_t key, int delta)
{
    uintptr_t n = (uintptr_t)crm_map_get(self->deferred_by_address, key);
    if (delta > 0 && (int)n >= self->per_address)
        return -1;
    n = (uintptr_t)((intptr_t)n + delta);
    if (n)
        crm_map_put(self->deferred_by_address, key, (void *)n);
    else
        crm_map_remove(self->deferred_by_address, key);
    return 0;
}

int crm_call_fail_status(crm_call_t *c, const crm_status_t *st)
{
    c->st = *st;
    return -1;
}

/* A full disk is the operator's to mend and the client's to retry: a coded
 * answer that says so, with nothing written (the transaction is undone
 * whole); anything else from storage is internal. */
static int fail_storage(crm_call_t *c, int rc)
{
    c->storage_failed = 1;
    if (rc == ENOSPC || rc == EDQUOT || (rc == EIO && crm_store_disk_full(c->server->store))) {
        static int64_t last_logged;
        int64_t now = crm_time_mono_us();
        if (now - last_logged > 10000000) {
            crm_log(CRM_LOG_ERROR, c->req->id, "%s: the disk of %s's store is full: writes are refused until "
                    "there is room", c->req->method, c->server->service);
            last_logged = now;
        }
        return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                             "the service's disk is full: nothing was written; try again later");
    }
    crm_log(CRM_LOG_ERROR, c->req->id, "%s: storage: %s", c->req->method, mdb_strerror(rc));
    return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "storage error");
}

int crm_call_fail_db(crm_call_t *c, int rc)
{
    if (rc == MDB_MAP_FULL) {
        c->map_full = 1;
        return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "storage error");
    }
    return fail_storage(c, rc);
}

int crm_call_nested(crm_call_t *c, crm_nested_fn *fn, void *arg, int keep, crm_status_t *err)
{
    MDB_txn *parent = c->txn, *child;
    int rc = mdb_txn_begin(crm_store_env(c->server->store), parent, 0, &child);
    if (rc)
        return crm_call_fail_db(c, rc);
    c->txn = child;
    int failed = fn(c, arg) != 0;
    c->txn = parent;
    /* storage trouble is the whole call's: the batch runs again after the
     * map grows, or the client retries once the disk has room */
    if (failed && (c->map_full || c->storage_failed)) {
        mdb_txn_abort(child);
        return -1;
    }
    if (failed || !keep) {
        mdb_txn_abort(child);
        if (failed) {
            *err = c->st;
            crm_status_clear(&c->st);
        }
        return failed;
    }
    rc = mdb_txn_commit(child);
    return rc ? crm_call_fail_db(c, rc) : 0;
}

int crm_call_emit(crm_call_t *c, const char *type, const ProtobufCMessage *payload)
{
    if (!c->server->publisher)
        return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "%s has no outbox for %s",
                             c->server->service, type);
    const Crm__Rpc__V1__Principal *p = crm_call_principal(c);
    int rc = crm_outbox_append(crm_publisher_outbox(c->server->publisher), c->txn, type, p ? p->user_id : 0,
                               payload, NULL);
    return rc ? crm_call_fail_db(c, rc) : 0;
}

/* --- routing -------------------------------------------------------------- */

static int route(crm_rpc_server_t *self, crm_call_t *c)
{
    const char *name = c->req->method, *slash = strchr(name, '/');
    if (!slash)
        return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_BAD_ROUTE, "method",
                             "method \"%s\" is not of the form package.Service/Method", name);
    size_t slen = (size_t)(slash - name);
    for (int i = 0; i < self->n_services; i++) {
        const service_t *s = &self->services[i];
        if (strlen(s->desc->name) != slen || strncmp(s->desc->name, name, slen) != 0)
            continue;
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(s->desc, slash + 1);
        if (!m)
            break;
        c->service = s;
        c->method = m;
        c->flags = s->methods[m - s->desc->methods].flags;
        return 0;
    }
    return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_BAD_ROUTE, "method", "no method \"%s\"", name);
}

/* --- read-your-writes holds ------------------------------------------------ */

/* Whether a consumer req waits for is stuck. */
static int marks_stuck(crm_rpc_server_t *self, const Crm__Rpc__V1__RpcRequest *req)
{
    for (size_t i = 0; i < req->n_marks; i++)
        for (int h = 0; h < self->n_holds; h++)
            if (!strcmp(req->marks[i]->producer, crm_consumer_producer(self->holds[h])) &&
                crm_consumer_applied(self->holds[h]) < req->marks[i]->seq && crm_consumer_stuck(self->holds[h], NULL))
                return 1;
    return 0;
}

/* A call that needs events a stuck consumer has not applied fails at once,
 * saying why, rather than waiting out its deadline: returns 1 with the
 * call's status set, else 0. */
static int needs_stuck(crm_rpc_server_t *self, crm_call_t *c)
{
    const Crm__Rpc__V1__RpcRequest *req = c->req;
    for (size_t i = 0; i < req->n_marks; i++)
        for (int h = 0; h < self->n_holds; h++) {
            crm_consumer_stuck_t st;
            if (strcmp(req->marks[i]->producer, crm_consumer_producer(self->holds[h])) != 0 ||
                crm_consumer_applied(self->holds[h]) >= req->marks[i]->seq || !crm_consumer_stuck(self->holds[h], &st))
                continue;
            crm_call_fail(c, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL,
                          "%s cannot apply %s's event %llu (%s): %s; an operator must retry or skip it",
                          self->service, req->marks[i]->producer, (unsigned long long)st.seq, st.type, st.error);
            return 1;
        }
    return 0;
}

static int must_hold(crm_rpc_server_t *self, const Crm__Rpc__V1__RpcRequest *req)
{
    for (size_t i = 0; i < req->n_marks; i++)
        for (int h = 0; h < self->n_holds; h++)
            if (!strcmp(req->marks[i]->producer, crm_consumer_producer(self->holds[h])) &&
                crm_consumer_applied(self->holds[h]) < req->marks[i]->seq)
                return 1;
    return 0;
}

static void hold(crm_rpc_server_t *self, crm_call_t *c, const void *data, size_t len)
{
    held_t *h = crm_malloc(sizeof *h);
    h->peer = crm_memdup(c->peer, c->peer_len);
    h->peer_len = c->peer_len;
    h->data = crm_memdup(data, len);
    h->len = len;
    h->deadline = c->req->deadline ? c->req->deadline : self->now + 5000000;
    h->caller = c->caller;
    h->next = self->held;
    self->held = h;
    self->n_held++;
    c->done = 2; /* no reply now */
    if (!ev_is_active(&self->hold_sweep))
        ev_timer_again(self->loop, &self->hold_sweep);
}

/* --- one batch ------------------------------------------------------------- */

static int caller_may_call(const crm_call_t *c)
{
    if (c->caller == CALLER_UNCHECKED)
        return 1;
    if (c->service->desc == &crm__ops__v1__operations__descriptor)
        return c->caller == CALLER_OPERATOR;
    if (c->service->desc == &crm__health__v1__health__descriptor)
        return c->caller == CALLER_GATEWAY || c->caller == CALLER_OPERATOR;
    return c->caller == CALLER_GATEWAY;
}

static void prepare_call(crm_rpc_server_t *self, crm_call_t *c, const void *peer, size_t peer_len,
                         const void *data, size_t len, int may_hold, void *work_result, caller_t caller)
{
    memset(c, 0, sizeof *c);
    c->server = self;
    c->caller = caller;
    c->work_result = work_result;
    c->peer = peer;
    c->peer_len = peer_len;
    c->req = (Crm__Rpc__V1__RpcRequest *)protobuf_c_message_unpack(&crm__rpc__v1__rpc_request__descriptor,
                                       crm_arena_allocator(self->arena), len, data);
    if (!c->req) {
        /* answer under id 0 so the sender at least learns it was malformed */
        static Crm__Rpc__V1__RpcRequest empty = CRM__RPC__V1__RPC_REQUEST__INIT;
        c->req = &empty;
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_MALFORMED, NULL, "request envelope is not a valid RpcRequest");
        c->done = 1;
        return;
    }
    if (route(self, c) != 0) {
        c->done = 1;
        return;
    }
    if (!caller_may_call(c)) {
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_PERMISSION_DENIED, "method",
                      "this key may not call %s: the public API is the gateway's, the operations the operator's",
                      c->req->method);
        c->done = 1;
        return;
    }
    if (c->req->deadline && c->req->deadline < self->now) {
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_DEADLINE_EXCEEDED, NULL, "deadline passed before the call ran");
        c->done = 1;
        return;
    }
    if (c->req->principal == NULL && !(c->flags & CRM_METHOD_PUBLIC)) {
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_UNAUTHENTICATED, NULL, "this method needs a session");
        c->done = 1;
        return;
    }
    if ((int64_t)c->req->body.len > crm_limit_request(c->req->method)) {
        /* the gateway refuses these first; this guards the other callers */
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, "body",
                      "request body of %zu bytes exceeds %s's limit of %lld", c->req->body.len,
                      c->req->method, (long long)crm_limit_request(c->req->method));
        c->done = 1;
        return;
    }
    if (strlen(c->req->idempotency_key) > IDEM_KEY_MAX) {
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "idempotencyKey",
                      "idempotency key longer than %d bytes", IDEM_KEY_MAX);
        c->done = 1;
        return;
    }
    if (must_hold(self, c->req) && needs_stuck(self, c)) {
        c->done = 1;
        return;
    }
    if (must_hold(self, c->req)) {
        if (may_hold) {
            hold(self, c, data, len);
            return;
        }
        /* held as long as a call without a deadline is, and still behind:
         * answering from a read model without the caller's own writes
         * would be the stale read the hold is there to prevent */
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_UNAVAILABLE, NULL,
                      "%s has not caught up with the events this call waits for; try again", self->service);
        c->done = 1;
        return;
    }
    c->in = protobuf_c_message_unpack(c->method->input, crm_arena_allocator(self->arena),
                                      c->req->body.len, c->req->body.data);
    if (!c->in) {
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_MALFORMED, NULL, "request body is not a valid %s",
                      c->method->input->name);
        c->done = 1;
    }
}

static int run_handler(crm_call_t *c)
{
    c->out = crm_call_new(c, c->method->output);
    crm_status_clear(&c->st);
    c->map_full = 0;
    c->storage_failed = 0;
    int rc = c->service->methods[c->method - c->service->desc->methods].fn(c, c->in, c->out);
    if (rc != 0 && c->defer_work && !(c->flags & CRM_METHOD_WRITE)) {
        c->defer_work = NULL; /* only writes may defer: their changes can be undone */
        free_arg(c->defer_arg);
        c->defer_arg = NULL;
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "a read method deferred");
    }
    if (rc != 0 && c->st.code == CRM__RPC__V1__CODE__CODE_OK && !c->defer_work)
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "handler failed without a reason");
    return rc;
}

static void run_reads(crm_rpc_server_t *self, crm_call_t *calls, int n)
{
    MDB_txn *txn = NULL;
    for (int i = 0; i < n; i++) {
        crm_call_t *c = &calls[i];
        if (c->done || (c->flags & CRM_METHOD_WRITE))
            continue;
        if (!txn) {
            int rc = crm_store_read_begin(self->store, &txn);
            if (rc) {
                crm_call_fail_db(c, rc);
                c->done = 1;
                txn = NULL;
                continue;
            }
        }
        c->txn = txn;
        run_handler(c);
        c->txn = NULL;
        c->done = 1;
    }
    if (txn)
        crm_store_read_end(self->store, txn);
}

/* An idempotency record is found by, and its reply sealed with, what only
 * the client's key gives: its LMDB key is the user id and a hash of method
 * and client key, its value [body hash 16][time 8][nonce][sealed reply]
 * with the body hash keyed too. So the store (and every backup of it)
 * holds neither the client's key nor a reply in clear: a reply may carry
 * a secret (CreateUser's invitation token). */
#define IDEM_KEY_LEN (8 + 16)
#define IDEM_HEAD (IDEM_HASH + 8 + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

typedef struct {
    uint8_t lookup[IDEM_KEY_LEN];
    uint8_t seal[crypto_secretbox_KEYBYTES];
    uint8_t body_hash[IDEM_HASH];
} idem_t;

static void idem_derive(crm_call_t *c, idem_t *id)
{
    uint64_t uid = c->req->principal ? (uint64_t)c->req->principal->user_id : 0;
    crypto_generichash_state st;
    const char *m = c->req->method, *k = c->req->idempotency_key;
    crm_key_put_u64(id->lookup, uid);
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const uint8_t *)"crm idem lookup", 16);
    crypto_generichash_update(&st, (const uint8_t *)m, strlen(m) + 1);
    crypto_generichash_update(&st, (const uint8_t *)k, strlen(k));
    crypto_generichash_final(&st, id->lookup + 8, 16);
    crypto_generichash_init(&st, NULL, 0, sizeof id->seal);
    crypto_generichash_update(&st, (const uint8_t *)"crm idem seal", 14);
    crypto_generichash_update(&st, (const uint8_t *)m, strlen(m) + 1);
    crypto_generichash_update(&st, (const uint8_t *)k, strlen(k));
    crypto_generichash_final(&st, id->seal, sizeof id->seal);
    crypto_generichash(id->body_hash, IDEM_HASH, c->req->body.data, c->req->body.len, id->seal, sizeof id->seal);
}

/* Returns 1 if the call was answered from a stored reply, 0 if it must run,
 * -1 on failure (status set). */
static int idem_lookup(crm_call_t *c, MDB_txn *txn, const idem_t *id)
{
    MDB_val k = {IDEM_KEY_LEN, (void *)id->lookup}, d;
    int rc = mdb_get(txn, c->server->idem, &k, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return crm_call_fail_db(c, rc);
    if (d.mv_size < IDEM_HEAD)
        return crm_call_fail_db(c, MDB_CORRUPTED);
    const uint8_t *v = d.mv_data;
    if (sodium_memcmp(v, id->body_hash, IDEM_HASH) != 0)
        return crm_call_fail(c, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "idempotencyKey",
                             "idempotency key already used for a different request");
    size_t blen = d.mv_size - IDEM_HEAD;
    uint8_t *body = crm_arena_alloc(c->server->arena, blen ? blen : 1);
    const uint8_t *nonce = v + IDEM_HASH + 8;
    if (crypto_secretbox_open_easy(body, nonce + crypto_secretbox_NONCEBYTES, blen + crypto_secretbox_MACBYTES,
                                   nonce, id->seal) != 0)
        return crm_call_fail_db(c, MDB_CORRUPTED);
    c->raw = body;
    c->raw_len = blen;
    return 1;
}

/* Stores the call's reply under id in txn. Returns 0 or an LMDB code. */
static int idem_store(crm_call_t *c, MDB_txn *txn, const idem_t *id)
{
    size_t blen = protobuf_c_message_get_packed_size(c->out);
    uint8_t *plain = crm_arena_alloc(c->server->arena, blen ? blen : 1);
    protobuf_c_message_pack(c->out, plain);
    MDB_val k = {IDEM_KEY_LEN, (void *)id->lookup}, d = {IDEM_HEAD + blen, NULL};
    int rc = mdb_put(txn, c->server->idem, &k, &d, MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *p = d.mv_data, *nonce = p + IDEM_HASH + 8;
    memcpy(p, id->body_hash, IDEM_HASH);
    crm_key_put_u64(p + IDEM_HASH, (uint64_t)c->server->now);
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, plain, blen, nonce, id->seal);
    sodium_memzero(plain, blen);
    return 0;
}

static int run_one_write(crm_call_t *c, MDB_txn *parent)
{
    idem_t id;
    int keyed = 0;
    /* a batch re-run after the map grew starts every call afresh */
    crm_status_clear(&c->st);
    c->map_full = 0;
    free_arg(c->defer_arg);
    c->defer_arg = NULL;
    c->defer_work = NULL;
    /* public methods (Login, SetPassword) are safe to repeat, and their
     * replies carry secrets that must not be kept in clear */
    if (c->req->idempotency_key[0] && !(c->flags & CRM_METHOD_PUBLIC)) {
        keyed = 1;
        idem_derive(c, &id);
        int found = idem_lookup(c, parent, &id);
        if (found)
            return found < 0 ? -1 : 0;
    }
    MDB_txn *child;
    int rc = mdb_txn_begin(crm_store_env(c->server->store), parent, 0, &child);
    if (rc)
        return crm_call_fail_db(c, rc);
    c->txn = child;
    if (run_handler(c) != 0) {
        mdb_txn_abort(child);
        c->txn = NULL;
        return -1;
    }
    if (keyed) {
        rc = idem_store(c, child, &id);
        if (rc) {
            mdb_txn_abort(child);
            c->txn = NULL;
            return crm_call_fail_db(c, rc);
        }
    }
    rc = mdb_txn_commit(child);
    c->txn = NULL;
    if (rc)
        return crm_call_fail_db(c, rc);
    return 0;
}

typedef struct {
    crm_call_t *calls;
    int n;
} write_batch_t;

static int write_batch_txn(MDB_txn *txn, void *arg)
{
    write_batch_t *b = arg;
    for (int i = 0; i < b->n; i++) {
        crm_call_t *c = &b->calls[i];
        if (c->done || !(c->flags & CRM_METHOD_WRITE))
            continue;
        c->raw = NULL;
        run_one_write(c, txn);
        if (c->map_full)
            return MDB_MAP_FULL;
    }
    return 0;
}

static void run_writes(crm_rpc_server_t *self, crm_call_t *calls, int n)
{
    int any = 0;
    for (int i = 0; i < n && !any; i++)
        any = !calls[i].done && (calls[i].flags & CRM_METHOD_WRITE);
    if (!any)
        return;
    write_batch_t b = {calls, n};
    int rc = crm_store_write(self->store, write_batch_txn, &b);
    for (int i = 0; i < n; i++) {
        crm_call_t *c = &calls[i];
        if (c->done || !(c->flags & CRM_METHOD_WRITE))
            continue;
        if (rc) {
            /* nothing of the batch was committed: no call may report success */
            fail_storage(c, rc);
        }
        c->done = 1;
    }
    flush_committed(self);
}

static void send_reply(crm_rpc_server_t *self, crm_call_t *c)
{
    Crm__Rpc__V1__RpcReply reply = CRM__RPC__V1__RPC_REPLY__INIT;
    Crm__Rpc__V1__Status status;
    Crm__Rpc__V1__SeqMark mark = CRM__RPC__V1__SEQ_MARK__INIT, *marks[1] = {&mark};
    reply.id = c->req->id;
    crm_status_to_pb(&c->st, &status);
    reply.status = &status;
    if (c->st.code == CRM__RPC__V1__CODE__CODE_OK) {
        if (c->raw) {
            reply.body.data = (uint8_t *)c->raw;
            reply.body.len = c->raw_len;
        } else if (c->out) {
            reply.body.len = protobuf_c_message_get_packed_size(c->out);
            reply.body.data = crm_arena_alloc(self->arena, reply.body.len);
            protobuf_c_message_pack(c->out, reply.body.data);
        }
    }
    if (self->publisher) {
        mark.producer = (char *)crm_publisher_producer(self->publisher);
        mark.seq = crm_publisher_head(self->publisher);
        reply.marks = marks;
        reply.n_marks = 1;
    }
    size_t len = crm__rpc__v1__rpc_reply__get_packed_size(&reply);
    uint8_t *buf = crm_arena_alloc(self->arena, len);
    crm__rpc__v1__rpc_reply__pack(&reply, buf);
    const void *data[2] = {c->peer, buf};
    size_t size[2] = {c->peer_len, len};
    if (crm_zsend(self->socket, data, size, 2) != 0)
        crm_log(CRM_LOG_WARN, c->req->id, "reply dropped: %s", zmq_strerror(errno));
    if (c->st.code != CRM__RPC__V1__CODE__CODE_OK)
        crm_log(CRM_LOG_DEBUG, c->req->id, "%s: %s %s (%s)", c->req->method, crm_code_name(c->st.code),
                c->st.message, c->st.field);
}

typedef struct {
    const void *peer, *data;
    size_t peer_len, len;
    void *work_result;
    caller_t caller;
} raw_call_t;

static void run_batch(crm_rpc_server_t *self, const raw_call_t *raw, int n, int may_hold);

/* On a worker thread: the handler's work, on the handler's argument. */
static void run_work(void *arg)
{
    deferred_t *d = arg;
    d->work(d->arg);
}

static void on_work_done(void *arg, int cancelled)
{
    deferred_t *d = arg;
    address_share(d->server, d->address_key, -1);
    if (!cancelled) {
        raw_call_t raw = {d->peer, d->data, d->peer_len, d->len, d->arg, d->caller};
        run_batch(d->server, &raw, 1, 0);
    }
    free_arg(d->arg);
    free(d->peer);
    free(d->data);
    free(d);
}

/* Hands a call that deferred to the workers; a full queue is answered at
 * once, which is how a flood of password hashes is refused. */
static void defer(crm_rpc_server_t *self, crm_call_t *c, const raw_call_t *raw)
{
    uint64_t key = address_key(crm_call_client_address(c));
    if (!self->workers || address_share(self, key, 1) != 0) {
        free_arg(c->defer_arg);
        c->defer_arg = NULL;
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                      "too many calls from this address at once; try again shortly");
        c->done = 1;
        return;
    }
    deferred_t *d = crm_malloc(sizeof *d);
    *d = (deferred_t){self, crm_memdup(raw->peer, raw->peer_len), crm_memdup(raw->data, raw->len),
                      raw->peer_len, raw->len, c->defer_work, c->defer_arg, key, raw->caller};
    c->defer_arg = NULL;
    if (crm_workers_submit(self->workers, run_work, on_work_done, d) != 0) {
        address_share(self, key, -1);
        free_arg(d->arg);
        free(d->peer);
        free(d->data);
        free(d);
        crm_call_fail(c, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL, "the service is busy; try again shortly");
        c->done = 1;
        return;
    }
    c->done = 2; /* answered when the work is done */
}

static void run_batch(crm_rpc_server_t *self, const raw_call_t *raw, int n, int may_hold)
{
    crm_call_t calls[BATCH_MAX];
    self->now = crm_time_now_us();
    for (int i = 0; i < n; i++)
        prepare_call(self, &calls[i], raw[i].peer, raw[i].peer_len, raw[i].data, raw[i].len, may_hold,
                     raw[i].work_result, raw[i].caller);
    run_reads(self, calls, n);
    run_writes(self, calls, n);
    for (int i = 0; i < n; i++)
        if (calls[i].defer_work)
            defer(self, &calls[i], &raw[i]);
    for (int i = 0; i < n; i++)
        if (calls[i].done == 1)
            send_reply(self, &calls[i]);
    crm_arena_reset(self->arena);
}

/* The ZAP user id is the name of the key the peer presented (crm_curve). */
static caller_t caller_of(zmq_msg_t *m)
{
    if (!crm_curve_enabled())
        return CALLER_UNCHECKED;
    const char *who = zmq_msg_gets(m, "User-Id");
    if (who && !strcmp(who, "gateway"))
        return CALLER_GATEWAY;
    if (who && !strcmp(who, "operator"))
        return CALLER_OPERATOR;
    return CALLER_OTHER;
}

static void on_request(crm_zwatch_t *w, void *socket, void *arg)
{
    crm_rpc_server_t *self = arg;
    crm_frames_t frames[BATCH_MAX];
    raw_call_t raw[BATCH_MAX];
    int n = 0;
    while (n < BATCH_MAX) {
        crm_frames_t *f = &frames[n];
        if (crm_frames_recv(socket, f) != 0)
            break;
        /* [peer][RpcRequest] from a DEALER; anything else is not ours */
        if (f->count != 2) {
            crm_frames_close(f);
            continue;
        }
        raw[n].peer = crm_frame_data(f, 0);
        raw[n].peer_len = crm_frame_size(f, 0);
        raw[n].data = crm_frame_data(f, 1);
        raw[n].len = crm_frame_size(f, 1);
        raw[n].work_result = NULL;
        raw[n].caller = caller_of(&f->frame[1]);
        n++;
    }
    if (n)
        run_batch(self, raw, n, 1);
    for (int i = 0; i < n; i++)
        crm_frames_close(&frames[i]);
}

/* Re-runs held calls whose marks are now reached; fails those past their
 * deadline. */
static void release_held(crm_rpc_server_t *self)
{
    int64_t now = crm_time_now_us();
    held_t *ready = NULL, **pp = &self->held;
    while (*pp) {
        held_t *h = *pp;
        Crm__Rpc__V1__RpcRequest *req = crm__rpc__v1__rpc_request__unpack(
            crm_arena_allocator(self->arena), h->len, h->data);
        int still = req && must_hold(self, req) && h->deadline > now && !marks_stuck(self, req);
        if (still) {
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        self->n_held--;
        h->next = ready;
        ready = h;
    }
    crm_arena_reset(self->arena);
    while (ready) {
        raw_call_t raw[BATCH_MAX];
        held_t *list[BATCH_MAX];
        int n = 0;
        while (ready && n < BATCH_MAX) {
            list[n] = ready;
            raw[n] = (raw_call_t){ready->peer, ready->data, ready->peer_len, ready->len, NULL, ready->caller};
            ready = ready->next;
            n++;
        }
        /* may_hold = 0: a call past its deadline runs into the deadline check,
         * one whose marks are reached runs normally */
        run_batch(self, raw, n, 0);
        for (int i = 0; i < n; i++) {
            free(list[i]->peer);
            free(list[i]->data);
            free(list[i]);
        }
    }
    if (!self->held)
        ev_timer_stop(self->loop, &self->hold_sweep);
}

static void on_hold_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    release_held(w->data);
}

static void on_progress(void *arg, crm_consumer_t *consumer)
{
    crm_rpc_server_t *self = arg;
    /* applying another producer's events may append events of our own
     * (activities writes tracking messages from pipeline's) */
    flush_committed(self);
    if (self->held)
        release_held(self);
}

/* --- idempotency records expire --------------------------------------------- */

typedef struct {
    crm_rpc_server_t *self;
    int64_t cutoff;
    size_t deleted;
} idem_sweep_t;

#define IDEM_SCAN_MAX 50000 /* records one pass reads at most */

/* One pass goes on where the last one stopped, so that a large table is
 * swept in bounded passes rather than read from its start every time. */
static int idem_sweep_txn(MDB_txn *txn, void *arg)
{
    idem_sweep_t *sw = arg;
    crm_rpc_server_t *self = sw->self;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->idem, &cur);
    if (rc)
        return rc;
    MDB_val k = {self->idem_from_len, self->idem_from}, d;
    size_t scanned = 0;
    sw->deleted = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, self->idem_from_len ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0 && sw->deleted < IDEM_SWEEP_MAX && scanned < IDEM_SCAN_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        scanned++;
        if (d.mv_size < IDEM_HASH + 8 ||
            (int64_t)crm_key_get_u64((uint8_t *)d.mv_data + IDEM_HASH) >= sw->cutoff)
            continue;
        /* LMDB moves the cursor to the next record on delete; MDB_NEXT after a
         * delete returns that record, not the one after it */
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        sw->deleted++;
    }
    if (rc == 0) {
        /* stopped at a bound: the loop's last MDB_NEXT is on the first record
         * not yet looked at, which the next pass starts from */
        MDB_val nk, nd;
        int more = mdb_cursor_get(cur, &nk, &nd, MDB_GET_CURRENT);
        if (more == 0 && nk.mv_size <= sizeof self->idem_from) {
            memcpy(self->idem_from, nk.mv_data, nk.mv_size);
            self->idem_from_len = nk.mv_size;
        } else {
            self->idem_from_len = 0;
        }
        rc = more == MDB_NOTFOUND ? 0 : more;
    } else if (rc == MDB_NOTFOUND) {
        self->idem_from_len = 0; /* the end: the next pass starts over */
        rc = 0;
    }
    mdb_cursor_close(cur);
    return rc;
}

static void on_idem_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    idem_sweep_t sw = {w->data, crm_time_now_us() - IDEM_KEEP_US, 0};
    int rc = crm_store_write(sw.self->store, idem_sweep_txn, &sw);
    if (rc)
        crm_warn("expiring idempotency records: %s", mdb_strerror(rc));
    else if (sw.deleted)
        crm_info("expired %zu idempotency records", sw.deleted);
    /* behind, or in the middle of the table: come back soon instead of in
     * ten minutes */
    w->repeat = sw.deleted == IDEM_SWEEP_MAX || sw.self->idem_from_len ? 1.0 : IDEM_SWEEP_S;
    ev_timer_again(loop, w);
}

/* --- health --------------------------------------------------------------- */

static int health_check(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    crm_rpc_server_t *self = call->server;
    Crm__Health__V1__CheckReply *r = (Crm__Health__V1__CheckReply *)out;
    r->status = "SERVING";
    r->service = self->service;
    r->version = CRM_VERSION;
    r->uptime = (crm_time_mono_us() - self->started) / 1000000;
    if (self->publisher) {
        Crm__Rpc__V1__SeqMark *m = crm_call_new(call, &crm__rpc__v1__seq_mark__descriptor);
        m->producer = (char *)crm_publisher_producer(self->publisher);
        m->seq = crm_publisher_head(self->publisher);
        r->produced = crm_arena_alloc(self->arena, sizeof *r->produced);
        r->produced[0] = m;
        r->n_produced = 1;
    } else if (self->stream.head) {
        Crm__Rpc__V1__SeqMark *m = crm_call_new(call, &crm__rpc__v1__seq_mark__descriptor);
        m->producer = (char *)self->stream.name;
        m->seq = self->stream.head(self->stream.arg);
        r->produced = crm_arena_alloc(self->arena, sizeof *r->produced);
        r->produced[0] = m;
        r->n_produced = 1;
    }
    r->problems = crm_arena_alloc(self->arena, sizeof *r->problems * (size_t)(self->n_holds + 1));
    for (int i = 0; i < self->n_holds; i++) {
        crm_consumer_stuck_t st;
        if (!crm_consumer_stuck(self->holds[i], &st))
            continue;
        r->status = "DEGRADED";
        r->problems[r->n_problems++] =
            crm_arena_printf(self->arena, "%s event %llu (%s) fails to apply: %s, %d times since %lld",
                             crm_consumer_producer(self->holds[i]), (unsigned long long)st.seq, st.type, st.error,
                             st.failures, (long long)st.since);
    }
    if (self->n_holds) {
        r->applied = crm_arena_alloc(self->arena, sizeof *r->applied * (size_t)self->n_holds);
        for (int i = 0; i < self->n_holds; i++) {
            Crm__Rpc__V1__SeqMark *m = crm_call_new(call, &crm__rpc__v1__seq_mark__descriptor);
            m->producer = (char *)crm_consumer_producer(self->holds[i]);
            m->seq = crm_consumer_applied(self->holds[i]);
            r->applied[i] = m;
        }
        r->n_applied = (size_t)self->n_holds;
    }
    return 0;
}

static const crm_method_t health_methods[] = {{"Check", health_check, CRM_METHOD_PUBLIC}};
static const crm_rpc_api_t health_api = CRM_RPC_API(crm__health__v1__health__descriptor, health_methods);

/* --- operations (crmctl consumers) ----------------------------------------- */

static Crm__Ops__V1__Consumer *describe(crm_call_t *call, crm_consumer_t *k)
{
    Crm__Ops__V1__Consumer *c = crm_call_new(call, &crm__ops__v1__consumer__descriptor);
    c->producer = (char *)crm_consumer_producer(k);
    c->applied = crm_consumer_applied(k);
    c->known = crm_consumer_known(k);
    c->failures = crm_consumer_failures(k);
    crm_consumer_stuck_t st;
    if (crm_consumer_stuck(k, &st)) {
        Crm__Ops__V1__StuckEvent *e = crm_call_new(call, &crm__ops__v1__stuck_event__descriptor);
        e->seq = st.seq;
        e->type = crm_arena_strdup(call->server->arena, st.type);
        e->error = crm_arena_strdup(call->server->arena, st.error);
        e->failures = st.failures;
        e->since = st.since;
        c->stuck = e;
    }
    return c;
}

static int find_consumer(crm_call_t *call, const char *producer, crm_consumer_t **out)
{
    crm_rpc_server_t *self = call->server;
    for (int h = 0; h < self->n_holds; h++)
        if (!strcmp(crm_consumer_producer(self->holds[h]), producer)) {
            *out = self->holds[h];
            return 0;
        }
    return crm_call_fail(call, CRM__RPC__V1__CODE__CODE_NOT_FOUND, "producer", "%s has no consumer of \"%s\"",
                         self->service, producer);
}

static int ops_list(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    crm_rpc_server_t *self = call->server;
    Crm__Ops__V1__ListConsumersReply *r = (void *)out;
    r->consumers = crm_arena_alloc(self->arena, sizeof *r->consumers * (size_t)(self->n_holds + 1));
    for (int h = 0; h < self->n_holds; h++)
        r->consumers[r->n_consumers++] = describe(call, self->holds[h]);
    return 0;
}

static int ops_retry(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Ops__V1__RetryEventRequest *r = (const void *)in;
    crm_consumer_t *k;
    if (find_consumer(call, r->producer, &k) != 0)
        return -1;
    crm_consumer_retry(k);
    *(Crm__Ops__V1__Consumer *)out = *describe(call, k);
    return 0;
}

static int ops_skip(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Ops__V1__SkipEventRequest *r = (const void *)in;
    crm_consumer_t *k;
    if (find_consumer(call, r->producer, &k) != 0)
        return -1;
    int rc = crm_consumer_skip(k, crm_call_txn(call), r->seq);
    if (rc == -1)
        return crm_call_fail(call, CRM__RPC__V1__CODE__CODE_FAILED_PRECONDITION, "seq",
                             "event %llu of %s is not the one failing to apply", (unsigned long long)r->seq, r->producer);
    if (rc)
        return crm_call_fail_db(call, rc);
    *(Crm__Ops__V1__Consumer *)out = *describe(call, k);
    return 0;
}

/* On the service's own socket only: the gateway routes the public API,
 * which this is not part of. */
static const crm_method_t ops_methods[] = {
    {"ListConsumers", ops_list, CRM_METHOD_PUBLIC},
    {"RetryEvent", ops_retry, CRM_METHOD_PUBLIC},
    {"SkipEvent", ops_skip, CRM_METHOD_PUBLIC | CRM_METHOD_WRITE},
};
static const crm_rpc_api_t ops_api = CRM_RPC_API(crm__ops__v1__operations__descriptor, ops_methods);

/* --- lifecycle ------------------------------------------------------------ */

static int open_idem(MDB_txn *txn, void *arg)
{
    return mdb_dbi_open(txn, "idempotency", MDB_CREATE, arg);
}

crm_rpc_server_t *crm_rpc_server_new(struct ev_loop *loop, void *zctx, const char *service,
                                     const char *endpoint, crm_store_t *store, int64_t max_msg)
{
    crm_rpc_server_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->service = crm_strdup(service);
    self->store = store;
    self->arena = crm_arena_new();
    self->started = crm_time_mono_us();
    ev_init(&self->hold_sweep, on_hold_sweep);
    self->hold_sweep.repeat = HOLD_SWEEP_S;
    self->hold_sweep.data = self;
    ev_timer_init(&self->idem_sweep, on_idem_sweep, IDEM_SWEEP_S, IDEM_SWEEP_S);
    self->idem_sweep.data = self;
    ev_timer_start(loop, &self->idem_sweep);
    if (sodium_init() < 0) {
        crm_error("libsodium failed to initialise");
        goto fail;
    }
    int rc = crm_store_write(store, open_idem, &self->idem);
    if (rc) {
        crm_error("rpc server: %s", mdb_strerror(rc));
        goto fail;
    }
    self->socket = zmq_socket(zctx, ZMQ_ROUTER);
    if (!self->socket || crm_zsock_setup(self->socket, max_msg) != 0 ||
        crm_curve_server(self->socket, CRM_CURVE_RPC) != 0) {
        crm_error("RPC socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (endpoint && crm_rpc_server_listen(self, endpoint) != 0)
        goto fail;
    if (crm_rpc_server_add(self, &health_api, self) != 0 || crm_rpc_server_add(self, &ops_api, self) != 0)
        goto fail;
    return self;
fail:
    crm_rpc_server_destroy(&self);
    return NULL;
}

int crm_rpc_server_listen(crm_rpc_server_t *self, const char *endpoint)
{
    if (zmq_bind(self->socket, endpoint) != 0) {
        crm_error("bind %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    if (!(self->watch = crm_zwatch_new(self->loop, self->socket, on_request, self)))
        return -1;
    return 0;
}

void crm_rpc_server_destroy(crm_rpc_server_t **self_p)
{
    crm_rpc_server_t *self = *self_p;
    if (!self)
        return;
    ev_timer_stop(self->loop, &self->hold_sweep);
    ev_timer_stop(self->loop, &self->idem_sweep);
    crm_zwatch_destroy(&self->watch);
    if (self->socket)
        zmq_close(self->socket);
    while (self->held) {
        held_t *h = self->held;
        self->held = h->next;
        free(h->peer);
        free(h->data);
        free(h);
    }
    for (int i = 0; i < self->n_services; i++)
        free(self->services[i].methods);
    crm_arena_destroy(&self->arena);
    crm_map_destroy(&self->deferred_by_address);
    free(self->service);
    free(self);
    *self_p = NULL;
}

/* api's handlers in the order of its descriptor's methods, each method with
 * exactly one; NULL (logged) otherwise. */
static crm_method_t *resolve_methods(const crm_rpc_api_t *api)
{
    const ProtobufCServiceDescriptor *d = api->desc;
    crm_method_t *by_index = crm_calloc(d->n_methods ? d->n_methods : 1, sizeof *by_index);
    for (size_t i = 0; i < api->n_methods; i++) {
        const crm_method_t *h = &api->methods[i];
        const ProtobufCMethodDescriptor *m =
            h->name ? protobuf_c_service_descriptor_get_method_by_name(d, h->name) : NULL;
        if (!m) {
            crm_error("%s: handler %zu (\"%s\") names no method of the service", d->name, i,
                      h->name ? h->name : "(no name)");
            goto fail;
        }
        crm_method_t *slot = &by_index[m - d->methods];
        if (!h->fn) {
            crm_error("%s/%s: its handler has no function", d->name, m->name);
            goto fail;
        }
        if (slot->fn) {
            crm_error("%s/%s has two handlers", d->name, m->name);
            goto fail;
        }
        *slot = *h;
    }
    for (unsigned i = 0; i < d->n_methods; i++)
        if (!by_index[i].fn) {
            crm_error("%s/%s has no handler", d->name, d->methods[i].name);
            goto fail;
        }
    return by_index;
fail:
    free(by_index);
    return NULL;
}

int crm_rpc_server_add(crm_rpc_server_t *self, const crm_rpc_api_t *api, void *ctx)
{
    if (self->n_services == MAX_SERVICES) {
        crm_error("%s: a server serves %d services at most", api->desc->name, MAX_SERVICES);
        return -1;
    }
    crm_method_t *methods = resolve_methods(api);
    if (!methods)
        return -1;
    self->services[self->n_services++] = (service_t){api->desc, methods, ctx};
    return 0;
}

void crm_rpc_server_set_publisher(crm_rpc_server_t *self, crm_publisher_t *publisher)
{
    self->publisher = publisher;
}

void crm_rpc_server_set_stream(crm_rpc_server_t *self, const crm_rpc_stream_t *stream)
{
    self->stream = *stream;
}

void crm_rpc_server_hold_for(crm_rpc_server_t *self, crm_consumer_t *consumer)
{
    if (self->n_holds == MAX_HOLD_PRODUCERS)
        return;
    self->holds[self->n_holds++] = consumer;
    crm_consumer_on_progress(consumer, on_progress, self);
}

size_t crm_rpc_server_held(const crm_rpc_server_t *self) { return self->n_held; }
