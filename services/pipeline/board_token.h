#ifndef BOARD_TOKEN_H
#define BOARD_TOKEN_H

#include <stdint.h>

/* A card's place in a kanban column: priority, age, lead id. */
#define PL_ORDER_LEN 17
#define PL_ORDER_TOKEN_SIZE (2 * PL_ORDER_LEN + 1)

/* Writes order as a page token (lowercase hex, NUL-terminated). */
void pl_order_token(const uint8_t order[PL_ORDER_LEN], char out[PL_ORDER_TOKEN_SIZE]);
/* Reads a page token made by pl_order_token. Returns 0, or -1 (order then
 * unspecified) for any other string. */
int pl_order_from_token(const char *token, uint8_t order[PL_ORDER_LEN]);

#endif
