#ifndef CRM_CONSUMER_H
#define CRM_CONSUMER_H

#include <stdint.h>
#include <ev.h>
#include <lmdb.h>
#include "crm_store.h"
#include "events.pb-c.h"

/* Applies one producer's events to a local read model exactly once
 * (see ARCHITECTURE.md, Consumers and exactly-once). The cursor (last applied sequence) lives in the consumer's
 * own store, in meta under "cursor.<producer>", and moves in the same
 * transaction that applies the events, so a crash on either side never
 * applies an event twice or skips one. Live events come from the producer's
 * PUB socket; a gap, a heartbeat ahead of the cursor, or a (re)start makes
 * the consumer ask the producer's replay ROUTER for what it missed. */
typedef struct crm_consumer crm_consumer_t;

/* Applies ev within txn. Returns an LMDB code: 0 moves on; MDB_MAP_FULL is
 * retried after the map grows; anything else aborts the batch, which is
 * tried again later (the event is not skipped). CRM_CONSUMER_UNCHANGED
 * says ev changed nothing: a batch of only such events is not committed
 * (no fsync), its cursor goes with the next batch that writes, and after a
 * crash they are applied again, to the same effect: nothing. Only for
 * verdicts that depend on the event alone (its type, its payload), never on
 * the store, which other consumers change meanwhile. */
#define CRM_CONSUMER_UNCHANGED (-40000) /* neither an errno nor an LMDB code, nor -1 */
typedef int (crm_consumer_apply_fn)(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);

/* Called after a batch of events is committed (e.g. to release calls held
 * for read-your-writes). May be NULL. */
typedef void (crm_consumer_progress_fn)(void *arg, crm_consumer_t *consumer);

/* Events carry the cursors their producer had applied (Event.after): one is
 * applied only once the consumer of that producer in this process has
 * applied as much (while that one stays still, for 30 s at most: then events
 * stop waiting for it until it moves), so a service that consumes
 * several producers sees their events in an order consistent with what each
 * producer saw. A waiting consumer is woken when another one moves on. */

/* Connects to producer's endpoints. Returns NULL on error (logged). */
crm_consumer_t *crm_consumer_new(struct ev_loop *loop, void *zctx, crm_store_t *store,
                                 const char *producer, const char *pub_endpoint,
                                 const char *replay_endpoint, crm_consumer_apply_fn *apply,
                                 void *arg);
void crm_consumer_destroy(crm_consumer_t **self_p);

void crm_consumer_on_progress(crm_consumer_t *self, crm_consumer_progress_fn *fn, void *arg);

/* The cursors of every consumer in this process, for crm_outbox_set_after:
 * the event being applied when called from inside an apply (what an event
 * written there comes after), else the last applied. Returns how many. */
size_t crm_consumer_positions(void *unused, Crm__Events__V1__Cursor *out, size_t max);

/* How long events wait for a consumer that stays still (us; 0: the default,
 * 30 s). For every consumer of the process. */
void crm_consumer_set_after_wait(int64_t us);

/* Group commit: live events that come less than us after this consumer's
 * last commit wait until us after it, and go in one transaction with those
 * that come meanwhile. At a high rate one fsync, and one copy of each page
 * the events touch, then serve many events instead of one each; a lone
 * event still goes at once. 0: every batch read goes at once. For every
 * consumer of the process. */
#define CRM_CONSUMER_WINDOW_US 2000
#define CRM_CONSUMER_WINDOW_MAX_US 1000000
/* Returns -1 (and changes nothing) outside [0, CRM_CONSUMER_WINDOW_MAX_US]. */
int crm_consumer_set_window(int64_t us);

/* An event that keeps failing to apply is tried again after 100 ms, then
 * twice as long each time up to 30 s; after CRM_CONSUMER_STUCK_AFTER
 * failures it is stuck: logged as an error (once), shown by Health and
 * crmctl, and calls that need it fail at once (crm_rpc_server) until it
 * applies or an operator skips it. */
#define CRM_CONSUMER_STUCK_AFTER 3
typedef struct {
    uint64_t seq;
    char type[64];
    char error[128];
    int failures;
    int64_t since; /* Unix us of its first failure */
} crm_consumer_stuck_t;

/* 1, with the event in *out (may be NULL), if this consumer is stuck; else 0. */
int crm_consumer_stuck(const crm_consumer_t *self, crm_consumer_stuck_t *out);
/* Failed attempts to apply events since start (a metric). */
uint64_t crm_consumer_failures(const crm_consumer_t *self);
/* An operator's decision: try the failing event again now. Can't fail. */
void crm_consumer_retry(crm_consumer_t *self);
/* An operator's decision: never apply event seq (the one failing): the
 * cursor moves past it in txn (a write transaction on the consumer's
 * store), and the consumer goes on with the next events on the loop
 * afterwards. Returns 0, -1 if seq is not the failing event, or an LMDB
 * code. */
int crm_consumer_skip(crm_consumer_t *self, MDB_txn *txn, uint64_t seq);

/* The last sequence applied and committed. */
uint64_t crm_consumer_applied(const crm_consumer_t *self);
/* The latest sequence the producer is known to have (from events and
 * heartbeats); ahead of applied while catching up. */
uint64_t crm_consumer_known(const crm_consumer_t *self);
const char *crm_consumer_producer(const crm_consumer_t *self);

#endif
