/* CSV import and export through both doors and crmctl: spreadsheet quirks,
 * per-row errors naming row and column with nothing half-written, re-runs
 * creating nothing twice, export → import round trips, own-leads rules, bad
 * pages, and exactly once across a kill -9 of the pipeline mid-import. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common.pb-c.h"
#include "crm_csv.h"
#include "crm_store.h"
#include "harness.h"
#include "pipeline.pb-c.h"
#include "../../services/identity/identity.h" /* IDENTITY_SCHEMA */
#include "../../services/pipeline/pipeline.h" /* PIPELINE_SCHEMA */

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define I(m) "crm.identity.v1.Identity/" m
#define LEADS CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_LEAD
#define CUSTOMERS CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_CUSTOMER

typedef Crm__Pipeline__V1__ImportRecordsReply import_reply_t;

static sys_env_t *env;
static char *admin, *ana, *olga, *nosales;
static int64_t ana_id, olga_id, team_id;

static int setup(void **state)
{
    env = sys_start_admin(NULL, &admin);
    if (!env)
        return -1;
    ana = sys_new_sales_user(env, admin, "ana", "Ana Lima", "SALES_ACCESS_ALL_LEADS", &ana_id);
    olga = sys_new_sales_user(env, admin, "olga", "Olga Own", "SALES_ACCESS_OWN_LEADS", &olga_id);
    nosales = sys_new_sales_user(env, admin, "nosales", "No Sales", "SALES_ACCESS_NONE", NULL);
    json_t *t = OK(admin, I("CreateTeam"), "{\"name\":\"Direct Sales\",\"leaderId\":\"%lld\",\"memberIds\":[\"%lld\"]}",
                   (long long)ana_id, (long long)ana_id);
    team_id = sys_jint(t, "id");
    json_decref(t);
    json_decref(OK(admin, I("UpdateUser"), "{\"id\":\"%lld\",\"email\":\"ana@example.com\"}", (long long)ana_id));
    json_decref(OK(admin, P("CreateTag"), "{\"name\":\"vip\"}"));
    json_decref(OK(admin, P("CreateTag"), "{\"name\":\"Product\"}"));
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(ana);
    free(olga);
    free(nosales);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* --- calls ------------------------------------------------------------------------------- */

static import_reply_t *zimport_on(sys_env_t *e, const char *token, int model, const char *csv, int first_row, int dry,
                                  crm_status_t *st)
{
    Crm__Pipeline__V1__ImportRecordsRequest req = CRM__PIPELINE__V1__IMPORT_RECORDS_REQUEST__INIT;
    req.model = model;
    req.csv = (char *)csv;
    req.first_row = first_row;
    req.dry_run = dry;
    return sys_call(e, P("ImportRecords"), token, &req.base, &crm__pipeline__v1__import_records_reply__descriptor, st);
}

/* ImportRecords through the ZeroMQ door, which must answer. */
static import_reply_t *zimport(const char *token, int model, const char *csv, int first_row, int dry)
{
    crm_status_t st;
    import_reply_t *r = zimport_on(env, token, model, csv, first_row, dry, &st);
    if (!r)
        fail_msg("ImportRecords: %s (%s)", st.message, st.field);
    return r;
}

static void zimport_refused(const char *token, int model, const char *csv, Crm__Rpc__V1__Code code, const char *field)
{
    crm_status_t st;
    import_reply_t *r = zimport_on(env, token, model, csv, 1, 0, &st);
    if (r)
        fail_msg("ImportRecords took a page it should refuse (%s)", csv);
    assert_int_equal(st.code, code);
    assert_string_equal(st.field, field);
}

/* ImportRecords over Twirp with JSON; the HTTP status in *status. */
static json_t *himport(const char *token, const char *model, const char *csv, int first_row, int dry, int *status)
{
    json_t *body = json_pack("{s:s, s:s, s:i, s:b}", "model", model, "csv", csv, "firstRow", first_row, "dryRun", dry);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char headers[512], *out = NULL;
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", token);
    *status = sys_http(env, "POST", "/twirp/" P("ImportRecords"), headers, text, strlen(text), &out, NULL);
    free(text);
    json_t *r = out ? json_loads(out, 0, NULL) : NULL;
    if (!r)
        fail_msg("not JSON: %s", out ? out : "(nothing)");
    free(out);
    return r;
}

/* Every page of ExportRecords (ZeroMQ door), concatenated; *pages counted. */
static char *export_on(sys_env_t *e, const char *token, int model, int page_size, int *pages)
{
    size_t len = 0;
    char *all = calloc(1, 1), *page_token = strdup("");
    int n = 0;
    while (page_token) {
        Crm__Pipeline__V1__ExportRecordsRequest req = CRM__PIPELINE__V1__EXPORT_RECORDS_REQUEST__INIT;
        req.model = model;
        req.page_size = page_size;
        req.page_token = page_token;
        crm_status_t st;
        Crm__Pipeline__V1__ExportRecordsReply *r =
            sys_call(e, P("ExportRecords"), token, &req.base, &crm__pipeline__v1__export_records_reply__descriptor, &st);
        if (!r)
            fail_msg("ExportRecords: %s", st.message);
        /* the header on the first page only */
        assert_int_equal(n == 0, !strncmp(r->csv, "id,name,", 8));
        size_t add = strlen(r->csv);
        all = realloc(all, len + add + 1);
        memcpy(all + len, r->csv, add + 1);
        len += add;
        free(page_token);
        page_token = r->next_page_token[0] ? strdup(r->next_page_token) : NULL;
        protobuf_c_message_free_unpacked(&r->base, NULL);
        n++;
    }
    if (pages)
        *pages = n;
    return all;
}

static char *export_all(const char *token, int model) { return export_on(env, token, model, 0, NULL); }

/* The "@" and 12 hex digits that end every export id of the store token's
 * export (which must hold a record): the store's export namespace. */
static void export_namespace(const char *token, int model, char out[14])
{
    char *csv = export_all(token, model), *at = strchr(csv, '@');
    assert_non_null(at);
    memcpy(out, at, 13);
    out[13] = 0;
    for (int i = 1; i < 13; i++)
        assert_non_null(strchr("0123456789abcdef", out[i]));
    free(csv);
}

/* csv with every export namespace ("@" and 12 hex digits) taken out, in
 * place: the files of two stores with the same records then compare. */
static char *without_namespaces(char *csv)
{
    char *w = csv;
    for (const char *r = csv; *r;) {
        if (*r == '@' && strspn(r + 1, "0123456789abcdef") >= 12) {
            r += 13;
            continue;
        }
        *w++ = *r++;
    }
    *w = 0;
    return csv;
}

/* Data rows of a CSV text. */
static size_t csv_rows(const char *csv)
{
    crm_csv_t *p = crm_csv_new(csv, strlen(csv), &(crm_csv_limits_t){.max_field = 1 << 20, .max_columns = 64});
    crm_csv_record_t rec;
    crm_csv_error_t err;
    size_t n = 0;
    int rc;
    while ((rc = crm_csv_next(p, &rec, &err)) == 1)
        n += rec.index > 0;
    assert_int_equal(rc, 0);
    crm_csv_destroy(&p);
    return n;
}

static json_t *get_lead(const char *token, int64_t id) { return OK(token, P("GetLead"), "{\"id\":\"%lld\"}", (long long)id); }

/* Leads whose name holds query, as token sees them. */
static size_t count_leads(const char *token, const char *query)
{
    json_t *r = OK(token, P("ListLeads"), "{\"query\":\"%s\",\"pageSize\":500}", query);
    size_t n = json_array_size(json_object_get(r, "leads"));
    json_decref(r);
    return n;
}

static void assert_row_error(const import_reply_t *r, size_t i, int row, const char *field, const char *code)
{
    assert_true(i < r->n_errors);
    if (r->errors[i]->row != row || strcmp(r->errors[i]->field, field) || strcmp(r->errors[i]->code, code))
        fail_msg("error %zu: row %d, column %s, %s: %s; expected row %d, column %s, %s", i, r->errors[i]->row,
                 r->errors[i]->field, r->errors[i]->code, r->errors[i]->message, row, field, code);
    assert_true(r->errors[i]->message[0] != '\0');
}

/* --- spreadsheet quirks, both doors ------------------------------------------------------ */

static void test_quirks_zmq(void **state)
{
    /* Excel in a decimal-comma locale: BOM, ";" separators, CRLF, a quoted
     * field with a line end, labels for headers, grouped amounts */
    const char csv[] = "\xEF\xBB\xBF" "Name;Type;Expected Revenue;Currency;Salesperson;Sales Team;Stage;Tags;Internal Notes;Priority\r\n"
                       "Quirk Alpha;opportunity;3 750,00;EUR;ana;Direct Sales;Proposition;vip,Product;\"line one\r\nline; two\";high\r\n"
                       "\r\n"
                       "  Quirk Beta  ;lead;1.234,5;USD;ana@example.com;;;;;\r\n";
    import_reply_t *r = zimport(admin, LEADS, csv, 1, 0);
    assert_int_equal(r->rows, 2);
    assert_int_equal(r->created, 2);
    assert_int_equal(r->n_errors, 0);
    assert_int_equal(r->n_ids, 2);
    json_t *a = get_lead(admin, r->ids[0]), *b = get_lead(admin, r->ids[1]);
    assert_string_equal(sys_jstr(a, "name"), "Quirk Alpha");
    assert_string_equal(sys_jstr(a, "type"), "LEAD_TYPE_OPPORTUNITY");
    assert_int_equal(sys_jint(a, "expectedRevenue"), 375000);
    assert_int_equal(sys_jint(a, "salespersonId"), ana_id);
    assert_int_equal(sys_jint(a, "teamId"), team_id);
    assert_string_equal(sys_jstr(a, "internalNotes"), "line one\r\nline; two");
    assert_string_equal(sys_jstr(a, "priority"), "PRIORITY_HIGH");
    assert_int_equal(json_array_size(json_object_get(a, "tagIds")), 2);
    assert_int_equal(sys_jint(a, "stageId"), sys_stage_id(env, admin, "Proposition"));
    assert_string_equal(sys_jstr(b, "name"), "Quirk Beta");
    assert_int_equal(sys_jint(b, "expectedRevenue"), 123450); /* 1.234,5 USD */
    assert_string_equal(sys_jstr(b, "currency"), "USD");
    assert_int_equal(sys_jint(b, "salespersonId"), ana_id); /* found by e-mail */
    json_decref(a);
    json_decref(b);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_quirks_twirp_json(void **state)
{
    /* LF and CR line ends, "," separators, quoted commas and quotes */
    const char csv[] = "name,email,expected_revenue,company name\n"
                       "\"Twirp, \"\"Gamma\"\"\",g@example.com,\"2,500.75\",Gamma Ltd\r"
                       "Twirp Delta,,,\n";
    int status;
    json_t *r = himport(admin, "IMPORT_MODEL_LEAD", csv, 1, 0, &status);
    assert_int_equal(status, 200);
    assert_int_equal(sys_jint(r, "rows"), 2);
    assert_int_equal(sys_jint(r, "created"), 2);
    json_t *ids = json_object_get(r, "ids");
    int64_t gamma = json_is_string(json_array_get(ids, 0)) ? atoll(json_string_value(json_array_get(ids, 0))) : 0;
    json_decref(r);
    json_t *g = get_lead(admin, gamma);
    assert_string_equal(sys_jstr(g, "name"), "Twirp, \"Gamma\"");
    assert_int_equal(sys_jint(g, "expectedRevenue"), 250075);
    assert_string_equal(sys_jstr(g, "companyName"), "Gamma Ltd");
    /* a row without a salesperson is nobody's, not the importer's */
    assert_int_equal(sys_jint(g, "salespersonId"), 0);
    json_decref(g);
    /* ExportRecords over Twirp: the same CSV as through the ZeroMQ door */
    char headers[512], *out = NULL;
    snprintf(headers, sizeof headers, "Authorization: Bearer %s\r\nContent-Type: application/json\r\n", admin);
    const char *ask = "{\"model\":\"IMPORT_MODEL_LEAD\",\"pageSize\":10000}";
    assert_int_equal(sys_http(env, "POST", "/twirp/" P("ExportRecords"), headers, ask, strlen(ask), &out, NULL), 200);
    json_t *exp = json_loads(out, 0, NULL);
    free(out);
    char *zmq = export_all(admin, LEADS);
    assert_non_null(exp);
    assert_string_equal(sys_jstr(exp, "csv"), zmq);
    assert_non_null(strstr(zmq, "\"Twirp, \"\"Gamma\"\"\""));
    free(zmq);
    json_decref(exp);
    const char *bad = "{\"model\":\"IMPORT_MODEL_LEAD\",\"archived\":7}";
    assert_int_equal(sys_http(env, "POST", "/twirp/" P("ExportRecords"), headers, bad, strlen(bad), &out, NULL), 400);
    assert_non_null(strstr(out, "\"field\":\"archived\""));
    free(out);
    /* a bad page over Twirp: a coded error naming csv */
    r = himport(admin, "IMPORT_MODEL_LEAD", "name,shoeSize\nx,44\n", 1, 0, &status);
    assert_int_equal(status, 400);
    assert_string_equal(sys_jstr(r, "code"), "invalid_argument");
    assert_string_equal(sys_jstr(r, "meta.field"), "csv");
    json_decref(r);
}

/* --- per-row errors, nothing half-written --------------------------------------------------- */

static void test_row_errors(void **state)
{
    const char csv[] = "Name,Tags,Expected Revenue,expected_closing,Salesperson,Stage\r\n"
                       "Rowerr Good,vip,10.00,2027-01-31,ana,\r\n"
                       "Rowerr Unknown Tag,\"vip, nosuchtag\",5.00,,,\r\n"
                       "Rowerr Bad Money,,12.345,,,\r\n"
                       "Rowerr Bad Date,,,2027-02-30,,\r\n"
                       "Rowerr No User,,,,nobody,\r\n"
                       "Rowerr No Stage,,,,,Nowhere\r\n"
                       ",,,,,\r\n" /* empty: skipped, not counted */
                       ",vip,,,,\r\n";
    import_reply_t *r = zimport(admin, LEADS, csv, 41, 0);
    assert_int_equal(r->rows, 7);
    assert_int_equal(r->created, 1);
    assert_int_equal(r->n_errors, 6);
    assert_row_error(r, 0, 42, "Tags", "not_found");
    assert_row_error(r, 1, 43, "Expected Revenue", "invalid_argument");
    assert_row_error(r, 2, 44, "expected_closing", "invalid_argument");
    assert_row_error(r, 3, 45, "Salesperson", "not_found");
    assert_row_error(r, 4, 46, "Stage", "not_found");
    assert_row_error(r, 5, 47, "Name", "invalid_argument");
    assert_true(r->ids[0] > 0);
    for (size_t i = 1; i < 7; i++)
        assert_int_equal(r->ids[i], 0);
    /* the bad rows left nothing: no lead, and its tag's row checked first */
    assert_int_equal(count_leads(admin, "Rowerr"), 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* a dry run checks every row and writes none, the good ones included */
    r = zimport(admin, LEADS, "name\nDry One\nDry Two\n", 1, 1);
    assert_int_equal(r->created, 2);
    assert_int_equal(r->ids[0], 0);
    assert_int_equal(count_leads(admin, "Dry"), 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* --- re-runs ---------------------------------------------------------------------------- */

static void test_rerun_creates_nothing_twice(void **state)
{
    const char with_ids[] = "id,name,expectedRevenue\nX-1,Rerun One,1.00\nX-2,Rerun Two,2.00\n";
    const char no_ids[] = "name,phone\nRerun Three,+1 555\nRerun Four,\n";
    import_reply_t *a = zimport(admin, LEADS, with_ids, 1, 0), *b = zimport(admin, LEADS, no_ids, 1, 0);
    assert_int_equal(a->created, 2);
    assert_int_equal(b->created, 2);
    /* the same files again, one through each door */
    import_reply_t *a2 = zimport(admin, LEADS, with_ids, 1, 0);
    assert_int_equal(a2->created, 0);
    assert_int_equal(a2->unchanged, 2);
    assert_int_equal(a2->ids[0], a->ids[0]);
    assert_int_equal(a2->ids[1], a->ids[1]);
    int status;
    json_t *b2 = himport(admin, "IMPORT_MODEL_LEAD", no_ids, 1, 0, &status);
    assert_int_equal(status, 200);
    assert_int_equal(sys_jint(b2, "created"), 0);
    assert_int_equal(sys_jint(b2, "unchanged"), 2);
    json_decref(b2);
    assert_int_equal(count_leads(admin, "Rerun"), 4);
    /* a changed row with the same id updates its record; columns in
     * another order are the same row */
    import_reply_t *a3 = zimport(admin, LEADS, "expected revenue,ID,Name\n1.00,X-1,Rerun One\n7.50,X-2,Rerun Two\n", 1, 0);
    assert_int_equal(a3->unchanged, 1);
    assert_int_equal(a3->updated, 1);
    assert_int_equal(a3->ids[1], a->ids[1]);
    json_t *l = get_lead(admin, a->ids[1]);
    assert_int_equal(sys_jint(l, "expectedRevenue"), 750);
    json_decref(l);
    assert_int_equal(count_leads(admin, "Rerun"), 4);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    protobuf_c_message_free_unpacked(&a2->base, NULL);
    protobuf_c_message_free_unpacked(&a3->base, NULL);
}

/* A record deleted or merged away since an import is not made again by the
 * same file: the row says so, with or without an id column. (After the
 * round trip, whose files must hold every id in turn.) */
static void test_rerun_after_delete_or_merge(void **state)
{
    const char with_ids[] = "id,name\nG-1,Gone One\nG-2,Gone Two\n";
    const char no_ids[] = "name,phone\nGone Three,+1 556\nGone Four,\n";
    import_reply_t *a = zimport(admin, LEADS, with_ids, 1, 0), *b = zimport(admin, LEADS, no_ids, 1, 0);
    assert_int_equal(a->created + b->created, 4);
    json_decref(OK(admin, P("DeleteLead"), "{\"id\":\"%lld\"}", (long long)a->ids[0]));
    json_decref(OK(admin, P("MergeLeads"), "{\"ids\":[\"%lld\",\"%lld\"],\"intoId\":\"%lld\"}", (long long)b->ids[0],
                   (long long)b->ids[1], (long long)b->ids[0]));
    import_reply_t *a2 = zimport(admin, LEADS, with_ids, 1, 0), *b2 = zimport(admin, LEADS, no_ids, 1, 0);
    assert_int_equal(a2->created + b2->created, 0);
    assert_int_equal(a2->unchanged, 1);
    assert_int_equal(a2->n_errors, 1);
    assert_row_error(a2, 0, 1, "id", "failed_precondition");
    assert_int_equal(b2->unchanged, 1);
    assert_int_equal(b2->n_errors, 1);
    assert_row_error(b2, 0, 2, "id", "failed_precondition");
    assert_int_equal(count_leads(admin, "Gone"), 2);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    protobuf_c_message_free_unpacked(&a2->base, NULL);
    protobuf_c_message_free_unpacked(&b2->base, NULL);
}

static void test_customers_and_links(void **state)
{
    /* a contact names a company created earlier in the same page */
    const char csv[] = "Name,Is Company,Related Company,Email,City,Salesperson,id\n"
                       "Linkco,true,,info@linkco.example,Porto,ana,C-1\n"
                       "Lina Link,false,Linkco,lina@linkco.example,Porto,,C-2\n"
                       "Orphan,false,Nosuchco,,,,C-3\n";
    import_reply_t *r = zimport(admin, CUSTOMERS, csv, 1, 0);
    for (size_t i = 0; i < r->n_errors; i++)
        print_message("row %d %s: %s\n", r->errors[i]->row, r->errors[i]->field, r->errors[i]->message);
    assert_int_equal(r->created, 2);
    assert_int_equal(r->n_errors, 1);
    assert_row_error(r, 0, 3, "Related Company", "not_found");
    json_t *c = OK(admin, P("GetCustomer"), "{\"id\":\"%lld\"}", (long long)r->ids[1]);
    assert_int_equal(sys_jint(c, "parentId"), r->ids[0]);
    json_decref(c);
    /* leads name a customer by its import id, its export id or its name */
    char leads[512];
    char ns[14];
    export_namespace(admin, CUSTOMERS, ns);
    snprintf(leads, sizeof leads, "name,customer\nLinked A,C-2\nLinked B,customer/%lld%s\nLinked C,linkco\n",
             (long long)r->ids[0], ns);
    import_reply_t *l = zimport(admin, LEADS, leads, 1, 0);
    assert_int_equal(l->created, 3);
    json_t *a = get_lead(admin, l->ids[0]), *b = get_lead(admin, l->ids[1]), *cc = get_lead(admin, l->ids[2]);
    assert_int_equal(sys_jint(a, "customerId"), r->ids[1]);
    assert_string_equal(sys_jstr(a, "email"), "lina@linkco.example"); /* filled from the customer, as CreateLead does */
    assert_int_equal(sys_jint(b, "customerId"), r->ids[0]);
    assert_int_equal(sys_jint(cc, "customerId"), r->ids[0]);
    json_decref(a);
    json_decref(b);
    json_decref(cc);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

/* --- own-leads users ------------------------------------------------------------------------- */

static void test_own_leads(void **state)
{
    int64_t anas = sys_new_opportunity(env, ana, "Owned By Ana", ana_id);
    char csv[512], ns[14];
    export_namespace(admin, LEADS, ns);
    snprintf(csv, sizeof csv,
             "id,name,salesperson\n"
             ",Olga Own Row,olga\n"
             ",Olga For Ana,ana\n"
             ",Olga Unassigned,\n"
             "lead/%lld%s,Taken Over,olga\n",
             (long long)anas, ns);
    import_reply_t *r = zimport(olga, LEADS, csv, 1, 0);
    assert_int_equal(r->created, 2);
    assert_int_equal(r->n_errors, 2);
    assert_row_error(r, 0, 2, "salesperson", "permission_denied");
    /* another's lead is not found, as it is everywhere else */
    assert_row_error(r, 1, 4, "id", "not_found");
    json_t *l = get_lead(ana, anas);
    assert_string_equal(sys_jstr(l, "name"), "Owned By Ana");
    json_decref(l);
    assert_int_equal(count_leads(admin, "Olga For Ana"), 0);
    /* olga's export holds hers and nobody's, never ana's */
    char *mine = export_all(olga, LEADS);
    assert_non_null(strstr(mine, "Olga Own Row"));
    assert_non_null(strstr(mine, "Olga Unassigned"));
    assert_null(strstr(mine, "Owned By Ana"));
    assert_null(strstr(mine, "Quirk Alpha"));
    free(mine);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* no sales access: neither in nor out */
    crm_status_t st;
    assert_null(zimport_on(env, nosales, LEADS, "name\nx\n", 1, 0, &st));
    assert_int_equal(st.code, CODE(PERMISSION_DENIED));
    ERR(CODE(PERMISSION_DENIED), NULL, nosales, P("ExportRecords"), "{\"model\":\"IMPORT_MODEL_LEAD\"}");
}

/* --- bad pages --------------------------------------------------------------------------------- */

static void test_bad_pages(void **state)
{
    zimport_refused(admin, LEADS, "", CODE(INVALID_ARGUMENT), "csv");                   /* no header */
    zimport_refused(admin, LEADS, "\n\r\n", CODE(INVALID_ARGUMENT), "csv");             /* still none */
    zimport_refused(admin, LEADS, "name,name\nx,y\n", CODE(INVALID_ARGUMENT), "csv");   /* twice */
    zimport_refused(admin, LEADS, "email\nx@example.com\n", CODE(INVALID_ARGUMENT), "csv"); /* no name */
    zimport_refused(admin, LEADS, "name\nBad \xff UTF-8\n", CODE(INVALID_ARGUMENT), "csv");
    zimport_refused(admin, LEADS, "name\n\"never closed\n", CODE(INVALID_ARGUMENT), "csv");
    zimport_refused(admin, CUSTOMERS, "name,stage\nx,New\n", CODE(INVALID_ARGUMENT), "csv"); /* not a customer column */
    zimport_refused(admin, 0, "name\nx\n", CODE(INVALID_ARGUMENT), "model");
    crm_status_t st;
    assert_null(zimport_on(env, admin, LEADS, "name\nx\n", -1, 0, &st));
    assert_int_equal(st.code, CODE(INVALID_ARGUMENT));
    assert_string_equal(st.field, "firstRow");
    /* a bad page is refused whole: its good rows before the bad one too */
    zimport_refused(admin, LEADS, "name\nWhole Page Good\n\"Whole \xc0\x80 bad\"\n", CODE(INVALID_ARGUMENT), "csv");
    assert_int_equal(count_leads(admin, "Whole Page"), 0);
    /* past 4 MiB: refused by the service naming csv, below the gateway's limit */
    size_t big = (4 << 20) + 100;
    char *huge = malloc(big + 1);
    memcpy(huge, "name\n", 5);
    memset(huge + 5, 'a', big - 5);
    huge[big] = '\0';
    zimport_refused(admin, LEADS, huge, CODE(INVALID_ARGUMENT), "csv");
    free(huge);
    /* past the rows of a page */
    size_t rows = 5001, len = 5 + rows * 2;
    char *many = malloc(len + 1);
    memcpy(many, "name\n", 5);
    for (size_t i = 0; i < rows; i++)
        memcpy(many + 5 + i * 2, "x\n", 2);
    many[len] = '\0';
    zimport_refused(admin, LEADS, many, CODE(INVALID_ARGUMENT), "csv");
    free(many);
    ERR(CODE(INVALID_ARGUMENT), "model", admin, P("ExportRecords"), "{}");
    ERR(CODE(INVALID_ARGUMENT), "pageToken", admin, P("ExportRecords"), "{\"model\":\"IMPORT_MODEL_LEAD\",\"pageToken\":\"zz\"}");
}

/* --- export ------------------------------------------------------------------------------------- */

static void test_export_pages_and_formulas(void **state)
{
    import_reply_t *r = zimport(admin, LEADS, "name,referredBy\nFormula Lead,=HYPERLINK(\"http://x\")\n", 1, 0);
    assert_int_equal(r->created, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    int pages;
    char *paged = export_on(env, admin, LEADS, 2, &pages), *whole = export_all(admin, LEADS);
    assert_true(pages > 2);
    assert_string_equal(paged, whole); /* pages of 2 rows make the same file */
    assert_non_null(strstr(whole, "\"'=HYPERLINK(\"\"http://x\"\")\""));
    assert_non_null(strstr(whole, "\r\n"));
    /* re-importing an export changes nothing */
    r = zimport(admin, LEADS, whole, 1, 0);
    assert_int_equal(r->n_errors, 0);
    assert_int_equal(r->created, 0);
    assert_int_equal(r->updated, 0);
    assert_int_equal(r->unchanged, (int)csv_rows(whole));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    char *customers = export_all(admin, CUSTOMERS);
    r = zimport(admin, CUSTOMERS, customers, 1, 0);
    assert_int_equal(r->n_errors, 0);
    assert_int_equal(r->created, 0);
    assert_int_equal(r->updated, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    free(paged);
    free(whole);
    free(customers);
}

/* Every record, through export → import on an empty store, exports back
 * the very same file, but for each store's export namespace. */
static void test_round_trip_to_empty_store(void **state)
{
    char *customers = export_all(admin, CUSTOMERS), *leads = export_all(admin, LEADS);
    char ns1[14], ns2[14];
    export_namespace(admin, LEADS, ns1);
    char *admin2;
    sys_env_t *e2 = sys_start_admin(NULL, &admin2);
    assert_non_null(e2);
    sys_env_t *keep = env;
    env = e2;
    /* what the file names by name must exist there: users, team, tags */
    int64_t ana2, olga2;
    free(sys_new_sales_user(env, admin2, "ana", "Ana Lima", "SALES_ACCESS_ALL_LEADS", &ana2));
    free(sys_new_sales_user(env, admin2, "olga", "Olga Own", "SALES_ACCESS_OWN_LEADS", &olga2));
    json_decref(OK(admin2, I("CreateTeam"), "{\"name\":\"Direct Sales\",\"leaderId\":\"%lld\",\"memberIds\":[\"%lld\"]}",
                   (long long)ana2, (long long)ana2));
    json_decref(OK(admin2, P("CreateTag"), "{\"name\":\"vip\"}"));
    json_decref(OK(admin2, P("CreateTag"), "{\"name\":\"Product\"}"));
    import_reply_t *c = zimport(admin2, CUSTOMERS, customers, 1, 0), *l = zimport(admin2, LEADS, leads, 1, 0);
    for (size_t i = 0; i < l->n_errors; i++)
        print_message("row %d %s: %s\n", l->errors[i]->row, l->errors[i]->field, l->errors[i]->message);
    assert_int_equal(c->n_errors, 0);
    assert_int_equal(l->n_errors, 0);
    assert_int_equal(c->created, (int)csv_rows(customers));
    assert_int_equal(l->created, (int)csv_rows(leads));
    char *customers2 = export_all(admin2, CUSTOMERS), *leads2 = export_all(admin2, LEADS);
    /* the same records, each store naming them in its own namespace */
    export_namespace(admin2, LEADS, ns2);
    assert_string_not_equal(ns1, ns2);
    assert_string_equal(without_namespaces(customers2), without_namespaces(customers));
    assert_string_equal(without_namespaces(leads2), without_namespaces(leads));
    protobuf_c_message_free_unpacked(&c->base, NULL);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    env = keep;
    /* the second store's export id of lead 1 is an external id in the
     * first, not the first's lead 1: its row makes a new lead there and
     * leaves lead 1 alone */
    json_t *first = OK(admin, P("GetLead"), "{\"id\":\"1\"}");
    char *first_name = strdup(sys_jstr(first, "name"));
    json_decref(first);
    char foreign[256];
    snprintf(foreign, sizeof foreign, "id,name\nlead/1%s,Row of the second store\n", ns2);
    import_reply_t *f = zimport(admin, LEADS, foreign, 1, 0);
    assert_int_equal(f->created, 1);
    assert_true(f->ids[0] != 1);
    first = OK(admin, P("GetLead"), "{\"id\":\"1\"}");
    assert_string_equal(sys_jstr(first, "name"), first_name);
    json_decref(first);
    free(first_name);
    protobuf_c_message_free_unpacked(&f->base, NULL);
    free(customers);
    free(leads);
    free(customers2);
    free(leads2);
    free(admin2);
    assert_int_equal(sys_stop(e2), 0);
}

/* A stage is looked up among the stages of the team the lead will be in
 * (the salesperson's, when the row names none), and a row without a type
 * whose stage is an opportunity's makes an opportunity. (After the round
 * trip: the other store has no such stage.) */
static void test_stage_of_the_lead_s_team(void **state)
{
    json_decref(OK(admin, P("CreateStage"), "{\"name\":\"Demo booked\",\"teamId\":\"%lld\",\"type\":\"STAGE_TYPE_BOTH\","
                   "\"sequence\":15}", (long long)team_id));
    import_reply_t *r = zimport(admin, LEADS, "name,salesperson,stage\nTeam staged,ana,Demo booked\nTyped by stage,,Proposition\n", 1, 0);
    for (size_t i = 0; i < r->n_errors; i++)
        print_message("row %d %s: %s\n", r->errors[i]->row, r->errors[i]->field, r->errors[i]->message);
    assert_int_equal(r->created, 2);
    json_t *a = get_lead(admin, r->ids[0]), *b = get_lead(admin, r->ids[1]);
    assert_int_equal(sys_jint(a, "teamId"), team_id);
    assert_string_equal(sys_jstr(b, "type"), "LEAD_TYPE_OPPORTUNITY");
    assert_int_equal(sys_jint(b, "stageId"), sys_stage_id(env, admin, "Proposition"));
    json_decref(a);
    json_decref(b);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* names that export guards against formulas (a leading ' before - + =
     * @) are found again when the export is imported */
    json_decref(OK(admin, P("CreateTag"), "{\"name\":\"-10%% off\"}"));
    r = zimport(admin, LEADS, "name,tags\nGuarded names,-10% off\n", 1, 0);
    assert_int_equal(r->created, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    char *whole = export_all(admin, LEADS);
    assert_non_null(strstr(whole, "'-10% off"));
    r = zimport(admin, LEADS, whole, 1, 0);
    for (size_t i = 0; i < r->n_errors; i++)
        print_message("row %d %s: %s\n", r->errors[i]->row, r->errors[i]->field, r->errors[i]->message);
    assert_int_equal(r->n_errors, 0);
    assert_int_equal(r->created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    free(whole);
}

/* --- a store from before the users read model kept logins ----------------------------------------- */

/* Clears every kept user's login and e-mail, as a read model written
 * before they were kept has them. */
static int forget_logins(MDB_txn *txn, void *arg)
{
    MDB_dbi users = *(MDB_dbi *)arg;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, users, &cur);
    if (rc)
        return rc;
    uint64_t ids[256];
    size_t n = 0;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && n < 256; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
        ids[n++] = crm_key_get_u64(k.mv_data);
    mdb_cursor_close(cur);
    for (size_t i = 0; i < n; i++) {
        Crm__Common__V1__UserInfo *u;
        if ((rc = crm_db_get_id(txn, users, ids[i], &crm__common__v1__user_info__descriptor, NULL, (void **)&u)) != 0)
            return rc;
        char *login = u->login, *email = u->email;
        u->login = u->email = "";
        rc = crm_db_put_id(txn, users, ids[i], &u->base);
        u->login = login, u->email = email; /* freed with the record */
        crm__common__v1__user_info__free_unpacked(u, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int unannounce(MDB_txn *txn, void *arg) { return crm_store_meta_put_u64(arg, txn, "users_announced", 0); }

/* A pipeline whose users have no login yet (a store from before) learns
 * them when identity, on its first start since, tells every user again:
 * then an import names a salesperson by login. */
static void test_logins_learnt_after_upgrade(void **state)
{
    assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGTERM), 0);
    assert_int_equal(sys_kill(env, SYS_IDENTITY, SIGTERM), 0);
    char dir[300];
    const char *err;
    MDB_dbi users;
    snprintf(dir, sizeof dir, "%s/pipeline", env->dir);
    crm_store_t *store = crm_store_open(dir, (const crm_store_dbi_t[]){{"users", 0, &users}}, 1, PIPELINE_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, forget_logins, &users), 0);
    crm_store_close(&store);
    snprintf(dir, sizeof dir, "%s/identity", env->dir);
    store = crm_store_open(dir, NULL, 0, IDENTITY_SCHEMA, 0, &err);
    assert_non_null(store);
    assert_int_equal(crm_store_write(store, unannounce, store), 0);
    crm_store_close(&store);
    assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, 30000), 0);
    assert_int_equal(sys_spawn(env, SYS_IDENTITY), 0);
    assert_int_equal(sys_wait_ready(env, SYS_IDENTITY, 30000), 0);
    /* the read model catches up on identity's events: the row finds ana */
    int64_t deadline = sys_now_ms() + 15000;
    import_reply_t *r = NULL;
    do {
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        r = zimport(admin, LEADS, "name,salesperson\nAfter the upgrade,ana\n", 1, 1);
    } while (r->n_errors && sys_now_ms() < deadline && (usleep(100000), 1));
    assert_int_equal(r->n_errors, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* --- crmctl -------------------------------------------------------------------------------------- */

/* Runs crmctl with args (NULL-terminated) as token; its stdout in *out
 * (malloc'd). Returns its exit status. */
static int crmctl_on(sys_env_t *e, const char *token, char **out, const char *const *args)
{
    char path[512], out_path[300];
    sys_program(path, sizeof path, "crmctl");
    snprintf(out_path, sizeof out_path, "%s/crmctl-%lld.out", e->dir, (long long)sys_now_ms());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        setenv("CRM_TOKEN", token, 1);
        setenv("CRM_ENDPOINT", e->zmq, 1);
        const char *argv[16] = {path};
        for (int i = 0; args[i] && i < 14; i++)
            argv[i + 1] = args[i];
        execv(path, (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(sys_reap(pid, 120000, &status), 0);
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_crmctl(void **state)
{
    char file[300], *out;
    snprintf(file, sizeof file, "%s/ctl.csv", env->dir);
    /* a quoted field with a line end lands on a page boundary: pages of 1 row */
    write_file(file, "name,internalNotes,tags\r\nCtl One,\"two\r\nlines\",vip\r\nCtl Two,,nosuchtag\r\nCtl Three,,\r\n");
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"import", file, "--model", "leads", "--dry-run", NULL}), 1);
    assert_non_null(strstr(out, "row 2, column tags: "));
    assert_non_null(strstr(out, "3 rows checked: 2 created, 0 updated, 0 unchanged, 1 failed"));
    free(out);
    assert_int_equal(count_leads(admin, "Ctl "), 0);
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"import", file, "--model", "leads", "--page-rows", "1", NULL}), 1);
    assert_non_null(strstr(out, "row 2, column tags: "));
    assert_non_null(strstr(out, "3 rows: 2 created, 0 updated, 0 unchanged, 1 failed"));
    free(out);
    assert_int_equal(count_leads(admin, "Ctl "), 2);
    json_t *r = OK(admin, P("ListLeads"), "{\"query\":\"Ctl One\"}");
    assert_string_equal(sys_jstr(json_array_get(json_object_get(r, "leads"), 0), "internalNotes"), "two\r\nlines");
    json_decref(r);
    /* a clean file: status 0; again: nothing created */
    write_file(file, "name\nCtl Four\nCtl Five\n");
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"import", file, "--model", "leads", NULL}), 0);
    assert_non_null(strstr(out, "2 rows: 2 created"));
    free(out);
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"import", file, "--model", "leads", "--page-rows", "2", NULL}), 0);
    assert_non_null(strstr(out, "2 rows: 0 created, 0 updated, 2 unchanged, 0 failed"));
    free(out);
    assert_int_equal(count_leads(admin, "Ctl "), 4);
    /* export: the API's pages, on stdout */
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"export", "--model", "customers", NULL}), 0);
    char *api = export_all(admin, CUSTOMERS);
    assert_string_equal(out, api);
    free(api);
    free(out);
    assert_int_equal(crmctl_on(env, admin, &out, (const char *const[]){"import", file, "--model", "nothing", NULL}), 2);
    free(out);
}

