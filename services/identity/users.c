/* Users, sessions and invitations. */
#include "identity.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_request.h"
#include "crm_time.h"
#include "crm_validate.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define USERS_ANNOUNCED "users_announced" /* meta: every user told once as user.updated */

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define PASSWORD_MIN 8
#define PASSWORD_MAX 128
#define LOGIN_MAX 64
#define TOKEN_BYTES 32
#define TOKEN_TEXT 44 /* base64url of 32 bytes, no padding, plus NUL */
#define THROTTLE_MAX_ENTRIES 100000

typedef Crm__Identity__V1__User user_t;
typedef Crm__Identity__V1__UserRecord user_rec_t;

/* --- helpers ---------------------------------------------------------------- */

int identity_is_admin(crm_call_t *call)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    return p && p->is_admin;
}

int identity_is_manager(crm_call_t *call)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    return p && (p->is_admin || p->sales_access == CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER);
}

int identity_user_get(crm_call_t *call, int64_t id, user_rec_t **out)
{
    identity_t *idn = crm_call_ctx(call);
    if (id <= 0)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no user %lld", (long long)id);
    int rc = crm_db_get_id(crm_call_txn(call), idn->users, (uint64_t)id,
                           &crm__identity__v1__user_record__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)out);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no user %lld", (long long)id);
    if (rc)
        return crm_call_fail_db(call, rc);
    return 0;
}

int identity_user_put(crm_call_t *call, user_rec_t *rec)
{
    identity_t *idn = crm_call_ctx(call);
    int rc = crm_db_put_id(crm_call_txn(call), idn->users, (uint64_t)rec->user->id, &rec->base);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int identity_emit_user(crm_call_t *call, const char *type, user_t *user, user_t *old)
{
    Crm__Identity__V1__UserEvent ev = CRM__IDENTITY__V1__USER_EVENT__INIT;
    ev.user = user;
    ev.old = old;
    return crm_call_emit(call, type, &ev.base);
}

static int emit_revoked(crm_call_t *call, int64_t user_id, const uint8_t *session_id)
{
    Crm__Identity__V1__SessionRevoked ev = CRM__IDENTITY__V1__SESSION_REVOKED__INIT;
    ev.user_id = user_id;
    if (session_id) {
        ev.session_id.data = (uint8_t *)session_id;
        ev.session_id.len = SESSION_HASH_LEN;
    }
    return crm_call_emit(call, "session.revoked", &ev.base);
}

static void lower_login(char *out, const char *in, size_t cap)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static int check_login(crm_call_t *call, const char *login)
{
    size_t n = strlen(login);
    if (n == 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "login", "login is required");
    if (n > LOGIN_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "login",
                             "login must be at most %d characters", LOGIN_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)login[i];
        if (!isalnum(c) && !strchr("._@+-", c))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "login",
                                 "login may hold only letters, digits and . _ @ + -");
    }
    return 0;
}

static int check_password(crm_call_t *call, const char *field, const char *pw)
{
    size_t n = strlen(pw);
    if (n < PASSWORD_MIN || n > PASSWORD_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "password must be %d to %d characters", PASSWORD_MIN, PASSWORD_MAX);
    crm_status_t st;
    if (crm_check_text(&st, field, pw, PASSWORD_MIN, PASSWORD_MAX) != 0)
        return crm_call_fail_status(call, &st);
    return 0;
}

static int check_enums(crm_call_t *call, int sales, int hr)
{
    if (sales < 0 || sales > CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "salesAccess", "unknown sales access level");
    if (hr < 0 || hr > CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_MANAGER)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "hrAccess", "unknown HR access level");
    return 0;
}

/* --- password work, off the loop ------------------------------------------------- */

/* What one call needs of argon2id: a password to check against a stored
 * hash, a new password to hash, or both. It runs on identity's workers
 * (crm_call_defer), so that no hash ever holds the loop or a write batch:
 * the handler runs once to read what it needs and defer, and again with
 * the outcome. */
typedef struct {
    char check_hash[crypto_pwhash_STRBYTES]; /* "": nothing to check */
    char check[PASSWORD_MAX + 1];
    char fresh[PASSWORD_MAX + 1];            /* "": nothing to hash */
    unsigned long long ops;
    size_t mem;
    int checked;                             /* check matched check_hash */
    int hash_failed;                         /* out of memory hashing fresh */
    char fresh_hash[crypto_pwhash_STRBYTES];
} pw_job_t;

static void pw_work(void *arg)
{
    pw_job_t *j = arg;
    if (j->check_hash[0])
        j->checked = crypto_pwhash_str_verify(j->check_hash, j->check, strlen(j->check)) == 0;
    if (j->fresh[0])
        j->hash_failed = crypto_pwhash_str(j->fresh_hash, j->fresh, strlen(j->fresh), j->ops, j->mem) != 0;
    /* the passwords are not needed on the loop */
    sodium_memzero(j->check, sizeof j->check);
    sodium_memzero(j->fresh, sizeof j->fresh);
}

