#ifndef CRM_RPC_SERVER_H
#define CRM_RPC_SERVER_H

#include <stdint.h>
#include <ev.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include "crm_arena.h"
#include "crm_consumer.h"
#include "crm_publisher.h"
#include "crm_status.h"
#include "crm_store.h"
#include "crm_workers.h"
#include "rpc.pb-c.h"

/* A service's RPC door: a ROUTER socket taking crm.rpc.v1.RpcRequest from
 * the gateway's DEALERs and answering RpcReply (see ARCHITECTURE.md, RPC shape).
 *
 * Dispatch is by full method name ("crm.identity.v1.Identity/Login") through
 * protobuf-c service descriptors: a service registers its descriptor and one
 * handler per method, and the server decodes the body into the method's input
 * type and encodes the output type. Everything a handler allocates comes from
 * the call's arena.
 *
 * Group commit (see ARCHITECTURE.md, Group commit): all requests ready in one loop turn are read in
 * one read transaction and written in one write transaction, each write call
 * in a nested transaction of its own (so one call's failure undoes only its
 * changes); the commit is fsync'd before any reply leaves. Keyed writes store
 * their reply under (user, method, idempotency key) in the same transaction
 * and a retry gets it again (see ARCHITECTURE.md, Idempotency). A call carrying read-your-writes
 * marks for a producer this service consumes is held until the consumer has
 * applied up to the mark, never past the call's deadline (see ARCHITECTURE.md, Read-your-writes marks).
 *
 * Every server also answers crm.health.v1.Health/Check. */
typedef struct crm_rpc_server crm_rpc_server_t;
typedef struct crm_call crm_call_t;

/* A handler fills reply (already allocated and initialised, of the method's
 * output type) and returns 0, or returns crm_call_fail(...) (-1). */
typedef int (crm_handler_fn)(crm_call_t *call, const ProtobufCMessage *request,
                              ProtobufCMessage *reply);

enum {
    CRM_METHOD_WRITE = 1 << 0,  /* runs in the batch's write transaction */
    CRM_METHOD_PUBLIC = 1 << 1, /* needs no principal (Login, SetPassword) */
};

/* A method's handler, named as in the proto ("CreateLead"): a table keyed
 * by name cannot bind a handler to its neighbour's method when the proto
 * gains or reorders one. */
typedef struct {
    const char *name;
    crm_handler_fn *fn;
    unsigned flags;
} crm_method_t;

/* A protobuf service's handlers, with their count. */
typedef struct {
    const ProtobufCServiceDescriptor *desc;
    const crm_method_t *methods;
    size_t n_methods;
} crm_rpc_api_t;

/* The API of desc (a descriptor object) served by table (an array). */
#define CRM_RPC_API(desc, table) {&(desc), (table), sizeof(table) / sizeof((table)[0])}

/* Binds endpoint. service is the name Health reports ("identity"). max_msg
 * bounds an incoming request's bytes. Returns NULL on error (logged). */
crm_rpc_server_t *crm_rpc_server_new(struct ev_loop *loop, void *zctx, const char *service,
                                     const char *endpoint, crm_store_t *store, int64_t max_msg);
/* Binds endpoint and starts serving, for a server made with endpoint NULL:
 * a service binds its RPC socket last, once all it serves is ready, so
 * that an open port means a started service (container health checks
 * probe it). Returns 0 or -1 (logged). */
int crm_rpc_server_listen(crm_rpc_server_t *self, const char *endpoint);
void crm_rpc_server_destroy(crm_rpc_server_t **self_p);

/* Registers api->desc with one handler for each of its methods, found by
 * name; ctx is given to handlers through crm_call_ctx. The table is checked
 * against the descriptor: returns -1, with the reason logged, when a method
 * has no handler or two, a handler names no method of the service or has
 * no function, or the server already has 8 services. 0 on success (the
 * table is copied). */
int crm_rpc_server_add(crm_rpc_server_t *self, const crm_rpc_api_t *api, void *ctx);

/* After each commit, flush publisher and mark replies with its head. */
void crm_rpc_server_set_publisher(crm_rpc_server_t *self, crm_publisher_t *publisher);

/* A log of the service's own that is not an outbox (notifications' live
 * stream): flush(arg) runs after every commit, a batch's or a held-for
 * consumer's, and Health reports head(arg) as produced under name. */
