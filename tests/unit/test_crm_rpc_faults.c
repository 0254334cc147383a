#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "loop_until.h"

#include "crm_arena.h"
#include "crm_rpc_client.h"
#include "crm_rpc_server.h"
#include "crm_store.h"
#include "crm_time.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "rpc.pb-c.h"

/* Storage faults under the RPC server: a batch whose durable commit fails,
 * a stored reply damaged on disk; and a body over its method's limit.
 *
 * The fault is a real one, made without a hook in the server or the store:
 * the process's file size limit (RLIMIT_FSIZE, SIGXFSZ ignored) is set to
 * the store's data file size, so the commit's page writes past the end of
 * the file fail (EFBIG, or LMDB's EIO for a short write) after every call
 * of the batch has run in its nested transaction. Every call of the batch
 * must get a coded error, nothing of any of them (records, id counter,
 * idempotency record) may be stored, and once the limit is lifted the
 * server serves the same calls, keys and all, as if they were new. */

#define C_OK CRM__RPC__V1__CODE__CODE_OK
#define C_INTERNAL CRM__RPC__V1__CODE__CODE_INTERNAL
#define IDENTITY "crm.identity.v1.Identity/"
#define BLOB_BYTES (128 << 10) /* each write's record: new overflow pages past the file's end */
#define BATCH 5

/* --- the test service: CreateTeam stores the team and a blob -------------- */

typedef struct {
    MDB_dbi teams, blobs;
    int runs;              /* CreateTeam handler runs, committed or not */
    uint64_t txn_ids[16];  /* the write transaction of each run */
} svc_t;

static int h_create_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    svc_t *svc = crm_call_ctx(call);
    const Crm__Identity__V1__CreateTeamRequest *req = (const void *)in;
    MDB_txn *txn = crm_call_txn(call);
    if (svc->runs < 16)
        svc->txn_ids[svc->runs] = (uint64_t)mdb_txn_id(txn);
    svc->runs++;
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), txn, "team", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    Crm__Identity__V1__Team *t = (void *)out;
    t->id = (int64_t)id;
    t->name = crm_arena_strdup(crm_call_arena(call), req->name);
    if ((rc = crm_db_put_id(txn, svc->teams, id, &t->base)) != 0)
        return crm_call_fail_db(call, rc);
    uint8_t key[8];
    crm_key_put_u64(key, id);
    MDB_val k = {8, key}, d = {BLOB_BYTES, NULL};
    if ((rc = mdb_put(txn, svc->blobs, &k, &d, MDB_RESERVE)) != 0)
        return crm_call_fail_db(call, rc);
    memset(d.mv_data, (int)(id & 0xff), BLOB_BYTES);
    return 0;
}

static int h_get_team(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    svc_t *svc = crm_call_ctx(call);
    const Crm__Identity__V1__GetTeamRequest *req = (const void *)in;
    void *found = NULL;
    int rc = crm_db_get_id(crm_call_txn(call), svc->teams, (uint64_t)req->id, &crm__identity__v1__team__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), &found);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CRM__RPC__V1__CODE__CODE_NOT_FOUND, "id", "no team %lld", (long long)req->id);
    if (rc)
        return crm_call_fail_db(call, rc);
    *(Crm__Identity__V1__Team *)out = *(Crm__Identity__V1__Team *)found;
    return 0;
}

static int h_unimplemented(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    return crm_call_fail(call, CRM__RPC__V1__CODE__CODE_UNIMPLEMENTED, NULL, "not in this test");
}

