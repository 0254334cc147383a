#include "crm_curve.h"
#include "crm_log.h"
#include "crm_mem.h"
#include "crm_time.h"
#include "crm_zloop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define KEY 32     /* bytes of a binary key */
#define Z85_KEY 40 /* characters of a Z85 key */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* A server socket's role is its ZAP domain; each role admits the keys
 * named here (by the NAME of NAME.pub), so that a key made for one purpose
 * opens nothing else: the stream readers' key cannot call methods, the
 * operator's cannot read events, and no service can call another's
 * methods (services never call each other; see ARCHITECTURE.md, CURVE roles). */
static const struct {
    crm_curve_role_t role;
    const char *domain;
    const char *const names[6]; /* NULL-ended; none at all: any key */
} roles[] = {
    {CRM_CURVE_OPEN, "open", {NULL}},
    {CRM_CURVE_RPC, "rpc", {"gateway", "operator", NULL}},
    {CRM_CURVE_EVENTS, "events", {"identity", "pipeline", "activities", "notifications", "gateway", NULL}},
    {CRM_CURVE_STREAM, "stream", {"gateway", "crmctl", NULL}},
};

typedef struct {
    int has_own;
    char dir[PATH_MAX];
    uint8_t public_key[KEY], secret_key[KEY];
    struct known_key {
        char name[65]; /* NAME of NAME.pub */
        uint8_t key[KEY];
    } *known;
    size_t n_known;
} keys_t;

static struct {
    int enabled;
    keys_t keys;
    void *zap;
    crm_zwatch_t *zap_watch;
} curve;

/* Reads a Z85 key from path into out. Returns 0 or -1 (logged). */
static int read_key(const char *path, uint8_t out[KEY])
{
    FILE *f = fopen(path, "r");
    if (!f) {
        crm_error("curve: %s: %s", path, strerror(errno));
        return -1;
    }
    char text[Z85_KEY + 8] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (n != Z85_KEY || !zmq_z85_decode(out, text)) {
        crm_error("curve: %s does not hold a 40-character Z85 key", path);
        return -1;
    }
    return 0;
}


