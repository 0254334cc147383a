/* GET /v1/stream: the caller's own notifications as Server-Sent Events.
 *
 * One SUB socket on the notifications service's live stream, subscribed to
 * every user's topic at start, feeds all clients; entries are routed by user
 * id to that user's clients. Each client remembers the last entry id it was
 * given and takes only larger ones, so it never sees an entry twice or out of
 * order. What the socket did not deliver is fetched with ListInbox{after_id}
 * as the client's user ("backfill"): after a Last-Event-ID, and for every
 * client whenever the global sequence shows a gap (an entry that is not
 * last + 1, a heartbeat ahead of the last entry seen). While a client's
 * backfill runs, live entries for it wait in its queue.
 *
 * The guarantee: a client is registered before its 200 goes out, and the
 * 200 waits until the socket has heard from the stream at least once, so
 * every entry committed after a client saw its 200 reaches it, live or by
 * backfill.
 *
 * Memory: a client is about 300 bytes while idle; its output buffer exists
 * only while it holds unsent bytes, and never holds more than --sse-buffer
 * of live entries: a client that falls further behind catches up from the
 * inbox instead, a page at a time as it reads. One that is that far behind
 * and takes nothing for STALL_S is dropped: its buffers go at once, its
 * connection a moment later, and no other client ever waits for it. The
 * kernel's send buffer of a stream is held to --sse-buffer too, or a stalled
 * client would hide megabytes there. */
#include "gateway.h"
#include "crm_curve.h"
#include "crm_json.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_validate.h"
#include "crm_zloop.h"
#include "notifications.pb-c.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

#define STREAM_MAX_MSG (4 << 20)   /* one frame from the stream socket */
#define STREAM_MAX_REPLY (64 << 20) /* one ListInbox page (500 entries) */
#define BACKFILL_PAGE 500
#define KEEPALIVE_S 15.0
#define RETRY_S 1.0
#define STALL_S 2.0                /* behind by --sse-buffer and taking nothing: dropped */
#define SOCKET_BUDGET 32           /* messages taken from the socket per loop turn: MHD writes between batches */
/* libmicrohttpd zeroes a buffer of this size in every response; chunked
 * streams never use it (chunks are built in the connection's own memory),
 * so it is kept small: 3 KiB less for each of thousands of clients */
#define RESPONSE_BLOCK 1024
#define TOKEN_MAX (CRM_LIMIT_TOKEN + 1)
#define USER_STREAMS_MAX 16        /* one user cannot take every stream */

static const char KEEPALIVE[] = ": keepalive\n\n";
/* The first bytes of every stream. With libmicrohttpd 0.9.75 the response
 * headers reach the client only together with body bytes: without these a
 * client would not see its 200 until its first notification. */
static const char OPENING[] = ": connected\n\n";
static const char *const METHOD_AUTH = "crm.notifications.v1.Notifications/UnreadCount";
static const char *const METHOD_INBOX = "crm.notifications.v1.Notifications/ListInbox";

/* An entry that came live while its client's backfill ran. */
typedef struct queued {
    struct queued *next;
    int64_t id;
    size_t len;
    char text[];
} queued_t;

/* A client goes through three owners: this module until the request is
 * decided (ready != NULL), then the door until it makes the response, then
 * libmicrohttpd's response until it frees it (has_response). */
struct gw_stream_client {
    struct MHD_Connection *conn;
    gw_stream_ready_fn *ready; /* the door is waiting for the decision */
    void *door;
    int64_t user_id;
    int64_t last_sent_id;      /* the largest entry id handed to this client */
    int64_t wait_until;        /* monotonic us: undecided until the stream is heard */
    int64_t expires_at;        /* Unix us: the session's end, and the stream's */
    char *buf;                 /* unsent bytes are buf[off, len) */
    size_t off, len, cap;
    size_t caught_up;          /* of those, bytes a backfill put there (see live_bytes) */
    ev_tstamp progress_at;     /* loop time the client last took bytes, or had none waiting */
    queued_t *queue, *queue_tail;
    size_t queued_bytes;
    queued_t *start;           /* a backfill from nothing: the entries so far, oldest first */
    char *start_token;         /* and where its next (older) page begins */
    gw_stream_client_t *user_prev, *user_next; /* this user's clients */
    gw_stream_client_t *all_prev, *all_next;   /* every client */
    unsigned registered : 1;   /* in the user map */
    unsigned resume_given : 1; /* Last-Event-ID */
    unsigned call_out : 1;     /* an UnreadCount or ListInbox call is in flight */
    unsigned closed : 1;       /* released while a call was out: freed when it ends */
    unsigned backfilling : 1;
    unsigned backfill_again : 1;  /* a gap, or a queue overflow, during this round */
    unsigned backfill_paused : 1; /* waits for the client to read */
    unsigned backfill_retry : 1;  /* the last page failed: the tick tries again */
    unsigned has_response : 1;
    unsigned suspended : 1;    /* by the reader, for want of data */
    unsigned dropped : 1;
    char token[TOKEN_MAX];
};

