/* libFuzzer target: the calendar dates clients send (a planned activity's
 * deadline, "today" of the activity lists). crm_date_parse takes any
 * NUL-terminated string without reading past it; what it accepts formats
 * back to the very same text, and its day keys back to the same day. */
#include "crm_date.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the date arrives as a protobuf string: NUL-terminated, any bytes */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int32_t day;
    if (crm_date_parse(text, &day) == 0) {
        char again[CRM_DATE_LEN + 1];
        crm_date_format(again, day);
        uint8_t key[4];
        crm_date_key_put(key, day);
        if (strcmp(again, text) != 0 || crm_date_key_get(key) != day ||
            crm_date_of_instant(crm_date_start_us(day)) != day)
            abort();
    }
    free(text);
    return 0;
}
