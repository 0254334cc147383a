#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop_until.h"

#include "crm_arena.h"
#include "crm_consumer.h"
#include "crm_outbox.h"
#include "crm_publisher.h"
#include "crm_rpc_client.h"
#include "crm_rpc_server.h"
#include "crm_store.h"
#include "crm_time.h"
#include "crm_validate.h"
#include "crm_zloop.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "rpc.pb-c.h"

/* The RPC server and client in one process and one libev loop, with a test
 * implementation of crm.identity.v1.Identity whose handlers write to and
 * read from the store.
 *
 * Transports: inproc where a test needs several requests to land in one
 * batch (inproc delivers them to the ROUTER at once), ipc where it needs a
 * server to go away and come back (inproc does not reconnect). */

#define C_OK CRM__RPC__V1__CODE__CODE_OK
#define C_INVALID CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT
#define C_MALFORMED CRM__RPC__V1__CODE__CODE_MALFORMED
#define C_DEADLINE CRM__RPC__V1__CODE__CODE_DEADLINE_EXCEEDED
#define C_NOT_FOUND CRM__RPC__V1__CODE__CODE_NOT_FOUND
#define C_BAD_ROUTE CRM__RPC__V1__CODE__CODE_BAD_ROUTE
#define C_UNAUTH CRM__RPC__V1__CODE__CODE_UNAUTHENTICATED
#define C_PRECONDITION CRM__RPC__V1__CODE__CODE_FAILED_PRECONDITION
#define C_UNIMPLEMENTED CRM__RPC__V1__CODE__CODE_UNIMPLEMENTED
#define C_INTERNAL CRM__RPC__V1__CODE__CODE_INTERNAL
#define C_UNAVAILABLE CRM__RPC__V1__CODE__CODE_UNAVAILABLE

#define IDENTITY "crm.identity.v1.Identity/"
#define PRODUCER "identity"

/* --- the test service ---------------------------------------------------- */

typedef struct {
    MDB_dbi teams;
    crm_outbox_t *outbox;  /* CreateTeam appends team.created when set */
    int runs_create;       /* CreateTeam handler runs, committed or not */
    int n_batch;
    int64_t batch_now[16]; /* crm_call_now of each CreateTeam run */
    uint64_t batch_txn[16];
} svc_t;

static int h_unimplemented(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return crm_call_fail(call, C_UNIMPLEMENTED, NULL, "%s is not in this test", crm_call_method(call));
}

/* Fails without saying why. */
static int h_logout(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out) { return -1; }

static int h_login(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__LoginRequest *req = (const void *)in;
    Crm__Identity__V1__LoginReply *r = (void *)out;
    r->token = crm_arena_printf(crm_call_arena(call), "tok-%s", req->login);
    r->expires_at = crm_call_principal(call) ? 1 : 0;
    return 0;
}

static int h_whoami(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    Crm__Identity__V1__User *u = (void *)out;
    u->id = p->user_id;
    u->login = crm_arena_strdup(crm_call_arena(call), p->login);
    return 0;
}

static int h_get_user(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__GetUserRequest *req = (const void *)in;
    if (req->id == 404)
        return crm_call_fail(call, C_NOT_FOUND, "id", "no user %lld", (long long)req->id);
    if (req->id < 0)
        return crm_call_fail(call, C_INVALID, "id", "id must be positive");
    Crm__Identity__V1__User *u = (void *)out;
    u->id = req->id;
    u->name = crm_arena_printf(crm_call_arena(call), "user-%lld", (long long)req->id);
    return 0;
}

static int h_create_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    svc_t *svc = crm_call_ctx(call);
    const Crm__Identity__V1__CreateTeamRequest *req = (const void *)in;
    MDB_txn *txn = crm_call_txn(call);
    if (svc->n_batch < 16) {
        svc->batch_now[svc->n_batch] = crm_call_now(call);
        svc->batch_txn[svc->n_batch] = (uint64_t)mdb_txn_id(txn);
        svc->n_batch++;
    }
    svc->runs_create++;
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), txn, "team", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Identity__V1__Team *t = (void *)out;
    t->id = (int64_t)id;
    t->name = crm_arena_strdup(crm_call_arena(call), req->name);
    t->leader_id = req->leader_id;
    t->created_at = crm_call_now(call);
    if ((rc = crm_db_put_id(txn, svc->teams, id, &t->base)) != 0)
        return crm_call_fail_db(call, rc);
    if (svc->outbox) { /* the server's publisher's */
        Crm__Identity__V1__TeamEvent te = CRM__IDENTITY__V1__TEAM_EVENT__INIT;
        te.team = t;
        if (crm_call_emit(call, "team.created", &te.base) != 0)
            return -1;
    }
    /* refused only after writing: the call's changes must all be undone */
    if (!strncmp(req->name, "fail", 4))
        return crm_call_fail(call, C_PRECONDITION, "name", "team name %s is refused", req->name);
    return 0;
}

static int h_get_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    svc_t *svc = crm_call_ctx(call);
    const Crm__Identity__V1__GetTeamRequest *req = (const void *)in;
    void *found = NULL;
    int rc = crm_db_get_id(crm_call_txn(call), svc->teams, (uint64_t)req->id,
                           &crm__identity__v1__team__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), &found);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, C_NOT_FOUND, "id", "no team %lld", (long long)req->id);
    if (rc)
        return crm_call_fail_db(call, rc);
    *(Crm__Identity__V1__Team *)out = *(Crm__Identity__V1__Team *)found;
    return 0;
}

/* UpdateTeam as a call of parts, each in a transaction nested in the
 * call's (crm_call_nested, as ImportRecords runs its rows): part m of
 * member_ids writes a team named "<name>-<m>" and fails after writing when
 * m is odd; leader_id 1 undoes even the parts that succeed (a dry run).
 * The reply's name says what happened: "ok N failed M code:field". */
typedef struct {
    svc_t *svc;
    const char *name;
    int64_t part;
} part_t;

