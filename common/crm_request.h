#ifndef CRM_REQUEST_H
#define CRM_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include "crm_rpc_server.h"
#include "crm_status.h"
#include "google/protobuf/field_mask.pb-c.h"

/* Pieces of request handling every service shares: update masks (AIP-134),
 * opaque page tokens and the paging of list calls. */

/* Checks that mask is non-empty and names only fields in allowed (snake_case
 * names, NULL-terminated). Paths may be given in snake_case or lowerCamelCase.
 * Returns 0 or -1 with *st set (invalid_argument, field "updateMask"). */
int crm_mask_check(crm_status_t *st, const Google__Protobuf__FieldMask *mask,
                   const char *const *allowed);

/* 1 if mask names field (snake_case), in either spelling; else 0. */
int crm_mask_has(const Google__Protobuf__FieldMask *mask, const char *field);

/* An opaque page token for resuming after position `after` (base64url).
 * Writes a NUL-terminated token of at most 24 bytes to out. Can't fail. */
void crm_page_token_make(char out[24], uint64_t after);

/* Reads a token made by crm_page_token_make; an empty token is position 0.
 * Returns 0 or -1 with *st set (invalid_argument, field "pageToken"). */
int crm_page_token_read(crm_status_t *st, const char *token, uint64_t *after);

/* Clamps a requested page size: 0 gives def, more than max gives max;
 * negative is refused (-1, *st set, field "pageSize"). */
int crm_page_size(crm_status_t *st, int32_t requested, uint32_t def, uint32_t max, uint32_t *out);

/* A list call's paging, read the same way by every list handler: the page
 * size by crm_page_size (def, max) into *size, then the token by
 * crm_page_token_read into *after. Returns 0, or -1 with call failed
 * (invalid_argument naming "pageSize" or "pageToken"). */
int crm_call_page(crm_call_t *call, int32_t page_size, const char *page_token, uint32_t def, uint32_t max,
                  uint32_t *size, uint64_t *after);

/* A page token (crm_page_token_make) for resuming after `after`, in the
 * call's arena: a list reply's next_page_token. Can't fail. */
char *crm_call_page_token(crm_call_t *call, uint64_t after);

#endif
