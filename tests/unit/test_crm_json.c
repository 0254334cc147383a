#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "activities.pb-c.h"
#include "crm_arena.h"
#include "crm_limits.h"
#include "crm_json.h"
#include "crm_mem.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "rpc.pb-c.h"

#define CODE_INVALID CRM__RPC__V1__CODE__CODE_INVALID_ARGUMENT
#define CODE_MALFORMED CRM__RPC__V1__CODE__CODE_MALFORMED

/* --- helpers ------------------------------------------------------------ */

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *desc, const char *json,
                                   unsigned flags)
{
    crm_status_t st;
    ProtobufCMessage *msg = crm_json_decode(desc, json, strlen(json), flags, NULL, &st);
    if (!msg)
        fail_msg("decoding %s failed: %s (field \"%s\")", json, st.message, st.field);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_OK);
    return msg;
}

/* Decodes json expecting failure with code and field; the status is kept in
 * *st for checks on the message. */
static void decode_err(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                       unsigned flags, Crm__Rpc__V1__Code code, const char *field, crm_status_t *st)
{
    ProtobufCMessage *msg = crm_json_decode(desc, json, len, flags, NULL, st);
    if (msg) {
        protobuf_c_message_free_unpacked(msg, NULL);
        fail_msg("decoding %.80s should have failed", json);
    }
    assert_int_equal(st->code, code);
    assert_string_equal(st->field, field);
    assert_true(st->message[0] != '\0');
}

static void expect_invalid(const ProtobufCMessageDescriptor *desc, const char *json, const char *field)
{
    crm_status_t st;
    decode_err(desc, json, strlen(json), 0, CODE_INVALID, field, &st);
}

static void assert_encodes_to(const ProtobufCMessage *msg, const char *expected)
{
    size_t len = 0;
    char *json = crm_json_encode(msg, &len);
    assert_string_equal(json, expected);
    assert_int_equal(len, strlen(expected));
    free(json);
}

static void assert_same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
    assert_int_equal(la, lb);
    uint8_t *pa = crm_malloc(la), *pb = crm_malloc(lb);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
}

/* Encodes msg, decodes the text and checks the two messages pack the same. */
static void assert_round_trip(const ProtobufCMessage *msg)
{
    size_t len;
    char *json = crm_json_encode(msg, &len);
    crm_status_t st;
    ProtobufCMessage *back = crm_json_decode(msg->descriptor, json, len, 0, NULL, &st);
    if (!back)
        fail_msg("re-decoding %s failed: %s", json, st.message);
    assert_same_packed(msg, back);
    protobuf_c_message_free_unpacked(back, NULL);
    free(json);
}

/* --- a hand-made message with the shapes our protos lack ----------------- */

/* As protoc-c would generate for:
 *   message Sample {
 *     double ratio = 1; float weight = 2; uint32 count = 3; sint32 delta = 4;
 *     repeated string tags = 5; repeated bytes blobs = 6;
 *     oneof choice { string text = 7; int32 number = 8; crm.identity.v1.User user = 9; }
 *   } */
typedef struct {
    ProtobufCMessage base;
    double ratio;
    float weight;
    uint32_t count;
    int32_t delta;
    size_t n_tags;
    char **tags;
    size_t n_blobs;
    ProtobufCBinaryData *blobs;
    uint32_t choice_case;
    union {
        char *text;
        int32_t number;
        Crm__Identity__V1__User *user;
    };
} Sample;

static const ProtobufCMessageDescriptor sample_descriptor;

static void sample_init(ProtobufCMessage *msg)
{
    memset(msg, 0, sizeof(Sample));
    msg->descriptor = &sample_descriptor;
}

static const ProtobufCFieldDescriptor sample_fields[] = {
    {"ratio", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, offsetof(Sample, ratio),
     NULL, NULL, 0, 0, NULL, NULL},
    {"weight", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, offsetof(Sample, weight),
     NULL, NULL, 0, 0, NULL, NULL},
    {"count", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT32, 0, offsetof(Sample, count),
     NULL, NULL, 0, 0, NULL, NULL},
    {"delta", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT32, 0, offsetof(Sample, delta),
     NULL, NULL, 0, 0, NULL, NULL},
    {"tags", 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_STRING, offsetof(Sample, n_tags),
     offsetof(Sample, tags), NULL, &protobuf_c_empty_string, 0, 0, NULL, NULL},
    {"blobs", 6, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES, offsetof(Sample, n_blobs),
     offsetof(Sample, blobs), NULL, NULL, 0, 0, NULL, NULL},
    {"text", 7, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, offsetof(Sample, choice_case),
     offsetof(Sample, text), NULL, &protobuf_c_empty_string, PROTOBUF_C_FIELD_FLAG_ONEOF, 0,
     NULL, NULL},
    {"number", 8, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, offsetof(Sample, choice_case),
     offsetof(Sample, number), NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF, 0, NULL, NULL},
    {"user", 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, offsetof(Sample, choice_case),
     offsetof(Sample, user), &crm__identity__v1__user__descriptor, NULL,
     PROTOBUF_C_FIELD_FLAG_ONEOF, 0, NULL, NULL},
};
static const unsigned sample_fields_by_name[] = {5, 2, 3, 7, 0, 4, 6, 8, 1};
static const ProtobufCIntRange sample_ranges[] = {{1, 0}, {0, 9}};