/* Defers call for a check of check against check_hash (NULL: none) and a
 * hash of fresh (NULL: none). Returns -1, for the handler to return. */
static int pw_defer(crm_call_t *call, const char *check_hash, const char *check, const char *fresh)
{
    identity_t *idn = crm_call_ctx(call);
    pw_job_t *j = crm_calloc(1, sizeof *j);
    j->ops = idn->pw_ops;
    j->mem = idn->pw_mem;
    if (check_hash) {
        snprintf(j->check_hash, sizeof j->check_hash, "%s", check_hash);
        snprintf(j->check, sizeof j->check, "%s", check);
    }
    if (fresh)
        snprintf(j->fresh, sizeof j->fresh, "%s", fresh);
    return crm_call_defer(call, pw_work, j);
}

/* The new hash of a finished job, in the call's arena. */
static int pw_fresh_hash(crm_call_t *call, const pw_job_t *j, char **out)
{
    if (j->hash_failed)
        return crm_call_fail(call, CODE(RESOURCE_EXHAUSTED), NULL, "no memory to hash the password");
    *out = crm_arena_strdup(crm_call_arena(call), j->fresh_hash);
    return 0;
}

/* A new random token (text for the client) and its hash (kept). */
static void new_token(char text[TOKEN_TEXT], uint8_t hash[SESSION_HASH_LEN])
{
    uint8_t raw[TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(text, TOKEN_TEXT, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_generichash(hash, SESSION_HASH_LEN, (const uint8_t *)text, strlen(text), NULL, 0);
}

static void token_hash(const char *text, uint8_t hash[SESSION_HASH_LEN])
{
    crypto_generichash(hash, SESSION_HASH_LEN, (const uint8_t *)text, strlen(text), NULL, 0);
}

static user_t *public_user(crm_call_t *call, const user_t *u)
{
    /* the stored User is already the public one; copy the pointer struct so
     * callers may place it in a reply */
    user_t *copy = crm_call_new(call, &crm__identity__v1__user__descriptor);
    *copy = *u;
    return copy;
}

/* --- throttling of failed logins --------------------------------------------- */

typedef struct {
    int failures;
    int64_t locked_until; /* monotonic us */
} throttle_t;

/* Failed logins are counted per address and login together (five lock
 * that pair), and per address alone (ADDRESS_MAX_FAILURES lock the
 * address): a stranger who guesses a user's password from one address
 * locks out only themselves, never the user at another. */
#define ADDRESS_MAX_FAILURES 50

static uint64_t throttle_key(const char *kind, const char *address, const char *lower)
{
    crypto_generichash_state st;
    uint8_t h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
    crypto_generichash_update(&st, (const uint8_t *)address, strlen(address) + 1);
    crypto_generichash_update(&st, (const uint8_t *)lower, strlen(lower));
    crypto_generichash_final(&st, h, sizeof h);
    uint64_t k;
    memcpy(&k, h, 8);
    return k ? k : 1;
}

typedef struct {
    crm_map_t *keep;
    int64_t now;
} throttle_prune_t;

static void throttle_prune_one(void *arg, uint64_t key, void *value)
{
    throttle_prune_t *p = arg;
    throttle_t *t = value;
    if (t->locked_until > p->now)
        crm_map_put(p->keep, key, t);
    else
        free(t);
}

static void throttle_failure(identity_t *idn, uint64_t key, int max_failures)
{
    throttle_t *t = crm_map_get(idn->throttle, key);
    if (!t) {
        if (crm_map_size(idn->throttle) >= THROTTLE_MAX_ENTRIES) {
            /* bounded memory: forget every login not locked right now */
            throttle_prune_t p = {crm_map_new(), crm_time_mono_us()};
            crm_map_each(idn->throttle, throttle_prune_one, &p);
            crm_map_destroy(&idn->throttle);
            idn->throttle = p.keep;
        }
        t = crm_calloc(1, sizeof *t);
        crm_map_put(idn->throttle, key, t);
    }
    if (++t->failures >= max_failures) {
        t->locked_until = crm_time_mono_us() + idn->login_lock_us;
        t->failures = 0;
    }
}

/* --- Login / Logout / WhoAmI / Authenticate ------------------------------------ */

/* The lock on key, if any: the seconds left, else 0. */
static int64_t locked_for(identity_t *idn, uint64_t key, int64_t now_mono)
{
    throttle_t *t = crm_map_get(idn->throttle, key);
    return t && t->locked_until > now_mono ? (t->locked_until - now_mono) / 1000000 + 1 : 0;
}

static int login(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__LoginRequest *req = (const void *)in;
    Crm__Identity__V1__LoginReply *reply = (void *)out;
    char lower[LOGIN_MAX + 1];
    if (!req->login[0])
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "login", "login is required");
    if (!req->password[0])
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "password", "password is required");
    if (strlen(req->login) > LOGIN_MAX || strlen(req->password) > PASSWORD_MAX)
        return crm_call_fail(call, CODE(UNAUTHENTICATED), NULL, "invalid login or password");
    lower_login(lower, req->login, sizeof lower);

    const char *address = crm_call_client_address(call);
    uint64_t pair_key = throttle_key("pair", address, lower), address_key = throttle_key("address", address, "");
    int64_t now_mono = crm_time_mono_us();
    int64_t wait = locked_for(idn, pair_key, now_mono);
    if (!wait)
        wait = locked_for(idn, address_key, now_mono);
    if (wait)
        return crm_call_fail(call, CODE(RESOURCE_EXHAUSTED), NULL,
                             "too many failed logins; try again in %lld s", (long long)wait);

    MDB_val k = {strlen(lower), lower}, d;
    int rc = mdb_get(crm_call_txn(call), idn->logins, &k, &d);
    user_rec_t *rec = NULL;
    if (rc == 0 && d.mv_size == 8) {
        rc = identity_user_get(call, (int64_t)crm_key_get_u64(d.mv_data), &rec);
        if (rc)
            return -1;
    } else if (rc && rc != MDB_NOTFOUND) {
        return crm_call_fail_db(call, rc);
    }
    /* an unknown login costs the same hash as a known one */
    const char *hash = rec && rec->password_hash[0] ? rec->password_hash : idn->dummy_hash;
    const pw_job_t *j = crm_call_work_result(call);
    if (!j)
        return pw_defer(call, hash, req->password, NULL);
    /* checked against the hash stored now: a password changed while the
     * check ran does not let the old one in */
    int ok = j->checked && rec && rec->password_hash[0] && !strcmp(j->check_hash, rec->password_hash);
    if (!ok || !rec->user->active) {
        throttle_failure(idn, pair_key, idn->login_max_failures);
        throttle_failure(idn, address_key, ADDRESS_MAX_FAILURES);
        return crm_call_fail(call, CODE(UNAUTHENTICATED), NULL, "invalid login or password");
    }
    free(crm_map_remove(idn->throttle, pair_key));

    char *token = crm_arena_alloc(crm_call_arena(call), TOKEN_TEXT);
    uint8_t th[SESSION_HASH_LEN];
    new_token(token, th);
    Crm__Identity__V1__SessionRecord s = CRM__IDENTITY__V1__SESSION_RECORD__INIT;
    s.user_id = rec->user->id;
    s.created_at = crm_call_now(call);
    s.expires_at = s.created_at + idn->session_ttl_us;
    if ((rc = crm_db_put_msg(crm_call_txn(call), idn->sessions, th, sizeof th, &s.base)) != 0)
        return crm_call_fail_db(call, rc);
    uint8_t ukey[8 + SESSION_HASH_LEN];
    crm_key_put_u64(ukey, (uint64_t)s.user_id);
    memcpy(ukey + 8, th, SESSION_HASH_LEN);
    MDB_val uk = {sizeof ukey, ukey}, empty = {0, NULL};
    if ((rc = mdb_put(crm_call_txn(call), idn->user_sessions, &uk, &empty, 0)) != 0)
        return crm_call_fail_db(call, rc);
    reply->token = token;
    reply->user = public_user(call, rec->user);
    reply->expires_at = s.expires_at;
    return 0;
}