static struct {
    gateway_t *gw;
    void *socket;
    crm_zwatch_t *watch;
    crm_map_t *users;        /* user id → first of that user's clients */
    gw_stream_client_t *all;
    int64_t n_clients;       /* every client, decided or not */
    uint64_t seq;            /* the last global sequence heard */
    int seq_known;
    int stopping;
    ev_timer keepalive, tick, pump;
} st_;

/* --- small parts ------------------------------------------------------------- */

static size_t pending(const gw_stream_client_t *c) { return c->len - c->off; }

/* The unsent bytes the client is answerable for. A backfill puts a whole
 * page (and the entries queued meanwhile) in at once, at a pace it sets
 * itself: a live entry that follows must not make a fast reader look slow.
 * The reader's progress is counted against the backfill's bytes first. */
static size_t live_bytes(const gw_stream_client_t *c) { return pending(c) - c->caught_up; }

static size_t buffer_limit(void) { return (size_t)st_.gw->sse_buffer; }

/* A client behind by more than --sse-buffer (holding that much, or
 * catching up with a page waiting for it to read) that has taken nothing
 * for STALL_S. Only the time says "stalled": a burst of entries is queued
 * in one loop turn, before libmicrohttpd writes any of it, so a fast reader
 * may be that far behind for a moment. */
static int stalled(const gw_stream_client_t *c)
{
    int behind = pending(c) > buffer_limit() || c->backfill_paused;
    return c->has_response && behind && ev_now(st_.gw->loop) - c->progress_at > STALL_S;
}

static void wake(gw_stream_client_t *c)
{
    if (!c->suspended)
        return;
    c->suspended = 0;
    MHD_resume_connection(c->conn);
    gw_http_door_wake();
}

static void append(gw_stream_client_t *c, const char *data, size_t n)
{
    if (c->off == c->len)
        c->progress_at = ev_now(st_.gw->loop); /* nothing was waiting for it */
    if (c->len + n > c->cap && c->off) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 512;
        while (cap < c->len + n)
            cap *= 2;
        c->buf = crm_realloc(c->buf, cap);
        c->cap = cap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    wake(c);
}

static void free_list(queued_t *q)
{
    while (q) {
        queued_t *next = q->next;
        free(q);
        q = next;
    }
}

static void free_queue(gw_stream_client_t *c)
{
    free_list(c->queue);
    c->queue = c->queue_tail = NULL;
    c->queued_bytes = 0;
}

static void free_start(gw_stream_client_t *c)
{
    free_list(c->start);
    c->start = NULL;
    free(c->start_token);
    c->start_token = NULL;
}

static void free_buffers(gw_stream_client_t *c)
{
    free(c->buf);
    c->buf = NULL;
    c->off = c->len = c->cap = c->caught_up = 0;
    free_queue(c);
    free_start(c);
}

/* The SSE frame of a notification; malloc'd. */
static char *format_entry(const Crm__Notifications__V1__Notification *n, size_t *len)
{
    size_t jlen;
    char *json = crm_json_encode(&n->base, &jlen);
    size_t cap = jlen + 64;
    char *text = crm_malloc(cap);
    int w = snprintf(text, cap, "id: %lld\nevent: notification\ndata: %s\n\n", (long long)n->id, json);
    free(json);
    *len = (size_t)w;
    return text;
}

/* Gives c the entry id, unless it has it already; caught_up: a backfill's
 * (see live_bytes), else a live one. */
