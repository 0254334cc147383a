#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_csv.h"

static const crm_csv_limits_t limits = {.max_field = 64, .max_columns = 8};

/* Every record of text, fields joined by "|", records by "/"; or
 * "ERR r c" for the first error. */
static void parse_all(const char *text, size_t len, char *out, size_t cap)
{
    crm_csv_t *p = crm_csv_new(text, len, &limits);
    crm_csv_record_t rec;
    crm_csv_error_t err;
    int rc;
    out[0] = '\0';
    while ((rc = crm_csv_next(p, &rec, &err)) == 1) {
        if (out[0])
            strncat(out, "/", cap - strlen(out) - 1);
        for (size_t i = 0; i < rec.n_fields; i++) {
            if (i)
                strncat(out, "|", cap - strlen(out) - 1);
            strncat(out, rec.fields[i], cap - strlen(out) - 1);
        }
    }
    if (rc < 0)
        snprintf(out, cap, "ERR %zu %zu", err.record, err.column);
    crm_csv_destroy(&p);
    assert_null(p);
}

#define ASSERT_CSV(text, want)                                                                                       \
    do {                                                                                                             \
        char got[512];                                                                                               \
        parse_all(text, sizeof(text) - 1, got, sizeof got);                                                          \
        assert_string_equal(got, want);                                                                              \
    } while (0)

static void test_rfc4180(void **state)
{
    ASSERT_CSV("a,b,c\r\n1,2,3\r\n", "a|b|c/1|2|3");
    ASSERT_CSV("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n", "a|b/x, y|say \"hi\"");
    ASSERT_CSV("a,b\n\"two\r\nlines\",z", "a|b/two\r\nlines|z");
    ASSERT_CSV("a,b\n1,\n", "a|b/1|");       /* a trailing empty field */
    ASSERT_CSV("a,b\n\"\",x\n", "a|b/|x");   /* an empty quoted field */
}

static void test_spreadsheet_quirks(void **state)
{
    /* BOM, CR-only line ends, blank lines and lines of empty fields */
    ASSERT_CSV("\xEF\xBB\xBFname,city\r1,2\r\r,\r3,4", "name|city/1|2/3|4");
    /* spaces around unquoted values, and around quoted ones */
    ASSERT_CSV("a , b\n  x  ,  \" y \"  \n", "a|b/x| y ");
    /* ";" when the header uses it: commas are then data (decimal commas) */
    ASSERT_CSV("name;revenue\nAcme;3 750,00\n", "name|revenue/Acme|3 750,00");
    /* a quote inside an unquoted value is kept as it is */
    ASSERT_CSV("a\n5\" disk\n", "a/5\" disk");
    ASSERT_CSV("", "");
    ASSERT_CSV("\n\r\n", "");
}

static void test_separator_is_sniffed_from_the_header_only(void **state)
{
    crm_csv_t *p = crm_csv_new("\"a;b\",c\n1;2", 11, &limits);
    assert_int_equal(crm_csv_separator(p), ',');
    crm_csv_destroy(&p);
    p = crm_csv_new("\xEF\xBB\xBF" "a;b,c;d", 10, &limits);
    assert_int_equal(crm_csv_separator(p), ';');
    assert_int_equal(crm_csv_bom(p), 3);
    crm_csv_destroy(&p);
}

static void test_errors_name_record_and_column(void **state)
{
    ASSERT_CSV("a,b\n1,\"open\n", "ERR 1 1");            /* never closed */
    ASSERT_CSV("a,b\n\n1,2\n3,\"x\"y\n", "ERR 2 1");    /* text after the quote; blank lines not counted */
    ASSERT_CSV("a,b\nok,caf\xE9\n", "ERR 1 1");         /* Latin-1, not UTF-8 */
    ASSERT_CSV("a\n\xC0\x80\n", "ERR 1 0");             /* overlong NUL */
    ASSERT_CSV("a,b\n1,2,3,4,5,6,7,8,9\n", "ERR 1 8");  /* past 8 columns */
    /* a field past 64 bytes, quoted or not */
    ASSERT_CSV("a\n0123456789012345678901234567890123456789012345678901234567890123456789\n", "ERR 1 0");
    ASSERT_CSV("a\n\"0123456789012345678901234567890123456789012345678901234567890123456789\"\n", "ERR 1 0");
}

