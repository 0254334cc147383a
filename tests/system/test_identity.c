/* Identity through the gateway: sessions, throttling, invitations, rights,
 * deactivation, restarts and outages. Real processes, real stores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"
#include "identity.pb-c.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define OWN CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_OWN_LEADS
#define MANAGER CRM__COMMON__V1__SALES_ACCESS__SALES_ACCESS_MANAGER
#define M(name) "crm.identity.v1.Identity/" name

static sys_env_t *env;
static char *admin;

static int setup(void **state)
{
    static const char *const extra[] = {"CRM_LOGIN_LOCK_SECONDS=2", NULL};
    env = sys_start_admin(extra, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    return sys_stop(env) == 0 ? 0 : -1;
}

/* The call must fail with code, naming field (NULL: any field). */
static void expect_fail(sys_env_t *e, const char *method, const char *token, const ProtobufCMessage *in,
                        const ProtobufCMessageDescriptor *out_desc, Crm__Rpc__V1__Code code, const char *field)
{
    crm_status_t st;
    ProtobufCMessage *r = sys_call(e, method, token, in, out_desc, &st);
    if (r) {
        protobuf_c_message_free_unpacked(r, NULL);
        fail_msg("%s succeeded; wanted %s", method, crm_code_name(code));
    }
    assert_int_equal(st.code, code);
    if (field)
        assert_string_equal(st.field, field);
}

static Crm__Identity__V1__User *whoami(const char *token, crm_status_t *st)
{
    Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    return sys_call(env, M("WhoAmI"), token, &req.base, &crm__identity__v1__user__descriptor, st);
}

static void expect_whoami(const char *token, Crm__Rpc__V1__Code code)
{
    crm_status_t st;
    Crm__Identity__V1__User *u = whoami(token, &st);
    assert_int_equal(st.code, code);
    if (u)
        crm__identity__v1__user__free_unpacked(u, NULL);
}

static void test_login_and_whoami(void **state)
{
    crm_status_t st;
    Crm__Identity__V1__User *u = whoami(admin, &st);
    assert_non_null(u);
    assert_string_equal(u->login, "admin");
    assert_true(u->is_admin);
    assert_int_equal(u->sales_access, MANAGER);
    crm__identity__v1__user__free_unpacked(u, NULL);
}

static void test_wrong_password_and_unknown_login_look_alike(void **state)
{
    crm_status_t a, b;
    assert_int_not_equal(sys_create_user(env, admin, "alike", "right-password", OWN, 0), -1);
    assert_null(sys_login(env, "alike", "wrong-password", &a));
    assert_null(sys_login(env, "nobody-at-all", "wrong-password", &b));
    assert_int_equal(a.code, CODE(UNAUTHENTICATED));
    assert_int_equal(b.code, CODE(UNAUTHENTICATED));
    assert_string_equal(a.message, b.message);
}

static void test_throttling(void **state)
{
    crm_status_t st;
    assert_int_not_equal(sys_create_user(env, admin, "throttled", "right-password", OWN, 0), -1);
    for (int i = 0; i < 5; i++) {
        assert_null(sys_login(env, "throttled", "wrong-password", &st));
        assert_int_equal(st.code, CODE(UNAUTHENTICATED));
    }
    /* locked: even the right password is refused, and so is an unknown login
     * after its own five failures, with the same answer */
    assert_null(sys_login(env, "throttled", "right-password", &st));
    assert_int_equal(st.code, CODE(RESOURCE_EXHAUSTED));
    crm_status_t ghost;
    for (int i = 0; i < 5; i++)
        assert_null(sys_login(env, "ghost-login", "wrong-password", &ghost));
    assert_null(sys_login(env, "ghost-login", "wrong-password", &ghost));
    assert_int_equal(ghost.code, CODE(RESOURCE_EXHAUSTED));
    /* this system runs with a 2 s lock (CRM_LOGIN_LOCK_SECONDS); default 30 s */
    sleep(3);
    char *t = sys_login(env, "throttled", "right-password", &st);
    assert_non_null(t);
    free(t);
}

static void test_logout_revokes(void **state)
{
    crm_status_t st;
    char *t = sys_login(env, "admin", SYS_ADMIN_PASSWORD, &st);
    assert_non_null(t);
    expect_whoami(t, CODE(OK));
    Crm__Identity__V1__LogoutRequest req = CRM__IDENTITY__V1__LOGOUT_REQUEST__INIT;
    ProtobufCMessage *r = sys_call(env, M("Logout"), t, &req.base, &crm__identity__v1__logout_reply__descriptor, &st);
    assert_non_null(r);
    protobuf_c_message_free_unpacked(r, NULL);
    /* the gateway drops its cached principal on identity's event */
    int64_t until = sys_now_ms() + 1000;
    while (sys_now_ms() < until) {
        Crm__Identity__V1__User *u = whoami(t, &st);
        if (!u)
            break;
        crm__identity__v1__user__free_unpacked(u, NULL);
        usleep(10000);
    }
    assert_int_equal(st.code, CODE(UNAUTHENTICATED));
    assert_string_equal(st.field, "token");
    free(t);
}

