/* The public API table: method lookup by full and short service names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crm_services.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"

#include <stdio.h>
#include <string.h>

static void test_full_and_short_names(void **state)
{
    const ProtobufCServiceDescriptor *svc = NULL;
    const ProtobufCMethodDescriptor *m = crm_services_find("crm.identity.v1.Identity/Login", &svc);
    assert_non_null(m);
    assert_ptr_equal(svc, &crm__identity__v1__identity__descriptor);
    assert_ptr_equal(m->input, &crm__identity__v1__login_request__descriptor);
    assert_ptr_equal(m->output, &crm__identity__v1__login_reply__descriptor);
    m = crm_services_find("Identity/WhoAmI", &svc);
    assert_non_null(m);
    assert_string_equal(m->name, "WhoAmI");
    assert_non_null(crm_services_find("crm.health.v1.Health/Check", NULL));
}

static void test_unknown_and_internal_names(void **state)
{
    assert_null(crm_services_find("crm.identity.v1.Identity/Nope", NULL));
    assert_null(crm_services_find("Identity", NULL));
    assert_null(crm_services_find("", NULL));
    assert_null(crm_services_find("crm.identity.v1.Identit/Login", NULL));
    /* internal services are never reachable by name from clients */
    assert_null(crm_services_find("crm.identity.v1.IdentityInternal/Authenticate", NULL));
}

static void test_every_entry_has_methods(void **state)
{
    assert_true(crm_services_count >= 2);
    for (int i = 0; i < crm_services_count; i++) {
        const ProtobufCServiceDescriptor *d = crm_services[i].service;
        assert_true(d->n_methods > 0);
        for (unsigned j = 0; j < d->n_methods; j++) {
            char name[256];
            snprintf(name, sizeof name, "%s/%s", d->name, d->methods[j].name);
            assert_ptr_equal(crm_services_find(name, NULL), &d->methods[j]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_and_short_names),
        cmocka_unit_test(test_unknown_and_internal_names),
        cmocka_unit_test(test_every_entry_has_methods),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
