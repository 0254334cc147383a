/* Leads and opportunities: one record with a type. */
#include "pipeline.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define STATUS(x) CRM__PIPELINE__V1__LEAD_STATUS__LEAD_STATUS_##x
#define LTYPE(x) CRM__PIPELINE__V1__LEAD_TYPE__LEAD_TYPE_##x
#define PRIO(x) CRM__PIPELINE__V1__PRIORITY__PRIORITY_##x
#define CACTION(x) CRM__PIPELINE__V1__CUSTOMER_ACTION__CUSTOMER_ACTION_##x
#define TAGS_MAX 64

typedef Crm__Pipeline__V1__FieldChange change_t;

/* --- reading ---------------------------------------------------------------------- */

/* The lead the caller may see, or not_found (another salesperson's lead is
 * indistinguishable from none). */
static int get_visible(crm_call_t *call, int64_t id, const char *field, lead_t **out)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (pl_get(call, pl->leads, id, &crm__pipeline__v1__lead__descriptor, field, "lead", (void **)out) != 0)
        return -1;
    if (!crm_call_sees_lead(call, (*out)->salesperson_id))
        return crm_call_fail(call, CODE(NOT_FOUND), field, "no lead %lld", (long long)id);
    return 0;
}

/* --- validation ------------------------------------------------------------------- */

/* Takes the customer's contact data where the lead has none. */
static void fill_from_customer(crm_call_t *call, lead_t *l, const customer_t *c)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (!l->email[0])
        l->email = c->email;
    if (!l->phone[0])
        l->phone = c->phone;
    if (c->is_company) {
        if (!l->company_name[0])
            l->company_name = c->name;
        return;
    }
    if (!l->contact_name[0])
        l->contact_name = c->name;
    if (!l->function[0])
        l->function = c->function;
    customer_t *parent;
    if (!l->company_name[0] && c->parent_id &&
        crm_db_get_id(crm_call_txn(call), pl->customers, (uint64_t)c->parent_id,
                      &crm__pipeline__v1__customer__descriptor,
                      crm_arena_allocator(crm_call_arena(call)), (void **)&parent) == 0)
        l->company_name = parent->name;
}

static int check_tags(crm_call_t *call, lead_t *l)
{
    pipeline_t *pl = crm_call_ctx(call);
    if (l->n_tag_ids > TAGS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "tagIds", "at most %d tags", TAGS_MAX);
    int64_t *uniq = crm_arena_alloc(crm_call_arena(call), sizeof *uniq * (l->n_tag_ids + 1));
    size_t n = 0;
    for (size_t i = 0; i < l->n_tag_ids; i++) {
        int seen = 0;
        for (size_t j = 0; j < n && !seen; j++)
            seen = uniq[j] == l->tag_ids[i];
        if (seen)
            continue;
        void *t;
        if (pl_get(call, pl->tags, l->tag_ids[i], &crm__pipeline__v1__tag__descriptor, "tagIds", "tag", &t) != 0)
            return -1;
        uniq[n++] = l->tag_ids[i];
    }
    l->tag_ids = uniq;
    l->n_tag_ids = n;
    return 0;
}

/* Every field rule of a lead; old is the lead before an update (NULL on
 * create). customer_changed: fill contact data from the customer. */
