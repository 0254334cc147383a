/* Backfills of stream clients, bounded: each page is one ListInbox call as
 * the client's session (through dispatch, so that revocations and the rate
 * limit apply); a client holds a slot only while its page is out, never
 * while it reads or waits to retry, and gives it up after every page, so a
 * long inbox does not keep the others waiting. */
#include "backfill.h"
#include "crm_log.h"
#include "crm_mem.h"

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

#define MAX_REPLY (64 << 20) /* one ListInbox page (500 entries) */
#define PAGE 500

static const char *const METHOD_INBOX = "crm.notifications.v1.Notifications/ListInbox";

struct gw_backfill {
    gateway_t *gw;
    gw_backfill_end_fn *end;
    void *end_arg;
    gw_stream_client_t *queue, *queue_tail; /* waiting for a slot, oldest first */
    ev_timer pump;
    int stopping;
};

/* Errors a later ListInbox may not repeat: a restarting or busy service,
 * the session's rate limit. */
static int is_transient(Crm__Rpc__V1__Code code)
{
    return code == CODE(UNAVAILABLE) || code == CODE(DEADLINE_EXCEEDED) || code == CODE(RESOURCE_EXHAUSTED) ||
           code == CODE(INTERNAL) || code == CODE(ABORTED) || code == CODE(UNKNOWN);
}

static int ended(const gw_stream_client_t *c) { return c->state == SC_DROPPED || c->state == SC_RELEASED; }

/* Pages are asked for from the loop: never inside libmicrohttpd's run (a
 * reader), nor inside the answer of another page. */
static void arm_pump(gw_backfill_t *self)
{
    if (!ev_is_active(&self->pump) && self->queue)
        ev_timer_start(self->gw->loop, &self->pump);
}

static void enqueue(gw_backfill_t *self, gw_stream_client_t *c)
{
    c->backfill = BF_QUEUED;
    c->queue_next = NULL;
    c->queue_prev = self->queue_tail;
    if (self->queue_tail)
        self->queue_tail->queue_next = c;
    else
        self->queue = c;
    self->queue_tail = c;
    self->gw->backfills_queued++;
    arm_pump(self);
}

static void dequeue(gw_backfill_t *self, gw_stream_client_t *c)
{
    if (c->queue_next)
        c->queue_next->queue_prev = c->queue_prev;
    else
        self->queue_tail = c->queue_prev;
    if (c->queue_prev)
        c->queue_prev->queue_next = c->queue_next;
    else
        self->queue = c->queue_next;
    c->queue_prev = c->queue_next = NULL;
    self->gw->backfills_queued--;
}

/* The next page after c->last_sent_id, unless c has to read first. */
static void next_page(gw_backfill_t *self, gw_stream_client_t *c)
{
    if (sse_client_pending(c) > (size_t)self->gw->sse_buffer / 2) {
        c->backfill = BF_PAUSED; /* the reader resumes it */
        return;
    }
    enqueue(self, c);
}

static void end_round(gw_stream_client_t *c)
{
    c->backfill = BF_IDLE;
    sse_client_flush_held(c);
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
        char *text = sse_format_entry(r->notifications[i], &tlen);
        sse_entry_t *e = sse_entry_new(r->notifications[i]->id, text, tlen);
        free(text);
        e->next = c->start; /* newest first in, so oldest first out */
        c->start = e;
    }
    free(c->start_token);
    c->start_token = NULL;
    if (full && r->next_page_token[0]) {
        c->start_token = crm_strdup(r->next_page_token);
        return 1;
    }
    for (sse_entry_t *e = c->start; e; e = e->next)
        sse_client_hand_over(c, e->id, e->text, e->len, 1);
    sse_client_free_start(c);
    return 0;
}

