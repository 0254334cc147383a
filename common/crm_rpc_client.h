#ifndef CRM_RPC_CLIENT_H
#define CRM_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include "crm_status.h"
#include "rpc.pb-c.h"

/* The gateway's asynchronous client of one service: a DEALER socket with
 * ZMQ_IMMEDIATE (a call to a service that is down fails at once with
 * unavailable instead of waiting in a queue), request ids, and a deadline
 * per call after which the caller gets an answer whatever the service does.
 * ZeroMQ reconnects by itself, so calls succeed again as soon as the service
 * is back. */
typedef struct crm_rpc_client crm_rpc_client_t;

/* Called exactly once per accepted call. On success st->code is CODE_OK
 * and reply is the service's reply (its body the method's output). On
 * failure reply may be NULL (local timeout). Both live only during the call. */
typedef void (crm_rpc_done_fn)(void *arg, const crm_status_t *st,
                               const Crm__Rpc__V1__RpcReply *reply);

/* Connects to endpoint; name is the service's name for messages. Returns
 * NULL on error (logged). */
crm_rpc_client_t *crm_rpc_client_new(struct ev_loop *loop, void *zctx, const char *name,
                                     const char *endpoint);

/* Answers every pending call with unavailable (its done is called), then
 * frees the client; sets *self_p to NULL. */
void crm_rpc_client_destroy(crm_rpc_client_t **self_p);

/* Sends req (its id is assigned here) with deadline req->deadline (Unix us;
 * required). Returns 0 and later calls done; or -1 with *st set
 * (unavailable when the service is not connected) and done never called. */
int crm_rpc_client_call(crm_rpc_client_t *self, Crm__Rpc__V1__RpcRequest *req,
                        crm_rpc_done_fn *done, void *arg, crm_status_t *st);

size_t crm_rpc_client_in_flight(const crm_rpc_client_t *self);
const char *crm_rpc_client_name(const crm_rpc_client_t *self);

#endif
