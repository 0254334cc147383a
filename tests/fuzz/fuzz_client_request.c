/* libFuzzer target: the gateway's ZeroMQ door decoding. Input is taken as a
 * ClientRequest (as it arrives from a client); when it decodes, its method is
 * looked up and its body decoded as that method's input, as the gateway and
 * the services do. Every message re-encodes and decodes to the same bytes. */
#include "client.pb-c.h"
#include "crm_services.h"
#include "fuzz_roundtrip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_LIMIT (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the door bounds messages before decoding them; so does this target */
    if (size > INPUT_LIMIT)
        return 0;
    Crm__Client__V1__ClientRequest *req = crm__client__v1__client_request__unpack(NULL, size, data);
    if (!req)
        return 0;
    fuzz_roundtrip(&req->base);
    const ProtobufCMethodDescriptor *m = crm_services_find(req->method, NULL);
    if (m) {
        ProtobufCMessage *body = protobuf_c_message_unpack(m->input, NULL, req->body.len, req->body.data);
        if (body) {
            fuzz_roundtrip(body);
            protobuf_c_message_free_unpacked(body, NULL);
        }
    }
    crm__client__v1__client_request__free_unpacked(req, NULL);
    return 0;
}
