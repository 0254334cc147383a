/* The path of every client call: route, authenticate, forward, answer. */
#include "gateway.h"
#include "crm_json.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_version.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x

void gw_call_free(gw_call_t *call)
{
    if (!call)
        return;
    free(call->body);
    free(call);
}

uint64_t gw_call_session_key(const gw_call_t *call)
{
    if (!call->token[0])
        return 0;
    uint64_t key;
    memcpy(&key, call->token_hash, sizeof key);
    return key ? key : 1;
}

int gw_route_find(gateway_t *gw, gw_call_t *call, crm_status_t *st)
{
    const char *name = call->method_name, *slash = strchr(name, '/');
    if (slash) {
        size_t slen = (size_t)(slash - name);
        for (int i = 0; i < gw->n_routes; i++) {
            const ProtobufCServiceDescriptor *d = gw->routes[i].service;
            if (strlen(d->name) != slen || strncmp(d->name, name, slen) != 0)
                continue;
            const ProtobufCMethodDescriptor *m =
                protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
            if (!m)
                break;
            call->route = &gw->routes[i];
            call->method = m;
            return 0;
        }
    }
    return crm_status_set(st, CODE(BAD_ROUTE), "method", "no method \"%.150s\"", name);
}

/* Methods anyone may call without a session. */
static int is_public(const gw_call_t *call)
{
    const char *n = call->method_name;
    return !strcmp(n, "crm.identity.v1.Identity/Login") ||
           !strcmp(n, "crm.identity.v1.Identity/SetPassword") ||
           !strncmp(n, "crm.health.v1.Health/", 21);
}

gw_call_t *gw_call_new(gateway_t *gw, const char *method, const char *token, const char *idem,
                       crm_status_t *st)
{
    gw_call_t *call = crm_calloc(1, sizeof *call);
    call->gw = gw;
    call->started = crm_time_mono_us();
    if (strlen(method) >= sizeof call->method_name) {
        crm_status_set(st, CODE(BAD_ROUTE), "method", "no method \"%.150s...\"", method);
        goto fail;
    }
    snprintf(call->method_name, sizeof call->method_name, "%s", method);
    if (gw_route_find(gw, call, st) != 0)
        goto fail;
    if (strlen(token) >= sizeof call->token) {
        crm_status_set(st, CODE(UNAUTHENTICATED), "token", "token longer than %d bytes", CRM_LIMIT_TOKEN);
        goto fail;
    }
    if (strlen(idem) >= sizeof call->idem) {
        crm_status_set(st, CODE(INVALID_ARGUMENT), "idempotencyKey", "idempotency key longer than %d bytes",
                       CRM_LIMIT_IDEMPOTENCY_KEY);
        goto fail;
    }
    snprintf(call->token, sizeof call->token, "%s", token);
    snprintf(call->idem, sizeof call->idem, "%s", idem);
    if (call->token[0])
        gw_token_hash(call->token, call->token_hash);
    call->limit = crm_limit_request(call->method_name);
    if (call->limit > gw->max_body)
        call->limit = gw->max_body;
    return call;
fail:
    gw_metrics_record(gw, call->method_name, st->code, 0);
    gw_call_free(call);
    return NULL;
}

/* --- bodies -------------------------------------------------------------------- */

/* protobuf-c's unpack allocates as it goes, some 40 bytes for a 2-byte empty
 * element: a budget keeps a body of them from unfolding without bound. */
typedef struct {
    ProtobufCAllocator base;
    size_t used, limit;
    int hit;
} budget_t;

static void *budget_alloc(void *data, size_t size)
{
    budget_t *b = data;
    if (size > b->limit - b->used) {
        b->hit = 1;
        return NULL;
    }
    b->used += size;
    return crm_malloc(size ? size : 1);
}

static void budget_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* Drops the fields this version does not know, in m and every message in
 * it: the services then never hold a client's unknown bytes. Returns how
 * many were dropped. */
