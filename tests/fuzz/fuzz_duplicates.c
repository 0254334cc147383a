/* libFuzzer target: the normal forms behind likely duplicates, which take
 * every e-mail, phone and company name a client stores or types into a
 * form. The service's own code (compiled in from its source, having no
 * other dependency) reads no byte past the string, writes no byte past
 * PL_DUP_VALUE_MAX + 1, and gives forms that are normal: made of the
 * characters each allows, and the same when normalised again. */
#include "../../services/pipeline/dup_norm.c"

#include <stdlib.h>
#include <string.h>

static void check_form(size_t (*norm)(const char *, char *), const char *in, size_t in_len, int kind)
{
    char out[PL_DUP_VALUE_MAX + 1], again[PL_DUP_VALUE_MAX + 1];
    size_t n = norm(in, out);
    if (n > PL_DUP_VALUE_MAX || n > in_len || strlen(out) != n)
        abort();
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c >= 'A' && c <= 'Z' && kind != 1)
            abort(); /* e-mails and company names are lower-case */
        if (kind == 1 && !((c >= '0' && c <= '9') || (c == '+' && i == 0)))
            abort(); /* phones: digits, a leading + */
        if (kind == 2 && c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            abort(); /* company names: no ASCII punctuation or space */
    }
    if (kind == 0 && (out[0] == ' ' || out[n - 1] == ' '))
        abort();
    if (norm(out, again) != n || memcmp(out, again, n) != 0)
        abort(); /* a normal form is its own normal form */
    uint8_t k1[PL_DUP_KEY], k2[PL_DUP_KEY];
    pl_dup_key(k1, kind + 1, out, n, 7);
    pl_dup_key(k2, kind + 1, again, n, 8);
    if (memcmp(k1, k2, PL_DUP_PREFIX) != 0 || k1[PL_DUP_KEY - 1] != 7 || k2[PL_DUP_KEY - 1] != 8)
        abort(); /* one value, one range of keys, ordered by record id */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* values arrive as protobuf strings: NUL-terminated, any bytes (the
     * service checks UTF-8 first, the normal forms must not rely on it) */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    check_form(pl_norm_email, s, len, 0);
    check_form(pl_norm_phone, s, len, 1);
    check_form(pl_norm_company, s, len, 2);
    free(s);
    return 0;
}
