/* The gateway's flags, checked, and its connections to the backends: what
 * main.c wires from. */
#include "gateway.h"
#include "realip.h"
#include "webapp.h"
#include "crm_config.h"
#include "crm_limits.h"
#include "crm_log.h"
#include "crm_map.h"
#include "crm_services.h"
#include "crm_time.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/resource.h>

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

int gw_configure(gateway_t *gw, gw_config_t *cfg, int argc, char **argv)
{
    const char *trusted_proxies;
    int64_t deadline_ms, max_body, cache_ms, rate, sse_buffer, sse_max_clients, sse_backfills, per_address, held,
        held_per_address, held_per_session;
    const crm_opt_t opts[] = {
        {"zmq", "CRM_GATEWAY_ZMQ", CRM_OPT_STRING, &cfg->zmq, "tcp://127.0.0.1:5555", "ZeroMQ front door (bind)"},
        {"http-address", "CRM_HTTP_ADDRESS", CRM_OPT_STRING, &cfg->http_address, "127.0.0.1", "HTTP listen address"},
        {"http-port", "CRM_HTTP_PORT", CRM_OPT_INT, &cfg->http_port, "8080", "HTTP port"},
        {"identity-rpc", "CRM_IDENTITY_RPC", CRM_OPT_STRING, &cfg->backends[0], "tcp://127.0.0.1:5601", "identity's RPC endpoint"},
        {"pipeline-rpc", "CRM_PIPELINE_RPC", CRM_OPT_STRING, &cfg->backends[1], "tcp://127.0.0.1:5611", "pipeline's RPC endpoint"},
        {"activities-rpc", "CRM_ACTIVITIES_RPC", CRM_OPT_STRING, &cfg->backends[2], "tcp://127.0.0.1:5621", "activities' RPC endpoint"},
        {"notifications-rpc", "CRM_NOTIFICATIONS_RPC", CRM_OPT_STRING, &cfg->backends[3], "tcp://127.0.0.1:5631", "notifications' RPC endpoint"},
        {"identity-events", "CRM_IDENTITY_EVENTS", CRM_OPT_STRING, &cfg->identity_events, "tcp://127.0.0.1:5602", "identity's event endpoint"},
        {"notifications-stream", "CRM_NOTIFICATIONS_STREAM", CRM_OPT_STRING, &cfg->notifications_stream, "tcp://127.0.0.1:5632", "notifications' live stream (for GET /v1/stream)"},
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
        {"web-dir", "CRM_WEB_DIR", CRM_OPT_STRING, &cfg->web_dir, "",
         "the web app's built files, served at / (make builds them into build/web); empty: no web app"},
        {"curve-dir", "CRM_CURVE_DIR", CRM_OPT_STRING, &cfg->curve_dir, "", "CurveZMQ keys (crmctl keygen); empty: plain"},
        {"session-cache-ms", "CRM_SESSION_CACHE_MS", CRM_OPT_INT, &cache_ms, "10000", "how long a principal is trusted without asking identity"},
    };
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc, argv, "crm-gateway [flags]") != 0)
        return 2;
    if (sodium_init() < 0 || cfg->http_port <= 0 || cfg->http_port > 65535 || max_body <= 0 || deadline_ms <= 0) {
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
    if (!(gw->realip = gw_realip_new(trusted_proxies, &realip_err))) {
        crm_error("bad configuration: --trusted-proxies \"%s\": %s", trusted_proxies, realip_err);
        return 2;
    }
    if (cfg->web_dir[0]) {
        const char *web_err = "";
        if (!(gw->web = gw_webapp_load(cfg->web_dir, &web_err))) {
            crm_error("bad configuration: --web-dir \"%s\": %s", cfg->web_dir, web_err);
            gw_realip_destroy(&gw->realip);
            return 2;
        }
    }
    raise_fd_limit();
    gw->sessions = crm_map_new();
    gw->session_cache_us = cache_ms * 1000;
    gw->deadline_us = deadline_ms * 1000;
    gw->max_body = max_body;
    gw->http_per_address = per_address;
    gw->max_held = held;
    gw->max_held_per_address = held_per_address;
    gw->max_held_per_session = held_per_session;
    gw->backfills_max = sse_backfills;
    gw->rate = (double)rate;
    gw->started = crm_time_mono_us();
    gw->sse_buffer = sse_buffer;
    gw->sse_max_clients = sse_max_clients;
    return 0;
}

int gw_connect_backends(gateway_t *gw, const gw_config_t *cfg)
{
    static const char *const names[] = {"identity", "pipeline", "activities", "notifications"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(gw->clients[i] = crm_rpc_client_new(gw->loop, gw->zctx, names[i], cfg->backends[i])))
            return -1;
        gw->n_clients++;
    }
    gw->identity = gw->clients[0];
    /* one route per public service, to the client of the backend that owns it */
    for (int i = 0; i < crm_services_count; i++) {
        const char *backend = crm_services[i].backend;
        crm_rpc_client_t *client = NULL;
        for (int j = 0; backend && j < gw->n_clients && !client; j++)
            if (!strcmp(crm_rpc_client_name(gw->clients[j]), backend))
                client = gw->clients[j];
        if (backend && !client) {
            crm_error("no endpoint configured for backend %s", backend);
            return -1;
        }
        gw->routes[gw->n_routes++] = (gw_route_t){crm_services[i].service, backend, client};
    }
    return 0;
}
