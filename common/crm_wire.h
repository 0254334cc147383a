#ifndef CRM_WIRE_H
#define CRM_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Reads the top-level fields of a protobuf message in place, without
 * unpacking it: the gateway reads a ClientRequest's method and token this
 * way, so that nothing of a stranger's body is copied or decoded before the
 * session is checked. protobuf-c unpacks a message whole and has no lazy
 * reader, hence this small one (fuzzed with the envelope: fuzz_wire). */
typedef struct {
    uint32_t number;      /* field number */
    int wire_type;        /* 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    uint64_t varint;      /* wire type 0, 1 and 5: the value */
    const uint8_t *data;  /* wire type 2: the bytes, inside the buffer */
    size_t len;
} crm_wire_field_t;

/* The field at *pos of buf[0..len) into *f; *pos moves past it. Returns 1
 * for a field, 0 at the end, -1 if the bytes are not well-formed protobuf
 * (groups, wire types 3 and 4, are refused as malformed). Can't fail
 * otherwise. */
int crm_wire_next(const uint8_t *buf, size_t len, size_t *pos, crm_wire_field_t *f);

/* Writers, for a message spliced from stored bytes rather than decoded and
 * packed again: each writes at out, which has room for CRM_WIRE_HEAD_MAX
 * bytes, and returns how many it wrote. */
#define CRM_WIRE_HEAD_MAX 15 /* a key (5 bytes at most) and a varint (10) */
size_t crm_wire_put_varint(uint8_t *out, uint64_t v);
/* A varint field: nothing for 0, as protobuf leaves a proto3 default out. */
size_t crm_wire_put_uint(uint8_t *out, uint32_t number, uint64_t v);
/* A length-delimited field's key and length; its len bytes go after. */
size_t crm_wire_put_bytes_head(uint8_t *out, uint32_t number, size_t len);

#endif
