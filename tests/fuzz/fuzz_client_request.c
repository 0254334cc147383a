/* libFuzzer target: the gateway's ZeroMQ door decoding. Input is taken as a
 * ClientRequest (as it arrives from a client); when it decodes, its method is
 * looked up and its body decoded as that method's input, as the gateway and
 * the services do. Every message re-encodes and decodes to the same bytes. */
#include "client.pb-c.h"
#include "crm_services.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT (1 << 20)

static void roundtrip(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n ? n : 1);
    if (!a)
        abort();
    protobuf_c_message_pack(m, a);
    ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
    if (!again)
        abort(); /* what we encode we must decode */
    size_t n2 = protobuf_c_message_get_packed_size(again);
    uint8_t *b = malloc(n2 ? n2 : 1);
    if (!b)
        abort();
    protobuf_c_message_pack(again, b);
    if (n2 != n || memcmp(a, b, n) != 0)
        abort();
    protobuf_c_message_free_unpacked(again, NULL);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the door bounds messages before decoding them; so does this target */
    if (size > MAX_INPUT)
        return 0;
    Crm__Client__V1__ClientRequest *req = crm__client__v1__client_request__unpack(NULL, size, data);
    if (!req)
        return 0;
    roundtrip(&req->base);
    const ProtobufCMethodDescriptor *m = crm_services_find(req->method, NULL);
    if (m) {
        ProtobufCMessage *body = protobuf_c_message_unpack(m->input, NULL, req->body.len, req->body.data);
        if (body) {
            roundtrip(body);
            protobuf_c_message_free_unpacked(body, NULL);
        }
    }
    crm__client__v1__client_request__free_unpacked(req, NULL);
    return 0;
}
