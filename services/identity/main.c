/* crm-identity: users, sessions, invitations and sales teams. Its wiring: it
 * consumes no events and produces user.*, session.* and team.*; password
 * hashes run on worker threads; a timer expires sessions and invitations;
 * crm_service.h does the rest (shared flags, sockets, loop, teardown). */
#include "identity.h"
#include "crm_log.h"
#include "crm_service.h"

static identity_t idn;
static const char *admin_pw;
static int64_t session_s, pw_ops, pw_mem_kib, lock_s, pw_threads, pw_queue, pw_per_address;
static crm_workers_t *hashers;

static int configure(void *ctx)
{
    if (pw_ops < (int64_t)crypto_pwhash_OPSLIMIT_MIN || pw_mem_kib * 1024 < (int64_t)crypto_pwhash_MEMLIMIT_MIN ||
        pw_threads < 1 || pw_threads > 64 || pw_queue < 0 || pw_queue > 100000 || pw_per_address < 1) {
        crm_error("--pwhash-ops and --pwhash-mem-kib must be libsodium's minimum or more, --pwhash-threads 1 to 64, "
                  "--pwhash-queue 0 to 100000, --pwhash-per-address 1 or more");
        return -1;
    }
    idn = (identity_t){.session_ttl_us = session_s * 1000000LL, .invite_ttl_us = 7LL * 24 * 3600 * 1000000LL,
                       .pw_ops = (unsigned long long)pw_ops, .pw_mem = (size_t)pw_mem_kib * 1024,
                       .login_max_failures = 5, .login_lock_us = lock_s * 1000000LL};
    idn.throttle = crm_map_new();
    return 0;
}

static void sweep(void *ctx) { identity_sweep(ctx); }

static int start(crm_service_t *svc, void *ctx)
{
    if (!(hashers = crm_workers_new(crm_service_loop(svc), (int)pw_threads, (int)pw_queue)))
        return -1;
    crm_rpc_server_set_workers(crm_service_rpc(svc), hashers, (int)pw_per_address);
    if (crm_service_every(svc, 1.0, 300.0, sweep) != 0)
        return -1;
    if (identity_bootstrap(&idn, admin_pw, crm_service_data_dir(svc)) != 0)
        return -1;
    return identity_announce_users(&idn);
}

static void free_value(void *arg, uint64_t key, void *value) { free(value); }

static void stop(crm_service_t *svc, void *ctx)
{
    crm_workers_destroy(&hashers); /* before the server: a hash that finished is answered through it */
    crm_map_each(idn.throttle, free_value, NULL);
    crm_map_destroy(&idn.throttle);
}

int main(int argc, char **argv)
{
    return crm_service_main(&(crm_service_def_t){
        .name = "identity", .ctx = &idn, .store = &idn.store, .outbox = &idn.outbox, .schema = IDENTITY_SCHEMA,
        .flags = {
            {"admin-password", "CRM_ADMIN_PASSWORD", CRM_OPT_STRING, &admin_pw, "",
             "first start: admin's password (else generated)"},
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
        },
        .dbis = {
            {"users", 0, &idn.users}, {"logins", 0, &idn.logins}, {"sessions", 0, &idn.sessions},
            {"user_sessions", 0, &idn.user_sessions}, {"invites", 0, &idn.invites}, {"teams", 0, &idn.teams},
        },
        .apis = {identity_api, identity_internal_api},
        .configure = configure, .start = start, .stop = stop}, argc, argv);
}
