/* Field checks and record helpers every handler shares. */
#include "pipeline.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

/* --- field checks ----------------------------------------------------------- */

/* Reads record id of dbi into the call's arena: 0, or an LMDB error
 * (MDB_NOTFOUND when there is none). */
static int read_record(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessageDescriptor *desc,
                       void **out)
{
    return crm_db_get_id(crm_call_txn(call), dbi, (uint64_t)id, desc, crm_arena_allocator(crm_call_arena(call)),
                         out);
}

int pl_check_text(crm_call_t *call, const char *field, const char *s, size_t min, size_t max)
{
    crm_status_t st;
    return crm_check_text(&st, field, s, min, max) == 0 ? 0 : crm_call_fail_status(call, &st);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int pl_check_date(crm_call_t *call, const char *field, const char *s)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!*s)
        return 0;
    int y, m, d;
    char tail;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[5]) || !isdigit((unsigned char)s[8]) || y < 1900 || y > 9999 ||
        m < 1 || m > 12 || d < 1 || d > days[m - 1] + (m == 2 && is_leap(y)))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "%s must be a real date written YYYY-MM-DD", field);
    return 0;
}

int pl_check_currency(crm_call_t *call, const char *field, const char *s)
{
    if (strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
        isupper((unsigned char)s[2]))
        return 0;
    return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                         "%s must be an ISO 4217 code of three capital letters", field);
}

int pl_check_salesperson(crm_call_t *call, const char *field, int64_t user_id)
{
    if (user_id == 0)
        return 0;
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u;
    int rc = read_record(call, pl->readmodel.users, user_id, &crm__common__v1__user_info__descriptor, (void **)&u);
    if (rc == MDB_NOTFOUND || (rc == 0 && !u->active))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "salesperson %lld is not an active user", (long long)user_id);
    if (rc)
        return crm_call_fail_db(call, rc);
    if (crm_readmodel_user_level(u) == ACCESS(NONE))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "user %lld has no sales access", (long long)user_id);
    if (crm_call_own_leads_only(call) && user_id != crm_call_principal(call)->user_id)
        return crm_call_fail(call, CODE(PERMISSION_DENIED), field,
                             "with own-leads access a lead is yours or nobody's");
    return 0;
}

int pl_check_team(crm_call_t *call, const char *field, int64_t team_id)
{
    if (team_id == 0)
        return 0;
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__TeamInfo *t;
    int rc = read_record(call, pl->teams, team_id, &crm__pipeline__v1__team_info__descriptor, (void **)&t);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "no sales team %lld", (long long)team_id);
    if (rc)
        return crm_call_fail_db(call, rc);
    /* its leads and customers keep it; nothing new joins it */
    if (t->archived)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), field,
                             "sales team \"%s\" is archived: it takes no new leads or customers", t->name);
    return 0;
}

/* --- records ------------------------------------------------------------------- */

int pl_get(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessageDescriptor *desc,
           const char *field, const char *what, void **out)
{
    int rc = id > 0 ? read_record(call, dbi, id, desc, out) : MDB_NOTFOUND;
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), field, "no %s %lld", what, (long long)id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_put(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessage *m)
{
    int rc = crm_db_put_id(crm_call_txn(call), dbi, (uint64_t)id, m);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_next_id(crm_call_t *call, const char *counter, int64_t *id)
{
    uint64_t v;
    int rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), counter, &v);
    if (rc)
        return crm_call_fail_db(call, rc);
    *id = (int64_t)v;
    return 0;
}

const char *pl_user_name(crm_call_t *call, int64_t id)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_userinfo_t *u = crm_readmodel_user(&pl->readmodel, crm_call_txn(call), crm_call_arena(call), id);
    return u ? u->name : "";
}

/* --- paging ------------------------------------------------------------------------ */

int pl_list_page(crm_call_t *call, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc, int32_t page_size,
                 const char *page_token, pl_keep_fn *keep, const void *filter, void ***items, size_t *n,
                 char **next_token)
{
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, page_size, page_token, 50, 500, &size, &after) != 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), dbi, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    *items = crm_arena_alloc(crm_call_arena(call), sizeof(void *) * size);
    *n = 0;
    uint8_t key[8];
    crm_key_put_u64(key, after + 1);
    MDB_val k = {8, key}, d;
    int64_t resume = 0, scanned = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        int64_t id = (int64_t)crm_key_get_u64(k.mv_data);
        if (*n == size || ++scanned > PL_SCAN_MAX) {
            resume = *n == size ? (int64_t)crm_key_get_u64(key) : id - 1;
            break;
        }
        void *item = crm_call_unpack(call, desc, d.mv_data, d.mv_size);
        if (!item) {
            rc = MDB_CORRUPTED;
            break;
        }
        crm_key_put_u64(key, (uint64_t)id); /* the last record read */
        if (keep(call, item, filter))
            (*items)[(*n)++] = item;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    if (resume)
        *next_token = crm_call_page_token(call, (uint64_t)resume);
    return 0;
}
