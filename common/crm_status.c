#include "crm_status.h"
#include "crm_validate.h"

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
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t seq = crm_utf8_sequence_len(s + i, len - i);
        if (seq)
            i += seq;
        else
            s[i++] = '?'; /* also the lead byte of a sequence cut short */
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