static int write_part(crm_call_t *call, void *arg)
{
    part_t *p = arg;
    uint64_t id;
    MDB_txn *txn = crm_call_txn(call);
    int rc = crm_store_next_id(crm_call_store(call), txn, "team", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Identity__V1__Team t = CRM__IDENTITY__V1__TEAM__INIT;
    t.id = (int64_t)id;
    t.name = crm_arena_printf(crm_call_arena(call), "%s-%lld", p->name, (long long)p->part);
    if ((rc = crm_db_put_id(txn, p->svc->teams, id, &t.base)) != 0)
        return crm_call_fail_db(call, rc);
    if (p->part % 2)
        return crm_call_fail(call, C_PRECONDITION, "memberIds", "part %lld is odd", (long long)p->part);
    return 0;
}

static int h_update_team_in_parts(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    svc_t *svc = crm_call_ctx(call);
    const Crm__Identity__V1__UpdateTeamRequest *req = (const void *)in;
    svc->runs_create++;
    int ok = 0, failed = 0;
    crm_status_t first = {0}, err;
    for (size_t i = 0; i < req->n_member_ids; i++) {
        part_t p = {svc, req->name, req->member_ids[i]};
        int rc = crm_call_nested(call, write_part, &p, req->leader_id != 1, &err);
        if (rc < 0)
            return -1;
        if (rc > 0 && !failed++)
            first = err;
        ok += rc == 0;
    }
    Crm__Identity__V1__Team *t = (void *)out;
    t->name = crm_arena_printf(crm_call_arena(call), "ok %d failed %d %s:%s", ok, failed,
                               failed ? crm_code_name(first.code) : "", first.field);
    return 0;
}

/* Validates like a real handler would, through crm_call_fail_status. */
static int h_update_user(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__UpdateUserRequest *req = (const void *)in;
    crm_status_t st;
    if (crm_check_text(&st, "name", req->name, 1, 10) != 0)
        return crm_call_fail_status(call, &st);
    Crm__Identity__V1__User *u = (void *)out;
    u->id = req->id;
    u->name = crm_arena_strdup(crm_call_arena(call), req->name);
    return 0;
}

/* A handler for each method of crm.identity.v1.Identity, by name, in any
 * order: the ones these tests call first. */
static const crm_method_t identity_methods[] = {
    {"CreateTeam", h_create_team, CRM_METHOD_WRITE},
    {"GetTeam", h_get_team, 0},
    {"GetUser", h_get_user, 0},
    {"UpdateUser", h_update_user, CRM_METHOD_WRITE},
    {"Login", h_login, CRM_METHOD_PUBLIC},
    {"Logout", h_logout, 0},
    {"WhoAmI", h_whoami, 0},
    {"CreateUser", h_unimplemented, CRM_METHOD_WRITE},
    {"ListUsers", h_unimplemented, 0},
    {"SetPassword", h_unimplemented, CRM_METHOD_WRITE | CRM_METHOD_PUBLIC},
    {"ChangePassword", h_unimplemented, CRM_METHOD_WRITE},
    {"UpdateTeam", h_update_team_in_parts, CRM_METHOD_WRITE},
    {"ListTeams", h_unimplemented, 0},
};
static const crm_rpc_api_t identity_api = CRM_RPC_API(crm__identity__v1__identity__descriptor, identity_methods);

/* --- fixture -------------------------------------------------------------- */

/* Set while teardown destroys the clients: calls still pending then (after
 * a failed test) are answered into results that no longer exist. */
static int tearing_down;

typedef struct {
    uint64_t id;
    crm_status_t st;
    size_t body_len;
    uint8_t body[4096];
} raw_reply_t;

typedef struct {
    char dir[64];
    struct ev_loop *loop;
    void *zctx;
    int n_ep;
    size_t map_size;

    crm_store_t *store;
    MDB_dbi teams, outbox_dbi;
    svc_t svc;
    crm_rpc_server_t *server;
    crm_rpc_client_t *client;
    char endpoint[128];

    /* read-your-writes: a second store fed by a consumer */
    crm_store_t *store_b;
    MDB_dbi teams_b;
    svc_t svc_b;
    crm_rpc_server_t *server_b;
    crm_rpc_client_t *client_b;
    crm_outbox_t *outbox;
    crm_publisher_t *publisher;
    crm_consumer_t *consumer;
    char endpoint_b[128];

    crm_rpc_client_t *extra_client;

    /* a bare DEALER (or a black-hole ROUTER) for exact envelopes */
    void *raw;
    crm_zwatch_t *raw_watch;
    raw_reply_t raw_replies[8];
    int n_raw;
} fixture_t;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void make_endpoint(fixture_t *f, char *out, size_t cap, const char *transport)
{
    f->n_ep++;
    if (!strcmp(transport, "ipc"))
        snprintf(out, cap, "ipc://%s/ep%d.sock", f->dir, f->n_ep);
    else
        snprintf(out, cap, "inproc://crm-test-rpc-%d-%d", (int)getpid(), f->n_ep);
}

static crm_store_t *open_store(fixture_t *f, const char *sub, MDB_dbi *teams, MDB_dbi *outbox)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, sub);
    crm_store_dbi_t dbis[] = {{"teams", 0, teams}, {"outbox", 0, outbox}};
    const char *err;
    crm_store_t *s = crm_store_open(path, dbis, 2, 1, f->map_size, &err);
    if (!s)
        fail_msg("store %s: %s", path, err);
    return s;
}

static int setup_with_map(void **state, size_t map_size)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/crm-test-rpc-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->map_size = map_size;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->zctx = zmq_ctx_new();
    f->store = open_store(f, "a", &f->teams, &f->outbox_dbi);
    f->svc.teams = f->teams;
    tearing_down = 0;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_with_map(state, 0); }
static int setup_small_map(void **state) { return setup_with_map(state, 64 << 10); }

static int teardown(void **state)
{
    fixture_t *f = *state;
    tearing_down = 1;
    crm_rpc_client_destroy(&f->client);
    crm_rpc_client_destroy(&f->client_b);
    crm_rpc_client_destroy(&f->extra_client);
    crm_rpc_server_destroy(&f->server);
    crm_rpc_server_destroy(&f->server_b);
    crm_consumer_destroy(&f->consumer);
    crm_publisher_destroy(&f->publisher);
    crm_zwatch_destroy(&f->raw_watch);
    if (f->raw)
        zmq_close(f->raw);
    crm_outbox_destroy(&f->outbox);
    crm_store_close(&f->store);
    crm_store_close(&f->store_b);
    zmq_ctx_term(f->zctx);
    ev_loop_destroy(f->loop);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static crm_rpc_server_t *start_server(fixture_t *f, crm_store_t *store, const char *endpoint, svc_t *svc)
{
    crm_rpc_server_t *s = crm_rpc_server_new(f->loop, f->zctx, "test", endpoint, store, 4 << 20);
    assert_non_null(s);
    assert_int_equal(crm_rpc_server_add(s, &identity_api, svc), 0);
    return s;
}

/* --- running the loop ----------------------------------------------------- */

typedef loop_pred_fn pred_fn;

static int run_until(fixture_t *f, pred_fn *pred, void *arg, double seconds)
{
    return loop_until(f->loop, pred, arg, seconds);
}

static void run_for(fixture_t *f, double seconds) { run_until(f, NULL, NULL, seconds); }

/* --- calls through crm_rpc_client ------------------------------------------ */

typedef struct {
    int done;
    double sent_at, at;
    crm_status_t st;
    int has_reply;
    uint64_t reply_id;
    size_t body_len;
    uint8_t body[4096];
    size_t n_marks;
    char mark_producer[32];
    uint64_t mark_seq;
} result_t;

static void on_done(void *arg, const crm_status_t *st, const Crm__Rpc__V1__RpcReply *reply)
{
    result_t *r = arg;
    if (tearing_down)
        return;
    r->done++;
    r->at = crm_time_mono_us() / 1e6;
    r->st = *st;
    r->has_reply = reply != NULL;
    if (reply) {
        r->reply_id = reply->id;
        r->body_len = reply->body.len < sizeof r->body ? reply->body.len : sizeof r->body;
        if (r->body_len)
            memcpy(r->body, reply->body.data, r->body_len);
        r->n_marks = reply->n_marks;
        if (reply->n_marks) {
            snprintf(r->mark_producer, sizeof r->mark_producer, "%s", reply->marks[0]->producer);
            r->mark_seq = reply->marks[0]->seq;
        }
    }
}

typedef struct {
    const Crm__Rpc__V1__Principal *principal;
    const char *idem;
    double timeout;               /* seconds; 0 = 5 s */
    Crm__Rpc__V1__SeqMark **marks;
    size_t n_marks;
} opts_t;

static int call_bytes(crm_rpc_client_t *c, const char *method, const void *body, size_t len,
                      const opts_t *o, result_t *r, crm_status_t *st)
{
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.method = (char *)method;
    req.principal = o ? (Crm__Rpc__V1__Principal *)o->principal : NULL;
    req.idempotency_key = o && o->idem ? (char *)o->idem : "";
    double timeout = o && o->timeout ? o->timeout : 5.0;
    req.deadline = crm_time_now_us() + (int64_t)(timeout * 1e6);
    req.body.data = (uint8_t *)body;
    req.body.len = len;
    if (o && o->n_marks) {
        req.marks = o->marks;
        req.n_marks = o->n_marks;
    }
    memset(r, 0, sizeof *r);
    r->sent_at = crm_time_mono_us() / 1e6;
    crm_status_t local;
    return crm_rpc_client_call(c, &req, on_done, r, st ? st : &local);
}

static int call_msg(crm_rpc_client_t *c, const char *method, const ProtobufCMessage *m, const opts_t *o,
                    result_t *r)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    protobuf_c_message_pack(m, buf);
    int rc = call_bytes(c, method, buf, len, o, r, NULL);
    free(buf);
    return rc;
}

