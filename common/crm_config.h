#ifndef CRM_CONFIG_H
#define CRM_CONFIG_H

/* A number macro as a default's text. */
#define CRM_STR(x) CRM_STR_(x)
#define CRM_STR_(x) #x

#include <stddef.h>
#include <stdint.h>

/* Flags with an environment variable for each: a flag beats its variable,
 * which beats the default. Declared as a table by each program. */
typedef enum { CRM_OPT_STRING, CRM_OPT_INT, CRM_OPT_BOOL, CRM_OPT_DOUBLE } crm_opt_type_t;

typedef struct {
    const char *flag;     /* "data-dir": given as --data-dir=V or --data-dir V */
    const char *env;      /* "CRM_DATA_DIR" (NULL: flag only) */
    crm_opt_type_t type;
    void *dest;           /* char ** (points into argv/environ/def), int64_t *, int *, double * */
    const char *def;      /* default as text; NULL = "" / 0 */
    const char *help;
} crm_opt_t;

/* Fills every option's dest from defaults, the environment and argv.
 * --help prints the table and exits 0. On an unknown flag or a bad value
 * prints why on stderr and returns -1; 0 on success. */
int crm_config_parse(const crm_opt_t *opts, size_t n_opts, int argc, char **argv,
                     const char *usage);

#endif
