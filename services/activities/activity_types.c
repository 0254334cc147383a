/* Activity types: what a planned activity is (a call, an e-mail, a to-do,
 * ...), with the days ahead its deadline falls when none is given. The
 * service seeds four on a store that has none; managers add, rename and
 * archive them. Nothing else needs them, so they make no events. */
#include "activities.h"
#include "crm_log.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define CATEGORY(x) CRM__ACTIVITIES__V1__ACTIVITY_CATEGORY__ACTIVITY_CATEGORY_##x

#define TYPE_NAME_MAX 64       /* characters */
#define DEFAULT_DAYS_MAX 3650  /* ten years ahead */
#define TYPES_MAX 1000         /* a list gives them all; more would be a runaway script */
#define TYPE_COUNTER "activity_type"

/* Odoo's defaults: a call in two days, an e-mail the same day (it is
 * written now or never), a to-do within the week; a meeting has its own
 * time, so its days are unused. */
static const struct {
    const char *name;
    int category;
    int32_t default_days;
} seeds[] = {
    {"Call", CATEGORY(CALL), 2},
    {"Meeting", CATEGORY(MEETING), 0},
    {"Email", CATEGORY(EMAIL), 0},
    {"To-do", CATEGORY(TODO), 5},
};

static int seed_txn(MDB_txn *txn, void *arg)
{
    activities_t *a = arg;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->activity_types, &cur);
    if (rc)
        return rc;
    MDB_val k, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc; /* 0: seeded before, and maybe changed since: left as it is */
    uint64_t last;
    if ((rc = crm_store_counter_get(a->store, txn, TYPE_COUNTER, &last)) != 0)
        return rc;
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        activity_type_t t = CRM__ACTIVITIES__V1__ACTIVITY_TYPE__INIT;
        t.id = (int64_t)++last;
        t.name = (char *)seeds[i].name;
        t.category = seeds[i].category;
        t.default_days = seeds[i].default_days;
        if ((rc = crm_db_put_id(txn, a->activity_types, (uint64_t)t.id, &t.base)) != 0)
            return rc;
    }
    return crm_store_counter_put(a->store, txn, TYPE_COUNTER, last);
}

int act_types_seed(activities_t *a, crm_store_t *store)
{
    a->store = store;
    int rc = crm_store_write(store, seed_txn, a);
    if (rc)
        crm_error("seeding the activity types: %s", mdb_strerror(rc));
    return rc;
}

int act_type_get(crm_call_t *call, const char *field, int64_t id, int category, activity_type_t **out)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    ProtobufCAllocator *alloc = crm_arena_allocator(crm_call_arena(call));
    int rc;
    if (id) {
        rc = id > 0 ? crm_db_get_id(txn, a->activity_types, (uint64_t)id,
                                        &crm__activities__v1__activity_type__descriptor, alloc, (void **)out)
                        : MDB_NOTFOUND;
        if (rc == MDB_NOTFOUND)
            return crm_call_fail(call, CODE(NOT_FOUND), field, "no activity type %lld", (long long)id);
        return rc ? crm_call_fail_db(call, rc) : 0;
    }
    rc = act_type_find(a, txn, crm_call_arena(call), category, out);
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), field, "there is no activity type of that category");
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int act_type_find(activities_t *a, MDB_txn *txn, crm_arena_t *arena, int category, activity_type_t **out)
{
    /* the first of the category not archived, else the first archived: a
     * call scheduled has a type even when a manager archived every one */
    ProtobufCAllocator *alloc = crm_arena_allocator(arena);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->activity_types, &cur);
    if (rc)
        return rc;
    activity_type_t *first = NULL;
    *out = NULL;
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        activity_type_t *t = crm__activities__v1__activity_type__unpack(alloc, d.mv_size, d.mv_data);
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        if ((int)t->category != category)
            continue;
        if (!first)
            first = t;
        if (!t->archived) {
            *out = t;
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (!*out)
        *out = first;
    return *out ? 0 : MDB_NOTFOUND;
}

static int check_name(crm_call_t *call, const char *name)
{
    crm_status_t st;
    if (crm_check_text(&st, "name", name, 1, TYPE_NAME_MAX) != 0)
        return crm_call_fail_status(call, &st);
    return 0;
}

static int check_days(crm_call_t *call, int32_t days)
{
    if (days < 0 || days > DEFAULT_DAYS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "defaultDays", "defaultDays must be between 0 and %d",
                             DEFAULT_DAYS_MAX);
    return 0;
}

int act_create_activity_type(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__CreateActivityTypeRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    if (crm_call_require_manager(call) != 0 || check_name(call, r->name) != 0 || check_days(call, r->default_days) != 0)
        return -1;
    if (r->category < CATEGORY(UNSPECIFIED) || r->category > CATEGORY(EMAIL))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "category", "category is not an activity category");
    activity_type_t *t = (activity_type_t *)out;
    uint64_t id;
    int rc = crm_store_next_id(crm_call_store(call), crm_call_txn(call), TYPE_COUNTER, &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    t->id = (int64_t)id;
    t->name = r->name;
    t->category = r->category == CATEGORY(UNSPECIFIED) ? CATEGORY(TODO) : r->category;
    t->default_days = r->default_days;
    rc = crm_db_put_id(crm_call_txn(call), a->activity_types, id, &t->base);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int act_update_activity_type(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__UpdateActivityTypeRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    static const char *const allowed[] = {"name", "default_days", "archived", NULL};
    crm_status_t st;
    activity_type_t *t;
    if (crm_call_require_manager(call) != 0)
        return -1;
    if (crm_mask_check(&st, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    if (act_type_get(call, "id", r->id > 0 ? r->id : -1, 0, &t) != 0)
        return -1;
    if (crm_mask_has(r->update_mask, "name")) {
        if (check_name(call, r->name) != 0)
            return -1;
        t->name = r->name;
    }
    if (crm_mask_has(r->update_mask, "default_days")) {
        if (check_days(call, r->default_days) != 0)
            return -1;
        t->default_days = r->default_days;
    }
    if (crm_mask_has(r->update_mask, "archived"))
        t->archived = r->archived;
    int rc = crm_db_put_id(crm_call_txn(call), a->activity_types, (uint64_t)t->id, &t->base);
    if (rc)
        return crm_call_fail_db(call, rc);
    *(activity_type_t *)out = *t;
    return 0;
}

int act_list_activity_types(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListActivityTypesRequest *r = (const void *)in;
    Crm__Activities__V1__ListActivityTypesReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    if (crm_call_require_sales(call) != 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(crm_call_txn(call), a->activity_types, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    ProtobufCAllocator *alloc = crm_arena_allocator(crm_call_arena(call));
    reply->types = crm_arena_alloc(crm_call_arena(call), sizeof *reply->types * TYPES_MAX);
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && reply->n_types < TYPES_MAX;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        activity_type_t *t = crm__activities__v1__activity_type__unpack(alloc, d.mv_size, d.mv_data);
        if (!t) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!t->archived || r->include_archived)
            reply->types[reply->n_types++] = t;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}
