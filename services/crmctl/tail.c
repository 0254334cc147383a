/* crmctl tail: follows the notifications service's live stream directly (a
 * SUB socket on its PUB, no session: an operator's tool on the internal
 * network) and prints one JSON line per entry.
 *
 * Each entry is published under "user.<id>" and under "doc.<model>.<id>".
 * ZeroMQ subscriptions match prefixes ("user.5" also takes "user.50"), so the
 * topic frame is compared whole after receipt. Gaps are told on stderr: by
 * the topic's own sequence when one topic is followed, by the global
 * sequence and the heartbeats when every user's topic is. */
#include "crmctl.h"
#include "crm_access.h"
#include "crm_config.h"
#include "crm_validate.h"
#include "crm_curve.h"
#include "crm_json.h"
#include "crm_zloop.h"
#include "notifications.pb-c.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define TAIL_MAX_MSG (4 << 20) /* one frame; the service's entries are far smaller */
#define TAIL_HWM 100000

static volatile sig_atomic_t stop_;

static void on_signal(int sig) { stop_ = sig; }

static void tail_usage(void)
{
    fputs("usage: crmctl tail [--user ID] [--doc MODEL/ID] [--stream ENDPOINT]\n"
          "  MODEL is lead, customer or quotation; ENDPOINT defaults to CRM_NOTIFICATIONS_STREAM,\n"
          "  else tcp://127.0.0.1:5632. With CRM_CURVE_DIR, the key DIR/crmctl.key is used\n"
          "  (crmctl keygen DIR crmctl; the service must know crmctl.pub).\n",
          stderr);
}

/* "lead/42" → model and id. */
static int parse_doc(const char *s, char *model, size_t cap, int64_t *id)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return -1;
    if ((size_t)(slash - s) >= cap)
        return -1;
    snprintf(model, cap, "%.*s", (int)(slash - s), s);
    if (!crm_doc_model(model))
        return -1;
    return crm_parse_id(slash + 1, strlen(slash + 1), id);
}

typedef struct {
    char topic[64];        /* the one topic followed; "" for every user's */
    char doc_model[16];
    int64_t doc_id;        /* 0: no --doc */
    int known;             /* a sequence has been seen */
    uint64_t last;         /* the last sequence seen: the topic's, or the global */
    int heard;             /* anything came: the subscription is live */
    const char *endpoint;
} tail_t;

static void gap(uint64_t missed, uint64_t before)
{
    fprintf(stderr, "tail: gap: missed %llu notification(s) before seq %llu\n", (unsigned long long)missed,
            (unsigned long long)before);
}

/* Checks the sequence of what arrived; reports a gap. */
static void follow_seq(tail_t *t, uint64_t seq, uint64_t gseq)
{
    if (t->known && seq > t->last + 1)
        gap(seq - t->last - 1, gseq);
    /* a sequence that went back: the store was restored; start again there */
    t->known = 1;
    t->last = seq;
}

/* Prints one entry (flushed once what has arrived is printed); returns -1
 * when stdout is gone. */
static int print_entry(const Crm__Notifications__V1__StreamEntry *e)
{
    char *text = crm_json_encode(&e->base, NULL);
    int ok = puts(text) >= 0, err = errno;
    free(text);
    errno = err;
    return ok ? 0 : -1;
}

/* Handles one message; returns -1 when output fails. */
static int handle(tail_t *t, crm_frames_t *f)
{
    if (!t->heard) {
        /* a SUB subscribes some time after it connects: only what arrives
         * proves that nothing published from now on is missed */
        t->heard = 1;
        fprintf(stderr, "tail: listening on %s (%s)\n", t->endpoint, t->topic[0] ? t->topic : "every user");
    }
    if (f->count != 2 || crm_frame_size(f, 1) > TAIL_MAX_MSG)
        return 0;
    const char *topic = crm_frame_data(f, 0);
    size_t tlen = crm_frame_size(f, 0), plen = crm_frame_size(f, 1);
    if (tlen == 9 && !memcmp(topic, "heartbeat", 9)) {
        Crm__Notifications__V1__StreamHeartbeat *h =
            crm__notifications__v1__stream_heartbeat__unpack(NULL, plen, crm_frame_data(f, 1));
        if (!h)
            return 0;
        /* only the global sequence can be checked against a heartbeat */
        if (!t->topic[0]) {
            if (t->known && h->last_seq > t->last)
                gap(h->last_seq - t->last, h->last_seq + 1);
            t->known = 1;
            t->last = h->last_seq;
        }
        crm__notifications__v1__stream_heartbeat__free_unpacked(h, NULL);
        return 0;
    }
    if (t->topic[0] ? (tlen != strlen(t->topic) || memcmp(topic, t->topic, tlen) != 0)
                    : (tlen < 6 || memcmp(topic, "user.", 5) != 0))
        return 0;
    Crm__Notifications__V1__StreamEntry *e =
        crm__notifications__v1__stream_entry__unpack(NULL, plen, crm_frame_data(f, 1));
    if (!e) {
        fprintf(stderr, "tail: a malformed entry under %.*s\n", (int)(tlen < 64 ? tlen : 64), topic);
        return 0;
    }
    follow_seq(t, t->topic[0] ? e->topic_seq : e->seq, e->seq);
    int rc = 0;
    const Crm__Common__V1__DocRef *d = e->notification ? e->notification->doc : NULL;
    if (!t->doc_id || (d && d->id == t->doc_id && !strcmp(d->model, t->doc_model)))
        rc = print_entry(e);
    crm__notifications__v1__stream_entry__free_unpacked(e, NULL);
    return rc;
}

