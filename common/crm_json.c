#include "crm_json.h"
#include "crm_limits.h"
#include "crm_mem.h"
#include "crm_validate.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <malloc.h>
#include <sodium.h>

#include "google/protobuf/field_mask.pb-c.h"

/* Deepest nesting of JSON objects and arrays accepted. Our messages nest a
 * few levels; the limit keeps every walk's recursion short whatever a client
 * sends (jansson itself would go to 2048). */
#define JSON_MAX_DEPTH 64

#define CODE_INVALID CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT
#define CODE_MALFORMED CRM__RPC__V1__CODE__CODE_MALFORMED

#define MEMBER(msg, offset) ((void *)((char *)(msg) + (offset)))
#define CONST_MEMBER(msg, offset) ((const void *)((const char *)(msg) + (offset)))

/* --- names ------------------------------------------------------------- */

/* The next character of a proto name's proto3 JSON name (protoc's
 * ToJsonName: drop each '_' and upper-case the letter after it), moving
 * *name past what it used; '\0' at the end. */
static char camel_next(const char **name)
{
    const char *p = *name;
    bool upper = false;
    for (; *p == '_'; p++)
        upper = true;
    char c = *p;
    if (!c) {
        *name = p;
        return '\0';
    }
    *name = p + 1;
    return upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Writes the proto3 JSON name of a proto name into out, truncated to cap
 * bytes with a NUL; returns the full length. out may be NULL when cap is 0. */
static size_t camel_copy(char *out, size_t cap, const char *name)
{
    size_t n = 0;
    for (char c; (c = camel_next(&name)) != '\0'; n++)
        if (n + 1 < cap)
            out[n] = c;
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}

static bool key_is_camel_of(const char *key, const char *name)
{
    for (char c; (c = camel_next(&name)) != '\0';)
        if (*key++ != c)
            return false;
    return *key == '\0';
}

int crm_json_name_matches(const char *key, const char *proto_name)
{
    return key_is_camel_of(key, proto_name) || strcmp(key, proto_name) == 0;
}

/* The field a JSON key names, by JSON name or by proto name; NULL if none. */
static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
                                                  const char *key)
{
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (crm_json_name_matches(key, f->name))
            return f;
    }
    return NULL;
}

static bool is_field_mask(const ProtobufCMessageDescriptor *desc)
{
    return desc && strcmp(desc->name, "google.protobuf.FieldMask") == 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* A FieldMask path as JSON carries it: lowerCamelCase names joined by dots.
 * Underscores are refused, as protobuf's own parsers do, so that every
 * accepted path converts to snake_case and back unchanged. */
static bool is_camel_path(const char *s, size_t len)
{
    bool segment_start = true;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (segment_start) {
            if (c < 'a' || c > 'z')
                return false;
            segment_start = false;
        } else if (c == '.') {
            segment_start = true;
        } else if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !is_digit(c)) {
            return false;
        }
    }
    return !segment_start;
}

/* --- UTF-8 ------------------------------------------------------------- */

/* A malloc'd copy of s with every byte that is not part of well-formed
 * UTF-8 replaced by U+FFFD. */
static char *utf8_scrub(const char *s, size_t len)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    char *out = crm_malloc(len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t seq = crm_utf8_sequence_len(s + i, len - i);
        if (seq) {
            memcpy(out + n, s + i, seq);
            n += seq;
            i += seq;
        } else {
            memcpy(out + n, replacement, 3);
            n += 3;
            i++;
        }
    }
    out[n] = '\0';
    return out;
}

/* Copies s into out (cap bytes with the NUL) as valid UTF-8: a byte outside
 * a well-formed sequence becomes '?', and a sequence that does not fit is
 * left out whole. */
static void utf8_clean_copy(char *out, size_t cap, const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t seq = crm_utf8_sequence_len(s + i, len - i);
        size_t take = seq ? seq : 1;
        if (n + take >= cap)
            break;
        if (seq)
            memcpy(out + n, s + i, seq);
        else
            out[n] = '?';
        n += take;
        i += take;
    }
    out[n] = '\0';
}

/* crm_status_set for text that may quote the client's bytes (keys, values,
 * jansson's "near '...'"): the status reaches the client as JSON, so it
 * must stay UTF-8 even where it is cut to fit. Returns -1. */
