#ifndef IDENTITY_H
#define IDENTITY_H

#include <sodium.h>
#include <stdint.h>
#include "crm_map.h"
#include "crm_outbox.h"
#include "crm_rpc_server.h"
#include "crm_store.h"
#include "identity.pb-c.h"

/* The identity service: users, sessions, invitations and sales teams. */

#define IDENTITY_SCHEMA 1
#define SESSION_HASH_LEN 32

typedef struct {
    crm_store_t *store;
    crm_outbox_t *outbox;
    MDB_dbi users;         /* user id → UserRecord */
    MDB_dbi logins;        /* lower-case login → user id */
    MDB_dbi sessions;      /* token hash → SessionRecord */
    MDB_dbi user_sessions; /* user id, token hash → (empty): to revoke them all */
    MDB_dbi invites;       /* token hash → InviteRecord */
    MDB_dbi teams;         /* team id → Team */
    int64_t session_ttl_us;
    int64_t invite_ttl_us;
    unsigned long long pw_ops;
    size_t pw_mem;
    int login_max_failures;
    int64_t login_lock_us;
    crm_map_t *throttle;   /* hash of lower-case login → throttle entry */
    char dummy_hash[crypto_pwhash_STRBYTES];
} identity_t;

/* crm.identity.v1.Identity and IdentityInternal (users.c). */
extern const crm_rpc_api_t identity_api, identity_internal_api;

/* At start: makes the dummy hash unknown logins are checked against and
 * creates the administrator on first start (no user yet), with
 * admin_password or, if that is empty, a generated one written to
 * data_dir/admin-password (mode 0600) before the administrator is
 * committed. Returns 0, or -1 with the reason logged. */
int identity_bootstrap(identity_t *id, const char *admin_password, const char *data_dir);
/* Once per store: every user as user.updated, so that read models made
 * before they kept logins and e-mails learn them. Returns 0 or -1 (logged). */
int identity_announce_users(identity_t *idn);

/* Deletes expired sessions and invitations (a bounded number per call).
 * Can't fail: a failure is logged and the next pass tries again. */
void identity_sweep(identity_t *id);

/* Handlers shared between users.c and teams.c. */
int identity_user_get(crm_call_t *call, int64_t id, Crm__Identity__V1__UserRecord **out);
int identity_user_put(crm_call_t *call, Crm__Identity__V1__UserRecord *rec);
int identity_emit_user(crm_call_t *call, const char *type, Crm__Identity__V1__User *user,
                       Crm__Identity__V1__User *old);
int identity_is_admin(crm_call_t *call);
int identity_is_manager(crm_call_t *call);

int identity_create_team(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int identity_update_team(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int identity_get_team(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int identity_list_teams(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

#endif
