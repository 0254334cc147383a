/* A browser's session cookie and its same-origin rule (websession.h). */
#include "websession.h"
#include "crm_mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int gw_websession_origin_ok(const char *origin, const char *host)
{
    if (!origin)
        return 1;
    if (!host || !host[0])
        return 0;
    const char *rest;
    if (!strncasecmp(origin, "http://", 7))
        rest = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        rest = origin + 8;
    else
        return 0;
    /* host names are case-insensitive; browsers send both lower-case */
    return !strcasecmp(rest, host);
}

char *gw_websession_cookie(const char *token, int64_t max_age_s, int secure)
{
    int clear = !token[0] || max_age_s <= 0;
    size_t cap = strlen(token) + 160;
    char *v = crm_malloc(cap);
    /* Path=/: the app's pages, /twirp/ and /v1/stream alike. No Domain:
     * the cookie stays with this host, not its subdomains. */
    snprintf(v, cap, GW_WEBSESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
             clear ? "" : token, clear ? 0LL : (long long)max_age_s, secure ? "; Secure" : "");
    return v;
}
