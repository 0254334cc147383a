#ifndef CRM_CSV_H
#define CRM_CSV_H

#include <stddef.h>
#include <stdint.h>

/* CSV as spreadsheets write it: RFC 4180 (quoted fields with separators,
 * line ends and doubled quotes inside) plus what Excel and LibreOffice add:
 * a UTF-8 byte order mark, CRLF, LF or CR line ends, ";" as the separator
 * when the header line uses it more than "," (locales whose decimal mark is
 * a comma), blank lines (and lines of empty fields) skipped, spaces around
 * unquoted values trimmed. Every field must be valid UTF-8; a field and a
 * row are bounded. One parser for the pipeline service (ImportRecords) and
 * crmctl (which cuts a file into pages of whole rows with it).
 *
 * Records are numbered as ImportRecords counts rows: the header is record
 * 0, the first data row 1; skipped blank lines are not counted. */
typedef struct crm_csv crm_csv_t;

typedef struct {
    size_t max_field;   /* bytes of one field (after unquoting) */
    size_t max_columns; /* fields of one record */
} crm_csv_limits_t;

/* One record: its fields (NUL-terminated, valid UTF-8, owned by the parser
 * and valid until the next crm_csv_next or crm_csv_destroy), and where it
 * lies in the text: [start, end), end past its line end. */
typedef struct {
    char **fields;
    size_t n_fields;
    size_t index; /* 0: the header */
    size_t start, end;
} crm_csv_record_t;

/* Why a record could not be read: its number, the column (0-based; the
 * field being read) and a message for a person. */
typedef struct {
    size_t record;
    size_t column;
    char message[128];
} crm_csv_error_t;

/* A parser over text[0, len) (not copied: it must outlive the parser).
 * A leading BOM is skipped; the separator is read off the first line.
 * Never NULL (out of memory aborts). */
crm_csv_t *crm_csv_new(const char *text, size_t len, const crm_csv_limits_t *limits);
void crm_csv_destroy(crm_csv_t **self_p);

/* The next record into *rec: 1, or 0 at the end of the text, or -1 with
 * *err set (an unterminated quote, text after a closing quote, a field or
 * a record past the limits, invalid UTF-8); after -1 the parser stays
 * failed. */
int crm_csv_next(crm_csv_t *self, crm_csv_record_t *rec, crm_csv_error_t *err);

/* The separator in use: ',' or ';'. */
char crm_csv_separator(const crm_csv_t *self);
/* Bytes of the BOM skipped at the start (0 or 3). */
size_t crm_csv_bom(const crm_csv_t *self);

/* Writes value as one CSV field into out (which has room for
 * crm_csv_field_size(value) bytes), quoted when it holds sep, a quote, a
 * line end or edge spaces; with formula_guard a value a spreadsheet would
 * run as a formula (starting with = + - @, a tab or a CR) gets a leading
 * "'" (CSV injection). Returns the bytes written (no NUL). Can't fail. */
size_t crm_csv_field(char *out, const char *value, char sep, int formula_guard);
/* value without the "'" crm_csv_field's formula_guard put before it, so
 * that an exported file imports as the values it was made from. Can't
 * fail. */
const char *crm_csv_unguard(const char *value);
/* The most bytes crm_csv_field may write for value. Can't fail. */
size_t crm_csv_field_size(const char *value);

#endif