static void hand_over(gw_stream_client_t *c, int64_t id, const char *text, size_t len, int caught_up)
{
    if (id <= c->last_sent_id)
        return;
    append(c, text, len);
    if (caught_up)
        c->caught_up += len;
    c->last_sent_id = id;
    st_.gw->sse_entries++;
}

/* --- the user map and the list of clients ---------------------------------- */

static void user_add(gw_stream_client_t *c)
{
    gw_stream_client_t *head = crm_map_get(st_.users, (uint64_t)c->user_id);
    c->user_prev = NULL;
    c->user_next = head;
    if (head)
        head->user_prev = c;
    crm_map_put(st_.users, (uint64_t)c->user_id, c);
    c->registered = 1;
}

static void user_remove(gw_stream_client_t *c)
{
    if (!c->registered)
        return;
    if (c->user_next)
        c->user_next->user_prev = c->user_prev;
    if (c->user_prev)
        c->user_prev->user_next = c->user_next;
    else if (c->user_next)
        crm_map_put(st_.users, (uint64_t)c->user_id, c->user_next);
    else
        crm_map_remove(st_.users, (uint64_t)c->user_id);
    c->user_prev = c->user_next = NULL;
    c->registered = 0;
}

/* Takes c out of everything; frees it unless a call still points at it. */
static void release(gw_stream_client_t *c)
{
    user_remove(c);
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        st_.all = c->all_next;
    c->all_prev = c->all_next = NULL;
    st_.n_clients--;
    free_buffers(c);
    if (c->call_out)
        c->closed = 1;
    else
        free(c);
}

/* Answers the door with an error and forgets c. */
static void refuse(gw_stream_client_t *c, const crm_status_t *st)
{
    gw_stream_ready_fn *ready = c->ready;
    void *door = c->door;
    c->ready = NULL;
    c->door = NULL;
    release(c);
    ready(door, NULL, st);
}

static void refuse_code(gw_stream_client_t *c, Crm__Rpc__V1__Code code, const char *field, const char *msg)
{
    crm_status_t st;
    crm_status_set(&st, code, field, "%s", msg);
    refuse(c, &st);
}

static void decide(gw_stream_client_t *c)
{
    gw_stream_ready_fn *ready = c->ready;
    void *door = c->door;
    crm_status_t st;
    crm_status_clear(&st);
    c->ready = NULL;
    c->door = NULL;
    ready(door, c, &st);
}

/* Ends c's stream: the reader then closes the connection. Before the
 * request is decided, the door is answered with code instead. */
static void drop(gw_stream_client_t *c, Crm__Rpc__V1__Code code, const char *why)
{
    if (c->dropped)
        return;
    c->dropped = 1;
    crm_warn("stream: dropped a client of user %lld: %s", (long long)c->user_id, why);
    if (c->ready) {
        refuse_code(c, code, NULL, why);
        return;
    }
    st_.gw->sse_dropped++;
    user_remove(c);
    free_buffers(c);
    if (c->has_response) {
        /* a client that reads nothing never calls the reader that would end
         * it: let libmicrohttpd close it after a second without progress */
        if (MHD_set_connection_option(c->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u) != MHD_YES)
            crm_warn("stream: cannot shorten a dropped client's timeout");
        wake(c);
    }
}

/* Calls method through dispatch as c's session (so that the session cache,
 * revocations and the rate limit apply), with body (packed, taken); finish
 * gets the outcome. Returns -1 if method has no route (body freed). */
static int call_as(gw_stream_client_t *c, const char *method, uint8_t *body, size_t len,
                   void (*finish)(gw_call_t *, const crm_status_t *, const uint8_t *, size_t))
{
    crm_status_t st;
    gw_call_t *call = gw_call_new(st_.gw, method, c->token, "", &st);
    if (!call) {
        free(body);
        return -1;
    }
    /* the stream packs these bodies itself: nothing to decode */
    call->body = body;
    call->body_len = len;
    call->finish = finish;
    call->door = c;
    c->call_out = 1;
    gw_dispatch(call);
    return 0;
}

/* --- backfill ------------------------------------------------------------------ */

static void backfill_next(gw_stream_client_t *c);
static void backfill_start(gw_stream_client_t *c);

