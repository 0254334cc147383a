/* crmctl import and export: CSV files of leads or customers through the
 * gateway, a page at a time (ImportRecords, ExportRecords).
 *   crmctl import FILE --model leads|customers [--dry-run] [--page-rows N]
 *   crmctl export --model leads|customers [--archived]   (CSV on stdout)
 * Import reads the file once to check it and count its rows, then sends it
 * in pages of whole rows (a quoted field's line ends never split), each with
 * the header line and the file's number of its first row, and each with an
 * idempotency key made of the file's content hash and the page: run again
 * after a crash, it gets the stored answers of the pages that went through
 * and sends only the rest (and the service's own record of imported rows
 * makes even a page sent twice create nothing twice). */
#include "crmctl.h"
#include "crm_csv.h"
#include "crm_limits.h"
#include "crm_mem.h"
#include "pipeline.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE_TIMEOUT_MS 30000
#define PAGE_TRIES 3
#define IMPORT_METHOD "crm.pipeline.v1.Pipeline/ImportRecords"
#define EXPORT_METHOD "crm.pipeline.v1.Pipeline/ExportRecords"
/* room left in a page for the request's other fields */
#define PAGE_BYTES (CRM_LIMIT_IMPORT_PAGE - 4096)

static const crm_csv_limits_t csv_limits = {.max_field = 256 << 10, .max_columns = 64};

static int parse_model(const char *s)
{
    if (!strcmp(s, "leads") || !strcmp(s, "lead"))
        return CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_LEAD;
    if (!strcmp(s, "customers") || !strcmp(s, "customer"))
        return CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_CUSTOMER;
    return 0;
}

static void print_status(const crm_status_t *st)
{
    fprintf(stderr, "error: %s: %s%s%s%s\n", crm_code_name(st->code), st->message, st->field[0] ? " (field " : "",
            st->field, st->field[0] ? ")" : "");
}

/* One call; a call that got no answer, or unavailable or deadline_exceeded,
 * is sent again with the same key (a page applied before the answer was
 * lost is answered again, not applied again). Returns the reply or NULL. */
static void *call_page(crm_client_t *c, const char *method, const char *token, const char *idem,
                       const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc, crm_status_t *st)
{
    size_t len = protobuf_c_message_get_packed_size(in);
    uint8_t *buf = crm_malloc(len ? len : 1), *out = NULL;
    protobuf_c_message_pack(in, buf);
    void *reply = NULL;
    for (int attempt = 0; attempt < PAGE_TRIES && !reply; attempt++) {
        if (attempt)
            sleep((unsigned)attempt);
        size_t out_len = 0;
        int rc = crm_client_call(c, method, token, idem, buf, len, PAGE_TIMEOUT_MS, st, &out, &out_len);
        if (rc == 0 && st->code == CRM__RPC__V1__CODE__CODE_OK) {
            reply = protobuf_c_message_unpack(out_desc, NULL, out_len, out);
            free(out);
            if (!reply)
                crm_status_set(st, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "the reply is not a valid %s",
                               out_desc->name);
            break;
        }
        if (rc == 0 && st->code != CRM__RPC__V1__CODE__CODE_UNAVAILABLE &&
            st->code != CRM__RPC__V1__CODE__CODE_DEADLINE_EXCEEDED)
            break;
        /* without a key a retry could not tell a lost answer from a lost call */
        if (!idem)
            break;
    }
    free(buf);
    return reply;
}

typedef struct {
    long rows, created, updated, unchanged, failed;
} totals_t;

/* Sends text[from, to) after the header as one page. Returns 0, or -1 when
 * the page was refused whole (printed). */
static int send_page(crm_client_t *c, const char *token, const char *text, size_t header_len, size_t from, size_t to,
                     int model, int dry_run, int32_t first_row, const char *key, totals_t *t)
{
    char *csv = crm_malloc(header_len + (to - from) + 1);
    memcpy(csv, text, header_len);
    memcpy(csv + header_len, text + from, to - from);
    csv[header_len + (to - from)] = '\0';
    Crm__Pipeline__V1__ImportRecordsRequest req = CRM__PIPELINE__V1__IMPORT_RECORDS_REQUEST__INIT;
    req.model = model;
    req.csv = csv;
    req.first_row = first_row;
    req.dry_run = dry_run;
    crm_status_t st;
    Crm__Pipeline__V1__ImportRecordsReply *r =
        call_page(c, IMPORT_METHOD, token, key, &req.base, &crm__pipeline__v1__import_records_reply__descriptor, &st);
    free(csv);
    if (!r) {
        fprintf(stderr, "rows from %d: ", first_row);
        print_status(&st);
        return -1;
    }
    for (size_t i = 0; i < r->n_errors; i++)
        printf("row %d, column %s: %s (%s)\n", r->errors[i]->row, r->errors[i]->field[0] ? r->errors[i]->field : "-",
               r->errors[i]->message, r->errors[i]->code);
    t->rows += r->rows;
    t->created += r->created;
    t->updated += r->updated;
    t->unchanged += r->unchanged;
    t->failed += (long)r->n_errors;
    crm__pipeline__v1__import_records_reply__free_unpacked(r, NULL);
    return 0;
}