static int load_known(keys_t *k)
{
    DIR *d = opendir(k->dir);
    if (!d) {
        crm_error("curve: %s: %s", k->dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && rc == 0) {
        size_t len = strlen(e->d_name);
        if (len < 5 || len - 4 >= sizeof k->known->name || strcmp(e->d_name + len - 4, ".pub"))
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", k->dir, e->d_name);
        k->known = crm_realloc(k->known, (k->n_known + 1) * sizeof *k->known);
        struct known_key *kk = &k->known[k->n_known];
        snprintf(kk->name, sizeof kk->name, "%.*s", (int)(len - 4), e->d_name);
        rc = read_key(path, kk->key);
        if (rc == 0)
            k->n_known++;
    }
    closedir(d);
    return rc;
}

/* The name of the known key (len bytes), or "" when it is none of dir's. */
static const char *key_name(const void *key, size_t len)
{
    for (size_t i = 0; len == KEY && i < curve.keys.n_known; i++)
        if (!memcmp(curve.keys.known[i].key, key, KEY))
            return curve.keys.known[i].name;
    return "";
}

/* Whether the client key named name ("" unknown) may connect to a socket
 * of the role whose ZAP domain is domain (dlen bytes). */
static int admitted(const void *domain, size_t dlen, const char *name)
{
    size_t r = 0;
    while (r < sizeof roles / sizeof roles[0] &&
           (strlen(roles[r].domain) != dlen || memcmp(roles[r].domain, domain, dlen) != 0))
        r++;
    if (r == sizeof roles / sizeof roles[0])
        return 0;
    if (!roles[r].names[0])
        return 1;
    for (const char *const *n = roles[r].names; *name && *n; n++)
        if (!strcmp(*n, name))
            return 1;
    return 0;
}

/* ZAP (RFC 27): version, request id, domain, address, identity, mechanism,
 * credentials → version, request id, status, text, user id, metadata. */
static void on_zap(crm_zwatch_t *w, void *socket, void *arg)
{
    for (int budget = 64; budget > 0; budget--) {
        crm_frames_t f;
        if (crm_frames_recv(socket, &f) != 0)
            return;
        const char *status = "400", *text = "malformed request", *name = "";
        if (f.count >= 7) {
            int is_curve = crm_frame_size(&f, 5) == 5 && !memcmp(crm_frame_data(&f, 5), "CURVE", 5);
            if (is_curve)
                name = key_name(crm_frame_data(&f, 6), crm_frame_size(&f, 6));
            if (is_curve && admitted(crm_frame_data(&f, 2), crm_frame_size(&f, 2), name)) {
                status = "200";
                text = "OK";
            } else {
                text = "key not admitted here";
                char addr[64] = "";
                size_t n = crm_frame_size(&f, 3) < sizeof addr - 1 ? crm_frame_size(&f, 3) : sizeof addr - 1;
                memcpy(addr, crm_frame_data(&f, 3), n);
                /* a misconfigured peer retries every second: say so now and then */
                static int64_t last_warned;
                int64_t now = crm_time_mono_us();
                if (!last_warned || now - last_warned > 10000000) {
                    crm_warn("curve: refused a peer at %s on a %.*s socket: its key is not one of %s/*.pub, "
                             "or not one this socket's role admits", addr, (int)crm_frame_size(&f, 2),
                             (const char *)crm_frame_data(&f, 2), curve.keys.dir);
                    last_warned = now;
                }
            }
        }
        /* a REP socket must answer every request, even a malformed one; the
         * user id, the key's name, comes with every message of the peer
         * (zmq_msg_gets "User-Id"): which methods it may call */
        const void *data[6] = {"1.0", f.count > 1 ? crm_frame_data(&f, 1) : "", status, text, name, ""};
        size_t size[6] = {3, f.count > 1 ? crm_frame_size(&f, 1) : 0, 3, strlen(text), strlen(name), 0};
        if (crm_zsend(socket, data, size, 6) != 0)
            crm_warn("curve: ZAP reply: %s", zmq_strerror(errno));
        crm_frames_close(&f);
    }
}

int crm_curve_configure(void *zctx, struct ev_loop *loop, const char *dir, const char *self)
{
    if (!dir || !*dir)
        return 0;
    if (!zmq_has("curve")) {
        crm_error("curve: this libzmq was built without CURVE");
        return -1;
    }
    /* everything is read before anything changes: a bad folder leaves the
     * configuration in place as it was */
    keys_t k = {0};
    snprintf(k.dir, sizeof k.dir, "%s", dir);
    if (self) {
        char path[PATH_MAX + 64], secret[Z85_KEY + 1], public[Z85_KEY + 1];
        snprintf(path, sizeof path, "%s/%s.key", dir, self);
        if (read_key(path, k.secret_key) != 0)
            return -1;
        zmq_z85_encode(secret, k.secret_key, KEY);
        int bad = zmq_curve_public(public, secret) != 0 || !zmq_z85_decode(k.public_key, public);
        sodium_memzero(secret, sizeof secret);
        if (bad) {
            crm_error("curve: %s holds no usable secret key", path);
            return -1;
        }
        k.has_own = 1;
    }
    if (load_known(&k) != 0) {
        free(k.known);
        return -1;
    }
    if (zctx && loop && !curve.zap) {
        void *zap = zmq_socket(zctx, ZMQ_REP);
        crm_zwatch_t *watch = NULL;
        if (!zap || crm_zsock_setup(zap, 4096) != 0 || zmq_bind(zap, ZAP_ENDPOINT) != 0 ||
            !(watch = crm_zwatch_new(loop, zap, on_zap, NULL))) {
            crm_error("curve: ZAP handler: %s", zmq_strerror(errno));
            if (zap)
                zmq_close(zap);
            free(k.known);
            return -1;
        }
        curve.zap = zap;
        curve.zap_watch = watch;
        crm_info("curve: on, %zu known keys in %s", k.n_known, dir);
    }
    free(curve.keys.known);
    curve.keys = k;
    curve.enabled = 1;
    return 0;
}

int crm_curve_enabled(void) { return curve.enabled; }

int crm_curve_server(void *socket, crm_curve_role_t role)
{
    if (!curve.enabled)
        return 0;
    int one = 1;
    const char *domain = NULL;
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++)
        if (roles[r].role == role)
            domain = roles[r].domain;
    if (!domain) {
        crm_error("curve: no such socket role %d", (int)role);
        return -1;
    }
    if (!curve.keys.has_own) {
        crm_error("curve: a server needs its own secret key");
        return -1;
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, curve.keys.secret_key, KEY) != 0 ||
        zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
        crm_error("curve: server socket: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int crm_curve_client(void *socket, const char *server)
{
    if (!curve.enabled)
        return 0;
    const uint8_t *server_key = NULL;
    uint8_t public_key[KEY], secret_key[KEY];
    for (size_t i = 0; i < curve.keys.n_known && !server_key; i++)
        if (!strcmp(curve.keys.known[i].name, server))
            server_key = curve.keys.known[i].key;
    if (!server_key) {
        crm_error("curve: no %s/%s.pub: the key of %s is needed to reach it", curve.keys.dir, server, server);
        return -1;
    }
    if (curve.keys.has_own) {
        memcpy(public_key, curve.keys.public_key, KEY);
        memcpy(secret_key, curve.keys.secret_key, KEY);
    } else {
        char pub[Z85_KEY + 1], sec[Z85_KEY + 1];
        if (zmq_curve_keypair(pub, sec) != 0 || !zmq_z85_decode(public_key, pub) || !zmq_z85_decode(secret_key, sec)) {
            crm_error("curve: making a key pair: %s", zmq_strerror(errno));
            return -1;
        }
    }
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_key, KEY) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_key, KEY) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, KEY) != 0) {
        crm_error("curve: client socket: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void crm_curve_shutdown(void)
{
    crm_zwatch_destroy(&curve.zap_watch);
    if (curve.zap)
        zmq_close(curve.zap);
    free(curve.keys.known);
    sodium_memzero(&curve, sizeof curve);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        crm_error("curve: %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    int ok = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fchmod(fd, mode) == 0;
    if (close(fd) != 0 || !ok) {
        crm_error("curve: writing %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int crm_curve_keygen(const char *dir, const char *name)
{
    char pub[Z85_KEY + 1], sec[Z85_KEY + 1], path[PATH_MAX + 64];
    size_t len = strlen(name);
    if (!len || len > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len) {
        crm_error("curve: a key's name is letters, digits, '-' and '_': \"%s\"", name);
        return -1;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        crm_error("curve: %s: %s", dir, strerror(errno));
        return -1;
    }
    if (zmq_curve_keypair(pub, sec) != 0) {
        crm_error("curve: making a key pair: %s", zmq_strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    int rc = write_file(path, sec, 0600);
    sodium_memzero(sec, sizeof sec);
    if (rc != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.pub", dir, name);
    return write_file(path, pub, 0644);
}