static int set_status(crm_status_t *st, Crm__Rpc__V1__Code code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int set_status(crm_status_t *st, Crm__Rpc__V1__Code code, const char *field,
                      const char *fmt, ...)
{
    char text[512], clean_text[sizeof st->message], clean_field[sizeof st->field];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    utf8_clean_copy(clean_text, sizeof clean_text, text);
    utf8_clean_copy(clean_field, sizeof clean_field, field ? field : "");
    return crm_status_set(st, code, clean_field, "%s", clean_text);
}

/* --- decoding ---------------------------------------------------------- */

/* Every jansson allocation is counted, so that decoding one body can be held
 * to a budget in proportion to its size (crm_limit_decode_budget): a body
 * of tiny elements ({"a":[{},{},...]}) unfolds into some 70 times its
 * bytes as a jansson tree, which is how a few requests could take a
 * gigabyte. The processes are single-threaded where they decode. */
typedef struct {
    size_t live;  /* bytes jansson holds now */
    size_t limit; /* while a decode runs: live may not pass this */
    int on;
    int hit;      /* an allocation was refused for the budget */
} json_budget_t;

static json_budget_t budget_;

/* Sizes come from malloc_usable_size, not a header, so that text jansson
 * hands out (json_dumps) may still be freed with free(): such a block then
 * stays counted, which only matters relative to a decode's start. */
static void *budget_malloc(size_t size)
{
    if (budget_.on && budget_.live + size > budget_.limit) {
        budget_.hit = 1;
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        budget_.live += malloc_usable_size(p);
    return p;
}

static void budget_free(void *p)
{
    if (p)
        budget_.live -= malloc_usable_size(p);
    free(p);
}

/* Before main, so that no jansson block predates the counting ones. */
__attribute__((constructor)) static void budget_install(void)
{
    json_set_alloc_funcs(budget_malloc, budget_free);
}

typedef struct {
    ProtobufCAllocator *alloc;
    crm_status_t *st;
    size_t spent;  /* bytes of the message allocated so far */
    size_t limit;  /* spent plus jansson's tree may not pass this */
    size_t path_len;
    char path[256]; /* JSON path of the value being decoded, for errors */
} decoder_t;

static void *default_alloc(void *data, size_t size)
{
    (void)data;
    return crm_malloc(size);
}

static void default_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

/* Matches protobuf-c's own default allocator (malloc and free), which
 * protobuf_c_message_free_unpacked uses when given NULL. */
static ProtobufCAllocator default_allocator = {
    .alloc = default_alloc,
    .free = default_free,
    .allocator_data = NULL,
};

/* Appends to the error path; returns the length to restore with path_pop.
 * A path too long for the buffer is cut: st->field is shorter anyway. */
static size_t path_push(decoder_t *dec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(decoder_t *dec, const char *fmt, ...)
{
    size_t old = dec->path_len, room = sizeof dec->path - old;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dec->path + old, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    dec->path_len = (size_t)n < room ? old + (size_t)n : sizeof dec->path - 1;
    return old;
}

static size_t path_push_field(decoder_t *dec, const ProtobufCFieldDescriptor *f)
{
    size_t old = dec->path_len;
    if (old && old + 1 < sizeof dec->path)
        dec->path[dec->path_len++] = '.';
    size_t n = camel_copy(dec->path + dec->path_len, sizeof dec->path - dec->path_len, f->name);
    dec->path_len = dec->path_len + n < sizeof dec->path ? dec->path_len + n : sizeof dec->path - 1;
    return old;
}

static void path_pop(decoder_t *dec, size_t old)
{
    dec->path_len = old;
    dec->path[old] = '\0';
}

/* Fails the decode with invalid_argument at the current path; returns -1. */
static int decode_error(decoder_t *dec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int decode_error(decoder_t *dec, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (dec->path_len == 0)
        return set_status(dec->st, CODE_INVALID, NULL, "%s", what);
    return set_status(dec->st, CODE_INVALID, dec->path, "%s: %s", dec->path, what);
}

/* A caller's allocator may have a budget (an arena with a cap, a test's
 * failing allocator): running out is an error for this request only. */
static void *dec_alloc(decoder_t *dec, size_t size)
{
    if (dec->spent + size + (budget_.on ? budget_.live : 0) > dec->limit) {
        set_status(dec->st, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, dec->path,
                   "the request unfolds to more than %zu bytes; send fewer or larger elements", dec->limit);
        return NULL;
    }
    dec->spent += size;
    void *p = dec->alloc->alloc(dec->alloc->allocator_data, size ? size : 1);
    if (!p)
        set_status(dec->st, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, dec->path,
                       "out of memory decoding the request");
    return p;
}

static void *dec_alloc_array(decoder_t *dec, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        set_status(dec->st, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, dec->path,
                       "request too large");
        return NULL;
    }
    void *p = dec_alloc(dec, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static char *dec_strndup(decoder_t *dec, const char *s, size_t len)
{
    char *p = dec_alloc(dec, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static ProtobufCMessage *dec_new_message(decoder_t *dec, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *msg = dec_alloc(dec, desc->sizeof_message);
    if (msg)
        protobuf_c_message_init(desc, msg);
    return msg;
}

static const char *type_name(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32: return "int32";
    case PROTOBUF_C_TYPE_SINT32: return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
    case PROTOBUF_C_TYPE_UINT32: return "uint32";
    case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
    case PROTOBUF_C_TYPE_INT64: return "int64";
    case PROTOBUF_C_TYPE_SINT64: return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
    case PROTOBUF_C_TYPE_UINT64: return "uint64";
    case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT: return "float";
    case PROTOBUF_C_TYPE_DOUBLE: return "double";
    case PROTOBUF_C_TYPE_BOOL: return "bool";
    case PROTOBUF_C_TYPE_ENUM: return "enum";
    case PROTOBUF_C_TYPE_STRING: return "string";
    case PROTOBUF_C_TYPE_BYTES: return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE: return "message";
    }
    return "value";
}

/* Size of one element of a repeated field's array. */
static size_t element_size(ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    default:
        return sizeof(uint32_t); /* 32-bit integers and enums */
    }
}

/* JSON's number grammar, for numbers that arrive quoted; strtod alone would
 * also take "inf", hex and leading blanks. */
static bool is_json_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-')
        i++;
    if (i == len || !is_digit(s[i]))
        return false;
    if (s[i] == '0')
        i++;
    else
        while (i < len && is_digit(s[i]))
            i++;
    if (i < len && s[i] == '.') {
        i++;
        if (i == len || !is_digit(s[i]))
            return false;
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i == len || !is_digit(s[i]))
            return false;
        while (i < len && is_digit(s[i]))
            i++;
    }
    return i == len;
}

typedef enum { INT_OK, INT_NOT_INTEGER, INT_OUT_OF_RANGE } int_parse_t;

/* Integers are parsed to sign and magnitude, wide enough for int64 and
 * uint64 alike, then range-checked for the field's type. */
static int_parse_t integer_from_double(double d, bool *neg, uint64_t *mag)
{
    if (!isfinite(d) || d != trunc(d))
        return INT_NOT_INTEGER;
    if (fabs(d) >= 18446744073709551616.0)
        return INT_OUT_OF_RANGE;
    *neg = d < 0;
    *mag = (uint64_t)fabs(d);
    return INT_OK;
}

/* Decimal digits are read exactly (a double would round 64-bit values);
 * other number forms such as "1e3" go through strtod. */
static int_parse_t integer_from_string(const char *s, size_t len, bool *neg, uint64_t *mag)
{
    size_t start = len > 0 && s[0] == '-';
    bool plain = start < len, overflow = false;
    uint64_t m = 0;
    for (size_t i = start; i < len && plain; i++) {
        if (!is_digit(s[i])) {
            plain = false;
            break;
        }
        unsigned digit = (unsigned)(s[i] - '0');
        if (overflow || m > (UINT64_MAX - digit) / 10)
            overflow = true;
        else
            m = m * 10 + digit;
    }
    if (plain) {
        if (overflow)
            return INT_OUT_OF_RANGE;
        *neg = start == 1;
        *mag = m;
        return INT_OK;
    }
    if (!is_json_number(s, len))
        return INT_NOT_INTEGER;
    return integer_from_double(strtod(s, NULL), neg, mag);
}

/* Stores sign and magnitude as the field's integer type; -1 if out of range. */
static int store_integer(ProtobufCType type, bool neg, uint64_t mag, void *out)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (mag > (neg ? UINT64_C(2147483648) : UINT64_C(2147483647)))
            return -1;
        *(int32_t *)out = (int32_t)(neg ? -(int64_t)mag : (int64_t)mag);
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((neg && mag) || mag > UINT32_MAX)
            return -1;
        *(uint32_t *)out = (uint32_t)mag;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (mag > (neg ? UINT64_C(1) << 63 : (uint64_t)INT64_MAX))
            return -1;
        if (!neg)
            *(int64_t *)out = (int64_t)mag;
        else
            *(int64_t *)out = mag == UINT64_C(1) << 63 ? INT64_MIN : -(int64_t)mag;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (neg && mag)
            return -1;
        *(uint64_t *)out = mag;
        return 0;
    default:
        return -1;
    }
}

static int decode_integer(decoder_t *dec, ProtobufCType type, json_t *v, void *out)
{
    bool neg = false;
    uint64_t mag = 0;
    int_parse_t r;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        neg = x < 0;
        mag = neg ? 0 - (uint64_t)x : (uint64_t)x;
        r = INT_OK;
    } else if (json_is_real(v)) {
        r = integer_from_double(json_real_value(v), &neg, &mag);
    } else if (json_is_string(v)) {
        r = integer_from_string(json_string_value(v), json_string_length(v), &neg, &mag);
    } else {
        r = INT_NOT_INTEGER;
    }
    if (r == INT_NOT_INTEGER)
        return decode_error(dec, "expected an integer");
    if (r == INT_OUT_OF_RANGE || store_integer(type, neg, mag, out) != 0)
        return decode_error(dec, "value out of range for %s", type_name(type));
    return 0;
}

