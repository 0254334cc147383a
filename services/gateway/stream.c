/* GET /v1/stream: the caller's own notifications as Server-Sent Events.
 *
 * One SUB socket on the notifications service's live stream, subscribed to
 * every user's topic at start, feeds all clients; entries are routed by user
 * id to that user's clients. Each client remembers the last entry id it was
 * given and takes only larger ones, so it never sees an entry twice or out of
 * order. What the socket did not deliver is fetched by backfill.c: after a
 * Last-Event-ID, and for every client whenever the global sequence shows a
 * gap (an entry that is not last + 1, a heartbeat ahead of the last entry
 * seen). While a client's backfill runs, live entries for it are held.
 *
 * The guarantee: a client is registered before its 200 goes out, and the
 * 200 waits until the socket has heard from the stream at least once, so
 * every entry committed after a client saw its 200 reaches it, live or by
 * backfill.
 *
 * A client that is behind by --sse-buffer and takes nothing for a while
 * (sse_client_stalled) is dropped: its buffers go at once, its connection a
 * moment later, and no other client ever waits for it. The kernel's send
 * buffer of a stream is held to --sse-buffer too, or a stalled client would
 * hide megabytes there. */
#include "stream.h"
#include "backfill.h"
#include "crm_curve.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_validate.h"
#include "crm_zloop.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

#define STREAM_MAX_MSG (4 << 20)   /* one frame from the stream socket */
#define KEEPALIVE_S 15.0
#define TICK_S 1.0
#define SOCKET_BUDGET 32           /* messages taken from the socket per loop turn: MHD writes between batches */
/* libmicrohttpd zeroes a buffer of this size in every response; chunked
 * streams never use it (chunks are built in the connection's own memory),
 * so it is kept small: 3 KiB less for each of thousands of clients */
#define RESPONSE_BLOCK 1024
#define USER_STREAMS_MAX 16        /* one user cannot take every stream */

static const char KEEPALIVE[] = ": keepalive\n\n";
/* The first bytes of every stream. With libmicrohttpd 0.9.75 the response
 * headers reach the client only together with body bytes: without these a
 * client would not see its 200 until its first notification. */
static const char OPENING[] = ": connected\n\n";
static const char *const METHOD_AUTH = "crm.notifications.v1.Notifications/UnreadCount";

struct gw_stream {
    gateway_t *gw;
    void *socket;
    crm_zwatch_t *watch;
    crm_map_t *users;        /* user id → first of that user's clients */
    gw_stream_client_t *all;
    int64_t n_clients;       /* every client, decided or not */
    uint64_t seq;            /* the last global sequence heard */
    int seq_known;
    int stopping;
    gw_backfill_t *backfill;
    ev_timer keepalive, tick;
};

/* --- the user map and the list of clients ---------------------------------- */

static void user_add(gw_stream_t *self, gw_stream_client_t *c)
{
    gw_stream_client_t *head = crm_map_get(self->users, (uint64_t)c->user_id);
    c->user_prev = NULL;
    c->user_next = head;
    if (head)
        head->user_prev = c;
    crm_map_put(self->users, (uint64_t)c->user_id, c);
}

static void user_remove(gw_stream_t *self, gw_stream_client_t *c)
{
    if (!sse_client_registered(c))
        return;
    if (c->user_next)
        c->user_next->user_prev = c->user_prev;
    if (c->user_prev)
        c->user_prev->user_next = c->user_next;
    else if (c->user_next)
        crm_map_put(self->users, (uint64_t)c->user_id, c->user_next);
    else
        crm_map_remove(self->users, (uint64_t)c->user_id);
    c->user_prev = c->user_next = NULL;
}

/* Takes c out of everything; frees it unless a call still points at it. */
static void release(gw_stream_client_t *c)
{
    gw_stream_t *self = c->stream;
    user_remove(self, c);
    gw_backfill_forget(self->backfill, c);
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        self->all = c->all_next;
    c->all_prev = c->all_next = NULL;
    self->n_clients--;
    sse_client_free_buffers(c);
    c->state = SC_RELEASED;
    if (!c->call_out)
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
    c->state = SC_DECIDED;
    ready(door, c, &st);
}

