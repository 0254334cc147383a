#ifndef GW_WEBSESSION_H
#define GW_WEBSESSION_H

#include <stdint.h>

/* A browser's session: the token in an HttpOnly, SameSite=Strict cookie
 * instead of an Authorization header, so that page script never holds it.
 * A browser sends a cookie with whatever request any site makes it send,
 * so a call the cookie authenticates must also show it comes from this
 * origin (gw_websession_origin_ok); the Twirp content type, required of
 * every call, is one a cross-site form cannot send. */

#define GW_WEBSESSION_COOKIE "crm_session"
/* The header with which the app asks Login for a cookie session (value
 * "cookie"): the reply then carries the token in the cookie only. */
#define GW_WEBSESSION_HEADER "Crm-Session"

/* Whether a request whose Origin header is origin (NULL: absent) and
 * whose Host is host (NULL: absent) comes from this origin: no Origin (a
 * same-origin GET, a client that is not a browser), or exactly
 * http://<host> or https://<host>. "null" (a sandboxed or file page) is
 * foreign. This function can't fail. */
int gw_websession_origin_ok(const char *origin, const char *host);

/* The Set-Cookie value that holds token for max_age_s seconds, or, with
 * token "" or max_age_s <= 0, removes the cookie. secure: the browser
 * came over TLS (the cookie then never travels in clear). Returns a
 * malloc'd string; cannot fail (out of memory aborts). */
char *gw_websession_cookie(const char *token, int64_t max_age_s, int secure);

#endif
