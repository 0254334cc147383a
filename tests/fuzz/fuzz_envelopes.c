/* libFuzzer target: every other decoder that reads bytes from another
 * process or from a store — the internal RPC envelope, replies, event
 * publications, replay requests and answers, event payloads, and the stored
 * records of identity, pipeline, activities and notifications, and the live
 * stream's frames that crmctl tail and the gateway read. The first byte picks the
 * message type; the rest is decoded, and what decodes must re-encode and
 * decode to the same bytes. */
#include "activities.pb-c.h"
#include "events.pb-c.h"
#include "fuzz_roundtrip.h"
#include "identity.pb-c.h"
#include "notifications.pb-c.h"
#include "pipeline.pb-c.h"
#include "rpc.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_LIMIT (1 << 20)

static const ProtobufCMessageDescriptor *const types[] = {
    &crm__rpc__v1__rpc_request__descriptor,
    &crm__rpc__v1__rpc_reply__descriptor,
    &crm__rpc__v1__principal__descriptor,
    &crm__events__v1__publication__descriptor,
    &crm__events__v1__replay_request__descriptor,
    &crm__events__v1__replay_reply__descriptor,
    &crm__events__v1__event__descriptor,
    &crm__identity__v1__user_record__descriptor,
    &crm__identity__v1__session_record__descriptor,
    &crm__identity__v1__invite_record__descriptor,
    &crm__identity__v1__team__descriptor,
    &crm__identity__v1__user_event__descriptor,
    &crm__identity__v1__session_revoked__descriptor,
    &crm__pipeline__v1__lead__descriptor,
    &crm__pipeline__v1__customer__descriptor,
    &crm__pipeline__v1__stage__descriptor,
    &crm__pipeline__v1__quotation__descriptor,
    &crm__pipeline__v1__kanban_cell__descriptor,
    &crm__pipeline__v1__user_info_schema1__descriptor,
    &crm__common__v1__doc_info__descriptor,
    &crm__common__v1__user_info__descriptor,
    &crm__pipeline__v1__team_info__descriptor,
    &crm__pipeline__v1__lead_event__descriptor,
    &crm__pipeline__v1__customer_event__descriptor,
    &crm__pipeline__v1__quotation_event__descriptor,
    &crm__pipeline__v1__tag_event__descriptor,
    &crm__pipeline__v1__lost_reason_event__descriptor,
    &crm__activities__v1__message__descriptor,
    &crm__activities__v1__call__descriptor,
    &crm__activities__v1__meeting__descriptor,
    &crm__activities__v1__message_event__descriptor,
    &crm__activities__v1__call_event__descriptor,
    &crm__activities__v1__meeting_event__descriptor,
    &crm__activities__v1__attachment_record__descriptor,
    &crm__notifications__v1__inbox_entry__descriptor,
    &crm__notifications__v1__inbox_state__descriptor,
    &crm__notifications__v1__follower_record__descriptor,
    &crm__notifications__v1__stream_entry__descriptor,
    &crm__notifications__v1__stream_heartbeat__descriptor,
    &crm__pipeline__v1__assignment_rules__descriptor,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > INPUT_LIMIT)
        return 0;
    const ProtobufCMessageDescriptor *d = types[data[0] % (sizeof types / sizeof types[0])];
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
    if (!m)
        return 0;
    fuzz_roundtrip(m);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
