/* Prometheus metrics: calls by method and code, and a latency histogram by
 * method. A fixed table: the set of methods is known and small. */
#include "gateway.h"
#include "crm_mem.h"
#include "crm_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const double bucket_le[14] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,   1,     2.5,  5,    10};

void gw_metrics_record(gateway_t *gw, const char *method, Crm__Rpc__V1__Code code, int64_t micros)
{
    gw_metric_t *m = NULL;
    for (int i = 0; i < gw->n_metrics && !m; i++)
        if (!strcmp(gw->metrics[i].method, method))
            m = &gw->metrics[i];
    if (!m) {
        /* unknown methods share one row so clients can't grow the table */
        const char *name = code == CRM__RPC__V1__CODE__CODE_BAD_ROUTE ? "unknown" : method;
        for (int i = 0; i < gw->n_metrics && !m; i++)
            if (!strcmp(gw->metrics[i].method, name))
                m = &gw->metrics[i];
        if (!m) {
            int last = (int)(sizeof gw->metrics / sizeof gw->metrics[0]) - 1;
            m = &gw->metrics[gw->n_metrics < last ? gw->n_metrics++ : last];
            snprintf(m->method, sizeof m->method, "%s", gw->n_metrics <= last ? name : "other");
        }
    }
    if ((unsigned)code < 19)
        m->count[code]++;
    double s = (double)micros / 1e6;
    m->seconds_sum += s;
    for (int b = 0; b < 14; b++)
        if (s <= bucket_le[b]) {
            m->buckets[b]++;
            break;
        }
}

typedef struct {
    char *data;
    size_t len, cap;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)(n > 0 ? n : 0);
        t->data = crm_realloc(t->data, t->cap);
    }
}

char *gw_metrics_render(gateway_t *gw, size_t *len)
{
    text_t t = {crm_malloc(8192), 0, 8192};
    put(&t, "# HELP crm_gateway_requests_total Calls answered, by method and code.\n"
            "# TYPE crm_gateway_requests_total counter\n");
    for (int i = 0; i < gw->n_metrics; i++)
        for (int c = 0; c < 19; c++)
            if (gw->metrics[i].count[c])
                put(&t, "crm_gateway_requests_total{method=\"%s\",code=\"%s\"} %lld\n",
                    gw->metrics[i].method, crm_code_name((Crm__Rpc__V1__Code)c),
                    (long long)gw->metrics[i].count[c]);
    put(&t, "# HELP crm_gateway_errors_total Calls answered with an error, by method.\n"
            "# TYPE crm_gateway_errors_total counter\n");
    for (int i = 0; i < gw->n_metrics; i++) {
        long long errors = 0;
        for (int c = 1; c < 19; c++)
            errors += gw->metrics[i].count[c];
        put(&t, "crm_gateway_errors_total{method=\"%s\"} %lld\n", gw->metrics[i].method, errors);
    }
    put(&t, "# HELP crm_gateway_request_seconds Time from a call's arrival to its answer.\n"
            "# TYPE crm_gateway_request_seconds histogram\n");
    for (int i = 0; i < gw->n_metrics; i++) {
        const gw_metric_t *m = &gw->metrics[i];
        long long cum = 0, total = 0;
        for (int c = 0; c < 19; c++)
            total += m->count[c];
        for (int b = 0; b < 14; b++) {
            cum += m->buckets[b];
            put(&t, "crm_gateway_request_seconds_bucket{method=\"%s\",le=\"%g\"} %lld\n", m->method,
                bucket_le[b], cum);
        }
        put(&t, "crm_gateway_request_seconds_bucket{method=\"%s\",le=\"+Inf\"} %lld\n", m->method, total);
        put(&t, "crm_gateway_request_seconds_sum{method=\"%s\"} %.6f\n", m->method, m->seconds_sum);
        put(&t, "crm_gateway_request_seconds_count{method=\"%s\"} %lld\n", m->method, total);
    }
    put(&t, "# HELP crm_gateway_uptime_seconds Seconds since the gateway started.\n"
            "# TYPE crm_gateway_uptime_seconds gauge\ncrm_gateway_uptime_seconds %lld\n",
        (long long)((crm_time_mono_us() - gw->started) / 1000000));
    put(&t, "# HELP crm_gateway_sessions Sessions the gateway knows.\n"
            "# TYPE crm_gateway_sessions gauge\ncrm_gateway_sessions %zu\n",
        crm_map_size(gw->sessions));
    put(&t, "# HELP crm_gateway_sse_clients Notification streams open (GET /v1/stream).\n"
            "# TYPE crm_gateway_sse_clients gauge\ncrm_gateway_sse_clients %lld\n"
            "# HELP crm_gateway_sse_dropped_total Streams ended by the gateway: a client too slow, a session gone.\n"
            "# TYPE crm_gateway_sse_dropped_total counter\ncrm_gateway_sse_dropped_total %lld\n"
            "# HELP crm_gateway_sse_entries_total Notifications handed to stream clients.\n"
            "# TYPE crm_gateway_sse_entries_total counter\ncrm_gateway_sse_entries_total %lld\n"
            "# HELP crm_gateway_bytes_in_flight Request bodies and unread replies held.\n"
            "# TYPE crm_gateway_bytes_in_flight gauge\ncrm_gateway_bytes_in_flight %lld\n"
            "# HELP crm_gateway_budget_refused_total Requests and replies refused for bytes in flight.\n"
            "# TYPE crm_gateway_budget_refused_total counter\ncrm_gateway_budget_refused_total %lld\n",
        (long long)gw->sse_clients, (long long)gw->sse_dropped, (long long)gw->sse_entries,
        (long long)gw->held_total, (long long)gw->refused_budget);
    put(&t, "# HELP crm_gateway_backfills_in_flight ListInbox calls of streams catching up, now.\n"
            "# TYPE crm_gateway_backfills_in_flight gauge\ncrm_gateway_backfills_in_flight %lld\n"
            "# HELP crm_gateway_backfills_peak The most ListInbox calls of streams in flight at once.\n"
            "# TYPE crm_gateway_backfills_peak gauge\ncrm_gateway_backfills_peak %lld\n"
            "# HELP crm_gateway_backfills_queued Streams waiting for their turn to catch up.\n"
            "# TYPE crm_gateway_backfills_queued gauge\ncrm_gateway_backfills_queued %lld\n"
            "# HELP crm_gateway_backfills_total ListInbox calls of streams catching up.\n"
            "# TYPE crm_gateway_backfills_total counter\ncrm_gateway_backfills_total %lld\n",
        (long long)gw->backfills_in_flight, (long long)gw->backfills_peak, (long long)gw->backfills_queued,
        (long long)gw->backfills_total);
    *len = t.len;
    return t.data;
}
