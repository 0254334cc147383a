/* What notifications learns from other services' events: documents and who
 * owns them (pipeline), users' names and levels (identity), and the changes
 * followers are told of (pipeline's tracked changes, activities' comments,
 * calls and meetings). Everything here runs in the consumer's transaction,
 * so an event's entries exist exactly once. */
#include "notifications.h"
#include "activities.pb-c.h"
#include "crm_tracking.h"
#include "pipeline.pb-c.h"

#include <string.h>

#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define SUMMARY_MAX 280 /* bytes of a comment shown in the inbox */

/* The subtypes a lead event's changes match. */
static unsigned lead_subtypes(const Crm__Events__V1__Event *ev, const Crm__Pipeline__V1__LeadEvent *e)
{
    unsigned bits = 0;
    for (size_t i = 0; i < e->n_changes; i++) {
        const char *f = e->changes[i]->field;
        if (!strcmp(f, "stageId"))
            bits |= 1u << SUBTYPE(STAGE_CHANGED);
        else if (!strcmp(f, "status"))
            bits |= 1u << SUBTYPE(STATUS_CHANGED);
        else if (!strcmp(f, "salespersonId"))
            bits |= 1u << SUBTYPE(ASSIGNED);
    }
    if (!strcmp(ev->type, "lead.converted") || !strcmp(ev->type, "lead.won") || !strcmp(ev->type, "lead.lost"))
        bits |= 1u << SUBTYPE(STATUS_CHANGED);
    if (!strcmp(ev->type, "lead.created") && e->lead->salesperson_id)
        bits |= 1u << SUBTYPE(ASSIGNED);
    return bits;
}

/* Who follows a lead event's lead and what they are told; kept is the read
 * model's verdict on the event (0 or CRM_CONSUMER_UNCHANGED). */
static int apply_lead(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    crm_arena_t *arena = n->apply_arena;
    Crm__Pipeline__V1__LeadEvent *e =
        crm__pipeline__v1__lead_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->lead || e->lead->id <= 0)
        return kept;
    const Crm__Pipeline__V1__Lead *l = e->lead;
    int rc;
    int created = !strcmp(ev->type, "lead.created");
    unsigned subtypes = lead_subtypes(ev, e);
    /* the creator and whoever is assigned follow the lead, as in OpenERP:
     * when it is created or assigned, so that an unfollow sticks otherwise */
    if (created && (rc = ntf_auto_follow(n, txn, NTF_LEAD, l->id, ev->actor_id, ev->at)) != 0)
        return rc;
    int64_t assignee = created || (subtypes & (1u << SUBTYPE(ASSIGNED))) ? l->salesperson_id : 0;
    if (assignee && !(created && assignee == ev->actor_id) &&
        (rc = ntf_auto_follow(n, txn, NTF_LEAD, l->id, assignee, ev->at)) != 0)
        return rc;
    if (created || assignee)
        kept = 0; /* a following may have been written */

    int opportunity = l->type == CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_OPPORTUNITY;
    const char *headline = NULL;
    ntf_change_t c = {.model = NTF_LEAD, .doc_id = l->id, .subtypes = subtypes, .ev = ev};
    /* converted, won and lost are news of the status, whatever else moved */
    if (created) {
        crm_userinfo_t *sp = crm_readmodel_user(&n->readmodel, txn, arena, l->salesperson_id);
        headline = crm_arena_printf(arena, "%s created, assigned to %s", opportunity ? "Opportunity" : "Lead",
                                    sp ? sp->name : "a salesperson");
        c.headline = SUBTYPE(ASSIGNED);
    } else if (!strcmp(ev->type, "lead.converted")) {
        headline = "Converted to an opportunity";
        c.headline = SUBTYPE(STATUS_CHANGED);
    } else if (!strcmp(ev->type, "lead.won")) {
        headline = opportunity ? "Opportunity won" : "Lead won";
        c.headline = SUBTYPE(STATUS_CHANGED);
    } else if (!strcmp(ev->type, "lead.lost")) {
        headline = opportunity ? "Opportunity lost" : "Lead lost";
        c.headline = SUBTYPE(STATUS_CHANGED);
    } else if (strcmp(ev->type, "lead.updated")) {
        return kept;
    }
    if (!c.subtypes)
        return kept; /* revenue, probability, name, ...: in the chatter, told to nobody */
    c.summary = crm_tracking_text(arena, e->changes, e->n_changes, headline, NULL, NULL, NULL);
    return ntf_deliver(n, txn, &c);
}

/* A quotation made is news for its opportunity's followers; kept as for
 * apply_lead. */
static int apply_quotation(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept)
{
    crm_arena_t *arena = n->apply_arena;
    Crm__Pipeline__V1__QuotationEvent *e = crm__pipeline__v1__quotation_event__unpack(
        crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->quotation || e->quotation->id <= 0 || strcmp(ev->type, "quotation.created") ||
        !e->quotation->opportunity_id)
        return kept;
    const Crm__Pipeline__V1__Quotation *q = e->quotation;
    /* "Make Quotation" is news for the opportunity's followers */
    char amount[64];
    crm_format_money(amount, sizeof amount, q->amount, q->currency);
    ntf_change_t c = {.model = NTF_LEAD, .doc_id = q->opportunity_id, .subtypes = 1u << SUBTYPE(DISCUSSION), .ev = ev};
    c.summary = crm_arena_printf(arena, "Quotation %s made: %s %s", q->name, amount, q->currency);
    return ntf_deliver(n, txn, &c);
}