/* As call_msg, for a call that must be accepted. */
static void send_msg(crm_rpc_client_t *c, const char *method, const ProtobufCMessage *m, const opts_t *o,
                     result_t *r)
{
    assert_int_equal(call_msg(c, method, m, o, r), 0);
}

static void wait_all(fixture_t *f, result_t *r, int n)
{
    if (!loop_until_all_done(f->loop, r, n, 5.0))
        fail_msg("calls not answered in time");
    for (int i = 0; i < n; i++)
        assert_int_equal(r[i].done, 1);
}

static void expect_status(const result_t *r, Crm__Rpc__V1__Code code, const char *field)
{
    if (r->st.code != code)
        fail_msg("got %s (%s), expected %s", crm_code_name(r->st.code), r->st.message, crm_code_name(code));
    if (field)
        assert_string_equal(r->st.field, field);
}

static void *decode(const result_t *r, const ProtobufCMessageDescriptor *desc)
{
    assert_true(r->has_reply);
    void *m = protobuf_c_message_unpack(desc, NULL, r->body_len, r->body);
    assert_non_null(m);
    return m;
}

/* Health checks until the client's connection is up (ZMQ_IMMEDIATE makes
 * calls fail until then). */
static void wait_connected(fixture_t *f, crm_rpc_client_t *c)
{
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    result_t r;
    for (int i = 0; i < 300; i++) {
        opts_t o = {NULL, NULL, 2.0, NULL, 0};
        if (call_msg(c, "crm.health.v1.Health/Check", &hc.base, &o, &r) == 0) {
            wait_all(f, &r, 1);
            expect_status(&r, C_OK, NULL);
            return;
        }
        run_for(f, 0.01);
    }
    fail_msg("client never connected");
}

static const Crm__Rpc__V1__Principal *alice(void)
{
    static Crm__Rpc__V1__Principal p = CRM__RPC__V1__PRINCIPAL__INIT;
    p.user_id = 7;
    p.login = "alice";
    return &p;
}

static const Crm__Rpc__V1__Principal *bob(void)
{
    static Crm__Rpc__V1__Principal p = CRM__RPC__V1__PRINCIPAL__INIT;
    p.user_id = 8;
    p.login = "bob";
    return &p;
}

/* Starts the server and a connected client over transport. */
static void start_pair(fixture_t *f, const char *transport)
{
    make_endpoint(f, f->endpoint, sizeof f->endpoint, transport);
    f->server = start_server(f, f->store, f->endpoint, &f->svc);
    f->client = crm_rpc_client_new(f->loop, f->zctx, "test", f->endpoint);
    assert_non_null(f->client);
    assert_string_equal(crm_rpc_client_name(f->client), "test");
    wait_connected(f, f->client);
}

static void team_request(Crm__Identity__V1__CreateTeamRequest *req, const char *name)
{
    crm__identity__v1__create_team_request__init(req);
    req->name = (char *)name;
}

