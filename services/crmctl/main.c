/* crmctl: the command-line client of the gateway's ZeroMQ door.
 *   crmctl login [LOGIN]               ask for the password, keep the token
 *   crmctl call Service/Method 'JSON'  call any method, JSON in and out
 *   crmctl health [SERVICE]            the gateway's (or a service's) health
 *   crmctl keygen DIR [NAME...]        CurveZMQ key pairs
 *   crmctl backup [--data DIR] DEST    hot copy of every store on this host
 *   crmctl tail [--user ID] [--doc MODEL/ID] [--stream EP]
 *                                      follow the live notification stream
 *   crmctl consumers SERVICE [retry PRODUCER | skip PRODUCER SEQ]
 *                                      a service's consumers and a stuck event
 *   crmctl import FILE --model M [--dry-run] [--page-rows N]
 *   crmctl export --model M [--archived]
 *                                      CSV of leads or customers in and out
 * The token lives in ~/.config/crm/token (mode 0600); CRM_TOKEN overrides. */
#include "crmctl.h"
#include "crm_client.h"
#include "crm_curve.h"
#include "crm_json.h"
#include "crm_mem.h"
#include "crm_services.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

static const char *endpoint(void)
{
    const char *e = getenv("CRM_ENDPOINT");
    if (e && *e)
        return e;
    static char buf[64];
    const char *port = getenv("CRM_ZMQ_PORT");
    snprintf(buf, sizeof buf, "tcp://127.0.0.1:%s", port && *port ? port : "5555");
    return buf;
}

static int token_path(char *out, size_t cap, int make_dirs)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return -1;
    snprintf(out, cap, "%s/.config", home);
    if (make_dirs)
        mkdir(out, 0700);
    snprintf(out, cap, "%s/.config/crm", home);
    if (make_dirs)
        mkdir(out, 0700);
    snprintf(out, cap, "%s/.config/crm/token", home);
    return 0;
}

static char *read_token(void)
{
    const char *env = getenv("CRM_TOKEN");
    if (env && *env)
        return crm_strdup(env);
    char path[4096], buf[256];
    if (token_path(path, sizeof path, 0) != 0)
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *ok = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!ok)
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return crm_strdup(buf);
}