int ntf_apply_pipeline_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    notifications_t *n = arg;
    crm_arena_reset(n->apply_arena);
    if (!strcmp(ev->type, "lead.merged"))
        return ntf_apply_merge(n, txn, ev);
    int rc = crm_readmodel_apply(&n->readmodel, txn, n->apply_arena, ev);
    if (rc && rc != CRM_CONSUMER_UNCHANGED)
        return rc;
    if (ntf_is_lifecycle_event(ev->type))
        return ntf_apply_lifecycle(n, txn, ev, rc);
    if (!strncmp(ev->type, "lead.", 5))
        return apply_lead(n, txn, ev, rc);
    if (!strncmp(ev->type, "quotation.", 10))
        return apply_quotation(n, txn, ev, rc);
    return rc;
}

/* The first SUMMARY_MAX bytes of a comment, cut on a character boundary. */
static const char *shorten(crm_arena_t *arena, const char *body)
{
    size_t len = strlen(body);
    if (len <= SUMMARY_MAX)
        return body;
    size_t cut = SUMMARY_MAX - 3;
    while (cut > 0 && ((unsigned char)body[cut] & 0xC0) == 0x80)
        cut--;
    return crm_arena_printf(arena, "%.*s…", (int)cut, body);
}

/* An activity planned: its responsible is told when someone else planned
 * it, following the document or not (as Odoo does); followers who want
 * activities are told of one that is not a call (a call is told through
 * its chatter message). */
static int apply_activity_planned(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    crm_arena_t *arena = n->apply_arena;
    crm_arena_reset(arena);
    Crm__Activities__V1__ActivityEvent *e =
        crm__activities__v1__activity_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->activity || !e->activity->doc)
        return CRM_CONSUMER_UNCHANGED;
    const Crm__Activities__V1__Activity *act = e->activity;
    int model = crm_doc_model(act->doc->model);
    if (!model || act->doc->id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    ntf_change_t c = {.model = model, .doc_id = act->doc->id, .subtypes = 1u << SUBTYPE(ACTIVITY), .ev = ev};
    const char *what = act->type_name && *act->type_name ? act->type_name : "Activity";
    c.summary = shorten(arena, crm_arena_printf(arena, "%s planned for %s: %s", what, act->deadline,
                                                *act->summary ? act->summary : act->note));
    /* the responsible directly, unless they follow the document for what
     * tells them anyway: activities (ntf_deliver below), or for a call its
     * chatter message (calls) */
    int is_call = act->category == CRM__ACTIVITIES__V1__ACTIVITY_CATEGORY__ACTIVITY_CATEGORY_CALL;
    if (is_call)
        c.subtypes = 1u << SUBTYPE(CALL);
    int rc = ntf_deliver_to(n, txn, &c, SUBTYPE(ACTIVITY), &act->responsible_id, 1);
    if (rc == 0 && !is_call)
        rc = ntf_deliver(n, txn, &c);
    return rc;
}

int ntf_apply_activities_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    notifications_t *n = arg;
    crm_arena_t *arena = n->apply_arena;
    crm_arena_reset(arena);
    if (!strcmp(ev->type, "activity.planned"))
        return apply_activity_planned(n, txn, ev);
    if (!strncmp(ev->type, "meeting.", 8))
        return ntf_apply_meeting_event(n, txn, ev);
    if (strcmp(ev->type, "message.posted"))
        return CRM_CONSUMER_UNCHANGED; /* calls and activities done are told through their chatter messages */
    Crm__Activities__V1__MessageEvent *e =
        crm__activities__v1__message_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->message || !e->message->doc)
        return CRM_CONSUMER_UNCHANGED;
    const Crm__Activities__V1__Message *m = e->message;
    unsigned subtypes = 0;
    if (m->kind == KIND(COMMENT))
        subtypes = 1u << SUBTYPE(DISCUSSION);
    else if (m->kind == KIND(CALL) || m->kind == KIND(MEETING))
        subtypes = 1u << SUBTYPE(CALL);
    else if (m->kind == KIND(ACTIVITY))
        subtypes = 1u << SUBTYPE(ACTIVITY);
    /* notes are internal; tracking messages come from pipeline's own events */
    int model = crm_doc_model(m->doc->model);
    if (!subtypes || !model || m->doc->id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    ntf_change_t c = {.model = model, .doc_id = m->doc->id, .subtypes = subtypes, .message_id = m->id, .ev = ev};
    c.summary = shorten(arena, m->body ? m->body : "");
    return ntf_deliver(n, txn, &c);
}

int ntf_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    notifications_t *n = arg;
    crm_arena_reset(n->apply_arena);
    return crm_readmodel_apply(&n->readmodel, txn, n->apply_arena, ev);
}
