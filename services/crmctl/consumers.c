/* crmctl consumers: what an operator sees and decides of a service's event
 * consumers, straight on the service's RPC socket (the gateway does not
 * route crm.ops.v1.Operations):
 *   crmctl consumers SERVICE                    where each consumer stands
 *   crmctl consumers SERVICE retry PRODUCER     try the failing event now
 *   crmctl consumers SERVICE skip PRODUCER SEQ  never apply event SEQ */
#include "crmctl.h"
#include "crm_curve.h"
#include "crm_json.h"
#include "crm_mem.h"
#include "crm_status.h"
#include "crm_time.h"
#include "ops.pb-c.h"
#include "rpc.pb-c.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define TIMEOUT_MS 10000

static const struct {
    const char *name, *env, *def;
} services[] = {
    {"identity", "CRM_IDENTITY_RPC", "tcp://127.0.0.1:5601"},
    {"pipeline", "CRM_PIPELINE_RPC", "tcp://127.0.0.1:5611"},
    {"activities", "CRM_ACTIVITIES_RPC", "tcp://127.0.0.1:5621"},
    {"notifications", "CRM_NOTIFICATIONS_RPC", "tcp://127.0.0.1:5631"},
};

/* One RpcRequest to endpoint and its reply body decoded as out; prints the
 * reply as JSON. Returns the exit status. */
static int call(const char *service, const char *endpoint, const char *method, const ProtobufCMessage *in,
                const ProtobufCMessageDescriptor *out)
{
    int rc = 1;
    void *ctx = zmq_ctx_new(), *s = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int linger = 0;
    uint8_t *body = NULL, *buf = NULL;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 || crm_curve_client(s, service) != 0 ||
        zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "error: cannot connect to %s: %s\n", endpoint, zmq_strerror(errno));
        goto done;
    }
    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.id = 1;
    req.method = (char *)method;
    req.deadline = crm_time_now_us() + TIMEOUT_MS * 1000LL;
    req.body.len = protobuf_c_message_get_packed_size(in);
    body = crm_malloc(req.body.len ? req.body.len : 1);
    protobuf_c_message_pack(in, body);
    req.body.data = body;
    size_t n = crm__rpc__v1__rpc_request__get_packed_size(&req);
    buf = crm_malloc(n);
    crm__rpc__v1__rpc_request__pack(&req, buf);
    if (zmq_send(s, buf, n, 0) != (int)n) {
        fprintf(stderr, "error: sending to %s: %s\n", endpoint, zmq_strerror(errno));
        goto done;
    }
    zmq_pollitem_t item = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, TIMEOUT_MS) != 1) {
        fprintf(stderr, "error: %s did not answer within %d s\n", endpoint, TIMEOUT_MS / 1000);
        goto done;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) < 0) {
        fprintf(stderr, "error: receiving from %s: %s\n", endpoint, zmq_strerror(errno));
        zmq_msg_close(&msg);
        goto done;
    }
    Crm__Rpc__V1__RpcReply *reply = crm__rpc__v1__rpc_reply__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    if (!reply || !reply->status) {
        fprintf(stderr, "error: %s gave a malformed reply\n", endpoint);
    } else if (reply->status->code != CRM__RPC__V1__CODE__CODE_OK) {
        fprintf(stderr, "error: %s: %s%s%s\n", crm_code_name(reply->status->code), reply->status->message,
                reply->status->field[0] ? " (field " : "", reply->status->field[0] ? reply->status->field : "");
        if (reply->status->field[0])
            fputs(")\n", stderr);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(out, NULL, reply->body.len, reply->body.data);
        if (m) {
            char *text = crm_json_encode(m, NULL);
            printf("%s\n", text);
            free(text);
            protobuf_c_message_free_unpacked(m, NULL);
            rc = 0;
        } else {
            fprintf(stderr, "error: %s gave a malformed %s\n", endpoint, out->name);
        }
    }
    if (reply)
        crm__rpc__v1__rpc_reply__free_unpacked(reply, NULL);
done:
    free(body);
    free(buf);
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int crmctl_consumers(int argc, char **argv)
{
    const char *rpc = NULL;
    int a = 0;
    if (a + 1 < argc && !strcmp(argv[a], "--rpc")) {
        rpc = argv[a + 1];
        a += 2;
    }
    if (a >= argc) {
        fputs("usage: crmctl consumers [--rpc ENDPOINT] SERVICE [retry PRODUCER | skip PRODUCER SEQ]\n", stderr);
        return 2;
    }
    const char *service = argv[a++];
    size_t i = 0;
    while (i < sizeof services / sizeof services[0] && strcmp(services[i].name, service) != 0)
        i++;
    if (i == sizeof services / sizeof services[0]) {
        fprintf(stderr, "error: no service \"%s\" (identity, pipeline, activities, notifications)\n", service);
        return 2;
    }
    if (!rpc) {
        rpc = getenv(services[i].env);
        if (!rpc || !*rpc)
            rpc = services[i].def;
    }
    if (crm_curve_configure(NULL, NULL, getenv("CRM_CURVE_DIR"), "operator") != 0)
        return 1;
    int rc;
    if (a == argc) {
        Crm__Ops__V1__ListConsumersRequest req = CRM__OPS__V1__LIST_CONSUMERS_REQUEST__INIT;
        rc = call(service, rpc, "crm.ops.v1.Operations/ListConsumers", &req.base,
                  &crm__ops__v1__list_consumers_reply__descriptor);
    } else if (!strcmp(argv[a], "retry") && a + 2 == argc) {
        Crm__Ops__V1__RetryEventRequest req = CRM__OPS__V1__RETRY_EVENT_REQUEST__INIT;
        req.producer = argv[a + 1];
        rc = call(service, rpc, "crm.ops.v1.Operations/RetryEvent", &req.base, &crm__ops__v1__consumer__descriptor);
    } else if (!strcmp(argv[a], "skip") && a + 3 == argc) {
        Crm__Ops__V1__SkipEventRequest req = CRM__OPS__V1__SKIP_EVENT_REQUEST__INIT;
        req.producer = argv[a + 1];
        char *end;
        errno = 0;
        req.seq = strtoull(argv[a + 2], &end, 10);
        if (errno || *end || !req.seq) {
            fprintf(stderr, "error: SEQ must be an event's sequence number, not \"%s\"\n", argv[a + 2]);
            return 2;
        }
        rc = call(service, rpc, "crm.ops.v1.Operations/SkipEvent", &req.base, &crm__ops__v1__consumer__descriptor);
    } else {
        fputs("usage: crmctl consumers [--rpc ENDPOINT] SERVICE [retry PRODUCER | skip PRODUCER SEQ]\n", stderr);
        rc = 2;
    }
    crm_curve_shutdown();
    return rc;
}