static int check_lead(crm_call_t *call, lead_t *l, const lead_t *old, int customer_changed)
{
    pipeline_t *pl = crm_call_ctx(call);
    crm_status_t st;
    if (l->type < 0 || l->type > LTYPE(OPPORTUNITY))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "type", "unknown lead type");
    l->type = pl_lead_type(l);
    if (pl_check_text(call, "name", l->name, 1, 256) != 0)
        return -1;
    if (l->probability < 0 || l->probability > 100)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "probability", "probability must be 0 to 100");
    if (l->expected_revenue < 0 || l->expected_revenue > REVENUE_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "expectedRevenue",
                             "expectedRevenue must be 0 to %lld minor units", REVENUE_MAX);
    if (!l->currency[0])
        l->currency = pl->default_currency;
    if (pl_check_currency(call, "currency", l->currency) != 0 ||
        pl_check_date(call, "nextActionDate", l->next_action_date) != 0 ||
        pl_check_date(call, "expectedClosing", l->expected_closing) != 0)
        return -1;
    if (l->priority < 0 || l->priority > PRIO(VERY_HIGH))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "priority", "unknown priority");
    if (pl_check_text(call, "contactName", l->contact_name, 0, 256) != 0 ||
        pl_check_text(call, "function", l->function, 0, 128) != 0 ||
        pl_check_text(call, "phone", l->phone, 0, 64) != 0 ||
        pl_check_text(call, "nextAction", l->next_action, 0, 256) != 0 ||
        pl_check_text(call, "referredBy", l->referred_by, 0, 256) != 0 ||
        pl_check_text(call, "companyName", l->company_name, 0, 256) != 0 ||
        pl_check_text(call, "internalNotes", l->internal_notes, 0, 65536) != 0)
        return -1;
    if (crm_check_email(&st, "email", l->email, 1) != 0)
        return crm_call_fail_status(call, &st);
    if (l->customer_id) {
        customer_t *c;
        if (pl_get(call, pl->customers, l->customer_id, &crm__pipeline__v1__customer__descriptor,
                   "customerId", "customer", (void **)&c) != 0)
            return -1;
        if (customer_changed)
            fill_from_customer(call, l, c);
    }
    if (check_tags(call, l) != 0)
        return -1;
    if ((!old || old->team_id != l->team_id) && pl_check_team(call, "teamId", l->team_id) != 0)
        return -1;
    if ((!old || old->salesperson_id != l->salesperson_id) &&
        pl_check_salesperson(call, "salespersonId", l->salesperson_id) != 0)
        return -1;
    return 0;
}

/* Puts the lead in stage_id (0: the first stage of its team and type) and
 * takes the stage's status, and its probability unless keep_probability. */
static int enter_stage(crm_call_t *call, lead_t *l, int64_t stage_id, int keep_probability)
{
    pipeline_t *pl = crm_call_ctx(call);
    stage_t *s;
    if (stage_id) {
        if (pl_get(call, pl->stages, stage_id, &crm__pipeline__v1__stage__descriptor, "stageId", "stage",
                   (void **)&s) != 0)
            return -1;
        if (!pl_stage_fits(s, l->team_id, l->type))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "stageId",
                                 "stage \"%s\" is not for this %s's team and type", s->name,
                                 l->type == LTYPE(OPPORTUNITY) ? "opportunity" : "lead");
    } else if (pl_first_stage(call, l->team_id, l->type, 0, &s) != 0) {
        return -1;
    }
    l->stage_id = s->id;
    l->status = s->status ? s->status : STATUS(IN_PROGRESS);
    if (!keep_probability)
        l->probability = s->probability;
    if (l->status == STATUS(WON) || l->status == STATUS(LOST))
        l->closed_at = l->closed_at ? l->closed_at : crm_call_now(call);
    else
        l->closed_at = 0;
    return 0;
}

/* --- events: tracked fields with old and new values ------------------------- */

static const char *stage_name(crm_call_t *call, int64_t id)
{
    pipeline_t *pl = crm_call_ctx(call);
    stage_t *s;
    if (id <= 0 || crm_db_get_id(crm_call_txn(call), pl->stages, (uint64_t)id, &crm__pipeline__v1__stage__descriptor,
                                 crm_arena_allocator(crm_call_arena(call)), (void **)&s) != 0)
        return "";
    return s->name;
}