/* Ends c's stream: the reader then closes the connection. Before the
 * request is decided, the door is answered with code instead. */
static void drop(gw_stream_client_t *c, Crm__Rpc__V1__Code code, const char *why)
{
    gw_stream_t *self = c->stream;
    if (c->state == SC_DROPPED || c->state == SC_RELEASED)
        return;
    crm_warn("stream: dropped a client of user %lld: %s", (long long)c->user_id, why);
    if (c->ready) {
        refuse_code(c, code, NULL, why);
        return;
    }
    self->gw->sse_dropped++;
    user_remove(self, c);
    gw_backfill_forget(self->backfill, c);
    sse_client_free_buffers(c);
    int streaming = c->state == SC_STREAMING;
    c->state = SC_DROPPED;
    if (streaming) {
        /* a client that reads nothing never calls the reader that would end
         * it: let libmicrohttpd close it after a second without progress */
        if (MHD_set_connection_option(c->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u) != MHD_YES)
            crm_warn("stream: cannot shorten a dropped client's timeout");
        sse_client_wake(c);
    }
}

/* backfill.c gives up on c. */
static void on_backfill_end(void *arg, gw_stream_client_t *c, Crm__Rpc__V1__Code code, const char *why)
{
    drop(c, code, why);
}

/* --- live entries -------------------------------------------------------------- */

/* Hands a live entry to c, or holds it while c's backfill runs. */
static void deliver(gw_stream_t *self, gw_stream_client_t *c, int64_t id, const char *text, size_t len)
{
    if (!sse_client_registered(c) || self->stopping || id <= c->last_sent_id)
        return;
    if (sse_client_stalled(c)) {
        drop(c, CODE(RESOURCE_EXHAUSTED), "the client reads too slowly");
        return;
    }
    if (c->backfill != BF_IDLE) {
        /* the backfill may bring it too: the id filter decides after it; a
         * burst while catching up is no fault of the client's: what was
         * held is in the inbox, another round fetches it */
        if (sse_client_hold(c, id, text, len) != 0)
            c->backfill_again = 1;
        return;
    }
    if (sse_client_live_bytes(c) + len > (size_t)self->gw->sse_buffer) {
        /* more than the buffer and still reading: the rest comes from the
         * inbox, page by page as the client takes it (memory stays bounded
         * and nothing is lost; the stall check above drops it if it stops) */
        gw_backfill_start(self->backfill, c);
        return;
    }
    sse_client_hand_over(c, id, text, len, 0);
}

/* A gap in the stream: every client fetches what it may have missed, as
 * many at once as the backfill allows. */
static void backfill_all(gw_stream_t *self)
{
    for (gw_stream_client_t *c = self->all; c; c = c->all_next)
        gw_backfill_start(self->backfill, c);
}

/* --- the stream socket ------------------------------------------------------- */

/* The stream was heard: waiting requests are decided, those without
 * Last-Event-ID starting from here. */
static void stream_heard(gw_stream_t *self)
{
    for (gw_stream_client_t *c = self->all, *next; c; c = next) {
        next = c->all_next;
        if (c->state == SC_WAITING) {
            if (!c->resumed && (int64_t)self->seq > c->last_sent_id)
                c->last_sent_id = (int64_t)self->seq;
            decide(c);
        }
    }
}

static void on_heartbeat(gw_stream_t *self, uint64_t last)
{
    if (!self->seq_known) {
        self->seq = last;
        self->seq_known = 1;
        stream_heard(self);
    } else if (last > self->seq) {
        crm_warn("stream: missed entries %llu to %llu: clients catch up with ListInbox",
                 (unsigned long long)self->seq + 1, (unsigned long long)last);
        self->seq = last;
        backfill_all(self);
    } else if (last < self->seq) {
        crm_warn("stream: sequence went back from %llu to %llu (store restored?)",
                 (unsigned long long)self->seq, (unsigned long long)last);
        self->seq = last;
    }
}

