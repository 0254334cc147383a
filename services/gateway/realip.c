#include "realip.h"
#include "crm_mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NETS 64
#define XFF_HOPS 32 /* hops read from the right at most: a header is the client's to pad */

typedef struct {
    int family;
    unsigned char addr[16];
    int bits;
} net_t;

struct gw_realip {
    net_t nets[MAX_NETS];
    int n;
};

/* An address (no brackets, no port) into family and bytes. */
static int parse_ip(const char *s, size_t len, int *family, unsigned char out[16])
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out) == 1) {
        *family = AF_INET6;
        return 0;
    }
    return -1;
}

static int in_net(const net_t *n, int family, const unsigned char *a)
{
    if (n->family != family)
        return 0;
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->addr, a, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->addr[full] & mask) == (a[full] & mask);
}

static int trusted(const gw_realip_t *self, int family, const unsigned char *a)
{
    for (int i = 0; i < self->n; i++)
        if (in_net(&self->nets[i], family, a))
            return 1;
    return 0;
}

static const char *trim(const char *s, const char *end, size_t *len)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *len = (size_t)(end - s);
    return s;
}

gw_realip_t *gw_realip_new(const char *list, const char **err)
{
    gw_realip_t *self = crm_calloc(1, sizeof *self);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        size_t len;
        const char *s = trim(p, end, &len);
        p = comma ? comma + 1 : end;
        if (!len)
            continue;
        if (self->n == MAX_NETS) {
            *err = "more than 64 networks";
            goto fail;
        }
        net_t *n = &self->nets[self->n];
        const char *slash = memchr(s, '/', len);
        if (parse_ip(s, slash ? (size_t)(slash - s) : len, &n->family, n->addr) != 0) {
            *err = "an entry is not an IPv4 or IPv6 address or network";
            goto fail;
        }
        int max = n->family == AF_INET ? 32 : 128;
        n->bits = max;
        if (slash) {
            char bits[4] = "";
            size_t blen = len - (size_t)(slash + 1 - s);
            char *rest;
            if (blen == 0 || blen >= sizeof bits) {
                *err = "a network's prefix length is not a number";
                goto fail;
            }
            memcpy(bits, slash + 1, blen);
            long b = strtol(bits, &rest, 10);
            if (*rest || b < 0 || b > max) {
                *err = "a network's prefix length is out of range";
                goto fail;
            }
            n->bits = (int)b;
        }
        self->n++;
    }
    return self;
fail:
    free(self);
    return NULL;
}

void gw_realip_destroy(gw_realip_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

int gw_realip_trusted_peer(const gw_realip_t *self, const char *peer)
{
    int family;
    unsigned char a[16];
    return self && self->n && peer && parse_ip(peer, strlen(peer), &family, a) == 0 && trusted(self, family, a);
}

void gw_realip_client(const gw_realip_t *self, const char *peer, const char *xff, char *out, size_t cap)
{
    snprintf(out, cap, "%s", peer);
    int family;
    unsigned char a[16];
    if (!self || !self->n || !xff || parse_ip(peer, strlen(peer), &family, a) != 0 || !trusted(self, family, a))
        return;
    const char *end = xff + strlen(xff);
    for (int hop = 0; hop < XFF_HOPS && end > xff; hop++) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        size_t len;
        const char *s = trim(start, end, &len);
        if (parse_ip(s, len, &family, a) != 0)
            return; /* unreadable: the last hop read stands */
        snprintf(out, cap, "%.*s", (int)len, s);
        if (!trusted(self, family, a))
            return;
        end = start > xff ? start - 1 : start;
    }
}