/* The teams stored: count, and names by id (1-based) into names. */
static int stored_teams(fixture_t *f, crm_store_t *store, MDB_dbi dbi, char names[][32], int cap)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, d;
    int n = 0;
    assert_int_equal(crm_store_read_begin(store, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    while (mdb_cursor_get(cur, &k, &d, n ? MDB_NEXT : MDB_FIRST) == 0) {
        Crm__Identity__V1__Team *t = crm__identity__v1__team__unpack(NULL, d.mv_size, d.mv_data);
        assert_non_null(t);
        assert_true((uint64_t)t->id == crm_key_get_u64(k.mv_data));
        if (n < cap)
            snprintf(names[n], 32, "%s", t->name);
        crm__identity__v1__team__free_unpacked(t, NULL);
        n++;
    }
    mdb_cursor_close(cur);
    crm_store_read_end(store, txn);
    return n;
}

/* --- raw envelopes through a bare DEALER ------------------------------------ */

static void raw_read(crm_zwatch_t *w, void *socket, void *arg)
{
    fixture_t *f = arg;
    crm_frames_t fr;
    while (crm_frames_recv(socket, &fr) == 0) {
        assert_int_equal(fr.count, 1);
        Crm__Rpc__V1__RpcReply *r =
            crm__rpc__v1__rpc_reply__unpack(NULL, crm_frame_size(&fr, 0), crm_frame_data(&fr, 0));
        assert_non_null(r);
        crm_frames_close(&fr);
        if (f->n_raw < 8) {
            raw_reply_t *rr = &f->raw_replies[f->n_raw++];
            rr->id = r->id;
            crm_status_from_pb(&rr->st, r->status);
            rr->body_len = r->body.len < sizeof rr->body ? r->body.len : sizeof rr->body;
            if (rr->body_len)
                memcpy(rr->body, r->body.data, rr->body_len);
        }
        crm__rpc__v1__rpc_reply__free_unpacked(r, NULL);
    }
}

static void raw_connect(fixture_t *f, const char *endpoint)
{
    f->raw = zmq_socket(f->zctx, ZMQ_DEALER);
    assert_non_null(f->raw);
    assert_int_equal(crm_zsock_setup(f->raw, 0), 0);
    assert_int_equal(zmq_connect(f->raw, endpoint), 0);
    f->raw_watch = crm_zwatch_new(f->loop, f->raw, raw_read, f);
    assert_non_null(f->raw_watch);
}

static void raw_send_bytes(fixture_t *f, const void *data, size_t len)
{
    assert_int_equal(zmq_send(f->raw, data, len, ZMQ_DONTWAIT), (int)len);
}

static void raw_send(fixture_t *f, Crm__Rpc__V1__RpcRequest *req, const ProtobufCMessage *body)
{
    uint8_t b[4096], e[8192];
    req->body.len = protobuf_c_message_pack(body, b);
    req->body.data = b;
    size_t len = crm__rpc__v1__rpc_request__pack(req, e);
    raw_send_bytes(f, e, len);
}

static int raw_count_is(void *arg)
{
    fixture_t *f = ((void **)arg)[0];
    int n = *(int *)((void **)arg)[1];
    return f->n_raw >= n;
}

static void raw_wait(fixture_t *f, int n, double seconds)
{
    void *arg[2] = {f, &n};
    if (!run_until(f, raw_count_is, arg, seconds))
        fail_msg("%d raw replies of %d in time", f->n_raw, n);
}

/* --- dispatch ---------------------------------------------------------------- */

static void test_dispatch_by_full_name(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    result_t r[4];

    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 5;
    send_msg(f->client, IDENTITY "GetUser", &gu.base, &as_alice, &r[0]);
    Crm__Identity__V1__WhoAmIRequest who = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    send_msg(f->client, IDENTITY "WhoAmI", &who.base, &as_alice, &r[1]);
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    send_msg(f->client, "crm.health.v1.Health/Check", &hc.base, NULL, &r[2]);
    Crm__Identity__V1__LoginRequest li = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    li.login = "carol";
    send_msg(f->client, IDENTITY "Login", &li.base, NULL, &r[3]);
    assert_int_equal(crm_rpc_client_in_flight(f->client), 4);
    wait_all(f, r, 4);
    assert_int_equal(crm_rpc_client_in_flight(f->client), 0);

    expect_status(&r[0], C_OK, NULL);
    Crm__Identity__V1__User *u = decode(&r[0], &crm__identity__v1__user__descriptor);
    assert_true(u->id == 5);
    assert_string_equal(u->name, "user-5");
    crm__identity__v1__user__free_unpacked(u, NULL);

    expect_status(&r[1], C_OK, NULL);
    u = decode(&r[1], &crm__identity__v1__user__descriptor);
    assert_true(u->id == 7);
    assert_string_equal(u->login, "alice");
    crm__identity__v1__user__free_unpacked(u, NULL);

    expect_status(&r[2], C_OK, NULL);
    Crm__Health__V1__CheckReply *h = decode(&r[2], &crm__health__v1__check_reply__descriptor);
    assert_string_equal(h->status, "SERVING");
    assert_string_equal(h->service, "test");
    crm__health__v1__check_reply__free_unpacked(h, NULL);

    /* a public method needs no principal */
    expect_status(&r[3], C_OK, NULL);
    Crm__Identity__V1__LoginReply *lr = decode(&r[3], &crm__identity__v1__login_reply__descriptor);
    assert_string_equal(lr->token, "tok-carol");
    assert_true(lr->expires_at == 0);
    crm__identity__v1__login_reply__free_unpacked(lr, NULL);

    /* every reply carried its own call's id */
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            assert_true(r[i].reply_id != r[j].reply_id);
}

/* A log that is not an outbox (notifications' stream) is flushed after each
 * committed batch, and Health reports its head as produced. */
typedef struct {
    int flushes;
    uint64_t head;
} stream_probe_t;

static void probe_flush(void *arg) { ((stream_probe_t *)arg)->flushes++; }
static uint64_t probe_head(void *arg) { return ((stream_probe_t *)arg)->head; }

static void test_stream_flushed_after_commit(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    stream_probe_t probe = {0, 42};
    crm_rpc_server_set_stream(f->server, &(crm_rpc_stream_t){"stream", probe_flush, probe_head, &probe});
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    result_t r[2];
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 5;
    send_msg(f->client, IDENTITY "GetUser", &gu.base, &as_alice, &r[0]);
    wait_all(f, r, 1);
    assert_int_equal(probe.flushes, 0); /* a read commits nothing */
    Crm__Identity__V1__CreateTeamRequest ct = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    ct.name = "Direct";
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &as_alice, &r[0]);
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    wait_all(f, r, 1);
    expect_status(&r[0], C_OK, NULL);
    assert_int_equal(probe.flushes, 1);
    send_msg(f->client, "crm.health.v1.Health/Check", &hc.base, NULL, &r[1]);
    wait_all(f, r + 1, 1);
    Crm__Health__V1__CheckReply *h = decode(&r[1], &crm__health__v1__check_reply__descriptor);
    assert_int_equal(h->n_produced, 1);
    assert_string_equal(h->produced[0]->producer, "stream");
    assert_true(h->produced[0]->seq == 42);
    crm__health__v1__check_reply__free_unpacked(h, NULL);
}

static void test_bad_route(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    static const char *methods[] = {
        IDENTITY "Nope",
        "crm.identity.v1.Identity",
        "crm.identity.v1.IdentityInternal/Authenticate",
        "crm.nothere.v1.X/Y",
        "garbage",
        "",
        "/GetUser",
        "crm.identity.v1.identity/GetUser",
        IDENTITY "getUser",
    };
    enum { N = sizeof methods / sizeof methods[0] };
    result_t r[N];
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 1;
    for (int i = 0; i < N; i++)
        send_msg(f->client, methods[i], &gu.base, &as_alice, &r[i]);
    wait_all(f, r, N);
    for (int i = 0; i < N; i++) {
        if (r[i].st.code != C_BAD_ROUTE)
            fail_msg("\"%s\": %s, not bad_route", methods[i], crm_code_name(r[i].st.code));
        assert_string_equal(r[i].st.field, "method");
        assert_true(r[i].st.message[0] != '\0');
        assert_int_equal(r[i].body_len, 0);
    }
}

static void test_malformed_body_and_envelope(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    result_t r[2];
    /* field 1 as a 64-byte string with 1 byte present; a lone varint start */
    static const uint8_t bad1[] = {0x0a, 0x40, 0x01}, bad2[] = {0x08};
    assert_int_equal(call_bytes(f->client, IDENTITY "GetUser", bad1, sizeof bad1, &as_alice, &r[0], NULL), 0);
    assert_int_equal(call_bytes(f->client, IDENTITY "CreateTeam", bad2, sizeof bad2, &as_alice, &r[1], NULL), 0);
    wait_all(f, r, 2);
    expect_status(&r[0], C_MALFORMED, NULL);
    expect_status(&r[1], C_MALFORMED, NULL);
    assert_int_equal(f->svc.runs_create, 0);

    /* an envelope that is no RpcRequest is answered under id 0 */
    raw_connect(f, f->endpoint);
    raw_send_bytes(f, "\xff\xff\xff\xff", 4);
    raw_wait(f, 1, 3.0);
    assert_true(f->raw_replies[0].id == 0);
    assert_int_equal(f->raw_replies[0].st.code, C_MALFORMED);
}

static void test_principal_required(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    result_t r[3];
    Crm__Identity__V1__WhoAmIRequest who = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    send_msg(f->client, IDENTITY "WhoAmI", &who.base, NULL, &r[0]);
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, "anonymous");
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, NULL, &r[1]);
    /* a public method still runs, and sees the principal when there is one */
    Crm__Identity__V1__LoginRequest li = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    li.login = "x";
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    send_msg(f->client, IDENTITY "Login", &li.base, &as_alice, &r[2]);
    wait_all(f, r, 3);
    expect_status(&r[0], C_UNAUTH, NULL);
    expect_status(&r[1], C_UNAUTH, NULL);
    assert_int_equal(f->svc.runs_create, 0);
    expect_status(&r[2], C_OK, NULL);
    Crm__Identity__V1__LoginReply *lr = decode(&r[2], &crm__identity__v1__login_reply__descriptor);
    assert_true(lr->expires_at == 1);
    crm__identity__v1__login_reply__free_unpacked(lr, NULL);
}

