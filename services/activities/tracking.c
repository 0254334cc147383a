/* What activities learns from other services' events: who owns each
 * document (pipeline), users' names and levels (identity), and the tracking
 * message each pipeline change gives, written in the same transaction that
 * moves the consumer's cursor, so each exists exactly once. */
#include "activities.h"
#include "pipeline.pb-c.h"
#include "crm_consumer.h"
#include "crm_tracking.h"

#include <string.h>

#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x

/* --- tracking values ------------------------------------------------------------ */

static void add_value(void *arg, const Crm__Pipeline__V1__FieldChange *c, const char *label,
                      const char *old_text, const char *new_text)
{
    message_t *m = arg;
    Crm__Activities__V1__TrackingValue *v = m->tracking[m->n_tracking++];
    v->field = c->field;
    v->label = (char *)label;
    v->old_value = c->old_value;
    v->new_value = c->new_value;
    v->old_text = (char *)old_text;
    v->new_text = (char *)new_text;
}

/* The tracked values of an event's changes, and the body's lines. */
static void add_tracking(crm_arena_t *arena, message_t *m, Crm__Pipeline__V1__FieldChange **changes,
                         size_t n, const char *headline)
{
    if (n > 16)
        n = 16;
    m->tracking = crm_arena_alloc(arena, sizeof *m->tracking * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        m->tracking[i] = crm_arena_alloc(arena, sizeof *m->tracking[i]);
        crm__activities__v1__tracking_value__init(m->tracking[i]);
    }
    m->body = crm_tracking_text(arena, changes, n, headline, add_value, m, NULL);
}

/* --- read models and tracking ------------------------------------------------ */

message_t *act_tracking_message(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, int model,
                                int64_t doc_id)
{
    crm_arena_t *arena = a->apply_arena;
    message_t *m = crm_arena_alloc(arena, sizeof *m);
    crm__activities__v1__message__init(m);
    doc_t *d = crm_arena_alloc(arena, sizeof *d);
    crm__common__v1__doc_ref__init(d);
    d->model = (char *)crm_doc_model_name(model);
    d->id = doc_id;
    m->doc = d;
    m->kind = KIND(TRACKING);
    m->author_id = ev->actor_id;
    crm_userinfo_t *u = crm_readmodel_user(&a->readmodel, txn, arena, ev->actor_id);
    m->author_name = u ? u->name : "";
    m->at = ev->at;
    m->event = ev->type;
    return m;
}

/* A salesperson the team's assignment rules chose says so: "Salesperson:
 * — → Ann (assigned by Europe's assignment rules)". */
static void note_assignment(activities_t *a, MDB_txn *txn, message_t *m, const Crm__Events__V1__Event *ev,
                            const Crm__Pipeline__V1__LeadEvent *e)
{
    crm_arena_t *arena = a->apply_arena;
    const Crm__Pipeline__V1__Lead *l = e->lead;
    if (!e->reason || strcmp(e->reason, "assignment") || !l->salesperson_id)
        return;
    const char *rules = l->team_name && l->team_name[0]
                            ? crm_arena_printf(arena, "%s's assignment rules", l->team_name)
                            : "the team's assignment rules";
    if (strcmp(ev->type, "lead.created")) {
        m->body = crm_arena_printf(arena, "%s (assigned by %s)", m->body, rules);
        return;
    }
    /* a new lead tells no changes: its salesperson is told here */
    crm_userinfo_t *u = crm_readmodel_user(&a->readmodel, txn, arena, l->salesperson_id);
    m->body = crm_arena_printf(arena, "%s\nSalesperson: — → %s (assigned by %s)", m->body,
                               u ? u->name : crm_arena_printf(arena, "#%lld", (long long)l->salesperson_id), rules);
}

/* The tracking message of a lead event, if it gives one; kept is the read
 * model's verdict on the event (0 or CRM_CONSUMER_UNCHANGED). */