/* Deletes one session (by hash) and its index entry. */
static int drop_session(crm_call_t *call, int64_t user_id, const uint8_t *hash)
{
    identity_t *idn = crm_call_ctx(call);
    MDB_val k = {SESSION_HASH_LEN, (void *)hash};
    int rc = mdb_del(crm_call_txn(call), idn->sessions, &k, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    uint8_t ukey[8 + SESSION_HASH_LEN];
    crm_key_put_u64(ukey, (uint64_t)user_id);
    memcpy(ukey + 8, hash, SESSION_HASH_LEN);
    MDB_val uk = {sizeof ukey, ukey};
    rc = mdb_del(crm_call_txn(call), idn->user_sessions, &uk, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

/* Revokes every session of user_id except keep (may be NULL). */
static int revoke_sessions(crm_call_t *call, int64_t user_id, const uint8_t *keep)
{
    identity_t *idn = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, idn->user_sessions, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    /* collect first, delete after: no deletion under a live cursor */
    size_t n = 0, cap = 16;
    uint8_t *hashes = crm_arena_alloc(crm_call_arena(call), cap * SESSION_HASH_LEN);
    uint8_t prefix[8];
    crm_key_put_u64(prefix, (uint64_t)user_id);
    MDB_val k = {8, prefix}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 8 + SESSION_HASH_LEN && !memcmp(k.mv_data, prefix, 8);
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *h = (const uint8_t *)k.mv_data + 8;
        if (keep && !memcmp(h, keep, SESSION_HASH_LEN))
            continue;
        if (n == cap) {
            uint8_t *more = crm_arena_alloc(crm_call_arena(call), 2 * cap * SESSION_HASH_LEN);
            memcpy(more, hashes, cap * SESSION_HASH_LEN);
            hashes = more;
            cap *= 2;
        }
        memcpy(hashes + n++ * SESSION_HASH_LEN, h, SESSION_HASH_LEN);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    for (size_t i = 0; i < n; i++)
        if (drop_session(call, user_id, hashes + i * SESSION_HASH_LEN) != 0)
            return -1;
    return emit_revoked(call, user_id, NULL);
}

static int logout(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    if (p->session_id.len != SESSION_HASH_LEN)
        return crm_call_fail(call, CODE(UNAUTHENTICATED), NULL, "no session to end");
    if (drop_session(call, p->user_id, p->session_id.data) != 0)
        return -1;
    return emit_revoked(call, p->user_id, p->session_id.data);
}

static int whoami(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    user_rec_t *rec;
    if (identity_user_get(call, crm_call_principal(call)->user_id, &rec) != 0)
        return -1;
    *(user_t *)out = *rec->user;
    return 0;
}

static int authenticate(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__AuthenticateRequest *req = (const void *)in;
    Crm__Rpc__V1__Principal *p = (void *)out;
    if (!req->token[0])
        return crm_call_fail(call, CODE(UNAUTHENTICATED), "token", "a session token is required");
    uint8_t *h = crm_arena_alloc(crm_call_arena(call), SESSION_HASH_LEN);
    token_hash(req->token, h);
    Crm__Identity__V1__SessionRecord *s;
    int rc = crm_db_get_msg(crm_call_txn(call), idn->sessions, h, SESSION_HASH_LEN,
                            &crm__identity__v1__session_record__descriptor,
                            crm_arena_allocator(crm_call_arena(call)), (void **)&s);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(UNAUTHENTICATED), "token", "the session is unknown or ended");
    if (rc)
        return crm_call_fail_db(call, rc);
    if (s->expires_at <= crm_call_now(call))
        return crm_call_fail(call, CODE(UNAUTHENTICATED), "token", "the session has expired");
    user_rec_t *rec;
    if (identity_user_get(call, s->user_id, &rec) != 0 || !rec->user->active)
        return crm_call_fail(call, CODE(UNAUTHENTICATED), "token", "the session's user is inactive");
    p->user_id = rec->user->id;
    p->login = rec->user->login;
    p->sales_access = rec->user->sales_access;
    p->hr_access = rec->user->hr_access;
    p->is_admin = rec->user->is_admin;
    p->team_ids = rec->user->team_ids;
    p->n_team_ids = rec->user->n_team_ids;
    p->session_id.data = h;
    p->session_id.len = SESSION_HASH_LEN;
    p->expires_at = s->expires_at;
    return 0;
}

/* --- users -------------------------------------------------------------------- */

static int put_invite(crm_call_t *call, int64_t user_id, char **token_out, int64_t *expires)
{
    identity_t *idn = crm_call_ctx(call);
    char *token = crm_arena_alloc(crm_call_arena(call), TOKEN_TEXT);
    uint8_t h[SESSION_HASH_LEN];
    new_token(token, h);
    Crm__Identity__V1__InviteRecord inv = CRM__IDENTITY__V1__INVITE_RECORD__INIT;
    inv.user_id = user_id;
    inv.expires_at = crm_call_now(call) + idn->invite_ttl_us;
    int rc = crm_db_put_msg(crm_call_txn(call), idn->invites, h, sizeof h, &inv.base);
    if (rc)
        return crm_call_fail_db(call, rc);
    *token_out = token;
    *expires = inv.expires_at;
    return 0;
}

static int create_user(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__CreateUserRequest *req = (const void *)in;
    Crm__Identity__V1__CreateUserReply *reply = (void *)out;
    crm_status_t st;
    if (!identity_is_admin(call))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL, "only administrators create users");
    if (check_login(call, req->login) != 0)
        return -1;
    if (crm_check_text(&st, "name", req->name, 1, 128) != 0 ||
        crm_check_email(&st, "email", req->email, 1) != 0)
        return crm_call_fail_status(call, &st);
    if (req->password[0] && check_password(call, "password", req->password) != 0)
        return -1;
    if (check_enums(call, req->sales_access, req->hr_access) != 0)
        return -1;

    char lower[LOGIN_MAX + 1];
    lower_login(lower, req->login, sizeof lower);
    MDB_val k = {strlen(lower), lower}, d;
    int rc = mdb_get(crm_call_txn(call), idn->logins, &k, &d);
    if (rc == 0)
        return crm_call_fail(call, CODE(ALREADY_EXISTS), "login", "login \"%s\" is taken", req->login);
    if (rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);

    uint64_t id;
    if ((rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), "user", &id)) != 0)
        return crm_call_fail_db(call, rc);
    user_t *u = crm_call_new(call, &crm__identity__v1__user__descriptor);
    u->id = (int64_t)id;
    u->login = req->login;
    u->name = req->name;
    u->email = req->email;
    u->sales_access = req->sales_access;
    u->hr_access = req->hr_access;
    u->is_admin = req->is_admin;
    u->active = 1;
    u->created_at = u->updated_at = crm_call_now(call);
    user_rec_t *rec = crm_call_new(call, &crm__identity__v1__user_record__descriptor);
    rec->user = u;
    if (req->password[0]) {
        const pw_job_t *j = crm_call_work_result(call);
        if (!j)
            return pw_defer(call, NULL, NULL, req->password);
        if (pw_fresh_hash(call, j, &rec->password_hash) != 0)
            return -1;
    }
    uint8_t idkey[8];
    crm_key_put_u64(idkey, id);
    MDB_val v = {8, idkey};
    if ((rc = mdb_put(crm_call_txn(call), idn->logins, &k, &v, 0)) != 0)
        return crm_call_fail_db(call, rc);
    if (identity_user_put(call, rec) != 0)
        return -1;
    if (!req->password[0] &&
        put_invite(call, u->id, &reply->invite_token, &reply->invite_expires_at) != 0)
        return -1;
    if (identity_emit_user(call, "user.created", u, NULL) != 0)
        return -1;
    reply->user = u;
    crm_log(CRM_LOG_INFO, crm_call_id(call), "user %lld (%s) created", (long long)u->id, u->login);
    return 0;
}

