#include "crm_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} code_table[] = {
    [CRM__RPC__V1__CODE__CODE_OK] = {"ok", 200},
    [CRM__RPC__V1__CODE__CODE_CANCELED] = {"canceled", 408},
    [CRM__RPC__V1__CODE__CODE_UNKNOWN] = {"unknown", 500},
    [CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT] = {"invalid_argument", 400},
    [CRM__RPC__V1__CODE__CODE_MALFORMED] = {"malformed", 400},
    [CRM__RPC__V1__CODE__CODE_DEADLINE_EXCEEDED] = {"deadline_exceeded", 408},
    [CRM__RPC__V1__CODE__CODE_NOT_FOUND] = {"not_found", 404},
    [CRM__RPC__V1__CODE__CODE_BAD_ROUTE] = {"bad_route", 404},
    [CRM__RPC__V1__CODE__CODE_ALREADY_EXISTS] = {"already_exists", 409},
    [CRM__RPC__V1__CODE__CODE_PERMISSION_DENIED] = {"permission_denied", 403},
    [CRM__RPC__V1__CODE__CODE_UNAUTHENTICATED] = {"unauthenticated", 401},
    [CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
    [CRM__RPC__V1__CODE__CODE_FAILED_PRECONDITION] = {"failed_precondition", 412},
    [CRM__RPC__V1__CODE__CODE_ABORTED] = {"aborted", 409},
    [CRM__RPC__V1__CODE__CODE_OUT_OF_RANGE] = {"out_of_range", 400},
    [CRM__RPC__V1__CODE__CODE_UNIMPLEMENTED] = {"unimplemented", 501},
    [CRM__RPC__V1__CODE__CODE_INTERNAL] = {"internal", 500},
    [CRM__RPC__V1__CODE__CODE_UNAVAILABLE] = {"unavailable", 503},
    [CRM__RPC__V1__CODE__CODE_DATALOSS] = {"dataloss", 500},
};
#define CODE_COUNT (sizeof code_table / sizeof code_table[0])

void crm_utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        int ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80; /* also stops at the NUL of a cut sequence */
        if (ok && n == 2 && *p < 0xc2)
            ok = 0; /* overlong */
        if (ok && n == 3) {
            unsigned cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
            ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
        }
        if (ok && n == 4) {
            unsigned cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
            ok = cp >= 0x10000 && cp <= 0x10ffff;
        }
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

int crm_status_set(crm_status_t *st, Crm__Rpc__V1__Code code, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    st->code = code;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
    snprintf(st->field, sizeof st->field, "%s", field ? field : "");
    /* messages quote client bytes and are cut to size: keep them UTF-8, as
     * proto3 strings and JSON must be */
    crm_utf8_clean(st->message);
    crm_utf8_clean(st->field);
    return -1;
}

void crm_status_clear(crm_status_t *st)
{
    st->code = CRM__RPC__V1__CODE__CODE_OK;
    st->message[0] = '\0';
    st->field[0] = '\0';
}

const char *crm_code_name(Crm__Rpc__V1__Code code)
{
    if ((unsigned)code >= CODE_COUNT)
        return "unknown";
    return code_table[code].name;
}

Crm__Rpc__V1__Code crm_code_from_name(const char *name)
{
    for (size_t i = 0; i < CODE_COUNT; i++)
        if (strcmp(code_table[i].name, name) == 0)
            return (Crm__Rpc__V1__Code)i;
    return CRM__RPC__V1__CODE__CODE_UNKNOWN;
}

int crm_code_http_status(Crm__Rpc__V1__Code code)
{
    if ((unsigned)code >= CODE_COUNT)
        return 500;
    return code_table[code].http;
}

void crm_status_to_pb(const crm_status_t *st, Crm__Rpc__V1__Status *pb)
{
    crm__rpc__v1__status__init(pb);
    pb->code = st->code;
    pb->message = (char *)st->message;
    pb->field = (char *)st->field;
}

void crm_status_from_pb(crm_status_t *st, const Crm__Rpc__V1__Status *pb)
{
    crm_status_clear(st);
    if (!pb)
        return;
    st->code = pb->code;
    snprintf(st->message, sizeof st->message, "%s", pb->message ? pb->message : "");
    snprintf(st->field, sizeof st->field, "%s", pb->field ? pb->field : "");
    crm_utf8_clean(st->message);
    crm_utf8_clean(st->field);
}
