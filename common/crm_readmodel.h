#ifndef CRM_READMODEL_H
#define CRM_READMODEL_H

#include <stdint.h>
#include <lmdb.h>
#include "common.pb-c.h"
#include "crm_arena.h"
#include "crm_store.h"
#include "events.pb-c.h"

/* What a service keeps of other services' data to decide access on its own
 * (ARCHITECTURE.md, Read models): pipeline's documents and whose they are,
 * identity's users and their levels, fed by their events, and the one rule
 * of who reads which document (Access rules). Activities and notifications keep both
 * parts; pipeline, which owns the documents, keeps the users. */

typedef Crm__Common__V1__DocInfo crm_docinfo_t;
typedef Crm__Common__V1__UserInfo crm_userinfo_t;

/* The tables a service keeps, in its own store. */
typedef struct {
    int keeps_docs;  /* 0: pipeline's events are not kept here */
    MDB_dbi docs;    /* model, id (CRM_DOC_KEY bytes) → DocInfo */
    MDB_dbi users;   /* id (8 bytes) → UserInfo */
} crm_readmodel_t;

#define CRM_DOC_KEY 9 /* model (1 byte), id (8, big-endian) */
void crm_doc_key(uint8_t out[CRM_DOC_KEY], int model, int64_t id);

/* --- applying events ------------------------------------------------------ */

/* Applies one of identity's (user.created, user.updated) or pipeline's
 * (lead.*, customer.*, quotation.*) events within txn, decoding it in arena;
 * lead.deleted and customer.deleted drop the document's record, lead.merged
 * drops the records of the leads merged away.
 * Returns 0 when a record was written, CRM_CONSUMER_UNCHANGED when nothing
 * changed (an event of another type, a malformed payload, or a record equal
 * to the one kept), or an LMDB code. Comparing with the record kept is a
 * verdict on the event alone in the sense crm_consumer.h asks: these tables
 * are written by nothing but this applier, in each producer's order, so an
 * event applied again after a crash meets what it met the first time. */
int crm_readmodel_apply(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena,
                        const Crm__Events__V1__Event *ev);

/* --- reading ---------------------------------------------------------------- */

/* The document's record, decoded in arena: 0, MDB_NOTFOUND or another LMDB
 * code (MDB_CORRUPTED when it does not decode). */
int crm_readmodel_doc(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id,
                      crm_docinfo_t **out);

/* The user's record decoded in arena, or NULL if unknown (or unreadable). */
crm_userinfo_t *crm_readmodel_user(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int64_t id);

/* --- who reads what --------------------------------------------------------- */

/* Whose a document is, for the access rule, read once. A quotation counts
 * as its opportunity; one made from none, or from an opportunity not known
 * here, is open to everyone but own-leads users. */
typedef struct {
    int model;              /* CRM_DOC_LEAD, CRM_DOC_CUSTOMER, or CRM_DOC_QUOTATION for such an orphan */
    int64_t salesperson_id; /* a lead's or a customer's; 0: nobody */
} crm_doc_owner_t;

/* The owner of the document (model, id): 0, MDB_NOTFOUND (unknown here)
 * or another LMDB code. */
int crm_readmodel_owner(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model, int64_t id,
                        crm_doc_owner_t *out);
/* The same from the document's record d, already read. */
int crm_readmodel_owner_of(const crm_readmodel_t *rm, MDB_txn *txn, crm_arena_t *arena, int model,
                           const crm_docinfo_t *d, crm_doc_owner_t *out);

/* 1 if a user of sales level `level` (a SalesAccess value) and id user_id
 * may read a document of owner o, else 0. Can't fail. */
int crm_level_reads(int level, int64_t user_id, const crm_doc_owner_t *o);

/* A user's sales level as access decides it: an administrator counts as a
 * manager; an unknown (NULL) or inactive user has none. Can't fail. */
int crm_readmodel_user_level(const crm_userinfo_t *u);

/* crm_level_reads for a user as identity's events describe them. */
int crm_readmodel_user_reads(const crm_userinfo_t *u, const crm_doc_owner_t *o);

/* --- upgrading a store -------------------------------------------------------- */

/* How a service's tables were laid out before they held these records. */
typedef struct {
    uint64_t since;       /* the service's first schema with these records */
    int users_schema1;    /* users held pipeline's UserInfoSchema1, an
                           * administrator's level raised to manager */
    int has_doc_streams;  /* docs held notifications' count of entries
                           * published under the document's topic (field 5) */
    MDB_dbi doc_streams;  /* where that count goes: model, id → big-endian u64 */
} crm_readmodel_layout_t;

/* The read model's step of upgrading a store whose schema is older than
 * old->since, run on start before any event is applied, as the service's
 * last upgrade step: users and docs are rewritten to these records record
 * by record (pipeline's users: is_admin stays unset and the level the one
 * kept, manager for an administrator, so access is decided as before until
 * identity's next event on them; notifications' docs: the count moves to
 * doc_streams), or, their layout being the same, checked to decode; then
 * the upgrade is ended (crm_store_upgrade_done). Bounded transactions,
 * resumed where they stopped after a crash. Nothing to do for a new or
 * upgraded store. Returns 0 or an LMDB code (logged; MDB_CORRUPTED for a
 * record that does not decode). */
int crm_readmodel_upgrade(const crm_readmodel_t *rm, crm_store_t *store, const crm_readmodel_layout_t *old);

#endif