static int get_user(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__GetUserRequest *req = (const void *)in;
    user_rec_t *rec;
    if (identity_user_get(call, req->id, &rec) != 0)
        return -1;
    *(user_t *)out = *rec->user;
    return 0;
}

static int list_users(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__ListUsersRequest *req = (const void *)in;
    Crm__Identity__V1__ListUsersReply *reply = (void *)out;
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, req->page_size, req->page_token, 100, 1000, &size, &after) != 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), idn->users, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->users = crm_arena_alloc(crm_call_arena(call), sizeof *reply->users * size);
    uint8_t key[8];
    crm_key_put_u64(key, after + 1);
    MDB_val k = {8, key}, d;
    uint64_t last = 0;
    int more = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        user_rec_t *rec = crm_call_unpack(call, &crm__identity__v1__user_record__descriptor,
                                          d.mv_data, d.mv_size);
        if (!rec || !rec->user) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!rec->user->active && !req->include_inactive)
            continue;
        if (reply->n_users == size) {
            more = 1;
            break;
        }
        reply->users[reply->n_users++] = rec->user;
        last = (uint64_t)rec->user->id;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (more)
        reply->next_page_token = crm_call_page_token(call, last);
    return 0;
}

static int update_user(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__UpdateUserRequest *req = (const void *)in;
    static const char *const allowed[] = {"name", "email", "sales_access", "hr_access",
                                          "is_admin", "active", "default_team_id", NULL};
    crm_status_t st;
    const Google__Protobuf__FieldMask *m = req->update_mask;
    int self = req->id == crm_call_principal(call)->user_id;
    /* a user chooses their own default team, and nothing else of themselves */
    if (!identity_is_admin(call) && !(self && m && m->n_paths == 1 && crm_mask_has(m, "default_team_id")))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), NULL,
                             "only administrators change users; others only their own default team");
    if (crm_mask_check(&st, req->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    user_rec_t *rec;
    if (identity_user_get(call, req->id, &rec) != 0)
        return -1;
    user_t *old = rec->user, *u = public_user(call, old);
    if (crm_mask_has(m, "name")) {
        if (crm_check_text(&st, "name", req->name, 1, 128) != 0)
            return crm_call_fail_status(call, &st);
        u->name = req->name;
    }
    if (crm_mask_has(m, "email")) {
        if (crm_check_email(&st, "email", req->email, 1) != 0)
            return crm_call_fail_status(call, &st);
        u->email = req->email;
    }
    if (crm_mask_has(m, "sales_access"))
        u->sales_access = req->sales_access;
    if (crm_mask_has(m, "hr_access"))
        u->hr_access = req->hr_access;
    if (check_enums(call, u->sales_access, u->hr_access) != 0)
        return -1;
    if (crm_mask_has(m, "is_admin")) {
        if (self && !req->is_admin)
            return crm_call_fail(call, CODE(FAILED_PRECONDITION), "isAdmin",
                                 "administrators cannot remove their own administrator right");
        u->is_admin = req->is_admin;
    }
    if (crm_mask_has(m, "active")) {
        if (self && !req->active)
            return crm_call_fail(call, CODE(FAILED_PRECONDITION), "active",
                                 "administrators cannot deactivate themselves");
        u->active = req->active;
    }
    if (crm_mask_has(m, "default_team_id")) {
        int member = req->default_team_id == 0;
        for (size_t i = 0; i < u->n_team_ids && !member; i++)
            member = u->team_ids[i] == req->default_team_id;
        if (!member)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "defaultTeamId",
                                 "the default team must be one of the user's teams (or 0)");
        u->default_team_id = req->default_team_id;
    }
    u->updated_at = crm_call_now(call);
    rec->user = u;
    if (identity_user_put(call, rec) != 0)
        return -1;
    if (old->active && !u->active && revoke_sessions(call, u->id, NULL) != 0)
        return -1;
    if (identity_emit_user(call, "user.updated", u, old) != 0)
        return -1;
    *(user_t *)out = *u;
    return 0;
}

