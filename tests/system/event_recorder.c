/* event-recorder: a test consumer of one producer's events. It applies each
 * event by counting it under its sequence in its own LMDB store, in the same
 * transaction as the cursor (crm_consumer), so a test can kill it at any
 * moment and check afterwards that every event was applied exactly once.
 *   event-recorder --data-dir D --events E --replay R   consume
 *   event-recorder --data-dir D --dump                  print the tally */
#include "crm_config.h"
#include "crm_consumer.h"
#include "crm_log.h"
#include "crm_store.h"

#include <signal.h>
#include <stdio.h>
#include <zmq.h>

static MDB_dbi applied;

static int apply(void *arg, MDB_txn *txn, const Crm__Events__V1__Event *ev)
{
    uint8_t key[8], val[8];
    crm_key_put_u64(key, ev->seq);
    MDB_val k = {8, key}, d;
    uint64_t count = 0;
    int rc = mdb_get(txn, applied, &k, &d);
    if (rc == 0 && d.mv_size == 8)
        count = crm_key_get_u64(d.mv_data);
    else if (rc != MDB_NOTFOUND)
        return rc;
    crm_key_put_u64(val, count + 1);
    MDB_val v = {8, val};
    return mdb_put(txn, applied, &k, &v, 0);
}

static int dump(crm_store_t *store)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    if (crm_store_read_begin(store, &txn) != 0 || mdb_cursor_open(txn, applied, &cur) != 0)
        return 1;
    MDB_val k, d;
    uint64_t n = 0, max = 0, dups = 0, gaps = 0, expect = 1, cursor = 0;
    for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        uint64_t seq = crm_key_get_u64(k.mv_data), count = crm_key_get_u64(d.mv_data);
        n++;
        if (count != 1)
            dups++;
        if (seq != expect)
            gaps++;
        expect = seq + 1;
        max = seq;
    }
    mdb_cursor_close(cur);
    crm_store_meta_get_u64(store, txn, "cursor.identity", &cursor);
    crm_store_read_end(store, txn);
    printf("applied=%llu max=%llu dups=%llu gaps=%llu cursor=%llu\n", (unsigned long long)n,
           (unsigned long long)max, (unsigned long long)dups, (unsigned long long)gaps,
           (unsigned long long)cursor);
    return 0;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) { ev_break(loop, EVBREAK_ALL); }

int main(int argc, char **argv)
{
    const char *dir, *events, *replay;
    int dump_only;
    const crm_opt_t opts[] = {
        {"data-dir", NULL, CRM_OPT_STRING, &dir, "./data/recorder", "LMDB folder"},
        {"events", NULL, CRM_OPT_STRING, &events, "tcp://127.0.0.1:5602", "producer's PUB"},
        {"replay", NULL, CRM_OPT_STRING, &replay, "tcp://127.0.0.1:5603", "producer's replay"},
        {"dump", NULL, CRM_OPT_BOOL, &dump_only, "false", "print the tally and exit"},
    };
    crm_log_init("recorder");
    if (crm_config_parse(opts, 4, argc, argv, "event-recorder [flags]") != 0)
        return 2;
    const crm_store_dbi_t dbis[] = {{"applied", 0, &applied}};
    const char *err;
    crm_store_t *store = crm_store_open(dir, dbis, 1, 1, 0, &err);
    if (!store)
        return 1;
    if (dump_only) {
        int rc = dump(store);
        crm_store_close(&store);
        return rc;
    }
    struct ev_loop *loop = EV_DEFAULT;
    void *zctx = zmq_ctx_new();
    crm_consumer_t *c = crm_consumer_new(loop, zctx, store, "identity", events, replay, apply, NULL);
    if (!c)
        return 1;
    ev_signal sigterm;
    ev_signal_init(&sigterm, on_signal, SIGTERM);
    ev_signal_start(loop, &sigterm);
    ev_run(loop, 0);
    crm_consumer_destroy(&c);
    zmq_ctx_term(zctx);
    crm_store_close(&store);
    return 0;
}
