#include "crm_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int set_value(const crm_opt_t *o, const char *val, const char *from)
{
    switch (o->type) {
    case CRM_OPT_STRING:
        *(const char **)o->dest = val;
        return 0;
    case CRM_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            fprintf(stderr, "%s: %s wants an integer, got \"%s\"\n", from, o->flag, val);
            return -1;
        }
        *(int64_t *)o->dest = v;
        return 0;
    }
    case CRM_OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(val, &end);
        if (errno || end == val || *end || v != v) {
            fprintf(stderr, "%s: %s wants a number, got \"%s\"\n", from, o->flag, val);
            return -1;
        }
        *(double *)o->dest = v;
        return 0;
    }
    case CRM_OPT_BOOL:
        if (!strcasecmp(val, "1") || !strcasecmp(val, "true") || !strcasecmp(val, "yes") ||
            !strcasecmp(val, "on"))
            *(int *)o->dest = 1;
        else if (!*val || !strcasecmp(val, "0") || !strcasecmp(val, "false") ||
                 !strcasecmp(val, "no") || !strcasecmp(val, "off"))
            *(int *)o->dest = 0;
        else {
            fprintf(stderr, "%s: %s wants true or false, got \"%s\"\n", from, o->flag, val);
            return -1;
        }
        return 0;
    }
    return -1;
}

static void print_help(const crm_opt_t *opts, size_t n, const char *usage)
{
    printf("usage: %s\n\n", usage);
    for (size_t i = 0; i < n; i++)
        printf("  --%-22s %-28s %s (default: %s)\n", opts[i].flag,
               opts[i].env ? opts[i].env : "", opts[i].help, opts[i].def ? opts[i].def : "");
}

int crm_config_parse(const crm_opt_t *opts, size_t n, int argc, char **argv, const char *usage)
{
    for (size_t i = 0; i < n; i++) {
        const char *env = opts[i].env ? getenv(opts[i].env) : NULL;
        const char *def = opts[i].def ? opts[i].def : opts[i].type == CRM_OPT_INT || opts[i].type == CRM_OPT_DOUBLE ? "0" : "";
        if (set_value(&opts[i], def, "default") != 0)
            return -1;
        if (env && set_value(&opts[i], env, opts[i].env) != 0)
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_help(opts, n, usage);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "unexpected argument \"%s\" (see --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const crm_opt_t *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (strlen(opts[i].flag) == len && !strncmp(opts[i].flag, name, len))
                o = &opts[i];
        if (!o) {
            fprintf(stderr, "unknown flag \"%s\" (see --help)\n", arg);
            return -1;
        }
        const char *val;
        if (eq)
            val = eq + 1;
        else if (o->type == CRM_OPT_BOOL)
            val = "true";
        else if (a + 1 < argc)
            val = argv[++a];
        else {
            fprintf(stderr, "flag --%s needs a value\n", o->flag);
            return -1;
        }
        if (set_value(o, val, "flag") != 0)
            return -1;
    }
    return 0;
}