static int set_password(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    identity_t *idn = crm_call_ctx(call);
    const Crm__Identity__V1__SetPasswordRequest *req = (const void *)in;
    if (!req->invite_token[0])
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "inviteToken", "inviteToken is required");
    if (check_password(call, "password", req->password) != 0)
        return -1;
    uint8_t h[SESSION_HASH_LEN];
    token_hash(req->invite_token, h);
    Crm__Identity__V1__InviteRecord *inv;
    int rc = crm_db_get_msg(crm_call_txn(call), idn->invites, h, sizeof h,
                            &crm__identity__v1__invite_record__descriptor,
                            crm_arena_allocator(crm_call_arena(call)), (void **)&inv);
    if (rc == MDB_NOTFOUND || (rc == 0 && inv->expires_at <= crm_call_now(call)))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "inviteToken",
                             "the invitation is unknown, used or expired");
    if (rc)
        return crm_call_fail_db(call, rc);
    user_rec_t *rec;
    if (identity_user_get(call, inv->user_id, &rec) != 0)
        return -1;
    if (!rec->user->active)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "inviteToken", "the user is inactive");
    /* an administrator set the password meanwhile: the invitation is spent */
    if (rec->password_hash[0])
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "inviteToken",
                             "the invitation is unknown, used or expired");
    const pw_job_t *j = crm_call_work_result(call);
    if (!j)
        return pw_defer(call, NULL, NULL, req->password);
    if (pw_fresh_hash(call, j, &rec->password_hash) != 0)
        return -1;
    MDB_val k = {sizeof h, h};
    /* single use: the invitation goes in the same transaction */
    if ((rc = mdb_del(crm_call_txn(call), idn->invites, &k, NULL)) != 0)
        return crm_call_fail_db(call, rc);
    return identity_user_put(call, rec);
}