static const char *team_name(crm_call_t *call, int64_t id)
{
    pipeline_t *pl = crm_call_ctx(call);
    Crm__Pipeline__V1__TeamInfo *t;
    if (id <= 0 || crm_db_get_id(crm_call_txn(call), pl->teams, (uint64_t)id, &crm__pipeline__v1__team_info__descriptor,
                                 crm_arena_allocator(crm_call_arena(call)), (void **)&t) != 0)
        return "";
    return t->name;
}

static const char *customer_name(crm_call_t *call, int64_t id)
{
    pipeline_t *pl = crm_call_ctx(call);
    customer_t *c;
    if (id <= 0 || crm_db_get_id(crm_call_txn(call), pl->customers, (uint64_t)id, &crm__pipeline__v1__customer__descriptor,
                                 crm_arena_allocator(crm_call_arena(call)), (void **)&c) != 0)
        return "";
    return c->name;
}

/* Record id of dbi into the call's arena; *out NULL when there is none (no
 * id, or not known yet). Returns 0, or -1 with a storage error set: a
 * record that cannot be read is not a name to leave out silently. */
static int read_named(crm_call_t *call, MDB_dbi dbi, int64_t id, const ProtobufCMessageDescriptor *desc, void **out)
{
    *out = NULL;
    if (id <= 0)
        return 0;
    int rc = crm_db_get_id(crm_call_txn(call), dbi, (uint64_t)id, desc, crm_arena_allocator(crm_call_arena(call)), out);
    if (rc == MDB_NOTFOUND) {
        *out = NULL;
        return 0;
    }
    return rc ? crm_call_fail_db(call, rc) : 0;
}

int pl_lead_names(crm_call_t *call, lead_t *l)
{
    /* customers are readable by everyone with sales access, users by every
     * user (ARCHITECTURE.md, Access rules): a name here tells no more */
    pipeline_t *pl = crm_call_ctx(call);
    customer_t *c;
    crm_userinfo_t *u;
    Crm__Pipeline__V1__TeamInfo *t;
    if (read_named(call, pl->customers, l->customer_id, &crm__pipeline__v1__customer__descriptor, (void **)&c) != 0 ||
        read_named(call, pl->readmodel.users, l->salesperson_id, &crm__common__v1__user_info__descriptor, (void **)&u) != 0 ||
        read_named(call, pl->teams, l->team_id, &crm__pipeline__v1__team_info__descriptor, (void **)&t) != 0)
        return -1;
    l->customer_name = c ? c->name : "";
    l->salesperson_name = u ? u->name : "";
    l->team_name = t ? t->name : "";
    return 0;
}

static const char *status_name(int status)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&crm__pipeline__v1__lead_status__descriptor, status);
    return v ? v->name : "";
}

typedef struct {
    change_t **items;
    size_t n;
} changes_t;

static void add_change(crm_call_t *call, changes_t *ch, const char *field, const char *oldv, const char *newv,
                       const char *oldl, const char *newl)
{
    change_t *c = crm_call_new(call, &crm__pipeline__v1__field_change__descriptor);
    c->field = (char *)field;
    c->old_value = crm_arena_strdup(crm_call_arena(call), oldv);
    c->new_value = crm_arena_strdup(crm_call_arena(call), newv);
    c->old_label = (char *)oldl;
    c->new_label = (char *)newl;
    ch->items[ch->n++] = c;
}

static void track_id(crm_call_t *call, changes_t *ch, const char *field, int64_t a, int64_t b,
                     const char *(*label)(crm_call_t *, int64_t))
{
    if (a == b)
        return;
    char x[24], y[24];
    snprintf(x, sizeof x, "%lld", (long long)a);
    snprintf(y, sizeof y, "%lld", (long long)b);
    add_change(call, ch, field, x, y, label(call, a), label(call, b));
}

