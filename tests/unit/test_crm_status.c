#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crm_status.h"
#include "crm_validate.h"
#include "rpc.pb-c.h"

/* Every code of crm.rpc.v1.Code with its Twirp string and the HTTP status
 * the Twirp specification gives it. */
static const struct {
    Crm__Rpc__V1__Code code;
    const char *name;
    int http;
} twirp[] = {
    {CRM__RPC__V1__CODE__CODE_OK, "ok", 200},
    {CRM__RPC__V1__CODE__CODE_CANCELED, "canceled", 408},
    {CRM__RPC__V1__CODE__CODE_UNKNOWN, "unknown", 500},
    {CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, "invalid_argument", 400},
    {CRM__RPC__V1__CODE__CODE_MALFORMED, "malformed", 400},
    {CRM__RPC__V1__CODE__CODE_DEADLINE_EXCEEDED, "deadline_exceeded", 408},
    {CRM__RPC__V1__CODE__CODE_NOT_FOUND, "not_found", 404},
    {CRM__RPC__V1__CODE__CODE_BAD_ROUTE, "bad_route", 404},
    {CRM__RPC__V1__CODE__CODE_ALREADY_EXISTS, "already_exists", 409},
    {CRM__RPC__V1__CODE__CODE_PERMISSION_DENIED, "permission_denied", 403},
    {CRM__RPC__V1__CODE__CODE_UNAUTHENTICATED, "unauthenticated", 401},
    {CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED, "resource_exhausted", 429},
    {CRM__RPC__V1__CODE__CODE_FAILED_PRECONDITION, "failed_precondition", 412},
    {CRM__RPC__V1__CODE__CODE_ABORTED, "aborted", 409},
    {CRM__RPC__V1__CODE__CODE_OUT_OF_RANGE, "out_of_range", 400},
    {CRM__RPC__V1__CODE__CODE_UNIMPLEMENTED, "unimplemented", 501},
    {CRM__RPC__V1__CODE__CODE_INTERNAL, "internal", 500},
    {CRM__RPC__V1__CODE__CODE_UNAVAILABLE, "unavailable", 503},
    {CRM__RPC__V1__CODE__CODE_DATALOSS, "dataloss", 500},
};
#define N_TWIRP (sizeof twirp / sizeof twirp[0])

static void test_every_enum_value_is_in_the_table(void **state)
{
    /* the table above must cover the whole enum, or the checks below miss one */
    const ProtobufCEnumDescriptor *d = &crm__rpc__v1__code__descriptor;
    assert_int_equal(d->n_values, N_TWIRP);
    for (unsigned i = 0; i < d->n_values; i++) {
        int found = 0;
        for (size_t j = 0; j < N_TWIRP; j++)
            found |= (int)twirp[j].code == d->values[i].value;
        assert_true(found);
    }
}

static void test_code_names_round_trip(void **state)
{
    for (size_t i = 0; i < N_TWIRP; i++) {
        assert_string_equal(crm_code_name(twirp[i].code), twirp[i].name);
        assert_int_equal(crm_code_from_name(twirp[i].name), twirp[i].code);
        assert_int_equal(crm_code_from_name(crm_code_name(twirp[i].code)), twirp[i].code);
    }
}

static void test_code_name_matches_proto_enum_name(void **state)
{
    /* "The Twirp string is the lower-case name without the CODE_ prefix" */
    const ProtobufCEnumDescriptor *d = &crm__rpc__v1__code__descriptor;
    for (unsigned i = 0; i < d->n_values; i++) {
        const char *pb = d->values[i].name; /* "CODE_INVALID_ARGUMENT" */
        assert_true(strncmp(pb, "CODE_", 5) == 0);
        char lower[64];
        size_t n = 0;
        for (const char *p = pb + 5; *p && n + 1 < sizeof lower; p++)
            lower[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        lower[n] = '\0';
        assert_string_equal(crm_code_name((Crm__Rpc__V1__Code)d->values[i].value), lower);
    }
}

static void test_unknown_names_and_codes(void **state)
{
    assert_int_equal(crm_code_from_name("bogus"), CRM__RPC__V1__CODE__CODE_UNKNOWN);
    assert_int_equal(crm_code_from_name(""), CRM__RPC__V1__CODE__CODE_UNKNOWN);
    assert_int_equal(crm_code_from_name("INVALID_ARGUMENT"), CRM__RPC__V1__CODE__CODE_UNKNOWN);
    assert_string_equal(crm_code_name((Crm__Rpc__V1__Code)19), "unknown");
    assert_string_equal(crm_code_name((Crm__Rpc__V1__Code)1000), "unknown");
    assert_string_equal(crm_code_name((Crm__Rpc__V1__Code)-1), "unknown");
    assert_int_equal(crm_code_http_status((Crm__Rpc__V1__Code)1000), 500);
    assert_int_equal(crm_code_http_status((Crm__Rpc__V1__Code)-1), 500);
}

static void test_http_status_per_twirp(void **state)
{
    for (size_t i = 0; i < N_TWIRP; i++) {
        if (crm_code_http_status(twirp[i].code) != twirp[i].http)
            fail_msg("%s: HTTP %d, Twirp says %d", twirp[i].name,
                     crm_code_http_status(twirp[i].code), twirp[i].http);
    }
}

static void test_status_set_and_clear(void **state)
{
    crm_status_t st;
    int rc = crm_status_set(&st, CRM__RPC__V1__CODE__CODE_NOT_FOUND, "userId", "no user %d", 42);
    assert_int_equal(rc, -1);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_NOT_FOUND);
    assert_string_equal(st.message, "no user 42");
    assert_string_equal(st.field, "userId");

    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_INTERNAL, NULL, "x");
    assert_string_equal(st.field, "");

    /* too long: truncated, always terminated */
    char longmsg[600], longfield[200];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    memset(longfield, 'f', sizeof longfield - 1);
    longfield[sizeof longfield - 1] = '\0';
    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_INTERNAL, longfield, "%s", longmsg);
    assert_int_equal(strlen(st.message), sizeof st.message - 1);
    assert_int_equal(strlen(st.field), sizeof st.field - 1);

    crm_status_clear(&st);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_OK);
    assert_string_equal(st.message, "");
    assert_string_equal(st.field, "");
}

