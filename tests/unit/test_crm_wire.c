#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.pb-c.h"
#include "notifications.pb-c.h"
#include "crm_wire.h"

static void test_reads_an_envelope_in_place(void **state)
{
    Crm__Client__V1__ClientRequest r = CRM__CLIENT__V1__CLIENT_REQUEST__INIT;
    r.id = 300;
    r.method = "crm.identity.v1.Identity/WhoAmI";
    r.token = "tok";
    r.idempotency_key = "";
    uint8_t body[3] = {1, 2, 3};
    r.body.data = body;
    r.body.len = sizeof body;
    uint8_t buf[256];
    size_t len = crm__client__v1__client_request__pack(&r, buf);
    size_t pos = 0;
    crm_wire_field_t f;
    int seen = 0;
    while (crm_wire_next(buf, len, &pos, &f) == 1) {
        switch (f.number) {
        case 1:
            assert_int_equal(f.wire_type, 0);
            assert_int_equal(f.varint, 300);
            seen |= 1;
            break;
        case 2:
            assert_int_equal(f.len, strlen(r.method));
            assert_memory_equal(f.data, r.method, f.len);
            seen |= 2;
            break;
        case 3:
            assert_memory_equal(f.data, "tok", 3);
            seen |= 4;
            break;
        case 5:
            assert_ptr_equal(f.data, buf + len - 3); /* in place, not a copy */
            assert_int_equal(f.len, 3);
            seen |= 8;
            break;
        default:
            fail_msg("unexpected field %u", f.number);
        }
    }
    assert_int_equal(seen, 15);
    assert_int_equal(pos, len);
    assert_int_equal(crm_wire_next(buf, len, &pos, &f), 0);
}

static void test_fixed_widths(void **state)
{
    const uint8_t buf[] = {0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 0xaa, 0xbb, 0xcc, 0xdd};
    size_t pos = 0;
    crm_wire_field_t f;
    assert_int_equal(crm_wire_next(buf, sizeof buf, &pos, &f), 1);
    assert_int_equal(f.wire_type, 1);
    assert_true(f.varint == 0x0807060504030201ull);
    assert_int_equal(crm_wire_next(buf, sizeof buf, &pos, &f), 1);
    assert_int_equal(f.wire_type, 5);
    assert_int_equal(f.varint, 0xddccbbaau);
    assert_int_equal(crm_wire_next(buf, sizeof buf, &pos, &f), 0);
}

/* A StreamEntry spliced around a notification's packed bytes is the message
 * protobuf-c packs, byte for byte, zero fields left out alike; varints of
 * every width read back. */
static void test_writers_splice_what_protobuf_c_packs(void **state)
{
    Crm__Common__V1__DocRef doc = CRM__COMMON__V1__DOC_REF__INIT;
    doc.model = "crm.lead";
    doc.id = 300;
    Crm__Notifications__V1__Notification m = CRM__NOTIFICATIONS__V1__NOTIFICATION__INIT;
    m.id = 1234567890123;
    m.doc = &doc;
    m.summary = "Stage: New \xe2\x86\x92 Proposition";
    m.user_id = 42;
    uint8_t note[256], want[512], got[512];
    size_t nlen = crm__notifications__v1__notification__pack(&m, note);
    uint64_t topic_seqs[] = {0, 1, 127, 128, 16384, UINT64_MAX};
    for (size_t i = 0; i < sizeof topic_seqs / sizeof *topic_seqs; i++) {
        Crm__Notifications__V1__StreamEntry s = CRM__NOTIFICATIONS__V1__STREAM_ENTRY__INIT;
        s.seq = (uint64_t)m.id;
        s.topic_seq = topic_seqs[i];
        s.notification = &m;
        size_t wlen = crm__notifications__v1__stream_entry__pack(&s, want);
        size_t n = crm_wire_put_uint(got, 1, (uint64_t)m.id);
        n += crm_wire_put_uint(got + n, 2, topic_seqs[i]);
        n += crm_wire_put_bytes_head(got + n, 3, nlen);
        memcpy(got + n, note, nlen);
        assert_int_equal(n + nlen, wlen);
        assert_memory_equal(got, want, wlen);
        size_t pos = 0;
        crm_wire_field_t f;
        assert_int_equal(crm_wire_next(got, wlen, &pos, &f), 1);
        assert_true(f.number == 1 && f.varint == (uint64_t)m.id);
        if (topic_seqs[i]) {
            assert_int_equal(crm_wire_next(got, wlen, &pos, &f), 1);
            assert_true(f.number == 2 && f.varint == topic_seqs[i]);
        }
        assert_int_equal(crm_wire_next(got, wlen, &pos, &f), 1);
        assert_true(f.number == 3 && f.len == nlen && f.data == got + wlen - nlen);
    }
}

static void test_malformed(void **state)
{
    crm_wire_field_t f;
    size_t pos;
    const uint8_t truncated_len[] = {0x12, 0x05, 'a'};
    pos = 0;
    assert_int_equal(crm_wire_next(truncated_len, sizeof truncated_len, &pos, &f), -1);
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pos = 0;
    assert_int_equal(crm_wire_next(long_varint, sizeof long_varint, &pos, &f), -1);
    const uint8_t group[] = {0x0b, 0x0c};
    pos = 0;
    assert_int_equal(crm_wire_next(group, sizeof group, &pos, &f), -1);
    const uint8_t field_zero[] = {0x02, 0x00};
    pos = 0;
    assert_int_equal(crm_wire_next(field_zero, sizeof field_zero, &pos, &f), -1);
    const uint8_t short_fixed[] = {0x0d, 1, 2};
    pos = 0;
    assert_int_equal(crm_wire_next(short_fixed, sizeof short_fixed, &pos, &f), -1);
    const uint8_t huge_len[] = {0x12, 0xff, 0xff, 0xff, 0xff, 0x0f};
    pos = 0;
    assert_int_equal(crm_wire_next(huge_len, sizeof huge_len, &pos, &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_an_envelope_in_place),
        cmocka_unit_test(test_fixed_widths),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_writers_splice_what_protobuf_c_packs),
    };
    return cmocka_run_group_tests_name("crm_wire", tests, NULL, NULL);
}