static const ProtobufCMessageDescriptor sample_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "crm.test.v1.Sample",
    "Sample",
    "Sample",
    "crm.test.v1",
    sizeof(Sample),
    9,
    sample_fields,
    sample_fields_by_name,
    1,
    sample_ranges,
    sample_init,
    NULL,
    NULL,
    NULL,
};

/* --- identity messages -------------------------------------------------- */

static void test_create_user_round_trip(void **state)
{
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = "ann";
    req.name = "Ann Lee";
    req.email = "ann@example.com";
    req.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER;
    req.is_admin = 1;
    assert_encodes_to(&req.base, "{\"login\":\"ann\",\"name\":\"Ann Lee\",\"email\":\"ann@example.com\","
                                 "\"salesAccess\":\"SALES_ACCESS_MANAGER\",\"isAdmin\":true}");

    char *json = crm_json_encode(&req.base, NULL);
    Crm__Identity__V1__CreateUserRequest *back =
        (Crm__Identity__V1__CreateUserRequest *)decode_ok(&crm__identity__v1__create_user_request__descriptor, json, 0);
    assert_string_equal(back->login, "ann");
    assert_string_equal(back->name, "Ann Lee");
    assert_string_equal(back->email, "ann@example.com");
    assert_string_equal(back->password, "");
    assert_int_equal(back->sales_access, CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER);
    assert_int_equal(back->hr_access, CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_NONE);
    assert_true(back->is_admin);
    assert_same_packed(&req.base, &back->base);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    free(json);
}

static void test_user_team_ids_round_trip(void **state)
{
    int64_t teams[] = {1, 9007199254740993LL, -4};
    Crm__Identity__V1__User user = CRM__IDENTITY__V1__USER__INIT;
    user.id = 7;
    user.login = "bob";
    user.active = 1;
    user.n_team_ids = 3;
    user.team_ids = teams;
    user.created_at = 1700000000000000LL;
    assert_encodes_to(&user.base, "{\"id\":\"7\",\"login\":\"bob\",\"active\":true,"
                                  "\"teamIds\":[\"1\",\"9007199254740993\",\"-4\"],"
                                  "\"createdAt\":\"1700000000000000\"}");
    assert_round_trip(&user.base);

    Crm__Identity__V1__User *back = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor, "{\"teamIds\":[\"1\",9007199254740993,-4]}", 0);
    assert_int_equal(back->n_team_ids, 3);
    assert_int_equal(back->team_ids[0], 1);
    assert_int_equal(back->team_ids[1], 9007199254740993LL);
    assert_int_equal(back->team_ids[2], -4);
    protobuf_c_message_free_unpacked(&back->base, NULL);
}

/* A body of tiny elements unfolds into far more memory than it took to
 * send: refused past 8 times its size, with a code, and nothing leaks. A
 * body of the same size that is one large value decodes. */
static void test_decode_budget(void **state)
{
    size_t n = 1 << 20;
    char *bomb = malloc(n + 16);
    size_t at = (size_t)sprintf(bomb, "{\"users\":[{}");
    while (at + 8 < n) {
        memcpy(bomb + at, ",{}", 3);
        at += 3;
    }
    strcpy(bomb + at, "]}");
    crm_status_t st;
    ProtobufCMessage *m = crm_json_decode(&crm__identity__v1__list_users_reply__descriptor, bomb, strlen(bomb), 0,
                                          NULL, &st);
    assert_null(m);
    assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(st.message, "unfolds"));
    /* a few elements are fine */
    const char *few = "{\"users\":[{},{\"id\":\"2\"}]}";
    m = crm_json_decode(&crm__identity__v1__list_users_reply__descriptor, few, strlen(few), 0, NULL, &st);
    assert_non_null(m);
    assert_int_equal(((Crm__Identity__V1__ListUsersReply *)m)->n_users, 2);
    protobuf_c_message_free_unpacked(m, NULL);
    /* one attachment of 750 KiB as base64 in a 1 MiB body */
    at = (size_t)sprintf(bomb, "{\"filename\":\"a.bin\",\"data\":\"");
    while (at + 8 < n) {
        memcpy(bomb + at, "QUJD", 4);
        at += 4;
    }
    strcpy(bomb + at, "\"}");
    m = crm_json_decode(&crm__activities__v1__attachment__descriptor, bomb, strlen(bomb), 0, NULL, &st);
    assert_non_null(m);
    assert_true(((Crm__Activities__V1__Attachment *)m)->data.len > 700000);
    protobuf_c_message_free_unpacked(m, NULL);
    free(bomb);
}

