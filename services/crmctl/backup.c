/* Hot backups with LMDB's own copy: each store is copied inside one read
 * transaction, so each copy is a consistent snapshot, taken while its
 * service keeps writing. Across stores the copies are taken consumers
 * first, producers last: a consumer's cursor in its copy is then never
 * ahead of the producer's outbox in its own, so after a restore every
 * consumer catches up from its producers and nothing is applied twice or
 * skipped. */
#include "crmctl.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Consumers before their producers: activities follows pipeline and
 * identity, pipeline follows identity. */
static const char *const stores[] = {"notifications", "activities", "pipeline", "identity"};

static int copy_store(const char *from, const char *to)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0 && (rc = mdb_env_set_maxdbs(env, 64)) == 0 && (rc = mdb_env_open(env, from, MDB_RDONLY, 0)) == 0)
        rc = mdb_env_copy2(env, to, MDB_CP_COMPACT);
    if (rc)
        fprintf(stderr, "error: copying %s: %s\n", from, mdb_strerror(rc));
    mdb_env_close(env);
    return rc ? -1 : 0;
}

int crmctl_backup(int argc, char **argv)
{
    const char *data = getenv("CRM_DATA_DIR");
    if (!data || !*data)
        data = "./data";
    int a = 0;
    if (a + 1 < argc && !strcmp(argv[a], "--data")) {
        data = argv[a + 1];
        a += 2;
    }
    if (a + 1 != argc) {
        fputs("usage: crmctl backup [--data DIR] DEST\n", stderr);
        return 2;
    }
    const char *dest = argv[a];
    if (mkdir(dest, 0700) != 0) {
        fprintf(stderr, "error: %s: %s (a backup goes into a new folder)\n", dest, strerror(errno));
        return 1;
    }
    int copied = 0;
    for (size_t i = 0; i < sizeof stores / sizeof stores[0]; i++) {
        char from[4096], mdb[4200], to[4096];
        snprintf(from, sizeof from, "%s/%s", data, stores[i]);
        snprintf(mdb, sizeof mdb, "%s/data.mdb", from);
        if (access(mdb, R_OK) != 0)
            continue; /* a service this host does not run */
        snprintf(to, sizeof to, "%s/%s", dest, stores[i]);
        if (mkdir(to, 0700) != 0) {
            fprintf(stderr, "error: %s: %s\n", to, strerror(errno));
            return 1;
        }
        if (copy_store(from, to) != 0)
            return 1;
        printf("%s → %s\n", from, to);
        copied++;
    }
    if (!copied) {
        fprintf(stderr, "error: no store under %s (expected %s/<service>/data.mdb)\n", data, data);
        return 1;
    }
    return 0;
}