static int emit_lead(crm_call_t *call, const char *type, lead_t *l, const lead_t *old)
{
    changes_t ch = {crm_arena_alloc(crm_call_arena(call), sizeof(change_t *) * 8), 0};
    if (old) {
        track_id(call, &ch, "stageId", old->stage_id, l->stage_id, stage_name);
        if (old->status != l->status)
            add_change(call, &ch, "status", status_name(old->status), status_name(l->status),
                       status_name(old->status), status_name(l->status));
        track_id(call, &ch, "salespersonId", old->salesperson_id, l->salesperson_id, pl_user_name);
        track_id(call, &ch, "teamId", old->team_id, l->team_id, team_name);
        track_id(call, &ch, "customerId", old->customer_id, l->customer_id, customer_name);
        if (old->expected_revenue != l->expected_revenue) {
            char x[24], y[24];
            snprintf(x, sizeof x, "%lld", (long long)old->expected_revenue);
            snprintf(y, sizeof y, "%lld", (long long)l->expected_revenue);
            add_change(call, &ch, "expectedRevenue", x, y, old->currency, l->currency);
        }
        if (old->probability != l->probability) {
            char x[8], y[8];
            snprintf(x, sizeof x, "%d", old->probability);
            snprintf(y, sizeof y, "%d", l->probability);
            add_change(call, &ch, "probability", x, y, "", "");
        }
    }
    Crm__Pipeline__V1__LeadEvent ev = CRM__PIPELINE__V1__LEAD_EVENT__INIT;
    ev.lead = l;
    ev.changes = ch.items;
    ev.n_changes = ch.n;
    ev.reason = l->assigned_by;
    if (crm_call_emit(call, type, &ev.base) != 0)
        return -1;
    /* after the event, which carries the lead as stored: names are the reply's */
    return pl_lead_names(call, l);
}

/* --- Create / Get / Update --------------------------------------------------- */

int pl_create_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__CreateLeadRequest *r = (const void *)in;
    lead_t *l = (lead_t *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    l->type = r->type;
    l->name = r->name;
    l->expected_revenue = r->expected_revenue;
    l->currency = r->currency;
    l->probability = r->probability;
    l->customer_id = r->customer_id;
    l->contact_name = r->contact_name;
    l->function = r->function;
    l->email = r->email;
    l->phone = r->phone;
    l->next_action = r->next_action;
    l->next_action_date = r->next_action_date;
    l->expected_closing = r->expected_closing;
    l->priority = r->priority ? r->priority : PRIO(NORMAL);
    l->tag_ids = r->tag_ids;
    l->n_tag_ids = r->n_tag_ids;
    l->team_id = r->team_id;
    l->salesperson_id = r->salesperson_id;
    l->referred_by = r->referred_by;
    l->internal_notes = r->internal_notes;
    l->company_name = r->company_name;
    l->created_by = crm_call_principal(call)->user_id;
    l->created_at = l->updated_at = crm_call_now(call);
    if (pl_lead_defaults(call, l, r->unassigned) != 0)
        return -1;
    /* a probability given with the lead is kept; else the stage's applies */
    if (check_lead(call, l, NULL, 1) != 0 || enter_stage(call, l, r->stage_id, r->probability != 0) != 0 ||
        pl_next_id(call, "lead", &l->id) != 0 || pl_assign_new_lead(call, l) != 0 ||
        pl_lead_save(call, NULL, l) != 0 || emit_lead(call, "lead.created", l, NULL) != 0)
        return -1;
    return pl_dup_fill_lead(call, l); /* after the event: never stored */
}

int pl_get_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    lead_t *l;
    if (crm_call_require_sales(call) != 0 || get_visible(call, ((const Crm__Pipeline__V1__GetLeadRequest *)in)->id, "id", &l) != 0)
        return -1;
    *(lead_t *)out = *l;
    if (pl_lead_names(call, (lead_t *)out) != 0)
        return -1;
    return pl_dup_fill_lead(call, (lead_t *)out);
}

