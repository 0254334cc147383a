/* crm-gateway: the front doors (ZeroMQ and HTTP/Twirp) of every service.
 * Wiring, top to bottom: flags, routes to services, identity's events, the
 * notification stream, doors, loop. No store of its own. */
#include "gateway.h"
#include "realip.h"
#include "stream.h"
#include "crm_config.h"
#include "crm_curve.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_zloop.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_services.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents) { gw_session_sweep(w->data); }

/* Every stream client holds a socket: take all the descriptors the hard
 * limit allows (the soft default, 1024, is not even a thousand clients). */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        crm_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    if (rl.rlim_cur == rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        crm_warn("setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)rl.rlim_max, strerror(errno));
}

static int add_route(gateway_t *gw, const ProtobufCServiceDescriptor *desc, const char *backend,
                     crm_rpc_client_t *client)
{
    gw->routes[gw->n_routes++] = (gw_route_t){desc, backend, client};
    return 0;
}

int main(int argc, char **argv)
{
    const char *curve_dir, *trusted_proxies, *zmq_ep, *http_addr, *identity_rpc, *identity_events, *pipeline_rpc, *activities_rpc,
        *notifications_rpc, *notifications_stream;
    int64_t http_port, deadline_ms, max_body, cache_ms, rate, sse_buffer, sse_max_clients, sse_backfills, per_address,
        held, held_per_address, held_per_session;
    const crm_opt_t opts[] = {
        {"zmq", "CRM_GATEWAY_ZMQ", CRM_OPT_STRING, &zmq_ep, "tcp://127.0.0.1:5555", "ZeroMQ front door (bind)"},
        {"http-address", "CRM_HTTP_ADDRESS", CRM_OPT_STRING, &http_addr, "127.0.0.1", "HTTP listen address"},
        {"http-port", "CRM_HTTP_PORT", CRM_OPT_INT, &http_port, "8080", "HTTP port"},
        {"identity-rpc", "CRM_IDENTITY_RPC", CRM_OPT_STRING, &identity_rpc, "tcp://127.0.0.1:5601", "identity's RPC endpoint"},
        {"pipeline-rpc", "CRM_PIPELINE_RPC", CRM_OPT_STRING, &pipeline_rpc, "tcp://127.0.0.1:5611", "pipeline's RPC endpoint"},
        {"activities-rpc", "CRM_ACTIVITIES_RPC", CRM_OPT_STRING, &activities_rpc, "tcp://127.0.0.1:5621", "activities' RPC endpoint"},
        {"notifications-rpc", "CRM_NOTIFICATIONS_RPC", CRM_OPT_STRING, &notifications_rpc, "tcp://127.0.0.1:5631", "notifications' RPC endpoint"},
        {"identity-events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &identity_events, "tcp://127.0.0.1:5602", "identity's event endpoint"},
        {"notifications-stream", "CRM_NOTIFICATIONS_STREAM", CRM_OPT_STRING, &notifications_stream, "tcp://127.0.0.1:5632", "notifications' live stream (for GET /v1/stream)"},
        {"sse-buffer", "CRM_SSE_BUFFER", CRM_OPT_INT, &sse_buffer, "262144", "bytes of notifications held for one stream client; a client further behind catches up from the inbox, or is dropped if it stops reading"},
        {"sse-max-clients", "CRM_SSE_MAX_CLIENTS", CRM_OPT_INT, &sse_max_clients, "10000", "streams open at once (GET /v1/stream)"},
        {"sse-backfills", "CRM_SSE_BACKFILLS", CRM_OPT_INT, &sse_backfills, "16",
         "ListInbox calls streams make at once to catch up after a gap (the others wait their turn)"},
        {"deadline-ms", "CRM_DEADLINE_MS", CRM_OPT_INT, &deadline_ms, "5000", "deadline of each call"},
        {"max-body", "CRM_MAX_BODY", CRM_OPT_INT, &max_body, "16777216",
         "no method takes a body larger than this, whatever the limits table allows (bytes)"},
        {"http-per-address", "CRM_HTTP_PER_ADDRESS", CRM_OPT_INT, &per_address, "256",
         "HTTP connections one IP address may hold open"},
        {"trusted-proxies", "CRM_TRUSTED_PROXIES", CRM_OPT_STRING, &trusted_proxies, "",
         "reverse proxies (CIDR,…) whose X-Forwarded-For names the client's address; empty: none"},
        {"max-in-flight", "CRM_MAX_IN_FLIGHT", CRM_OPT_INT, &held, "268435456",
         "bytes of request bodies and unread replies the gateway holds at most"},
        {"max-in-flight-per-address", "CRM_MAX_IN_FLIGHT_PER_ADDRESS", CRM_OPT_INT, &held_per_address, "67108864",
         "bytes of request bodies and unread replies held for one IP address at most"},
        {"max-in-flight-per-session", "CRM_MAX_IN_FLIGHT_PER_SESSION", CRM_OPT_INT, &held_per_session, "67108864",
         "bytes of request bodies and unread replies held for one session (a token's calls from any address) at most"},
        {"rate-per-session", "CRM_RATE_PER_SESSION", CRM_OPT_INT, &rate, "2000", "calls a second per session (0: no limit)"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
        {"session-cache-ms", "CRM_SESSION_CACHE_MS", CRM_OPT_INT, &cache_ms, "10000", "how long a principal is trusted without asking identity"},
    };
    crm_log_init("gateway");
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-gateway [flags]") != 0)
        return 2;
    if (sodium_init() < 0 || http_port <= 0 || http_port > 65535 || max_body <= 0 || deadline_ms <= 0) {
        crm_error("bad configuration (http port, max body or deadline) or libsodium failure");
        return 2;
    }
    int64_t largest = crm_limit_json(crm_limit_service(""));
    if (per_address <= 0 || held_per_address < largest || held_per_session < largest || held < held_per_address ||
        held < held_per_session) {
        crm_error("bad configuration: --http-per-address must be positive, --max-in-flight-per-address and "
                  "--max-in-flight-per-session at least the largest body (%lld), --max-in-flight at least both",
                  (long long)largest);
        return 2;
    }
    if (sse_buffer < 1024 || sse_max_clients < 0 || sse_max_clients > 1000000 || sse_backfills < 1 ||
        sse_backfills > 10000) {
        crm_error("bad configuration: --sse-buffer must be at least 1024, --sse-max-clients 0 to 1000000, "
                  "--sse-backfills 1 to 10000");
        return 2;
    }
    const char *realip_err = NULL;
    gw_realip_t *realip = gw_realip_new(trusted_proxies, &realip_err);
    if (!realip) {
        crm_error("bad configuration: --trusted-proxies \"%s\": %s", trusted_proxies, realip_err);
        return 2;
    }
    raise_fd_limit();

    gateway_t gw = {0};
    gw.loop = EV_DEFAULT;
    gw.zctx = zmq_ctx_new();
    if (crm_curve_configure(gw.zctx, gw.loop, curve_dir, "gateway") != 0)
        return 1;
    gw.sessions = crm_map_new();
    gw.session_cache_us = cache_ms * 1000;
    gw.deadline_us = deadline_ms * 1000;
    gw.max_body = max_body;
    gw.http_per_address = per_address;
    gw.realip = realip;
    gw.max_held = held;
    gw.max_held_per_address = held_per_address;
    gw.max_held_per_session = held_per_session;
    gw.backfills_max = sse_backfills;
    gw.rate = (double)rate;
    gw.started = crm_time_mono_us();
    gw.sse_buffer = sse_buffer;
    gw.sse_max_clients = sse_max_clients;

    const struct {
        const char *name, *endpoint;
    } backends[] = {{"identity", identity_rpc},
                    {"pipeline", pipeline_rpc},
                    {"activities", activities_rpc},
                    {"notifications", notifications_rpc}};
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        gw.clients[i] = crm_rpc_client_new(gw.loop, gw.zctx, backends[i].name, backends[i].endpoint);
        if (!gw.clients[i])
            return 1;
        gw.n_clients++;
    }
    gw.identity = gw.clients[0];
    /* one route per public service, to the client of the backend that owns it */
    for (int i = 0; i < crm_services_count; i++) {
        const char *backend = crm_services[i].backend;
        crm_rpc_client_t *client = NULL;
        for (int j = 0; backend && j < gw.n_clients && !client; j++)
            if (!strcmp(crm_rpc_client_name(gw.clients[j]), backend))
                client = gw.clients[j];
        if (backend && !client) {
            crm_error("no endpoint configured for backend %s", backend);
            return 1;
        }
        add_route(&gw, crm_services[i].service, backend, client);
    }

    /* the objects, each given what it reaches; the hooks carry news the
     * other way (a revocation to the streams, a resumed stream to the HTTP
     * door), so that no two modules call each other */
    if (gw_identity_listen(&gw, identity_events) != 0)
        return 1;
    gw.stream = gw_stream_new(&gw, notifications_stream);
    gw.zmq = gw.stream ? gw_zmq_door_new(&gw, zmq_ep) : NULL;
    gw.http = gw.zmq ? gw_http_door_new(&gw, gw.stream, http_addr, (int)http_port) : NULL;
    if (!gw.http)
        return 1;
    gw.hooks.revoked = gw_stream_recheck;
    gw.hooks.revoked_arg = gw.stream;
    gw.hooks.wake_http = gw_http_door_wake;
    gw.hooks.wake_http_arg = gw.http;

    ev_timer sweep;
    ev_timer_init(&sweep, on_sweep, 60, 60);
    sweep.data = &gw;
    ev_timer_start(gw.loop, &sweep);
    crm_info("front doors: %s and http://%s:%lld", zmq_ep, http_addr, (long long)http_port);
    crm_loop_run(gw.loop);

    /* answer the calls still out first: suspended HTTP requests must be
     * resumed before libmicrohttpd stops; streams end before their calls
     * are answered, so that no answer starts another call */
    gw_stream_close_all(gw.stream);
    for (int i = 0; i < gw.n_clients; i++)
        crm_rpc_client_destroy(&gw.clients[i]);
    gw.hooks = (gw_hooks_t){0};
    gw_http_door_destroy(&gw.http);
    gw_stream_destroy(&gw.stream);
    gw_zmq_door_destroy(&gw.zmq);
    gw_identity_stop(&gw);
    gw_session_free_all(&gw);
    gw_budget_free_all(&gw);
    gw_realip_destroy(&gw.realip);
    crm_curve_shutdown();
    zmq_ctx_term(gw.zctx);
    return 0;
}
