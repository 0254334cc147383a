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

/* The last sequence committed and published. */
uint64_t crm_publisher_head(const crm_publisher_t *self);
const char *crm_publisher_producer(const crm_publisher_t *self);

#endif