/* A handler for every method of crm.identity.v1.Identity, by name. */
static const crm_method_t identity_methods[] = {
    {"Login", h_unimplemented, CRM_METHOD_PUBLIC},
    {"Logout", h_unimplemented, 0},
    {"WhoAmI", h_unimplemented, 0},
    {"CreateUser", h_unimplemented, CRM_METHOD_WRITE},
    {"GetUser", h_unimplemented, 0},
    {"ListUsers", h_unimplemented, 0},
    {"UpdateUser", h_unimplemented, CRM_METHOD_WRITE},
    {"SetPassword", h_unimplemented, CRM_METHOD_WRITE | CRM_METHOD_PUBLIC},
    {"ChangePassword", h_unimplemented, CRM_METHOD_WRITE},
    {"CreateTeam", h_create_team, CRM_METHOD_WRITE},
    {"UpdateTeam", h_unimplemented, CRM_METHOD_WRITE},
    {"GetTeam", h_get_team, 0},
    {"ListTeams", h_unimplemented, 0},
};
static const crm_rpc_api_t identity_api = CRM_RPC_API(crm__identity__v1__identity__descriptor, identity_methods);

/* --- fixture -------------------------------------------------------------- */

typedef struct {
    char dir[64];
    struct ev_loop *loop;
    void *zctx;
    crm_store_t *store;
    svc_t svc;
    crm_rpc_server_t *server;
    crm_rpc_client_t *client;
    struct rlimit fsize; /* the limit before the test */
} fixture_t;

typedef struct {
    int done;
    crm_status_t st;
    size_t body_len;
    uint8_t body[4096];
} result_t;

static int tearing_down;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/crm-test-faults-XXXXXX");
    if (!mkdtemp(f->dir) || getrlimit(RLIMIT_FSIZE, &f->fsize) != 0)
        return -1;
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->zctx = zmq_ctx_new();
    crm_store_dbi_t dbis[] = {{"teams", 0, &f->svc.teams}, {"blobs", 0, &f->svc.blobs}};
    const char *err;
    char path[128];
    snprintf(path, sizeof path, "%s/store", f->dir);
    if (!(f->store = crm_store_open(path, dbis, 2, 1, 0, &err)))
        return -1;
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "inproc://crm-test-faults-%d", (int)getpid());
    f->server = crm_rpc_server_new(f->loop, f->zctx, "test", endpoint, f->store, 4 << 20);
    if (!f->server || crm_rpc_server_add(f->server, &identity_api, &f->svc))
        return -1;
    f->client = crm_rpc_client_new(f->loop, f->zctx, "test", endpoint);
    tearing_down = 0;
    *state = f;
    return f->client ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    setrlimit(RLIMIT_FSIZE, &f->fsize);
    tearing_down = 1;
    crm_rpc_client_destroy(&f->client);
    crm_rpc_server_destroy(&f->server);
    crm_store_close(&f->store);
    zmq_ctx_term(f->zctx);
    ev_loop_destroy(f->loop);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void on_done(void *arg, const crm_status_t *st, const Crm__Rpc__V1__RpcReply *reply)
{
    result_t *r = arg;
    if (tearing_down)
        return;
    r->done++;
    r->st = *st;
    r->body_len = 0;
    if (reply && reply->body.len && reply->body.len <= sizeof r->body) {
        r->body_len = reply->body.len;
        memcpy(r->body, reply->body.data, reply->body.len);
    }
}

/* Sends method with m as alice (idem: an idempotency key or NULL); the
 * answer comes into r. Returns crm_rpc_client_call's result. */
static int send_call(fixture_t *f, const char *method, const ProtobufCMessage *m, const char *idem, result_t *r)
{
    static Crm__Rpc__V1__Principal alice = CRM__RPC__V1__PRINCIPAL__INIT;
    alice.user_id = 7;
    alice.login = "alice";
    uint8_t buf[512];
    size_t len = protobuf_c_message_get_packed_size(m);
    assert_true(len <= sizeof buf);
    protobuf_c_message_pack(m, buf);
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.method = (char *)method;
    req.principal = &alice;
    req.idempotency_key = (char *)(idem ? idem : "");
    req.deadline = crm_time_now_us() + 5000000;
    req.body.data = buf;
    req.body.len = len;
    memset(r, 0, sizeof *r);
    crm_status_t st;
    return crm_rpc_client_call(f->client, &req, on_done, r, &st);
}

