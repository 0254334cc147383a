/* The web app's side of the gateway: its files served from --web-dir with
 * their caching, compression and security headers, no path reaching
 * anything else on the disk, and the browser session cookie with its
 * same-origin rule (webapp.c, websession.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_mem.h"
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define TWIRP "/twirp/crm.identity.v1.Identity/"
#define JSON "Content-Type: application/json\r\n"
#define INDEX "<!doctype html><title>CRM</title><script type=module src=/assets/app-0123abcd.js></script>"
#define ASSET "console.log('app')"
#define SECRET "SECRET-NEVER-SERVED"

static sys_env_t *env;
static char dir[256], web[300];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* A built app, and beside and inside it what must never be served: a
 * secret next to index.html, one outside the folder, a symbolic link and
 * a hidden file among the assets. */
static int setup(void **state)
{
    char path[400];
    snprintf(dir, sizeof dir, "/tmp/crm-web.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(web, sizeof web, "%s/web", dir);
    snprintf(path, sizeof path, "%s/assets", web);
    if (mkdir(web, 0700) != 0 || mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/index.html", web);
    write_file(path, INDEX);
    snprintf(path, sizeof path, "%s/index.html.gz", web);
    write_file(path, "GZIPPED-INDEX"); /* served as it is: its bytes tell which one came */
    snprintf(path, sizeof path, "%s/assets/app-0123abcd.js", web);
    write_file(path, ASSET);
    snprintf(path, sizeof path, "%s/secret.txt", web);
    write_file(path, SECRET);
    snprintf(path, sizeof path, "%s/outside.txt", dir);
    write_file(path, SECRET);
    snprintf(path, sizeof path, "%s/assets/.hidden.js", web);
    write_file(path, SECRET);
    snprintf(path, sizeof path, "%s/assets/link.js", web);
    if (symlink("../secret.txt", path) != 0)
        return -1;
    char web_env[400];
    snprintf(web_env, sizeof web_env, "CRM_WEB_DIR=%s", web);
    /* 127.0.0.1 as a trusted proxy: its X-Forwarded-Proto counts (Secure cookies) */
    const char *const extra[] = {web_env, "CRM_TRUSTED_PROXIES=127.0.0.1", NULL};
    env = sys_start(extra);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    int bad = sys_stop(env);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        bad++;
    return bad ? -1 : 0;
}

/* The value of header name in response, copied into out; 0 if found. */
static int header(const char *response, const char *name, char *out, size_t cap)
{
    const char *end = strstr(response, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *p = strstr(response, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        if (!strncasecmp(p + 2, name, n) && p[2 + n] == ':') {
            const char *v = p + 3 + n, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(e - v), v);
            return 0;
        }
    }
    return -1;
}

static void expect_header(const char *response, const char *name, const char *want)
{
    char got[512];
    if (header(response, name, got, sizeof got) != 0)
        fail_msg("no %s header in %s", name, response);
    if (strcmp(got, want) != 0)
        fail_msg("%s: \"%s\", wanted \"%s\"", name, got, want);
}

static const char *body_of(const char *response)
{
    const char *b = strstr(response, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void test_index_for_app_paths(void **state)
{
    const char *const paths[] = {"/", "/pipeline", "/leads/12", "/invite/abc"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *resp;
        assert_int_equal(sys_http_response(env, "GET", paths[i], NULL, NULL, 0, &resp, NULL), 200);
        assert_string_equal(body_of(resp), INDEX);
        expect_header(resp, "Content-Type", "text/html; charset=utf-8");
        expect_header(resp, "Cache-Control", "no-cache");
        expect_header(resp, "X-Content-Type-Options", "nosniff");
        expect_header(resp, "Referrer-Policy", "same-origin");
        char csp[512];
        assert_int_equal(header(resp, "Content-Security-Policy", csp, sizeof csp), 0);
        assert_non_null(strstr(csp, "default-src 'self'"));
        assert_non_null(strstr(csp, "frame-ancestors 'none'"));
        /* images from the page's own object URLs (attachment previews), no other origin */
        assert_non_null(strstr(csp, "img-src 'self' blob:;"));
        assert_null(strstr(csp, "unsafe-inline"));
        free(resp);
    }
}

static void test_gzip_when_accepted(void **state)
{
    char *resp;
    assert_int_equal(sys_http_response(env, "GET", "/", "Accept-Encoding: gzip, deflate, br\r\n", NULL, 0, &resp, NULL),
                     200);
    assert_string_equal(body_of(resp), "GZIPPED-INDEX");
    expect_header(resp, "Content-Encoding", "gzip");
    expect_header(resp, "Vary", "Accept-Encoding");
    free(resp);
    /* refused with q=0, or only other codings: the plain file */
    const char *const no[] = {"Accept-Encoding: gzip;q=0, br\r\n", "Accept-Encoding: br, xgzip\r\n"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(sys_http_response(env, "GET", "/", no[i], NULL, 0, &resp, NULL), 200);
        assert_string_equal(body_of(resp), INDEX);
        char enc[64];
        assert_int_not_equal(header(resp, "Content-Encoding", enc, sizeof enc), 0);
        free(resp);
    }
}

static void test_assets_are_immutable(void **state)
{
    char *resp;
    assert_int_equal(sys_http_response(env, "GET", "/assets/app-0123abcd.js", NULL, NULL, 0, &resp, NULL), 200);
    assert_string_equal(body_of(resp), ASSET);
    expect_header(resp, "Content-Type", "text/javascript; charset=utf-8");
    expect_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    expect_header(resp, "X-Content-Type-Options", "nosniff");
    free(resp);
    assert_int_equal(sys_http_response(env, "GET", "/assets/nothing-here.js", NULL, NULL, 0, &resp, NULL), 404);
    free(resp);
}

/* Whatever a path says, only the app's own files come back. */
static void test_no_path_leaves_the_folder(void **state)
{
    const char *const paths[] = {
        "/assets/../secret.txt",        "/assets/%2e%2e/secret.txt",   "/assets/..%2fsecret.txt",
        "/assets/..%2F..%2Foutside.txt", "/assets/link.js",            "/assets/.hidden.js",
        "/assets//etc/passwd",          "/assets/%2fetc%2fpasswd",     "/assets/app-0123abcd.js/../../secret.txt",
        "/../secret.txt",               "/../../outside.txt",          "/secret.txt",
        "/%2e%2e/outside.txt",          "/assets/\\..\\secret.txt",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *resp;
        int status = sys_http_response(env, "GET", paths[i], NULL, NULL, 0, &resp, NULL);
        assert_non_null(resp);
        if (strstr(resp, SECRET) || strstr(resp, "root:"))
            fail_msg("%s served a file outside the app: %s", paths[i], resp);
        /* an asset path that is no asset is 404; any other path is the app */
        if (!strncmp(paths[i], "/assets/", 8) && status != 404)
            fail_msg("%s: %d, wanted 404", paths[i], status);
        if (strncmp(paths[i], "/assets/", 8) && strcmp(body_of(resp), INDEX) != 0)
            fail_msg("%s: not index.html: %s", paths[i], resp);
        free(resp);
    }
    /* libmicrohttpd decodes %00 and the path ends there: the asset itself */
    char *resp;
    assert_int_equal(sys_http_response(env, "GET", "/assets/app-0123abcd.js%00.txt", NULL, NULL, 0, &resp, NULL), 200);
    assert_string_equal(body_of(resp), ASSET);
    free(resp);
}

static void test_api_paths_stay_api(void **state)
{
    char *out = NULL;
    assert_int_equal(sys_http(env, "GET", "/v1/nothing", NULL, NULL, 0, &out, NULL), 404);
    assert_non_null(strstr(out, "\"code\":\"bad_route\""));
    free(out);
    assert_int_equal(sys_http(env, "GET", "/twirp/crm.identity.v1.Identity/WhoAmI", NULL, NULL, 0, &out, NULL), 404);
    assert_non_null(strstr(out, "\"code\":\"bad_route\""));
    free(out);
    assert_int_equal(sys_http(env, "GET", "/healthz", NULL, NULL, 0, &out, NULL), 200);
    free(out);
}

/* Logs in as the administrator; with_cookie asks for a cookie session.
 * Returns the whole response (malloc'd). */
static char *login(const char *extra_headers, int want_status)
{
    char headers[512], *resp;
    const char *body = "{\"login\":\"admin\",\"password\":\"" SYS_ADMIN_PASSWORD "\"}";
    snprintf(headers, sizeof headers, JSON "%s", extra_headers);
    assert_int_equal(sys_http_response(env, "POST", TWIRP "Login", headers, body, strlen(body), &resp, NULL),
                     want_status);
    return resp;
}

/* The session cookie's value from a Set-Cookie, into out. */
static void cookie_of(const char *resp, char *out, size_t cap)
{
    char sc[512];
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_true(!strncmp(sc, "crm_session=", 12));
    snprintf(out, cap, "%.*s", (int)strcspn(sc + 12, ";"), sc + 12);
}

static int whoami(const char *cookie, const char *extra, const char *ctype, char **resp)
{
    char headers[512];
    snprintf(headers, sizeof headers, "Content-Type: %s\r\nCookie: theme=dark; crm_session=%s\r\n%s", ctype, cookie,
             extra);
    return sys_http_response(env, "POST", TWIRP "WhoAmI", headers, "{}", 2, resp, NULL);
}

static void test_login_sets_the_cookie_only_when_asked(void **state)
{
    char sc[512];
    char *resp = login("", 200);
    assert_int_not_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(body_of(resp), "\"token\":\""));
    free(resp);

    resp = login("Crm-Session: cookie\r\nOrigin: http://localhost\r\n", 200);
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(sc, "; HttpOnly"));
    assert_non_null(strstr(sc, "; SameSite=Strict"));
    assert_non_null(strstr(sc, "; Path=/"));
    assert_null(strstr(sc, "Secure")); /* plain HTTP */
    /* page script never holds the token: it is in the cookie only */
    assert_null(strstr(body_of(resp), "\"token\""));
    assert_non_null(strstr(body_of(resp), "\"login\":\"admin\""));
    free(resp);

    /* TLS at a trusted proxy (127.0.0.1 here): the cookie is Secure */
    resp = login("Crm-Session: cookie\r\nX-Forwarded-Proto: https\r\n", 200);
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(sc, "; Secure"));
    free(resp);

    /* another site cannot sign this browser in (login CSRF) */
    resp = login("Crm-Session: cookie\r\nOrigin: http://evil.example\r\n", 403);
    assert_non_null(strstr(resp, "\"code\":\"permission_denied\""));
    assert_int_not_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    free(resp);
}

static void test_cookie_calls_need_this_origin(void **state)
{
    char cookie[256], *resp;
    resp = login("Crm-Session: cookie\r\n", 200);
    cookie_of(resp, cookie, sizeof cookie);
    free(resp);

    assert_int_equal(whoami(cookie, "", "application/json", &resp), 200);
    assert_non_null(strstr(body_of(resp), "\"login\":\"admin\""));
    free(resp);
    assert_int_equal(whoami(cookie, "Origin: http://localhost\r\n", "application/json", &resp), 200);
    free(resp);

    const char *const foreign[] = {"Origin: http://evil.example\r\n", "Origin: null\r\n",
                                   "Origin: http://localhost.evil.example\r\n", "Origin: http://localhost:1\r\n"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++) {
        assert_int_equal(whoami(cookie, foreign[i], "application/json", &resp), 403);
        assert_non_null(strstr(resp, "\"code\":\"permission_denied\""));
        free(resp);
    }
    /* what a cross-site form can send */
    const char *const forms[] = {"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        assert_int_equal(whoami(cookie, "", forms[i], &resp), 403);
        assert_non_null(strstr(resp, "\"code\":\"permission_denied\""));
        free(resp);
    }
    /* a bearer header is a program's call: the Origin rule is the cookie's */
    char headers[512];
    snprintf(headers, sizeof headers, JSON "Authorization: Bearer %s\r\nOrigin: http://evil.example\r\n", cookie);
    assert_int_equal(sys_http_response(env, "POST", TWIRP "WhoAmI", headers, "{}", 2, &resp, NULL), 200);
    free(resp);

    /* the stream takes the cookie too, from this origin only */
    snprintf(headers, sizeof headers, "Cookie: crm_session=%s\r\nOrigin: http://evil.example\r\n", cookie);
    assert_int_equal(sys_http_response(env, "GET", "/v1/stream", headers, NULL, 0, &resp, NULL), 403);
    assert_non_null(strstr(resp, "\"code\":\"permission_denied\""));
    free(resp);
}

static void test_logout_clears_the_cookie(void **state)
{
    char cookie[256], sc[512], headers[512], *resp;
    resp = login("Crm-Session: cookie\r\n", 200);
    cookie_of(resp, cookie, sizeof cookie);
    free(resp);
    snprintf(headers, sizeof headers, JSON "Cookie: crm_session=%s\r\n", cookie);
    assert_int_equal(sys_http_response(env, "POST", TWIRP "Logout", headers, "{}", 2, &resp, NULL), 200);
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(sc, "crm_session=;"));
    assert_non_null(strstr(sc, "Max-Age=0"));
    free(resp);
    /* a browser that kept it anyway: refused, and told again to drop it */
    assert_int_equal(whoami(cookie, "", "application/json", &resp), 401);
    assert_non_null(strstr(resp, "\"code\":\"unauthenticated\""));
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(sc, "Max-Age=0"));
    free(resp);
    /* the stream likewise */
    snprintf(headers, sizeof headers, "Cookie: crm_session=%s\r\n", cookie);
    assert_int_equal(sys_http_response(env, "GET", "/v1/stream", headers, NULL, 0, &resp, NULL), 401);
    assert_int_equal(header(resp, "Set-Cookie", sc, sizeof sc), 0);
    assert_non_null(strstr(sc, "Max-Age=0"));
    free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_for_app_paths),
        cmocka_unit_test(test_gzip_when_accepted),
        cmocka_unit_test(test_assets_are_immutable),
        cmocka_unit_test(test_no_path_leaves_the_folder),
        cmocka_unit_test(test_api_paths_stay_api),
        cmocka_unit_test(test_login_sets_the_cookie_only_when_asked),
        cmocka_unit_test(test_cookie_calls_need_this_origin),
        cmocka_unit_test(test_logout_clears_the_cookie),
    };
    return cmocka_run_group_tests_name("web", tests, setup, teardown);
}
