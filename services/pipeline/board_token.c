/* GetPipeline's page token: a card's place in its column (priority, age,
 * id; PL_ORDER_LEN bytes) as lowercase hex. Kept apart from kanban.c, with
 * nothing but the C library, so that tests/fuzz/fuzz_board_token.c decodes
 * client input with the very code the service runs. */
#include "board_token.h"

#include <string.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void pl_order_token(const uint8_t order[PL_ORDER_LEN], char out[PL_ORDER_TOKEN_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < PL_ORDER_LEN; i++) {
        out[2 * i] = digits[order[i] >> 4];
        out[2 * i + 1] = digits[order[i] & 15];
    }
    out[2 * PL_ORDER_LEN] = '\0';
}

int pl_order_from_token(const char *token, uint8_t order[PL_ORDER_LEN])
{
    /* one spelling per place: uppercase or any other byte is refused, so a
     * token that decodes encodes back to itself */
    if (strlen(token) != 2 * PL_ORDER_LEN)
        return -1;
    for (size_t i = 0; i < PL_ORDER_LEN; i++) {
        int hi = hex_digit(token[2 * i]), lo = hex_digit(token[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        order[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
