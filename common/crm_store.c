#include "crm_store.h"
#include "crm_log.h"
#include "crm_mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>

#define STORE_DEFAULT_MAP ((size_t)64 << 20)
#define STORE_WRITE_RETRIES 8
#define UPGRADE_FROM "upgrade_from"    /* meta: the version an unfinished upgrade started from */
#define UPGRADE_PREFIX "upgrade."      /* meta: a rewrite's last key done ("" once finished) */

struct crm_store {
    MDB_env *env;
    MDB_dbi meta;
    MDB_txn *read_txn; /* reset, ready for renew */
};

static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path)
        return -1;
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

typedef struct {
    crm_store_t *store;
    const crm_store_dbi_t *dbis;
    size_t n;
    uint32_t version;
    const char **err;
} open_ctx_t;

static int open_dbis(MDB_txn *txn, void *arg)
{
    open_ctx_t *c = arg;
    int rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &c->store->meta);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n; i++) {
        rc = mdb_dbi_open(txn, c->dbis[i].name, MDB_CREATE | c->dbis[i].flags, c->dbis[i].dbi);
        if (rc)
            return rc;
    }
    uint64_t have = 0;
    rc = crm_store_meta_get_u64(c->store, txn, "schema_version", &have);
    if (rc)
        return rc;
    if (have > c->version) {
        *c->err = "the store was written by a newer version of this service";
        return MDB_INCOMPATIBLE;
    }
    if (have == c->version)
        return 0;
    /* in the transaction that stamps the new version, so that an upgrade cut
     * short is taken up again on the next start; kept from the first step
     * when several versions are skipped */
    if (have > 0) {
        uint64_t pending;
        if ((rc = crm_store_meta_get_u64(c->store, txn, UPGRADE_FROM, &pending)) != 0)
            return rc;
        if (!pending && (rc = crm_store_meta_put_u64(c->store, txn, UPGRADE_FROM, have)) != 0)
            return rc;
    }
    return crm_store_meta_put_u64(c->store, txn, "schema_version", c->version);
}

crm_store_t *crm_store_open(const char *dir, const crm_store_dbi_t *dbis, size_t n_dbis,
                            uint32_t schema_version, size_t map_size, const char **err)
{
    crm_store_t *self = crm_calloc(1, sizeof *self);
    int rc;
    *err = NULL;
    if (mkdir_p(dir) != 0) {
        *err = "cannot create the data folder";
        goto fail;
    }
    if ((rc = mdb_env_create(&self->env)) != 0)
        goto fail_rc;
    if ((rc = mdb_env_set_maxdbs(self->env, (MDB_dbi)n_dbis + 2)) != 0)
        goto fail_rc;
    /* a reopened store keeps its grown size: never shrink below the file */
    if ((rc = mdb_env_set_mapsize(self->env, map_size ? map_size : STORE_DEFAULT_MAP)) != 0)
        goto fail_rc;
    if ((rc = mdb_env_open(self->env, dir, MDB_NOTLS, 0640)) != 0)
        goto fail_rc;
    MDB_envinfo info;
    if ((rc = mdb_env_info(self->env, &info)) != 0)
        goto fail_rc;
    open_ctx_t ctx = {self, dbis, n_dbis, schema_version, err};
    if ((rc = crm_store_write(self, open_dbis, &ctx)) != 0)
        goto fail_rc;
    return self;
fail_rc:
    if (!*err)
        *err = mdb_strerror(rc);
fail:
    crm_error("store %s: %s", dir, *err);
    if (self->env)
        mdb_env_close(self->env);
    free(self);
    return NULL;
}

void crm_store_close(crm_store_t **self_p)
{
    crm_store_t *self = *self_p;
    if (!self)
        return;
    if (self->read_txn)
        mdb_txn_abort(self->read_txn);
    mdb_env_close(self->env);
    free(self);
    *self_p = NULL;
}

int crm_store_disk_full(crm_store_t *self)
{
    const char *path;
    struct statvfs fs;
    if (mdb_env_get_path(self->env, &path) != 0 || statvfs(path, &fs) != 0)
        return 0;
    return (uint64_t)fs.f_bavail * fs.f_frsize < (1u << 20);
}