static int decode_floating(decoder_t *dec, ProtobufCType type, json_t *v, void *out)
{
    double d;
    if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0)
            d = NAN;
        else if (strcmp(s, "Infinity") == 0)
            d = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            d = -INFINITY;
        else if (!is_json_number(s, json_string_length(v)))
            return decode_error(dec, "expected a number");
        else if (isinf(d = strtod(s, NULL)))
            return decode_error(dec, "value out of range for %s", type_name(type));
    } else {
        return decode_error(dec, "expected a number");
    }
    if (type == PROTOBUF_C_TYPE_FLOAT) {
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return decode_error(dec, "value out of range for float");
        *(float *)out = (float)d;
    } else {
        *(double *)out = d;
    }
    return 0;
}

static int decode_enum(decoder_t *dec, const ProtobufCEnumDescriptor *edesc, json_t *v, int32_t *out)
{
    if (json_is_string(v)) {
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(edesc, json_string_value(v));
        if (!ev)
            return decode_error(dec, "unknown value \"%.64s\" for %s", json_string_value(v), edesc->short_name);
        *out = ev->value;
        return 0;
    }
    /* proto3 enums are open: a number the schema does not name is kept. */
    if (json_is_integer(v) || json_is_real(v))
        return decode_integer(dec, PROTOBUF_C_TYPE_ENUM, v, out);
    return decode_error(dec, "expected an enum value name or number");
}

