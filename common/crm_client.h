#ifndef CRM_CLIENT_H
#define CRM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "crm_status.h"

/* A blocking client of the gateway's ZeroMQ front door (a DEALER socket),
 * for crmctl, tests and benchmarks: one ClientRequest out, the ClientReply
 * with the same id back. */
typedef struct crm_client crm_client_t;

/* Connects to endpoint. Returns NULL on error (errno set). */
crm_client_t *crm_client_new(const char *endpoint);
void crm_client_destroy(crm_client_t **self_p);

/* Calls method with a packed body. Returns 0 when the gateway answered
 * (*st holds its status; on OK *out is the malloc'd reply body, which the
 * caller frees), or -1 when no answer came within timeout_ms (*st:
 * unavailable). token and idem may be NULL. */
int crm_client_call(crm_client_t *self, const char *method, const char *token, const char *idem,
                    const void *body, size_t len, int timeout_ms, crm_status_t *st, uint8_t **out,
                    size_t *out_len);

/* The same with messages: returns the reply decoded as out_desc (free it
 * with protobuf_c_message_free_unpacked(m, NULL)), or NULL with *st set. */
void *crm_client_call_msg(crm_client_t *self, const char *method, const char *token,
                          const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                          int timeout_ms, crm_status_t *st);

/* Sends raw bytes as one frame (for tests of malformed input). Returns 0 or -1. */
int crm_client_send_raw(crm_client_t *self, const void *data, size_t len);
/* Receives one raw frame within timeout_ms. Returns its size, or -1; *out is
 * malloc'd. */
long crm_client_recv_raw(crm_client_t *self, int timeout_ms, uint8_t **out);

#endif
