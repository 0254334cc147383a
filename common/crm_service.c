#include "crm_service.h"
#include "crm_curve.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_publisher.h"
#include "crm_zloop.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Where each backend listens unless told otherwise: its RPC door on port,
 * its events on port + 1 and their replay on port + 2 (notifications' live
 * stream is on port + 1, by a flag of its own). Producers and consumers both
 * take their defaults from here, so they agree. */
static const struct {
    const char *name;
    int port;
} backends[] = {{"identity", 5601}, {"pipeline", 5611}, {"activities", 5621}, {"notifications", 5631}};

/* data-dir, rpc, events, replay, heartbeat-ms, outbox-keep-seconds,
 * commit-window-us, curve-dir, and two for each producer consumed */
#define SHARED_FLAGS (8 + 2 * CRM_SERVICE_MAX_CONSUMES)
#define MAX_FLAGS (SHARED_FLAGS + CRM_SERVICE_MAX_FLAGS)
#define MAX_TEXTS (5 * SHARED_FLAGS) /* a name, variable, default and help a flag, and a few more */
#define MAX_TIMERS 4

typedef struct {
    ev_timer watcher;
    void (*fn)(void *ctx);
    void *ctx;
} every_t;

struct crm_service {
    const crm_service_def_t *def;
    int configured;
    struct ev_loop *loop;
    void *zctx;
    int curve;
    crm_store_t *store;
    crm_outbox_t *outbox;
    crm_consumer_t *consumers[CRM_SERVICE_MAX_CONSUMES];
    size_t n_consumers;
    crm_publisher_t *publisher;
    crm_rpc_server_t *rpc;
    every_t timers[MAX_TIMERS];
    int n_timers;
    /* the shared flags' values */
    const char *data_dir, *rpc_ep, *events_ep, *replay_ep, *curve_dir;
    const char *consumed_events[CRM_SERVICE_MAX_CONSUMES], *consumed_replay[CRM_SERVICE_MAX_CONSUMES];
    int64_t heartbeat_ms, outbox_keep_s, window_us;
    /* the shared flags' names, variables, defaults and help, made from the
     * service's name */
    char text[MAX_TEXTS][72];
    size_t n_text;
};

struct ev_loop *crm_service_loop(crm_service_t *svc) { return svc->loop; }
void *crm_service_zctx(crm_service_t *svc) { return svc->zctx; }
crm_rpc_server_t *crm_service_rpc(crm_service_t *svc) { return svc->rpc; }
const char *crm_service_data_dir(crm_service_t *svc) { return svc->data_dir; }
int crm_service_heartbeat_ms(crm_service_t *svc) { return (int)svc->heartbeat_ms; }

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    every_t *t = w->data;
    t->fn(t->ctx);
}

int crm_service_every(crm_service_t *svc, double after, double every, void (*fn)(void *ctx))
{
    if (svc->n_timers == MAX_TIMERS) {
        crm_error("%s: a service has %d timers at most", svc->def->name, MAX_TIMERS);
        return -1;
    }
    every_t *t = &svc->timers[svc->n_timers++];
    *t = (every_t){.fn = fn, .ctx = svc->def->ctx};
    ev_timer_init(&t->watcher, on_timer, after, every);
    t->watcher.data = t;
    ev_timer_start(svc->loop, &t->watcher);
    return 0;
}

static size_t n_consumes(const crm_service_def_t *def)
{
    size_t n = 0;
    while (n < CRM_SERVICE_MAX_CONSUMES && def->consumes[n].producer)
        n++;
    return n;
}

/* --- flags ------------------------------------------------------------------- */

static int backend_port(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (!strcmp(backends[i].name, name))
            return backends[i].port;
    return -1;
}

/* A text kept as long as the service (flags point into it). The table is
 * sized for every shared flag; a longer text is cut. */