/* Standard base64 is what we emit; URL-safe and unpadded forms are also
 * what the proto3 JSON mapping accepts. */
static int decode_bytes(decoder_t *dec, json_t *v, ProtobufCBinaryData *out)
{
    static const int variants[] = {
        sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
        sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING,
    };
    if (!json_is_string(v))
        return decode_error(dec, "expected a base64 string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return 0;
    size_t cap = len / 4 * 3 + 3;
    unsigned char *buf = dec_alloc(dec, cap);
    if (!buf)
        return -1;
    int rc = -1;
    size_t n = 0;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0] && rc != 0; i++)
        rc = sodium_base642bin(buf, cap, s, len, NULL, &n, NULL, variants[i]);
    if (rc == 0 && n > 0) {
        out->data = buf;
        out->len = n;
        return 0;
    }
    dec->alloc->free(dec->alloc->allocator_data, buf);
    if (rc == 0)
        return 0; /* decoded to nothing: keep the default, NULL */
    return decode_error(dec, "invalid base64");
}

/* A FieldMask arrives as one string of comma-separated lowerCamelCase
 * paths and is kept as snake_case paths, the proto field names. */
static int decode_field_mask(decoder_t *dec, json_t *v, ProtobufCMessage *msg)
{
    Google__Protobuf__FieldMask *mask = (Google__Protobuf__FieldMask *)msg;
    if (!json_is_string(v))
        return decode_error(dec, "expected a string of comma-separated field paths");
    const char *s = json_string_value(v), *end = s + json_string_length(v);
    if (s == end)
        return 0;
    size_t n = 1;
    for (const char *p = s; p < end; p++)
        n += *p == ',';
    mask->paths = dec_alloc_array(dec, n, sizeof(char *));
    if (!mask->paths)
        return -1;
    /* NULL entries are freeable, so the count can be set before the paths. */
    mask->n_paths = n;
    const char *p = s;
    for (size_t i = 0; i < n; i++) {
        const char *stop = memchr(p, ',', (size_t)(end - p));
        if (!stop)
            stop = end;
        size_t len = (size_t)(stop - p), uppers = 0;
        if (!is_camel_path(p, len))
            return decode_error(dec, "invalid path \"%.*s\": paths are lowerCamelCase names joined by dots",
                                (int)(len < 64 ? len : 64), p);
        for (size_t j = 0; j < len; j++)
            uppers += p[j] >= 'A' && p[j] <= 'Z';
        char *snake = dec_alloc(dec, len + uppers + 1);
        if (!snake)
            return -1;
        size_t k = 0;
        for (size_t j = 0; j < len; j++) {
            if (p[j] >= 'A' && p[j] <= 'Z') {
                snake[k++] = '_';
                snake[k++] = (char)(p[j] - 'A' + 'a');
            } else {
                snake[k++] = p[j];
            }
        }
        snake[k] = '\0';
        mask->paths[i] = snake;
        p = stop + 1;
    }
    return 0;
}