int pl_update_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__UpdateLeadRequest *r = (const void *)in;
    static const char *const allowed[] = {
        "type", "name", "expected_revenue", "currency", "probability", "customer_id", "contact_name",
        "function", "email", "phone", "next_action", "next_action_date", "expected_closing", "priority",
        "tag_ids", "team_id", "salesperson_id", "referred_by", "internal_notes", "stage_id", "company_name", NULL};
    crm_status_t st;
    lead_t *old;
    if (crm_call_require_sales(call) != 0)
        return -1;
    if (crm_mask_check(&st, r->update_mask, allowed) != 0)
        return crm_call_fail_status(call, &st);
    if (get_visible(call, r->id, "id", &old) != 0)
        return -1;
    lead_t *l = (lead_t *)out;
    *l = *old;
    const Google__Protobuf__FieldMask *m = r->update_mask;
#define TAKE(f, name) if (crm_mask_has(m, name)) l->f = r->f
    TAKE(type, "type");
    TAKE(name, "name");
    TAKE(expected_revenue, "expected_revenue");
    TAKE(currency, "currency");
    TAKE(probability, "probability");
    TAKE(customer_id, "customer_id");
    TAKE(contact_name, "contact_name");
    TAKE(function, "function");
    TAKE(email, "email");
    TAKE(phone, "phone");
    TAKE(next_action, "next_action");
    TAKE(next_action_date, "next_action_date");
    TAKE(expected_closing, "expected_closing");
    TAKE(priority, "priority");
    TAKE(team_id, "team_id");
    TAKE(salesperson_id, "salesperson_id");
    TAKE(referred_by, "referred_by");
    TAKE(internal_notes, "internal_notes");
    TAKE(company_name, "company_name");
#undef TAKE
    if (crm_mask_has(m, "tag_ids")) {
        l->tag_ids = r->tag_ids;
        l->n_tag_ids = r->n_tag_ids;
    }
    if (l->priority == 0)
        l->priority = PRIO(NORMAL);
    if (check_lead(call, l, old, l->customer_id != old->customer_id) != 0)
        return -1;
    int keep_probability = crm_mask_has(m, "probability");
    if (crm_mask_has(m, "stage_id") && r->stage_id != old->stage_id) {
        if (enter_stage(call, l, r->stage_id, keep_probability) != 0)
            return -1;
    } else {
        /* a new team or type may leave the lead in a stage it can't be in */
        stage_t *s;
        if (pl_get(call, ((pipeline_t *)crm_call_ctx(call))->stages, l->stage_id,
                   &crm__pipeline__v1__stage__descriptor, "stageId", "stage", (void **)&s) != 0)
            return -1;
        if (!pl_stage_fits(s, l->team_id, l->type) && enter_stage(call, l, 0, keep_probability) != 0)
            return -1;
    }
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    return emit_lead(call, "lead.updated", l, old);
}

/* --- Convert / Won / Lost ------------------------------------------------------ */

static int refuse_closed(crm_call_t *call, const lead_t *l)
{
    if (l->status == STATUS(WON) || l->status == STATUS(LOST))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "lead %lld is already %s", (long long)l->id,
                             l->status == STATUS(WON) ? "won" : "lost");
    return 0;
}

/* Creates the customer (company, and the contact within it) from a lead's
 * own fields; returns the id the lead should point to, or 0 if the lead has
 * nothing to make one from. */
