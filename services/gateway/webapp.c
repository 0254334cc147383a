/* The web app's files, in memory (webapp.h says why). */
#include "webapp.h"
#include "crm_log.h"
#include "crm_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* No app is anywhere near this; a directory that is must be a mistake. */
#define WEBAPP_FILES_MAX 512
#define WEBAPP_FILE_MAX (32 << 20)

typedef struct {
    char name[128];
    char *data, *gz;
    size_t len, gz_len;
    const char *type;
} entry_t;

struct gw_webapp {
    entry_t index;
    entry_t *assets;
    int n_assets;
};

const char *const gw_webapp_security_headers[] = {
    "Content-Security-Policy",
    /* img-src blob: the chatter previews attachments from object URLs of
     * bytes fetched with GetAttachment */
    "default-src 'self'; script-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options", "nosniff",
    "Referrer-Policy", "same-origin",
    NULL,
};

static const char *type_of(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},     {".svg", "image/svg+xml"},
        {".png", "image/png"},                   {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},                {".json", "application/json"},
        {".map", "application/json"},            {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcasecmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* Names a client may ask for: nothing that could mean another folder. */
static int plain_name(const char *name)
{
    if (!name[0] || name[0] == '.' || strlen(name) >= sizeof ((entry_t *)0)->name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    return 1;
}

/* Reads path whole if it is a regular file: a symbolic link is not
 * followed (O_NOFOLLOW) and, like a folder or a device, not served.
 * Returns 0, 1 if there is no such file or it is not served (a warning
 * says so), -1 on error (logged). */
static int read_file(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP) {
        crm_warn("web app: %s is a symbolic link: not served", path);
        return 1;
    }
    if (fd < 0)
        return errno == ENOENT ? 1 : (crm_error("web app: %s: %s", path, strerror(errno)), -1);
    struct stat sb;
    char *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        crm_error("web app: %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        crm_warn("web app: %s is not a regular file: not served", path);
        close(fd);
        return 1;
    }
    if (sb.st_size > WEBAPP_FILE_MAX) {
        crm_error("web app: %s is larger than %d bytes", path, WEBAPP_FILE_MAX);
        goto fail;
    }
    buf = crm_malloc((size_t)sb.st_size + 1);
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            crm_error("web app: %s: %s", path, n < 0 ? strerror(errno) : "shorter than it was");
            goto fail;
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *len = got;
    return 0;
fail:
    free(buf);
    close(fd);
    return -1;
}

/* dir/name and its .gz into e. Returns 0, 1 if there is no such file, -1. */
static int load_entry(entry_t *e, const char *dir, const char *name)
{
    char path[4096];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->type = type_of(name);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -1;
    int rc = read_file(path, &e->data, &e->len);
    if (rc != 0)
        return rc;
    if (snprintf(path, sizeof path, "%s/%s.gz", dir, name) >= (int)sizeof path)
        return -1;
    return read_file(path, &e->gz, &e->gz_len) < 0 ? -1 : 0;
}

static void free_entry(entry_t *e)
{
    free(e->data);
    free(e->gz);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry_t *)a)->name, ((const entry_t *)b)->name);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

gw_webapp_t *gw_webapp_load(const char *dir, const char **err)
{
    gw_webapp_t *self = crm_calloc(1, sizeof *self);
    char assets[4096];
    DIR *d = NULL;
    int rc = load_entry(&self->index, dir, "index.html");
    if (rc != 0) {
        *err = rc > 0 ? "no index.html in it (run make)" : "cannot read its index.html";
        goto fail;
    }
    snprintf(assets, sizeof assets, "%s/assets", dir);
    if (!(d = opendir(assets))) {
        if (errno == ENOENT)
            return self; /* an app of one page */
        *err = "cannot read its assets folder";
        goto fail;
    }
    self->assets = crm_calloc(WEBAPP_FILES_MAX, sizeof *self->assets);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!plain_name(de->d_name) || ends_with(de->d_name, ".gz"))
            continue;
        if (self->n_assets == WEBAPP_FILES_MAX) {
            *err = "more files in assets/ than a web app has";
            goto fail;
        }
        entry_t *e = &self->assets[self->n_assets];
        rc = load_entry(e, assets, de->d_name);
        if (rc < 0) {
            free_entry(e);
            *err = "cannot read a file of its assets folder";
            goto fail;
        }
        if (rc == 0)
            self->n_assets++;
    }
    closedir(d);
    qsort(self->assets, (size_t)self->n_assets, sizeof *self->assets, by_name);
    crm_info("web app: index.html and %d assets from %s", self->n_assets, dir);
    return self;
fail:
    if (d)
        closedir(d);
    gw_webapp_destroy(&self);
    return NULL;
}

void gw_webapp_destroy(gw_webapp_t **self_p)
{
    gw_webapp_t *self = *self_p;
    if (!self)
        return;
    free_entry(&self->index);
    for (int i = 0; i < self->n_assets; i++)
        free_entry(&self->assets[i]);
    free(self->assets);
    free(self);
    *self_p = NULL;
}

static void fill(const entry_t *e, int gzip_ok, const char *cache_control, gw_webapp_file_t *out)
{
    out->gzip = gzip_ok && e->gz;
    out->data = out->gzip ? e->gz : e->data;
    out->len = out->gzip ? e->gz_len : e->len;
    out->type = e->type;
    out->cache_control = cache_control;
}

int gw_webapp_find(const gw_webapp_t *self, const char *path, int gzip_ok, gw_webapp_file_t *out)
{
    static const char prefix[] = "/assets/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        fill(&self->index, gzip_ok, "no-cache", out);
        return 0;
    }
    entry_t key;
    const char *name = path + sizeof prefix - 1;
    if (!plain_name(name))
        return -1;
    snprintf(key.name, sizeof key.name, "%s", name);
    const entry_t *e = self->n_assets
        ? bsearch(&key, self->assets, (size_t)self->n_assets, sizeof *self->assets, by_name) : NULL;
    if (!e)
        return -1;
    /* asset names carry a hash of their content: a name never changes meaning */
    fill(e, gzip_ok, "public, max-age=31536000, immutable", out);
    return 0;
}

int gw_webapp_accepts_gzip(const char *ae)
{
    /* "gzip" as a token, not refused with q=0 ("gzip;q=0"): browsers send
     * "gzip, deflate, br, zstd" */
    for (const char *p = ae; p && (p = strcasestr(p, "gzip")); p += 4) {
        int starts = p == ae || p[-1] == ' ' || p[-1] == ',';
        const char *q = p + 4;
        while (*q == ' ')
            q++;
        if (!starts || (*q && *q != ',' && *q != ';'))
            continue;
        if (*q == ';') {
            const char *v = strstr(q, "q=");
            const char *comma = strchr(q, ',');
            if (v && (!comma || v < comma) && strtod(v + 2, NULL) == 0)
                return 0;
        }
        return 1;
    }
    return 0;
}