static void test_login_reply_nested(void **state)
{
    const char *json = "{\"token\":\"tok\",\"user\":{\"id\":\"3\",\"login\":\"cy\","
                       "\"salesAccess\":\"SALES_ACCESS_OWN_LEADS\",\"teamIds\":[\"2\"]},"
                       "\"expiresAt\":\"100\"}";
    Crm__Identity__V1__LoginReply *reply =
        (Crm__Identity__V1__LoginReply *)decode_ok(&crm__identity__v1__login_reply__descriptor, json, 0);
    assert_string_equal(reply->token, "tok");
    assert_non_null(reply->user);
    assert_int_equal(reply->user->id, 3);
    assert_string_equal(reply->user->login, "cy");
    assert_int_equal(reply->user->sales_access, CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_OWN_LEADS);
    assert_int_equal(reply->user->n_team_ids, 1);
    assert_int_equal(reply->user->team_ids[0], 2);
    assert_int_equal(reply->expires_at, 100);
    assert_encodes_to(&reply->base, json);
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

/* --- scalars ------------------------------------------------------------ */

static void test_enum_by_name_and_number(void **state)
{
    Crm__Identity__V1__User *user = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor,
        "{\"salesAccess\":\"SALES_ACCESS_ALL_LEADS\",\"hrAccess\":2}", 0);
    assert_int_equal(user->sales_access, CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_ALL_LEADS);
    assert_int_equal(user->hr_access, CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_OFFICER);
    assert_encodes_to(&user->base, "{\"salesAccess\":\"SALES_ACCESS_ALL_LEADS\",\"hrAccess\":\"HR_ACCESS_OFFICER\"}");
    protobuf_c_message_free_unpacked(&user->base, NULL);

    /* proto3 enums are open: a number without a name survives as a number */
    user = (Crm__Identity__V1__User *)decode_ok(&crm__identity__v1__user__descriptor, "{\"salesAccess\":42}", 0);
    assert_int_equal(user->sales_access, 42);
    assert_encodes_to(&user->base, "{\"salesAccess\":42}");
    protobuf_c_message_free_unpacked(&user->base, NULL);

    expect_invalid(&crm__identity__v1__user__descriptor, "{\"salesAccess\":1.5}", "salesAccess");
    expect_invalid(&crm__identity__v1__user__descriptor, "{\"salesAccess\":4294967296}", "salesAccess");
    expect_invalid(&crm__identity__v1__user__descriptor, "{\"salesAccess\":true}", "salesAccess");
}

static void test_enum_unknown_name(void **state)
{
    crm_status_t st;
    const char *json = "{\"salesAccess\":\"SALES_ACCESS_BOSS\"}";
    decode_err(&crm__identity__v1__update_user_request__descriptor, json, strlen(json), 0,
               CODE_INVALID, "salesAccess", &st);
    assert_non_null(strstr(st.message, "SALES_ACCESS_BOSS"));

    json = "{\"user\":{\"hrAccess\":\"hr_access_manager\"}}";
    decode_err(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0, CODE_INVALID,
               "user.hrAccess", &st);
}

static void test_int64_string_and_number(void **state)
{
    const ProtobufCMessageDescriptor *desc = &crm__identity__v1__get_user_request__descriptor;
    static const struct {
        const char *json;
        int64_t id;
    } ok[] = {
        {"{\"id\":\"12\"}", 12},
        {"{\"id\":12}", 12},
        {"{\"id\":\"-9223372036854775808\"}", INT64_MIN},
        {"{\"id\":\"9223372036854775807\"}", INT64_MAX},
        {"{\"id\":9223372036854775807}", INT64_MAX},
        {"{\"id\":\"1e3\"}", 1000},
        {"{\"id\":2.0}", 2},
        {"{\"id\":\"-0\"}", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        Crm__Identity__V1__GetUserRequest *req = (Crm__Identity__V1__GetUserRequest *)decode_ok(desc, ok[i].json, 0);
        assert_int_equal(req->id, ok[i].id);
        protobuf_c_message_free_unpacked(&req->base, NULL);
    }
    expect_invalid(desc, "{\"id\":\"9223372036854775808\"}", "id");
    expect_invalid(desc, "{\"id\":\"-9223372036854775809\"}", "id");
    expect_invalid(desc, "{\"id\":\"99999999999999999999999\"}", "id");
    expect_invalid(desc, "{\"id\":1.5}", "id");
    expect_invalid(desc, "{\"id\":\"1.5\"}", "id");
    expect_invalid(desc, "{\"id\":\" 12\"}", "id");
    expect_invalid(desc, "{\"id\":\"\"}", "id");
    expect_invalid(desc, "{\"id\":\"0x10\"}", "id");
    expect_invalid(desc, "{\"id\":{}}", "id");
    /* a bare number past int64 is valid JSON that jansson can't hold */
    crm_status_t st;
    const char *big = "{\"id\":92233720368547758070}";
    decode_err(desc, big, strlen(big), 0, CODE_INVALID, "", &st);

    /* uint64 takes the whole unsigned range, as a string */
    Crm__Rpc__V1__RpcRequest *rpc = (Crm__Rpc__V1__RpcRequest *)decode_ok(
        &crm__rpc__v1__rpc_request__descriptor, "{\"id\":\"18446744073709551615\"}", 0);
    assert_true(rpc->id == UINT64_MAX);
    assert_encodes_to(&rpc->base, "{\"id\":\"18446744073709551615\"}");
    protobuf_c_message_free_unpacked(&rpc->base, NULL);
    expect_invalid(&crm__rpc__v1__rpc_request__descriptor, "{\"id\":\"18446744073709551616\"}", "id");
    expect_invalid(&crm__rpc__v1__rpc_request__descriptor, "{\"id\":-1}", "id");
}

static void test_int32_range(void **state)
{
    const ProtobufCMessageDescriptor *desc = &crm__identity__v1__list_users_request__descriptor;
    Crm__Identity__V1__ListUsersRequest *req =
        (Crm__Identity__V1__ListUsersRequest *)decode_ok(desc, "{\"pageSize\":2147483647}", 0);
    assert_int_equal(req->page_size, INT32_MAX);
    assert_encodes_to(&req->base, "{\"pageSize\":2147483647}");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    req = (Crm__Identity__V1__ListUsersRequest *)decode_ok(desc, "{\"pageSize\":\"-2147483648\"}", 0);
    assert_int_equal(req->page_size, INT32_MIN);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    crm_status_t st;
    const char *json = "{\"pageSize\":2147483648}";
    decode_err(desc, json, strlen(json), 0, CODE_INVALID, "pageSize", &st);
    assert_non_null(strstr(st.message, "out of range"));
    expect_invalid(desc, "{\"pageSize\":-2147483649}", "pageSize");
    expect_invalid(desc, "{\"pageSize\":\"3000000000\"}", "pageSize");
}

static void test_bytes_base64(void **state)
{
    const ProtobufCMessageDescriptor *desc = &crm__rpc__v1__rpc_request__descriptor;
    static const char *forms[] = {
        "{\"body\":\"/+/+aGk=\"}", /* standard */
        "{\"body\":\"/+/+aGk\"}",  /* unpadded */
        "{\"body\":\"_-_-aGk=\"}", /* URL-safe */
        "{\"body\":\"_-_-aGk\"}",  /* URL-safe, unpadded */
    };
    static const uint8_t expected[] = {0xff, 0xef, 0xfe, 'h', 'i'};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        Crm__Rpc__V1__RpcRequest *req = (Crm__Rpc__V1__RpcRequest *)decode_ok(desc, forms[i], 0);
        assert_int_equal(req->body.len, sizeof expected);
        assert_memory_equal(req->body.data, expected, sizeof expected);
        assert_encodes_to(&req->base, "{\"body\":\"/+/+aGk=\"}");
        protobuf_c_message_free_unpacked(&req->base, NULL);
    }
    Crm__Rpc__V1__RpcRequest *req = (Crm__Rpc__V1__RpcRequest *)decode_ok(desc, "{\"body\":\"\"}", 0);
    assert_int_equal(req->body.len, 0);
    assert_encodes_to(&req->base, "{}");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    expect_invalid(desc, "{\"body\":\"not base64!\"}", "body");
    expect_invalid(desc, "{\"body\":\"aGk==\"}", "body");
    expect_invalid(desc, "{\"body\":[104,105]}", "body");
    expect_invalid(desc, "{\"principal\":{\"sessionId\":\"%%\"}}", "principal.sessionId");
}