static int customer_from_lead(crm_call_t *call, const lead_t *l, int64_t *out)
{
    int64_t company = 0, contact = 0;
    *out = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *name = pass == 0 ? l->company_name : l->contact_name;
        if (!name[0])
            continue;
        customer_t *c = crm_call_new(call, &crm__pipeline__v1__customer__descriptor);
        c->name = (char *)name;
        c->is_company = pass == 0;
        c->parent_id = pass == 1 ? company : 0;
        c->email = pass == 1 || !l->contact_name[0] ? l->email : "";
        c->phone = l->phone;
        c->function = pass == 1 ? l->function : "";
        c->salesperson_id = l->salesperson_id;
        c->team_id = l->team_id;
        c->created_at = c->updated_at = crm_call_now(call);
        if (pl_next_id(call, "customer", &c->id) != 0 || pl_customer_save(call, NULL, c) != 0)
            return -1;
        Crm__Pipeline__V1__CustomerEvent ev = CRM__PIPELINE__V1__CUSTOMER_EVENT__INIT;
        ev.customer = c;
        if (crm_call_emit(call, "customer.created", &ev.base) != 0)
            return -1;
        *(pass == 0 ? &company : &contact) = c->id;
    }
    *out = contact ? contact : company;
    return 0;
}

int pl_convert_lead(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Pipeline__V1__ConvertLeadRequest *r = (const void *)in;
    lead_t *old;
    if (crm_call_require_sales(call) != 0 || get_visible(call, r->id, "id", &old) != 0 || refuse_closed(call, old) != 0)
        return -1;
    if (old->type == LTYPE(OPPORTUNITY))
        return crm_call_fail(call, CODE(FAILED_PRECONDITION), "id", "lead %lld is already an opportunity",
                             (long long)old->id);
    lead_t *l = (lead_t *)out;
    *l = *old;
    l->type = LTYPE(OPPORTUNITY);
    if (r->salesperson_id)
        l->salesperson_id = r->salesperson_id;
    if (r->team_id)
        l->team_id = r->team_id;
    int action = r->customer_action;
    if (action < 0 || action > CACTION(NONE))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "customerAction", "unknown customer action");
    if (action == CACTION(LINK)) {
        if (!r->customer_id)
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "customerId", "customerId is required to link");
        l->customer_id = r->customer_id;
    } else if (action != CACTION(NONE) && !l->customer_id) {
        if (action == CACTION(CREATE) && !l->company_name[0] && !l->contact_name[0])
            return crm_call_fail(call, CODE(FAILED_PRECONDITION), "customerAction",
                                 "the lead has no company or contact name to make a customer from");
        if (customer_from_lead(call, l, &l->customer_id) != 0)
            return -1;
    }
    if (check_lead(call, l, old, l->customer_id != old->customer_id) != 0)
        return -1;
    stage_t *s;
    pipeline_t *pl = crm_call_ctx(call);
    if (pl_get(call, pl->stages, l->stage_id, &crm__pipeline__v1__stage__descriptor, "stageId", "stage",
               (void **)&s) != 0)
        return -1;
    if (!pl_stage_fits(s, l->team_id, l->type) && enter_stage(call, l, 0, 0) != 0)
        return -1;
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    return emit_lead(call, "lead.converted", l, old);
}

/* Moves the lead to its team's won or lost stage; shared with MakeQuotation. */
int pl_close_lead(crm_call_t *call, lead_t *l, const lead_t *old, int status, int64_t lost_reason)
{
    stage_t *s;
    if (pl_first_stage(call, l->team_id, l->type, status, &s) != 0)
        return -1;
    l->lost_reason_id = lost_reason;
    if (enter_stage(call, l, s->id, 0) != 0)
        return -1;
    l->status = status;
    l->updated_at = crm_call_now(call);
    if (pl_lead_save(call, old, l) != 0)
        return -1;
    return emit_lead(call, status == STATUS(WON) ? "lead.won" : "lead.lost", l, old);
}

int pl_mark_won(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    lead_t *old;
    if (crm_call_require_sales(call) != 0 || get_visible(call, ((const Crm__Pipeline__V1__MarkWonRequest *)in)->id, "id", &old) != 0 ||
        refuse_closed(call, old) != 0)
        return -1;
    lead_t *l = (lead_t *)out;
    *l = *old;
    return pl_close_lead(call, l, old, STATUS(WON), 0);
}

