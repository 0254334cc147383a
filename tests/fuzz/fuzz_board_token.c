/* libFuzzer target: GetPipeline's page token, which a client sends back as
 * it likes. The service's own decoder (compiled in from its source, having
 * no other dependency) takes any string without reading past it, and what
 * it accepts encodes back to the very same token. */
#include "../../services/pipeline/board_token.c"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the token arrives as a protobuf string: NUL-terminated, any bytes */
    char *token = malloc(size + 1);
    if (!token)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    uint8_t order[PL_ORDER_LEN];
    if (pl_order_from_token(token, order) == 0) {
        char again[PL_ORDER_TOKEN_SIZE];
        pl_order_token(order, again);
        if (strcmp(again, token) != 0)
            abort();
    }
    free(token);
    return 0;
}