static void test_field_mask_both_ways(void **state)
{
    const ProtobufCMessageDescriptor *desc = &crm__identity__v1__update_user_request__descriptor;
    Crm__Identity__V1__UpdateUserRequest *req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(
        desc, "{\"id\":\"5\",\"updateMask\":\"name,salesAccess,isAdmin,a.bC\"}", 0);
    assert_non_null(req->update_mask);
    assert_int_equal(req->update_mask->n_paths, 4);
    assert_string_equal(req->update_mask->paths[0], "name");
    assert_string_equal(req->update_mask->paths[1], "sales_access");
    assert_string_equal(req->update_mask->paths[2], "is_admin");
    assert_string_equal(req->update_mask->paths[3], "a.b_c");
    assert_encodes_to(&req->base, "{\"id\":\"5\",\"updateMask\":\"name,salesAccess,isAdmin,a.bC\"}");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* an empty mask is still a mask: present, with no paths */
    req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(desc, "{\"updateMask\":\"\"}", 0);
    assert_non_null(req->update_mask);
    assert_int_equal(req->update_mask->n_paths, 0);
    assert_encodes_to(&req->base, "{\"updateMask\":\"\"}");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    char *paths[] = {"email", "hr_access"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.n_paths = 2;
    mask.paths = paths;
    Crm__Identity__V1__UpdateUserRequest built = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    built.update_mask = &mask;
    assert_encodes_to(&built.base, "{\"updateMask\":\"email,hrAccess\"}");
    assert_round_trip(&built.base);

    expect_invalid(desc, "{\"updateMask\":\"sales_access\"}", "updateMask");
    expect_invalid(desc, "{\"updateMask\":\"name,\"}", "updateMask");
    expect_invalid(desc, "{\"updateMask\":\"a..b\"}", "updateMask");
    expect_invalid(desc, "{\"updateMask\":\"Name\"}", "updateMask");
    expect_invalid(desc, "{\"updateMask\":{\"paths\":[\"name\"]}}", "updateMask");
}

static void test_fill_update_mask(void **state)
{
    const ProtobufCMessageDescriptor *desc = &crm__identity__v1__update_user_request__descriptor;
    Crm__Identity__V1__UpdateUserRequest *req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(
        desc, "{\"id\":5,\"name\":\"x\",\"salesAccess\":\"SALES_ACCESS_MANAGER\"}", CRM_JSON_FILL_UPDATE_MASK);
    assert_int_equal(req->id, 5);
    assert_string_equal(req->name, "x");
    assert_non_null(req->update_mask);
    assert_int_equal(req->update_mask->n_paths, 2);
    assert_string_equal(req->update_mask->paths[0], "name");
    assert_string_equal(req->update_mask->paths[1], "sales_access");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* a key set to null still names the field: it is to be cleared */
    req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(desc, "{\"id\":5,\"email\":null,\"is_admin\":false}",
                                                            CRM_JSON_FILL_UPDATE_MASK);
    assert_int_equal(req->update_mask->n_paths, 2);
    assert_string_equal(req->update_mask->paths[0], "email");
    assert_string_equal(req->update_mask->paths[1], "is_admin");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* the client's own mask wins */
    req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(desc, "{\"id\":5,\"name\":\"x\",\"updateMask\":\"email\"}",
                                                            CRM_JSON_FILL_UPDATE_MASK);
    assert_int_equal(req->update_mask->n_paths, 1);
    assert_string_equal(req->update_mask->paths[0], "email");
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* an empty body updates nothing rather than everything */
    req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(desc, "", CRM_JSON_FILL_UPDATE_MASK);
    assert_non_null(req->update_mask);
    assert_int_equal(req->update_mask->n_paths, 0);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* without the flag, no mask appears */
    req = (Crm__Identity__V1__UpdateUserRequest *)decode_ok(desc, "{\"id\":5,\"name\":\"x\"}", 0);
    assert_null(req->update_mask);
    protobuf_c_message_free_unpacked(&req->base, NULL);

    /* a message without update_mask ignores the flag */
    Crm__Identity__V1__User *user = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor, "{\"name\":\"x\"}", CRM_JSON_FILL_UPDATE_MASK);
    assert_encodes_to(&user->base, "{\"name\":\"x\"}");
    protobuf_c_message_free_unpacked(&user->base, NULL);
}

