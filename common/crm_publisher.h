#ifndef CRM_PUBLISHER_H
#define CRM_PUBLISHER_H

#include <stdint.h>
#include <ev.h>
#include "crm_outbox.h"
#include "crm_store.h"

/* Publishes a producer's committed outbox: each event on a PUB socket as a
 * crm.events.v1.Publication, a heartbeat with the latest sequence when idle
 * (so consumers notice a lost tail), and a ROUTER that answers
 * ReplayRequest{from_seq} with the events from there on. */
typedef struct crm_publisher crm_publisher_t;

/* Binds pub_endpoint and replay_endpoint. heartbeat_ms: interval of
 * heartbeats. Returns NULL on error (logged). */
crm_publisher_t *crm_publisher_new(struct ev_loop *loop, void *zctx, crm_store_t *store,
                                   crm_outbox_t *outbox, const char *pub_endpoint,
                                   const char *replay_endpoint, int heartbeat_ms);
void crm_publisher_destroy(crm_publisher_t **self_p);

/* Publishes every event committed since the last flush; call after each
 * commit that may have appended events. Can't fail: what could not be read
 * now is published by a later flush or replayed on request. */
void crm_publisher_flush(crm_publisher_t *self);

/* Outbox pruning: every pass (a minute, or a tenth of keep_us if less)
 * deletes the events that every consumer this producer has heard of has
 * applied and that are older than keep_us, a bounded number at a time, and
 * never the newest. Consumers say how far they are in their replay requests
 * (ReplayRequest.consumer), which they send now and then even when caught
 * up; the cursors are kept in the store's meta ("consumers"), so a restart
 * waits for them too. A consumer that comes back from before the oldest
 * event kept is told so (ReplayReply.first_seq) and stops with that error.
 * keep_us 0: never prune (the default). */
void crm_publisher_set_retention(crm_publisher_t *self, int64_t keep_us);
/* A consumer not heard of for forget_us (30 days unless set) of this
 * producer's running (its downtime does not count) is forgotten at the
 * next pruning pass: a retired one must not hold pruning back for ever.
 * When every consumer is forgotten, events go by age alone. */
void crm_publisher_set_forget(crm_publisher_t *self, int64_t forget_us);
/* One pruning pass now (tests; the timer runs it otherwise). Returns how
 * many events went, or -1 on a storage error (logged). */
long crm_publisher_prune(crm_publisher_t *self);

/* 1 with *applied set if consumer has said where it is (this run, or a
 * previous one once pruning has read their cursors back), else 0. */
int crm_publisher_heard(const crm_publisher_t *self, const char *consumer, uint64_t *applied);

/* The last sequence committed and published. */
uint64_t crm_publisher_head(const crm_publisher_t *self);
const char *crm_publisher_producer(const crm_publisher_t *self);
/* The outbox it publishes (not owned). */
crm_outbox_t *crm_publisher_outbox(const crm_publisher_t *self);

#endif
