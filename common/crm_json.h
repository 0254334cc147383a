#ifndef CRM_JSON_H
#define CRM_JSON_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "crm_status.h"

/* A generic codec between protobuf-c messages and the proto3 JSON mapping,
 * driven only by protobuf-c descriptors: lowerCamelCase names (the original
 * proto names are accepted on input too), enums by name (numbers accepted on
 * input), 64-bit integers as strings (numbers accepted on input), bytes as
 * base64, repeated fields as arrays, nested messages as objects, oneofs,
 * google.protobuf.FieldMask as a comma-separated string of lowerCamelCase
 * paths. Default values are left out of the output. */

enum {
    /* When the message has an update_mask (google.protobuf.FieldMask) field
     * and the JSON object does not set it, fill it with the names of the
     * top-level keys present other than "id" (as grpc-gateway; see ARCHITECTURE.md, Data conventions). */
    CRM_JSON_FILL_UPDATE_MASK = 1 << 0,
};

/* Decodes len bytes of JSON text into a new message of type desc, allocated
 * with alloc (NULL: protobuf-c's default allocator), so that
 * protobuf_c_message_free_unpacked(msg, alloc) frees it. An empty body
 * decodes as an empty message. Nesting deeper than 64 levels is refused.
 * On error, NULL is returned and *st says why: CODE_INVALID_ARGUMENT (or
 * CODE_MALFORMED for text that is not JSON) with the offending field's JSON
 * path (e.g. "user.salesAccess") in st->field. A field given under both
 * its names, or two members of one oneof, is invalid_argument; FieldMask
 * paths must be lowerCamelCase. If alloc returns NULL the result is
 * CODE_RESOURCE_EXHAUSTED. With CRM_JSON_FILL_UPDATE_MASK an empty body
 * gets an empty mask (update nothing), not a missing one. */
ProtobufCMessage *crm_json_decode(const ProtobufCMessageDescriptor *desc,
                                  const char *json, size_t len, unsigned flags,
                                  ProtobufCAllocator *alloc, crm_status_t *st);

/* Encodes msg as compact JSON. Returns a NUL-terminated malloc'd string that
 * the caller frees; *len_out (if not NULL) gets its length. Can't fail
 * (out-of-memory aborts). */
char *crm_json_encode(const ProtobufCMessage *msg, size_t *len_out);

/* 1 if key names the proto field proto_name ("sales_access") by either its
 * JSON name ("salesAccess") or the proto name itself; else 0. */
int crm_json_name_matches(const char *key, const char *proto_name);

#endif