static int decode_object(decoder_t *dec, const ProtobufCMessageDescriptor *desc, json_t *obj,
                         ProtobufCMessage *msg, int depth);

/* Decodes one non-null value of field f's type into the slot at out. */
static int decode_value(decoder_t *dec, const ProtobufCFieldDescriptor *f, json_t *v, void *out,
                        int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return decode_integer(dec, f->type, v, out);
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
        return decode_floating(dec, f->type, v, out);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return decode_error(dec, "expected true or false");
        *(protobuf_c_boolean *)out = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return decode_enum(dec, f->descriptor, v, out);
    case PROTOBUF_C_TYPE_STRING: {
        /* jansson has checked the UTF-8 and refused embedded NULs. */
        if (!json_is_string(v))
            return decode_error(dec, "expected a string");
        char *s = dec_strndup(dec, json_string_value(v), json_string_length(v));
        if (!s)
            return -1;
        *(char **)out = s;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return decode_bytes(dec, v, out);
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *sub_desc = f->descriptor;
        bool mask = is_field_mask(sub_desc);
        if (!mask && !json_is_object(v))
            return decode_error(dec, "expected an object");
        ProtobufCMessage *sub = dec_new_message(dec, sub_desc);
        if (!sub)
            return -1;
        /* Linked in before it is filled, so an error frees it with the rest. */
        *(ProtobufCMessage **)out = sub;
        if (mask)
            return decode_field_mask(dec, v, sub);
        return decode_object(dec, sub_desc, v, sub, depth + 1);
    }
    }
    return decode_error(dec, "unsupported field type");
}

static int decode_repeated(decoder_t *dec, const ProtobufCFieldDescriptor *f, json_t *v,
                           ProtobufCMessage *msg, int depth)
{
    if (!json_is_array(v))
        return decode_error(dec, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
        return 0;
    size_t size = element_size(f->type);
    unsigned char *array = dec_alloc_array(dec, n, size);
    if (!array)
        return -1;
    /* Zeroed elements are freeable, so the count can be set before they are
     * filled and free_unpacked cleans up after an error anywhere. */
    *(void **)MEMBER(msg, f->offset) = array;
    *(size_t *)MEMBER(msg, f->quantifier_offset) = n;
    for (size_t i = 0; i < n; i++) {
        json_t *elem = json_array_get(v, i);
        size_t old = path_push(dec, "[%zu]", i);
        int rc = json_is_null(elem) ? decode_error(dec, "null is not allowed in an array")
                                    : decode_value(dec, f, elem, array + i * size, depth);
        path_pop(dec, old);
        if (rc)
            return rc;
    }
    return 0;
}

static int decode_field(decoder_t *dec, const ProtobufCFieldDescriptor *f, json_t *v,
                        ProtobufCMessage *msg, int depth)
{
    if (json_is_null(v))
        return 0; /* null means the default, i.e. unset */
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return decode_repeated(dec, f, v, msg, depth);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = MEMBER(msg, f->quantifier_offset);
        if (*oneof_case != 0)
            return decode_error(dec, "only one field of a oneof may be set");
        /* Set first: free_unpacked only frees the member the case selects,
         * and the member is NULL until decode_value stores it. */
        *oneof_case = f->id;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
               f->type != PROTOBUF_C_TYPE_MESSAGE) {
        *(protobuf_c_boolean *)MEMBER(msg, f->quantifier_offset) = 1;
    }
    return decode_value(dec, f, v, MEMBER(msg, f->offset), depth);
}

static int decode_object(decoder_t *dec, const ProtobufCMessageDescriptor *desc, json_t *obj,
                         ProtobufCMessage *msg, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return decode_error(dec, "nested deeper than %d levels", JSON_MAX_DEPTH);
    /* Both names of a field may appear; taking either twice would leak the
     * first value, so a field named twice is an error. */
    unsigned char *seen = crm_calloc(desc->n_fields + 1, 1);
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(obj, key, v) {
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (!f) {
            size_t old = path_push(dec, "%s%s", dec->path_len ? "." : "", key);
            rc = set_status(dec->st, CODE_INVALID, dec->path, "unknown field \"%.64s\"", dec->path);
            path_pop(dec, old);
            break;
        }
        size_t old = path_push_field(dec, f);
        size_t index = (size_t)(f - desc->fields);
        if (seen[index])
            rc = decode_error(dec, "field given twice");
        else
            rc = decode_field(dec, f, v, msg, depth);
        seen[index] = 1;
        path_pop(dec, old);
        if (rc)
            break;
    }
    free(seen);
    return rc;
}