static void wait_all(fixture_t *f, result_t *r, int n)
{
    if (!loop_until_all_done(f->loop, r, n, 5.0))
        fail_msg("calls not answered in time");
    for (int i = 0; i < n; i++)
        assert_int_equal(r[i].done, 1);
}

/* Health checks until the client's connection is up (ZMQ_IMMEDIATE). */
static void wait_connected(fixture_t *f)
{
    Crm__Health__V1__CheckRequest hc = CRM__HEALTH__V1__CHECK_REQUEST__INIT;
    result_t r;
    for (int i = 0; i < 300; i++) {
        if (send_call(f, "crm.health.v1.Health/Check", &hc.base, NULL, &r) == 0) {
            wait_all(f, &r, 1);
            assert_int_equal(r.st.code, C_OK);
            return;
        }
        loop_until(f->loop, NULL, NULL, 0.01);
    }
    fail_msg("client never connected");
}

/* Sends n CreateTeams named prefix-i before the loop runs, so that the
 * server reads them as one batch (inproc delivers them at once); call i
 * carries key keys[i] when keys is not NULL. */
static void create_batch(fixture_t *f, const char *prefix, int n, const char *const *keys, result_t *r)
{
    char names[16][32];
    for (int i = 0; i < n; i++) {
        Crm__Identity__V1__CreateTeamRequest req = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
        snprintf(names[i], sizeof names[i], "%s-%d", prefix, i);
        req.name = names[i];
        assert_int_equal(send_call(f, IDENTITY "CreateTeam", &req.base, keys ? keys[i] : NULL, &r[i]), 0);
    }
    wait_all(f, r, n);
}

/* Records in dbi, and the "team" counter. */
static int count_records(fixture_t *f, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    crm_store_read_end(f->store, txn);
    return (int)st.ms_entries;
}

static uint64_t team_counter(fixture_t *f)
{
    MDB_txn *txn;
    uint64_t last = 0;
    assert_int_equal(crm_store_read_begin(f->store, &txn), 0);
    assert_int_equal(crm_store_counter_get(f->store, txn, "team", &last), 0);
    crm_store_read_end(f->store, txn);
    return last;
}

static int64_t team_id(const result_t *r)
{
    Crm__Identity__V1__Team *t = crm__identity__v1__team__unpack(NULL, r->body_len, r->body);
    assert_non_null(t);
    int64_t id = t->id;
    crm__identity__v1__team__free_unpacked(t, NULL);
    return id;
}

/* Files may not grow past their size now: the store's next commit that
 * needs new pages fails to write them. */