static void test_to_pb_from_pb(void **state)
{
    crm_status_t st, back;
    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_PERMISSION_DENIED, "salesAccess",
                   "you may not change %s", "sales access");
    Crm__Rpc__V1__Status pb;
    crm_status_to_pb(&st, &pb);
    assert_int_equal(pb.code, CRM__RPC__V1__CODE__CODE_PERMISSION_DENIED);
    assert_string_equal(pb.message, "you may not change sales access");
    assert_string_equal(pb.field, "salesAccess");

    /* through the wire and back */
    uint8_t buf[512];
    size_t len = crm__rpc__v1__status__pack(&pb, buf);
    Crm__Rpc__V1__Status *dec = crm__rpc__v1__status__unpack(NULL, len, buf);
    assert_non_null(dec);
    crm_status_from_pb(&back, dec);
    crm__rpc__v1__status__free_unpacked(dec, NULL);
    assert_int_equal(back.code, st.code);
    assert_string_equal(back.message, st.message);
    assert_string_equal(back.field, st.field);

    /* NULL is OK */
    crm_status_from_pb(&back, NULL);
    assert_int_equal(back.code, CRM__RPC__V1__CODE__CODE_OK);
    assert_string_equal(back.message, "");
    assert_string_equal(back.field, "");

    /* an over-long message from the wire is truncated, not overflowed */
    char huge[1000];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    Crm__Rpc__V1__Status big = CRM__RPC__V1__STATUS__INIT;
    big.code = CRM__RPC__V1__CODE__CODE_INTERNAL;
    big.message = huge;
    big.field = huge;
    crm_status_from_pb(&back, &big);
    assert_int_equal(back.code, CRM__RPC__V1__CODE__CODE_INTERNAL);
    assert_int_equal(strlen(back.message), sizeof back.message - 1);
    assert_int_equal(strlen(back.field), sizeof back.field - 1);
}

/* Messages quote client bytes and are cut to size: they stay valid UTF-8. */
static void test_messages_stay_utf8(void **state)
{
    crm_status_t st;
    /* "é" is two bytes: a cut after one leaves half a character */
    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_BAD_ROUTE, "m\xff", "no method \"%.4s\"", "ab\xc3\xa9z");
    assert_true(crm_utf8_length(st.message, strlen(st.message)) >= 0);
    assert_true(crm_utf8_length(st.field, strlen(st.field)) >= 0);
    assert_string_equal(st.field, "m?");
    char long_text[600];
    for (size_t i = 0; i + 2 < sizeof long_text; i += 2)
        memcpy(long_text + i, "\xc3\xa9", 2);
    long_text[sizeof long_text - 2] = '\0';
    crm_status_set(&st, CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT, NULL, "x%s", long_text);
    assert_true(crm_utf8_length(st.message, strlen(st.message)) >= 0);
    char mixed[] = "ok \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf end";
    crm_utf8_clean(mixed);
    assert_true(crm_utf8_length(mixed, strlen(mixed)) >= 0);
    assert_non_null(strstr(mixed, "ok "));
    assert_non_null(strstr(mixed, " end"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_enum_value_is_in_the_table),
        cmocka_unit_test(test_code_names_round_trip),
        cmocka_unit_test(test_code_name_matches_proto_enum_name),
        cmocka_unit_test(test_unknown_names_and_codes),
        cmocka_unit_test(test_http_status_per_twirp),
        cmocka_unit_test(test_status_set_and_clear),
        cmocka_unit_test(test_to_pb_from_pb),
        cmocka_unit_test(test_messages_stay_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
