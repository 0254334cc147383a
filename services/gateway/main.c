/* crm-gateway: the front doors (ZeroMQ and HTTP/Twirp) of every service.
 * Wiring, top to bottom: flags (config.c), routes to services, identity's
 * events, the notification stream, doors, the hooks between them, loop,
 * teardown. No store of its own. */
#include "gateway.h"
#include "realip.h"
#include "webapp.h"
#include "stream.h"
#include "crm_curve.h"
#include "crm_log.h"
#include "crm_zloop.h"

#include <zmq.h>

static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents) { gw_session_sweep(w->data); }

int main(int argc, char **argv)
{
    gateway_t gw = {0};
    gw_config_t cfg = {0};
    crm_log_init("gateway");
    int rc = gw_configure(&gw, &cfg, argc, argv);
    if (rc)
        return rc;
    gw.loop = EV_DEFAULT;
    gw.zctx = zmq_ctx_new();
    if (crm_curve_configure(gw.zctx, gw.loop, cfg.curve_dir, "gateway") != 0 || gw_connect_backends(&gw, &cfg) != 0)
        return 1;

    /* the objects, each given what it reaches; the hooks carry news the
     * other way (a revocation to the streams, a resumed stream to the HTTP
     * door), so that no two modules call each other */
    if (gw_identity_listen(&gw, cfg.identity_events) != 0)
        return 1;
    gw.stream = gw_stream_new(&gw, cfg.notifications_stream);
    gw.zmq = gw.stream ? gw_zmq_door_new(&gw, cfg.zmq) : NULL;
    gw.http = gw.zmq ? gw_http_door_new(&gw, gw.stream, gw.web, cfg.http_address, (int)cfg.http_port) : NULL;
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
    crm_info("front doors: %s and http://%s:%lld", cfg.zmq, cfg.http_address, (long long)cfg.http_port);
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
    gw_webapp_destroy(&gw.web); /* after the door: responses point into it */
    crm_curve_shutdown();
    zmq_ctx_term(gw.zctx);
    return 0;
}