static void limit_files_to_store(fixture_t *f)
{
    char path[160];
    struct stat sb;
    snprintf(path, sizeof path, "%s/store/data.mdb", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    struct rlimit lim = {(rlim_t)sb.st_size, f->fsize.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

/* --- the test ------------------------------------------------------------------ */

static void test_batch_commit_fails_whole(void **state)
{
    fixture_t *f = *state;
    /* a write past the limit would otherwise kill the process */
    signal(SIGXFSZ, SIG_IGN);
    wait_connected(f);
    /* some stored first, so that the data file is larger than this test's
     * log (which the limit bounds too) */
    result_t warm[4];
    create_batch(f, "warm", 4, NULL, warm);
    for (int i = 0; i < 4; i++)
        assert_int_equal(warm[i].st.code, C_OK);
    assert_int_equal(count_records(f, f->svc.teams), 4);

    /* a batch of five writes, two of them keyed, whose commit cannot be written */
    static const char *const keys[BATCH] = {"key-a", NULL, "key-b", NULL, NULL};
    f->svc.runs = 0;
    limit_files_to_store(f);
    result_t r[BATCH];
    create_batch(f, "lost", BATCH, keys, r);
    struct rlimit unlimited = f->fsize;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &unlimited), 0);

    /* every handler ran, in one write transaction: the commit failed, not a call */
    assert_int_equal(f->svc.runs, BATCH);
    for (int i = 1; i < BATCH; i++)
        assert_true(f->svc.txn_ids[i] == f->svc.txn_ids[0]);
    /* every call has a coded error that says what, and no reply body */
    for (int i = 0; i < BATCH; i++) {
        if (r[i].st.code != C_INTERNAL)
            fail_msg("call %d: got %s (%s), expected internal", i, crm_code_name(r[i].st.code), r[i].st.message);
        assert_string_equal(r[i].st.message, "storage error");
        assert_int_equal(r[i].body_len, 0);
    }
    /* nothing of the batch is stored: records, the id counter */
    assert_int_equal(count_records(f, f->svc.teams), 4);
    assert_int_equal(count_records(f, f->svc.blobs), 4);
    assert_int_equal(team_counter(f), 4);

    /* the server goes on serving: the same batch again, keys and all, is
     * new to it (no idempotency record of the failed one was kept) */
    f->svc.runs = 0;
    result_t again[BATCH];
    create_batch(f, "again", BATCH, keys, again);
    assert_int_equal(f->svc.runs, BATCH);
    for (int i = 0; i < BATCH; i++) {
        assert_int_equal(again[i].st.code, C_OK);
        assert_int_equal(team_id(&again[i]), 5 + i);
    }
    assert_int_equal(count_records(f, f->svc.teams), 4 + BATCH);
    assert_int_equal(count_records(f, f->svc.blobs), 4 + BATCH);
    /* and a keyed retry now gets the stored answer without running again */
    Crm__Identity__V1__CreateTeamRequest req = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    req.name = "again-0";
    result_t retry;
    assert_int_equal(send_call(f, IDENTITY "CreateTeam", &req.base, "key-a", &retry), 0);
    wait_all(f, &retry, 1);
    assert_int_equal(retry.st.code, C_OK);
    assert_int_equal(team_id(&retry), 5);
    assert_int_equal(f->svc.runs, BATCH);
    /* reads too */
    Crm__Identity__V1__GetTeamRequest get = CRM__IDENTITY__V1__GET_TEAM_REQUEST__INIT;
    get.id = 2;
    result_t got;
    assert_int_equal(send_call(f, IDENTITY "GetTeam", &get.base, NULL, &got), 0);
    wait_all(f, &got, 1);
    assert_int_equal(got.st.code, C_OK);
    assert_int_equal(team_id(&got), 2);
}

/* A fault in the middle of a stream of batches: the ones before and after
 * are whole, the failed one is absent, and a client that retries its
 * failed calls with their keys ends with each write stored exactly once. */
static void test_retry_after_failed_commit_stores_once(void **state)
{
    fixture_t *f = *state;
    signal(SIGXFSZ, SIG_IGN);
    wait_connected(f);
    static const char *const before_keys[3] = {"b-0", "b-1", "b-2"};
    static const char *const keys[3] = {"k-0", "k-1", "k-2"};
    result_t before[3], failed[3], retried[3];
    create_batch(f, "before", 3, before_keys, before);
    for (int i = 0; i < 3; i++)
        assert_int_equal(before[i].st.code, C_OK);
    limit_files_to_store(f);
    create_batch(f, "during", 3, keys, failed);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &f->fsize), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(failed[i].st.code, C_INTERNAL);
    /* the client retries every call it was not told succeeded, and the
     * ones that did (their replies lost, say) */
    create_batch(f, "during", 3, keys, retried);
    result_t before_again[3];
    create_batch(f, "before", 3, before_keys, before_again);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(retried[i].st.code, C_OK);
        assert_int_equal(team_id(&retried[i]), 4 + i);
        assert_int_equal(before_again[i].st.code, C_OK);
        assert_int_equal(team_id(&before_again[i]), team_id(&before[i]));
    }
    assert_int_equal(count_records(f, f->svc.teams), 6);
    assert_int_equal(team_counter(f), 6);
}

