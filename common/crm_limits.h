#ifndef CRM_LIMITS_H
#define CRM_LIMITS_H

#include <stddef.h>
#include <stdint.h>

/* Every size a request may have, in one table that the gateway and every
 * service read (docs/THREATS.md, "Limits"). The gateway refuses a body past
 * its method's limit before it decodes or forwards it, and each service sizes
 * its RPC socket and checks each body against the same numbers, so no service
 * ever meets a message the gateway let through but it refuses (libzmq drops
 * the whole connection, and every call queued on it, for one message over a
 * socket's size). */

/* The largest attachment a message may carry, in bytes. */
#define CRM_LIMIT_ATTACHMENT 10485760 /* 10 MiB */
/* What an RpcRequest adds around a body: method name, principal, marks,
 * idempotency key, peer address. */
#define CRM_LIMIT_ENVELOPE (64 << 10)
/* The longest idempotency key, in bytes. */
#define CRM_LIMIT_IDEMPOTENCY_KEY 128
/* One page of ImportRecords: the CSV text's bytes and its data rows. */
#define CRM_LIMIT_IMPORT_PAGE (4 << 20)
#define CRM_LIMIT_IMPORT_ROWS 5000
/* The longest session token a client may present, in bytes. */
#define CRM_LIMIT_TOKEN 127
/* Decoding a body may allocate at most this many times its size (plus
 * CRM_LIMIT_DECODE_SLACK): a body of tiny elements that would unfold into
 * far more memory than it took to send is refused instead. */
#define CRM_LIMIT_DECODE_FACTOR 8
#define CRM_LIMIT_DECODE_SLACK (64 << 10)

/* The largest request body of method ("crm.pipeline.v1.Pipeline/CreateLead"),
 * in protobuf bytes; a method the table does not name gets the default.
 * Can't fail. */
int64_t crm_limit_request(const char *method);

/* The largest JSON text the HTTP door reads for a method whose protobuf
 * limit is request: room for base64 (4/3) and escapes. Can't fail. */
int64_t crm_limit_json(int64_t request);

/* The largest RpcRequest that the service whose methods are named
 * "<service_prefix>..." (e.g. "crm.activities.v1.") can meet: its largest
 * method's limit plus the envelope; "" gives the largest of all. Can't
 * fail. */
int64_t crm_limit_service(const char *service_prefix);

/* What decoding a body of len bytes may allocate. Can't fail. */
size_t crm_limit_decode_budget(size_t len);

/* The table itself, for documentation and tests: n entries. */
typedef struct {
    const char *method; /* full name, or a prefix ending in '.' or '/' */
    int64_t request;    /* bytes */
    const char *why;
} crm_limit_entry_t;
const crm_limit_entry_t *crm_limit_table(size_t *n);

#endif
