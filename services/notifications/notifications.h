#ifndef NOTIFICATIONS_H
#define NOTIFICATIONS_H

#include <stdint.h>
#include <ev.h>
#include "crm_access.h"
#include "crm_arena.h"
#include "crm_readmodel.h"
#include "crm_rpc_server.h"
#include "crm_store.h"
#include "events.pb-c.h"
#include "notifications.pb-c.h"

/* The notifications service: followers of each document with the subtypes
 * they want, every user's inbox, and the live stream of inbox entries.
 * Entries are written from other services' events in the transaction that
 * moves the consumer's cursor, so each exists exactly once. */

#define NOTIFICATIONS_SCHEMA 2
/* The first schema whose documents and users are crm.common.v1 records, a
 * document's stream counter in doc_streams (schema 1 kept it in its record,
 * moved there on upgrade). */
#define NOTIFICATIONS_SCHEMA_READMODEL 2

typedef Crm__Notifications__V1__Notification notification_t;
typedef Crm__Notifications__V1__InboxState inbox_state_t;
typedef Crm__Notifications__V1__FollowerRecord follower_rec_t;
typedef Crm__Common__V1__DocRef doc_t;

#define SUBTYPE(x) CRM__NOTIFICATIONS__V1__SUBTYPE__SUBTYPE_##x
#define SUBTYPE_MAX SUBTYPE(ACTIVITY)
#define ALL_SUBTYPES (((1u << (SUBTYPE_MAX + 1)) - 1) & ~1u)

enum { NTF_LEAD = CRM_DOC_LEAD, NTF_CUSTOMER = CRM_DOC_CUSTOMER, NTF_QUOTATION = CRM_DOC_QUOTATION };

typedef struct ntf_stream ntf_stream_t;

typedef struct {
    crm_store_t *store;
    crm_arena_t *apply_arena; /* for one consumed event at a time */
    crm_readmodel_t readmodel; /* docs: model, id → DocInfo; users: id → UserInfo */
    MDB_dbi doc_streams; /* model, id → entries published under "doc.<model>.<id>" (u64) */
    MDB_dbi state;     /* user → InboxState */
    MDB_dbi followers; /* model, id, user → FollowerRecord */
    MDB_dbi inbox;     /* entry id → InboxEntry */
    MDB_dbi by_user;   /* user, entry id → read flag (1 byte) */
    int64_t keep_read_us;  /* read entries older than this go (0: kept for ever) */
    uint64_t sweep_from;   /* the entry id the next retention pass starts at */
} notifications_t;

/* Deletes read entries older than cutoff (Unix us), reading at most max
 * entries from where the last pass stopped; *deleted gets how many went.
 * Entries are numbered in time order, so a pass stops at the first entry
 * newer than cutoff and the next starts over. Unread entries are kept.
 * Returns an LMDB code. */
int ntf_sweep_read(notifications_t *n, MDB_txn *txn, int64_t cutoff, size_t max, size_t *deleted);
/* One retention pass in a write transaction of its own (logged). */
void ntf_retention_pass(notifications_t *n);

/* --- documents, users and access (access.c) ------------------------------ */

#define NTF_DOC_KEY CRM_DOC_KEY /* model, id */
#define NTF_FOLLOWER_KEY 17 /* model, id, user */
#define NTF_USER_KEY 16     /* user, entry id */
void ntf_follower_key(uint8_t out[NTF_FOLLOWER_KEY], int model, int64_t id, int64_t user);
void ntf_user_key(uint8_t out[NTF_USER_KEY], int64_t user, int64_t entry);

/* The user's inbox state; a user never seen has the defaults. Returns an LMDB code. */
int ntf_state_get(notifications_t *n, MDB_txn *txn, crm_arena_t *arena, int64_t user, inbox_state_t **out);

/* The entries published under the document's topic so far (0: none), and
 * storing it. Return LMDB codes. */
int ntf_doc_stream_get(notifications_t *n, MDB_txn *txn, int model, int64_t id, uint64_t *seq);
int ntf_doc_stream_put(notifications_t *n, MDB_txn *txn, int model, int64_t id, uint64_t seq);