static void test_record_ranges_cut_pages(void **state)
{
    const char text[] = "h1,h2\r\n\"a\nb\",1\r\n\r\nc,2\r\n";
    crm_csv_t *p = crm_csv_new(text, sizeof text - 1, &limits);
    crm_csv_record_t rec;
    crm_csv_error_t err;
    assert_int_equal(crm_csv_next(p, &rec, &err), 1);
    assert_int_equal(rec.index, 0);
    assert_int_equal(rec.start, 0);
    assert_int_equal(rec.end, 7);
    assert_int_equal(crm_csv_next(p, &rec, &err), 1);
    assert_int_equal(rec.index, 1);
    assert_int_equal(rec.start, 7);
    assert_int_equal(rec.end, 16); /* the quoted line end is inside */
    assert_int_equal(crm_csv_next(p, &rec, &err), 1);
    assert_int_equal(rec.index, 2);
    assert_string_equal(rec.fields[0], "c");
    assert_int_equal(rec.end, sizeof text - 1);
    assert_int_equal(crm_csv_next(p, &rec, &err), 0);
    crm_csv_destroy(&p);
}

static void test_writing_fields(void **state)
{
    char out[64];
    size_t n;
    n = crm_csv_field(out, "plain", ',', 1);
    assert_int_equal(n, 5);
    n = crm_csv_field(out, "a,b", ',', 1);
    out[n] = '\0';
    assert_string_equal(out, "\"a,b\"");
    n = crm_csv_field(out, "a,b", ';', 1);
    out[n] = '\0';
    assert_string_equal(out, "a,b");
    n = crm_csv_field(out, "say \"x\"\nnow", ',', 1);
    out[n] = '\0';
    assert_string_equal(out, "\"say \"\"x\"\"\nnow\"");
    /* formulas are defused, and come back as they were */
    n = crm_csv_field(out, "=HYPERLINK(\"x\")", ',', 1);
    out[n] = '\0';
    assert_string_equal(out, "\"'=HYPERLINK(\"\"x\"\")\"");
    n = crm_csv_field(out, "@SUM", ',', 1);
    out[n] = '\0';
    assert_string_equal(out, "'@SUM");
    assert_string_equal(crm_csv_unguard("'@SUM"), "@SUM");
    assert_string_equal(crm_csv_unguard("'quoted'"), "'quoted'");
    n = crm_csv_field(out, "-5", ',', 0);
    out[n] = '\0';
    assert_string_equal(out, "-5");
    n = crm_csv_field(out, " edge", ',', 0);
    out[n] = '\0';
    assert_string_equal(out, "\" edge\"");
    assert_true(crm_csv_field_size("\"\"\"") >= 9);
}

/* What is written reads back as the same values. */
static void test_round_trip(void **state)
{
    static const char *const values[] = {"a,b", "q\"uote", "two\r\nlines", " pad ", "=1+1", "", "plain", "x;y"};
    char text[512];
    size_t o = 0;
    for (int sep = 0; sep < 2; sep++) {
        char s = sep ? ';' : ',';
        o = 0;
        for (size_t i = 0; i < 8; i++) {
            if (i)
                text[o++] = s;
            o += crm_csv_field(text + o, i == 0 ? "h" : "h2", s, 1);
        }
        memcpy(text + o, "\r\n", 2);
        o += 2;
        for (size_t i = 0; i < 8; i++) {
            if (i)
                text[o++] = s;
            o += crm_csv_field(text + o, values[i], s, 1);
        }
        crm_csv_t *p = crm_csv_new(text, o, &limits);
        assert_int_equal(crm_csv_separator(p), s);
        crm_csv_record_t rec;
        crm_csv_error_t err;
        assert_int_equal(crm_csv_next(p, &rec, &err), 1);
        assert_int_equal(crm_csv_next(p, &rec, &err), 1);
        assert_int_equal(rec.n_fields, 8);
        for (size_t i = 0; i < 8; i++)
            assert_string_equal(crm_csv_unguard(rec.fields[i]), values[i]);
        crm_csv_destroy(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4180),
        cmocka_unit_test(test_spreadsheet_quirks),
        cmocka_unit_test(test_separator_is_sniffed_from_the_header_only),
        cmocka_unit_test(test_errors_name_record_and_column),
        cmocka_unit_test(test_record_ranges_cut_pages),
        cmocka_unit_test(test_writing_fields),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