static size_t drop_unknown(ProtobufCMessage *m, ProtobufCAllocator *alloc)
{
    size_t dropped = m->n_unknown_fields;
    for (size_t i = 0; i < m->n_unknown_fields; i++)
        alloc->free(alloc->allocator_data, m->unknown_fields[i].data);
    if (m->unknown_fields)
        alloc->free(alloc->allocator_data, m->unknown_fields);
    m->unknown_fields = NULL;
    m->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        char *base = (char *)m;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)(base + f->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***)(base + f->offset);
            for (size_t j = 0; j < n; j++)
                dropped += drop_unknown(items[j], alloc);
        } else {
            ProtobufCMessage *sub = *(ProtobufCMessage **)(base + f->offset);
            if (sub)
                dropped += drop_unknown(sub, alloc);
        }
    }
    return dropped;
}

int gw_call_set_body(gw_call_t *call, const void *data, size_t len, int json, crm_status_t *st)
{
    const ProtobufCMessageDescriptor *in = call->method->input;
    budget_t b = {{budget_alloc, budget_free, NULL}, 0, crm_limit_decode_budget(len), 0};
    b.base.allocator_data = &b;
    ProtobufCMessage *m;
    if (json) {
        m = crm_json_decode(in, data ? data : "", len, CRM_JSON_FILL_UPDATE_MASK, &b.base, st);
        if (!m)
            return -1;
    } else {
        if ((int64_t)len > call->limit)
            goto too_big;
        m = protobuf_c_message_unpack(in, &b.base, len, data);
        if (!m) {
            if (b.hit)
                return crm_status_set(st, CODE(RESOURCE_EXHAUSTED), "body",
                                      "the request unfolds to more than %zu bytes; send fewer or larger elements",
                                      b.limit);
            return crm_status_set(st, CODE(MALFORMED), "body", "request body is not a valid %s", in->name);
        }
        if (drop_unknown(m, &b.base) == 0) {
            protobuf_c_message_free_unpacked(m, &b.base);
            free(call->body);
            call->body = crm_memdup(data, len);
            call->body_len = len;
            return 0;
        }
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    if ((int64_t)n > call->limit) {
        protobuf_c_message_free_unpacked(m, &b.base);
        goto too_big;
    }
    free(call->body);
    call->body = crm_malloc(n ? n : 1);
    call->body_len = protobuf_c_message_pack(m, call->body);
    protobuf_c_message_free_unpacked(m, &b.base);
    return 0;
too_big:
    return crm_status_set(st, CODE(RESOURCE_EXHAUSTED), "body", "request body exceeds %s's limit of %lld bytes",
                          call->method_name, (long long)call->limit);
}

/* --- the path of a call --------------------------------------------------------- */

/* The one way out of dispatch: counted, then handed to the door. */
static void complete(gw_call_t *call, const crm_status_t *st, const uint8_t *body, size_t len)
{
    gw_metrics_record(call->gw, call->method_name, st->code, crm_time_mono_us() - call->started);
    call->done(call, st, body, len);
}

static void fail(gw_call_t *call, Crm__Rpc__V1__Code code, const char *field, const char *msg)
{
    crm_status_t st;
    crm_status_set(&st, code, field, "%s", msg);
    complete(call, &st, NULL, 0);
}

/* --- forwarding -------------------------------------------------------------- */

static void on_service_reply(void *arg, const crm_status_t *st, const Crm__Rpc__V1__RpcReply *reply)
{
    gw_call_t *call = arg;
    if (reply && reply->n_marks && call->token[0]) {
        gw_session_t *s = gw_session_find(call->gw, call->token_hash);
        if (s)
            gw_session_note_marks(s, reply->marks, reply->n_marks);
    }
    complete(call, st, reply ? reply->body.data : NULL, reply ? reply->body.len : 0);
}

static void forward(gw_call_t *call, crm_rpc_client_t *client, const char *method,
                    Crm__Rpc__V1__Principal *principal, gw_session_t *session)
{
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    Crm__Rpc__V1__SeqMark marks[GW_MAX_MARKS], *mark_ptrs[GW_MAX_MARKS];
    req.method = (char *)method;
    req.principal = principal;
    req.deadline = crm_time_now_us() + call->gw->deadline_us;
    req.idempotency_key = call->idem;
    req.client_address = call->address;
    req.body.data = call->body;
    req.body.len = call->body_len;
    if (session) {
        for (int i = 0; i < session->n_marks; i++) {
            crm__rpc__v1__seq_mark__init(&marks[i]);
            marks[i].producer = session->marks[i].producer;
            marks[i].seq = session->marks[i].seq;
            mark_ptrs[i] = &marks[i];
        }
        req.marks = mark_ptrs;
        req.n_marks = (size_t)session->n_marks;
    }
    crm_status_t st;
    if (crm_rpc_client_call(client, &req, on_service_reply, call, &st) != 0)
        complete(call, &st, NULL, 0);
}

/* --- health -------------------------------------------------------------------- */

static void answer_health(gw_call_t *call)
{
    Crm__Health__V1__CheckRequest *req =
        crm__health__v1__check_request__unpack(NULL, call->body_len, call->body);
    if (!req) {
        fail(call, CODE(MALFORMED), NULL, "request body is not a valid CheckRequest");
        return;
    }
    const char *which = req->service;
    if (which[0] && strcmp(which, "gateway") != 0) {
        for (int i = 0; i < call->gw->n_routes; i++) {
            const gw_route_t *r = &call->gw->routes[i];
            if (r->backend && !strcmp(r->backend, which)) {
                crm__health__v1__check_request__free_unpacked(req, NULL);
                forward(call, r->client, call->method_name, NULL, NULL);
                return;
            }
        }
        crm__health__v1__check_request__free_unpacked(req, NULL);
        fail(call, CODE(NOT_FOUND), "service", "no such service");
        return;
    }
    crm__health__v1__check_request__free_unpacked(req, NULL);
    Crm__Health__V1__CheckReply r = CRM__HEALTH__V1__CHECK_REPLY__INIT;
    r.status = "SERVING";
    r.service = "gateway";
    r.version = CRM_VERSION;
    r.uptime = (crm_time_mono_us() - call->gw->started) / 1000000;
    uint8_t buf[256];
    size_t len = crm__health__v1__check_reply__pack(&r, buf);
    crm_status_t st;
    crm_status_clear(&st);
    complete(call, &st, buf, len);
}

/* A token bucket per session: rate calls a second, bursts of one second's
 * worth. Returns 1 if the call may go. */
static int rate_allows(gateway_t *gw, gw_session_t *s, int64_t now)
{
    if (gw->rate <= 0)
        return 1;
    if (s->tokens_at == 0)
        s->tokens = gw->rate;
    else
        s->tokens += (double)(now - s->tokens_at) * gw->rate / 1e6;
    if (s->tokens > gw->rate)
        s->tokens = gw->rate;
    s->tokens_at = now;
    if (s->tokens < 1)
        return 0;
    s->tokens -= 1;
    return 1;
}

static void forward_session(gw_call_t *call, gw_session_t *s, int64_t now)
{
    if (!rate_allows(call->gw, s, now)) {
        fail(call, CODE(RESOURCE_EXHAUSTED), NULL, "too many calls for this session; slow down");
        return;
    }
    /* the door may want to know whom it serves (the stream routes by user) */
    call->user_id = s->principal->user_id;
    call->session_expires_at = s->principal->expires_at;
    forward(call, call->route->client, call->method_name, s->principal, s);
}

/* --- authentication ------------------------------------------------------------- */

static void authenticate(gw_call_t *call);

static void admit_done(gw_call_t *call, const crm_status_t *st)
{
    void (*admitted)(gw_call_t *, const crm_status_t *) = call->admitted;
    call->admitted = NULL;
    if (st->code != CODE(OK))
        gw_metrics_record(call->gw, call->method_name, st->code, crm_time_mono_us() - call->started);
    admitted(call, st);
}

/* Authentication failed: an admission ends with the error, a call in
 * dispatch is completed with it. */
static void auth_failed(gw_call_t *call, const crm_status_t *st)
{
    if (call->admitted)
        admit_done(call, st);
    else
        complete(call, st, NULL, 0);
}

void gw_call_admit(gw_call_t *call, void (*admitted)(gw_call_t *call, const crm_status_t *st))
{
    crm_status_t st;
    crm_status_clear(&st);
    call->admitted = admitted;
    if (!call->route->backend || is_public(call)) {
        admit_done(call, &st);
        return;
    }
    if (!call->token[0]) {
        crm_status_set(&st, CODE(UNAUTHENTICATED), "token", "this method needs a session token (Authorization: Bearer)");
        admit_done(call, &st);
        return;
    }
    gw_session_t *s = gw_session_find(call->gw, call->token_hash);
    if (s && s->principal && s->valid_until > crm_time_mono_us()) {
        admit_done(call, &st);
        return;
    }
    authenticate(call);
}

static void on_authenticated(void *arg, const crm_status_t *st, const Crm__Rpc__V1__RpcReply *reply)
{
    gw_call_t *call = arg;
    /* a revocation seen while identity answered may concern this very
     * session (the event and the reply travel on different sockets): ask
     * again rather than cache what may already be revoked */
    if (st->code == CODE(OK) && call->auth_epoch != call->gw->revocations && call->auth_tries < 3) {
        authenticate(call);
        return;
    }
    if (st->code != CODE(OK)) {
        crm_status_t out = *st;
        /* the client sent a token, not a field of the method's request */
        if (out.code == CODE(UNAUTHENTICATED))
            snprintf(out.field, sizeof out.field, "token");
        auth_failed(call, &out);
        return;
    }
    Crm__Rpc__V1__Principal *p =
        crm__rpc__v1__principal__unpack(NULL, reply->body.len, reply->body.data);
    if (!p) {
        crm_status_t bad;
        crm_status_set(&bad, CODE(INTERNAL), NULL, "identity gave a malformed principal");
        auth_failed(call, &bad);
        return;
    }
    gw_session_t *s = gw_session_find(call->gw, call->token_hash);
    if (!s)
        s = gw_session_add(call->gw, call->token_hash);
    if (s->principal)
        crm__rpc__v1__principal__free_unpacked(s->principal, NULL);
    s->principal = p;
    /* identity's head when it vouched for the caller: a service that has not
     * yet heard of them (a user created a moment ago) holds the call until
     * it has; services keep up with identity, so this rarely waits */
    gw_session_note_marks(s, reply->marks, reply->n_marks);
    int64_t now = crm_time_mono_us(), until = now + call->gw->session_cache_us;
    int64_t session_end = now + (p->expires_at - crm_time_now_us());
    s->valid_until = session_end < until ? session_end : until;
    if (call->auth_epoch != call->gw->revocations)
        s->valid_until = 0; /* still racing revocations: use it once, keep none */
    if (call->admitted) {
        /* the body comes next; gw_dispatch asks again if this session was
         * dropped meanwhile */
        crm_status_t ok;
        crm_status_clear(&ok);
        admit_done(call, &ok);
        return;
    }
    forward_session(call, s, now);
}

void gw_dispatch(gw_call_t *call)
{
    if (!call->route->backend) {
        answer_health(call);
        return;
    }
    if (is_public(call)) {
        forward(call, call->route->client, call->method_name, NULL, NULL);
        return;
    }
    if (!call->token[0]) {
        fail(call, CODE(UNAUTHENTICATED), "token", "this method needs a session token (Authorization: Bearer)");
        return;
    }
    gw_session_t *s = gw_session_find(call->gw, call->token_hash);
    int64_t now = crm_time_mono_us();
    if (s) {
        s->last_used = now;
        if (s->principal && s->valid_until > now) {
            forward_session(call, s, now);
            return;
        }
    }
    authenticate(call);
}

static void authenticate(gw_call_t *call)
{
    call->auth_epoch = call->gw->revocations;
    call->auth_tries++;
    Crm__Identity__V1__AuthenticateRequest a = CRM__IDENTITY__V1__AUTHENTICATE_REQUEST__INIT;
    a.token = call->token;
    uint8_t abuf[256];
    size_t alen = crm__identity__v1__authenticate_request__pack(&a, abuf);
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.method = "crm.identity.v1.IdentityInternal/Authenticate";
    req.deadline = crm_time_now_us() + call->gw->deadline_us;
    req.body.data = abuf;
    req.body.len = alen;
    crm_status_t st;
    if (crm_rpc_client_call(call->gw->identity, &req, on_authenticated, call, &st) != 0)
        auth_failed(call, &st);
}