int pl_mark_lost(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__MarkLostRequest *r = (const void *)in;
    lead_t *old;
    void *reason;
    if (crm_call_require_sales(call) != 0 || get_visible(call, r->id, "id", &old) != 0 || refuse_closed(call, old) != 0)
        return -1;
    if (r->lost_reason_id && pl_get(call, pl->lost_reasons, r->lost_reason_id, &crm__pipeline__v1__lost_reason__descriptor,
                                    "lostReasonId", "lost reason", &reason) != 0)
        return -1;
    lead_t *l = (lead_t *)out;
    *l = *old;
    return pl_close_lead(call, l, old, STATUS(LOST), r->lost_reason_id);
}

/* --- ListLeads ------------------------------------------------------------------------ */

/* Lead ids, newest first, from one index range (8-byte key prefix, then the
 * id) or from the leads themselves. */
typedef struct {
    MDB_cursor *cur;
    int prefixed;
    uint8_t prefix[8];
    int64_t head; /* next id to give; 0 = exhausted */
} source_t;

static int64_t key_id(const source_t *s, const MDB_val *k)
{
    size_t off = s->prefixed ? 8 : 0;
    if (k->mv_size != off + 8 || (s->prefixed && memcmp(k->mv_data, s->prefix, 8) != 0))
        return 0;
    return (int64_t)crm_key_get_u64((const uint8_t *)k->mv_data + off);
}

