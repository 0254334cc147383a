#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crm_tracking.h"

#include <stdio.h>
#include <string.h>

/* How tracked changes read in the chatter and the inbox. */

static Crm__Pipeline__V1__FieldChange change(const char *field, const char *o, const char *n, const char *ol,
                                             const char *nl)
{
    Crm__Pipeline__V1__FieldChange c = CRM__PIPELINE__V1__FIELD_CHANGE__INIT;
    c.field = (char *)field;
    c.old_value = (char *)o;
    c.new_value = (char *)n;
    c.old_label = (char *)ol;
    c.new_label = (char *)nl;
    return c;
}

static void test_money(void **state)
{
    char b[64];
    crm_format_money(b, sizeof b, 375000, "EUR");
    assert_string_equal(b, "3,750.00");
    crm_format_money(b, sizeof b, -5, "EUR");
    assert_string_equal(b, "-0.05");
    crm_format_money(b, sizeof b, 1234567, "JPY"); /* no minor unit */
    assert_string_equal(b, "1,234,567");
    crm_format_money(b, sizeof b, 1234567, "KWD"); /* three */
    assert_string_equal(b, "1,234.567");
    crm_format_money(b, sizeof b, 0, "");
    assert_string_equal(b, "0.00");
    crm_format_money(b, sizeof b, INT64_MIN, "EUR"); /* no overflow at the edge */
    assert_string_equal(b, "-92,233,720,368,547,758.08");
    crm_format_money(b, 6, 375000, "EUR"); /* cut, still terminated */
    assert_int_equal(strlen(b), 5);
}

static void test_time(void **state)
{
    char b[64];
    crm_format_time(b, sizeof b, 1796119200LL * 1000000); /* 2026-12-01 10:00:00 UTC */
    assert_string_equal(b, "2026-12-01 10:00 UTC");
}

typedef struct {
    int calls;
    char last[128];
} seen_t;

static void each(void *arg, const Crm__Pipeline__V1__FieldChange *c, const char *label, const char *o, const char *n)
{
    seen_t *s = arg;
    s->calls++;
    snprintf(s->last, sizeof s->last, "%s|%s|%s|%s", c->field, label, o, n);
}

static void test_text(void **state)
{
    crm_arena_t *a = crm_arena_new();
    Crm__Pipeline__V1__FieldChange c[5] = {
        change("stageId", "1", "3", "New", "Proposition"),
        change("name", "a", "b", "", ""), /* not tracked */
        change("expectedRevenue", "0", "375000", "EUR", "EUR"),
        change("salespersonId", "0", "7", "", "Li"),
        change("status", "LEAD_STATUS_NEW", "LEAD_STATUS_IN_PROGRESS", "", ""),
    };
    Crm__Pipeline__V1__FieldChange *p[5] = {&c[0], &c[1], &c[2], &c[3], &c[4]};
    seen_t s = {0};
    size_t n;
    char *t = crm_tracking_text(a, p, 5, NULL, each, &s, &n);
    assert_string_equal(t, "Stage: New → Proposition\nExpected revenue: 0.00 → 3,750.00 EUR\n"
                           "Salesperson: — → Li\nStatus: New → In progress");
    assert_int_equal(n, 4);
    assert_int_equal(s.calls, 4);
    assert_string_equal(s.last, "status|Status|New|In progress");
    /* a headline leads; a change of currency shows both */
    Crm__Pipeline__V1__FieldChange r = change("expectedRevenue", "100", "200", "USD", "EUR");
    Crm__Pipeline__V1__FieldChange *one[1] = {&r};
    t = crm_tracking_text(a, one, 1, "Opportunity won", NULL, NULL, NULL);
    assert_string_equal(t, "Opportunity won\nExpected revenue: 1.00 USD → 2.00 EUR");
    /* nothing tracked: empty, and the count says so */
    t = crm_tracking_text(a, p + 1, 1, NULL, NULL, NULL, &n);
    assert_string_equal(t, "");
    assert_int_equal(n, 0);
    crm_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