/* CRM_JSON_FILL_UPDATE_MASK: the mask names the top-level fields the client
 * sent, in the order sent, except id (which says what to update). */
static int fill_update_mask(decoder_t *dec, const ProtobufCMessageDescriptor *desc, json_t *root,
                            ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *mf = protobuf_c_message_descriptor_get_field_by_name(desc, "update_mask");
    if (!mf || mf->type != PROTOBUF_C_TYPE_MESSAGE || mf->label == PROTOBUF_C_LABEL_REPEATED ||
        (mf->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || !is_field_mask(mf->descriptor))
        return 0;
    ProtobufCMessage **slot = MEMBER(msg, mf->offset);
    if (*slot)
        return 0;
    Google__Protobuf__FieldMask *mask = (Google__Protobuf__FieldMask *)dec_new_message(dec, mf->descriptor);
    if (!mask)
        return -1;
    *slot = &mask->base;
    size_t n = json_object_size(root);
    if (n == 0)
        return 0;
    mask->paths = dec_alloc_array(dec, n, sizeof(char *));
    if (!mask->paths)
        return -1;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        /* Every key names a field: decode_object has accepted them all. */
        const ProtobufCFieldDescriptor *f = find_field(desc, key);
        if (!f || f == mf || strcmp(f->name, "id") == 0)
            continue;
        char *path = dec_strndup(dec, f->name, strlen(f->name));
        if (!path)
            return -1;
        mask->paths[mask->n_paths++] = path;
    }
    return 0;
}

/* True if v nests objects and arrays deeper than JSON_MAX_DEPTH; the walk
 * itself stops at the limit. */
static bool json_too_deep(json_t *v, int depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return false;
    if (depth > JSON_MAX_DEPTH)
        return true;
    if (json_is_array(v)) {
        size_t i;
        json_t *elem;
        json_array_foreach(v, i, elem) {
            if (json_too_deep(elem, depth + 1))
                return true;
        }
    } else {
        const char *key;
        json_t *elem;
        json_object_foreach(v, key, elem) {
            if (json_too_deep(elem, depth + 1))
                return true;
        }
    }
    return false;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* True if the text nests objects and arrays deeper than JSON_MAX_DEPTH: a
 * scan before the parse, so that such a body is refused for what it is
 * rather than built first. */
static bool text_too_deep(const char *s, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > JSON_MAX_DEPTH)
                return true;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return false;
}