static const char *text(crm_service_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *text(crm_service_t *self, const char *fmt, ...)
{
    if (self->n_text == MAX_TEXTS) {
        crm_error("crm_service: MAX_TEXTS is too small for the shared flags");
        abort();
    }
    char *out = self->text[self->n_text++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, sizeof self->text[0], fmt, ap);
    va_end(ap);
    return out;
}

/* "CRM_ACTIVITIES_EVENTS" from "activities", "EVENTS" */
static const char *variable(crm_service_t *self, const char *name, const char *what)
{
    char *out = (char *)text(self, "CRM_%s_%s", name, what);
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return out;
}

/* "identity's ", "activities' " */
static const char *whose(crm_service_t *self, const char *name)
{
    size_t len = strlen(name);
    return text(self, len && name[len - 1] == 's' ? "%s' " : "%s's ", name);
}

/* The flags of an endpoint pair: a producer's (prefix "") or those by which
 * a consumer finds it (prefix "identity-"). */
static void endpoint_flags(crm_service_t *self, crm_opt_t *opts, size_t *n, const char *prefix,
                           const char *producer, int port, const char **events, const char **replay)
{
    const char *who = *prefix ? whose(self, producer) : "", *bind = *prefix ? "" : " (bind)";
    opts[(*n)++] = (crm_opt_t){text(self, "%sevents", prefix), variable(self, producer, "EVENTS"), CRM_OPT_STRING,
                               events, text(self, "tcp://127.0.0.1:%d", port + 1),
                               text(self, "%sevent PUB endpoint%s", who, bind)};
    opts[(*n)++] = (crm_opt_t){text(self, "%sreplay", prefix), variable(self, producer, "REPLAY"), CRM_OPT_STRING,
                               replay, text(self, "tcp://127.0.0.1:%d", port + 2),
                               text(self, "%sevent replay endpoint%s", who, bind)};
}

/* Reads the shared flags and def's. Returns 0, or -1 (said why). */
static int parse_flags(crm_service_t *self, int argc, char **argv)
{
    const crm_service_def_t *def = self->def;
    int port = backend_port(def->name);
    if (port < 0) {
        crm_error("no endpoints are known for a service named \"%s\" (crm_service.c's backends)", def->name);
        return -1;
    }
    crm_opt_t opts[MAX_FLAGS];
    size_t n = 0;
    opts[n++] = (crm_opt_t){"data-dir", variable(self, def->name, "DATA"), CRM_OPT_STRING, &self->data_dir,
                            text(self, "./data/%s", def->name), "LMDB folder"};
    opts[n++] = (crm_opt_t){"rpc", variable(self, def->name, "RPC"), CRM_OPT_STRING, &self->rpc_ep,
                            text(self, "tcp://127.0.0.1:%d", port), "RPC endpoint (bind)"};
    if (def->outbox)
        endpoint_flags(self, opts, &n, "", def->name, port, &self->events_ep, &self->replay_ep);
    for (size_t i = 0; i < n_consumes(def); i++) {
        const char *producer = def->consumes[i].producer;
        int producer_port = backend_port(producer);
        if (producer_port < 0) {
            crm_error("%s consumes \"%s\", which is no known producer", def->name, producer);
            return -1;
        }
        endpoint_flags(self, opts, &n, text(self, "%s-", producer), producer, producer_port,
                       &self->consumed_events[i], &self->consumed_replay[i]);
    }
    for (size_t i = 0; i < CRM_SERVICE_MAX_FLAGS && def->flags[i].flag; i++)
        opts[n++] = def->flags[i];
    opts[n++] = (crm_opt_t){"heartbeat-ms", "CRM_HEARTBEAT_MS", CRM_OPT_INT, &self->heartbeat_ms, "500",
                            "heartbeat interval of what it publishes (events, live stream)"};
    if (def->outbox)
        opts[n++] = (crm_opt_t){"outbox-keep-seconds", "CRM_OUTBOX_KEEP_SECONDS", CRM_OPT_INT, &self->outbox_keep_s,
                                "604800",
                                "events every consumer has applied are pruned after this (7 days; 0: kept for ever)"};
    if (n_consumes(def))
        opts[n++] = (crm_opt_t){"commit-window-us", "CRM_COMMIT_WINDOW_US", CRM_OPT_INT, &self->window_us,
                                CRM_STR(CRM_CONSUMER_WINDOW_US),
                                "events that come this soon after a commit wait and go in one transaction "
                                "(0: at once)"};
    opts[n++] = (crm_opt_t){"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &self->curve_dir, "",
                            "CurveZMQ keys (crmctl keygen); empty: plain"};
    if (crm_config_parse(opts, n, argc, argv, text(self, "crm-%s [flags]", def->name)) != 0)
        return -1;
    if (self->heartbeat_ms <= 0) /* as before the skeleton: 0 keeps the default */
        self->heartbeat_ms = 500;
    if (self->heartbeat_ms > 3600000) {
        crm_error("--heartbeat-ms must be at most 3600000");
        return -1;
    }
    if (n_consumes(def) && crm_consumer_set_window(self->window_us) != 0) {
        crm_error("--commit-window-us must be 0 to %d", CRM_CONSUMER_WINDOW_MAX_US);
        return -1;
    }
    return 0;
}

/* --- start and teardown ---------------------------------------------------- */

/* The store with def's DBIs, plus the outbox's for a producer, and the outbox. */
static int open_store(crm_service_t *self)
{
    const crm_service_def_t *def = self->def;
    crm_store_dbi_t dbis[CRM_SERVICE_MAX_DBIS + 1];
    size_t n = 0;
    while (n < CRM_SERVICE_MAX_DBIS && def->dbis[n].name) {
        dbis[n] = def->dbis[n];
        n++;
    }
    MDB_dbi outbox_dbi;
    if (def->outbox)
        dbis[n++] = (crm_store_dbi_t){"outbox", 0, &outbox_dbi};
    const char *err;
    if (!(self->store = crm_store_open(self->data_dir, dbis, n, def->schema, 0, &err)))
        return -1; /* logged, with the folder */
    if (def->store)
        *def->store = self->store;
    if (def->upgrade) {
        if (def->upgrade(self->store, def->ctx) != 0)
            return -1; /* logged by the service */
    } else {
        /* nothing of this service's records changed shape: a newer schema
         * needs no rewrite, and no stale "from" may stay for a later one */
        uint64_t from = 0;
        int rc = crm_store_upgrade_from(self->store, &from);
        if (rc == 0 && from)
            rc = crm_store_upgrade_done(self->store);
        if (rc) {
            crm_error("ending the store's upgrade in %s: %s", self->data_dir, mdb_strerror(rc));
            return -1;
        }
    }
    if (def->outbox) {
        self->outbox = crm_outbox_new(def->name, outbox_dbi);
        /* its events tell what it had applied of others' */
        if (n_consumes(def))
            crm_outbox_set_after(self->outbox, crm_consumer_positions, NULL);
        *def->outbox = self->outbox;
    }
    return 0;
}

/* Consumers, publisher and RPC server. */
static int open_sockets(crm_service_t *self)
{
    const crm_service_def_t *def = self->def;
    for (size_t i = 0; i < n_consumes(def); i++) {
        const crm_service_consumes_t *c = &def->consumes[i];
        crm_consumer_t *k = crm_consumer_new(self->loop, self->zctx, self->store, c->producer, self->consumed_events[i],
                                             self->consumed_replay[i], c->apply, def->ctx);
        if (!k) {
            crm_error("consuming %s's events (%s, replay %s) failed", c->producer, self->consumed_events[i],
                      self->consumed_replay[i]);
            return -1;
        }
        self->consumers[self->n_consumers++] = k;
    }
    if (def->outbox) {
        self->publisher = crm_publisher_new(self->loop, self->zctx, self->store, self->outbox, self->events_ep,
                                            self->replay_ep, (int)self->heartbeat_ms);
        if (!self->publisher) {
            crm_error("publishing events on %s (replay %s) failed", self->events_ep, self->replay_ep);
            return -1;
        }
        crm_publisher_set_retention(self->publisher, self->outbox_keep_s > 0 ? self->outbox_keep_s * 1000000 : 0);
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "crm.%s.v1.", def->name);
    /* bound last (in start), once all it serves is ready */
    self->rpc = crm_rpc_server_new(self->loop, self->zctx, def->name, NULL, self->store, crm_limit_service(prefix));
    if (!self->rpc) {
        crm_error("serving RPC on %s failed", self->rpc_ep);
        return -1;
    }
    if (self->publisher)
        crm_rpc_server_set_publisher(self->rpc, self->publisher);
    for (size_t i = 0; i < self->n_consumers; i++)
        crm_rpc_server_hold_for(self->rpc, self->consumers[i]);
    for (size_t i = 0; i < CRM_SERVICE_MAX_APIS && def->apis[i].desc; i++)
        if (crm_rpc_server_add(self->rpc, &def->apis[i], def->ctx) != 0) {
            crm_error("%s cannot serve %s (said above why), so it does not start", def->name,
                      def->apis[i].desc->name);
            return -1;
        }
    return 0;
}

/* Everything up to the loop. Returns 0 or the exit status. */
static int start(crm_service_t *self, int argc, char **argv)
{
    const crm_service_def_t *def = self->def;
    crm_log_init(def->name);
    if (parse_flags(self, argc, argv) != 0)
        return 2;
    if (def->configure && def->configure(def->ctx) != 0)
        return 2;
    self->configured = 1;
    if (sodium_init() < 0) {
        crm_error("libsodium failed to initialise");
        return 1;
    }
    if (open_store(self) != 0)
        return 1;
    if (!(self->loop = EV_DEFAULT)) {
        crm_error("no libev loop (LIBEV_FLAGS?)");
        return 1;
    }
    if (!(self->zctx = zmq_ctx_new())) {
        crm_error("no ZeroMQ context: %s", zmq_strerror(errno));
        return 1;
    }
    self->curve = 1;
    if (crm_curve_configure(self->zctx, self->loop, self->curve_dir, def->name) != 0)
        return 1;
    if (open_sockets(self) != 0)
        return 1;
    if (def->start && def->start(self, def->ctx) != 0)
        return 1;
    if (crm_rpc_server_listen(self->rpc, self->rpc_ep) != 0) {
        crm_error("serving RPC on %s failed", self->rpc_ep);
        return 1;
    }
    /* events of a previous run that were committed but never published */
    if (self->publisher)
        crm_publisher_flush(self->publisher);
    if (def->outbox)
        crm_info("serving on %s, events on %s (replay %s), data in %s", self->rpc_ep, self->events_ep, self->replay_ep,
                 self->data_dir);
    else
        crm_info("serving on %s, data in %s", self->rpc_ep, self->data_dir);
    return 0;
}

/* The reverse of start, from wherever it stopped. */
static void teardown(crm_service_t *self)
{
    const crm_service_def_t *def = self->def;
    while (self->n_timers)
        ev_timer_stop(self->loop, &self->timers[--self->n_timers].watcher);
    if (self->configured && def->stop)
        def->stop(self, def->ctx);
    crm_rpc_server_destroy(&self->rpc);
    crm_publisher_destroy(&self->publisher);
    while (self->n_consumers)
        crm_consumer_destroy(&self->consumers[--self->n_consumers]);
    if (self->curve)
        crm_curve_shutdown();
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    crm_outbox_destroy(&self->outbox);
    crm_store_close(&self->store);
    if (def->outbox)
        *def->outbox = NULL;
    if (def->store)
        *def->store = NULL;
}

int crm_service_main(const crm_service_def_t *def, int argc, char **argv)
{
    crm_service_t *self = crm_calloc(1, sizeof *self);
    self->def = def;
    int status = start(self, argc, argv);
    if (status == 0)
        crm_loop_run(self->loop);
    teardown(self);
    free(self);
    return status;
}