static int change_password(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Identity__V1__ChangePasswordRequest *req = (const void *)in;
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    int64_t target = req->user_id ? req->user_id : p->user_id;
    int self = target == p->user_id;
    if (!self && !p->is_admin)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "userId",
                             "only administrators change other users' passwords");
    if (check_password(call, "newPassword", req->new_password) != 0)
        return -1;
    user_rec_t *rec;
    if (identity_user_get(call, target, &rec) != 0)
        return -1;
    if (self && !req->old_password[0])
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "oldPassword",
                             "oldPassword is required to change one's own password");
    if (self && !rec->password_hash[0])
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "oldPassword", "oldPassword is wrong");
    if (strlen(req->old_password) > PASSWORD_MAX)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "oldPassword", "oldPassword is wrong");
    const pw_job_t *j = crm_call_work_result(call);
    if (!j)
        return pw_defer(call, self ? rec->password_hash : NULL, req->old_password, req->new_password);
    if (self && (!j->checked || strcmp(j->check_hash, rec->password_hash) != 0))
        return crm_call_fail(call, CODE(PERMISSION_DENIED), "oldPassword", "oldPassword is wrong");
    if (pw_fresh_hash(call, j, &rec->password_hash) != 0)
        return -1;
    if (identity_user_put(call, rec) != 0)
        return -1;
    /* other sessions end with the old password; the caller's own stays */
    return revoke_sessions(call, target, self ? p->session_id.data : NULL);
}

/* --- bootstrap ------------------------------------------------------------------ */

