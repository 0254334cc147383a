#include "crm_wire.h"

static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return -1;
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1; /* more than ten bytes */
}

static int read_fixed(const uint8_t *buf, size_t len, size_t *pos, int bytes, uint64_t *out)
{
    if (len - *pos < (size_t)bytes)
        return -1;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | buf[*pos + (size_t)i];
    *pos += (size_t)bytes;
    *out = v;
    return 0;
}

int crm_wire_next(const uint8_t *buf, size_t len, size_t *pos, crm_wire_field_t *f)
{
    if (*pos >= len)
        return 0;
    uint64_t key;
    if (read_varint(buf, len, pos, &key) != 0 || key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return -1;
    f->number = (uint32_t)(key >> 3);
    f->wire_type = (int)(key & 7);
    f->data = NULL;
    f->len = 0;
    f->varint = 0;
    switch (f->wire_type) {
    case 0:
        return read_varint(buf, len, pos, &f->varint) == 0 ? 1 : -1;
    case 1:
        return read_fixed(buf, len, pos, 8, &f->varint) == 0 ? 1 : -1;
    case 5:
        return read_fixed(buf, len, pos, 4, &f->varint) == 0 ? 1 : -1;
    case 2: {
        uint64_t n;
        if (read_varint(buf, len, pos, &n) != 0 || n > len - *pos)
            return -1;
        f->data = buf + *pos;
        f->len = (size_t)n;
        *pos += (size_t)n;
        return 1;
    }
    default:
        return -1;
    }
}

size_t crm_wire_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

size_t crm_wire_put_uint(uint8_t *out, uint32_t number, uint64_t v)
{
    if (!v)
        return 0;
    size_t n = crm_wire_put_varint(out, (uint64_t)number << 3);
    return n + crm_wire_put_varint(out + n, v);
}

size_t crm_wire_put_bytes_head(uint8_t *out, uint32_t number, size_t len)
{
    size_t n = crm_wire_put_varint(out, (uint64_t)number << 3 | 2);
    return n + crm_wire_put_varint(out + n, len);
}
