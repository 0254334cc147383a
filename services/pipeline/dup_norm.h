#ifndef PL_DUP_NORM_H
#define PL_DUP_NORM_H

#include <stddef.h>
#include <stdint.h>

/* What makes two records likely the same: their e-mail, phone or company
 * name, each reduced to a normal form, and the index key that form gives.
 * No dependency but libc and libsodium, so the fuzz target compiles it in. */

/* Longest value normalised; a longer one (past every field's limit) is not
 * indexed. */
#define PL_DUP_VALUE_MAX 512
/* Fewest digits a phone number needs to be indexed: shorter ones
 * (extensions, "112") match too many records to mean anything. */
#define PL_DUP_PHONE_MIN_DIGITS 6
/* reason (1 byte), 8 bytes of the value's BLAKE2b hash, record id (8,
 * big-endian): the records of one value are one range of keys. */
#define PL_DUP_KEY 17
#define PL_DUP_PREFIX 9

/* Each writes the normal form of s (NUL-terminated) into out, which holds
 * PL_DUP_VALUE_MAX + 1 bytes, and returns its length; 0 when the value
 * gives no key (empty, too short a phone, or longer than PL_DUP_VALUE_MAX).
 * Can't fail.
 * e-mail: trimmed of spaces, ASCII lower-case;
 * phone: the digits only, a leading + kept;
 * company: ASCII letters and digits lower-cased, other ASCII (spaces,
 * punctuation) left out, every other byte (UTF-8 letters) kept. */
size_t pl_norm_email(const char *s, char *out);
size_t pl_norm_phone(const char *s, char *out);
size_t pl_norm_company(const char *s, char *out);

/* The index key of record id for a normal form of len bytes found for
 * reason (a DuplicateReason). Returns PL_DUP_KEY. Can't fail. */
size_t pl_dup_key(uint8_t out[PL_DUP_KEY], int reason, const char *norm, size_t len, int64_t id);

#endif
