/* A document archived, restored, reopened or deleted in pipeline: its
 * followers are told of the first three (a change of status), and a
 * deleted document's followers are forgotten, in the consumer's
 * transaction like every other effect of an event. */
#include "notifications.h"
#include "crm_consumer.h"
#include "crm_tracking.h"
#include "pipeline.pb-c.h"

#include <string.h>

int ntf_is_lifecycle_event(const char *type)
{
    static const char *const types[] = {"lead.archived",     "lead.restored",     "lead.reopened",    "lead.deleted",
                                        "customer.archived", "customer.restored", "customer.deleted", NULL};
    for (const char *const *t = types; *t; t++)
        if (!strcmp(type, *t))
            return 1;
    return 0;
}

/* Deletes every follower record of the document. Returns 0 when one was
 * deleted, CRM_CONSUMER_UNCHANGED when there was none, or an LMDB code. */
static int forget_followers(notifications_t *n, MDB_txn *txn, int model, int64_t id)
{
    uint8_t prefix[NTF_DOC_KEY];
    crm_doc_key(prefix, model, id);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, n->followers, &cur);
    if (rc)
        return rc;
    MDB_val k, d;
    int deleted = 0;
    /* sought again after each deletion rather than trusting where a
     * deletion leaves the cursor at the end of the table */
    for (;;) {
        k = (MDB_val){sizeof prefix, prefix};
        rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
        if (rc || k.mv_size != NTF_FOLLOWER_KEY || memcmp(k.mv_data, prefix, sizeof prefix))
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        deleted = 1;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    return deleted ? 0 : CRM_CONSUMER_UNCHANGED;
}

int ntf_apply_lifecycle(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    crm_arena_t *arena = n->apply_arena;
    ProtobufCAllocator *alloc = crm_arena_allocator(arena);
    int lead = !strncmp(ev->type, "lead.", 5);
    int64_t id = 0;
    const char *what = "Customer";
    Crm__Pipeline__V1__FieldChange **changes = NULL;
    size_t n_changes = 0;
    if (lead) {
        Crm__Pipeline__V1__LeadEvent *e = crm__pipeline__v1__lead_event__unpack(alloc, ev->payload.len, ev->payload.data);
        if (!e || !e->lead)
            return kept;
        id = e->lead->id;
        what = e->lead->type == CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_OPPORTUNITY ? "Opportunity" : "Lead";
        changes = e->changes;
        n_changes = e->n_changes;
    } else {
        Crm__Pipeline__V1__CustomerEvent *e =
            crm__pipeline__v1__customer_event__unpack(alloc, ev->payload.len, ev->payload.data);
        if (!e || !e->customer)
            return kept;
        id = e->customer->id;
    }
    if (id <= 0)
        return kept;
    int model = lead ? NTF_LEAD : NTF_CUSTOMER;
    const char *verb = strchr(ev->type, '.') + 1;
    if (!strcmp(verb, "deleted")) {
        int rc = forget_followers(n, txn, model, id);
        return rc == CRM_CONSUMER_UNCHANGED ? kept : rc;
    }
    const char *headline = crm_arena_printf(arena, "%s %s", what, verb);
    ntf_change_t c = {.model = model, .doc_id = id, .subtypes = 1u << SUBTYPE(STATUS_CHANGED),
                      .headline = SUBTYPE(STATUS_CHANGED), .ev = ev};
    c.summary = crm_tracking_text(arena, changes, n_changes, headline, NULL, NULL, NULL);
    return ntf_deliver(n, txn, &c);
}