static void test_missing_and_bad_token(void **state)
{
    expect_whoami(NULL, CODE(UNAUTHENTICATED));
    expect_whoami("not-a-token", CODE(UNAUTHENTICATED));
}

static void test_invitation_flow(void **state)
{
    crm_status_t st;
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = "saleslee";
    req.name = "Li";
    req.sales_access = MANAGER;
    req.hr_access = CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_EMPLOYEE;
    Crm__Identity__V1__CreateUserReply *r = sys_call(env, M("CreateUser"), admin, &req.base,
                                                     &crm__identity__v1__create_user_reply__descriptor, &st);
    assert_non_null(r);
    assert_true(strlen(r->invite_token) > 20);
    assert_true(r->invite_expires_at > 0);
    assert_int_equal(r->user->hr_access, CRM__COMMON__V1__HR_ACCESS__HR_ACCESS_EMPLOYEE);
    char *invite = strdup(r->invite_token);
    crm__identity__v1__create_user_reply__free_unpacked(r, NULL);

    /* no password yet: cannot log in */
    assert_null(sys_login(env, "saleslee", "whatever-pass", &st));

    Crm__Identity__V1__SetPasswordRequest sp = CRM__IDENTITY__V1__SET_PASSWORD_REQUEST__INIT;
    sp.invite_token = invite;
    sp.password = "short";
    expect_fail(env, M("SetPassword"), NULL, &sp.base, &crm__identity__v1__set_password_reply__descriptor, CODE(INVALID_ARGUMENT), "password");

    sp.password = "li-password-1";
    ProtobufCMessage *ok = sys_call(env, M("SetPassword"), NULL, &sp.base, &crm__identity__v1__set_password_reply__descriptor, &st);
    assert_non_null(ok);
    protobuf_c_message_free_unpacked(ok, NULL);
    char *t = sys_login(env, "saleslee", "li-password-1", &st);
    assert_non_null(t);
    free(t);

    /* single use */
    sp.password = "another-pass-2";
    expect_fail(env, M("SetPassword"), NULL, &sp.base, &crm__identity__v1__set_password_reply__descriptor, CODE(PERMISSION_DENIED), "inviteToken");
    sp.invite_token = "forged-token";
    expect_fail(env, M("SetPassword"), NULL, &sp.base, &crm__identity__v1__set_password_reply__descriptor, CODE(PERMISSION_DENIED), NULL);

    /* an invitation is spent once an administrator has set the password */
    Crm__Identity__V1__CreateUserRequest req2 = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req2.login = "invited2";
    req2.name = "Second";
    r = sys_call(env, M("CreateUser"), admin, &req2.base, &crm__identity__v1__create_user_reply__descriptor, &st);
    assert_non_null(r);
    Crm__Identity__V1__ChangePasswordRequest cp = CRM__IDENTITY__V1__CHANGE_PASSWORD_REQUEST__INIT;
    cp.user_id = r->user->id;
    cp.new_password = "set-by-admin-2";
    ProtobufCMessage *done = sys_call(env, M("ChangePassword"), admin, &cp.base,
                                      &crm__identity__v1__change_password_reply__descriptor, &st);
    assert_non_null(done);
    protobuf_c_message_free_unpacked(done, NULL);
    sp.invite_token = r->invite_token;
    sp.password = "takeover-pass";
    expect_fail(env, M("SetPassword"), NULL, &sp.base, &crm__identity__v1__set_password_reply__descriptor, CODE(PERMISSION_DENIED), NULL);
    crm__identity__v1__create_user_reply__free_unpacked(r, NULL);
    char *t3 = sys_login(env, "invited2", "set-by-admin-2", &st);
    assert_non_null(t3);
    free(t3);
    free(invite);
}