static void test_handler_errors_reach_client(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    result_t r[5];
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 404;
    send_msg(f->client, IDENTITY "GetUser", &gu.base, &as_alice, &r[0]);
    Crm__Identity__V1__GetUserRequest neg = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    neg.id = -1;
    send_msg(f->client, IDENTITY "GetUser", &neg.base, &as_alice, &r[1]);
    Crm__Identity__V1__LogoutRequest lo = CRM__IDENTITY__V1__LOGOUT_REQUEST__INIT;
    send_msg(f->client, IDENTITY "Logout", &lo.base, &as_alice, &r[2]);
    Crm__Identity__V1__ListTeamsRequest lt = CRM__IDENTITY__V1__LIST_TEAMS_REQUEST__INIT;
    send_msg(f->client, IDENTITY "ListTeams", &lt.base, &as_alice, &r[3]);
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, "fail-now");
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &as_alice, &r[4]);
    wait_all(f, r, 5);

    expect_status(&r[0], C_NOT_FOUND, "id");
    assert_string_equal(r[0].st.message, "no user 404");
    assert_int_equal(r[0].body_len, 0);
    expect_status(&r[1], C_INVALID, "id");
    assert_string_equal(r[1].st.message, "id must be positive");
    /* a handler failing without a reason is an internal error */
    expect_status(&r[2], C_INTERNAL, "");
    expect_status(&r[3], C_UNIMPLEMENTED, "");
    assert_non_null(strstr(r[3].st.message, "ListTeams"));
    expect_status(&r[4], C_PRECONDITION, "name");
    assert_string_equal(r[4].st.message, "team name fail-now is refused");
    char names[4][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, names, 4), 0);

    /* a validator's status passed on whole */
    result_t v[2];
    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = 3;
    uu.name = "";
    send_msg(f->client, IDENTITY "UpdateUser", &uu.base, &as_alice, &v[0]);
    Crm__Identity__V1__UpdateUserRequest ok = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    ok.id = 3;
    ok.name = "Zo\xc3\xab";
    send_msg(f->client, IDENTITY "UpdateUser", &ok.base, &as_alice, &v[1]);
    wait_all(f, v, 2);
    expect_status(&v[0], C_INVALID, "name");
    assert_string_equal(v[0].st.message, "name is required");
    expect_status(&v[1], C_OK, NULL);
    Crm__Identity__V1__User *u = decode(&v[1], &crm__identity__v1__user__descriptor);
    assert_string_equal(u->name, "Zo\xc3\xab");
    crm__identity__v1__user__free_unpacked(u, NULL);
}

/* --- group commit -------------------------------------------------------------- */

static void test_group_commit_undoes_only_the_failed_call(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    static const char *names[] = {"a", "fail-1", "b", "fail-2", "c"};
    result_t r[5];
    Crm__Identity__V1__CreateTeamRequest ct[5];
    /* all sent before the loop runs: the server reads them as one batch */
    for (int i = 0; i < 5; i++) {
        team_request(&ct[i], names[i]);
        send_msg(f->client, IDENTITY "CreateTeam", &ct[i].base, &as_alice, &r[i]);
    }
    wait_all(f, r, 5);

    /* one batch: one clock reading, one write transaction */
    assert_int_equal(f->svc.runs_create, 5);
    assert_int_equal(f->svc.n_batch, 5);
    for (int i = 1; i < 5; i++) {
        assert_true(f->svc.batch_now[i] == f->svc.batch_now[0]);
        assert_true(f->svc.batch_txn[i] == f->svc.batch_txn[0]);
    }

    /* the good calls got ids 1, 2, 3: the failed calls' ids were undone too */
    static const char *good[] = {"a", "b", "c"};
    int k = 0;
    for (int i = 0; i < 5; i++) {
        if (names[i][0] == 'f') {
            expect_status(&r[i], C_PRECONDITION, "name");
            continue;
        }
        expect_status(&r[i], C_OK, NULL);
        Crm__Identity__V1__Team *t = decode(&r[i], &crm__identity__v1__team__descriptor);
        assert_true(t->id == k + 1);
        assert_string_equal(t->name, good[k]);
        assert_true(t->created_at == f->svc.batch_now[0]);
        crm__identity__v1__team__free_unpacked(t, NULL);
        k++;
    }
    char stored[8][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 8), 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(stored[i], good[i]);
    MDB_txn *txn;
    uint64_t next;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(crm_store_meta_get_u64(f->store, txn, "next.team", &next), 0);
    crm_store_read_end(f->store, txn);
    assert_true(next == 3);

    /* the answers are readable by the next batch */
    result_t g;
    Crm__Identity__V1__GetTeamRequest gt = CRM__IDENTITY__V1__GET_TEAM_REQUEST__INIT;
    gt.id = 2;
    send_msg(f->client, IDENTITY "GetTeam", &gt.base, &as_alice, &g);
    wait_all(f, &g, 1);
    expect_status(&g, C_OK, NULL);
    Crm__Identity__V1__Team *t = decode(&g, &crm__identity__v1__team__descriptor);
    assert_string_equal(t->name, "b");
    crm__identity__v1__team__free_unpacked(t, NULL);
}

static void test_group_commit_survives_a_full_map(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    size_t before = crm_store_map_size(f->store);
    /* one batch of records that together outgrow the whole map (each
     * within CreateTeam's limit of the limits table): the batch is retried
     * after growth */
    enum { BIG = 12 };
    static char name[60 << 10];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char keys[BIG][16];
    opts_t as_alice[BIG];
    result_t r[BIG + 1];
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, name);
    for (int i = 0; i < BIG; i++) {
        snprintf(keys[i], sizeof keys[i], "big-%d", i);
        as_alice[i] = (opts_t){alice(), keys[i], 0, NULL, 0};
        send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &as_alice[i], &r[i]);
    }
    Crm__Identity__V1__CreateTeamRequest small;
    team_request(&small, "small");
    opts_t plain = {alice(), NULL, 0, NULL, 0};
    send_msg(f->client, IDENTITY "CreateTeam", &small.base, &plain, &r[BIG]);
    wait_all(f, r, BIG + 1);
    for (int i = 0; i <= BIG; i++)
        expect_status(&r[i], C_OK, NULL);
    assert_true(crm_store_map_size(f->store) > before);
    assert_true(f->svc.runs_create > BIG + 1); /* the full attempt ran, then all again */
    char stored[BIG + 1][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, BIG + 1), BIG + 1);
    Crm__Identity__V1__Team *t = decode(&r[BIG], &crm__identity__v1__team__descriptor);
    assert_true(t->id == BIG + 1); /* no id lost to the aborted attempt */
    crm__identity__v1__team__free_unpacked(t, NULL);
}

/* --- parts of a call in nested transactions ------------------------------------------ */

static void update_in_parts(fixture_t *f, const char *name, int64_t *parts, size_t n, int64_t dry, const char *want)
{
    Crm__Identity__V1__UpdateTeamRequest req = CRM__IDENTITY__V1__UPDATE_TEAM_REQUEST__INIT;
    req.name = (char *)name;
    req.member_ids = parts;
    req.n_member_ids = n;
    req.leader_id = dry;
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};
    result_t r;
    send_msg(f->client, IDENTITY "UpdateTeam", &req.base, &as_alice, &r);
    wait_all(f, &r, 1);
    expect_status(&r, C_OK, NULL);
    Crm__Identity__V1__Team *t = decode(&r, &crm__identity__v1__team__descriptor);
    assert_string_equal(t->name, want);
    crm__identity__v1__team__free_unpacked(t, NULL);
}