static void on_entry(gw_stream_t *self, int64_t user, const Crm__Notifications__V1__StreamEntry *e)
{
    if (!self->seq_known) {
        self->seq = e->seq ? e->seq - 1 : 0;
        self->seq_known = 1;
        stream_heard(self);
    } else if (e->seq > self->seq + 1) {
        /* backfill first, so this entry waits behind what was lost instead
         * of overtaking it */
        crm_warn("stream: missed entries %llu to %llu: clients catch up with ListInbox",
                 (unsigned long long)self->seq + 1, (unsigned long long)e->seq - 1);
        backfill_all(self);
    } else if (e->seq <= self->seq) {
        crm_warn("stream: sequence went back from %llu to %llu (store restored?)",
                 (unsigned long long)self->seq, (unsigned long long)e->seq);
    }
    self->seq = e->seq;
    gw_stream_client_t *c = crm_map_get(self->users, (uint64_t)user);
    if (!c || !e->notification)
        return;
    if (e->notification->user_id != user) {
        crm_warn("stream: entry %lld of user %lld came under user.%lld: not delivered",
                 (long long)e->notification->id, (long long)e->notification->user_id, (long long)user);
        return;
    }
    size_t len;
    char *text = sse_format_entry(e->notification, &len);
    for (gw_stream_client_t *next; c; c = next) {
        next = c->user_next;
        deliver(self, c, e->notification->id, text, len);
    }
    free(text);
}

static void on_stream(crm_zwatch_t *w, void *socket, void *arg)
{
    gw_stream_t *self = arg;
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
                on_heartbeat(self, h->last_seq);
                crm__notifications__v1__stream_heartbeat__free_unpacked(h, NULL);
            }
        } else if (tlen > 5 && !memcmp(topic, "user.", 5) && crm_parse_id(topic + 5, tlen - 5, &user) == 0) {
            /* the subscription is a prefix ("user."): the id is checked whole */
            Crm__Notifications__V1__StreamEntry *e =
                crm__notifications__v1__stream_entry__unpack(NULL, plen, crm_frame_data(&f, 1));
            if (e) {
                on_entry(self, user, e);
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
    gw_stream_t *self = w->data;
    if (self->stopping)
        return;
    for (gw_stream_client_t *c = self->all; c; c = c->all_next)
        if (c->state == SC_STREAMING && sse_client_pending(c) == 0)
            sse_client_append(c, KEEPALIVE, sizeof KEEPALIVE - 1);
}

/* Every second: requests that waited too long for the stream, stalled
 * clients (also noticed when an entry comes for them, but entries may not
 * come), and backfills whose last page failed. */
static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    gw_stream_t *self = w->data;
    int64_t now = crm_time_mono_us(), wall = crm_time_now_us();
    for (gw_stream_client_t *c = self->all, *next; c; c = next) {
        next = c->all_next;
        if (c->expires_at && wall >= c->expires_at && c->state != SC_DROPPED)
            drop(c, CODE(UNAUTHENTICATED), "the session expired");
        else if (c->state == SC_WAITING && now > c->wait_until)
            refuse_code(c, CODE(UNAVAILABLE), NULL, "the notification stream is not reachable; try again");
        else if (sse_client_stalled(c))
            drop(c, CODE(RESOURCE_EXHAUSTED), "the client reads too slowly");
        else if (c->backfill == BF_RETRY && !self->stopping)
            gw_backfill_resume(self->backfill, c);
    }
}