/* --- errors ------------------------------------------------------------- */

static void test_unknown_field(void **state)
{
    crm_status_t st;
    const char *json = "{\"name\":\"x\",\"foo\":1}";
    decode_err(&crm__identity__v1__create_user_request__descriptor, json, strlen(json), 0,
               CODE_INVALID, "foo", &st);
    assert_string_equal(st.message, "unknown field \"foo\"");

    json = "{\"user\":{\"id\":\"1\",\"bar\":{}}}";
    decode_err(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0, CODE_INVALID,
               "user.bar", &st);
    assert_non_null(strstr(st.message, "unknown field"));

    /* the JSON name is not mangled further: "salesaccess" is no field */
    expect_invalid(&crm__identity__v1__user__descriptor, "{\"salesaccess\":1}", "salesaccess");
    expect_invalid(&crm__identity__v1__user__descriptor, "{\"SalesAccess\":1}", "SalesAccess");
}

static void test_wrong_type_paths(void **state)
{
    crm_status_t st;
    const char *json = "{\"isAdmin\":\"yes\"}";
    decode_err(&crm__identity__v1__create_user_request__descriptor, json, strlen(json), 0,
               CODE_INVALID, "isAdmin", &st);
    assert_non_null(strstr(st.message, "isAdmin"));

    expect_invalid(&crm__identity__v1__login_reply__descriptor,
                   "{\"user\":{\"salesAccess\":{}}}", "user.salesAccess");
    expect_invalid(&crm__identity__v1__login_reply__descriptor, "{\"user\":[]}", "user");
    expect_invalid(&crm__identity__v1__login_reply__descriptor, "{\"token\":5}", "token");
    expect_invalid(&crm__identity__v1__login_reply__descriptor, "{\"user\":{\"sales_access\":[1]}}",
                   "user.salesAccess");
    expect_invalid(&crm__identity__v1__team__descriptor, "{\"memberIds\":[\"1\",\"2\",true]}",
                   "memberIds[2]");
    expect_invalid(&crm__identity__v1__team__descriptor, "{\"memberIds\":[1,null]}", "memberIds[1]");
    expect_invalid(&crm__identity__v1__team__descriptor, "{\"memberIds\":\"1\"}", "memberIds");
    expect_invalid(&crm__health__v1__check_reply__descriptor,
                   "{\"produced\":[{\"producer\":\"a\"},{\"seq\":\"x\"}]}", "produced[1].seq");
}

static void test_malformed_json(void **state)
{
    static const char *bad[] = {"{", "not json", "{\"a\":}", "[1,2]", "\"str\"", "42", "null",
                                "{} {}", "{\"name\":\"x\",}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        crm_status_t st;
        decode_err(&crm__identity__v1__user__descriptor, bad[i], strlen(bad[i]), 0, CODE_MALFORMED, "", &st);
    }
    /* text with a NUL inside is not JSON either */
    crm_status_t st;
    decode_err(&crm__identity__v1__user__descriptor, "{}\0{}", 5, 0, CODE_MALFORMED, "", &st);
    const char *nul = "{\"name\":\"a\\u0000b\"}";
    decode_err(&crm__identity__v1__user__descriptor, nul, strlen(nul), 0, CODE_MALFORMED, "", &st);
}

static void test_empty_body(void **state)
{
    static const char *empties[] = {"", " \r\n\t", "{}"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        Crm__Identity__V1__User *user =
            (Crm__Identity__V1__User *)decode_ok(&crm__identity__v1__user__descriptor, empties[i], 0);
        assert_int_equal(user->id, 0);
        assert_string_equal(user->login, "");
        assert_int_equal(user->n_team_ids, 0);
        assert_int_equal(protobuf_c_message_get_packed_size(&user->base), 0);
        protobuf_c_message_free_unpacked(&user->base, NULL);
    }
    crm_status_t st;
    ProtobufCMessage *msg = crm_json_decode(&crm__identity__v1__logout_request__descriptor, NULL, 0, 0, NULL, &st);
    assert_non_null(msg);
    assert_encodes_to(msg, "{}");
    protobuf_c_message_free_unpacked(msg, NULL);
}

static char *nested_json(size_t depth)
{
    /* {"user":[[[...[]...]]]} */
    char *s = crm_malloc(2 * depth + 16);
    size_t n = (size_t)sprintf(s, "{\"user\":");
    for (size_t i = 1; i < depth; i++)
        s[n++] = '[';
    for (size_t i = 1; i < depth; i++)
        s[n++] = ']';
    s[n++] = '}';
    s[n] = '\0';
    return s;
}

