/* crm-identity: users, sessions, invitations and sales teams.
 * Wiring, top to bottom: flags, store, outbox publisher, RPC door, loop. */
#include "identity.h"
#include "crm_config.h"
#include "crm_curve.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_zloop.h"
#include "crm_mem.h"
#include "crm_publisher.h"
#include "crm_rpc_server.h"

#include <zmq.h>
#include <stdio.h>
#include <string.h>

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    int rc = identity_sweep(w->data);
    if (rc)
        crm_warn("expiring sessions: %s", mdb_strerror(rc));
}

static void free_value(void *arg, uint64_t key, void *value) { free(value); }

int main(int argc, char **argv)
{
    const char *curve_dir, *data_dir, *rpc_ep, *pub_ep, *replay_ep, *admin_pw;
    int64_t session_s, pw_ops, pw_mem_kib, heartbeat_ms, outbox_keep_s, lock_s, pw_threads, pw_queue, pw_per_address;
    const crm_opt_t opts[] = {
        {"data-dir", "CRM_IDENTITY_DATA", CRM_OPT_STRING, &data_dir, "./data/identity", "LMDB folder"},
        {"rpc", "CRM_IDENTITY_RPC", CRM_OPT_STRING, &rpc_ep, "tcp://127.0.0.1:5601", "RPC endpoint (bind)"},
        {"events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &pub_ep, "tcp://127.0.0.1:5602", "event PUB endpoint (bind)"},
        {"replay", "CRM_IDENTITY_REPLAY", CRM_OPT_STRING, &replay_ep, "tcp://127.0.0.1:5603", "event replay endpoint (bind)"},
        {"admin-password", "CRM_ADMIN_PASSWORD", CRM_OPT_STRING, &admin_pw, "", "first start: admin's password (else generated)"},
        {"session-seconds", "CRM_SESSION_SECONDS", CRM_OPT_INT, &session_s, "43200", "session lifetime (12 h)"},
        {"pwhash-ops", "CRM_PWHASH_OPS", CRM_OPT_INT, &pw_ops, "2", "argon2id passes (libsodium opslimit)"},
        {"pwhash-mem-kib", "CRM_PWHASH_MEM_KIB", CRM_OPT_INT, &pw_mem_kib, "65536", "argon2id memory (KiB)"},
        {"pwhash-threads", "CRM_PWHASH_THREADS", CRM_OPT_INT, &pw_threads, "2",
         "threads that hash passwords (each takes pwhash-mem-kib while it works)"},
        {"pwhash-queue", "CRM_PWHASH_QUEUE", CRM_OPT_INT, &pw_queue, "16",
         "password hashes waiting for a thread at most; past it Login answers resource_exhausted at once"},
        {"pwhash-per-address", "CRM_PWHASH_PER_ADDRESS", CRM_OPT_INT, &pw_per_address, "2",
         "password hashes one client address may have waiting or running at once"},
        {"login-lock-seconds", "CRM_LOGIN_LOCK_SECONDS", CRM_OPT_INT, &lock_s, "30", "lock after 5 failed logins"},
        {"heartbeat-ms", "CRM_HEARTBEAT_MS", CRM_OPT_INT, &heartbeat_ms, "500", "event heartbeat interval"},
        {"outbox-keep-seconds", "CRM_OUTBOX_KEEP_SECONDS", CRM_OPT_INT, &outbox_keep_s, "604800",
         "events every consumer has applied are pruned after this (7 days; 0: kept for ever)"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
    };
    crm_log_init("identity");
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-identity [flags]") != 0)
        return 2;
    if (sodium_init() < 0) {
        crm_error("libsodium failed to initialise");
        return 1;
    }
    if (pw_ops < (int64_t)crypto_pwhash_OPSLIMIT_MIN || pw_mem_kib * 1024 < (int64_t)crypto_pwhash_MEMLIMIT_MIN) {
        crm_error("pwhash-ops or pwhash-mem-kib below libsodium's minimum");
        return 2;
    }
    if (pw_threads < 1 || pw_threads > 64 || pw_queue < 0 || pw_queue > 100000 || pw_per_address < 1) {
        crm_error("--pwhash-threads must be 1 to 64, --pwhash-queue 0 to 100000, --pwhash-per-address 1 or more");
        return 2;
    }

    identity_t idn = {0};
    idn.session_ttl_us = session_s * 1000000LL;
    idn.invite_ttl_us = 7LL * 24 * 3600 * 1000000LL;
    idn.pw_ops = (unsigned long long)pw_ops;
    idn.pw_mem = (size_t)pw_mem_kib * 1024;
    idn.login_max_failures = 5;
    idn.login_lock_us = lock_s * 1000000LL;
    idn.throttle = crm_map_new();
    const crm_store_dbi_t dbis[] = {
        {"users", 0, &idn.users},       {"logins", 0, &idn.logins},
        {"sessions", 0, &idn.sessions}, {"user_sessions", 0, &idn.user_sessions},
        {"invites", 0, &idn.invites},   {"teams", 0, &idn.teams},
        {"outbox", 0, &idn.outbox_dbi},
    };
    const char *err;
    idn.store = crm_store_open(data_dir, dbis, sizeof dbis / sizeof dbis[0], IDENTITY_SCHEMA, 0, &err);
    if (!idn.store)
        return 1;
    idn.outbox = crm_outbox_new("identity", idn.outbox_dbi);
    /* the hash an unknown login is checked against, so it costs the same */
    if (crypto_pwhash_str(idn.dummy_hash, "not a password", 14, idn.pw_ops, idn.pw_mem) != 0) {
        crm_error("no memory for argon2id");
        return 1;
    }
    char password_file[4096];
    snprintf(password_file, sizeof password_file, "%s/admin-password", data_dir);
    int rc = identity_bootstrap(&idn, admin_pw, password_file);
    if (rc) {
        crm_error("creating the administrator: %s", rc > 0 ? strerror(rc) : mdb_strerror(rc));
        return 1;
    }

    struct ev_loop *loop = EV_DEFAULT;
    void *zctx = zmq_ctx_new();
    if (crm_curve_configure(zctx, loop, curve_dir, "identity") != 0)
        return 1;
    crm_publisher_t *pub = crm_publisher_new(loop, zctx, idn.store, idn.outbox, pub_ep, replay_ep,
                                             (int)heartbeat_ms);
    crm_rpc_server_t *srv = crm_rpc_server_new(loop, zctx, "identity", rpc_ep, idn.store, crm_limit_service("crm.identity.v1."));
    crm_workers_t *hashers = crm_workers_new(loop, (int)pw_threads, (int)pw_queue);
    if (!pub || !srv || !hashers)
        return 1;
    crm_rpc_server_set_publisher(srv, pub);
    crm_publisher_set_retention(pub, outbox_keep_s > 0 ? outbox_keep_s * 1000000 : 0);
    crm_rpc_server_set_workers(srv, hashers, (int)pw_per_address);
    crm_rpc_server_add(srv, &crm__identity__v1__identity__descriptor, identity_methods, &idn);
    crm_rpc_server_add(srv, &crm__identity__v1__identity_internal__descriptor,
                       identity_internal_methods, &idn);
    /* events of a previous run that were committed but never published */
    crm_publisher_flush(pub);

    ev_timer sweep;
    ev_timer_init(&sweep, on_sweep, 1.0, 300.0);
    sweep.data = &idn;
    ev_timer_start(loop, &sweep);
    crm_info("serving on %s, events on %s (replay %s), data in %s", rpc_ep, pub_ep, replay_ep, data_dir);
    crm_loop_run(loop);

    /* before the server: a hash that finished is answered through it */
    crm_workers_destroy(&hashers);
    crm_rpc_server_destroy(&srv);
    crm_publisher_destroy(&pub);
    crm_curve_shutdown();
    zmq_ctx_term(zctx);
    crm_outbox_destroy(&idn.outbox);
    crm_store_close(&idn.store);
    crm_map_each(idn.throttle, free_value, NULL);
    crm_map_destroy(&idn.throttle);
    return 0;
}
