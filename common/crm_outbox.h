#ifndef CRM_OUTBOX_H
#define CRM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include "events.pb-c.h"

/* The transactional outbox (see ARCHITECTURE.md, Outbox): an event is written in the same
 * transaction as the change it describes, under the next sequence number of
 * its producer (1, 2, 3, ... without gaps: the number is taken inside the
 * transaction, so an aborted one leaves none behind). Key: seq big-endian;
 * value: a packed crm.events.v1.Event. */
typedef struct crm_outbox crm_outbox_t;

/* An outbox for producer in dbi (opened by the caller's store). Never NULL. */
crm_outbox_t *crm_outbox_new(const char *producer, MDB_dbi dbi);
void crm_outbox_destroy(crm_outbox_t **self_p);

const char *crm_outbox_producer(const crm_outbox_t *self);
MDB_dbi crm_outbox_dbi(const crm_outbox_t *self);

/* Fills out (up to max) with the cursors an event written now comes after;
 * returns how many. */
typedef size_t (crm_outbox_after_fn)(void *arg, Crm__Events__V1__Cursor *out, size_t max);

/* Stamps every event appended from now on with fn's cursors (Event.after).
 * A producer that consumes others' events sets crm_consumer_positions. */
void crm_outbox_set_after(crm_outbox_t *self, crm_outbox_after_fn *fn, void *arg);

/* Appends an event of type (e.g. "user.created") with payload packed inside,
 * made by actor_id (0 = system), within txn. *seq (if not NULL) gets its
 * sequence. Returns an LMDB code. */
int crm_outbox_append(crm_outbox_t *self, MDB_txn *txn, const char *type, int64_t actor_id,
                      const ProtobufCMessage *payload, uint64_t *seq);

/* The oldest sequence still kept (0: none). LMDB code. */
int crm_outbox_first(crm_outbox_t *self, MDB_txn *txn, uint64_t *seq);

/* Deletes, oldest first, the events up to upto_seq written before
 * before_at (Unix us), at most max of them, and never the newest one (the
 * next sequence is taken from it). *deleted gets how many. LMDB code. */
int crm_outbox_prune(crm_outbox_t *self, MDB_txn *txn, uint64_t upto_seq, int64_t before_at, size_t max,
                     size_t *deleted);

/* The last sequence written and visible to txn (0: none). LMDB code. */
int crm_outbox_last(crm_outbox_t *self, MDB_txn *txn, uint64_t *seq);

/* Calls fn for each packed event from from_seq on, in order, until max
 * events or max_bytes are passed (at least one event is always given) or fn
 * returns non-zero. Returns an LMDB code. */
typedef int (crm_outbox_each_fn)(void *arg, uint64_t seq, const void *data, size_t len);
int crm_outbox_read(crm_outbox_t *self, MDB_txn *txn, uint64_t from_seq, size_t max,
                    size_t max_bytes, crm_outbox_each_fn *fn, void *arg);

#endif
