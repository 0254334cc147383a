#ifndef CRM_SERVICE_H
#define CRM_SERVICE_H

#include <stdint.h>
#include <ev.h>
#include "crm_config.h"
#include "crm_consumer.h"
#include "crm_outbox.h"
#include "crm_rpc_server.h"
#include "crm_store.h"

/* The wiring every backend (identity, pipeline, activities, notifications)
 * shares. A service's main.c describes itself in a crm_service_def_t and
 * crm_service_main does the rest, in this order:
 *   1. flags: the service's own and the shared ones, each with its
 *      variable: --data-dir (CRM_<NAME>_DATA, ./data/<name>), --rpc
 *      (CRM_<NAME>_RPC); a producer's --events, --replay (CRM_<NAME>_EVENTS,
 *      _REPLAY) and --outbox-keep-seconds; for each producer it consumes
 *      --<producer>-events, --<producer>-replay (that producer's variables)
 *      and --commit-window-us; --heartbeat-ms, --curve-dir. Endpoints
 *      default to the service's port block (identity 5601, pipeline 5611,
 *      activities 5621, notifications 5631: RPC there, events one up,
 *      replay two up). Then def->configure checks the service's own flags;
 *   2. libsodium, the store (def's DBIs, plus "outbox" for a producer),
 *      def->upgrade, the outbox, whose events carry the cursors of the
 *      service's consumers;
 *   3. the ZeroMQ context and CURVE, the consumers, the publisher, the RPC
 *      server (with Health and crm.ops.v1.Operations) serving def's APIs,
 *      each handler table checked against its descriptor, and holding calls
 *      for read-your-writes on every consumer;
 *   4. def->start (bootstrap, timers, anything else the service runs), the
 *      publisher's flush of what a previous run committed but never sent,
 *      the loop until SIGINT or SIGTERM;
 * and the teardown in reverse: def->stop, RPC server, publisher, consumers,
 * CURVE, ZeroMQ context, outbox, store. Every failure is logged saying what
 * failed. */
typedef struct crm_service crm_service_t;

#define CRM_SERVICE_MAX_FLAGS 16
#define CRM_SERVICE_MAX_DBIS 32
#define CRM_SERVICE_MAX_CONSUMES 4
#define CRM_SERVICE_MAX_APIS 4

/* A producer whose events the service applies (to a read model). */
typedef struct {
    const char *producer;         /* a backend's name: "identity" */
    crm_consumer_apply_fn *apply; /* called with def->ctx */
} crm_service_consumes_t;

/* Tables end at their first empty entry (or at their size). */
typedef struct {
    const char *name;     /* "pipeline": logs, Health, its events' producer, its flags */
    void *ctx;            /* the service's state: given to handlers, appliers and hooks */
    crm_store_t **store;  /* set to the open store (usually a field of ctx) */
    crm_outbox_t **outbox; /* NULL: produces no events; else set to its outbox */
    uint32_t schema;      /* the store's schema version */
    crm_opt_t flags[CRM_SERVICE_MAX_FLAGS]; /* the service's own flags */
    crm_store_dbi_t dbis[CRM_SERVICE_MAX_DBIS];
    crm_service_consumes_t consumes[CRM_SERVICE_MAX_CONSUMES];
    crm_rpc_api_t apis[CRM_SERVICE_MAX_APIS]; /* handlers are given ctx */
    /* After the flags are read, before anything opens: checks the service's
     * own flags and fills ctx from them. Returns 0, or -1 after logging
     * which flag is wrong (the program exits 2). May be NULL. */
    int (*configure)(void *ctx);
    /* Right after the store opens, before anything reads it: brings
     * records an older version wrote up to this one (crm_readmodel_upgrade).
     * Returns 0, or -1 after logging why (the program exits 1). May be
     * NULL. */
    int (*upgrade)(crm_store_t *store, void *ctx);
    /* Once everything above runs, before the loop: what is the service's
     * own (a bootstrap, timers, threads, a stream). Returns 0, or -1 after
     * logging why (the program exits 1). May be NULL. */
    int (*start)(crm_service_t *svc, void *ctx);
    /* First thing of the teardown (once the timers stop), whenever
     * configure succeeded (so also after a failed or skipped start): frees
     * what configure and start made, and only that. May be NULL. */
    void (*stop)(crm_service_t *svc, void *ctx);
} crm_service_def_t;

/* Runs the service def describes until SIGINT or SIGTERM. Returns the exit
 * status: 0 after a signal, 2 for a bad flag (or --help: 0, printed), 1
 * when something failed to start (logged). */
int crm_service_main(const crm_service_def_t *def, int argc, char **argv);

/* --- inside start and stop ------------------------------------------------- */

struct ev_loop *crm_service_loop(crm_service_t *svc);
void *crm_service_zctx(crm_service_t *svc);
crm_rpc_server_t *crm_service_rpc(crm_service_t *svc);
const char *crm_service_data_dir(crm_service_t *svc);
/* --heartbeat-ms: how often what the service publishes says it is alive. */
int crm_service_heartbeat_ms(crm_service_t *svc);

/* From start: runs fn(def->ctx) on the loop after `after` seconds, then
 * every `every` seconds, until the teardown (which stops it before
 * def->stop). Returns 0, or -1 (logged) past 4 timers. */
int crm_service_every(crm_service_t *svc, double after, double every, void (*fn)(void *ctx));

#endif
