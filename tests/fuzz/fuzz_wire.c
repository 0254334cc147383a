/* libFuzzer target: the ZeroMQ door's in-place envelope reader (crm_wire)
 * against protobuf-c. Whatever protobuf-c unpacks as a ClientRequest, the
 * reader walks to the end and finds the same method, token and body (the
 * last occurrence of a field wins, as in protobuf-c); and it never reads
 * outside the buffer, whatever the bytes. */
#include "client.pb-c.h"
#include "crm_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_LIMIT (1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_LIMIT)
        return 0;
    size_t pos = 0;
    crm_wire_field_t f, method = {0}, token = {0}, body = {0};
    int rc;
    while ((rc = crm_wire_next(data, size, &pos, &f)) == 1) {
        if (pos > size)
            abort();
        if (f.wire_type == 2 && f.number == 2)
            method = f;
        else if (f.wire_type == 2 && f.number == 3)
            token = f;
        else if (f.wire_type == 2 && f.number == 5)
            body = f;
    }
    Crm__Client__V1__ClientRequest *req = crm__client__v1__client_request__unpack(NULL, size, data);
    if (!req)
        return 0;
    /* the reader is stricter than protobuf-c about keys (field numbers past
     * 2^29, keys of more than five bytes): the door refuses those as
     * malformed, which is safe; what both take, they must read alike */
    if (rc != 0)
        goto done;
    /* a text with a NUL in it ends there in protobuf-c's copy */
    if (memchr(method.data ? (const void *)method.data : "", 0, method.len) ||
        memchr(token.data ? (const void *)token.data : "", 0, token.len))
        goto done;
    if (strlen(req->method) != method.len || memcmp(req->method, method.data, method.len) != 0)
        abort();
    if (strlen(req->token) != token.len || memcmp(req->token, token.data, token.len) != 0)
        abort();
    if (req->body.len != body.len || (body.len && memcmp(req->body.data, body.data, body.len) != 0))
        abort();
done:
    crm__client__v1__client_request__free_unpacked(req, NULL);
    return 0;
}
