#include "crm_tracking.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ISO 4217 minor-unit exponents other than 2. */
int crm_currency_exponent(const char *c)
{
    static const char zero[] = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
    static const char three[] = "BHD IQD JOD KWD LYD OMR TND";
    if (!c || strlen(c) != 3)
        return 2;
    if (strstr(zero, c))
        return 0;
    if (strstr(three, c))
        return 3;
    return 2;
}

void crm_format_money(char *out, size_t size, int64_t minor, const char *currency)
{
    int exp = crm_currency_exponent(currency);
    uint64_t v = minor < 0 ? -(uint64_t)minor : (uint64_t)minor, scale = 1;
    for (int i = 0; i < exp; i++)
        scale *= 10;
    char units[32], grouped[48];
    snprintf(units, sizeof units, "%" PRIu64, v / scale);
    size_t n = strlen(units), j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            grouped[j++] = ',';
        grouped[j++] = units[i];
    }
    grouped[j] = '\0';
    if (exp)
        snprintf(out, size, "%s%s.%0*" PRIu64, minor < 0 ? "-" : "", grouped, exp, v % scale);
    else
        snprintf(out, size, "%s%s", minor < 0 ? "-" : "", grouped);
}

void crm_format_time(char *out, size_t size, int64_t at_us)
{
    time_t t = (time_t)(at_us / 1000000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm))
        snprintf(out, size, "%lld", (long long)at_us);
}

/* "LEAD_STATUS_IN_PROGRESS" → "In progress". */
static char *status_text(crm_arena_t *arena, const char *name)
{
    const char *prefix = "LEAD_STATUS_";
    if (!strncmp(name, prefix, strlen(prefix)))
        name += strlen(prefix);
    char *s = crm_arena_strdup(arena, name);
    for (char *p = s; *p; p++) {
        if (*p == '_')
            *p = ' ';
        else if (p != s && *p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    return s;
}

static const struct {
    const char *field, *label;
} tracked[] = {
    {"stageId", "Stage"},         {"status", "Status"},
    {"salespersonId", "Salesperson"}, {"teamId", "Sales team"},
    {"customerId", "Customer"},   {"expectedRevenue", "Expected revenue"},
    {"probability", "Probability"},
};

/* How a person reads one side of a change. */
static char *value_text(crm_arena_t *arena, const char *field, const char *value, const char *label)
{
    char buf[64];
    if (!strcmp(field, "status"))
        return status_text(arena, value);
    if (!strcmp(field, "expectedRevenue")) {
        crm_format_money(buf, sizeof buf, strtoll(value, NULL, 10), label);
        return crm_arena_printf(arena, "%s %s", buf, label);
    }
    if (!strcmp(field, "probability"))
        return crm_arena_printf(arena, "%s %%", value);
    if (!strcmp(value, "0") || !*value)
        return "—";
    return *label ? (char *)label : crm_arena_printf(arena, "#%s", value);
}

char *crm_tracking_text(crm_arena_t *arena, Crm__Pipeline__V1__FieldChange *const *changes, size_t n,
                        const char *headline, crm_tracking_fn *each, void *arg, size_t *tracked_out)
{
    char *body = headline ? (char *)headline : "";
    size_t count = 0;
    /* pipeline tracks seven fields; more changes than that is a bad event */
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; i++) {
        const Crm__Pipeline__V1__FieldChange *c = changes[i];
        const char *label = NULL;
        for (size_t t = 0; t < sizeof tracked / sizeof tracked[0] && !label; t++)
            if (c->field && !strcmp(c->field, tracked[t].field))
                label = tracked[t].label;
        if (!label)
            continue;
        const char *old_text = value_text(arena, c->field, c->old_value, c->old_label);
        const char *new_text = value_text(arena, c->field, c->new_value, c->new_label);
        if (each)
            each(arg, c, label, old_text, new_text);
        count++;
        /* "Expected revenue: 0.00 → 3,750.00 EUR" when the currency stays */
        const char *old_shown = old_text;
        if (!strcmp(c->field, "expectedRevenue") && !strcmp(c->old_label, c->new_label)) {
            char buf[64];
            crm_format_money(buf, sizeof buf, strtoll(c->old_value, NULL, 10), c->old_label);
            old_shown = crm_arena_strdup(arena, buf);
        }
        body = crm_arena_printf(arena, "%s%s%s: %s → %s", body, *body ? "\n" : "", label, old_shown, new_text);
    }
    if (tracked_out)
        *tracked_out = count;
    return body;
}