static void test_deep_nesting(void **state)
{
    crm_status_t st;
    /* beyond our limit, and beyond jansson's own */
    size_t depths[] = {65, 100, 5000};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        char *json = nested_json(depths[i]);
        decode_err(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0, CODE_INVALID, "", &st);
        assert_non_null(strstr(st.message, "deeper than 64"));
        free(json);
    }
    /* at the limit the nesting itself is fine: what fails is the type */
    char *json = nested_json(64);
    decode_err(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0, CODE_INVALID, "user", &st);
    assert_null(strstr(st.message, "deeper"));
    free(json);
}

static void test_defaults_omitted(void **state)
{
    Crm__Identity__V1__User user = CRM__IDENTITY__V1__USER__INIT;
    assert_encodes_to(&user.base, "{}");
    user.login = "";
    user.n_team_ids = 0;
    user.is_admin = 0;
    user.sales_access = CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_NONE;
    assert_encodes_to(&user.base, "{}");

    /* a submessage that is there is emitted, even empty */
    Crm__Identity__V1__LoginReply reply = CRM__IDENTITY__V1__LOGIN_REPLY__INIT;
    reply.user = &user;
    assert_encodes_to(&reply.base, "{\"user\":{}}");

    Crm__Rpc__V1__RpcRequest req = CRM__RPC__V1__RPC_REQUEST__INIT;
    req.body.len = 0;
    assert_encodes_to(&req.base, "{}");

    /* explicit defaults in input give the same message as absent ones */
    Crm__Identity__V1__User *back = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor,
        "{\"id\":\"0\",\"login\":\"\",\"isAdmin\":false,\"salesAccess\":\"SALES_ACCESS_NONE\",\"teamIds\":[]}", 0);
    assert_encodes_to(&back->base, "{}");
    protobuf_c_message_free_unpacked(&back->base, NULL);
}

static void test_invalid_utf8(void **state)
{
    crm_status_t st;
    static const char *bad[] = {
        "{\"name\":\"\xff\"}",
        "{\"name\":\"\xc3\"}",              /* truncated sequence */
        "{\"name\":\"\xc0\xaf\"}",          /* overlong */
        "{\"name\":\"\xed\xa0\x80\"}",      /* surrogate */
        "{\"na\xe9me\":\"x\"}",             /* in a key */
        "{\"name\":\"\\ud800\"}",           /* lone escaped surrogate */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        decode_err(&crm__identity__v1__user__descriptor, bad[i], strlen(bad[i]), 0, CODE_MALFORMED, "", &st);

    Crm__Identity__V1__User *user = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor, "{\"name\":\"Zo\xc3\xab \\u00e9\\ud83d\\ude00\"}", 0);
    assert_string_equal(user->name, "Zo\xc3\xab \xc3\xa9\xf0\x9f\x98\x80");
    assert_encodes_to(&user->base, "{\"name\":\"Zo\xc3\xab \xc3\xa9\xf0\x9f\x98\x80\"}");
    protobuf_c_message_free_unpacked(&user->base, NULL);

    /* a message built elsewhere with bad UTF-8 still encodes as valid JSON */
    Crm__Identity__V1__User built = CRM__IDENTITY__V1__USER__INIT;
    built.name = "a\xff" "b";
    assert_encodes_to(&built.base, "{\"name\":\"a\xef\xbf\xbd" "b\"}");
}

static void assert_utf8(const char *s)
{
    json_t *v = json_string(s); /* jansson refuses text that is not UTF-8 */
    assert_non_null(v);
    json_decref(v);
}

/* Status text reaches clients as JSON, so quoting their bytes, or cutting a
 * long key to fit, must leave it UTF-8. */
static void test_error_text_is_utf8(void **state)
{
    char json[512];
    size_t n = (size_t)sprintf(json, "{\"");
    for (int i = 0; i < 70; i++)
        n += (size_t)sprintf(json + n, "\xc3\xa9");
    sprintf(json + n, "\":1}");
    crm_status_t st;
    assert_null(crm_json_decode(&crm__identity__v1__user__descriptor, json, strlen(json), 0, NULL, &st));
    assert_int_equal(st.code, CODE_INVALID);
    assert_true(strncmp(st.field, "\xc3\xa9\xc3\xa9", 4) == 0);
    assert_utf8(st.field);
    assert_utf8(st.message);

    const char *bad = "{\"name\":\"ok\", \xff\xfe}";
    decode_err(&crm__identity__v1__user__descriptor, bad, strlen(bad), 0, CODE_MALFORMED, "", &st);
    assert_utf8(st.message);

    const char *value = "{\"salesAccess\":\"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                        "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                        "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                        "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\"}";
    decode_err(&crm__identity__v1__user__descriptor, value, strlen(value), 0, CODE_INVALID, "salesAccess", &st);
    assert_utf8(st.message);
}

/* --- names, null, duplicates, oneofs, other types ----------------------- */

