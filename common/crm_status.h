#ifndef CRM_STATUS_H
#define CRM_STATUS_H

#include <stddef.h>
#include "rpc.pb-c.h"

/* An error as it reaches a client: a Twirp code, a message a person
 * understands and, where there is one, the request field at fault (in
 * proto3 JSON form, e.g. "salesAccess"). Fixed-size so that filling one
 * never allocates and can't fail. */
typedef struct {
    Crm__Rpc__V1__Code code;
    char message[256];
    char field[64];
} crm_status_t;

/* Sets *st and returns -1, so callers can write `return crm_status_set(...)`.
 * field may be NULL. The message is printf-formatted and truncated to fit. */
int crm_status_set(crm_status_t *st, Crm__Rpc__V1__Code code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Replaces, in place, every byte of s that does not start a valid UTF-8
 * sequence (or starts one cut short) with '?'. Can't fail. */
void crm_utf8_clean(char *s);

/* Resets *st to CODE_OK with empty message and field. Can't fail. */
void crm_status_clear(crm_status_t *st);

/* Twirp's code string for a code ("invalid_argument"); "unknown" for a value
 * out of range. Returns a static string. */
const char *crm_code_name(Crm__Rpc__V1__Code code);

/* The code for a Twirp code string, or CODE_UNKNOWN if it names none. */
Crm__Rpc__V1__Code crm_code_from_name(const char *name);

/* The HTTP status Twirp specifies for a code (200 for CODE_OK). */
int crm_code_http_status(Crm__Rpc__V1__Code code);

/* Copies *st into a protobuf Status whose strings point into *st (valid
 * while *st lives). Can't fail. */
void crm_status_to_pb(const crm_status_t *st, Crm__Rpc__V1__Status *pb);

/* Fills *st from a protobuf Status (NULL means OK). Can't fail. */
void crm_status_from_pb(crm_status_t *st, const Crm__Rpc__V1__Status *pb);

#endif
