#include "crm_outbox.h"
#include "crm_mem.h"
#include "crm_store.h"
#include "crm_time.h"

#include <string.h>

#define CRM_OUTBOX_MAX_AFTER 16 /* as many as a process has consumers */

struct crm_outbox {
    char *producer;
    MDB_dbi dbi;
    crm_outbox_after_fn *after;
    void *after_arg;
};

crm_outbox_t *crm_outbox_new(const char *producer, MDB_dbi dbi)
{
    crm_outbox_t *self = crm_calloc(1, sizeof *self);
    self->producer = crm_strdup(producer);
    self->dbi = dbi;
    return self;
}

void crm_outbox_set_after(crm_outbox_t *self, crm_outbox_after_fn *fn, void *arg)
{
    self->after = fn;
    self->after_arg = arg;
}

void crm_outbox_destroy(crm_outbox_t **self_p)
{
    if (!*self_p)
        return;
    free((*self_p)->producer);
    free(*self_p);
    *self_p = NULL;
}

const char *crm_outbox_producer(const crm_outbox_t *self) { return self->producer; }
MDB_dbi crm_outbox_dbi(const crm_outbox_t *self) { return self->dbi; }

/* The sequence at one end of the outbox (op: MDB_FIRST or MDB_LAST); 0 if
 * it is empty. */
static int edge(crm_outbox_t *self, MDB_txn *txn, MDB_cursor_op op, uint64_t *seq)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi, &cur);
    if (rc)
        return rc;
    MDB_val k, d;
    rc = mdb_cursor_get(cur, &k, &d, op);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (k.mv_size != 8)
        return MDB_CORRUPTED;
    *seq = crm_key_get_u64(k.mv_data);
    return 0;
}

int crm_outbox_last(crm_outbox_t *self, MDB_txn *txn, uint64_t *seq) { return edge(self, txn, MDB_LAST, seq); }

int crm_outbox_append(crm_outbox_t *self, MDB_txn *txn, const char *type, int64_t actor_id,
                      const ProtobufCMessage *payload, uint64_t *seq_out)
{
    uint64_t seq;
    int rc = crm_outbox_last(self, txn, &seq);
    if (rc)
        return rc;
    seq++;

    size_t plen = payload ? protobuf_c_message_get_packed_size(payload) : 0;
    uint8_t *pbuf = crm_malloc(plen);
    if (payload)
        protobuf_c_message_pack(payload, pbuf);

    Crm__Events__V1__Event ev = CRM__EVENTS__V1__EVENT__INIT;
    ev.producer = self->producer;
    ev.seq = seq;
    ev.at = crm_time_now_us();
    ev.type = (char *)type;
    ev.actor_id = actor_id;
    ev.payload.data = pbuf;
    ev.payload.len = plen;
    Crm__Events__V1__Cursor after[CRM_OUTBOX_MAX_AFTER], *after_ptrs[CRM_OUTBOX_MAX_AFTER];
    if (self->after) {
        ev.n_after = self->after(self->after_arg, after, CRM_OUTBOX_MAX_AFTER);
        for (size_t i = 0; i < ev.n_after; i++)
            after_ptrs[i] = &after[i];
        ev.after = after_ptrs;
    }

    uint8_t key[8];
    crm_key_put_u64(key, seq);
    MDB_val k = {8, key}, d = {crm__events__v1__event__get_packed_size(&ev), NULL};
    /* reserve then pack in place: one copy fewer */
    rc = mdb_put(txn, self->dbi, &k, &d, MDB_APPEND | MDB_RESERVE);
    if (rc == 0)
        crm__events__v1__event__pack(&ev, d.mv_data);
    free(pbuf);
    if (rc == 0 && seq_out)
        *seq_out = seq;
    return rc;
}

int crm_outbox_read(crm_outbox_t *self, MDB_txn *txn, uint64_t from_seq, size_t max,
                    size_t max_bytes, crm_outbox_each_fn *fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi, &cur);
    if (rc)
        return rc;
    uint8_t key[8];
    crm_key_put_u64(key, from_seq);
    MDB_val k = {8, key}, d;
    size_t count = 0, bytes = 0;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && count < max && (count == 0 || bytes + d.mv_size <= max_bytes)) {
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (fn(arg, crm_key_get_u64(k.mv_data), d.mv_data, d.mv_size) != 0)
            break;
        count++;
        bytes += d.mv_size;
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int crm_outbox_first(crm_outbox_t *self, MDB_txn *txn, uint64_t *seq) { return edge(self, txn, MDB_FIRST, seq); }

int crm_outbox_prune(crm_outbox_t *self, MDB_txn *txn, uint64_t upto_seq, int64_t before_at, size_t max,
                     size_t *deleted)
{
    uint64_t last;
    int rc = crm_outbox_last(self, txn, &last);
    if (rc)
        return rc;
    if (upto_seq >= last)
        upto_seq = last - (last > 0); /* the newest stays */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, self->dbi, &cur)) != 0)
        return rc;
    MDB_val k, d;
    *deleted = 0;
    /* LMDB's MDB_NEXT after a delete gives the record that followed the
     * deleted one */
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && *deleted < max;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 8 || crm_key_get_u64(k.mv_data) > upto_seq)
            break;
        Crm__Events__V1__Event *ev = crm__events__v1__event__unpack(NULL, d.mv_size, d.mv_data);
        int64_t at = ev ? ev->at : 0;
        if (ev)
            crm__events__v1__event__free_unpacked(ev, NULL);
        if (at >= before_at)
            break; /* newer ones follow: sequences go with time */
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        ++*deleted;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