/* A failed part is undone, ids included, its error handed over and the
 * call's cleared; the parts that succeed stay; kept 0 undoes them too. */
static void test_nested_parts(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    int64_t parts[] = {1, 2, 3, 4};
    update_in_parts(f, "dry", parts, 4, 1, "ok 2 failed 2 failed_precondition:memberIds");
    char stored[8][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 8), 0);
    update_in_parts(f, "part", parts, 4, 0, "ok 2 failed 2 failed_precondition:memberIds");
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 8), 2);
    assert_string_equal(stored[0], "part-2");
    assert_string_equal(stored[1], "part-4");
    MDB_txn *txn;
    uint64_t next;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(crm_store_meta_get_u64(f->store, txn, "next.team", &next), 0);
    crm_store_read_end(f->store, txn);
    assert_true(next == 2); /* the odd parts' ids went with them */
}

/* A part that fills the map fails the whole call, never as a part's own
 * error: the batch runs again once the map has grown, every part kept. */
static void test_nested_part_fills_the_map(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    size_t before = crm_store_map_size(f->store);
    static char name[60 << 10];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    int64_t parts[] = {2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24};
    update_in_parts(f, name, parts, 12, 0, "ok 12 failed 0 :");
    assert_true(crm_store_map_size(f->store) > before);
    assert_true(f->svc.runs_create > 1);
    char stored[16][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 16), 12);
}

/* --- idempotency ---------------------------------------------------------------- */

static void test_idempotency(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    opts_t k1 = {alice(), "key-1", 0, NULL, 0};
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, "idem");
    result_t a, b;
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &k1, &a);
    wait_all(f, &a, 1);
    expect_status(&a, C_OK, NULL);
    assert_int_equal(f->svc.runs_create, 1);
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &k1, &b);
    wait_all(f, &b, 1);
    expect_status(&b, C_OK, NULL);
    assert_int_equal(f->svc.runs_create, 1); /* not run again */
    assert_int_equal(a.body_len, b.body_len);
    assert_memory_equal(a.body, b.body, a.body_len);

    /* twice in one batch: runs once, both replies equal */
    opts_t k2 = {alice(), "key-2", 0, NULL, 0};
    Crm__Identity__V1__CreateTeamRequest ct2;
    team_request(&ct2, "idem-2");
    result_t c[2];
    send_msg(f->client, IDENTITY "CreateTeam", &ct2.base, &k2, &c[0]);
    send_msg(f->client, IDENTITY "CreateTeam", &ct2.base, &k2, &c[1]);
    wait_all(f, c, 2);
    expect_status(&c[0], C_OK, NULL);
    expect_status(&c[1], C_OK, NULL);
    assert_int_equal(f->svc.runs_create, 2);
    assert_int_equal(c[0].body_len, c[1].body_len);
    assert_memory_equal(c[0].body, c[1].body, c[0].body_len);

    /* the same key with a different body is refused */
    Crm__Identity__V1__CreateTeamRequest other;
    team_request(&other, "something else");
    result_t d;
    send_msg(f->client, IDENTITY "CreateTeam", &other.base, &k1, &d);
    wait_all(f, &d, 1);
    expect_status(&d, C_INVALID, "idempotencyKey");
    assert_int_equal(f->svc.runs_create, 2);

    /* keys belong to their user: bob's key-1 is his own */
    opts_t bob_k1 = {bob(), "key-1", 0, NULL, 0};
    result_t e;
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &bob_k1, &e);
    wait_all(f, &e, 1);
    expect_status(&e, C_OK, NULL);
    assert_int_equal(f->svc.runs_create, 3);
    assert_false(e.body_len == a.body_len && !memcmp(e.body, a.body, a.body_len));

    char stored[8][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 8), 3);

    /* an over-long key is refused */
    char longkey[200];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    opts_t kl = {alice(), longkey, 0, NULL, 0};
    result_t g;
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &kl, &g);
    wait_all(f, &g, 1);
    expect_status(&g, C_INVALID, "idempotencyKey");
    assert_int_equal(f->svc.runs_create, 3);
}

/* --- deadlines -------------------------------------------------------------------- */

static void test_deadline_in_the_past(void **state)
{
    fixture_t *f = *state;
    start_pair(f, "inproc");
    raw_connect(f, f->endpoint);
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, "late");
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.id = 41;
    req.method = IDENTITY "CreateTeam";
    req.principal = (Crm__Rpc__V1__Principal *)alice();
    req.deadline = crm_time_now_us() - 1000000;
    raw_send(f, &req, &ct.base);
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 3;
    Crm__Rpc__V1__RpcRequest req2 = CRM__RPC__V1__RPC_REQUEST__INIT;
    req2.id = 42;
    req2.method = IDENTITY "GetUser";
    req2.principal = (Crm__Rpc__V1__Principal *)alice();
    req2.deadline = crm_time_now_us() - 1;
    raw_send(f, &req2, &gu.base);
    /* no deadline at all is fine */
    Crm__Rpc__V1__RpcRequest req3 = req2;
    req3.id = 43;
    req3.deadline = 0;
    raw_send(f, &req3, &gu.base);
    raw_wait(f, 3, 3.0);
    for (int i = 0; i < 3; i++) {
        raw_reply_t *rr = &f->raw_replies[i];
        if (rr->id == 43)
            assert_int_equal(rr->st.code, C_OK);
        else
            assert_int_equal(rr->st.code, C_DEADLINE);
    }
    assert_int_equal(f->svc.runs_create, 0);
    char stored[2][32];
    assert_int_equal(stored_teams(f, f->store, f->teams, stored, 2), 0);
}

/* A client of a peer that accepts connections and never answers. */
static void silent_peer_and_client(fixture_t *f)
{
    make_endpoint(f, f->endpoint, sizeof f->endpoint, "ipc");
    f->raw = zmq_socket(f->zctx, ZMQ_ROUTER);
    assert_int_equal(crm_zsock_setup(f->raw, 0), 0);
    assert_int_equal(zmq_bind(f->raw, f->endpoint), 0);
    f->client = crm_rpc_client_new(f->loop, f->zctx, "test", f->endpoint);
    assert_non_null(f->client);
}

static void test_client_deadline_without_answer(void **state)
{
    fixture_t *f = *state;
    silent_peer_and_client(f);

    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    opts_t o = {alice(), NULL, 0.3, NULL, 0};
    result_t r;
    int accepted = 0;
    for (int i = 0; i < 300 && !accepted; i++) {
        accepted = call_msg(f->client, IDENTITY "GetUser", &gu.base, &o, &r) == 0;
        if (!accepted)
            run_for(f, 0.01);
    }
    assert_true(accepted);
    assert_int_equal(crm_rpc_client_in_flight(f->client), 1);
    wait_all(f, &r, 1);
    expect_status(&r, C_UNAVAILABLE, NULL);
    assert_false(r.has_reply);
    double waited = r.at - r.sent_at;
    if (waited < 0.28 || waited > 1.0)
        fail_msg("the local deadline fired after %.3f s, not 0.3", waited);
    assert_int_equal(crm_rpc_client_in_flight(f->client), 0);
    /* it is called once only */
    run_for(f, 0.1);
    assert_int_equal(r.done, 1);
}

