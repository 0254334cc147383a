#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crm_access.h"

/* The sales levels (see ARCHITECTURE.md, Access rules) as pure rules; their use inside calls is
 * covered by the access matrices of the pipeline and activities system tests. */

#define ACCESS(x) CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_##x

static void test_level_of_principal(void **state)
{
    Crm__Rpc__V1__Principal p = CRM__RPC__V1__PRINCIPAL__INIT;
    assert_int_equal(crm_sales_level(NULL), ACCESS(NONE));
    assert_int_equal(crm_sales_level(&p), ACCESS(NONE));
    p.sales_access = ACCESS(OWN_LEADS);
    assert_int_equal(crm_sales_level(&p), ACCESS(OWN_LEADS));
    p.is_admin = 1; /* an administrator configures everything, as a manager */
    assert_int_equal(crm_sales_level(&p), ACCESS(MANAGER));
    p.sales_access = ACCESS(NONE);
    assert_int_equal(crm_sales_level(&p), ACCESS(MANAGER));
}

static void test_lead_visibility(void **state)
{
    /* user 7; leads of nobody (0), of user 7, of user 8 */
    for (int64_t sp = 0; sp <= 8; sp += sp == 0 ? 7 : 1) {
        assert_false(crm_lead_visible(ACCESS(NONE), 7, sp));
        assert_int_equal(crm_lead_visible(ACCESS(OWN_LEADS), 7, sp), sp != 8);
        assert_true(crm_lead_visible(ACCESS(ALL_LEADS), 7, sp));
        assert_true(crm_lead_visible(ACCESS(MANAGER), 7, sp));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_of_principal),
        cmocka_unit_test(test_lead_visibility),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