int crmctl_tail(int argc, char **argv)
{
    tail_t t = {0};
    int64_t user = 0;
    const char *user_text, *doc_text, *endpoint;
    const crm_opt_t opts[] = {
        {"user", NULL, CRM_OPT_STRING, &user_text, NULL, "the entries of this user (an id)"},
        {"doc", NULL, CRM_OPT_STRING, &doc_text, NULL, "the entries of this document (MODEL/ID, e.g. lead/42)"},
        {"stream", "CRM_NOTIFICATIONS_STREAM", CRM_OPT_STRING, &endpoint, "tcp://127.0.0.1:5632",
         "the notifications service's live stream"},
    };
    /* argv[-1] is "tail": crm_config_parse reads from argv[1] */
    if (crm_config_parse(opts, sizeof opts / sizeof opts[0], argc + 1, argv - 1, "crmctl tail [flags]") != 0) {
        tail_usage();
        return 2;
    }
    if (*user_text && crm_parse_id(user_text, strlen(user_text), &user) != 0) {
        fprintf(stderr, "error: --user wants a user id (a positive integer), not \"%s\"\n", user_text);
        return 2;
    }
    if (*doc_text && parse_doc(doc_text, t.doc_model, sizeof t.doc_model, &t.doc_id) != 0) {
        fprintf(stderr, "error: --doc wants MODEL/ID with MODEL lead, customer or quotation and a "
                        "positive ID (e.g. lead/42), not \"%s\"\n", doc_text);
        return 2;
    }
    if (!*endpoint) {
        fputs("error: --stream wants an endpoint (e.g. tcp://127.0.0.1:5632)\n", stderr);
        return 2;
    }
    t.endpoint = endpoint;
    /* with both, the user's topic is followed and the document filtered */
    if (user)
        snprintf(t.topic, sizeof t.topic, "user.%lld", (long long)user);
    else if (t.doc_id)
        snprintf(t.topic, sizeof t.topic, "doc.%s.%lld", t.doc_model, (long long)t.doc_id);

    /* the stream's server only lets known keys in: ours is "crmctl" */
    const char *curve_dir = getenv("CRM_CURVE_DIR");
    if (curve_dir && *curve_dir) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/crmctl.key", curve_dir);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "error: CRM_CURVE_DIR is set but %s is missing: run crmctl keygen %s crmctl, "
                            "and restart the notifications service so that it knows crmctl.pub\n",
                    path, curve_dir);
            return 1;
        }
    }
    if (crm_curve_configure(NULL, NULL, curve_dir, "crmctl") != 0)
        return 1;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal; /* no SA_RESTART: the poll returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1, hwm = TAIL_HWM;
    void *zctx = zmq_ctx_new();
    void *sock = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
    const char *sub = t.topic[0] ? t.topic : "user.";
    if (!sock || crm_zsock_setup(sock, TAIL_MAX_MSG) != 0 ||
        zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, sub, strlen(sub)) != 0 ||
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "heartbeat", 9) != 0 || crm_curve_client(sock, "notifications") != 0 ||
        zmq_connect(sock, endpoint) != 0) {
        fprintf(stderr, "error: %s: %s\n", endpoint, zmq_strerror(errno));
        goto done;
    }
    while (!stop_) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 1000) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "error: poll: %s\n", zmq_strerror(errno));
            goto done;
        }
        for (int budget = 1024; budget > 0 && !stop_; budget--) {
            crm_frames_t f;
            if (crm_frames_recv(sock, &f) != 0) {
                if (errno == EMSGSIZE)
                    continue;
                if (errno == EAGAIN || errno == EINTR)
                    break;
                fprintf(stderr, "error: receive: %s\n", zmq_strerror(errno));
                goto done;
            }
            int out = handle(&t, &f);
            crm_frames_close(&f);
            if (out != 0)
                goto output_failed;
        }
        /* one write for what came together, so a reader sees each line as
         * soon as nothing more is waiting */
        if (fflush(stdout) != 0)
            goto output_failed;
    }
    rc = 0;
    goto done;
output_failed:
    /* the reader went away (crmctl tail | head): not an error */
    rc = errno == EPIPE ? 0 : 1;
    if (rc)
        fprintf(stderr, "error: writing to stdout: %s\n", strerror(errno));
done:
    if (sock)
        zmq_close(sock);
    crm_curve_shutdown();
    if (zctx)
        zmq_ctx_term(zctx);
    return rc;
}
