#ifndef GW_SSE_CLIENT_H
#define GW_SSE_CLIENT_H

/* One client of GET /v1/stream and its bytes: the unsent SSE text, the live
 * entries held while its backfill runs, and what says its reader is too
 * slow. Shared by stream.c (the clients' lives) and backfill.c (their gap
 * recovery); it calls out only to dispatch (a call as the client's session)
 * and through gw->hooks.wake_http. */

#include "stream.h"
#include "notifications.pb-c.h"

#include <ev.h>

/* A client's life. It goes through three owners: the stream until the
 * request is decided (AUTHENTICATING, WAITING), then the door until it
 * makes the response (DECIDED), then libmicrohttpd's response until it
 * frees it (STREAMING, and DROPPED once it had a response). */
typedef enum {
    SC_AUTHENTICATING, /* its UnreadCount is out; the door waits */
    SC_WAITING,        /* registered; the door waits until the stream is heard */
    SC_DECIDED,        /* registered; the door is making its response */
    SC_STREAMING,      /* registered; its response is out */
    SC_DROPPED,        /* ended: takes no more entries, its reader ends it */
    SC_RELEASED,       /* out of everything while a call was out: freed when it ends */
} sc_state_t;

/* Where a client's backfill is (backfill.c). */
typedef enum {
    BF_IDLE,    /* none: live entries go straight to the buffer */
    BF_QUEUED,  /* waits for one of the --sse-backfills slots */
    BF_CALLING, /* its ListInbox is out */
    BF_PAUSED,  /* waits for the client to read before the next page */
    BF_RETRY,   /* the last page failed: the tick tries again */
} bf_state_t;

/* An entry waiting: live while a backfill runs, or a page being collected. */
typedef struct sse_entry {
    struct sse_entry *next;
    int64_t id;
    size_t len;
    char text[];
} sse_entry_t;

struct gw_stream_client {
    gateway_t *gw;
    gw_stream_t *stream;
    struct MHD_Connection *conn;
    sc_state_t state;
    gw_stream_ready_fn *ready; /* while AUTHENTICATING or WAITING */
    void *door;
    int64_t user_id;
    int64_t last_sent_id;      /* the largest entry id handed to this client */
    int64_t wait_until;        /* monotonic us: WAITING no longer than this */
    int64_t expires_at;        /* Unix us: the session's end, and the stream's */
    int resumed;               /* came with a Last-Event-ID */
    int call_out;              /* an UnreadCount or ListInbox call is in flight */
    int suspended;             /* by the reader, for want of data */
    char *buf;                 /* unsent bytes are buf[off, len) */
    size_t off, len, cap;
    size_t caught_up;          /* of those, bytes a backfill put there (see sse_client_live_bytes) */
    ev_tstamp progress_at;     /* loop time the client last took bytes, or had none waiting */
    sse_entry_t *held, *held_tail; /* live entries that came during the backfill */
    size_t held_bytes;
    bf_state_t backfill;
    int backfill_again;        /* a gap, or an overflow of held, during this round */
    sse_entry_t *start;        /* a backfill from nothing: the entries so far, oldest first */
    char *start_token;         /* and where its next (older) page begins */
    gw_stream_client_t *user_prev, *user_next;       /* this user's clients (stream.c) */
    gw_stream_client_t *all_prev, *all_next;         /* every client (stream.c) */
    struct gw_backfill *bf;                          /* its stream's backfills */
    gw_stream_client_t *queue_prev, *queue_next;     /* waiting for a backfill slot (backfill.c) */
    char token[CRM_LIMIT_TOKEN + 1];
};

/* In its user's list: the stream routes entries to it. */
static inline int sse_client_registered(const gw_stream_client_t *c)
{
    return c->state == SC_WAITING || c->state == SC_DECIDED || c->state == SC_STREAMING;
}

/* Unsent bytes. */
size_t sse_client_pending(const gw_stream_client_t *c);
/* The unsent bytes the client is answerable for: not a backfill's. */
size_t sse_client_live_bytes(const gw_stream_client_t *c);
/* 1 if c has its response, is behind by more than --sse-buffer and has
 * taken nothing for the stall time. */
int sse_client_stalled(const gw_stream_client_t *c);
/* Adds bytes to send, waking a suspended reader. Can't fail. */
void sse_client_append(gw_stream_client_t *c, const char *data, size_t n);
/* Gives c the entry id, unless it has it already; caught_up: a backfill's
 * (paced by the backfill, not held against the reader), else a live one. */
void sse_client_hand_over(gw_stream_client_t *c, int64_t id, const char *text, size_t len, int caught_up);
/* Holds a live entry while c's backfill runs: 0, or -1 when that would
 * hold more than --sse-buffer (everything held is let go then: it is in
 * the inbox, and another round fetches it). */
int sse_client_hold(gw_stream_client_t *c, int64_t id, const char *text, size_t len);
/* Hands over what was held, in order. */
void sse_client_flush_held(gw_stream_client_t *c);
/* The reader: copies up to max unsent bytes to out, returns how many. */
size_t sse_client_take(gw_stream_client_t *c, char *out, size_t max);
/* Resumes a reader suspended for want of data. */
void sse_client_wake(gw_stream_client_t *c);
/* Frees every byte c holds (its buffer, held entries, a start collected). */
void sse_client_free_buffers(gw_stream_client_t *c);
void sse_client_free_start(gw_stream_client_t *c);
/* A copy of text as an entry; malloc'd. */
sse_entry_t *sse_entry_new(int64_t id, const char *text, size_t len);
void sse_entries_free(sse_entry_t *list);
/* The SSE frame of a notification; malloc'd. */
char *sse_format_entry(const Crm__Notifications__V1__Notification *n, size_t *len);

/* Calls method through dispatch as c's session (so that the session cache,
 * revocations and the rate limit apply), with body (packed, taken); done
 * gets the outcome and must start with sse_client_call_ended. Returns -1
 * if method has no route (body freed). */
int sse_client_call(gw_stream_client_t *c, const char *method, uint8_t *body, size_t len,
                    void (*done)(gw_call_t *, const crm_status_t *, const uint8_t *, size_t));
/* A call of c's ended: frees the call, and c too if it was released
 * meanwhile (then returns NULL); else returns c. */
gw_stream_client_t *sse_client_call_ended(gw_call_t *call);

#endif
