#include "crm_request.h"
#include "crm_json.h"
#include "crm_store.h"

#include <sodium.h>
#include <string.h>

int crm_mask_has(const Google__Protobuf__FieldMask *mask, const char *field)
{
    if (!mask)
        return 0;
    for (size_t i = 0; i < mask->n_paths; i++)
        if (crm_json_name_matches(mask->paths[i], field))
            return 1;
    return 0;
}

int crm_mask_check(crm_status_t *st, const Google__Protobuf__FieldMask *mask,
                   const char *const *allowed)
{
    if (!mask || mask->n_paths == 0)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "updateMask",
                              "updateMask must name the fields to change");
    for (size_t i = 0; i < mask->n_paths; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = crm_json_name_matches(mask->paths[i], *a);
        if (!ok)
            return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "updateMask",
                                  "\"%.64s\" cannot be changed here", mask->paths[i]);
    }
    return 0;
}

void crm_page_token_make(char out[24], uint64_t after)
{
    uint8_t raw[8];
    crm_key_put_u64(raw, after);
    sodium_bin2base64(out, 24, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int crm_page_token_read(crm_status_t *st, const char *token, uint64_t *after)
{
    *after = 0;
    if (!token[0])
        return 0;
    uint8_t raw[8];
    size_t len = 0;
    if (strlen(token) != 11 ||
        sodium_base642bin(raw, sizeof raw, token, strlen(token), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        len != 8)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "pageToken",
                              "pageToken is not one this service gave");
    *after = crm_key_get_u64(raw);
    return 0;
}

int crm_page_size(crm_status_t *st, int32_t requested, uint32_t def, uint32_t max, uint32_t *out)
{
    if (requested < 0)
        return crm_status_set(st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "pageSize",
                              "pageSize must not be negative");
    *out = requested == 0 ? def : ((uint32_t)requested > max ? max : (uint32_t)requested);
    return 0;
}

int crm_call_page(crm_call_t *call, int32_t page_size, const char *page_token, uint32_t def, uint32_t max,
                  uint32_t *size, uint64_t *after)
{
    crm_status_t st;
    if (crm_page_size(&st, page_size, def, max, size) != 0 || crm_page_token_read(&st, page_token, after) != 0)
        return crm_call_fail_status(call, &st);
    return 0;
}

char *crm_call_page_token(crm_call_t *call, uint64_t after)
{
    char *token = crm_arena_alloc(crm_call_arena(call), 24);
    crm_page_token_make(token, after);
    return token;
}