/* Checks that the caller has sales access and may read doc (not_found
 * otherwise, so another salesperson's lead cannot be told from none).
 * Returns the model and fills *owner, or -1 with the call's error set. */
int ntf_check_doc(crm_call_t *call, const doc_t *doc, crm_doc_owner_t *owner);

/* --- followers (followers.c) ------------------------------------------------ */

/* Makes user follow the document with every subtype, unless they already
 * do or switched auto-follow off. Returns an LMDB code. */
int ntf_auto_follow(notifications_t *n, MDB_txn *txn, int model, int64_t id, int64_t user, int64_t now);

/* --- inbox (inbox.c) ------------------------------------------------------------ */

/* What one event tells the followers of a document. */
typedef struct {
    int model;
    int64_t doc_id;
    unsigned subtypes;   /* bits of every subtype the event matches */
    int headline;        /* the subtype that says it best, if a follower wants it (0: none) */
    const char *summary;
    int64_t message_id;
    const Crm__Events__V1__Event *ev; /* at, actor (never told), type */
} ntf_change_t;

/* Writes one inbox entry for each follower who wants one of the change's
 * subtypes and may read the document, except its author. Returns an LMDB
 * code. */
int ntf_deliver(notifications_t *n, MDB_txn *txn, const ntf_change_t *change);
/* Writes one inbox entry of subtype to each of users (active ones) other
 * than the change's author, whether they follow the document or not: those
 * who follow it with one of the change's subtypes and read it are skipped
 * (they are told by the chatter message, through ntf_deliver). An entry
 * names the document (model 0: none) only to a user who may read it.
 * Returns an LMDB code. */
int ntf_deliver_to(notifications_t *n, MDB_txn *txn, const ntf_change_t *change, int subtype, const int64_t *users,
                   size_t n_users);

/* --- events (events.c) ------------------------------------------------------------- */

int ntf_apply_pipeline_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);
/* Applies pipeline's lead.merged (merge.c): the merged leads' followers
 * follow the destination, the read model drops them, and the destination's
 * followers are told, within txn. Returns 0, CRM_CONSUMER_UNCHANGED or an
 * LMDB code. */
int ntf_apply_merge(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev);
int ntf_apply_activities_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);
int ntf_apply_identity_event(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev);
/* What attendees and organisers of meetings are told of meeting.* events,
 * in their inboxes (meetings.c). Returns an LMDB code or
 * CRM_CONSUMER_UNCHANGED. */
int ntf_apply_meeting_event(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev);

/* --- archive, restore, reopen, delete (lifecycle.c) ------------------------------ */

/* 1 if a pipeline event of type is one ntf_apply_lifecycle applies. */
int ntf_is_lifecycle_event(const char *type);
/* Tells the document's followers of an archive, restore or reopen
 * (SUBTYPE_STATUS_CHANGED); forgets a deleted document's followers. kept
 * is the read model's verdict on the event. Returns 0,
 * CRM_CONSUMER_UNCHANGED or an LMDB code. */
int ntf_apply_lifecycle(notifications_t *n, MDB_txn *txn, const Crm__Events__V1__Event *ev, int kept);

/* --- live stream (stream.c) ------------------------------------------------------- */

/* Binds a PUB socket that publishes every committed inbox entry under
 * "user.<id>" and "doc.<model>.<id>", and heartbeats. NULL on error (logged). */
ntf_stream_t *ntf_stream_new(struct ev_loop *loop, void *zctx, notifications_t *n, const char *endpoint,
                             int heartbeat_ms);
void ntf_stream_destroy(ntf_stream_t **self_p);
/* Publishes the entries committed since the last flush. Can't fail: what
 * cannot be read now goes with a later flush. */
void ntf_stream_flush(void *self);
/* The last entry published. */
uint64_t ntf_stream_head(void *self);

/* Handlers. */
int ntf_follow(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_unfollow(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_list_followers(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_list_inbox(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_mark_read(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_mark_all_read(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_unread_count(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_get_preferences(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int ntf_update_preferences(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

#endif