int crmctl_import(crm_client_t *c, const char *token, int argc, char **argv)
{
    const char *file = NULL;
    int model = 0, dry_run = 0, rc = 1;
    long page_rows = 500;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = parse_model(argv[++i]);
        else if (!strcmp(argv[i], "--dry-run"))
            dry_run = 1;
        else if (!strcmp(argv[i], "--page-rows") && i + 1 < argc)
            page_rows = strtol(argv[++i], NULL, 10);
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            model = -1;
    }
    if (!file || model <= 0 || page_rows < 1 || page_rows > CRM_LIMIT_IMPORT_ROWS) {
        fprintf(stderr, "usage: crmctl import FILE --model leads|customers [--dry-run] [--page-rows 1..%d]\n",
                CRM_LIMIT_IMPORT_ROWS);
        return 2;
    }
    int fd = open(file, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "error: %s: %s\n", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    size_t size = (size_t)sb.st_size;
    char *text = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (!size || text == MAP_FAILED) {
        fprintf(stderr, "error: %s: %s\n", file, size ? strerror(errno) : "the file is empty");
        return 1;
    }
    crm_csv_t *p = crm_csv_new(text, size, &csv_limits);
    crm_csv_record_t rec;
    crm_csv_error_t err;
    int got;
    long data_rows = 0;
    size_t header_len = 0;
    /* the whole file is checked before anything is sent */
    while ((got = crm_csv_next(p, &rec, &err)) == 1) {
        if (rec.index == 0)
            header_len = rec.end;
        else
            data_rows++;
    }
    crm_csv_destroy(&p);
    if (got < 0) {
        fprintf(stderr, "error: %s cannot be read as CSV: row %zu, column %zu: %s\n", file, err.record, err.column + 1,
                err.message);
        goto done;
    }
    if (!header_len) {
        fprintf(stderr, "error: %s has no header line\n", file);
        goto done;
    }
    unsigned char digest[16];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)text, size, NULL, 0);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    totals_t t = {0};
    p = crm_csv_new(text, size, &csv_limits);
    got = crm_csv_next(p, &rec, &err); /* the header again */
    size_t from = 0, to = 0;
    long in_page = 0, page_no = 0;
    int32_t first_row = 1, next_row = 1;
    int refused = 0;
    for (;;) {
        got = crm_csv_next(p, &rec, &err);
        int full = got == 1 && in_page > 0 &&
                   (in_page == page_rows || header_len + (rec.end - from) > (size_t)PAGE_BYTES);
        if ((got != 1 || full) && in_page > 0) {
            char key[CRM_LIMIT_IDEMPOTENCY_KEY];
            snprintf(key, sizeof key, "import-%s-%d-%ld-%ld", hex, model, page_rows, page_no);
            if (send_page(c, token, text, header_len, from, to, model, dry_run, first_row, dry_run ? NULL : key, &t) != 0)
                refused = 1;
            page_no++;
            in_page = 0;
            if (refused)
                break;
            if (!dry_run && isatty(STDERR_FILENO))
                fprintf(stderr, "\r%ld of %ld rows", t.rows, data_rows);
        }
        if (got != 1)
            break;
        if (in_page == 0) {
            from = rec.start;
            first_row = next_row;
        }
        if (header_len + (rec.end - from) > (size_t)PAGE_BYTES) {
            fprintf(stderr, "error: row %zu alone is more than a page (%d bytes)\n", rec.index, PAGE_BYTES);
            refused = 1;
            break;
        }
        to = rec.end;
        in_page++;
        next_row++;
    }
    crm_csv_destroy(&p);
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
    printf("%ld rows%s: %ld created, %ld updated, %ld unchanged, %ld failed%s\n", t.rows, dry_run ? " checked" : "",
           t.created, t.updated, t.unchanged, t.failed, refused ? "; stopped at a refused page" : "");
    rc = refused || t.failed ? 1 : 0;
done:
    munmap(text, size);
    return rc;
}

int crmctl_export(crm_client_t *c, const char *token, int argc, char **argv)
{
    int model = 0;
    Crm__Pipeline__V1__ArchiveFilter archived = CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_ACTIVE;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = parse_model(argv[++i]);
        else if (!strcmp(argv[i], "--archived"))
            archived = CRM__PIPELINE__V1__ARCHIVE_FILTER__ARCHIVE_FILTER_ALL;
        else
            model = -1;
    }
    if (model <= 0) {
        fputs("usage: crmctl export --model leads|customers [--archived]\n", stderr);
        return 2;
    }
    char *page_token = crm_strdup("");
    int rc = 0;
    do {
        Crm__Pipeline__V1__ExportRecordsRequest req = CRM__PIPELINE__V1__EXPORT_RECORDS_REQUEST__INIT;
        req.model = model;
        req.page_size = 1000;
        req.page_token = page_token;
        req.archived = archived;
        crm_status_t st;
        Crm__Pipeline__V1__ExportRecordsReply *r =
            call_page(c, EXPORT_METHOD, token, NULL, &req.base, &crm__pipeline__v1__export_records_reply__descriptor, &st);
        free(page_token);
        page_token = NULL;
        if (!r) {
            print_status(&st);
            rc = 1;
            break;
        }
        size_t n = strlen(r->csv);
        if (fwrite(r->csv, 1, n, stdout) != n) {
            fprintf(stderr, "error: writing the CSV: %s\n", strerror(errno));
            rc = 1;
        }
        page_token = r->next_page_token[0] && !rc ? crm_strdup(r->next_page_token) : NULL;
        crm__pipeline__v1__export_records_reply__free_unpacked(r, NULL);
    } while (page_token);
    free(page_token);
    if (fflush(stdout) != 0)
        rc = 1;
    return rc;
}