/* Positions at the greatest id below before. */
static int source_open(source_t *s, MDB_txn *txn, MDB_dbi dbi, int prefixed, int64_t prefix, int64_t before)
{
    memset(s, 0, sizeof *s);
    s->prefixed = prefixed;
    crm_key_put_u64(s->prefix, (uint64_t)prefix);
    int rc = mdb_cursor_open(txn, dbi, &s->cur);
    if (rc)
        return rc;
    uint8_t key[16];
    size_t len = 0;
    if (prefixed) {
        memcpy(key, s->prefix, 8);
        len = 8;
    }
    crm_key_put_u64(key + len, (uint64_t)before);
    len += 8;
    MDB_val k = {len, key}, d;
    rc = mdb_cursor_get(s->cur, &k, &d, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(s->cur, &k, &d, MDB_LAST);
    else if (rc == 0)
        rc = mdb_cursor_get(s->cur, &k, &d, MDB_PREV); /* the found key is >= before */
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    s->head = key_id(s, &k);
    return 0;
}

static int source_next(source_t *s)
{
    MDB_val k, d;
    int rc = mdb_cursor_get(s->cur, &k, &d, MDB_PREV);
    s->head = rc == 0 ? key_id(s, &k) : 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int contains_ci(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

int pl_lead_matches(crm_call_t *call, const Crm__Pipeline__V1__ListLeadsRequest *r, const lead_t *l)
{
    if (!crm_call_sees_lead(call, l->salesperson_id) || !pl_archive_filter_keeps(r->archived, l->archived))
        return 0;
    if ((r->type && pl_lead_type(l) != (int)r->type) || (r->stage_id && l->stage_id != r->stage_id) ||
        (r->team_id && l->team_id != r->team_id) || (r->salesperson_id && l->salesperson_id != r->salesperson_id) ||
        (r->customer_id && l->customer_id != r->customer_id))
        return 0;
    if (r->tag_id) {
        int found = 0;
        for (size_t i = 0; i < l->n_tag_ids && !found; i++)
            found = l->tag_ids[i] == r->tag_id;
        if (!found)
            return 0;
    }
    if (r->query[0])
        return contains_ci(l->name, r->query) || contains_ci(l->contact_name, r->query) ||
               contains_ci(l->email, r->query) || contains_ci(l->company_name, r->query) ||
               (l->customer_id && contains_ci(customer_name(call, l->customer_id), r->query));
    return 1;
}

int pl_list_leads(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    pipeline_t *pl = crm_call_ctx(call);
    const Crm__Pipeline__V1__ListLeadsRequest *r = (const void *)in;
    Crm__Pipeline__V1__ListLeadsReply *reply = (void *)out;
    if (crm_call_require_sales(call) != 0)
        return -1;
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 50, 500, &size, &after) != 0)
        return -1;
    if (r->type < 0 || r->type > LTYPE(OPPORTUNITY))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "type", "unknown lead type");
    if (pl_check_text(call, "query", r->query, 0, 256) != 0 || pl_check_archive_filter(call, r->archived) != 0)
        return -1;
    int64_t before = after ? (int64_t)after : INT64_MAX;
    MDB_txn *txn = crm_call_txn(call);
    /* the narrowest index the filters allow; the rest is checked per lead */
    source_t src[2];
    int n_src = 1, rc;
    if (r->stage_id)
        rc = source_open(&src[0], txn, pl->by_stage, 1, r->stage_id, before);
    else if (r->customer_id)
        rc = source_open(&src[0], txn, pl->by_customer, 1, r->customer_id, before);
    else if (r->salesperson_id)
        rc = source_open(&src[0], txn, pl->by_salesperson, 1, r->salesperson_id, before);
    else if (r->tag_id)
        rc = source_open(&src[0], txn, pl->by_tag, 1, r->tag_id, before);
    else if (crm_call_own_leads_only(call)) {
        n_src = 2;
        rc = source_open(&src[0], txn, pl->by_salesperson, 1, crm_call_principal(call)->user_id, before);
        if (rc == 0)
            rc = source_open(&src[1], txn, pl->by_salesperson, 1, 0, before);
        else
            src[1].cur = NULL;
    } else if (r->team_id)
        rc = source_open(&src[0], txn, pl->by_team, 1, r->team_id, before);
    else
        rc = source_open(&src[0], txn, pl->leads, 0, 0, before);
    reply->leads = crm_arena_alloc(crm_call_arena(call), sizeof *reply->leads * size);
    int more = 0;
    /* a filter that matches little must not read the whole store in one call:
     * past the budget the page ends early, and its token resumes the scan */
    int64_t scanned = 0, last_scanned = 0;
    while (rc == 0) {
        int pick = n_src == 2 && src[1].head > src[0].head ? 1 : 0;
        int64_t id = src[pick].head;
        if (!id)
            break;
        if (++scanned > PL_SCAN_MAX) {
            more = 1;
            break;
        }
        last_scanned = id;
        lead_t *l;
        rc = crm_db_get_id(txn, pl->leads, (uint64_t)id, &crm__pipeline__v1__lead__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)&l);
        if (rc)
            break;
        if (pl_lead_matches(call, r, l)) {
            if (reply->n_leads == size) {
                more = 1;
                break;
            }
            reply->leads[reply->n_leads++] = l;
        }
        rc = source_next(&src[pick]);
    }
    for (int i = 0; i < n_src; i++)
        if (src[i].cur)
            mdb_cursor_close(src[i].cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    for (size_t i = 0; i < reply->n_leads; i++)
        if (pl_lead_names(call, reply->leads[i]) != 0)
            return -1;
    if (more)
        reply->next_page_token =
            crm_call_page_token(call, (uint64_t)(scanned > PL_SCAN_MAX ? last_scanned : reply->leads[reply->n_leads - 1]->id));
    return 0;
}

/* --- shared with archive.c ----------------------------------------------------- */

int pl_lead_get_visible(crm_call_t *call, int64_t id, const char *field, lead_t **out)
{
    return get_visible(call, id, field, out);
}

int pl_lead_enter_stage(crm_call_t *call, lead_t *l, int64_t stage_id, int keep_probability)
{
    return enter_stage(call, l, stage_id, keep_probability);
}

int pl_lead_emit(crm_call_t *call, const char *type, lead_t *l, const lead_t *old)
{
    return emit_lead(call, type, l, old);
}
