#ifndef CRM_VALIDATE_H
#define CRM_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include "crm_status.h"

/* Checks on strings from clients, before they are stored. Each returns 0,
 * or -1 with *st set to invalid_argument naming field. */

/* Valid UTF-8 (no overlongs, no surrogates, no NUL), between min and max
 * characters (code points). */
int crm_check_text(crm_status_t *st, const char *field, const char *s, size_t min, size_t max);

/* An e-mail address: empty when optional, else local@domain with no spaces,
 * at most 254 bytes. */
int crm_check_email(crm_status_t *st, const char *field, const char *s, int optional);

/* s[0, len) as a positive decimal id that fits int64 (digits only, no
 * sign, no spaces): 0 with *out set, or -1. */
int crm_parse_id(const char *s, size_t len, int64_t *out);

/* The number of code points in s if it is valid UTF-8 without NUL, or -1. */
long crm_utf8_length(const char *s, size_t len);

/* The length of the well-formed UTF-8 sequence at s (n > 0 bytes readable),
 * or 0 if there is none (RFC 3629: no overlongs, no surrogates, nothing
 * past U+10FFFF, the rules jansson applies; NUL counts as one byte). The
 * one UTF-8 check every module uses. Can't fail. */
size_t crm_utf8_sequence_len(const char *s, size_t n);

#endif
