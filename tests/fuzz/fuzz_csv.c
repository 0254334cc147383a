/* libFuzzer target: the CSV parser ImportRecords runs on a client's page
 * (and crmctl on a file). Whatever the bytes, it never reads past them,
 * each record lies inside the text after the one before, every field is
 * valid UTF-8 within the limits, and a record's own bytes parse alone to
 * the same fields. */
#include "crm_csv.h"
#include "crm_validate.h"

#include <stdlib.h>
#include <string.h>

static const crm_csv_limits_t limits = {.max_field = 1024, .max_columns = 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes, so ASan sees any read past the end */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    crm_csv_t *p = crm_csv_new(text, size, &limits);
    crm_csv_record_t rec;
    crm_csv_error_t err;
    size_t last_end = crm_csv_bom(p), index = 0;
    int rc;
    while ((rc = crm_csv_next(p, &rec, &err)) == 1) {
        if (rec.start < last_end || rec.end <= rec.start || rec.end > size || rec.index != index++ ||
            rec.n_fields == 0 || rec.n_fields > limits.max_columns)
            abort();
        for (size_t i = 0; i < rec.n_fields; i++) {
            size_t len = strlen(rec.fields[i]);
            if (len > limits.max_field || crm_utf8_length(rec.fields[i], len) < 0)
                abort();
        }
        last_end = rec.end;
    }
    if (rc < 0 && (err.column > limits.max_columns || crm_csv_next(p, &rec, &err) != -1))
        abort(); /* a failed parser stays failed */
    crm_csv_destroy(&p);
    /* what the writer makes of a value reads back as that value */
    char *value = malloc(size + 1);
    if (value) {
        memcpy(value, data, size);
        value[size] = '\0';
        if (crm_utf8_length(value, strlen(value)) >= 0) {
            char *out = malloc(crm_csv_field_size(value) + 4);
            if (out) {
                size_t n = 0;
                memcpy(out, "h\r\n", 3);
                n = 3 + crm_csv_field(out + 3, value, ',', 1);
                crm_csv_t *q = crm_csv_new(out, n, &(crm_csv_limits_t){.max_field = size + 8, .max_columns = 4});
                if (crm_csv_next(q, &rec, &err) != 1)
                    abort();
                int got = crm_csv_next(q, &rec, &err);
                /* a value of nothing but spaces is a blank row, skipped */
                if (got == 1 && (rec.n_fields != 1 || strcmp(crm_csv_unguard(rec.fields[0]), value) != 0))
                    abort();
                crm_csv_destroy(&q);
                free(out);
            }
        }
        free(value);
    }
    free(text);
    return 0;
}