typedef struct {
    identity_t *idn;
    const char *password;
    const char *password_file;
    char generated[32];
    int created;
} boot_t;

/* text into path, readable by its owner only, on disk before the
 * administrator it opens is committed. Returns 0 or an errno value. */
static int write_secret(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    size_t n = strlen(text);
    int rc = 0;
    if (fchmod(fd, 0600) != 0 || write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
        rc = errno ? errno : EIO;
    if (close(fd) != 0 && !rc)
        rc = errno;
    return rc;
}

static int bootstrap_txn(MDB_txn *txn, void *arg)
{
    boot_t *b = arg;
    identity_t *idn = b->idn;
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(txn, idn->users, &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc == 0)
        return 0; /* not the first start */
    if (rc != MDB_NOTFOUND)
        return rc;
    const char *pw = b->password;
    if (!pw || !*pw) {
        if (!b->generated[0]) {
            uint8_t raw[12];
            randombytes_buf(raw, sizeof raw);
            sodium_bin2base64(b->generated, sizeof b->generated, raw, sizeof raw,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            /* not to a log: logs are kept, shipped and shown */
            if ((rc = write_secret(b->password_file, b->generated)) != 0) {
                crm_error("cannot write the administrator's password to %s: %s", b->password_file, strerror(rc));
                return rc;
            }
        }
        pw = b->generated;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, pw, strlen(pw), idn->pw_ops, idn->pw_mem) != 0)
        return ENOMEM;
    uint64_t id;
    if ((rc = crm_store_next_id(idn->store, txn, "user", &id)) != 0)
        return rc;
    Crm__Identity__V1__User u = CRM__IDENTITY__V1__USER__INIT;
    u.id = (int64_t)id;
    u.login = "admin";
    u.name = "Administrator";
    u.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER;
    u.hr_access = CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_MANAGER;
    u.is_admin = 1;
    u.active = 1;
    u.created_at = u.updated_at = crm_time_now_us();
    Crm__Identity__V1__UserRecord rec = CRM__IDENTITY__V1__USER_RECORD__INIT;
    rec.user = &u;
    rec.password_hash = hash;
    uint8_t idkey[8];
    crm_key_put_u64(idkey, id);
    MDB_val lk = {5, "admin"}, lv = {8, idkey};
    if ((rc = mdb_put(txn, idn->logins, &lk, &lv, 0)) != 0 ||
        (rc = crm_db_put_id(txn, idn->users, id, &rec.base)) != 0)
        return rc;
    Crm__Identity__V1__UserEvent ev = CRM__IDENTITY__V1__USER_EVENT__INIT;
    ev.user = &u;
    if ((rc = crm_outbox_append(idn->outbox, txn, "user.created", 0, &ev.base, NULL)) != 0 ||
        (rc = crm_store_meta_put_u64(idn->store, txn, USERS_ANNOUNCED, 1)) != 0)
        return rc;
    b->created = 1;
    return 0;
}

/* Every user once more as user.updated, for a store made before the users
 * read model kept logins and e-mails (CSV import names salespeople by
 * them): its consumers learn them without a replay of what may be pruned.
 * A new store is marked announced when its first user is made. */
static int announce_txn(MDB_txn *txn, void *arg)
{
    identity_t *idn = arg;
    uint64_t done;
    int rc = crm_store_meta_get_u64(idn->store, txn, USERS_ANNOUNCED, &done);
    if (rc || done)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, idn->users, &cur)) != 0)
        return rc;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Identity__V1__UserRecord *rec = crm__identity__v1__user_record__unpack(NULL, d.mv_size, d.mv_data);
        if (!rec || !rec->user) {
            if (rec)
                crm__identity__v1__user_record__free_unpacked(rec, NULL);
            rc = MDB_CORRUPTED;
            break;
        }
        Crm__Identity__V1__UserEvent ev = CRM__IDENTITY__V1__USER_EVENT__INIT;
        ev.user = ev.old = rec->user;
        rc = crm_outbox_append(idn->outbox, txn, "user.updated", 0, &ev.base, NULL);
        crm__identity__v1__user_record__free_unpacked(rec, NULL);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    return crm_store_meta_put_u64(idn->store, txn, USERS_ANNOUNCED, 1);
}

int identity_announce_users(identity_t *idn)
{
    int rc = crm_store_write(idn->store, announce_txn, idn);
    if (rc)
        crm_error("announcing the users to the read models: %s", mdb_strerror(rc));
    return rc ? -1 : 0;
}