/* Hands a live entry to c, or queues it while c's backfill runs. */
static void deliver(gw_stream_client_t *c, int64_t id, const char *text, size_t len)
{
    if (c->dropped || st_.stopping || id <= c->last_sent_id)
        return;
    if (stalled(c)) {
        drop(c, CODE(RESOURCE_EXHAUSTED), "the client reads too slowly");
        return;
    }
    if (c->backfilling) {
        /* the backfill may bring it too: the id filter decides after it */
        if (c->queued_bytes + len > buffer_limit()) {
            /* a burst while catching up is no fault of the client's: what
             * was queued is in the inbox, another round fetches it */
            free_queue(c);
            c->backfill_again = 1;
            return;
        }
        queued_t *q = crm_malloc(sizeof *q + len);
        q->next = NULL;
        q->id = id;
        q->len = len;
        memcpy(q->text, text, len);
        if (c->queue_tail)
            c->queue_tail->next = q;
        else
            c->queue = q;
        c->queue_tail = q;
        c->queued_bytes += len;
        return;
    }
    if (live_bytes(c) + len > buffer_limit()) {
        /* more than the buffer and still reading: the rest comes from the
         * inbox, page by page as the client takes it (memory stays bounded
         * and nothing is lost; the stall check above drops it if it stops) */
        backfill_start(c);
        return;
    }
    hand_over(c, id, text, len, 0);
}

static void backfill_done(gw_stream_client_t *c)
{
    c->backfilling = 0;
    c->backfill_paused = 0;
    c->backfill_retry = 0;
    queued_t *q = c->queue;
    c->queue = c->queue_tail = NULL;
    c->queued_bytes = 0;
    for (queued_t *p = q; p; p = p->next)
        hand_over(c, p->id, p->text, p->len, 1);
    free_list(q);
}

/* Errors a later ListInbox may not repeat: a restarting or busy service,
 * the session's rate limit. */
static int is_transient(Crm__Rpc__V1__Code code)
{
    return code == CODE(UNAVAILABLE) || code == CODE(DEADLINE_EXCEEDED) || code == CODE(RESOURCE_EXHAUSTED) ||
           code == CODE(INTERNAL) || code == CODE(ABORTED) || code == CODE(UNKNOWN);
}

/* Starts a backfill round for c, or asks the running one for another. */
static void backfill_start(gw_stream_client_t *c)
{
    if (c->dropped || !c->registered || st_.stopping)
        return;
    if (c->backfilling) {
        c->backfill_again = 1;
        return;
    }
    c->backfilling = 1;
    c->backfill_again = 0;
    backfill_next(c);
}

/* A page of a backfill from nothing (a client that came when the stream was
 * empty and has had nothing since). ListInbox gives entries oldest first
 * only after an id, and none precedes the first, so the inbox is read
 * newest first, page by page, and handed over reversed. Returns 1 if
 * another page is to come; else the entries collected are now in c's
 * buffer. */
static int from_start(gw_stream_client_t *c, const Crm__Notifications__V1__ListInboxReply *r, int full)
{
    for (size_t i = 0; i < r->n_notifications; i++) {
        size_t tlen;
        char *text = format_entry(r->notifications[i], &tlen);
        queued_t *q = crm_malloc(sizeof *q + tlen);
        q->id = r->notifications[i]->id;
        q->len = tlen;
        memcpy(q->text, text, tlen);
        free(text);
        q->next = c->start; /* newest first in, so oldest first out */
        c->start = q;
    }
    free(c->start_token);
    c->start_token = NULL;
    if (full && r->next_page_token[0]) {
        c->start_token = crm_strdup(r->next_page_token);
        return 1;
    }
    for (queued_t *q = c->start; q; q = q->next)
        hand_over(c, q->id, q->text, q->len, 1);
    free_start(c);
    return 0;
}

