/* Normal forms of e-mails, phones and company names, and their index keys
 * (dup_norm.h). */
#include "dup_norm.h"

#include <sodium.h>
#include <string.h>

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

size_t pl_norm_email(const char *s, char *out)
{
    size_t len = strlen(s), start = 0;
    while (start < len && is_space((unsigned char)s[start]))
        start++;
    while (len > start && is_space((unsigned char)s[len - 1]))
        len--;
    if (len - start > PL_DUP_VALUE_MAX)
        len = start; /* gives no key */
    for (size_t i = start; i < len; i++)
        out[i - start] = (char)ascii_lower((unsigned char)s[i]);
    out[len - start] = '\0';
    return len - start;
}

size_t pl_norm_phone(const char *s, char *out)
{
    size_t n = 0, digits = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (is_space(*p))
        p++;
    if (*p == '+')
        out[n++] = '+';
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            continue;
        if (n == PL_DUP_VALUE_MAX) {
            n = digits = 0;
            break;
        }
        out[n++] = (char)*p;
        digits++;
    }
    if (digits < PL_DUP_PHONE_MIN_DIGITS)
        n = 0;
    out[n] = '\0';
    return n;
}

size_t pl_norm_company(const char *s, char *out)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = ascii_lower(*p);
        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            continue;
        if (n == PL_DUP_VALUE_MAX) {
            n = 0;
            break;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return n;
}

size_t pl_dup_key(uint8_t out[PL_DUP_KEY], int reason, const char *norm, size_t len, int64_t id)
{
    uint8_t hash[crypto_generichash_BYTES_MIN];
    /* can't fail with these sizes */
    crypto_generichash(hash, sizeof hash, (const unsigned char *)norm, len, NULL, 0);
    out[0] = (uint8_t)reason;
    memcpy(out + 1, hash, 8);
    uint64_t v = (uint64_t)id;
    for (int i = 0; i < 8; i++)
        out[PL_DUP_PREFIX + i] = (uint8_t)(v >> (56 - 8 * i));
    return PL_DUP_KEY;
}
