#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crm_limits.h"
#include "crm_services.h"

/* Every public method has a limit, and the service it belongs to can take
 * a request at that limit with its envelope: the invariant that lets the
 * gateway be the only one to refuse for size. */
static void test_every_method_fits_its_service(void **state)
{
    for (int i = 0; i < crm_services_count; i++) {
        const ProtobufCServiceDescriptor *d = crm_services[i].service;
        char prefix[128];
        size_t n = strlen(d->name) - strlen(d->short_name);
        memcpy(prefix, d->name, n);
        prefix[n] = '\0';
        for (unsigned m = 0; m < d->n_methods; m++) {
            char name[256];
            snprintf(name, sizeof name, "%s/%s", d->name, d->methods[m].name);
            int64_t limit = crm_limit_request(name);
            assert_true(limit >= 4096);
            assert_true(limit + CRM_LIMIT_ENVELOPE <= crm_limit_service(prefix));
            assert_true(crm_limit_service(prefix) <= crm_limit_service(""));
        }
    }
}

static void test_what_each_method_needs(void **state)
{
    /* passwords are small; so is what a stranger may send */
    assert_int_equal(crm_limit_request("crm.identity.v1.Identity/Login"), 4096);
    assert_int_equal(crm_limit_request("crm.identity.v1.Identity/SetPassword"), 4096);
    assert_int_equal(crm_limit_request("crm.health.v1.Health/Check"), 4096);
    /* a message carries an attachment at the limit */
    assert_true(crm_limit_request("crm.activities.v1.Activities/PostMessage") > CRM_LIMIT_ATTACHMENT);
    /* internal notes of 65,536 four-byte characters */
    assert_true(crm_limit_request("crm.pipeline.v1.Pipeline/CreateLead") >= 4 * 65536);
    assert_int_equal(crm_limit_request("crm.notifications.v1.Notifications/MarkRead"), 64 << 10);
    assert_int_equal(crm_limit_request("no such method"), 64 << 10);
    assert_int_equal(crm_limit_request(NULL), 64 << 10);
    /* only the one service with attachments needs the large socket */
    assert_true(crm_limit_service("crm.notifications.v1.") < (1 << 20));
    assert_true(crm_limit_service("crm.activities.v1.") > CRM_LIMIT_ATTACHMENT);
}

static void test_json_and_decode_room(void **state)
{
    int64_t pb = crm_limit_request("crm.activities.v1.Activities/PostMessage");
    /* base64 is 4/3 of the bytes */
    assert_true(crm_limit_json(pb) >= pb / 3 * 4);
    assert_int_equal(crm_limit_decode_budget(0), CRM_LIMIT_DECODE_SLACK);
    assert_int_equal(crm_limit_decode_budget(1000), 8000 + CRM_LIMIT_DECODE_SLACK);
    size_t n;
    const crm_limit_entry_t *t = crm_limit_table(&n);
    assert_true(n >= 2);
    assert_string_equal(t[n - 1].method, ""); /* the default comes last */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_method_fits_its_service),
        cmocka_unit_test(test_what_each_method_needs),
        cmocka_unit_test(test_json_and_decode_room),
    };
    return cmocka_run_group_tests_name("crm_limits", tests, NULL, NULL);
}