static void test_snake_case_and_duplicates(void **state)
{
    Crm__Identity__V1__User *user = (Crm__Identity__V1__User *)decode_ok(
        &crm__identity__v1__user__descriptor, "{\"sales_access\":\"SALES_ACCESS_MANAGER\",\"team_ids\":[3],\"is_admin\":true}", 0);
    assert_int_equal(user->sales_access, CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER);
    assert_int_equal(user->n_team_ids, 1);
    assert_true(user->is_admin);
    protobuf_c_message_free_unpacked(&user->base, NULL);

    /* the same field under both its names is refused, not silently merged */
    crm_status_t st;
    const char *json = "{\"salesAccess\":1,\"sales_access\":2}";
    decode_err(&crm__identity__v1__user__descriptor, json, strlen(json), 0, CODE_INVALID, "salesAccess", &st);
    assert_non_null(strstr(st.message, "twice"));

    /* a key repeated verbatim is jansson's business: the last one wins */
    user = (Crm__Identity__V1__User *)decode_ok(&crm__identity__v1__user__descriptor,
                                                "{\"login\":\"a\",\"login\":\"b\"}", 0);
    assert_string_equal(user->login, "b");
    protobuf_c_message_free_unpacked(&user->base, NULL);
}

static void test_null_means_default(void **state)
{
    Crm__Identity__V1__LoginReply *reply = (Crm__Identity__V1__LoginReply *)decode_ok(
        &crm__identity__v1__login_reply__descriptor, "{\"token\":null,\"user\":null,\"expiresAt\":null}", 0);
    assert_string_equal(reply->token, "");
    assert_null(reply->user);
    assert_int_equal(reply->expires_at, 0);
    assert_encodes_to(&reply->base, "{}");
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

static void test_oneof(void **state)
{
    Sample *s = (Sample *)decode_ok(&sample_descriptor, "{\"text\":\"hi\"}", 0);
    assert_int_equal(s->choice_case, 7);
    assert_string_equal(s->text, "hi");
    assert_encodes_to(&s->base, "{\"text\":\"hi\"}");
    assert_round_trip(&s->base);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* a set member is emitted even at its default */
    s = (Sample *)decode_ok(&sample_descriptor, "{\"number\":0}", 0);
    assert_int_equal(s->choice_case, 8);
    assert_encodes_to(&s->base, "{\"number\":0}");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    s = (Sample *)decode_ok(&sample_descriptor, "{\"user\":{\"login\":\"u\"},\"text\":null}", 0);
    assert_int_equal(s->choice_case, 9);
    assert_string_equal(s->user->login, "u");
    assert_encodes_to(&s->base, "{\"user\":{\"login\":\"u\"}}");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    crm_status_t st;
    const char *json = "{\"text\":\"a\",\"number\":1}";
    decode_err(&sample_descriptor, json, strlen(json), 0, CODE_INVALID, "number", &st);
    assert_non_null(strstr(st.message, "oneof"));
    /* the second member fails after the first allocated: nothing leaks */
    expect_invalid(&sample_descriptor, "{\"user\":{\"login\":\"u\"},\"text\":\"b\"}", "text");
    expect_invalid(&sample_descriptor, "{\"text\":\"b\",\"user\":{\"login\":\"u\"}}", "user");
    expect_invalid(&sample_descriptor, "{\"user\":{\"login\":\"u\",\"id\":true}}", "user.id");
}

static void test_other_scalar_types(void **state)
{
    Sample *s = (Sample *)decode_ok(&sample_descriptor,
        "{\"ratio\":0.25,\"weight\":\"1.5\",\"count\":4294967295,\"delta\":-7,"
        "\"tags\":[\"a\",\"\",\"c\"],\"blobs\":[\"AA==\",\"\",\"AQI\"]}", 0);
    assert_true(s->ratio == 0.25);
    assert_true(s->weight == 1.5f);
    assert_int_equal(s->count, UINT32_MAX);
    assert_int_equal(s->delta, -7);
    assert_int_equal(s->n_tags, 3);
    assert_string_equal(s->tags[1], "");
    assert_int_equal(s->n_blobs, 3);
    assert_int_equal(s->blobs[0].len, 1);
    assert_int_equal(s->blobs[1].len, 0);
    assert_int_equal(s->blobs[2].len, 2);
    assert_encodes_to(&s->base, "{\"ratio\":0.25,\"weight\":1.5,\"count\":4294967295,\"delta\":-7,"
                                "\"tags\":[\"a\",\"\",\"c\"],\"blobs\":[\"AA==\",\"\",\"AQI=\"]}");
    assert_round_trip(&s->base);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    s = (Sample *)decode_ok(&sample_descriptor, "{\"ratio\":\"NaN\",\"weight\":\"-Infinity\"}", 0);
    assert_true(isnan(s->ratio));
    assert_true(isinf(s->weight) && s->weight < 0);
    assert_encodes_to(&s->base, "{\"ratio\":\"NaN\",\"weight\":\"-Infinity\"}");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    s = (Sample *)decode_ok(&sample_descriptor, "{\"ratio\":\"Infinity\",\"weight\":3}", 0);
    assert_true(isinf(s->ratio) && s->ratio > 0);
    assert_true(s->weight == 3.0f);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    expect_invalid(&sample_descriptor, "{\"weight\":1e300}", "weight");
    expect_invalid(&sample_descriptor, "{\"ratio\":\"1e999\"}", "ratio");
    expect_invalid(&sample_descriptor, "{\"ratio\":\"inf\"}", "ratio");
    expect_invalid(&sample_descriptor, "{\"ratio\":true}", "ratio");
    expect_invalid(&sample_descriptor, "{\"count\":-1}", "count");
    expect_invalid(&sample_descriptor, "{\"count\":4294967296}", "count");
    expect_invalid(&sample_descriptor, "{\"delta\":2147483648}", "delta");
    expect_invalid(&sample_descriptor, "{\"tags\":[\"a\",1]}", "tags[1]");
    expect_invalid(&sample_descriptor, "{\"blobs\":[\"AA==\",\"?\"]}", "blobs[1]");
}

/* The encoder writes JSON itself: for strings and reals its text must be
 * what jansson's json_dumps gives, byte for byte. */
static void test_encoding_matches_jansson(void **state)
{
    static const char *const strings[] = {
        "plain", "quote \" and backslash \\", "tab\tnew\nline\rcr\bbs\fff", "\x01\x1f\x7f",
        "slash / stays", "Stage: New → Proposition", "emoji \xF0\x9F\x98\x80", "",
    };
    static const double reals[] = {0.25, 3, -0.5, 1e20, 1e-5, 123456789012345678.0, 0.1, 1.0 / 3, 5e-324, 1e300};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        Sample s;
        sample_init(&s.base);
        char *tags[1] = {(char *)strings[i]};
        s.tags = tags;
        s.n_tags = 1;
        json_t *ref = json_pack("{s:[s]}", "tags", strings[i]);
        char *want = json_dumps(ref, JSON_COMPACT);
        assert_encodes_to(&s.base, want);
        free(want);
        json_decref(ref);
    }
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        Sample s;
        sample_init(&s.base);
        s.ratio = reals[i];
        json_t *ref = json_pack("{s:f}", "ratio", reals[i]);
        char *want = json_dumps(ref, JSON_COMPACT);
        assert_encodes_to(&s.base, want);
        assert_round_trip(&s.base);
        free(want);
        json_decref(ref);
    }
}