static void test_client_deadline_counts_from_the_call(void **state)
{
    fixture_t *f = *state;
    silent_peer_and_client(f);
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    opts_t o = {alice(), NULL, 0.05, NULL, 0};
    result_t r;
    int accepted = 0;
    for (int i = 0; i < 300 && !accepted; i++) {
        accepted = call_msg(f->client, IDENTITY "GetUser", &gu.base, &o, &r) == 0;
        run_for(f, 0.01);
    }
    assert_true(accepted);
    wait_all(f, &r, 1);

    /* The loop was busy for a while (a long batch, a slow fsync) before
     * the call is made in the same turn: the call still gets its full
     * 400 ms, not 400 ms minus the time the loop's clock lags behind. */
    usleep(300 * 1000);
    opts_t o2 = {alice(), NULL, 0.4, NULL, 0};
    assert_int_equal(call_msg(f->client, IDENTITY "GetUser", &gu.base, &o2, &r), 0);
    wait_all(f, &r, 1);
    expect_status(&r, C_UNAVAILABLE, NULL);
    double waited = r.at - r.sent_at;
    if (waited < 0.38)
        fail_msg("the call timed out after %.3f s, before its 0.4 s deadline", waited);
}

static void test_client_destroy_answers_pending_calls(void **state)
{
    fixture_t *f = *state;
    silent_peer_and_client(f);
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    opts_t o = {alice(), NULL, 5.0, NULL, 0};
    result_t r[3];
    int accepted = 0;
    for (int i = 0; i < 300 && !accepted; i++) {
        accepted = call_msg(f->client, IDENTITY "GetUser", &gu.base, &o, &r[0]) == 0;
        if (!accepted)
            run_for(f, 0.01);
    }
    assert_true(accepted);
    send_msg(f->client, IDENTITY "GetUser", &gu.base, &o, &r[1]);
    send_msg(f->client, IDENTITY "GetUser", &gu.base, &o, &r[2]);
    run_for(f, 0.05);
    assert_int_equal(crm_rpc_client_in_flight(f->client), 3);
    crm_rpc_client_destroy(&f->client);
    assert_null(f->client);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].done, 1);
        expect_status(&r[i], C_UNAVAILABLE, NULL);
        assert_false(r[i].has_reply);
    }
    /* and their deadline timers are gone with them */
    run_for(f, 0.1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].done, 1);
}

/* --- availability ---------------------------------------------------------------- */

typedef struct {
    fixture_t *f;
    result_t r;
    int accepted;
} retry_t;

/* Tries a health check now and then until one is accepted and answered OK. */
static int health_ok(void *arg)
{
    retry_t *t = arg;
    if (t->accepted && t->r.done) {
        if (t->r.st.code == C_OK)
            return 1;
        t->accepted = 0; /* sent into a dying connection: try again */
    }
    if (!t->accepted) {
        Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
        opts_t o = {NULL, NULL, 0.5, NULL, 0};
        t->accepted = call_msg(t->f->client, "crm.health.v1.Health/Check", &hc.base, &o, &t->r) == 0;
    }
    return 0;
}

/* Tries calls until one is refused at once as unavailable. */
static int refused(void *arg)
{
    retry_t *t = arg;
    if (t->accepted && !t->r.done)
        return 0;
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    opts_t o = {NULL, NULL, 0.2, NULL, 0};
    crm_status_t st;
    uint8_t body[16];
    size_t len = protobuf_c_message_pack(&hc.base, body);
    if (call_bytes(t->f->client, "crm.health.v1.Health/Check", body, len, &o, &t->r, &st) == 0) {
        t->accepted = 1;
        return 0;
    }
    assert_int_equal(st.code, C_UNAVAILABLE);
    return 1;
}

static void test_unavailable_then_back(void **state)
{
    fixture_t *f = *state;
    make_endpoint(f, f->endpoint, sizeof f->endpoint, "ipc");
    f->client = crm_rpc_client_new(f->loop, f->zctx, "test", f->endpoint);
    assert_non_null(f->client);

    /* nobody bound: refused at once, the callback never called */
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    result_t r;
    crm_status_t st;
    uint8_t body[16];
    size_t len = protobuf_c_message_pack(&gu.base, body);
    opts_t o = {alice(), NULL, 1.0, NULL, 0};
    assert_int_equal(call_bytes(f->client, IDENTITY "GetUser", body, len, &o, &r, &st), -1);
    assert_int_equal(st.code, C_UNAVAILABLE);
    assert_non_null(strstr(st.message, "test"));
    assert_int_equal(crm_rpc_client_in_flight(f->client), 0);
    run_for(f, 0.05);
    assert_int_equal(r.done, 0);

    /* the server binds: calls go through */
    f->server = start_server(f, f->store, f->endpoint, &f->svc);
    retry_t t = {f, {0}, 0};
    assert_true(run_until(f, health_ok, &t, 3.0));

    /* it goes away: calls are refused again */
    crm_rpc_server_destroy(&f->server);
    memset(&t, 0, sizeof t);
    t.f = f;
    assert_true(run_until(f, refused, &t, 3.0));

    /* it comes back on the same endpoint: calls succeed again */
    f->server = start_server(f, f->store, f->endpoint, &f->svc);
    memset(&t, 0, sizeof t);
    t.f = f;
    assert_true(run_until(f, health_ok, &t, 4.0));
}

/* --- read-your-writes --------------------------------------------------------------- */

typedef struct {
    MDB_dbi teams;
    int applied;
} apply_ctx_t;

static apply_ctx_t apply_b;

/* The consumer's read model: the teams of team.created events. */
static int apply_team(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    apply_ctx_t *a = arg;
    if (strcmp(ev->type, "team.created") != 0)
        return 0;
    Crm__Identity__V1__TeamEvent *te =
        crm__identity__v1__team_event__unpack(NULL, ev->payload.len, ev->payload.data);
    if (!te)
        return MDB_CORRUPTED;
    int rc = crm_db_put_id(txn, a->teams, (uint64_t)te->team->id, &te->team->base);
    crm__identity__v1__team_event__free_unpacked(te, NULL);
    a->applied++;
    return rc;
}

/* Server A (store A) publishes team.created; server B (store B) holds calls
 * until its consumer of A has caught up. */
static void start_two_services(fixture_t *f)
{
    char pub_ep[128], replay_ep[128];
    make_endpoint(f, pub_ep, sizeof pub_ep, "inproc");
    make_endpoint(f, replay_ep, sizeof replay_ep, "inproc");
    f->outbox = crm_outbox_new(PRODUCER, f->outbox_dbi);
    f->publisher = crm_publisher_new(f->loop, f->zctx, f->store, f->outbox, pub_ep, replay_ep, 50);
    assert_non_null(f->publisher);
    f->svc.outbox = f->outbox;
    start_pair(f, "inproc");
    crm_rpc_server_set_publisher(f->server, f->publisher);

    MDB_dbi unused;
    f->store_b = open_store(f, "b", &f->teams_b, &unused);
    apply_b.teams = f->teams_b;
    apply_b.applied = 0;
    f->consumer = crm_consumer_new(f->loop, f->zctx, f->store_b, PRODUCER, pub_ep, replay_ep, apply_team,
                                   &apply_b);
    assert_non_null(f->consumer);
    f->svc_b.teams = f->teams_b;
    make_endpoint(f, f->endpoint_b, sizeof f->endpoint_b, "inproc");
    f->server_b = start_server(f, f->store_b, f->endpoint_b, &f->svc_b);
    crm_rpc_server_hold_for(f->server_b, f->consumer);
    f->client_b = crm_rpc_client_new(f->loop, f->zctx, "test-b", f->endpoint_b);
    assert_non_null(f->client_b);
    wait_connected(f, f->client_b);
    run_for(f, 0.1); /* the consumer's first replay */
}

