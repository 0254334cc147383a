/* A full disk under a service's store: writes are refused with a coded
 * error, nothing acknowledged is lost, and the service takes writes again
 * by itself once there is room, without a restart. Pipeline's store is put
 * on a small tmpfs (root only: mount; skipped otherwise, with the reason). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_mem.h"
#include "harness.h"
#include "pipeline.pb-c.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define NOTES 60000 /* bytes of internal notes a lead: the disk fills in a few dozen */
#define MAX_LEADS 400

static sys_env_t *env;
static char *admin, mount_point[512];
static int skipped;


static int setup(void **state)
{
    if (geteuid() != 0) {
        skipped = 1;
        return 0;
    }
    env = sys_prepare(NULL);
    if (!env)
        return -1;
    snprintf(mount_point, sizeof mount_point, "%s/pipeline", env->dir);
    mkdir(mount_point, 0755);
    if (sys_sh("mount -t tmpfs -o size=3m crm-full %s", mount_point) != 0) {
        skipped = 1; /* no mount here (a container without the capability) */
        fprintf(stderr, "skipped: cannot mount a tmpfs\n");
        return 0;
    }
    env = sys_launch(env);
    if (!env)
        return -1;
    crm_status_t st;
    admin = sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st);
    return admin ? 0 : -1;
}

static int teardown(void **state)
{
    if (!env)
        return 0;
    free(admin);
    /* lazily: pipeline still has its files open until sys_stop ends it */
    sys_sh("umount -l %s", mount_point);
    return sys_stop(env) == 0 ? 0 : -1;
}

static int64_t create_lead(const char *notes, int i, crm_status_t *st)
{
    char name[32];
    snprintf(name, sizeof name, "Full %d", i);
    Crm__Pipeline__V1__CreateLeadRequest req = CRM__PIPELINE__V1__CREATE_LEAD_REQUEST__INIT;
    req.name = name;
    req.internal_notes = (char *)notes;
    Crm__Pipeline__V1__Lead *l = sys_call(env, P("CreateLead"), admin, &req.base, &crm__pipeline__v1__lead__descriptor, st);
    if (!l)
        return 0;
    int64_t id = l->id;
    crm__pipeline__v1__lead__free_unpacked(l, NULL);
    return id;
}

static void test_disk_full(void **state)
{
    if (skipped)
        skip();
    char *notes = crm_malloc(NOTES + 1);
    memset(notes, 'n', NOTES);
    notes[NOTES] = '\0';
    static int64_t acked[MAX_LEADS];
    int n = 0;
    crm_status_t st = {0};
    for (int i = 0; i < MAX_LEADS; i++) {
        int64_t id = create_lead(notes, i, &st);
        if (!id)
            break;
        acked[n++] = id;
    }
    printf("  %d leads acknowledged, then: %s (%s)\n", n, crm_code_name(st.code), st.message);
    if (st.code != CODE(RESOURCE_EXHAUSTED))
        sys_sh("grep -v DEBUG %s/pipeline.log | tail -5 >&2", env->dir);
    assert_true(n > 0 && n < MAX_LEADS);
    assert_int_equal(st.code, CODE(RESOURCE_EXHAUSTED));
    assert_non_null(strstr(st.message, "disk is full"));
    /* it still reads, and keeps refusing writes with the same code */
    json_decref(OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)acked[n - 1]));
    assert_int_equal(create_lead(notes, 9999, &st), 0);
    assert_int_equal(st.code, CODE(RESOURCE_EXHAUSTED));

    /* room again: writes are taken, no restart */
    assert_int_equal(sys_sh("mount -o remount,size=64m %s", mount_point), 0);
    int64_t after = 0;
    for (int i = 0; i < 50 && !after; i++) {
        after = create_lead(notes, 10000 + i, &st);
        if (!after)
            usleep(100 * 1000);
    }
    assert_true(after > 0);

    /* every acknowledged lead is there, after a crash too */
    assert_int_equal(sys_kill(env, SYS_PIPELINE, SIGKILL), 0);
    assert_int_equal(sys_spawn(env, SYS_PIPELINE), 0);
    assert_int_equal(sys_wait_ready(env, SYS_PIPELINE, SYS_TIMEOUT_MS), 0);
    for (int i = 0; i < n; i++) {
        json_t *l = OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)acked[i]);
        assert_int_equal(strlen(sys_jstr(l, "internalNotes")), NOTES);
        json_decref(l);
    }
    json_decref(OK(admin, P("GetLead"), "{\"id\":\"%lld\"}", (long long)after));
    free(notes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests_name("disk_full", tests, setup, teardown);
}