static void on_backfill(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    gw_stream_client_t *c = call->door;
    gw_call_free(call);
    c->call_out = 0;
    if (c->closed) {
        free(c);
        return;
    }
    if (c->dropped || st_.stopping)
        return;
    if (st->code == CODE(UNAUTHENTICATED) || st->code == CODE(PERMISSION_DENIED)) {
        drop(c, st->code, "the session ended");
        return;
    }
    if (st->code != CODE(OK) && !is_transient(st->code)) {
        drop(c, st->code, st->message);
        return;
    }
    Crm__Notifications__V1__ListInboxReply *r = NULL;
    if (st->code == CODE(OK) && len <= STREAM_MAX_REPLY)
        r = crm__notifications__v1__list_inbox_reply__unpack(NULL, len, body);
    if (!r) {
        /* the tick tries again: notifications may be restarting */
        if (st->code == CODE(OK))
            crm_warn("stream: notifications gave a malformed ListInbox reply");
        c->backfill_retry = 1;
        return;
    }
    int full = r->n_notifications >= BACKFILL_PAGE;
    if (c->last_sent_id == 0) {
        if (from_start(c, r, full)) {
            crm__notifications__v1__list_inbox_reply__free_unpacked(r, NULL);
            backfill_next(c);
            return;
        }
        full = 0; /* the whole inbox is in */
    }
    for (size_t i = 0; i < r->n_notifications; i++) {
        const Crm__Notifications__V1__Notification *n = r->notifications[i];
        if (n->id <= c->last_sent_id)
            continue;
        size_t tlen;
        char *text = format_entry(n, &tlen);
        /* pulled at the client's pace (backfill_next waits for it), so no
         * limit here: a fast reader of a long inbox is never dropped */
        hand_over(c, n->id, text, tlen, 1);
        free(text);
    }
    crm__notifications__v1__list_inbox_reply__free_unpacked(r, NULL);
    if (full) {
        backfill_next(c);
    } else if (c->backfill_again) {
        c->backfill_again = 0;
        backfill_next(c);
    } else {
        backfill_done(c);
    }
}

/* Asks for the page after c->last_sent_id, unless c has to read first. */
static void backfill_next(gw_stream_client_t *c)
{
    c->backfill_retry = 0;
    if (pending(c) > buffer_limit() / 2) {
        c->backfill_paused = 1; /* the reader calls the pump */
        return;
    }
    c->backfill_paused = 0;
    Crm__Notifications__V1__ListInboxRequest req = CRM__NOTIFICATIONS__V1__LIST_INBOX_REQUEST__INIT;
    req.after_id = c->last_sent_id; /* 0: newest first (see from_start) */
    req.page_size = BACKFILL_PAGE;
    if (c->start_token)
        req.page_token = c->start_token;
    size_t len = crm__notifications__v1__list_inbox_request__get_packed_size(&req);
    uint8_t *body = crm_malloc(len ? len : 1);
    crm__notifications__v1__list_inbox_request__pack(&req, body);
    if (call_as(c, METHOD_INBOX, body, len, on_backfill) != 0)
        drop(c, CODE(INTERNAL), "no route to ListInbox");
}

/* A gap in the stream: every client fetches what it may have missed. */
static void backfill_all(void)
{
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next; /* only c itself can go in what follows */
        backfill_start(c);
    }
}

/* --- the stream socket ------------------------------------------------------- */

/* The stream was heard: waiting requests are decided, those without
 * Last-Event-ID starting from here. */
static void stream_heard(void)
{
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next;
        if (c->ready && c->registered) {
            if (!c->resume_given && (int64_t)st_.seq > c->last_sent_id)
                c->last_sent_id = (int64_t)st_.seq;
            decide(c);
        }
    }
}

static void on_heartbeat(uint64_t last)
{
    if (!st_.seq_known) {
        st_.seq = last;
        st_.seq_known = 1;
        stream_heard();
    } else if (last > st_.seq) {
        crm_warn("stream: missed entries %llu to %llu: clients catch up with ListInbox",
                 (unsigned long long)st_.seq + 1, (unsigned long long)last);
        st_.seq = last;
        backfill_all();
    } else if (last < st_.seq) {
        crm_warn("stream: sequence went back from %llu to %llu (store restored?)",
                 (unsigned long long)st_.seq, (unsigned long long)last);
        st_.seq = last;
    }
}

