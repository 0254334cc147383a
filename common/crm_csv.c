/* Written by hand rather than on libcsv: import reports errors by record
 * and column and cuts files into pages at record boundaries, so it needs
 * each record's byte range, a bound on a field before it is copied and a
 * UTF-8 verdict per field; libcsv's callbacks give none of those, nor the
 * BOM, separator sniffing or blank-row rules spreadsheets need. */
#include "crm_csv.h"
#include "crm_mem.h"
#include "crm_validate.h"

#include <stdio.h>
#include <string.h>

struct crm_csv {
    const char *text;
    size_t len, pos, bom;
    char sep;
    crm_csv_limits_t limits;
    size_t next_index;
    int failed;
    char *buf;            /* the record's fields, each NUL-terminated */
    size_t buf_len, buf_cap;
    size_t *offsets;      /* where each field starts in buf */
    char **fields;
    size_t cap_fields;
};

/* The first line (outside quotes) decides: ";" when it has more of them
 * than commas, as Excel writes in locales with a decimal comma. */
static char sniff_separator(const char *s, size_t len)
{
    size_t commas = 0, semis = 0;
    int quoted = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == '\n' || c == '\r'))
            break;
        else if (!quoted && c == ',')
            commas++;
        else if (!quoted && c == ';')
            semis++;
    }
    return semis > commas ? ';' : ',';
}

crm_csv_t *crm_csv_new(const char *text, size_t len, const crm_csv_limits_t *limits)
{
    crm_csv_t *self = crm_calloc(1, sizeof *self);
    self->text = text;
    self->len = len;
    self->limits = *limits;
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        self->bom = self->pos = 3;
    self->sep = sniff_separator(text + self->pos, len - self->pos);
    return self;
}

void crm_csv_destroy(crm_csv_t **self_p)
{
    crm_csv_t *self = *self_p;
    if (!self)
        return;
    free(self->buf);
    free(self->offsets);
    free(self->fields);
    free(self);
    *self_p = NULL;
}

char crm_csv_separator(const crm_csv_t *self) { return self->sep; }
size_t crm_csv_bom(const crm_csv_t *self) { return self->bom; }

static void put_byte(crm_csv_t *self, char c)
{
    if (self->buf_len == self->buf_cap) {
        self->buf_cap = self->buf_cap ? self->buf_cap * 2 : 256;
        self->buf = crm_realloc(self->buf, self->buf_cap);
    }
    self->buf[self->buf_len++] = c;
}

static int fail(crm_csv_t *self, crm_csv_error_t *err, size_t column, const char *message)
{
    self->failed = 1;
    err->record = self->next_index;
    err->column = column;
    snprintf(err->message, sizeof err->message, "%s", message);
    return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }
static int is_end(char c) { return c == '\n' || c == '\r'; }

/* Reads one field at self->pos into buf; leaves pos on what ends it. */
static int read_field(crm_csv_t *self, size_t column, crm_csv_error_t *err)
{
    const char *s = self->text;
    size_t start = self->buf_len;
    while (self->pos < self->len && is_space(s[self->pos]) && s[self->pos] != self->sep)
        self->pos++;
    if (self->pos < self->len && s[self->pos] == '"') {
        self->pos++;
        for (;;) {
            if (self->pos >= self->len)
                return fail(self, err, column, "a quoted field is not closed");
            char c = s[self->pos++];
            if (c == '"') {
                if (self->pos < self->len && s[self->pos] == '"')
                    self->pos++;
                else
                    break;
            }
            if (self->buf_len - start >= self->limits.max_field)
                return fail(self, err, column, "a field is too long");
            put_byte(self, c);
        }
        while (self->pos < self->len && is_space(s[self->pos]) && s[self->pos] != self->sep)
            self->pos++;
        if (self->pos < self->len && s[self->pos] != self->sep && !is_end(s[self->pos]))
            return fail(self, err, column, "text after a closing quote (write a quote inside a quoted field as \"\")");
    } else {
        while (self->pos < self->len && s[self->pos] != self->sep && !is_end(s[self->pos])) {
            if (self->buf_len - start >= self->limits.max_field)
                return fail(self, err, column, "a field is too long");
            put_byte(self, s[self->pos++]);
        }
        while (self->buf_len > start && is_space(self->buf[self->buf_len - 1]))
            self->buf_len--;
    }
    if (crm_utf8_length(self->buf + start, self->buf_len - start) < 0)
        return fail(self, err, column, "not valid UTF-8 text");
    put_byte(self, '\0');
    return 0;
}

int crm_csv_next(crm_csv_t *self, crm_csv_record_t *rec, crm_csv_error_t *err)
{
    if (self->failed)
        return fail(self, err, 0, "the text could not be read further");
    for (;;) {
        if (self->pos >= self->len)
            return 0;
        size_t start = self->pos, n = 0, filled = 0;
        self->buf_len = 0;
        for (;;) {
            if (n == self->limits.max_columns)
                return fail(self, err, n, "a row has too many columns");
            if (n == self->cap_fields) {
                self->cap_fields = self->cap_fields ? self->cap_fields * 2 : 16;
                self->offsets = crm_realloc(self->offsets, self->cap_fields * sizeof *self->offsets);
                self->fields = crm_realloc(self->fields, self->cap_fields * sizeof *self->fields);
            }
            self->offsets[n] = self->buf_len;
            if (read_field(self, n, err) != 0)
                return -1;
            filled |= self->buf[self->offsets[n]] != '\0';
            n++;
            if (self->pos < self->len && self->text[self->pos] == self->sep) {
                self->pos++;
                continue;
            }
            break;
        }
        if (self->pos < self->len && self->text[self->pos] == '\r')
            self->pos++;
        if (self->pos < self->len && self->text[self->pos] == '\n')
            self->pos++; /* LF, or the LF of CRLF */
        if (!filled)
            continue; /* a blank line, or one of empty fields */
        for (size_t i = 0; i < n; i++)
            self->fields[i] = self->buf + self->offsets[i];
        rec->fields = self->fields;
        rec->n_fields = n;
        rec->index = self->next_index++;
        rec->start = start;
        rec->end = self->pos;
        return 1;
    }
}

/* What a spreadsheet would run: after any leading "'", one of = + - @, a
 * tab or a CR. Guarding adds one "'" to such a value and reading takes one
 * off, so a value that already starts with "'" comes back as it was. */
static int formula_like(const char *value)
{
    while (*value == '\'')
        value++;
    return *value && strchr("=+-@\t\r", *value) != NULL;
}

const char *crm_csv_unguard(const char *value)
{
    return value[0] == '\'' && formula_like(value + 1) ? value + 1 : value;
}

size_t crm_csv_field_size(const char *value) { return 2 * strlen(value) + 3; }

size_t crm_csv_field(char *out, const char *value, char sep, int formula_guard)
{
    size_t len = strlen(value), o = 0;
    int guard = formula_guard && formula_like(value);
    int quote = 0;
    for (size_t i = 0; i < len && !quote; i++)
        quote = value[i] == sep || value[i] == '"' || value[i] == '\n' || value[i] == '\r';
    quote = quote || (len > 0 && (is_space(value[0]) || is_space(value[len - 1])));
    if (quote)
        out[o++] = '"';
    if (guard)
        out[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        if (value[i] == '"')
            out[o++] = '"';
        out[o++] = value[i];
    }
    if (quote)
        out[o++] = '"';
    return o;
}