static json_t *parse_body(const char *json, size_t len, crm_status_t *st)
{
    if (is_blank(json, len)) {
        json_t *empty = json_object();
        if (!empty)
            crm_oom(0);
        return empty;
    }
    if (text_too_deep(json, len)) {
        set_status(st, CODE_INVALID, NULL, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &err);
    if (!root && budget_.hit) {
        set_status(st, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, NULL,
                   "the request unfolds to more than %zu bytes; send fewer or larger elements",
                   budget_.limit);
        return NULL;
    }
    if (root) {
        if (json_is_object(root))
            return root;
        json_decref(root);
        set_status(st, CODE_MALFORMED, NULL, "the request body must be a JSON object");
        return NULL;
    }
    switch (json_error_code(&err)) {
    case json_error_out_of_memory:
        crm_oom(len);
    case json_error_stack_overflow:
        set_status(st, CODE_INVALID, NULL, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        break;
    case json_error_numeric_overflow:
        set_status(st, CODE_INVALID, NULL, "number out of range at line %d, column %d "
                       "(64-bit integers are sent as strings)", err.line, err.column);
        break;
    default:
        set_status(st, CODE_MALFORMED, NULL, "malformed JSON at line %d, column %d: %s",
                       err.line, err.column, err.text);
        break;
    }
    return NULL;
}

ProtobufCMessage *crm_json_decode(const ProtobufCMessageDescriptor *desc,
                                  const char *json, size_t len, unsigned flags,
                                  ProtobufCAllocator *alloc, crm_status_t *st)
{
    decoder_t dec = {.alloc = alloc ? alloc : &default_allocator, .st = st,
                     .limit = crm_limit_decode_budget(len)};
    ProtobufCMessage *msg = NULL;
    crm_status_clear(st);
    /* the tree and the message share one budget; blocks jansson held
     * before (none, in the programs that decode) count as free */
    budget_.limit = budget_.live + dec.limit;
    budget_.hit = 0;
    budget_.on = 1;
    dec.limit += budget_.live;
    json_t *root = parse_body(json, len, st);
    if (!root) {
        budget_.on = 0;
        return NULL;
    }
    if (json_too_deep(root, 1)) {
        set_status(st, CODE_INVALID, NULL, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        goto fail;
    }
    msg = dec_new_message(&dec, desc);
    if (!msg)
        goto fail;
    if (decode_object(&dec, desc, root, msg, 1) != 0)
        goto fail;
    if ((flags & CRM_JSON_FILL_UPDATE_MASK) && fill_update_mask(&dec, desc, root, msg) != 0)
        goto fail;
    budget_.on = 0;
    json_decref(root);
    return msg;
fail:
    budget_.on = 0;
    if (msg)
        protobuf_c_message_free_unpacked(msg, dec.alloc);
    json_decref(root);
    return NULL;
}

/* --- encoding ---------------------------------------------------------- */

/* The encoder writes straight into one growing buffer, in the form jansson's
 * json_dumps(JSON_COMPACT) gives (which the decoder reads back): building a
 * jansson tree first cost two allocations a value, and the gateway encodes
 * every notification it streams. */
typedef struct {
    char *p;
    size_t len, cap;
} out_t;

static void out_reserve(out_t *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return;
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + more + 1)
        cap *= 2;
    o->p = crm_realloc(o->p, cap);
    o->cap = cap;
}

static void out_put(out_t *o, const char *s, size_t n)
{
    out_reserve(o, n);
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void out_char(out_t *o, char c) { out_put(o, &c, 1); }

static void out_printf(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(out_t *o, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    out_put(o, buf, n > 0 ? (size_t)n : 0);
}

/* A JSON string of well-formed UTF-8 s, escaped as jansson does. */
static void out_quoted_utf8(out_t *o, const char *s, size_t len)
{
    out_reserve(o, len + 2);
    out_char(o, '"');
    size_t run = 0; /* bytes of s not yet copied, ending at i */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        out_put(o, s + i - run, run);
        run = 0;
        switch (c) {
        case '"': out_put(o, "\\\"", 2); break;
        case '\\': out_put(o, "\\\\", 2); break;
        case '\b': out_put(o, "\\b", 2); break;
        case '\f': out_put(o, "\\f", 2); break;
        case '\n': out_put(o, "\\n", 2); break;
        case '\r': out_put(o, "\\r", 2); break;
        case '\t': out_put(o, "\\t", 2); break;
        default: out_printf(o, "\\u%04X", c); break;
        }
    }
    out_put(o, s + len - run, run);
    out_char(o, '"');
}

/* Messages can come from anywhere (a service, binary protobuf, storage),
 * so a string that is not UTF-8 is repaired rather than refused: the
 * encoder can't fail and its output must be JSON. */
static void out_string(out_t *o, const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        /* ASCII, most of any text, without a call: every string of every
         * reply passes here */
        size_t seq = (unsigned char)s[i] < 0x80 ? 1 : crm_utf8_sequence_len(s + i, len - i);
        if (!seq) {
            char *clean = utf8_scrub(s, len);
            out_quoted_utf8(o, clean, strlen(clean));
            free(clean);
            return;
        }
        i += seq;
    }
    out_quoted_utf8(o, s, len);
}

/* A double as jansson writes a real: 17 significant digits, always with a
 * '.' or an exponent, the exponent without '+' or leading zeros. */
static void out_floating(out_t *o, double d)
{
    if (isnan(d)) {
        out_put(o, "\"NaN\"", 5);
        return;
    }
    if (isinf(d)) {
        out_string(o, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char buf[64], clean[64];
    snprintf(buf, sizeof buf, "%.17g", d);
    size_t n = 0;
    for (const char *c = buf; *c && n < sizeof clean - 3; c++) {
        clean[n++] = *c;
        if (*c == 'e') {
            if (c[1] == '+')
                c++;
            else if (c[1] == '-')
                clean[n++] = *++c;
            while (c[1] == '0' && c[2])
                c++;
        }
    }
    clean[n] = '\0';
    if (!strchr(clean, '.') && !strchr(clean, 'e')) {
        clean[n++] = '.';
        clean[n++] = '0';
        clean[n] = '\0';
    }
    out_put(o, clean, n);
}

static void out_bytes(out_t *o, const ProtobufCBinaryData *b)
{
    size_t cap = sodium_base64_ENCODED_LEN(b->len, sodium_base64_VARIANT_ORIGINAL);
    out_reserve(o, cap + 2);
    out_char(o, '"');
    sodium_bin2base64(o->p + o->len, cap, b->data, b->len, sodium_base64_VARIANT_ORIGINAL);
    o->len += strlen(o->p + o->len);
    out_char(o, '"');
}

static void out_field_mask(out_t *o, const ProtobufCMessage *msg)
{
    const Google__Protobuf__FieldMask *mask = (const Google__Protobuf__FieldMask *)msg;
    size_t total = 1;
    for (size_t i = 0; i < mask->n_paths; i++)
        total += camel_copy(NULL, 0, mask->paths[i] ? mask->paths[i] : "") + 1;
    char *text = crm_malloc(total);
    size_t n = 0;
    for (size_t i = 0; i < mask->n_paths; i++) {
        if (i)
            text[n++] = ',';
        n += camel_copy(text + n, total - n, mask->paths[i] ? mask->paths[i] : "");
    }
    text[n] = '\0';
    out_string(o, text);
    free(text);
}

static void out_message(out_t *o, const ProtobufCMessage *msg, int depth);

static void out_value(out_t *o, const ProtobufCFieldDescriptor *f, const void *member, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        out_printf(o, "%" PRId32, *(const int32_t *)member);
        return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        out_printf(o, "%" PRIu32, *(const uint32_t *)member);
        return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        out_printf(o, "\"%" PRId64 "\"", *(const int64_t *)member);
        return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        out_printf(o, "\"%" PRIu64 "\"", *(const uint64_t *)member);
        return;
    case PROTOBUF_C_TYPE_FLOAT:
        out_floating(o, *(const float *)member);
        return;
    case PROTOBUF_C_TYPE_DOUBLE:
        out_floating(o, *(const double *)member);
        return;
    case PROTOBUF_C_TYPE_BOOL:
        if (*(const protobuf_c_boolean *)member)
            out_put(o, "true", 4);
        else
            out_put(o, "false", 5);
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t value = *(const int32_t *)member;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, value);
        if (ev)
            out_string(o, ev->name);
        else
            out_printf(o, "%" PRId32, value);
        return;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        out_string(o, s ? s : "");
        return;
    }
    case PROTOBUF_C_TYPE_BYTES:
        out_bytes(o, member);
        return;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
        if (!sub)
            out_put(o, "{}", 2); /* only a broken repeated field has NULLs */
        else if (is_field_mask(sub->descriptor))
            out_field_mask(o, sub);
        else
            out_message(o, sub, depth + 1);
        return;
    }
    }
    out_put(o, "null", 4);
}