static void on_entry(int64_t user, const Crm__Notifications__V1__StreamEntry *e)
{
    if (!st_.seq_known) {
        st_.seq = e->seq ? e->seq - 1 : 0;
        st_.seq_known = 1;
        stream_heard();
    } else if (e->seq > st_.seq + 1) {
        /* backfill first, so this entry waits in the queues behind what
         * was lost instead of overtaking it */
        crm_warn("stream: missed entries %llu to %llu: clients catch up with ListInbox",
                 (unsigned long long)st_.seq + 1, (unsigned long long)e->seq - 1);
        backfill_all();
    } else if (e->seq <= st_.seq) {
        crm_warn("stream: sequence went back from %llu to %llu (store restored?)",
                 (unsigned long long)st_.seq, (unsigned long long)e->seq);
    }
    st_.seq = e->seq;
    gw_stream_client_t *c = crm_map_get(st_.users, (uint64_t)user);
    if (!c || !e->notification)
        return;
    if (e->notification->user_id != user) {
        crm_warn("stream: entry %lld of user %lld came under user.%lld: not delivered",
                 (long long)e->notification->id, (long long)e->notification->user_id, (long long)user);
        return;
    }
    size_t len;
    char *text = format_entry(e->notification, &len);
    for (gw_stream_client_t *next; c; c = next) {
        next = c->user_next;
        deliver(c, e->notification->id, text, len);
    }
    free(text);
}

static void on_stream(crm_zwatch_t *w, void *socket, void *arg)
{
    for (int budget = SOCKET_BUDGET; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0) {
            if (errno == EMSGSIZE)
                continue;
            if (errno != EAGAIN)
                crm_warn("stream: receive: %s", zmq_strerror(errno));
            return;
        }
        const char *topic = f.count == 2 ? crm_frame_data(&f, 0) : NULL;
        size_t tlen = f.count == 2 ? crm_frame_size(&f, 0) : 0, plen = f.count == 2 ? crm_frame_size(&f, 1) : 0;
        int64_t user;
        if (!topic) {
            /* not ours to understand */
        } else if (tlen == 9 && !memcmp(topic, "heartbeat", 9)) {
            Crm__Notifications__V1__StreamHeartbeat *h =
                crm__notifications__v1__stream_heartbeat__unpack(NULL, plen, crm_frame_data(&f, 1));
            if (h) {
                on_heartbeat(h->last_seq);
                crm__notifications__v1__stream_heartbeat__free_unpacked(h, NULL);
            }
        } else if (tlen > 5 && !memcmp(topic, "user.", 5) && crm_parse_id(topic + 5, tlen - 5, &user) == 0) {
            /* the subscription is a prefix ("user."): the id is checked whole */
            Crm__Notifications__V1__StreamEntry *e =
                crm__notifications__v1__stream_entry__unpack(NULL, plen, crm_frame_data(&f, 1));
            if (e) {
                on_entry(user, e);
                crm__notifications__v1__stream_entry__free_unpacked(e, NULL);
            } else {
                crm_warn("stream: a malformed entry under %.*s", (int)(tlen < 40 ? tlen : 40), topic);
            }
        }
        crm_frames_close(&f);
    }
}

/* --- timers ---------------------------------------------------------------------- */

/* Every 15 s a comment to every idle stream: it keeps proxies from closing
 * idle connections and is how a client gone while suspended is noticed (one
 * with bytes waiting is being written to anyway). */
static void on_keepalive(struct ev_loop *loop, ev_timer *w, int revents)
{
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next;
        if (!c->has_response || c->dropped || st_.stopping)
            continue;
        if (pending(c) == 0)
            append(c, KEEPALIVE, sizeof KEEPALIVE - 1);
    }
}

/* Every second: requests that waited too long for the stream, stalled
 * clients (also noticed when an entry comes for them, but entries may not
 * come), and backfills whose last page failed. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    int64_t now = crm_time_mono_us(), wall = crm_time_now_us();
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next;
        if (c->expires_at && wall >= c->expires_at && !c->dropped)
            drop(c, CODE(UNAUTHENTICATED), "the session expired");
        else if (c->ready && c->registered && now > c->wait_until)
            refuse_code(c, CODE(UNAVAILABLE), NULL, "the notification stream is not reachable; try again");
        else if (!c->dropped && stalled(c))
            drop(c, CODE(RESOURCE_EXHAUSTED), "the client reads too slowly");
        else if (c->backfill_retry && !c->call_out && !c->dropped && !st_.stopping)
            backfill_next(c);
    }
}

/* After a reader drained a client whose backfill waits for it. */
static void on_pump(struct ev_loop *loop, ev_timer *w, int revents)
{
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next;
        if (c->backfill_paused && !c->call_out && !c->dropped && !st_.stopping &&
            pending(c) <= buffer_limit() / 2)
            backfill_next(c);
    }
}