MDB_env *crm_store_env(crm_store_t *self) { return self->env; }
MDB_dbi crm_store_meta(crm_store_t *self) { return self->meta; }

size_t crm_store_map_size(crm_store_t *self)
{
    MDB_envinfo info;
    if (mdb_env_info(self->env, &info) != 0)
        return 0;
    return info.me_mapsize;
}

static int grow(crm_store_t *self)
{
    /* mdb_env_set_mapsize needs no transaction open in this process */
    if (self->read_txn) {
        mdb_txn_abort(self->read_txn);
        self->read_txn = NULL;
    }
    size_t size = crm_store_map_size(self) * 2;
    int rc = mdb_env_set_mapsize(self->env, size);
    if (rc == 0)
        crm_info("store map grown to %zu KiB", size >> 10);
    return rc;
}

int crm_store_write(crm_store_t *self, crm_store_write_fn *fn, void *arg)
{
    for (int attempt = 0; attempt < STORE_WRITE_RETRIES; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {
            if ((rc = mdb_env_set_mapsize(self->env, 0)) != 0)
                return rc;
            continue;
        }
        if (rc)
            return rc;
        rc = fn(txn, arg);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc != MDB_MAP_FULL)
            return rc;
        if ((rc = grow(self)) != 0)
            return rc;
    }
    return MDB_MAP_FULL;
}

int crm_store_read_begin(crm_store_t *self, MDB_txn **txn)
{
    if (self->read_txn) {
        MDB_txn *t = self->read_txn;
        self->read_txn = NULL;
        int rc = mdb_txn_renew(t);
        if (rc == 0) {
            *txn = t;
            return 0;
        }
        mdb_txn_abort(t);
    }
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(self->env, 0)) == 0)
        rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
    return rc;
}

void crm_store_read_end(crm_store_t *self, MDB_txn *txn)
{
    if (self->read_txn) {
        mdb_txn_abort(txn);
        return;
    }
    mdb_txn_reset(txn);
    self->read_txn = txn;
}

int crm_store_meta_get_u64(crm_store_t *self, MDB_txn *txn, const char *key, uint64_t *v)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(txn, self->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (d.mv_size != 8)
        return MDB_CORRUPTED;
    *v = crm_key_get_u64(d.mv_data);
    return 0;
}

int crm_store_meta_put_u64(crm_store_t *self, MDB_txn *txn, const char *key, uint64_t v)
{
    uint8_t buf[8];
    crm_key_put_u64(buf, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, buf};
    return mdb_put(txn, self->meta, &k, &d, 0);
}

static void counter_key(char *key, size_t cap, const char *counter) { snprintf(key, cap, "next.%s", counter); }

int crm_store_counter_get(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t *last)
{
    char key[96];
    counter_key(key, sizeof key, counter);
    return crm_store_meta_get_u64(self, txn, key, last);
}

int crm_store_counter_put(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t last)
{
    char key[96];
    counter_key(key, sizeof key, counter);
    return crm_store_meta_put_u64(self, txn, key, last);
}

int crm_store_next_id(crm_store_t *self, MDB_txn *txn, const char *counter, uint64_t *id)
{
    uint64_t v;
    int rc = crm_store_counter_get(self, txn, counter, &v);
    if (rc)
        return rc;
    *id = v + 1;
    return crm_store_counter_put(self, txn, counter, *id);
}

int crm_db_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessage *m)
{
    MDB_val k = {klen, (void *)key}, d = {protobuf_c_message_get_packed_size(m), NULL};
    int rc = mdb_put(txn, dbi, &k, &d, MDB_RESERVE);
    if (rc == 0)
        protobuf_c_message_pack(m, d.mv_data);
    return rc;
}

int crm_db_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc, void **out)
{
    MDB_val k = {klen, (void *)key}, d;
    int rc = mdb_get(txn, dbi, &k, &d);
    if (rc)
        return rc;
    *out = protobuf_c_message_unpack(desc, alloc, d.mv_size, d.mv_data);
    return *out ? 0 : MDB_CORRUPTED;
}

int crm_db_put_id(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessage *m)
{
    uint8_t key[8];
    crm_key_put_u64(key, id);
    return crm_db_put_msg(txn, dbi, key, 8, m);
}