gw_stream_t *gw_stream_new(gateway_t *gw, const char *endpoint)
{
    gw_stream_t *self = crm_calloc(1, sizeof *self);
    self->gw = gw;
    self->users = crm_map_new();
    self->backfill = gw_backfill_new(gw, on_backfill_end, self);
    int hwm = 100000;
    self->socket = zmq_socket(gw->zctx, ZMQ_SUB);
    if (!self->socket || crm_zsock_setup(self->socket, STREAM_MAX_MSG) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_SUBSCRIBE, "user.", 5) != 0 ||
        zmq_setsockopt(self->socket, ZMQ_SUBSCRIBE, "heartbeat", 9) != 0 ||
        crm_curve_client(self->socket, "notifications") != 0 || zmq_connect(self->socket, endpoint) != 0) {
        crm_error("notifications stream %s: %s", endpoint, zmq_strerror(errno));
        goto fail;
    }
    self->watch = crm_zwatch_new(gw->loop, self->socket, on_stream, self);
    if (!self->watch) {
        crm_error("notifications stream: %s", zmq_strerror(errno));
        goto fail;
    }
    ev_timer_init(&self->keepalive, on_keepalive, KEEPALIVE_S, KEEPALIVE_S);
    ev_timer_init(&self->tick, on_tick, TICK_S, TICK_S);
    self->keepalive.data = self->tick.data = self;
    ev_timer_start(gw->loop, &self->keepalive);
    ev_timer_start(gw->loop, &self->tick);
    return self;
fail:
    gw_stream_destroy(&self);
    return NULL;
}

/* --- requests -------------------------------------------------------------------- */

