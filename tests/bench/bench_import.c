/* bench_import: CSV import and export through the gateway's ZeroMQ door.
 *
 * One run per invocation, on a store run.sh has just made fresh:
 *   1. the floor: CreateLead with 32 requests in flight for the window
 *      (what the same create path does one call a row, group-committed);
 *   2. ImportRecords: --rows lead rows in pages of --page-rows, one page in
 *      flight as crmctl sends them, every page checked (all rows created);
 *   3. ExportRecords: every lead in pages of 10,000 rows, counted.
 * Its figures are appended to --results; `bench_import --report FILE`
 * prints the medians of the runs and the import's ratio to the floor. */
#define BENCH_PROG "bench_import"
/* the shared header's table and floor helpers serve the other programs */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "bench_common.h"
#pragma GCC diagnostic pop

#define MAX_RUNS 16

typedef struct {
    const char *zmq, *password, *results;
    int rows, page_rows, clients, reps;
    double seconds, warmup;
} opts_t;

static void usage(void)
{
    fputs("usage: bench_import --zmq EP --password PW --results FILE [--rows 100000] [--page-rows 1000]\n"
          "                    [--clients 32] [--seconds 2] [--warmup 0.5]\n"
          "       bench_import --report FILE\n",
          stderr);
    exit(2);
}

static uint64_t floor_next;

static size_t floor_body(void *arg, uint8_t *buf, size_t cap, uint64_t *tag)
{
    char name[48], email[64];
    uint64_t n = floor_next++;
    snprintf(name, sizeof name, "Floor %llu", (unsigned long long)n);
    snprintf(email, sizeof email, "floor%llu@example.com", (unsigned long long)n);
    Crm__Pipeline__V1__CreateLeadRequest r = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    r.name = name;
    r.email = email;
    r.contact_name = "Floor Contact";
    r.expected_revenue = (int64_t)(n % 100000) * 100;
    r.unassigned = 1; /* as an imported row without a salesperson */
    *tag = n;
    return pack_body(&r.base, buf, cap);
}

/* The CSV of rows [from, from + n): the header, then lead rows. */
static char *csv_page(int from, int n, size_t *len)
{
    size_t cap = 128 + (size_t)n * 160;
    char *s = xcalloc(1, cap);
    size_t o = (size_t)snprintf(s, cap, "name,type,expectedRevenue,contactName,email,phone,priority\r\n");
    static const char *const prio[] = {"low", "normal", "high", "very high"};
    for (int i = from; i < from + n; i++)
        o += (size_t)snprintf(s + o, cap - o, "Imported %d,%s,%d.%02d,Contact %d,contact%d@example.com,+1 555 %07d,%s\r\n",
                              i, i % 3 ? "opportunity" : "lead", 1000 + (i * 7919) % 5000000, i % 100, i, i, i,
                              prio[i % 4]);
    *len = o;
    return s;
}

static double run_import(crm_client_t *cli, const char *token, const opts_t *o)
{
    int64_t t0 = now_ns();
    for (int from = 0; from < o->rows; from += o->page_rows) {
        int n = o->rows - from < o->page_rows ? o->rows - from : o->page_rows;
        size_t len;
        char *csv = csv_page(from, n, &len);
        Crm__Pipeline__V1__ImportRecordsRequest req = CRM__PIPELINE__V1__IMPORT_RECORDS_REQUEST__INIT;
        req.model = CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_LEAD;
        req.csv = csv;
        req.first_row = from + 1;
        Crm__Pipeline__V1__ImportRecordsReply *r = bench_call(cli, token, PL "ImportRecords", &req.base,
                                                              &crm__pipeline__v1__import_records_reply__descriptor, NULL);
        if (r->created != n || r->n_errors)
            die("page at row %d: %d created of %d, %zu errors (%s)", from + 1, r->created, n, r->n_errors,
                r->n_errors ? r->errors[0]->message : "");
        protobuf_c_message_free_unpacked(&r->base, NULL);
        free(csv);
    }
    return o->rows / ((double)(now_ns() - t0) / 1e9);
}