/* Damages every stored idempotency record: cut to a few bytes (cut), or
 * one byte of its sealed reply flipped. */
typedef struct {
    int cut;
    int damaged;
} damage_t;

static int damage_txn(MDB_txn *txn, void *arg)
{
    damage_t *dm = arg;
    MDB_dbi idem;
    MDB_cursor *cur;
    int rc = mdb_dbi_open(txn, "idempotency", 0, &idem);
    if (rc || (rc = mdb_cursor_open(txn, idem, &cur)))
        return rc;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        uint8_t copy[4096];
        size_t n = d.mv_size < sizeof copy ? d.mv_size : sizeof copy;
        memcpy(copy, d.mv_data, n);
        copy[n - 1] ^= 0x55;
        MDB_val nd = {dm->cut ? 4 : n, copy};
        if ((rc = mdb_cursor_put(cur, &k, &nd, MDB_CURRENT)) != 0)
            break;
        dm->damaged++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A stored reply damaged on disk (cut short, or its sealed bytes changed):
 * the retry of its key gets a coded error, never the damaged bytes as a
 * reply nor a second run of the write; other calls go on. */
static void test_damaged_idempotency_record(void **state)
{
    fixture_t *f = *state;
    wait_connected(f);
    for (int cut = 0; cut < 2; cut++) {
        Crm__Identity__V1__CreateTeamRequest req = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
        req.name = cut ? "cut" : "flipped";
        const char *key = cut ? "key-cut" : "key-flipped";
        result_t first, retry;
        assert_int_equal(send_call(f, IDENTITY "CreateTeam", &req.base, key, &first), 0);
        wait_all(f, &first, 1);
        assert_int_equal(first.st.code, C_OK);
        damage_t dm = {cut, 0};
        assert_int_equal(crm_store_write(f->store, damage_txn, &dm), 0);
        assert_true(dm.damaged >= 1);
        int runs = f->svc.runs, teams = count_records(f, f->svc.teams);
        assert_int_equal(send_call(f, IDENTITY "CreateTeam", &req.base, key, &retry), 0);
        wait_all(f, &retry, 1);
        if (retry.st.code != C_INTERNAL)
            fail_msg("retry over a damaged record: got %s (%s)", crm_code_name(retry.st.code), retry.st.message);
        assert_int_equal(retry.body_len, 0);
        assert_int_equal(f->svc.runs, runs);
        assert_int_equal(count_records(f, f->svc.teams), teams);
    }
    result_t other;
    Crm__Identity__V1__CreateTeamRequest req = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    req.name = "other";
    assert_int_equal(send_call(f, IDENTITY "CreateTeam", &req.base, "key-other", &other), 0);
    wait_all(f, &other, 1);
    assert_int_equal(other.st.code, C_OK);
}

/* A body over its method's limit that reached the service by another way
 * than the gateway (which refuses it first): refused, naming the body. */
static void test_body_over_method_limit(void **state)
{
    fixture_t *f = *state;
    wait_connected(f);
    static uint8_t body[80 << 10]; /* CreateTeam's limit is 64 KiB */
    memset(body, 0, sizeof body);
    Crm__Rpc__V1__Principal alice = CRM__RPC__V1__PRINCIPAL__INIT;
    alice.user_id = 7;
    alice.login = "alice";
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.method = IDENTITY "CreateTeam";
    req.principal = &alice;
    req.deadline = crm_time_now_us() + 5000000;
    req.body.data = body;
    req.body.len = sizeof body;
    result_t r = {0};
    crm_status_t st;
    assert_int_equal(crm_rpc_client_call(f->client, &req, on_done, &r, &st), 0);
    wait_all(f, &r, 1);
    assert_int_equal(r.st.code, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED);
    assert_string_equal(r.st.field, "body");
    assert_int_equal(f->svc.runs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_commit_fails_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_after_failed_commit_stores_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_idempotency_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_method_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