static void on_page(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    gw_backfill_t *self = ((gw_stream_client_t *)call->door)->bf;
    self->gw->backfills_in_flight--;
    arm_pump(self);
    Crm__Notifications__V1__ListInboxReply *r = NULL;
    if (st->code == CODE(OK) && len <= MAX_REPLY)
        r = crm__notifications__v1__list_inbox_reply__unpack(NULL, len, body);
    gw_stream_client_t *c = sse_client_call_ended(call);
    if (!c || ended(c) || self->stopping)
        goto out;
    if (st->code == CODE(UNAUTHENTICATED) || st->code == CODE(PERMISSION_DENIED)) {
        c->backfill = BF_IDLE;
        self->end(self->end_arg, c, st->code, "the session ended");
        goto out;
    }
    if (st->code != CODE(OK) && !is_transient(st->code)) {
        c->backfill = BF_IDLE;
        self->end(self->end_arg, c, st->code, st->message);
        goto out;
    }
    if (!r) {
        /* the tick tries again: notifications may be restarting */
        if (st->code == CODE(OK))
            crm_warn("stream: notifications gave a malformed ListInbox reply");
        c->backfill = BF_RETRY;
        goto out;
    }
    int full = r->n_notifications >= PAGE;
    if (c->last_sent_id == 0) {
        if (from_start(c, r, full)) {
            next_page(self, c);
            goto out;
        }
        full = 0; /* the whole inbox is in */
    }
    for (size_t i = 0; i < r->n_notifications; i++) {
        const Crm__Notifications__V1__Notification *n = r->notifications[i];
        if (n->id <= c->last_sent_id)
            continue;
        size_t tlen;
        char *text = sse_format_entry(n, &tlen);
        /* pulled at the client's pace (next_page waits for it), so no
         * limit here: a fast reader of a long inbox is never dropped */
        sse_client_hand_over(c, n->id, text, tlen, 1);
        free(text);
    }
    if (full) {
        next_page(self, c);
    } else if (c->backfill_again) {
        c->backfill_again = 0;
        next_page(self, c);
    } else {
        end_round(c);
    }
out:
    if (r)
        crm__notifications__v1__list_inbox_reply__free_unpacked(r, NULL);
}

static void send_page(gw_backfill_t *self, gw_stream_client_t *c)
{
    gateway_t *gw = self->gw;
    Crm__Notifications__V1__ListInboxRequest req = CRM__NOTIFICATIONS__V1__LIST_INBOX_REQUEST__INIT;
    req.after_id = c->last_sent_id; /* 0: newest first (see from_start) */
    req.page_size = PAGE;
    if (c->start_token)
        req.page_token = c->start_token;
    size_t len = crm__notifications__v1__list_inbox_request__get_packed_size(&req);
    uint8_t *body = crm_malloc(len ? len : 1);
    crm__notifications__v1__list_inbox_request__pack(&req, body);
    c->backfill = BF_CALLING;
    gw->backfills_total++;
    if (++gw->backfills_in_flight > gw->backfills_peak)
        gw->backfills_peak = gw->backfills_in_flight;
    if (sse_client_call(c, METHOD_INBOX, body, len, on_page) != 0) {
        gw->backfills_in_flight--;
        c->backfill = BF_IDLE;
        self->end(self->end_arg, c, CODE(INTERNAL), "no route to ListInbox");
    }
}

/* Hands the free slots to the clients that waited longest. A page answered
 * at once (dispatch refusing it) frees its slot within this loop. */
static void on_pump(struct ev_loop *loop, ev_timer *w, int revents)
{
    gw_backfill_t *self = w->data;
    while (!self->stopping && self->queue && self->gw->backfills_in_flight < self->gw->backfills_max) {
        gw_stream_client_t *c = self->queue;
        dequeue(self, c);
        send_page(self, c);
    }
}

gw_backfill_t *gw_backfill_new(gateway_t *gw, gw_backfill_end_fn *end, void *end_arg)
{
    gw_backfill_t *self = crm_calloc(1, sizeof *self);
    self->gw = gw;
    self->end = end;
    self->end_arg = end_arg;
    ev_timer_init(&self->pump, on_pump, 0, 0);
    self->pump.data = self;
    return self;
}

void gw_backfill_destroy(gw_backfill_t **self_p)
{
    gw_backfill_t *self = *self_p;
    if (!self)
        return;
    gw_backfill_stop(self);
    free(self);
    *self_p = NULL;
}

void gw_backfill_start(gw_backfill_t *self, gw_stream_client_t *c)
{
    if (!sse_client_registered(c) || self->stopping)
        return;
    if (c->backfill != BF_IDLE) {
        c->backfill_again = 1;
        return;
    }
    c->backfill_again = 0;
    next_page(self, c);
}

void gw_backfill_resume(gw_backfill_t *self, gw_stream_client_t *c)
{
    if (self->stopping || ended(c))
        return;
    if (c->backfill == BF_RETRY || (c->backfill == BF_PAUSED &&
                                    sse_client_pending(c) <= (size_t)self->gw->sse_buffer / 2))
        enqueue(self, c);
}

void gw_backfill_forget(gw_backfill_t *self, gw_stream_client_t *c)
{
    if (c->backfill == BF_QUEUED)
        dequeue(self, c);
    if (c->backfill != BF_CALLING)
        c->backfill = BF_IDLE;
}

void gw_backfill_stop(gw_backfill_t *self)
{
    self->stopping = 1;
    ev_timer_stop(self->gw->loop, &self->pump);
    while (self->queue) {
        gw_stream_client_t *c = self->queue;
        dequeue(self, c);
        c->backfill = BF_IDLE;
    }
}