static double run_export(crm_client_t *cli, const char *token, long want)
{
    int64_t t0 = now_ns();
    long rows = 0;
    char *page_token = strdup("");
    while (page_token) {
        Crm__Pipeline__V1__ExportRecordsRequest req = CRM__PIPELINE__V1__EXPORT_RECORDS_REQUEST__INIT;
        req.model = CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_LEAD;
        req.page_size = 10000;
        req.page_token = page_token;
        Crm__Pipeline__V1__ExportRecordsReply *r = bench_call(cli, token, PL "ExportRecords", &req.base,
                                                              &crm__pipeline__v1__export_records_reply__descriptor, NULL);
        rows += r->rows;
        free(page_token);
        page_token = r->next_page_token[0] ? strdup(r->next_page_token) : NULL;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    if (rows != want)
        die("export gave %ld rows of %ld", rows, want);
    return rows / ((double)(now_ns() - t0) / 1e9);
}

static int report(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("%s: %s", path, strerror(errno));
    double fl[MAX_RUNS], im[MAX_RUNS], ex[MAX_RUNS], rows[MAX_RUNS];
    int n = 0;
    while (n < MAX_RUNS && fscanf(f, "%lf %lf %lf %lf", &rows[n], &fl[n], &im[n], &ex[n]) == 4)
        n++;
    fclose(f);
    if (n == 0)
        die("%s holds no run", path);
    double floor = median(fl, n), imp = median(im, n), exp = median(ex, n);
    printf("\n== CSV import and export (%d runs, fresh store each, %.0f lead rows; medians)\n", n, rows[0]);
    printf("%-44s %12s\n", "", "rows/s");
    printf("%-44s %12.0f\n", "floor: CreateLead, 32 in flight", floor);
    printf("%-44s %12.0f   = %.2f x floor\n", "ImportRecords, pages of 1000, 1 in flight", imp, imp / floor);
    printf("%-44s %12.0f\n", "ExportRecords, pages of 10000", exp);
    for (int i = 0; i < n; i++)
        printf("  run %d: floor %.0f, import %.0f, export %.0f\n", i + 1, fl[i], im[i], ex[i]);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {.rows = 100000, .page_rows = 1000, .clients = 32, .seconds = 2, .warmup = 0.5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--report") && v)
            return report(v);
        if (!v)
            usage();
        if (!strcmp(a, "--zmq"))
            o.zmq = v;
        else if (!strcmp(a, "--password"))
            o.password = v;
        else if (!strcmp(a, "--results"))
            o.results = v;
        else if (!strcmp(a, "--rows"))
            o.rows = parse_count(a, v, 1, 10000000);
        else if (!strcmp(a, "--page-rows"))
            o.page_rows = parse_count(a, v, 1, 5000);
        else if (!strcmp(a, "--clients"))
            o.clients = parse_count(a, v, 1, MAX_CLIENTS);
        else if (!strcmp(a, "--seconds"))
            o.seconds = atof(v);
        else if (!strcmp(a, "--warmup"))
            o.warmup = atof(v);
        else
            usage();
        i++;
    }
    if (!o.zmq || !o.password || !o.results || o.seconds <= 0)
        usage();
    zctx = zmq_ctx_new();
    if (!zctx)
        die("zmq_ctx_new: %s", zmq_strerror(errno));
    char token[256];
    crm_status_t st;
    if (login(o.zmq, o.password, token, sizeof token, &st) != 0)
        die("login: %s", st.message);
    crm_client_t *cli = crm_client_new(o.zmq);
    if (!cli)
        die("client %s: %s", o.zmq, zmq_strerror(errno));

    load_t create = {.name = "CreateLead", .kind = LOAD_CRM, .endpoint = o.zmq, .method = PL "CreateLead",
                     .token = token, .next_body = floor_body};
    result_t floor;
    run_load(&create, o.clients, o.warmup, o.seconds, &floor);
    if (floor.errors)
        die("CreateLead floor: %ld errors: %s", floor.errors, floor.error);
    fprintf(stderr, "bench_import: floor CreateLead/%d %.0f/s; importing %d rows\n", o.clients, floor.rps, o.rows);
    double imp = run_import(cli, token, &o);
    fprintf(stderr, "bench_import: import %.0f rows/s; exporting\n", imp);
    double exp = run_export(cli, token, o.rows + floor.ok_all);
    crm_client_destroy(&cli);
    zmq_ctx_term(zctx);
    FILE *f = fopen(o.results, "a");
    if (!f || fprintf(f, "%d %.1f %.1f %.1f\n", o.rows, floor.rps, imp, exp) < 0 || fclose(f) != 0)
        die("%s: %s", o.results, strerror(errno));
    fprintf(stderr, "bench_import: export %.0f rows/s\n", exp);
    return 0;
}
