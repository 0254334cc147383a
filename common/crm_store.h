#ifndef CRM_STORE_H
#define CRM_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>

/* One LMDB environment per service (see ARCHITECTURE.md, Stores): named DBIs, a "meta" DBI
 * holding the schema version and id counters, durable (fsync'd) commits, and
 * a map that grows by itself when a write hits MDB_MAP_FULL. Single-threaded:
 * one write transaction at a time, read transactions reused. */
typedef struct crm_store crm_store_t;

typedef struct {
    const char *name;   /* DBI name */
    unsigned flags;     /* extra mdb_dbi_open flags (MDB_DUPSORT, ...) */
    MDB_dbi *dbi;       /* filled by crm_store_open */
} crm_store_dbi_t;

/* Opens (creating the folder and the environment if needed) the store in
 * dir with the given DBIs plus "meta". map_size is the initial map size in
 * bytes (0: 64 MiB). A store written by a newer schema than schema_version is
 * refused. Returns NULL on error, with the reason in *err (static text or
 * mdb_strerror) and errno-like details logged. */
crm_store_t *crm_store_open(const char *dir, const crm_store_dbi_t *dbis, size_t n_dbis,
                            uint32_t schema_version, size_t map_size, const char **err);

/* Upgrades. Opening a store of an older schema stamps the new version at
 * once (the older program then refuses it) and notes the version it came
 * from in meta until crm_store_upgrade_done, so that an upgrade cut short
 * resumes on the next start. */

/* The version an unfinished upgrade started from, or 0 (none: a new store,
 * or one already upgraded). Returns an LMDB code. */
int crm_store_upgrade_from(crm_store_t *self, uint64_t *from);

/* Calls fn(txn, key, data, arg) on every record of dbi in key order, at most
 * batch records a durable transaction; key and data are copies, so fn may
 * rewrite or delete the record in txn. The last key done is kept in meta
 * under "upgrade.<name>", so a rewrite cut short goes on where it stopped,
 * and one finished is not done again. fn returns an LMDB code; any but 0
 * stops the rewrite (its batch is rolled back). Returns an LMDB code. */
typedef int (crm_store_rewrite_fn)(MDB_txn *txn, const MDB_val *key, const MDB_val *data, void *arg);
int crm_store_rewrite(crm_store_t *self, MDB_dbi dbi, const char *name, crm_store_rewrite_fn *fn, void *arg,
                      size_t batch);

/* Ends the upgrade: forgets the version it came from and every rewrite's
 * progress, in one transaction. Returns an LMDB code. */
int crm_store_upgrade_done(crm_store_t *self);

/* Closes the environment; sets *self_p to NULL. */
void crm_store_close(crm_store_t **self_p);

MDB_env *crm_store_env(crm_store_t *self);
MDB_dbi crm_store_meta(crm_store_t *self);

/* The current map size in bytes. */
size_t crm_store_map_size(crm_store_t *self);

/* 1 if the filesystem under the store has less than 1 MiB left (a commit
 * that failed with EIO then failed for room: LMDB reports a short write as
 * EIO); 0 otherwise, or if it cannot tell. */
int crm_store_disk_full(crm_store_t *self);

/* Runs fn(txn, arg) in a write transaction and commits durably. fn returns
 * an LMDB code: 0 commits, MDB_MAP_FULL makes the store double its map and
 * run fn again in a fresh transaction (so fn must only change state through
 * txn, or be safe to repeat), anything else aborts. Returns 0 or the LMDB
 * code that ended it. */
typedef int (crm_store_write_fn)(MDB_txn *txn, void *arg);
int crm_store_write(crm_store_t *self, crm_store_write_fn *fn, void *arg);

/* Begins a read-only transaction (reusing a reset one). Returns an LMDB
 * code. End it with crm_store_read_end. */
int crm_store_read_begin(crm_store_t *self, MDB_txn **txn);
void crm_store_read_end(crm_store_t *self, MDB_txn *txn);

/* The next value of the named counter in meta (1, 2, ...), within txn.
 * Returns an LMDB code. */
int crm_store_next_id(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t *id);

/* The named counter's last value given (0: none yet), and setting it: for a
 * writer that numbers many records in one transaction and stores the
 * counter once. Return LMDB codes. */
int crm_store_counter_get(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t *last);
int crm_store_counter_put(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t last);

/* Reads / writes a u64 stored under a meta key. A missing key reads as 0.
 * Return LMDB codes. */
int crm_store_meta_get_u64(crm_store_t *self, MDB_txn *txn, const char *key, uint64_t *v);
int crm_store_meta_put_u64(crm_store_t *self, MDB_txn *txn, const char *key, uint64_t v);

/* Stores message m packed under key (packed in place, no copy). Returns an
 * LMDB code. */
int crm_db_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessage *m);

/* Reads the message of type desc under key, decoded with alloc. Returns 0,
 * MDB_NOTFOUND, MDB_CORRUPTED when the bytes do not decode, or another LMDB
 * code. */
int crm_db_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, void **out);

/* The same with an 8-byte big-endian id key. */
int crm_db_put_id(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessage *m);
int crm_db_get_id(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessageDescriptor *desc,
                  ProtobufCAllocator *alloc, void **out);

/* Big-endian keys, so that LMDB's byte order is numeric order. */
static inline void crm_key_put_u64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}
static inline uint64_t crm_key_get_u64(const void *in)
{
    const uint8_t *p = in;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