typedef struct {
    const char *name;
    void (*flush)(void *arg);
    uint64_t (*head)(void *arg);
    void *arg;
} crm_rpc_stream_t;
void crm_rpc_server_set_stream(crm_rpc_server_t *self, const crm_rpc_stream_t *stream);

/* Honour read-your-writes marks for consumer's producer (up to 8); after
 * each batch consumer commits, the publisher (if set) is flushed too. */
void crm_rpc_server_hold_for(crm_rpc_server_t *self, crm_consumer_t *consumer);

/* The threads crm_call_defer hands work to (the caller keeps them, and
 * destroys them before the server). One client address may have at most
 * per_address calls deferred at once, so that a flood from one address
 * leaves the workers' queue to everyone else. */
void crm_rpc_server_set_workers(crm_rpc_server_t *self, crm_workers_t *workers, int per_address);

/* Calls held for read-your-writes right now (for tests and metrics). */
size_t crm_rpc_server_held(const crm_rpc_server_t *self);

/* --- inside a handler ----------------------------------------------------- */

/* The caller as the gateway established it; NULL only for public methods
 * called without a session. */
const Crm__Rpc__V1__Principal *crm_call_principal(crm_call_t *call);
/* The transaction: read-only for read methods, a nested write one otherwise. */
MDB_txn *crm_call_txn(crm_call_t *call);
crm_arena_t *crm_call_arena(crm_call_t *call);
void *crm_call_ctx(crm_call_t *call);
uint64_t crm_call_id(crm_call_t *call);
const char *crm_call_method(crm_call_t *call);
crm_store_t *crm_call_store(crm_call_t *call);
/* The client's address as the gateway saw it; "" when unknown. Never NULL. */
const char *crm_call_client_address(crm_call_t *call);
/* Wall-clock time of the batch, Unix us: one value for the whole call. */
int64_t crm_call_now(crm_call_t *call);

/* A new initialised message of type desc in the call's arena. Never NULL. */
void *crm_call_new(crm_call_t *call, const ProtobufCMessageDescriptor *desc);

/* Decodes len bytes as desc into the call's arena; NULL if malformed. */
void *crm_call_unpack(crm_call_t *call, const ProtobufCMessageDescriptor *desc,
                      const void *data, size_t len);

/* Records the error the client gets; returns -1. */
int crm_call_fail(crm_call_t *call, Crm__Rpc__V1__Code code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* In a write handler: the rest of the call needs work(arg) done off the
 * loop first (a password hash). Returns -1, for the handler to return: what
 * the call changed so far is undone and nothing is answered yet. Once
 * work(arg) has run on the server's workers, the call runs again, in a
 * later batch, and crm_call_work_result gives arg (malloc'd by the
 * handler, freed by the server after that run). With the workers' queue
 * full the client gets resource_exhausted at once. */
int crm_call_defer(crm_call_t *call, crm_work_fn *work, void *arg);
/* On that second run, the deferred work's arg; else NULL. */
void *crm_call_work_result(crm_call_t *call);

/* In a write handler: appends an event of type with payload to the
 * service's outbox (its publisher's) in the call's transaction, made by the
 * caller (0 for a public call without one). Returns 0, or -1 with the
 * storage failure recorded (internal when the server has no publisher). */
int crm_call_emit(crm_call_t *call, const char *type, const ProtobufCMessage *payload);

/* Records *st (e.g. from a crm_check_* validator) as the call's error;
 * returns -1. */
int crm_call_fail_status(crm_call_t *call, const crm_status_t *st);

/* Records a storage failure (LMDB code rc) as internal, or as a retry of
 * the whole batch after the map grows when rc is MDB_MAP_FULL; returns -1. */
int crm_call_fail_db(crm_call_t *call, int rc);

/* In a write handler: runs fn(call, arg) in a transaction nested in the
 * call's, so that one part of the call (a row of an import) is written
 * whole or not at all; keep 0 undoes it even when it succeeded (a dry
 * run). Returns 0 when fn succeeded; 1 when fn failed with an error of its
 * own: its changes are undone, *err gets the error and the call's status is
 * cleared, so the call goes on; -1 when storage failed (a full map, a
 * disk error): the call's error is set, for the handler to return. */
typedef int (crm_nested_fn)(crm_call_t *call, void *arg);
int crm_call_nested(crm_call_t *call, crm_nested_fn *fn, void *arg, int keep, crm_status_t *err);

#endif