static int write_token(const char *token)
{
    char path[4096];
    if (token_path(path, sizeof path, 1) != 0)
        return -1;
    /* created 0600 from the start: never readable by others, not even briefly */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    size_t n = strlen(token);
    int ok = write(fd, token, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fchmod(fd, 0600) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

static void print_error(const crm_status_t *st)
{
    fprintf(stderr, "error: %s: %s%s%s\n", crm_code_name(st->code), st->message,
            st->field[0] ? " (field " : "", st->field[0] ? st->field : "");
    if (st->field[0])
        fputs(")\n", stderr);
}

static int read_password(const char *prompt, char *out, size_t cap)
{
    const char *env = getenv("CRM_PASSWORD");
    if (env) {
        snprintf(out, cap, "%s", env);
        return 0;
    }
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs(prompt, stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *ok = fgets(out, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputs("\n", stderr);
    }
    if (!ok)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int cmd_login(crm_client_t *c, int argc, char **argv)
{
    char login[128], password[256];
    if (argc > 0) {
        snprintf(login, sizeof login, "%s", argv[0]);
    } else {
        fputs("login: ", stderr);
        if (!fgets(login, sizeof login, stdin))
            return 2;
        login[strcspn(login, "\r\n")] = '\0';
    }
    if (read_password("password: ", password, sizeof password) != 0)
        return 2;
    Crm__Identity__V1__LoginRequest req = CRM__IDENTITY__V1__LOGIN_REQUEST__INIT;
    req.login = login;
    req.password = password;
    crm_status_t st;
    Crm__Identity__V1__LoginReply *r = crm_client_call_msg(
        c, "crm.identity.v1.Identity/Login", NULL, &req.base,
        &crm__identity__v1__login_reply__descriptor, TIMEOUT_MS, &st);
    memset(password, 0, sizeof password);
    if (!r) {
        print_error(&st);
        return 1;
    }
    int rc = write_token(r->token);
    if (rc != 0)
        fprintf(stderr, "error: cannot write ~/.config/crm/token: %s\n", strerror(errno));
    else
        fprintf(stderr, "logged in as %s; token kept in ~/.config/crm/token\n",
                r->user ? r->user->login : login);
    crm__identity__v1__login_reply__free_unpacked(r, NULL);
    return rc ? 1 : 0;
}

static int call_json(crm_client_t *c, const char *name, const char *json, const char *idem)
{
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *m = crm_services_find(name, &svc);
    if (!m) {
        fprintf(stderr, "error: bad_route: no method \"%s\" (try Identity/WhoAmI)\n", name);
        return 2;
    }
    char full[256];
    snprintf(full, sizeof full, "%s/%s", svc->name, m->name);
    crm_status_t st;
    ProtobufCMessage *in = crm_json_decode(m->input, json, strlen(json), CRM_JSON_FILL_UPDATE_MASK, NULL, &st);
    if (!in) {
        print_error(&st);
        return 2;
    }
    size_t len = protobuf_c_message_get_packed_size(in);
    uint8_t *buf = crm_malloc(len), *out = NULL;
    size_t out_len = 0;
    protobuf_c_message_pack(in, buf);
    protobuf_c_message_free_unpacked(in, NULL);
    char *token = read_token();
    int rc = crm_client_call(c, full, token, idem, buf, len, TIMEOUT_MS, &st, &out, &out_len);
    free(buf);
    free(token);
    if (rc != 0 || st.code != CRM__RPC__V1__CODE__CODE_OK) {
        print_error(&st);
        return 1;
    }
    ProtobufCMessage *reply = protobuf_c_message_unpack(m->output, NULL, out_len, out);
    free(out);
    if (!reply) {
        fprintf(stderr, "error: the reply is not a valid %s\n", m->output->name);
        return 1;
    }
    char *text = crm_json_encode(reply, NULL);
    puts(text);
    free(text);
    protobuf_c_message_free_unpacked(reply, NULL);
    return 0;
}

static int keygen(int argc, char **argv)
{
    /* crmctl's key reads the live stream (crmctl tail); the operator's calls
     * a service's operations (crmctl consumers): each opens only that */
    static const char *const services[] = {"identity", "pipeline", "activities", "notifications",
                                           "gateway", "crmctl", "operator"};
    /* --keep: names that have a key already keep it, so a deployment can
     * run this at every start and make keys only the first time */
    int keep = argc > 0 && !strcmp(argv[0], "--keep");
    argc -= keep;
    argv += keep;
    if (argc < 1) {
        fputs("usage: crmctl keygen [--keep] DIR [NAME...]\n", stderr);
        return 2;
    }
    int n = argc > 1 ? argc - 1 : (int)(sizeof services / sizeof services[0]);
    for (int i = 0; i < n; i++) {
        const char *name = argc > 1 ? argv[i + 1] : services[i];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.key", argv[0], name);
        if (keep && access(path, F_OK) == 0)
            continue;
        if (crm_curve_keygen(argv[0], name) != 0)
            return 1;
        printf("%s/%s.key, %s/%s.pub\n", argv[0], name, argv[0], name);
    }
    return 0;
}

static void usage(void)
{
    fputs("usage: crmctl [--endpoint tcp://HOST:PORT] COMMAND\n"
          "  login [LOGIN]                  log in (password from prompt or CRM_PASSWORD)\n"
          "  call Service/Method ['JSON'] [--idempotency-key K]\n"
          "                                 call a method, e.g. call Identity/WhoAmI\n"
          "  health [SERVICE]               health of the gateway or of a service\n"
          "  keygen [--keep] DIR [NAME...]  CurveZMQ key pairs (NAME.key, NAME.pub) in DIR (--keep:\n"
          "                                 not for names that have one), by\n"
          "                                 default for identity pipeline activities notifications\n"
          "                                 gateway crmctl operator (crmctl's is what tail reads\n"
          "                                 the stream with, operator's what consumers calls with)\n"
          "  backup [--data DIR] DEST       consistent hot copy of every store under DIR\n"
          "                                 (CRM_DATA_DIR, else ./data) into the new folder DEST\n"
          "  tail [--user ID] [--doc MODEL/ID] [--stream ENDPOINT]\n"
          "                                 follow the notification stream (no login needed):\n"
          "                                 one JSON line per entry, gaps on stderr; MODEL is\n"
          "                                 lead, customer or quotation; without filters every\n"
          "                                 user's entries; ENDPOINT CRM_NOTIFICATIONS_STREAM,\n"
          "                                 else tcp://127.0.0.1:5632\n"
          "  consumers [--rpc EP] SERVICE [retry PRODUCER | skip PRODUCER SEQ]\n"
          "                                 a service's event consumers (where each stands, the\n"
          "                                 event it is stuck at) and an operator's decision\n"
          "                                 about that event; EP CRM_<SERVICE>_RPC, else the default\n"
          "  import FILE --model leads|customers [--dry-run] [--page-rows N]\n"
          "                                 a CSV file in pages of N whole rows (500), each sent with\n"
          "                                 a key from the file's content, so a re-run creates\n"
          "                                 nothing twice; per-row errors and a summary; status 1\n"
          "                                 when a row failed\n"
          "  export --model leads|customers [--archived]\n"
          "                                 the records you may see as CSV on stdout (--archived:\n"
          "                                 archived ones too)\n"
          "environment: CRM_ENDPOINT, CRM_ZMQ_PORT, CRM_TOKEN, CRM_PASSWORD, CRM_NOTIFICATIONS_STREAM,\n"
          "  CRM_CURVE_DIR (keys: the front door is then reached over CURVE; tail uses DIR/crmctl.key)\n",
          stderr);
}

int main(int argc, char **argv)
{
    const char *ep = endpoint();
    int a = 1;
    if (a + 1 < argc && !strcmp(argv[a], "--endpoint")) {
        ep = argv[a + 1];
        a += 2;
    }
    if (a >= argc) {
        usage();
        return 2;
    }
    if (!strcmp(argv[a], "keygen"))
        return keygen(argc - a - 1, argv + a + 1);
    if (!strcmp(argv[a], "backup"))
        return crmctl_backup(argc - a - 1, argv + a + 1);
    if (!strcmp(argv[a], "tail"))
        return crmctl_tail(argc - a - 1, argv + a + 1);
    if (!strcmp(argv[a], "consumers"))
        return crmctl_consumers(argc - a - 1, argv + a + 1);
    if (crm_curve_configure(NULL, NULL, getenv("CRM_CURVE_DIR"), NULL) != 0)
        return 1;
    crm_client_t *c = crm_client_new(ep);
    if (!c) {
        fprintf(stderr, "error: cannot connect to %s: %s\n", ep, strerror(errno));
        return 1;
    }
    const char *cmd = argv[a++];
    int rc;
    if (!strcmp(cmd, "login")) {
        rc = cmd_login(c, argc - a, argv + a);
    } else if (!strcmp(cmd, "call") && a < argc) {
        const char *name = argv[a++], *json = "{}", *idem = NULL;
        for (; a < argc; a++) {
            if (!strcmp(argv[a], "--idempotency-key") && a + 1 < argc)
                idem = argv[++a];
            else
                json = argv[a];
        }
        rc = call_json(c, name, json, idem);
    } else if (!strcmp(cmd, "import") || !strcmp(cmd, "export")) {
        char *token = read_token();
        rc = (cmd[0] == 'i' ? crmctl_import : crmctl_export)(c, token, argc - a, argv + a);
        free(token);
    } else if (!strcmp(cmd, "health")) {
        char json[128];
        snprintf(json, sizeof json, "{\"service\":\"%.64s\"}", a < argc ? argv[a] : "");
        rc = call_json(c, "crm.health.v1.Health/Check", json, NULL);
    } else {
        usage();
        rc = 2;
    }
    crm_client_destroy(&c);
    return rc;
}
