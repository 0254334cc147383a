#ifndef GW_WEBAPP_H
#define GW_WEBAPP_H

#include <stddef.h>

/* The web app's files (make's build/web), read whole into memory when the
 * gateway starts and served from there: a request can only ever name one of
 * the files listed at start, so no path a client writes ("..", "%2e%2e",
 * a symbolic link) reaches anything else on the disk. Rebuilding the app
 * needs a restart of the gateway, which `make run` does anyway. */
typedef struct gw_webapp gw_webapp_t;

typedef struct {
    const char *data;          /* owned by the webapp, alive until it is destroyed */
    size_t len;
    const char *type;          /* Content-Type */
    const char *cache_control;
    int gzip;                  /* data is the gzip'd variant (Content-Encoding: gzip) */
} gw_webapp_file_t;

/* Loads dir/index.html and the regular files of dir/assets/ whose names are
 * plain ([A-Za-z0-9._-], no leading dot), each with its precompressed
 * "NAME.gz" beside it if there is one. Returns NULL with *err set (a static
 * string) when dir has no index.html or a file cannot be read. */
gw_webapp_t *gw_webapp_load(const char *dir, const char **err);
void gw_webapp_destroy(gw_webapp_t **self_p);

/* What GET path answers: "/assets/NAME" is that asset (immutable), any
 * other path index.html (not cached: it names the current assets), so that
 * the app's own routes (/pipeline) load the app. gzip_ok: the client
 * accepts gzip. Returns 0 with *out filled, or -1 for an asset that does
 * not exist (404). */
int gw_webapp_find(const gw_webapp_t *self, const char *path, int gzip_ok, gw_webapp_file_t *out);

/* Whether an Accept-Encoding header (NULL: absent) accepts gzip. */
int gw_webapp_accepts_gzip(const char *accept_encoding);

/* The headers every response of the app carries (pairs of name, value,
 * ended by NULL): a Content-Security-Policy that runs only this origin's
 * scripts (no inline ones) and lets no other site frame the app, nosniff,
 * and no Referer to other sites. */
extern const char *const gw_webapp_security_headers[];

#endif