int gw_stream_listen(gateway_t *gw, const char *endpoint)
{
    st_.gw = gw;
    st_.users = crm_map_new();
    int hwm = 100000;
    st_.socket = zmq_socket(gw->zctx, ZMQ_SUB);
    if (!st_.socket || crm_zsock_setup(st_.socket, STREAM_MAX_MSG) != 0 ||
        zmq_setsockopt(st_.socket, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(st_.socket, ZMQ_SUBSCRIBE, "user.", 5) != 0 ||
        zmq_setsockopt(st_.socket, ZMQ_SUBSCRIBE, "heartbeat", 9) != 0 ||
        crm_curve_client(st_.socket, "notifications") != 0 || zmq_connect(st_.socket, endpoint) != 0) {
        crm_error("notifications stream %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    st_.watch = crm_zwatch_new(gw->loop, st_.socket, on_stream, NULL);
    if (!st_.watch) {
        crm_error("notifications stream: %s", zmq_strerror(errno));
        return -1;
    }
    ev_timer_init(&st_.keepalive, on_keepalive, KEEPALIVE_S, KEEPALIVE_S);
    ev_timer_init(&st_.tick, on_tick, RETRY_S, RETRY_S);
    ev_timer_init(&st_.pump, on_pump, 0, 0);
    ev_timer_start(gw->loop, &st_.keepalive);
    ev_timer_start(gw->loop, &st_.tick);
    return 0;
}

/* --- requests -------------------------------------------------------------------- */

static void on_auth(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    gw_stream_client_t *c = call->door;
    int64_t user = call->user_id, expires_at = call->session_expires_at;
    gw_call_free(call);
    c->call_out = 0;
    if (c->closed) {
        free(c);
        return;
    }
    if (st->code != CODE(OK)) {
        refuse(c, st);
        return;
    }
    if (st_.stopping) {
        refuse_code(c, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
        return;
    }
    if (user <= 0) {
        refuse_code(c, CODE(INTERNAL), NULL, "the session has no user");
        return;
    }
    int open = 0;
    for (gw_stream_client_t *o = crm_map_get(st_.users, (uint64_t)user); o; o = o->user_next)
        open++;
    if (open >= USER_STREAMS_MAX) {
        refuse_code(c, CODE(RESOURCE_EXHAUSTED), NULL, "too many open streams for this user; close one");
        return;
    }
    c->user_id = user;
    c->expires_at = expires_at;
    user_add(c);
    append(c, OPENING, sizeof OPENING - 1);
    /* decided before the backfill starts: a backfill that fails at once
     * may drop c, and a dropped undecided request is answered and freed */
    if (st_.seq_known) {
        if (!c->resume_given)
            c->last_sent_id = (int64_t)st_.seq;
        decide(c);
    } else {
        c->wait_until = crm_time_mono_us() + st_.gw->deadline_us;
    }
    if (c->resume_given)
        backfill_start(c);
}

void gw_stream_begin(gateway_t *gw, struct MHD_Connection *conn, gw_stream_ready_fn *ready, void *door)
{
    crm_status_t st;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *resume = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    int64_t after = 0;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7] || strlen(auth + 7) >= TOKEN_MAX) {
        crm_status_set(&st, CODE(UNAUTHENTICATED), "token", "the stream needs a session token (Authorization: Bearer <token>)");
        ready(door, NULL, &st);
        return;
    }
    if (resume && crm_parse_id(resume, strlen(resume), &after) != 0) {
        crm_status_set(&st, CODE(INVALID_ARGUMENT), "Last-Event-ID", "Last-Event-ID must be a positive integer");
        ready(door, NULL, &st);
        return;
    }
    if (st_.stopping || !st_.users) {
        crm_status_set(&st, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
        ready(door, NULL, &st);
        return;
    }
    if (st_.n_clients >= gw->sse_max_clients) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL, "too many open streams; try again later");
        ready(door, NULL, &st);
        return;
    }
    gw_stream_client_t *c = crm_calloc(1, sizeof *c);
    c->conn = conn;
    c->ready = ready;
    c->door = door;
    c->last_sent_id = after;
    c->resume_given = resume != NULL;
    snprintf(c->token, sizeof c->token, "%s", auth + 7);
    c->all_next = st_.all;
    if (st_.all)
        st_.all->all_prev = c;
    st_.all = c;
    st_.n_clients++;

    /* an ordinary call, so that the caller's id comes back */
    if (call_as(c, METHOD_AUTH, NULL, 0, on_auth) != 0)
        refuse_code(c, CODE(INTERNAL), NULL, "no route to the notifications service");
}

/* libmicrohttpd asks for more of the body. It runs inside MHD_run: it only
 * copies, suspends, and arms the pump. */
static ssize_t on_read(void *cls, uint64_t pos, char *out, size_t max)
{
    gw_stream_client_t *c = cls;
    if (c->dropped)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = pending(c);
    if (n == 0) {
        if (st_.stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* nothing to send: off libmicrohttpd's loop until append wakes it */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        return 0;
    }
    if (n > max)
        n = max;
    memcpy(out, c->buf + c->off, n);
    c->off += n;
    c->progress_at = ev_now(st_.gw->loop);
    c->caught_up -= n < c->caught_up ? n : c->caught_up;
    if (c->off == c->len) {
        free(c->buf); /* an idle client holds no buffer */
        c->buf = NULL;
        c->off = c->len = c->cap = 0;
    }
    if (c->backfill_paused && pending(c) <= buffer_limit() / 2) {
        ev_timer_stop(st_.gw->loop, &st_.pump);
        ev_timer_set(&st_.pump, 0, 0);
        ev_timer_start(st_.gw->loop, &st_.pump);
    }
    return (ssize_t)n;
}

static void on_response_free(void *cls)
{
    gw_stream_client_t *c = cls;
    st_.gw->sse_clients--;
    release(c);
}

struct MHD_Response *gw_stream_response(gw_stream_client_t *c)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, RESPONSE_BLOCK, on_read, c, on_response_free);
    if (!resp) {
        crm_error("stream: libmicrohttpd made no response");
        release(c);
        return NULL;
    }
    c->has_response = 1;
    st_.gw->sse_clients++;
    /* the kernel's send buffer grows to megabytes for a peer that reads
     * nothing; held to the same size as ours, a stalled client is noticed
     * (and dropped) after about twice --sse-buffer, not after many MB */
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sndbuf = (int)(st_.gw->sse_buffer < (1 << 30) ? st_.gw->sse_buffer : (1 << 30));
    if (!info || setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        crm_warn("stream: cannot size a client's send buffer: %s", strerror(errno));
    if (MHD_add_response_header(resp, "Content-Type", "text/event-stream") != MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control", "no-cache") != MHD_YES)
        crm_warn("stream: a response header was not added");
    return resp;
}

void gw_stream_abandon(gw_stream_client_t *c) { release(c); }

void gw_stream_recheck(int64_t user_id)
{
    if (!st_.users)
        return;
    /* a backfill round calls ListInbox with the stream's token: dispatch
     * authenticates it afresh (the session was just forgotten), and a
     * refusal ends the stream */
    gw_stream_client_t *c = user_id < 0 ? st_.all : crm_map_get(st_.users, (uint64_t)user_id);
    for (gw_stream_client_t *next; c; c = next) {
        next = user_id < 0 ? c->all_next : c->user_next;
        if (c->registered && !c->ready)
            backfill_start(c);
    }
}

void gw_stream_close_all(void)
{
    st_.stopping = 1;
    for (gw_stream_client_t *c = st_.all, *next; c; c = next) {
        next = c->all_next;
        if (c->ready) {
            /* one still authenticating is answered when its call is */
            if (c->registered)
                refuse_code(c, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
            continue;
        }
        wake(c); /* its reader sees the end */
    }
}

void gw_stream_stop(void)
{
    if (st_.gw) {
        ev_timer_stop(st_.gw->loop, &st_.keepalive);
        ev_timer_stop(st_.gw->loop, &st_.tick);
        ev_timer_stop(st_.gw->loop, &st_.pump);
    }
    crm_zwatch_destroy(&st_.watch);
    if (st_.socket)
        zmq_close(st_.socket);
    st_.socket = NULL;
    /* every connection is gone with the daemon; nothing should be left */
    while (st_.all)
        release(st_.all);
    if (st_.users)
        crm_map_destroy(&st_.users);
}
