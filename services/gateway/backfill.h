#ifndef GW_BACKFILL_H
#define GW_BACKFILL_H

/* Gap recovery for stream clients: what the live stream did not deliver
 * is fetched with ListInbox{after_id} as the client's user, a page at a
 * time and at the client's reading pace. At most gw->backfills_max pages
 * are asked for at once; the other clients wait their turn first come,
 * first served, so a gap seen by every open stream costs notifications a
 * bounded number of concurrent calls and the gateway a bounded number of
 * pages in memory. */

#include "sse_client.h"

typedef struct gw_backfill gw_backfill_t;

/* The backfill gives up on c (its session ended, an error that a retry
 * would only repeat): the stream ends c with code and why. */
typedef void (gw_backfill_end_fn)(void *arg, gw_stream_client_t *c, Crm__Rpc__V1__Code code, const char *why);

/* Returns the backfills of gw's stream; end is called as said above. Can't
 * fail. */
gw_backfill_t *gw_backfill_new(gateway_t *gw, gw_backfill_end_fn *end, void *end_arg);
void gw_backfill_destroy(gw_backfill_t **self_p);
/* Starts a round for c (a registered client), or asks the running round
 * for another: entries may have been missed. The first page is asked for
 * from the loop, never inside this call. */
void gw_backfill_start(gw_backfill_t *self, gw_stream_client_t *c);
/* c read down from a paused backfill, or its last page failed and it is
 * time to retry: the next page is asked for. Does nothing otherwise. */
void gw_backfill_resume(gw_backfill_t *self, gw_stream_client_t *c);
/* c is ended or gone: out of the queue (a page out for it is thrown away
 * when it comes). */
void gw_backfill_forget(gw_backfill_t *self, gw_stream_client_t *c);
/* At shutdown: nothing more is asked for. */
void gw_backfill_stop(gw_backfill_t *self);

#endif