/* --- allocators --------------------------------------------------------- */

static void test_arena_allocator(void **state)
{
    crm_arena_t *arena = crm_arena_new();
    crm_status_t st;
    const char *json = "{\"token\":\"t\",\"user\":{\"login\":\"a\",\"teamIds\":[\"1\",\"2\"]}}";
    ProtobufCMessage *msg = crm_json_decode(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0,
                                            crm_arena_allocator(arena), &st);
    assert_non_null(msg);
    assert_true(crm_arena_used(arena) > 0);
    assert_encodes_to(msg, json);
    /* a failure part-way leaves everything to the arena */
    json = "{\"token\":\"t\",\"user\":{\"login\":\"a\",\"teamIds\":[\"1\",true]}}";
    assert_null(crm_json_decode(&crm__identity__v1__login_reply__descriptor, json, strlen(json), 0,
                                crm_arena_allocator(arena), &st));
    assert_string_equal(st.field, "user.teamIds[1]");
    crm_arena_destroy(&arena);
    assert_null(arena);
}

typedef struct {
    size_t budget;  /* allocations left before failing */
    size_t live;    /* allocations not yet freed */
} counting_t;

static void *counting_alloc(void *data, size_t size)
{
    counting_t *c = data;
    if (c->budget == 0)
        return NULL;
    c->budget--;
    c->live++;
    return crm_malloc(size);
}

static void counting_free(void *data, void *ptr)
{
    counting_t *c = data;
    c->live--;
    free(ptr);
}

static void test_failing_allocator(void **state)
{
    const char *json = "{\"id\":\"1\",\"method\":\"m\",\"principal\":{\"login\":\"p\",\"teamIds\":[\"1\"],"
                       "\"sessionId\":\"AQID\"},\"body\":\"aGk=\",\"marks\":[{\"producer\":\"a\"},{\"seq\":\"2\"}]}";
    bool succeeded = false;
    for (size_t budget = 0; budget < 64 && !succeeded; budget++) {
        counting_t c = {budget, 0};
        ProtobufCAllocator alloc = {counting_alloc, counting_free, &c};
        crm_status_t st;
        ProtobufCMessage *msg = crm_json_decode(&crm__rpc__v1__rpc_request__descriptor, json, strlen(json), 0,
                                                &alloc, &st);
        if (msg) {
            succeeded = true;
            assert_encodes_to(msg, json);
            protobuf_c_message_free_unpacked(msg, &alloc);
        } else {
            assert_int_equal(st.code, CRM__RPC__V1__CODE__CODE_RESOURCE_EXHAUSTED);
        }
        assert_int_equal(c.live, 0);
    }
    assert_true(succeeded);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_user_round_trip),
        cmocka_unit_test(test_user_team_ids_round_trip),
        cmocka_unit_test(test_login_reply_nested),
        cmocka_unit_test(test_decode_budget),
        cmocka_unit_test(test_enum_by_name_and_number),
        cmocka_unit_test(test_enum_unknown_name),
        cmocka_unit_test(test_int64_string_and_number),
        cmocka_unit_test(test_int32_range),
        cmocka_unit_test(test_bytes_base64),
        cmocka_unit_test(test_field_mask_both_ways),
        cmocka_unit_test(test_fill_update_mask),
        cmocka_unit_test(test_unknown_field),
        cmocka_unit_test(test_wrong_type_paths),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_defaults_omitted),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_error_text_is_utf8),
        cmocka_unit_test(test_snake_case_and_duplicates),
        cmocka_unit_test(test_null_means_default),
        cmocka_unit_test(test_oneof),
        cmocka_unit_test(test_other_scalar_types),
        cmocka_unit_test(test_encoding_matches_jansson),
        cmocka_unit_test(test_arena_allocator),
        cmocka_unit_test(test_failing_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
