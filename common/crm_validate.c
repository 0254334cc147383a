#include "crm_validate.h"

#include <string.h>

long crm_utf8_length(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    long count = 0;
    while (s < end) {
        unsigned c = *s;
        size_t n;
        unsigned min;
        if (c == 0)
            return -1;
        if (c < 0x80) {
            s++;
            count++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return -1;
        }
        if ((size_t)(end - s) <= n)
            return -1;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return -1;
            c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return -1;
        s += n + 1;
        count++;
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
