/* Sessions the gateway has seen: the principal identity gave for the token
 * (cached briefly, dropped at once on identity's revocation and user events)
 * and the read-your-writes marks of the session (see ARCHITECTURE.md, Read-your-writes marks). */
#include "crm_curve.h"
#include "gateway.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_zloop.h"
#include "events.pb-c.h"
#include "identity.pb-c.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define SESSION_IDLE_US (30LL * 60 * 1000000)

void gw_token_hash(const char *token, uint8_t hash[32])
{
    crypto_generichash(hash, 32, (const uint8_t *)token, strlen(token), NULL, 0);
}

static uint64_t key_of(const uint8_t hash[32])
{
    uint64_t k;
    memcpy(&k, hash, 8);
    return k ? k : 1;
}

gw_session_t *gw_session_find(gateway_t *gw, const uint8_t h[32])
{
    gw_session_t *s = crm_map_get(gw->sessions, key_of(h));
    /* a 64-bit prefix collision must never lend one session's rights to another */
    return s && sodium_memcmp(s->hash, h, 32) == 0 ? s : NULL;
}

static void session_free(gw_session_t *s)
{
    if (s->principal)
        crm__rpc__v1__principal__free_unpacked(s->principal, NULL);
    free(s);
}

gw_session_t *gw_session_add(gateway_t *gw, const uint8_t hash[32])
{
    gw_session_t *s = crm_calloc(1, sizeof *s);
    memcpy(s->hash, hash, 32);
    s->last_used = crm_time_mono_us();
    gw_session_t *old = crm_map_get(gw->sessions, key_of(s->hash));
    if (old)
        session_free(old);
    crm_map_put(gw->sessions, key_of(s->hash), s);
    return s;
}

void gw_session_note_marks(gw_session_t *s, Crm__Rpc__V1__SeqMark **marks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = marks[i]->producer;
        int j = 0;
        while (j < s->n_marks && strcmp(s->marks[j].producer, p) != 0)
            j++;
        if (j == s->n_marks) {
            if (j == GW_MAX_MARKS || strlen(p) >= sizeof s->marks[j].producer)
                continue;
            snprintf(s->marks[j].producer, sizeof s->marks[j].producer, "%s", p);
            s->marks[j].seq = 0;
            s->n_marks++;
        }
        if (marks[i]->seq > s->marks[j].seq)
            s->marks[j].seq = marks[i]->seq;
    }
}

typedef struct {
    int64_t user_id; /* -1: every user */
} forget_t;

static void forget_one(void *arg, uint64_t key, void *value)
{
    forget_t *f = arg;
    gw_session_t *s = value;
    if (s->principal && (f->user_id < 0 || s->principal->user_id == f->user_id))
        s->valid_until = 0;
}

void gw_session_forget_user(gateway_t *gw, int64_t user_id)
{
    gw->revocations++;
    forget_t f = {user_id};
    crm_map_each(gw->sessions, forget_one, &f);
    /* an open stream was authenticated once: it must hear of this too */
    gw_stream_recheck(user_id);
}

void gw_session_forget_all(gateway_t *gw) { gw_session_forget_user(gw, -1); }

typedef struct {
    uint64_t keys[256];
    int n;
    int64_t now;
} sweep_t;

static void sweep_one(void *arg, uint64_t key, void *value)
{
    sweep_t *sw = arg;
    gw_session_t *s = value;
    if (sw->n < 256 && s->last_used + SESSION_IDLE_US < sw->now)
        sw->keys[sw->n++] = key;
}

void gw_session_sweep(gateway_t *gw)
{
    sweep_t sw;
    do {
        sw.n = 0;
        sw.now = crm_time_mono_us();
        crm_map_each(gw->sessions, sweep_one, &sw);
        for (int i = 0; i < sw.n; i++)
            session_free(crm_map_remove(gw->sessions, sw.keys[i]));
    } while (sw.n == 256);
}

static void free_one(void *arg, uint64_t key, void *value) { session_free(value); }

void gw_session_free_all(gateway_t *gw)
{
    crm_map_each(gw->sessions, free_one, NULL);
    crm_map_destroy(&gw->sessions);
}

/* --- identity's events ---------------------------------------------------------- */

static void *events_socket;
static crm_zwatch_t *events_watch;

static void apply_event(gateway_t *gw, const Crm__Events__V1__Event *ev)
{
    if (!strcmp(ev->type, "session.revoked")) {
        Crm__Identity__V1__SessionRevoked *r =
            crm__identity__v1__session_revoked__unpack(NULL, ev->payload.len, ev->payload.data);
        if (r) {
            gw_session_forget_user(gw, r->user_id);
            crm__identity__v1__session_revoked__free_unpacked(r, NULL);
        } else {
            gw_session_forget_all(gw);
        }
    } else if (!strcmp(ev->type, "user.updated")) {
        Crm__Identity__V1__UserEvent *u =
            crm__identity__v1__user_event__unpack(NULL, ev->payload.len, ev->payload.data);
        if (u && u->user) {
            gw_session_forget_user(gw, u->user->id);
        } else {
            gw_session_forget_all(gw);
        }
        if (u)
            crm__identity__v1__user_event__free_unpacked(u, NULL);
    }
}

static void on_identity_event(crm_zwatch_t *w, void *socket, void *arg)
{
    gateway_t *gw = arg;
    for (int budget = 256; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        Crm__Events__V1__Publication *p = NULL;
        if (f.count == 1)
            p = crm__events__v1__publication__unpack(NULL, crm_frame_size(&f, 0), crm_frame_data(&f, 0));
        crm_frames_close(&f);
        if (!p)
            continue;
        /* the cache is only a cache: a lost event (a gap, or a heartbeat ahead
         * of what we saw) drops every cached principal rather than risk one */
        uint64_t seen = gw->identity_seq;
        if (p->event) {
            if (seen && p->event->seq != seen + 1)
                gw_session_forget_all(gw);
            apply_event(gw, p->event);
            gw->identity_seq = p->event->seq;
        } else if (p->last_seq != seen) {
            if (seen)
                gw_session_forget_all(gw);
            gw->identity_seq = p->last_seq;
        }
        crm__events__v1__publication__free_unpacked(p, NULL);
    }
}

int gw_identity_listen(gateway_t *gw, const char *endpoint)
{
    events_socket = zmq_socket(gw->zctx, ZMQ_SUB);
    if (!events_socket || crm_zsock_setup(events_socket, 8 << 20) != 0 ||
        zmq_setsockopt(events_socket, ZMQ_SUBSCRIBE, "", 0) != 0 ||
        crm_curve_client(events_socket, "identity") != 0 || zmq_connect(events_socket, endpoint) != 0) {
        crm_error("identity events %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    events_watch = crm_zwatch_new(gw->loop, events_socket, on_identity_event, gw);
    return events_watch ? 0 : -1;
}

void gw_identity_stop(void)
{
    crm_zwatch_destroy(&events_watch);
    if (events_socket)
        zmq_close(events_socket);
    events_socket = NULL;
}