static void test_read_your_writes_holds_until_applied(void **state)
{
    fixture_t *f = *state;
    start_two_services(f);
    assert_int_equal(crm_consumer_applied(f->consumer), 0);
    opts_t as_alice = {alice(), NULL, 0, NULL, 0};

    /* B is asked for team 1 as of A's event 1, which does not exist yet */
    Crm__Rpc__V1__SeqMark mark = CRM__RPC__V1__SEQ_MARK__INIT;
    mark.producer = PRODUCER;
    mark.seq = 1;
    Crm__Rpc__V1__SeqMark *marks[] = {&mark};
    opts_t ryw = {alice(), NULL, 5.0, marks, 1};
    Crm__Identity__V1__GetTeamRequest gt = CRM__IDENTITY__V1__GET_TEAM_REQUEST__INIT;
    gt.id = 1;
    result_t get;
    send_msg(f->client_b, IDENTITY "GetTeam", &gt.base, &ryw, &get);
    run_for(f, 0.15);
    assert_int_equal(get.done, 0);
    assert_int_equal(crm_rpc_server_held(f->server_b), 1);

    /* A creates it: its reply carries the mark of its event */
    Crm__Identity__V1__CreateTeamRequest ct;
    team_request(&ct, "ryw");
    result_t create;
    send_msg(f->client, IDENTITY "CreateTeam", &ct.base, &as_alice, &create);
    wait_all(f, &create, 1);
    expect_status(&create, C_OK, NULL);
    assert_int_equal(create.n_marks, 1);
    assert_string_equal(create.mark_producer, PRODUCER);
    assert_true(create.mark_seq == 1);

    /* B answers once its consumer has applied event 1, and sees the team */
    wait_all(f, &get, 1);
    expect_status(&get, C_OK, NULL);
    assert_true(crm_consumer_applied(f->consumer) >= 1);
    assert_int_equal(crm_rpc_server_held(f->server_b), 0);
    Crm__Identity__V1__Team *t = decode(&get, &crm__identity__v1__team__descriptor);
    assert_true(t->id == 1);
    assert_string_equal(t->name, "ryw");
    crm__identity__v1__team__free_unpacked(t, NULL);
    assert_int_equal(apply_b.applied, 1);

    /* a mark already reached, or of a producer B does not consume, is not held */
    result_t now[2];
    send_msg(f->client_b, IDENTITY "GetTeam", &gt.base, &ryw, &now[0]);
    Crm__Rpc__V1__SeqMark other = CRM__RPC__V1__SEQ_MARK__INIT;
    other.producer = "pipeline";
    other.seq = 99;
    Crm__Rpc__V1__SeqMark *other_marks[] = {&other};
    opts_t foreign = {alice(), NULL, 5.0, other_marks, 1};
    send_msg(f->client_b, IDENTITY "GetTeam", &gt.base, &foreign, &now[1]);
    wait_all(f, now, 2);
    expect_status(&now[0], C_OK, NULL);
    expect_status(&now[1], C_OK, NULL);
    assert_true(now[0].at - now[0].sent_at < 0.5);

    /* health tells what A produced and what B applied */
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    result_t ha, hb;
    send_msg(f->client, "crm.health.v1.Health/Check", &hc.base, NULL, &ha);
    send_msg(f->client_b, "crm.health.v1.Health/Check", &hc.base, NULL, &hb);
    wait_all(f, &ha, 1);
    wait_all(f, &hb, 1);
    Crm__Health__V1__CheckReply *h = decode(&ha, &crm__health__v1__check_reply__descriptor);
    assert_int_equal(h->n_produced, 1);
    assert_string_equal(h->produced[0]->producer, PRODUCER);
    assert_true(h->produced[0]->seq == 1);
    crm__health__v1__check_reply__free_unpacked(h, NULL);
    h = decode(&hb, &crm__health__v1__check_reply__descriptor);
    assert_int_equal(h->n_applied, 1);
    assert_string_equal(h->applied[0]->producer, PRODUCER);
    assert_true(h->applied[0]->seq == 1);
    crm__health__v1__check_reply__free_unpacked(h, NULL);
}

/* GetTeam as alice, held for a mark of PRODUCER never reached, with the
 * deadline given (0: none). */
static void send_held(fixture_t *f, uint64_t id, int64_t deadline)
{
    Crm__Rpc__V1__SeqMark mark = CRM__RPC__V1__SEQ_MARK__INIT;
    mark.producer = PRODUCER;
    mark.seq = 1000; /* never reached */
    Crm__Rpc__V1__SeqMark *marks[] = {&mark};
    Crm__Identity__V1__GetTeamRequest gt = CRM__IDENTITY__V1__GET_TEAM_REQUEST__INIT;
    gt.id = 1;
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.id = id;
    req.method = IDENTITY "GetTeam";
    req.principal = (Crm__Rpc__V1__Principal *)alice();
    req.marks = marks;
    req.n_marks = 1;
    req.deadline = deadline;
    raw_send(f, &req, &gt.base);
    run_for(f, 0.1);
    assert_int_equal(crm_rpc_server_held(f->server_b), 1);
}

static void test_read_your_writes_deadline(void **state)
{
    fixture_t *f = *state;
    start_two_services(f);
    raw_connect(f, f->endpoint_b);
    double t0 = crm_time_mono_us() / 1e6;
    send_held(f, 77, crm_time_now_us() + 300000);
    assert_int_equal(f->n_raw, 0);
    raw_wait(f, 1, 2.0);
    double waited = crm_time_mono_us() / 1e6 - t0;
    assert_true(f->raw_replies[0].id == 77);
    assert_int_equal(f->raw_replies[0].st.code, C_DEADLINE);
    if (waited < 0.28 || waited > 1.2)
        fail_msg("held call answered after %.3f s, deadline 0.3 s", waited);
    assert_int_equal(crm_rpc_server_held(f->server_b), 0);
}

/* A held call without a deadline waits 5 s, then is told its read model is
 * behind, never answered from it as if its writes were there. */
static void test_read_your_writes_without_deadline(void **state)
{
    fixture_t *f = *state;
    start_two_services(f);
    raw_connect(f, f->endpoint_b);
    send_held(f, 78, 0);
    raw_wait(f, 1, 8.0);
    assert_true(f->raw_replies[0].id == 78);
    assert_int_equal(f->raw_replies[0].st.code, CRM__RPC__V1__CODE__CODE_UNAVAILABLE);
    assert_int_equal(crm_rpc_server_held(f->server_b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dispatch_by_full_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_route, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_flushed_after_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_body_and_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_principal_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handler_errors_reach_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_undoes_only_the_failed_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_survives_a_full_map, setup_small_map, teardown),
        cmocka_unit_test_setup_teardown(test_nested_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_part_fills_the_map, setup_small_map, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_in_the_past, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_deadline_without_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_deadline_counts_from_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_destroy_answers_pending_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unavailable_then_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes_holds_until_applied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_your_writes_without_deadline, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
