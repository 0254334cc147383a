/* Meetings in the inbox: attendees are told when they are invited
 * (scheduled or added), when the meeting moves or is cancelled, and when
 * they are taken off it; the organiser when an attendee answers. Followers
 * of the meeting's document hear of each change through its chatter message
 * already (events.c), so ntf_deliver_to skips them. */
#include "notifications.h"
#include "activities.pb-c.h"
#include "crm_consumer.h"
#include "crm_tracking.h"

#include <string.h>

#define ANSWER(x) CRM__ACTIVITIES__V1__MEETING_ANSWER__MEETING_ANSWER_##x

typedef Crm__Activities__V1__Meeting meeting_t;

static int attends(const meeting_t *m, int64_t user)
{
    for (size_t i = 0; m && i < m->n_attendee_ids; i++)
        if (m->attendee_ids[i] == user)
            return 1;
    return 0;
}

/* The attendees of a who are (in 1) or are not (in 0) attendees of b. */
static size_t attendees_of(crm_arena_t *arena, const meeting_t *a, const meeting_t *b, int in, int64_t **out)
{
    size_t n = 0;
    *out = crm_arena_alloc(arena, sizeof **out * (a->n_attendee_ids + 1));
    for (size_t i = 0; i < a->n_attendee_ids; i++)
        if (attends(b, a->attendee_ids[i]) == in)
            (*out)[n++] = a->attendee_ids[i];
    return n;
}

static const char *when(crm_arena_t *arena, const meeting_t *m)
{
    char at[40];
    crm_format_time(at, sizeof at, m->start_at);
    return crm_arena_printf(arena, "%s", at);
}

static int tell(notifications_t *n, MDB_txn *txn, ntf_change_t *c, const char *summary, const int64_t *users,
                size_t n_users, int *told)
{
    if (!n_users)
        return 0;
    c->summary = summary;
    *told = 1;
    return ntf_deliver_to(n, txn, c, SUBTYPE(CALL), users, n_users);
}

static const char *answer_verb(int answer)
{
    return answer == ANSWER(ACCEPTED)   ? "accepted"
           : answer == ANSWER(DECLINED) ? "declined"
                                        : "tentatively accepted";
}

int ntf_apply_meeting_event(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    crm_arena_t *arena = n->apply_arena;
    Crm__Activities__V1__MeetingEvent *e =
        crm__activities__v1__meeting_event__unpack(crm_arena_allocator(arena), ev->payload.len, ev->payload.data);
    if (!e || !e->meeting || e->meeting->id <= 0)
        return CRM_CONSUMER_UNCHANGED;
    const meeting_t *m = e->meeting, *old = e->old;
    ntf_change_t c = {.subtypes = 1u << SUBTYPE(CALL), .ev = ev};
    if (m->doc && crm_doc_model(m->doc->model) && m->doc->id > 0) {
        c.model = crm_doc_model(m->doc->model);
        c.doc_id = m->doc->id;
    }
    int64_t *users;
    size_t n_users;
    int told = 0, rc = 0;
    if (!strcmp(ev->type, "meeting.scheduled")) {
        n_users = attendees_of(arena, m, NULL, 0, &users);
        rc = tell(n, txn, &c, crm_arena_printf(arena, "Invited to %s, %s", m->title, when(arena, m)), users,
                  n_users, &told);
    } else if (!strcmp(ev->type, "meeting.updated") && old) {
        n_users = attendees_of(arena, m, old, 0, &users);
        rc = tell(n, txn, &c, crm_arena_printf(arena, "Invited to %s, %s", m->title, when(arena, m)), users,
                  n_users, &told);
        n_users = attendees_of(arena, old, m, 0, &users);
        if (rc == 0)
            rc = tell(n, txn, &c, crm_arena_printf(arena, "No longer invited to %s", m->title), users, n_users,
                      &told);
        const char *summary = NULL;
        if (m->start_at != old->start_at || m->end_at != old->end_at)
            summary = crm_arena_printf(arena, "Meeting moved to %s: %s", when(arena, m), m->title);
        else if (strcmp(m->location, old->location))
            summary = crm_arena_printf(arena, "Meeting %s now at %s", m->title, *m->location ? m->location : "no place given");
        n_users = attendees_of(arena, m, old, 1, &users);
        if (rc == 0 && summary)
            rc = tell(n, txn, &c, summary, users, n_users, &told);
    } else if (!strcmp(ev->type, "meeting.cancelled")) {
        n_users = attendees_of(arena, m, NULL, 0, &users);
        rc = tell(n, txn, &c, crm_arena_printf(arena, "Meeting cancelled: %s, %s", m->title, when(arena, m)),
                  users, n_users, &told);
    } else if (!strcmp(ev->type, "meeting.answered") && e->answered_by) {
        int answer = 0;
        for (size_t i = 0; i < m->n_attendees; i++)
            if (m->attendees[i]->user_id == e->answered_by)
                answer = m->attendees[i]->answer;
        crm_userinfo_t *u = crm_readmodel_user(&n->readmodel, txn, arena, e->answered_by);
        rc = tell(n, txn, &c,
                  crm_arena_printf(arena, "%s %s: %s", u && *u->name ? u->name : "An attendee", answer_verb(answer),
                                   m->title),
                  &m->organizer_id, 1, &told);
    }
    if (rc)
        return rc;
    return told ? 0 : CRM_CONSUMER_UNCHANGED;
}