static void test_admin_versus_user_rights(void **state)
{
    crm_status_t st;
    int64_t uid = sys_create_user(env, admin, "plainuser", "plain-pass-1", OWN, 0);
    int64_t other = sys_create_user(env, admin, "otheruser", "other-pass-1", OWN, 0);
    assert_true(uid > 0 && other > 0);
    char *t = sys_login(env, "plainuser", "plain-pass-1", &st);
    assert_non_null(t);

    Crm__Identity__V1__CreateUserRequest cu = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    cu.login = "sneaky";
    cu.name = "Sneaky";
    expect_fail(env, M("CreateUser"), t, &cu.base, &crm__identity__v1__create_user_reply__descriptor, CODE(PERMISSION_DENIED), NULL);

    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"is_admin"};
    mask.paths = paths;
    mask.n_paths = 1;
    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = uid;
    uu.is_admin = 1;
    uu.update_mask = &mask;
    expect_fail(env, M("UpdateUser"), t, &uu.base, &crm__identity__v1__user__descriptor, CODE(PERMISSION_DENIED), NULL);

    Crm__Identity__V1__ChangePasswordRequest cp = CRM__IDENTITY__V1__CHANGE_PASSWORD_REQUEST__INIT;
    cp.user_id = other;
    cp.new_password = "hijacked-pass";
    expect_fail(env, M("ChangePassword"), t, &cp.base, &crm__identity__v1__change_password_reply__descriptor, CODE(PERMISSION_DENIED), NULL);

    /* one's own password needs the old one, and the right one */
    cp.user_id = 0;
    cp.new_password = "plain-pass-2";
    cp.old_password = "wrong-old-pass";
    expect_fail(env, M("ChangePassword"), t, &cp.base, &crm__identity__v1__change_password_reply__descriptor, CODE(PERMISSION_DENIED), "oldPassword");
    cp.old_password = "plain-pass-1";
    ProtobufCMessage *ok = sys_call(env, M("ChangePassword"), t, &cp.base, &crm__identity__v1__change_password_reply__descriptor, &st);
    assert_non_null(ok);
    protobuf_c_message_free_unpacked(ok, NULL);
    char *t2 = sys_login(env, "plainuser", "plain-pass-2", &st);
    assert_non_null(t2);
    free(t2);

    /* an administrator sets anyone's ("Change Password" without mail) */
    cp.user_id = other;
    cp.new_password = "set-by-admin-1";
    cp.old_password = "";
    ok = sys_call(env, M("ChangePassword"), admin, &cp.base, &crm__identity__v1__change_password_reply__descriptor, &st);
    assert_non_null(ok);
    protobuf_c_message_free_unpacked(ok, NULL);
    t2 = sys_login(env, "otheruser", "set-by-admin-1", &st);
    assert_non_null(t2);
    free(t2);

    /* own-leads users don't configure teams; managers do */
    Crm__Identity__V1__CreateTeamRequest ct = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    int64_t members[] = {uid, other};
    ct.name = "Sales";
    ct.member_ids = members;
    ct.n_member_ids = 2;
    expect_fail(env, M("CreateTeam"), t, &ct.base, &crm__identity__v1__team__descriptor, CODE(PERMISSION_DENIED), NULL);
    Crm__Identity__V1__Team *team = sys_call(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(team);
    int64_t team_id = team->id;
    crm__identity__v1__team__free_unpacked(team, NULL);

    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = other;
    Crm__Identity__V1__User *u = sys_call(env, M("GetUser"), t, &gu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    assert_int_equal(u->n_team_ids, 1);
    assert_int_equal(u->team_ids[0], team_id);
    crm__identity__v1__user__free_unpacked(u, NULL);
    free(t);
}

static void test_deactivation_revokes_at_once(void **state)
{
    crm_status_t st;
    int64_t uid = sys_create_user(env, admin, "leaver", "leaver-pass-1", OWN, 0);
    char *t = sys_login(env, "leaver", "leaver-pass-1", &st);
    assert_non_null(t);
    expect_whoami(t, CODE(OK)); /* now cached at the gateway */

    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"active"};
    mask.paths = paths;
    mask.n_paths = 1;
    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = uid;
    uu.active = 0;
    uu.update_mask = &mask;
    Crm__Identity__V1__User *u = sys_call(env, M("UpdateUser"), admin, &uu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    assert_false(u->active);
    crm__identity__v1__user__free_unpacked(u, NULL);

    int64_t until = sys_now_ms() + 1000;
    Crm__Identity__V1__User *still;
    while ((still = whoami(t, &st)) && sys_now_ms() < until) {
        crm__identity__v1__user__free_unpacked(still, NULL);
        usleep(5000);
    }
    assert_null(still);
    assert_int_equal(st.code, CODE(UNAUTHENTICATED));
    assert_null(sys_login(env, "leaver", "leaver-pass-1", &st));
    assert_int_equal(st.code, CODE(UNAUTHENTICATED));

    /* administrators can't lock themselves out */
    uu.id = 1;
    expect_fail(env, M("UpdateUser"), admin, &uu.base, &crm__identity__v1__user__descriptor, CODE(FAILED_PRECONDITION), NULL);
    free(t);
}

static void test_validation_errors(void **state)
{
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = "has space";
    req.name = "x";
    expect_fail(env, M("CreateUser"), admin, &req.base, &crm__identity__v1__create_user_reply__descriptor, CODE(INVALID_ARGUMENT), "login");
    req.login = "badname";
    req.name = "\xff\xfe bad";
    expect_fail(env, M("CreateUser"), admin, &req.base, &crm__identity__v1__create_user_reply__descriptor, CODE(INVALID_ARGUMENT), "name");
    req.name = "Good";
    req.email = "not-an-email";
    expect_fail(env, M("CreateUser"), admin, &req.base, &crm__identity__v1__create_user_reply__descriptor, CODE(INVALID_ARGUMENT), "email");
    req.email = "";
    req.sales_access = 42;
    expect_fail(env, M("CreateUser"), admin, &req.base, &crm__identity__v1__create_user_reply__descriptor, CODE(INVALID_ARGUMENT), "salesAccess");
    req.sales_access = 0;
    req.login = "admin";
    expect_fail(env, M("CreateUser"), admin, &req.base, &crm__identity__v1__create_user_reply__descriptor, CODE(ALREADY_EXISTS), "login");

    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = 1;
    expect_fail(env, M("UpdateUser"), admin, &uu.base, &crm__identity__v1__user__descriptor, CODE(INVALID_ARGUMENT), "updateMask");

    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = 99999;
    expect_fail(env, M("GetUser"), admin, &gu.base, &crm__identity__v1__user__descriptor, CODE(NOT_FOUND), NULL);
}

static void test_idempotent_create(void **state)
{
    crm_status_t st;
    Crm__Identity__V1__CreateUserRequest req = CRM__IDENTITY__V1__CREATE_USER_REQUEST__INIT;
    req.login = "once-only";
    req.name = "Once";
    req.password = "once-pass-1";
    Crm__Identity__V1__CreateUserReply *a = sys_call_idem(env, M("CreateUser"), admin, "key-1", &req.base,
                                                          &crm__identity__v1__create_user_reply__descriptor, &st);
    assert_non_null(a);
    Crm__Identity__V1__CreateUserReply *b = sys_call_idem(env, M("CreateUser"), admin, "key-1", &req.base,
                                                          &crm__identity__v1__create_user_reply__descriptor, &st);
    assert_non_null(b);
    assert_int_equal(a->user->id, b->user->id);
    req.name = "Different";
    assert_null(sys_call_idem(env, M("CreateUser"), admin, "key-1", &req.base,
                              &crm__identity__v1__create_user_reply__descriptor, &st));
    assert_int_equal(st.code, CODE(INVALID_ARGUMENT));
    assert_string_equal(st.field, "idempotencyKey");
    crm__identity__v1__create_user_reply__free_unpacked(a, NULL);
    crm__identity__v1__create_user_reply__free_unpacked(b, NULL);
}

static void test_list_users_paging(void **state)
{
    crm_status_t st;
    for (int i = 0; i < 5; i++) {
        char login[32];
        snprintf(login, sizeof login, "pager%d", i);
        assert_int_not_equal(sys_create_user(env, admin, login, "pager-pass-1", OWN, 0), -1);
    }
    Crm__Identity__V1__ListUsersRequest req = CRM__IDENTITY__V1__LIST_USERS_REQUEST__INIT;
    req.page_size = 2;
    int64_t last = 0;
    size_t total = 0;
    char token[64] = "";
    for (int page = 0; page < 100; page++) {
        req.page_token = token;
        Crm__Identity__V1__ListUsersReply *r = sys_call(env, M("ListUsers"), admin, &req.base,
                                                        &crm__identity__v1__list_users_reply__descriptor, &st);
        assert_non_null(r);
        assert_true(r->n_users <= 2);
        for (size_t i = 0; i < r->n_users; i++) {
            assert_true(r->users[i]->id > last); /* stable order, no repeats */
            last = r->users[i]->id;
        }
        total += r->n_users;
        snprintf(token, sizeof token, "%s", r->next_page_token);
        crm__identity__v1__list_users_reply__free_unpacked(r, NULL);
        if (!token[0])
            break;
    }
    assert_true(total >= 6);
    req.page_token = "garbage!";
    expect_fail(env, M("ListUsers"), admin, &req.base, &crm__identity__v1__list_users_reply__descriptor, CODE(INVALID_ARGUMENT), "pageToken");
}

/* Every list handler reads its paging through crm_call_page: the size is
 * checked before the token, and each error names its field. */
static void test_list_paging_errors(void **state)
{
    Crm__Identity__V1__ListUsersRequest req = CRM__IDENTITY__V1__LIST_USERS_REQUEST__INIT;
    req.page_size = -1;
    req.page_token = "garbage!";
    expect_fail(env, M("ListUsers"), admin, &req.base, &crm__identity__v1__list_users_reply__descriptor, CODE(INVALID_ARGUMENT), "pageSize");
    req.page_size = 1;
    req.page_token = "AAAAAAAAAAAA"; /* 12 characters: one too many */
    expect_fail(env, M("ListUsers"), admin, &req.base, &crm__identity__v1__list_users_reply__descriptor, CODE(INVALID_ARGUMENT), "pageToken");
}

/* --- tests with a system of their own ----------------------------------------- */

static void test_session_expiry(void **state)
{
    static const char *const extra[] = {"CRM_SESSION_SECONDS=1", NULL};
    char *t;
    sys_env_t *e = sys_start_admin(extra, &t);
    assert_non_null(e);
    crm_status_t st;
    Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *u = sys_call(e, M("WhoAmI"), t, &req.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    protobuf_c_message_free_unpacked(u, NULL);
    usleep(1300000);
    /* the gateway's cache never outlives the session */
    expect_fail(e, M("WhoAmI"), t, &req.base, &crm__identity__v1__user__descriptor, CODE(UNAUTHENTICATED), NULL);
    free(t);
    assert_int_equal(sys_stop(e), 0);
}

static void test_restart_keeps_data_and_outage_recovers(void **state)
{
    static const char *const extra[] = {"CRM_DEADLINE_MS=1000", NULL};
    char *t;
    sys_env_t *e = sys_start_admin(extra, &t);
    assert_non_null(e);
    crm_status_t st;
    int64_t uid = sys_create_user(e, t, "survivor", "survivor-pass", OWN, 0);
    assert_true(uid > 0);

    /* a clean restart keeps users, and the admin is not created again */
    assert_int_equal(sys_kill(e, SYS_IDENTITY, SIGTERM), 0);
    assert_int_equal(sys_spawn(e, SYS_IDENTITY), 0);
    assert_int_equal(sys_wait_ready(e, SYS_IDENTITY, 15000), 0);
    char *t2 = sys_login(e, "survivor", "survivor-pass", &st);
    assert_non_null(t2);
    free(t2);

    /* identity down: unavailable within the deadline (1 s here) */
    assert_int_equal(sys_kill(e, SYS_IDENTITY, SIGKILL), 0);
    int64_t start = sys_now_ms();
    assert_null(sys_login(e, "survivor", "survivor-pass", &st));
    assert_int_equal(st.code, CODE(UNAVAILABLE));
    assert_true(sys_now_ms() - start < 1500);

    /* back without restarting the gateway */
    assert_int_equal(sys_spawn(e, SYS_IDENTITY), 0);
    assert_int_equal(sys_wait_ready(e, SYS_IDENTITY, 15000), 0);
    t2 = sys_login(e, "survivor", "survivor-pass", &st);
    assert_non_null(t2);
    free(t2);
    /* and a session from before the crash is still valid: sessions are durable */
    Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *u = sys_call(e, M("WhoAmI"), t, &req.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    protobuf_c_message_free_unpacked(u, NULL);
    free(t);
    assert_int_equal(sys_stop(e), 0);
}

static void test_rate_limit_per_session(void **state)
{
    static const char *const extra[] = {"CRM_RATE_PER_SESSION=5", NULL};
    char *t;
    sys_env_t *e = sys_start_admin(extra, &t);
    assert_non_null(e);
    crm_status_t st;
    Crm__Identity__V1__WhoAmIRequest req = CRM__IDENTITY__V1__WHO_AM_IREQUEST__INIT;
    int ok = 0, limited = 0;
    for (int i = 0; i < 20; i++) {
        ProtobufCMessage *u = sys_call(e, M("WhoAmI"), t, &req.base, &crm__identity__v1__user__descriptor, &st);
        if (u) {
            ok++;
            protobuf_c_message_free_unpacked(u, NULL);
        } else {
            assert_int_equal(st.code, CODE(RESOURCE_EXHAUSTED));
            limited++;
        }
    }
    assert_true(ok >= 5 && ok < 20);
    assert_true(limited > 0);
    /* another session has its own bucket */
    char *t2 = sys_login(e, "admin", SYS_ADMIN_PASSWORD, &st);
    ProtobufCMessage *u = sys_call(e, M("WhoAmI"), t2, &req.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    protobuf_c_message_free_unpacked(u, NULL);
    sleep(1);
    u = sys_call(e, M("WhoAmI"), t, &req.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    protobuf_c_message_free_unpacked(u, NULL);
    free(t);
    free(t2);
    assert_int_equal(sys_stop(e), 0);
}

static void test_gateway_stops_cleanly_with_calls_in_flight(void **state)
{
    sys_env_t *e = sys_start(NULL);
    assert_non_null(e);
    kill(e->pid[SYS_IDENTITY], SIGSTOP); /* calls now wait for an answer */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        char *out = NULL;
        const char *body = "{\"login\":\"admin\",\"password\":\"x\"}";
        int status = sys_http(e, "POST", "/twirp/crm.identity.v1.Identity/Login",
                              "Content-Type: application/json\r\n", body, strlen(body), &out, NULL);
        dprintf(fds[1], "%d %s", status, out ? out : "");
        _exit(0);
    }
    usleep(300000);
    assert_int_equal(sys_kill(e, SYS_GATEWAY, SIGTERM), 0); /* exit 0: no abort, no leak */
    char buf[256] = "";
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    waitpid(child, NULL, 0);
    assert_non_null(strstr(buf, "503"));
    assert_non_null(strstr(buf, "\"code\":\"unavailable\""));
    kill(e->pid[SYS_IDENTITY], SIGCONT);
    assert_int_equal(sys_stop(e), 0);
}

/* The teams a user belongs to, as GetUser tells. */
static size_t user_teams(int64_t id, int64_t *first)
{
    crm_status_t st;
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = id;
    Crm__Identity__V1__User *u = sys_call(env, M("GetUser"), admin, &gu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    size_t n = u->n_team_ids;
    *first = n ? u->team_ids[0] : 0;
    crm__identity__v1__user__free_unpacked(u, NULL);
    return n;
}

/* Teams: people must be active users (named by the field at fault),
 * members are kept once, a change of members moves each user's teams, a
 * mask or id that names nothing is refused, and only managers change
 * teams. */
static void test_teams(void **state)
{
    crm_status_t st;
    int64_t lead = sys_create_user(env, admin, "teamlead", "teamlead-pass-1", MANAGER, 0);
    int64_t a = sys_create_user(env, admin, "member.a", "member-pass-1", OWN, 0);
    int64_t b = sys_create_user(env, admin, "member.b", "member-pass-1", OWN, 0);
    assert_true(lead > 0 && a > 0 && b > 0);

    Crm__Identity__V1__CreateTeamRequest ct = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    ct.name = "Direct sales";
    ct.leader_id = 999999;
    expect_fail(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, CODE(INVALID_ARGUMENT),
                "leaderId");
    ct.leader_id = lead;
    int64_t unknown[] = {a, 999998};
    ct.member_ids = unknown;
    ct.n_member_ids = 2;
    expect_fail(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, CODE(INVALID_ARGUMENT),
                "memberIds");
    ct.name = "";
    ct.n_member_ids = 0;
    expect_fail(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, CODE(INVALID_ARGUMENT),
                "name");
    ct.name = "Direct sales";
    int64_t twice[] = {a, a};
    ct.member_ids = twice;
    ct.n_member_ids = 2;
    Crm__Identity__V1__Team *team = sys_call(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor,
                                             &st);
    assert_non_null(team);
    assert_int_equal(team->n_member_ids, 1); /* kept once */
    int64_t team_id = team->id, first;
    crm__identity__v1__team__free_unpacked(team, NULL);
    assert_int_equal(user_teams(a, &first), 1);
    assert_true(first == team_id);
    assert_int_equal(user_teams(lead, &first), 1);

    /* b in, a out: each user's teams follow */
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *members_path[] = {"member_ids"}, *bad_path[] = {"created_at"};
    mask.paths = members_path;
    mask.n_paths = 1;
    Crm__Identity__V1__UpdateTeamRequest ut = CRM__IDENTITY__V1__UPDATE_TEAM_REQUEST__INIT;
    int64_t only_b[] = {b};
    ut.id = team_id;
    ut.member_ids = only_b;
    ut.n_member_ids = 1;
    ut.update_mask = &mask;
    team = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(team);
    crm__identity__v1__team__free_unpacked(team, NULL);
    assert_int_equal(user_teams(a, &first), 0);
    assert_int_equal(user_teams(b, &first), 1);
    assert_true(first == team_id);
    assert_int_equal(user_teams(lead, &first), 1); /* the leader stays */

    char *a_token = sys_login(env, "member.a", "member-pass-1", &st);
    assert_non_null(a_token);
    expect_fail(env, M("UpdateTeam"), a_token, &ut.base, &crm__identity__v1__team__descriptor, CODE(PERMISSION_DENIED),
                NULL);
    free(a_token);
    mask.paths = bad_path;
    expect_fail(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, CODE(INVALID_ARGUMENT),
                "updateMask");
    mask.paths = members_path;
    ut.id = 424242;
    expect_fail(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, CODE(NOT_FOUND), "id");
    Crm__Identity__V1__GetTeamRequest gt = CRM__IDENTITY__V1__GET_TEAM_REQUEST__INIT;
    gt.id = 424242;
    expect_fail(env, M("GetTeam"), admin, &gt.base, &crm__identity__v1__team__descriptor, CODE(NOT_FOUND), "id");

    /* b deactivated: still a member, the team can still be renamed; b cannot
     * be added again elsewhere, nor a come back while inactive */
    Google__Protobuf__FieldMask active_mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *active_path[] = {"active"};
    active_mask.paths = active_path;
    active_mask.n_paths = 1;
    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = b;
    uu.active = 0;
    uu.update_mask = &active_mask;
    Crm__Identity__V1__User *u = sys_call(env, M("UpdateUser"), admin, &uu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    crm__identity__v1__user__free_unpacked(u, NULL);
    char *name_path[] = {"name"};
    mask.paths = name_path;
    ut.id = team_id;
    ut.name = "Direct sales";
    team = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(team);
    assert_int_equal(team->n_member_ids, 1);
    assert_true(team->member_ids[0] == b);
    crm__identity__v1__team__free_unpacked(team, NULL);
    int64_t a_and_b[] = {a, b};
    mask.paths = members_path;
    ut.member_ids = a_and_b;
    ut.n_member_ids = 2;
    team = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(team); /* a added, b kept */
    assert_int_equal(team->n_member_ids, 2);
    crm__identity__v1__team__free_unpacked(team, NULL);
    ct.name = "Field sales";
    int64_t just_b[] = {b};
    ct.member_ids = just_b;
    ct.n_member_ids = 1;
    expect_fail(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, CODE(INVALID_ARGUMENT),
                "memberIds");

    Crm__Identity__V1__ListTeamsRequest lt = CRM__IDENTITY__V1__LIST_TEAMS_REQUEST__INIT;
    Crm__Identity__V1__ListTeamsReply *all = sys_call(env, M("ListTeams"), admin, &lt.base,
                                                      &crm__identity__v1__list_teams_reply__descriptor, &st);
    assert_non_null(all);
    int found = 0;
    for (size_t i = 0; i < all->n_teams; i++)
        found |= all->teams[i]->id == team_id && !strcmp(all->teams[i]->name, "Direct sales");
    assert_true(found);
    crm__identity__v1__list_teams_reply__free_unpacked(all, NULL);
}

/* A user's default team: theirs to choose among their teams (the only
 * field they change on themselves), cleared when they leave it. Archived
 * teams: out of ListTeams unless asked for, written by managers only. */
static void test_default_team_and_archived_teams(void **state)
{
    crm_status_t st;
    int64_t uid = sys_create_user(env, admin, "defaulter", "defaulter-pass-1", OWN, 0);
    assert_true(uid > 0);
    char *t = sys_login(env, "defaulter", "defaulter-pass-1", &st);
    assert_non_null(t);
    int64_t members[] = {uid};
    Crm__Identity__V1__CreateTeamRequest ct = CRM__IDENTITY__V1__CREATE_TEAM_REQUEST__INIT;
    ct.name = "Default A";
    ct.member_ids = members;
    ct.n_member_ids = 1;
    Crm__Identity__V1__Team *a = sys_call(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(a);
    ct.name = "Not theirs";
    ct.n_member_ids = 0;
    Crm__Identity__V1__Team *b = sys_call(env, M("CreateTeam"), admin, &ct.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(b);

    char *default_path[] = {"default_team_id"}, *two_paths[] = {"default_team_id", "name"};
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = default_path;
    mask.n_paths = 1;
    Crm__Identity__V1__UpdateUserRequest uu = CRM__IDENTITY__V1__UPDATE_USER_REQUEST__INIT;
    uu.id = uid;
    uu.default_team_id = b->id;
    uu.update_mask = &mask;
    expect_fail(env, M("UpdateUser"), t, &uu.base, &crm__identity__v1__user__descriptor, CODE(INVALID_ARGUMENT),
                "defaultTeamId");
    uu.default_team_id = a->id;
    Crm__Identity__V1__User *u = sys_call(env, M("UpdateUser"), t, &uu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    assert_int_equal(u->default_team_id, a->id);
    crm__identity__v1__user__free_unpacked(u, NULL);
    /* nothing else of themselves, nor anyone else's */
    mask.paths = two_paths;
    mask.n_paths = 2;
    uu.name = "Renamed";
    expect_fail(env, M("UpdateUser"), t, &uu.base, &crm__identity__v1__user__descriptor, CODE(PERMISSION_DENIED), NULL);
    mask.paths = default_path;
    mask.n_paths = 1;
    uu.id = 1;
    uu.default_team_id = 0;
    expect_fail(env, M("UpdateUser"), t, &uu.base, &crm__identity__v1__user__descriptor, CODE(PERMISSION_DENIED), NULL);

    /* leaving the team clears it */
    char *members_path[] = {"member_ids"}, *archived_path[] = {"archived"};
    Google__Protobuf__FieldMask tm = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    tm.paths = members_path;
    tm.n_paths = 1;
    Crm__Identity__V1__UpdateTeamRequest ut = CRM__IDENTITY__V1__UPDATE_TEAM_REQUEST__INIT;
    ut.id = a->id;
    ut.update_mask = &tm;
    Crm__Identity__V1__Team *changed = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(changed);
    crm__identity__v1__team__free_unpacked(changed, NULL);
    Crm__Identity__V1__GetUserRequest gu = CRM__IDENTITY__V1__GET_USER_REQUEST__INIT;
    gu.id = uid;
    u = sys_call(env, M("GetUser"), admin, &gu.base, &crm__identity__v1__user__descriptor, &st);
    assert_non_null(u);
    assert_int_equal(u->default_team_id, 0);
    assert_int_equal(u->n_team_ids, 0);
    crm__identity__v1__user__free_unpacked(u, NULL);

    /* archived: managers only, hidden from ListTeams unless included */
    tm.paths = archived_path;
    ut.archived = 1;
    expect_fail(env, M("UpdateTeam"), t, &ut.base, &crm__identity__v1__team__descriptor, CODE(PERMISSION_DENIED), NULL);
    changed = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(changed);
    assert_true(changed->archived);
    crm__identity__v1__team__free_unpacked(changed, NULL);
    Crm__Identity__V1__ListTeamsRequest lt = CRM__IDENTITY__V1__LIST_TEAMS_REQUEST__INIT;
    for (int include = 0; include < 2; include++) {
        lt.include_archived = include;
        Crm__Identity__V1__ListTeamsReply *list =
            sys_call(env, M("ListTeams"), t, &lt.base, &crm__identity__v1__list_teams_reply__descriptor, &st);
        assert_non_null(list);
        int seen_a = 0, seen_b = 0;
        for (size_t i = 0; i < list->n_teams; i++) {
            seen_a |= list->teams[i]->id == a->id;
            seen_b |= list->teams[i]->id == b->id;
        }
        assert_int_equal(seen_a, include);
        assert_true(seen_b);
        crm__identity__v1__list_teams_reply__free_unpacked(list, NULL);
    }
    /* restored the same way */
    ut.archived = 0;
    changed = sys_call(env, M("UpdateTeam"), admin, &ut.base, &crm__identity__v1__team__descriptor, &st);
    assert_non_null(changed);
    assert_false(changed->archived);
    crm__identity__v1__team__free_unpacked(changed, NULL);
    crm__identity__v1__team__free_unpacked(a, NULL);
    crm__identity__v1__team__free_unpacked(b, NULL);
    free(t);
}

int main(void)
{
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_login_and_whoami),
        cmocka_unit_test(test_wrong_password_and_unknown_login_look_alike),
        cmocka_unit_test(test_throttling),
        cmocka_unit_test(test_logout_revokes),
        cmocka_unit_test(test_missing_and_bad_token),
        cmocka_unit_test(test_invitation_flow),
        cmocka_unit_test(test_admin_versus_user_rights),
        cmocka_unit_test(test_deactivation_revokes_at_once),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_idempotent_create),
        cmocka_unit_test(test_list_users_paging),
        cmocka_unit_test(test_list_paging_errors),
        cmocka_unit_test(test_teams),
        cmocka_unit_test(test_default_team_and_archived_teams),
    };
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_session_expiry),
        cmocka_unit_test(test_restart_keeps_data_and_outage_recovers),
        cmocka_unit_test(test_rate_limit_per_session),
        cmocka_unit_test(test_gateway_stops_cleanly_with_calls_in_flight),
    };
    int failed = cmocka_run_group_tests_name("identity", shared, setup, teardown);
    failed += cmocka_run_group_tests_name("identity-restarts", own, NULL, NULL);
    return failed;
}