static void on_auth(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    int64_t user = call->user_id, expires_at = call->session_expires_at;
    gw_stream_client_t *c = sse_client_call_ended(call);
    if (!c)
        return;
    gw_stream_t *self = c->stream;
    if (st->code != CODE(OK)) {
        refuse(c, st);
        return;
    }
    if (self->stopping) {
        refuse_code(c, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
        return;
    }
    if (user <= 0) {
        refuse_code(c, CODE(INTERNAL), NULL, "the session has no user");
        return;
    }
    int open = 0;
    for (gw_stream_client_t *o = crm_map_get(self->users, (uint64_t)user); o; o = o->user_next)
        open++;
    if (open >= USER_STREAMS_MAX) {
        refuse_code(c, CODE(RESOURCE_EXHAUSTED), NULL, "too many open streams for this user; close one");
        return;
    }
    c->user_id = user;
    c->expires_at = expires_at;
    user_add(self, c);
    c->state = SC_WAITING;
    sse_client_append(c, OPENING, sizeof OPENING - 1);
    /* decided before the backfill starts: a backfill that fails may drop
     * c, and a dropped undecided request is answered and freed */
    if (self->seq_known) {
        if (!c->resumed)
            c->last_sent_id = (int64_t)self->seq;
        decide(c);
    } else {
        c->wait_until = crm_time_mono_us() + self->gw->deadline_us;
    }
    if (c->resumed)
        gw_backfill_start(self->backfill, c);
}

void gw_stream_begin(gw_stream_t *self, struct MHD_Connection *conn, const char *token, gw_stream_ready_fn *ready,
                     void *door)
{
    crm_status_t st;
    const char *resume = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    int64_t after = 0;
    gw_stream_client_t *c;
    if (!token[0] || strlen(token) >= sizeof c->token) {
        crm_status_set(&st, CODE(UNAUTHENTICATED), "token",
                       "the stream needs a session token (Authorization: Bearer <token>, or the app's session cookie)");
        ready(door, NULL, &st);
        return;
    }
    if (resume && crm_parse_id(resume, strlen(resume), &after) != 0) {
        crm_status_set(&st, CODE(INVALID_ARGUMENT), "Last-Event-ID", "Last-Event-ID must be a positive integer");
        ready(door, NULL, &st);
        return;
    }
    if (self->stopping) {
        crm_status_set(&st, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
        ready(door, NULL, &st);
        return;
    }
    if (self->n_clients >= self->gw->sse_max_clients) {
        crm_status_set(&st, CODE(RESOURCE_EXHAUSTED), NULL, "too many open streams; try again later");
        ready(door, NULL, &st);
        return;
    }
    c = crm_calloc(1, sizeof *c);
    c->gw = self->gw;
    c->stream = self;
    c->bf = self->backfill;
    c->conn = conn;
    c->state = SC_AUTHENTICATING;
    c->ready = ready;
    c->door = door;
    c->last_sent_id = after;
    c->resumed = resume != NULL;
    snprintf(c->token, sizeof c->token, "%s", token);
    c->all_next = self->all;
    if (self->all)
        self->all->all_prev = c;
    self->all = c;
    self->n_clients++;

    /* an ordinary call, so that the caller's id comes back */
    if (sse_client_call(c, METHOD_AUTH, NULL, 0, on_auth) != 0)
        refuse_code(c, CODE(INTERNAL), NULL, "no route to the notifications service");
}

/* libmicrohttpd asks for more of the body. It runs inside MHD_run: it only
 * copies and suspends; a backfill waiting for it goes on from the loop. */
static ssize_t on_read(void *cls, uint64_t pos, char *out, size_t max)
{
    gw_stream_client_t *c = cls;
    if (c->state == SC_DROPPED)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (sse_client_pending(c) == 0) {
        if (c->stream->stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* nothing to send: off libmicrohttpd's loop until append wakes it */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        return 0;
    }
    size_t n = sse_client_take(c, out, max);
    if (c->backfill == BF_PAUSED)
        gw_backfill_resume(c->bf, c);
    return (ssize_t)n;
}

static void on_response_free(void *cls)
{
    gw_stream_client_t *c = cls;
    c->gw->sse_clients--;
    release(c);
}

struct MHD_Response *gw_stream_response(gw_stream_client_t *c)
{
    gateway_t *gw = c->gw;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, RESPONSE_BLOCK, on_read, c, on_response_free);
    if (!resp) {
        crm_error("stream: libmicrohttpd made no response");
        release(c);
        return NULL;
    }
    if (c->state == SC_DECIDED)
        c->state = SC_STREAMING;
    gw->sse_clients++;
    /* the kernel's send buffer grows to megabytes for a peer that reads
     * nothing; held to the same size as ours, a stalled client is noticed
     * (and dropped) after about twice --sse-buffer, not after many MB */
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sndbuf = (int)(gw->sse_buffer < (1 << 30) ? gw->sse_buffer : (1 << 30));
    if (!info || setsockopt(info->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
        crm_warn("stream: cannot size a client's send buffer: %s", strerror(errno));
    if (MHD_add_response_header(resp, "Content-Type", "text/event-stream") != MHD_YES ||
        MHD_add_response_header(resp, "Cache-Control", "no-cache") != MHD_YES)
        crm_warn("stream: a response header was not added");
    return resp;
}

void gw_stream_abandon(gw_stream_client_t *c) { release(c); }

void gw_stream_recheck(void *arg, int64_t user_id)
{
    gw_stream_t *self = arg;
    /* a backfill round calls ListInbox with the stream's token: dispatch
     * authenticates it afresh (the session was just forgotten), and a
     * refusal ends the stream */
    gw_stream_client_t *c = user_id < 0 ? self->all : crm_map_get(self->users, (uint64_t)user_id);
    for (; c; c = user_id < 0 ? c->all_next : c->user_next)
        if (c->state == SC_DECIDED || c->state == SC_STREAMING)
            gw_backfill_start(self->backfill, c);
}

void gw_stream_close_all(gw_stream_t *self)
{
    self->stopping = 1;
    gw_backfill_stop(self->backfill);
    for (gw_stream_client_t *c = self->all, *next; c; c = next) {
        next = c->all_next;
        if (c->state == SC_WAITING)
            refuse_code(c, CODE(UNAVAILABLE), NULL, "the gateway is stopping");
        else if (c->state != SC_AUTHENTICATING) /* that one is answered when its call is */
            sse_client_wake(c);                 /* its reader sees the end */
    }
}

void gw_stream_destroy(gw_stream_t **self_p)
{
    gw_stream_t *self = *self_p;
    if (!self)
        return;
    ev_timer_stop(self->gw->loop, &self->keepalive);
    ev_timer_stop(self->gw->loop, &self->tick);
    crm_zwatch_destroy(&self->watch);
    if (self->socket)
        zmq_close(self->socket);
    /* every connection is gone with the daemon; nothing should be left */
    while (self->all)
        release(self->all);
    gw_backfill_destroy(&self->backfill);
    crm_map_destroy(&self->users);
    free(self);
    *self_p = NULL;
}
