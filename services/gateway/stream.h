#ifndef GW_STREAM_H
#define GW_STREAM_H

/* GET /v1/stream, the caller's notifications as Server-Sent Events
 * (stream.c). One SUB socket on the notifications service's live stream
 * feeds every client; what it misses, and what came before a reconnect
 * (Last-Event-ID), is fetched with ListInbox as the client's user
 * (backfill.c); each client's bytes are kept by sse_client.c. */

#include "gateway.h"

struct MHD_Connection;
struct MHD_Response;
typedef struct gw_stream_client gw_stream_client_t;

/* How a stream request is decided, exactly once, maybe before
 * gw_stream_begin returns. On success (st OK) client is registered and the
 * door owns it until it hands it to gw_stream_response (answering 200 with
 * it) or gw_stream_abandon; on error client is NULL and the door answers
 * st. */
typedef void (gw_stream_ready_fn)(void *door, gw_stream_client_t *client, const crm_status_t *st);

/* Connects the SUB socket (subscribed at once, so that it is live before any
 * client comes) and starts the keepalive. Wakes the HTTP door through
 * gw->hooks.wake_http. Returns the stream, or NULL (logged). */
gw_stream_t *gw_stream_new(gateway_t *gw, const char *endpoint);
/* After the HTTP door is destroyed: closes the socket, frees what is left. */
void gw_stream_destroy(gw_stream_t **self_p);
/* Starts the stream request on conn with the session token the door read
 * (bearer header or session cookie; "" if none): checks its headers,
 * authenticates the token, registers the client, and calls ready. */
void gw_stream_begin(gw_stream_t *self, struct MHD_Connection *conn, const char *token, gw_stream_ready_fn *ready,
                     void *door);
/* The 200 response of a decided stream; it owns client from now on (freed
 * with the response). NULL if libmicrohttpd can't make one (client freed). */
struct MHD_Response *gw_stream_response(gw_stream_client_t *client);
/* Forgets a decided stream whose connection ended before its response. */
void gw_stream_abandon(gw_stream_client_t *client);
/* At shutdown, before the RPC clients and the HTTP door stop: no new calls,
 * undecided requests answered, every stream ended and resumed (libmicrohttpd
 * must not stop with suspended connections). */
void gw_stream_close_all(gw_stream_t *self);
/* A session of user (-1: any user) may have been revoked: each of their
 * streams asks again through dispatch and ends if it is refused. (The
 * revoked hook.) */
void gw_stream_recheck(void *self, int64_t user_id);

#endif