/* --- exactly once across kill -9 ---------------------------------------------------------------------- */

#define KILL_ROWS 2000

static void test_kill9_exactly_once(void **state)
{
    char *tok;
    sys_env_t *e = sys_start_admin(NULL, &tok);
    assert_non_null(e);
    char file[300], path[512];
    snprintf(file, sizeof file, "%s/big.csv", e->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("name,expectedRevenue,internalNotes\r\n", f);
    for (int i = 0; i < KILL_ROWS; i++)
        fprintf(f, "Bulk %05d,%d.00,\"row %d\r\nof the bulk file\"\r\n", i, i, i);
    assert_int_equal(fclose(f), 0);
    sys_program(path, sizeof path, "crmctl");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("CRM_TOKEN", tok, 1);
        setenv("CRM_ENDPOINT", e->zmq, 1);
        execl(path, path, "import", file, "--model", "leads", "--page-rows", "50", (char *)NULL);
        _exit(127);
    }
    /* kill the pipeline once some pages went through, mid-import */
    int64_t until = sys_now_ms() + 60000;
    for (;;) {
        char *csv = export_on(e, tok, LEADS, 0, NULL);
        size_t n = csv_rows(csv);
        free(csv);
        if (n >= 300 || sys_now_ms() > until)
            break;
        usleep(20000);
    }
    assert_int_equal(sys_kill(e, SYS_PIPELINE, SIGKILL), 0);
    /* back at once: crmctl, retrying the page it got no answer for with
     * the same key, may finish this run or give up; either way ... */
    assert_int_equal(sys_spawn(e, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(e, SYS_PIPELINE, 30000), 0);
    int status;
    assert_int_equal(sys_reap(pid, 120000, &status), 0);
    assert_true(WIFEXITED(status));
    /* the same import again: it completes, and nothing exists twice */
    char *out;
    assert_int_equal(crmctl_on(e, tok, &out, (const char *const[]){"import", file, "--model", "leads", "--page-rows", "50", NULL}), 0);
    assert_non_null(strstr(out, "2000 rows: "));
    free(out);
    char *csv = export_on(e, tok, LEADS, 0, NULL);
    assert_int_equal(csv_rows(csv), KILL_ROWS);
    char name[32];
    for (int i = 0; i < KILL_ROWS; i++) {
        snprintf(name, sizeof name, ",Bulk %05d,", i);
        char *at = strstr(csv, name);
        assert_non_null(at);
        assert_null(strstr(at + 1, name));
    }
    free(csv);
    /* and each lead's event applied once in activities: one "created"
     * tracking message per lead */
    for (int64_t id = 1; id <= KILL_ROWS; id++) {
        json_t *m = NULL;
        crm_status_t st;
        int64_t deadline = sys_now_ms() + 30000;
        size_t created = 0, n = 0;
        do {
            json_decref(m);
            m = sys_jcall(e, "crm.activities.v1.Activities/ListMessages", tok, &st,
                          "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"pageSize\":50}", (long long)id);
        } while (!m && sys_now_ms() < deadline && (usleep(50000), 1));
        if (!m)
            fail_msg("ListMessages of lead %lld: %s", (long long)id, st.message);
        json_t *msgs = json_object_get(m, "messages"), *msg;
        size_t i;
        json_array_foreach(msgs, i, msg) {
            n++;
            created += !strcmp(sys_jstr(msg, "event"), "lead.created");
        }
        if (created != 1 || n != 1)
            fail_msg("lead %lld has %zu lead.created messages of %zu", (long long)id, created, n);
        json_decref(m);
    }
    free(tok);
    assert_int_equal(sys_stop(e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quirks_zmq),
        cmocka_unit_test(test_quirks_twirp_json),
        cmocka_unit_test(test_row_errors),
        cmocka_unit_test(test_rerun_creates_nothing_twice),
        cmocka_unit_test(test_customers_and_links),
        cmocka_unit_test(test_own_leads),
        cmocka_unit_test(test_bad_pages),
        cmocka_unit_test(test_crmctl),
        cmocka_unit_test(test_export_pages_and_formulas),
        cmocka_unit_test(test_round_trip_to_empty_store),
        cmocka_unit_test(test_rerun_after_delete_or_merge),
        cmocka_unit_test(test_stage_of_the_lead_s_team),
        cmocka_unit_test(test_logins_learnt_after_upgrade),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_kill9_exactly_once),
    };
    int failed = cmocka_run_group_tests_name("import", tests, setup, teardown);
    return failed + cmocka_run_group_tests_name("import-kill9", own, NULL, NULL);
}
