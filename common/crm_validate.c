#include "crm_validate.h"

#include <string.h>

size_t crm_utf8_sequence_len(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

long crm_utf8_length(const char *s, size_t len)
{
    long count = 0;
    for (size_t i = 0; i < len; count++) {
        size_t seq = s[i] ? crm_utf8_sequence_len(s + i, len - i) : 0;
        if (!seq)
            return -1;
        i += seq;
    }
    return count;
}

int crm_check_text(crm_status_t *st, const char *field, const char *s, size_t min, size_t max)
{
    long n = crm_utf8_length(s, strlen(s));
    if (n < 0)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                              "%s is not valid UTF-8 text", field);
    if ((size_t)n < min) {
        if (min == 1)
            return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                                  "%s is required", field);
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                              "%s must be at least %zu characters", field, min);
    }
    if ((size_t)n > max)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                              "%s must be at most %zu characters", field, max);
    return 0;
}

int crm_check_email(crm_status_t *st, const char *field, const char *s, int optional)
{
    size_t len = strlen(s);
    if (len == 0 && optional)
        return 0;
    if (len > 254) /* RFC 5321's limit is in octets, not characters */
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                              "%s must be at most 254 bytes", field);
    if (crm_check_text(st, field, s, 3, 254) != 0)
        return -1;
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@') || strpbrk(s, " \t\r\n<>,;\"") ||
        !strchr(at + 1, '.') || at[1] == '.' || s[len - 1] == '.')
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, field,
                              "%s is not an e-mail address", field);
    return 0;
}

int crm_parse_id(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 19)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v <= 0)
        return -1;
    *out = v;
    return 0;
}
