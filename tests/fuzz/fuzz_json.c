/* libFuzzer target for crm_json_decode: the JSON codec faces untrusted
 * clients. Whatever decodes must encode, decode again to the same message
 * (compared as packed protobuf) and encode to the same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "activities.pb-c.h"
#include "crm_json.h"
#include "crm_mem.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "pipeline.pb-c.h"
#include "rpc.pb-c.h"

static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = crm_malloc(*len);
    if (protobuf_c_message_pack(msg, buf) != *len)
        abort();
    return buf;
}

static void round_trip(const ProtobufCMessageDescriptor *desc, const char *data, size_t size,
                       unsigned flags)
{
    crm_status_t st;
    ProtobufCMessage *first = crm_json_decode(desc, data, size, flags, NULL, &st);
    if (!first) {
        if (st.code != CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT &&
            st.code != CRM__RPC__V1__CODE__CODE_MALFORMED)
            abort();
        /* the status goes back to the client as JSON: it must be UTF-8 */
        json_t *message = json_string(st.message), *field = json_string(st.field);
        if (!message || !field || st.message[0] == '\0')
            abort();
        json_decref(message);
        json_decref(field);
        return;
    }
    size_t json_len;
    char *json = crm_json_encode(first, &json_len);
    ProtobufCMessage *second = crm_json_decode(desc, json, json_len, flags, NULL, &st);
    if (!second) {
        fprintf(stderr, "re-decoding %s as %s failed: %s\n", json, desc->name, st.message);
        abort();
    }
    size_t len1, len2;
    uint8_t *bin1 = pack(first, &len1), *bin2 = pack(second, &len2);
    if (len1 != len2 || memcmp(bin1, bin2, len1) != 0) {
        fprintf(stderr, "%s round trip changed the message: %s\n", desc->name, json);
        abort();
    }
    char *again = crm_json_encode(second, NULL);
    if (strcmp(json, again) != 0) {
        fprintf(stderr, "%s encodes unstably:\n%s\n%s\n", desc->name, json, again);
        abort();
    }
    free(again);
    free(bin1);
    free(bin2);
    free(json);
    protobuf_c_message_free_unpacked(second, NULL);
    protobuf_c_message_free_unpacked(first, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    round_trip(&crm__identity__v1__update_user_request__descriptor, text, size, 0);
    round_trip(&crm__identity__v1__update_user_request__descriptor, text, size, CRM_JSON_FILL_UPDATE_MASK);
    round_trip(&crm__identity__v1__create_user_request__descriptor, text, size, 0);
    round_trip(&crm__identity__v1__login_reply__descriptor, text, size, 0);
    round_trip(&crm__health__v1__check_reply__descriptor, text, size, 0);
    round_trip(&crm__rpc__v1__rpc_request__descriptor, text, size, 0);
    round_trip(&crm__activities__v1__post_message_request__descriptor, text, size, 0);
    round_trip(&crm__activities__v1__list_messages_reply__descriptor, text, size, 0);
    round_trip(&crm__pipeline__v1__set_assignment_rules_request__descriptor, text, size, 0);
    round_trip(&crm__activities__v1__update_meeting_request__descriptor, text, size, CRM_JSON_FILL_UPDATE_MASK);
    round_trip(&crm__activities__v1__list_meetings_reply__descriptor, text, size, 0);
    return 0;
}
