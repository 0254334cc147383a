#ifndef GW_REALIP_H
#define GW_REALIP_H

#include <stddef.h>

/* The client's address behind reverse proxies the operator trusts, as
 * nginx's realip module finds it (set_real_ip_from, real_ip_header
 * X-Forwarded-For, real_ip_recursive on): when the TCP peer is a trusted
 * proxy, the rightmost address of X-Forwarded-For that is not itself a
 * trusted proxy. An untrusted peer's header is ignored: anyone can write
 * one, and per-address budgets and login throttles must not be dodged by
 * it. */
typedef struct gw_realip gw_realip_t;

/* list: "CIDR[,CIDR…]" of IPv4 or IPv6 networks ("10.0.0.0/8,::1/128"; a
 * bare address is its own /32 or /128); "" trusts none. NULL with *err
 * set (a static string naming the bad part) when an entry cannot be
 * read. */
gw_realip_t *gw_realip_new(const char *list, const char **err);
void gw_realip_destroy(gw_realip_t **self_p);

/* Writes the client's address into out (cap bytes, NUL-terminated):
 * peer's own, or the one X-Forwarded-For (xff, NULL if absent) gives when
 * peer is trusted. An address in the header that cannot be read stops the
 * walk at the last one that could. */
void gw_realip_client(const gw_realip_t *self, const char *peer, const char *xff, char *out, size_t cap);

/* Whether peer (the TCP peer's address) is one of the trusted proxies:
 * only then do its X-Forwarded-* headers say anything. */
int gw_realip_trusted_peer(const gw_realip_t *self, const char *peer);

#endif