/* Whether field f of msg goes into the output: proto3 fields without
 * presence are left out at their default, the others when absent. */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
    const void *member = CONST_MEMBER(msg, f->offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)CONST_MEMBER(msg, f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *)CONST_MEMBER(msg, f->quantifier_offset) > 0;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const void *ptr = *(const void *const *)member;
        if (!ptr)
            return false;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
            return ptr != f->default_value;
        if (f->label == PROTOBUF_C_LABEL_NONE && f->type == PROTOBUF_C_TYPE_STRING)
            return *(const char *)ptr != '\0';
        return true;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
        return *(const protobuf_c_boolean *)CONST_MEMBER(msg, f->quantifier_offset);
    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member != 0; /* as protobuf-c, which drops -0.0 too */
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member != 0;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len != 0;
    default:
        return *(const uint32_t *)member != 0;
    }
}

static void out_message(out_t *o, const ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    out_char(o, '{');
    /* Only a recursive message type could nest this deep, and the decoder
     * would refuse the result; cutting here keeps the stack bounded. */
    if (depth > JSON_MAX_DEPTH) {
        out_char(o, '}');
        return;
    }
    int first = 1;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        if (!field_present(msg, f))
            continue;
        if (!first)
            out_char(o, ',');
        first = 0;
        char small[64];
        size_t len = camel_copy(small, sizeof small, f->name);
        char *key = small;
        if (len >= sizeof small) {
            key = crm_malloc(len + 1);
            camel_copy(key, len + 1, f->name);
        }
        out_string(o, key);
        if (key != small)
            free(key);
        out_char(o, ':');
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)CONST_MEMBER(msg, f->quantifier_offset), size = element_size(f->type);
            const unsigned char *array = *(const void *const *)CONST_MEMBER(msg, f->offset);
            out_char(o, '[');
            for (size_t j = 0; j < n; j++) {
                if (j)
                    out_char(o, ',');
                out_value(o, f, array + j * size, depth);
            }
            out_char(o, ']');
        } else {
            out_value(o, f, CONST_MEMBER(msg, f->offset), depth);
        }
    }
    out_char(o, '}');
}

char *crm_json_encode(const ProtobufCMessage *msg, size_t *len_out)
{
    out_t o = {0};
    out_message(&o, msg, 1);
    o.p[o.len] = '\0';
    if (len_out)
        *len_out = o.len;
    return o.p;
}