static int apply_lead(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    crm_arena_t *arena = a->apply_arena;
    Crm__Pipeline__V1__LeadEvent *e =
        crm__pipeline__v1__lead_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->lead || e->lead->id <= 0)
        return kept;
    const Crm__Pipeline__V1__Lead *l = e->lead;
    int opportunity = l->type == CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_OPPORTUNITY;
    const char *headline = NULL;
    if (!strcmp(ev->type, "lead.created"))
        headline = opportunity ? "Opportunity created" : "Lead created";
    else if (!strcmp(ev->type, "lead.converted"))
        headline = "Converted to an opportunity";
    else if (!strcmp(ev->type, "lead.won"))
        headline = opportunity ? "Opportunity won" : "Lead won";
    else if (!strcmp(ev->type, "lead.lost"))
        headline = opportunity ? "Opportunity lost" : "Lead lost";
    else if (!strcmp(ev->type, "lead.archived"))
        headline = "Archived";
    else if (!strcmp(ev->type, "lead.restored"))
        headline = "Restored";
    else if (!strcmp(ev->type, "lead.reopened"))
        headline = "Reopened";
    else if (strcmp(ev->type, "lead.updated"))
        return kept;
    message_t *m = act_tracking_message(a, txn, ev, ACT_LEAD, l->id);
    add_tracking(arena, m, e->changes, e->n_changes, headline);
    if (!headline && !m->n_tracking)
        return kept; /* an edit of untracked fields (name, notes, ...) leaves no trace */
    note_assignment(a, txn, m, ev, e);
    return act_message_store(a, txn, m, ev->actor_id);
}

/* The chatter message of a quotation made, on the document it was made
 * from; kept as for apply_lead. */
static int apply_quotation(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    crm_arena_t *arena = a->apply_arena;
    Crm__Pipeline__V1__QuotationEvent *e = crm__pipeline__v1__quotation_event__unpack(
        crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->quotation || e->quotation->id <= 0 || strcmp(ev->type, "quotation.created"))
        return kept;
    const Crm__Pipeline__V1__Quotation *q = e->quotation;
    /* "Make Quotation" is told on the opportunity it was made from */
    message_t *m = q->opportunity_id ? act_tracking_message(a, txn, ev, ACT_LEAD, q->opportunity_id)
                                     : act_tracking_message(a, txn, ev, ACT_QUOTATION, q->id);
    char amount[64];
    crm_format_money(amount, sizeof amount, q->amount, q->currency);
    m->body = crm_arena_printf(arena, "Quotation %s made: %s %s", q->name, amount, q->currency);
    return act_message_store(a, txn, m, ev->actor_id);
}

/* Archive and restore of a customer, in its chatter; kept as for apply_lead. */
static int apply_customer(activities_t *a, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    int archived = !strcmp(ev->type, "customer.archived");
    if (!archived && strcmp(ev->type, "customer.restored"))
        return kept;
    Crm__Pipeline__V1__CustomerEvent *e = crm__pipeline__v1__customer_event__unpack(
        crm_arena_allocator(a->apply_arena), ev->payload.len, ev->payload.data);
    if (!e || !e->customer || e->customer->id <= 0)
        return kept;
    message_t *m = act_tracking_message(a, txn, ev, ACT_CUSTOMER, e->customer->id);
    m->body = archived ? "Archived" : "Restored";
    return act_message_store(a, txn, m, ev->actor_id);
}

int act_apply_pipeline_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    activities_t *a = arg;
    crm_arena_reset(a->apply_arena);
    /* planned activities first, while the read model still knows a deleted
     * or merged lead: what the event does to them needs nothing it learns */
    int planned = act_apply_pipeline_activities(a, txn, ev);
    if (planned && planned != CRM_CONSUMER_UNCHANGED)
        return planned;
    if (!strcmp(ev->type, "lead.merged"))
        return act_apply_merge(a, txn, ev);
    int rc = crm_readmodel_apply(&a->readmodel, txn, a->apply_arena, ev);
    if (rc && rc != CRM_CONSUMER_UNCHANGED)
        return rc;
    if (!planned)
        rc = 0; /* activities were written: the batch must commit */
    if (!strncmp(ev->type, "lead.", 5))
        return apply_lead(a, txn, ev, rc);
    if (!strncmp(ev->type, "quotation.", 10))
        return apply_quotation(a, txn, ev, rc);
    if (!strncmp(ev->type, "customer.", 9))
        return apply_customer(a, txn, ev, rc);
    return rc;
}

int act_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    activities_t *a = arg;
    crm_arena_reset(a->apply_arena);
    return crm_readmodel_apply(&a->readmodel, txn, a->apply_arena, ev);
}
