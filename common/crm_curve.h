#ifndef CRM_CURVE_H
#define CRM_CURVE_H

#include <ev.h>

/* Optional CurveZMQ on every socket between services and at the ZeroMQ
 * front door, so traffic between hosts is encrypted and only known services
 * connect.
 *
 * Keys live in one folder (CRM_CURVE_DIR), as `crmctl keygen` writes them:
 * <name>.key holds a service's secret key, <name>.pub each service's public
 * key, both as 40 characters of Z85. A host needs its own .key and every
 * .pub. When configured, each bound socket of a service is a CURVE server
 * whose clients must present one of the .pub keys that its role admits (a
 * ZAP handler on the service's loop checks), except the gateway's front
 * door, which encrypts but lets any client key in: clients there
 * authenticate with their session token. Each connecting socket is a CURVE
 * client with the process's key (or a fresh one when it has none) and the
 * public key of the service it connects to.
 *
 * Unconfigured, every call below does nothing and succeeds. The
 * configuration is one per process: set it once, before making sockets. */

/* Loads dir's keys for the process named self (its secret key is
 * dir/self.key; self may be NULL for a pure client such as crmctl, which
 * then uses a fresh key pair). With zctx and loop, also serves ZAP on the
 * loop for server sockets. dir NULL or "" leaves CURVE off. Returns 0, or
 * -1 with the reason logged (a missing or malformed key, no CURVE in
 * libzmq). */
int crm_curve_configure(void *zctx, struct ev_loop *loop, const char *dir, const char *self);

/* 1 if configured. */
int crm_curve_enabled(void);

/* Who may connect to a server socket: its role admits the keys of those
 * who need it, by their name (NAME.pub), and no others. */
typedef enum {
    CRM_CURVE_OPEN,   /* any key: the gateway's front door (clients prove themselves with a session) */
    CRM_CURVE_RPC,    /* a service's methods: gateway, operator (crmctl consumers) */
    CRM_CURVE_EVENTS, /* a producer's events and replay: the services (gateway included) */
    CRM_CURVE_STREAM, /* notifications' live stream: gateway, crmctl (the stream readers' key, crmctl tail) */
} crm_curve_role_t;

/* Makes socket, before it binds, a CURVE server for role. Returns 0 or -1
 * (logged). */
int crm_curve_server(void *socket, crm_curve_role_t role);

/* Makes socket, before it connects, a CURVE client of the service named
 * server (whose dir/server.pub must exist). Returns 0 or -1 (logged). */
int crm_curve_client(void *socket, const char *server);

/* Stops the ZAP handler and forgets the keys. Call before zmq_ctx_term. */
void crm_curve_shutdown(void);

/* Writes a new key pair for name into dir (created if needed): name.key
 * (mode 0600) and name.pub. Returns 0 or -1 (logged). */
int crm_curve_keygen(const char *dir, const char *name);

#endif