int crm_db_get_id(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const ProtobufCMessageDescriptor *desc,
                  ProtobufCAllocator *alloc, void **out)
{
    uint8_t key[8];
    crm_key_put_u64(key, id);
    return crm_db_get_msg(txn, dbi, key, 8, desc, alloc, out);
}

/* --- upgrades --------------------------------------------------------------- */

int crm_store_upgrade_from(crm_store_t *self, uint64_t *from)
{
    MDB_txn *txn;
    int rc = crm_store_read_begin(self, &txn);
    if (rc)
        return rc;
    rc = crm_store_meta_get_u64(self, txn, UPGRADE_FROM, from);
    crm_store_read_end(self, txn);
    return rc;
}

typedef struct {
    crm_store_t *store;
    MDB_dbi dbi;
    char progress[96];          /* meta key */
    crm_store_rewrite_fn *fn;
    void *arg;
    size_t batch;
    int finished;
} rewrite_t;

/* One batch: the records after the last key done, each copied out before fn
 * may write the table. */
static int rewrite_batch(MDB_txn *txn, void *arg)
{
    rewrite_t *r = arg;
    r->finished = 0;
    MDB_dbi meta = r->store->meta;
    MDB_val pk = {strlen(r->progress), r->progress}, last;
    int rc = mdb_get(txn, meta, &pk, &last);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    int started = rc == 0;
    if (started && last.mv_size == 0) {
        r->finished = 1;
        return 0;
    }
    uint8_t *after = NULL;
    size_t after_len = 0;
    if (started) {
        after = crm_malloc(last.mv_size);
        memcpy(after, last.mv_data, last.mv_size);
        after_len = last.mv_size;
    }
    for (size_t i = 0; i < r->batch; i++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, r->dbi, &cur)) != 0)
            break;
        MDB_val k = {after_len, after}, d;
        rc = after ? mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &d, MDB_FIRST);
        if (rc == 0 && after && k.mv_size == after_len && !memcmp(k.mv_data, after, after_len))
            rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
        uint8_t *key = NULL, *data = NULL;
        if (rc == 0) {
            key = crm_malloc(k.mv_size ? k.mv_size : 1);
            data = crm_malloc(d.mv_size ? d.mv_size : 1);
            memcpy(key, k.mv_data, k.mv_size);
            memcpy(data, d.mv_data, d.mv_size);
        }
        mdb_cursor_close(cur);
        if (rc) {
            free(key);
            free(data);
            break;
        }
        MDB_val kc = {k.mv_size, key}, dc = {d.mv_size, data};
        rc = r->fn(txn, &kc, &dc, r->arg);
        free(data);
        free(after);
        after = key;
        after_len = kc.mv_size;
        /* a record fn could not find must not pass for the table's end */
        if (rc == MDB_NOTFOUND)
            rc = MDB_CORRUPTED;
        if (rc)
            break;
    }
    if (rc == MDB_NOTFOUND) {
        r->finished = 1;
        after_len = 0; /* the mark of a finished rewrite */
        rc = 0;
    }
    if (rc == 0) {
        MDB_val d = {after_len, after};
        rc = mdb_put(txn, meta, &pk, &d, 0);
    }
    free(after);
    return rc;
}

int crm_store_rewrite(crm_store_t *self, MDB_dbi dbi, const char *name, crm_store_rewrite_fn *fn, void *arg,
                      size_t batch)
{
    rewrite_t r = {self, dbi, "", fn, arg, batch ? batch : 1, 0};
    snprintf(r.progress, sizeof r.progress, UPGRADE_PREFIX "%s", name);
    while (!r.finished) {
        int rc = crm_store_write(self, rewrite_batch, &r);
        if (rc)
            return rc;
    }
    return 0;
}

static int upgrade_done(MDB_txn *txn, void *arg)
{
    crm_store_t *self = arg;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->meta, &cur);
    if (rc)
        return rc;
    size_t plen = strlen(UPGRADE_PREFIX);
    MDB_val k = {plen, UPGRADE_PREFIX}, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size < plen || memcmp(k.mv_data, UPGRADE_PREFIX, plen) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    MDB_val key = {strlen(UPGRADE_FROM), UPGRADE_FROM};
    rc = mdb_del(txn, self->meta, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int crm_store_upgrade_done(crm_store_t *self) { return crm_store_write(self, upgrade_done, self); }
