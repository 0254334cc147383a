/* A stream client's bytes. Memory: a client is about 300 bytes while idle;
 * its output buffer exists only while it holds unsent bytes, and never
 * holds more than --sse-buffer of live entries: a client that falls further
 * behind catches up from the inbox instead (backfill.c), a page at a time
 * as it reads. */
#include "sse_client.h"
#include "crm_json.h"
#include "crm_mem.h"

#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#define STALL_S 2.0 /* behind by --sse-buffer and taking nothing: dropped */

size_t sse_client_pending(const gw_stream_client_t *c) { return c->len - c->off; }

/* A backfill puts a whole page (and the entries held meanwhile) in at once,
 * at a pace it sets itself: a live entry that follows must not make a fast
 * reader look slow. The reader's progress is counted against the
 * backfill's bytes first. */
size_t sse_client_live_bytes(const gw_stream_client_t *c) { return sse_client_pending(c) - c->caught_up; }

/* Only the time says "stalled": a burst of entries is queued in one loop
 * turn, before libmicrohttpd writes any of it, so a fast reader may be that
 * far behind for a moment. */
int sse_client_stalled(const gw_stream_client_t *c)
{
    int behind = sse_client_pending(c) > (size_t)c->gw->sse_buffer || c->backfill == BF_PAUSED;
    return c->state == SC_STREAMING && behind && ev_now(c->gw->loop) - c->progress_at > STALL_S;
}

void sse_client_wake(gw_stream_client_t *c)
{
    if (!c->suspended)
        return;
    c->suspended = 0;
    MHD_resume_connection(c->conn);
    if (c->gw->hooks.wake_http)
        c->gw->hooks.wake_http(c->gw->hooks.wake_http_arg);
}

void sse_client_append(gw_stream_client_t *c, const char *data, size_t n)
{
    if (c->off == c->len)
        c->progress_at = ev_now(c->gw->loop); /* nothing was waiting for it */
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
    sse_client_wake(c);
}

void sse_client_hand_over(gw_stream_client_t *c, int64_t id, const char *text, size_t len, int caught_up)
{
    if (id <= c->last_sent_id)
        return;
    sse_client_append(c, text, len);
    if (caught_up)
        c->caught_up += len;
    c->last_sent_id = id;
    c->gw->sse_entries++;
}

sse_entry_t *sse_entry_new(int64_t id, const char *text, size_t len)
{
    sse_entry_t *e = crm_malloc(sizeof *e + len);
    e->next = NULL;
    e->id = id;
    e->len = len;
    memcpy(e->text, text, len);
    return e;
}

void sse_entries_free(sse_entry_t *list)
{
    while (list) {
        sse_entry_t *next = list->next;
        free(list);
        list = next;
    }
}

static void free_held(gw_stream_client_t *c)
{
    sse_entries_free(c->held);
    c->held = c->held_tail = NULL;
    c->held_bytes = 0;
}

int sse_client_hold(gw_stream_client_t *c, int64_t id, const char *text, size_t len)
{
    if (c->held_bytes + len > (size_t)c->gw->sse_buffer) {
        free_held(c);
        return -1;
    }
    sse_entry_t *e = sse_entry_new(id, text, len);
    if (c->held_tail)
        c->held_tail->next = e;
    else
        c->held = e;
    c->held_tail = e;
    c->held_bytes += len;
    return 0;
}

void sse_client_flush_held(gw_stream_client_t *c)
{
    sse_entry_t *list = c->held;
    c->held = c->held_tail = NULL;
    c->held_bytes = 0;
    for (sse_entry_t *e = list; e; e = e->next)
        sse_client_hand_over(c, e->id, e->text, e->len, 1);
    sse_entries_free(list);
}

size_t sse_client_take(gw_stream_client_t *c, char *out, size_t max)
{
    size_t n = sse_client_pending(c);
    if (n > max)
        n = max;
    memcpy(out, c->buf + c->off, n);
    c->off += n;
    c->progress_at = ev_now(c->gw->loop);
    c->caught_up -= n < c->caught_up ? n : c->caught_up;
    if (c->off == c->len) {
        free(c->buf); /* an idle client holds no buffer */
        c->buf = NULL;
        c->off = c->len = c->cap = 0;
    }
    return n;
}

void sse_client_free_start(gw_stream_client_t *c)
{
    sse_entries_free(c->start);
    c->start = NULL;
    free(c->start_token);
    c->start_token = NULL;
}

void sse_client_free_buffers(gw_stream_client_t *c)
{
    free(c->buf);
    c->buf = NULL;
    c->off = c->len = c->cap = c->caught_up = 0;
    free_held(c);
    sse_client_free_start(c);
}

char *sse_format_entry(const Crm__Notifications__V1__Notification *n, size_t *len)
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

int sse_client_call(gw_stream_client_t *c, const char *method, uint8_t *body, size_t len,
                    void (*done)(gw_call_t *, const crm_status_t *, const uint8_t *, size_t))
{
    crm_status_t st;
    gw_call_t *call = gw_call_new(c->gw, method, c->token, "", &st);
    if (!call) {
        free(body);
        return -1;
    }
    /* the stream packs these bodies itself: nothing to decode */
    call->body = body;
    call->body_len = len;
    call->done = done;
    call->door = c;
    c->call_out = 1;
    gw_dispatch(call);
    return 0;
}

gw_stream_client_t *sse_client_call_ended(gw_call_t *call)
{
    gw_stream_client_t *c = call->door;
    gw_call_free(call);
    c->call_out = 0;
    if (c->state == SC_RELEASED) {
        free(c);
        return NULL;
    }
    return c;
}