int identity_bootstrap(identity_t *idn, const char *admin_password, const char *data_dir)
{
    /* the hash an unknown login is checked against, so it costs the same */
    if (crypto_pwhash_str(idn->dummy_hash, "not a password", 14, idn->pw_ops, idn->pw_mem) != 0) {
        crm_error("no memory for argon2id");
        return -1;
    }
    char password_file[4096];
    snprintf(password_file, sizeof password_file, "%s/admin-password", data_dir);
    boot_t b = {idn, admin_password, password_file, "", 0};
    int rc = crm_store_write(idn->store, bootstrap_txn, &b);
    if (rc) {
        crm_error("creating the administrator: %s", rc > 0 ? strerror(rc) : mdb_strerror(rc));
        return -1;
    }
    if (b.created && b.generated[0]) {
        crm_info("administrator created: login admin, password in %s (readable by its owner only)", password_file);
        sodium_memzero(b.generated, sizeof b.generated);
    } else if (b.created) {
        crm_info("administrator created: login admin, password from CRM_ADMIN_PASSWORD");
    }
    return 0;
}

/* --- expiry -------------------------------------------------------------------- */

#define SWEEP_MAX 10000 /* deletions per pass: short write transactions */

typedef struct {
    identity_t *idn;
    int64_t now;
    size_t sessions, invites;
} sweep_t;

static int sweep_txn(MDB_txn *txn, void *arg)
{
    sweep_t *sw = arg;
    identity_t *idn = sw->idn;
    MDB_cursor *cur;
    MDB_val k, d;
    sw->sessions = sw->invites = 0;
    int rc = mdb_cursor_open(txn, idn->sessions, &cur);
    if (rc)
        return rc;
    /* after a delete LMDB leaves the cursor on the next record, which
     * MDB_NEXT then returns */
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && sw->sessions < SWEEP_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Identity__V1__SessionRecord *s =
            crm__identity__v1__session_record__unpack(NULL, d.mv_size, d.mv_data);
        if (s && s->expires_at > sw->now) {
            crm__identity__v1__session_record__free_unpacked(s, NULL);
            continue;
        }
        if (s && k.mv_size == SESSION_HASH_LEN) {
            uint8_t ukey[8 + SESSION_HASH_LEN];
            crm_key_put_u64(ukey, (uint64_t)s->user_id);
            memcpy(ukey + 8, k.mv_data, SESSION_HASH_LEN);
            MDB_val uk = {sizeof ukey, ukey};
            rc = mdb_del(txn, idn->user_sessions, &uk, NULL);
        }
        if (s)
            crm__identity__v1__session_record__free_unpacked(s, NULL);
        if (rc && rc != MDB_NOTFOUND)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        sw->sessions++;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = mdb_cursor_open(txn, idn->invites, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && sw->invites < SWEEP_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        Crm__Identity__V1__InviteRecord *inv =
            crm__identity__v1__invite_record__unpack(NULL, d.mv_size, d.mv_data);
        int expired = !inv || inv->expires_at <= sw->now;
        if (inv)
            crm__identity__v1__invite_record__free_unpacked(inv, NULL);
        if (expired) {
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
            sw->invites++;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void identity_sweep(identity_t *idn)
{
    sweep_t sw = {idn, crm_time_now_us(), 0, 0};
    int rc = crm_store_write(idn->store, sweep_txn, &sw);
    if (rc)
        crm_warn("expiring sessions: %s", mdb_strerror(rc));
    else if (sw.sessions || sw.invites)
        crm_info("expired %zu sessions and %zu invitations", sw.sessions, sw.invites);
}

/* --- method tables -------------------------------------------------------------- */

static const crm_method_t identity_methods[] = {
    {"Login", login, CRM_METHOD_WRITE | CRM_METHOD_PUBLIC},
    {"Logout", logout, CRM_METHOD_WRITE},
    {"WhoAmI", whoami, 0},
    {"CreateUser", create_user, CRM_METHOD_WRITE},
    {"GetUser", get_user, 0},
    {"ListUsers", list_users, 0},
    {"UpdateUser", update_user, CRM_METHOD_WRITE},
    {"SetPassword", set_password, CRM_METHOD_WRITE | CRM_METHOD_PUBLIC},
    {"ChangePassword", change_password, CRM_METHOD_WRITE},
    {"CreateTeam", identity_create_team, CRM_METHOD_WRITE},
    {"UpdateTeam", identity_update_team, CRM_METHOD_WRITE},
    {"GetTeam", identity_get_team, 0},
    {"ListTeams", identity_list_teams, 0},
};
const crm_rpc_api_t identity_api = CRM_RPC_API(crm__identity__v1__identity__descriptor, identity_methods);

static const crm_method_t identity_internal_methods[] = {
    {"Authenticate", authenticate, CRM_METHOD_PUBLIC},
};
const crm_rpc_api_t identity_internal_api =
    CRM_RPC_API(crm__identity__v1__identity_internal__descriptor, identity_internal_methods);
