/* Notifications through the gateway: the seed's following steps seen in the
 * inbox, on the SSE stream and on `crmctl tail`; subtypes, auto-follow and
 * its switch; the access rules; exactly-once entries while notifications is
 * down or killed mid-stream (and on a stream that lives through it);
 * Last-Event-ID; a stalled SSE client dropped without delaying others; bad
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define P(m) "crm.pipeline.v1.Pipeline/" m
#define I(m) "crm.identity.v1.Identity/" m
#define A(m) "crm.activities.v1.Activities/" m
#define N(m) "crm.notifications.v1.Notifications/" m

/* the bound on the seed's steps */
#define DELIVERY_MS 1000

static sys_env_t *env;
static char *admin;
#define new_opportunity(token, name, salesperson) sys_new_opportunity(env, token, name, salesperson)
#define unread(token) sys_unread(env, token)
#define wait_unread(token, want, ms) sys_wait_unread(env, token, want, ms)
#define stage_named(name) sys_stage_id(env, admin, name)
#define login_new_user(login, access, id) sys_new_sales_user(env, admin, login, login, access, id)

/* a small SSE buffer, so the stalled client of test_stalled_stream is
 * dropped after little data */
static const char *const small_sse_buffer[] = {"CRM_SSE_BUFFER=16384", NULL};

static int setup(void **state)
{
    env = sys_start_admin(small_sse_buffer, &admin);
    return env ? 0 : -1;
}

static int teardown(void **state)
{
    free(admin);
    admin = NULL;
    int bad = sys_stop(env);
    env = NULL;
    return bad == 0 ? 0 : -1;
}

/* Waits until notifications knows of lead: a read by its creator's session
 * carries the marks of the creator's writes, so notifications holds it
 * until it has applied them; other users may follow the lead after this. */
static void known(const char *creator, int64_t lead)
{
    json_decref(OK(creator, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead));
}

static void move_stage(const char *token, int64_t lead, int64_t stage)
{
    json_decref(OK(token, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\"}", (long long)lead, (long long)stage));
}

/* The whole inbox, newest first, read page by page. A new array. */
static json_t *inbox(const char *token, int unread_only)
{
    json_t *all = json_array();
    char page[64] = "";
    for (;;) {
        json_t *r = OK(token, N("ListInbox"), "{\"unreadOnly\":%s,\"pageSize\":7,\"pageToken\":\"%s\"}",
                       unread_only ? "true" : "false", page);
        json_array_extend(all, json_object_get(r, "notifications"));
        snprintf(page, sizeof page, "%s", sys_jstr(r, "nextPageToken"));
        json_decref(r);
        if (!page[0])
            return all;
    }
}

/* --- crmctl tail ------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int out;          /* its stdout */
    char err_log[300];
    char buf[65536];
    size_t len;
} tail_t;

/* Starts `crmctl tail` with args (NULL-terminated) and waits until it says
 * it is listening (its subscription is live). */
static void tail_start(tail_t *t, const char *a1, const char *a2)
{
    char path[512];
    sys_program(path, sizeof path, "crmctl");
    snprintf(t->err_log, sizeof t->err_log, "%s/tail-%d.err", env->dir, (int)sys_now_ms());
    int p[2];
    assert_int_equal(pipe(p), 0);
    t->len = 0;
    t->pid = fork();
    assert_true(t->pid >= 0);
    if (t->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        dup2(p[1], 1);
        int fd = open(t->err_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        close(p[0]);
        close(p[1]);
        execl(path, path, "tail", "--stream", env->notifications_stream, a1, a2, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    t->out = p[0];
    int64_t until = sys_now_ms() + SYS_TIMEOUT_MS;
    for (;;) {
        char text[4096] = "";
        FILE *f = fopen(t->err_log, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            text[n] = '\0';
            fclose(f);
        }
        if (strstr(text, "listening"))
            return;
        int status;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid)
            fail_msg("crmctl tail ended before listening: %.500s", text);
        if (sys_now_ms() >= until) {
            sys_reap(t->pid, 0, &status);
            fail_msg("crmctl tail not listening after %d ms: %.500s", SYS_TIMEOUT_MS, text);
        }
        usleep(10000);
    }
}

/* The next JSON line tail printed within ms, or NULL. */
static json_t *tail_next(tail_t *t, int ms)
{
    int64_t until = sys_now_ms() + ms;
    for (;;) {
        char *nl = memchr(t->buf, '\n', t->len);
        if (nl) {
            *nl = '\0';
            json_t *j = json_loads(t->buf, 0, NULL);
            assert_non_null(j); /* every line is one JSON object */
            size_t used = (size_t)(nl + 1 - t->buf);
            memmove(t->buf, t->buf + used, t->len - used);
            t->len -= used;
            return j;
        }
        int64_t left = until - sys_now_ms();
        if (left <= 0)
            return NULL;
        struct pollfd p = {t->out, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = read(t->out, t->buf + t->len, sizeof t->buf - t->len - 1);
        if (n <= 0)
            return NULL;
        t->len += (size_t)n;
    }
}

static void tail_stop(tail_t *t)
{
    kill(t->pid, SIGTERM);
    int status;
    int reaped = sys_reap(t->pid, SYS_TIMEOUT_MS, &status);
    close(t->out);
    assert_int_equal(reaped, 0); /* it ends on SIGTERM */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* --- the seed's steps ----------------------------------------------------------------- */

static void test_seed_following(void **state)
{
    int64_t lee_id, mia_id;
    char *lee = login_new_user("saleslee", "SALES_ACCESS_ALL_LEADS", &lee_id);
    char *mia = login_new_user("mia", "SALES_ACCESS_ALL_LEADS", &mia_id);
    int64_t lead = new_opportunity(lee, "Seed deal", lee_id);
    known(lee, lead);

    /* creator and salesperson follow by themselves; mia chooses to */
    json_t *f = OK(mia, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    assert_int_equal(sys_jint(f, "userId"), mia_id);
    assert_int_equal(json_array_size(json_object_get(f, "subtypes")), 6); /* every subtype, activities included */
    assert_false(json_is_true(json_object_get(f, "automatic")));
    json_decref(f);
    json_t *fl = OK(mia, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    json_t *list = json_object_get(fl, "followers");
    assert_int_equal(json_array_size(list), 2);
    assert_int_equal(sys_jint(json_array_get(list, 0), "userId"), lee_id);
    assert_true(json_is_true(json_object_get(json_array_get(list, 0), "automatic")));
    assert_string_equal(sys_jstr(json_array_get(list, 0), "userName"), "saleslee");
    assert_int_equal(sys_jint(json_array_get(list, 1), "userId"), mia_id);
    json_decref(fl);

    /* mia watches her stream and a developer tails hers */
    int status;
    sys_sse_t *sse = sys_sse_open(env, mia, 0, &status);
    assert_non_null(sse);
    char user_arg[32];
    snprintf(user_arg, sizeof user_arg, "%lld", (long long)mia_id);
    tail_t tail;
    tail_start(&tail, "--user", user_arg);

    int64_t t0 = sys_now_ms();
    move_stage(lee, lead, stage_named("Proposition"));
    assert_int_equal(wait_unread(mia, 1, DELIVERY_MS), 1);
    int64_t id;
    json_t *data;
    assert_int_equal(sys_sse_next(sse, DELIVERY_MS, &id, &data), 1);
    json_t *line = tail_next(&tail, DELIVERY_MS);
    int64_t took = sys_now_ms() - t0;
    assert_non_null(line);
    assert_true(took <= DELIVERY_MS + 100); /* all three, well within a second here */
    json_t *in = inbox(mia, 1);
    assert_int_equal(json_array_size(in), 1);
    json_t *e = json_array_get(in, 0);
    assert_string_equal(sys_jstr(e, "subtype"), "SUBTYPE_STAGE_CHANGED");
    /* the status and probability the stage brings come along */
    assert_true(!strncmp(sys_jstr(e, "summary"), "Stage: New → Proposition\n", strlen("Stage: New → Proposition\n")));
    assert_string_equal(sys_jstr(e, "doc.model"), "lead");
    assert_int_equal(sys_jint(e, "doc.id"), lead);
    assert_string_equal(sys_jstr(e, "docName"), "Seed deal");
    assert_int_equal(sys_jint(e, "authorId"), lee_id);
    assert_string_equal(sys_jstr(e, "authorName"), "saleslee");
    assert_int_equal(sys_jint(e, "userId"), mia_id);
    /* the same entry on the stream and on tail */
    assert_int_equal(id, sys_jint(e, "id"));
    assert_int_equal(sys_jint(data, "id"), id);
    assert_string_equal(sys_jstr(data, "summary"), sys_jstr(e, "summary"));
    assert_int_equal(sys_jint(line, "seq"), id);
    assert_int_equal(sys_jint(line, "topicSeq"), 1);
    assert_int_equal(sys_jint(line, "notification.id"), id);
    assert_string_equal(sys_jstr(line, "notification.subtype"), "SUBTYPE_STAGE_CHANGED");
    json_decref(line);
    json_decref(data);
    json_decref(in);
    /* the author is told nothing of their own change */
    assert_int_equal(unread(lee), 0);

    /* a note notifies no one; a comment every follower but its author. The
     * note goes first, so once the comment has arrived the note had its
     * chance */
    json_decref(OK(lee, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_NOTE\",\"body\":\"internal\"}",
                   (long long)lead));
    json_t *c = OK(lee, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"Sent the offer\"}",
                   (long long)lead);
    int64_t comment_id = sys_jint(c, "id");
    json_decref(c);
    assert_int_equal(wait_unread(mia, 2, DELIVERY_MS), 2);
    assert_int_equal(sys_sse_next(sse, DELIVERY_MS, &id, &data), 1);
    assert_string_equal(sys_jstr(data, "subtype"), "SUBTYPE_DISCUSSION");
    assert_string_equal(sys_jstr(data, "summary"), "Sent the offer");
    assert_int_equal(sys_jint(data, "messageId"), comment_id);
    json_decref(data);
    line = tail_next(&tail, DELIVERY_MS);
    assert_non_null(line);
    assert_int_equal(sys_jint(line, "topicSeq"), 2);
    json_decref(line);
    assert_int_equal(unread(lee), 0);
    /* mia answers: lee is told, mia is not */
    json_decref(OK(mia, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"Thanks\"}",
                   (long long)lead));
    assert_int_equal(wait_unread(lee, 1, DELIVERY_MS), 1);
    usleep(200000);
    assert_int_equal(unread(mia), 2);
    assert_int_equal(sys_sse_next(sse, 200, &id, NULL), 0); /* nothing more for mia */
    assert_null(tail_next(&tail, 100));

    /* reading: one marked, then all */
    in = inbox(mia, 0);
    assert_int_equal(json_array_size(in), 2);
    int64_t newest = sys_jint(json_array_get(in, 0), "id"), oldest = sys_jint(json_array_get(in, 1), "id");
    assert_true(newest > oldest);
    json_decref(in);
    json_t *r = OK(mia, N("MarkRead"), "{\"ids\":[\"%lld\",\"%lld\"]}", (long long)oldest, (long long)oldest);
    assert_int_equal(sys_jint(r, "count"), 1);
    json_decref(r);
    assert_int_equal(unread(mia), 1);
    in = inbox(mia, 1);
    assert_int_equal(json_array_size(in), 1);
    assert_int_equal(sys_jint(json_array_get(in, 0), "id"), newest);
    json_decref(in);
    in = inbox(mia, 0);
    assert_true(json_is_true(json_object_get(json_array_get(in, 1), "read")));
    assert_false(json_is_true(json_object_get(json_array_get(in, 0), "read")));
    json_decref(in);
    r = OK(mia, N("MarkAllRead"), "{}");
    assert_int_equal(sys_jint(r, "count"), 1);
    json_decref(r);
    assert_int_equal(unread(mia), 0);
    in = inbox(mia, 1);
    assert_int_equal(json_array_size(in), 0);
    json_decref(in);
    /* newer entries after a MarkAllRead: one read by hand, the rest by the
     * next MarkAllRead, each counted once */
    for (int i = 0; i < 3; i++)
        json_decref(OK(lee, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"more %d\"}",
                       (long long)lead, i));
    assert_int_equal(wait_unread(mia, 3, DELIVERY_MS), 3);
    in = inbox(mia, 1);
    r = OK(mia, N("MarkRead"), "{\"ids\":[\"%lld\"]}", (long long)sys_jint(json_array_get(in, 1), "id"));
    json_decref(r);
    json_decref(in);
    r = OK(mia, N("MarkAllRead"), "{}");
    assert_int_equal(sys_jint(r, "count"), 2);
    json_decref(r);
    assert_int_equal(unread(mia), 0);
    /* 5, not 6: her own "Thanks", applied before these, gave her nothing */
    in = inbox(mia, 0);
    assert_int_equal(json_array_size(in), 5);
    for (size_t i = 0; i < json_array_size(in); i++)
        assert_true(json_is_true(json_object_get(json_array_get(in, i), "read")));
    json_decref(in);
    /* the stream and tail had them too */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sys_sse_next(sse, DELIVERY_MS, &id, NULL), 1);
        line = tail_next(&tail, DELIVERY_MS);
        assert_non_null(line);
        json_decref(line);
    }

    tail_stop(&tail);
    sys_sse_close(&sse);
    free(lee);
    free(mia);
}

/* --- subtypes, auto-follow, reassignment ------------------------------------------------ */

static void test_subtypes_and_auto_follow(void **state)
{
    int64_t ann_id, bob_id, cat_id;
    char *ann = login_new_user("ann", "SALES_ACCESS_ALL_LEADS", &ann_id);
    char *bob = login_new_user("bob", "SALES_ACCESS_ALL_LEADS", &bob_id);
    char *cat = login_new_user("cat", "SALES_ACCESS_ALL_LEADS", &cat_id);
    int64_t lead = new_opportunity(ann, "Subtypes deal", ann_id);
    known(ann, lead);
    /* bob wants stage changes only */
    json_decref(OK(bob, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_STAGE_CHANGED\"]}",
                   (long long)lead));
    json_decref(OK(ann, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"hello\"}",
                   (long long)lead));
    move_stage(ann, lead, stage_named("Qualification"));
    assert_int_equal(wait_unread(bob, 1, DELIVERY_MS), 1);
    json_t *in = inbox(bob, 0);
    assert_string_equal(sys_jstr(json_array_get(in, 0), "subtype"), "SUBTYPE_STAGE_CHANGED");
    json_decref(in);
    /* a revenue-only change is in the chatter, told to nobody; stage and
     * revenue together are told with both lines */
    json_decref(OK(ann, P("UpdateLead"), "{\"id\":\"%lld\",\"expectedRevenue\":\"100000\",\"currency\":\"EUR\"}", (long long)lead));
    json_decref(OK(ann, P("UpdateLead"), "{\"id\":\"%lld\",\"expectedRevenue\":\"375000\",\"stageId\":\"%lld\"}", (long long)lead,
                   (long long)stage_named("Proposition")));
    assert_int_equal(wait_unread(bob, 2, DELIVERY_MS), 2);
    in = inbox(bob, 0);
    const char *both = sys_jstr(json_array_get(in, 0), "summary");
    assert_non_null(strstr(both, "Stage: Qualification → Proposition\n"));
    assert_non_null(strstr(both, "\nExpected revenue: 1,000.00 → 3,750.00 EUR"));
    json_decref(in);

    /* dropping one subtype of two, then the last one, stops the following */
    json_decref(OK(bob, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_STAGE_CHANGED\",\"SUBTYPE_DISCUSSION\"]}",
                   (long long)lead));
    json_t *f = OK(bob, N("Unfollow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_STAGE_CHANGED\"]}",
                   (long long)lead);
    assert_int_equal(json_array_size(json_object_get(f, "subtypes")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "subtypes"), 0)), "SUBTYPE_DISCUSSION");
    json_decref(f);
    json_decref(OK(bob, N("Unfollow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead));
    ERR(CODE(NOT_FOUND), "userId", bob, N("Unfollow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);

    /* reassigned to cat: she follows by herself and is told */
    json_decref(OK(ann, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)lead, (long long)cat_id));
    assert_int_equal(wait_unread(cat, 1, DELIVERY_MS), 1);
    in = inbox(cat, 0);
    assert_string_equal(sys_jstr(json_array_get(in, 0), "subtype"), "SUBTYPE_ASSIGNED");
    assert_string_equal(sys_jstr(json_array_get(in, 0), "summary"), "Salesperson: ann → cat");
    json_decref(in);
    /* won: ann (still a follower) and cat hear it */
    json_decref(OK(cat, P("MarkWon"), "{\"id\":\"%lld\"}", (long long)lead));
    assert_int_equal(wait_unread(ann, 1, DELIVERY_MS), 1);
    in = inbox(ann, 0);
    assert_string_equal(sys_jstr(json_array_get(in, 0), "subtype"), "SUBTYPE_STATUS_CHANGED");
    assert_non_null(strstr(sys_jstr(json_array_get(in, 0), "summary"), "Opportunity won"));
    json_decref(in);
    assert_int_equal(unread(cat), 1); /* her own change */

    /* a salesperson who unfollows their lead stays out: only being assigned
     * again makes them follow it again */
    int64_t sticky = new_opportunity(ann, "Sticky deal", ann_id);
    known(ann, sticky);
    json_decref(OK(ann, N("Unfollow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)sticky));
    move_stage(admin, sticky, stage_named("Qualification"));
    json_t *after = OK(admin, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)sticky);
    json_t *who = json_object_get(after, "followers");
    for (size_t i = 0; i < json_array_size(who); i++)
        assert_int_not_equal(sys_jint(json_array_get(who, i), "userId"), ann_id);
    json_decref(after);

    /* auto-follow switched off: creating and being assigned make no follower */
    json_t *p = OK(bob, N("UpdatePreferences"), "{\"autoFollow\":false}");
    assert_false(json_is_true(json_object_get(p, "autoFollow")));
    json_decref(p);
    p = OK(bob, N("GetPreferences"), "{}");
    assert_int_equal(sys_jint(p, "userId"), bob_id);
    assert_false(json_is_true(json_object_get(p, "autoFollow")));
    json_decref(p);
    int64_t quiet = new_opportunity(bob, "Quiet deal", bob_id);
    int64_t given = new_opportunity(ann, "Given deal", bob_id);
    known(bob, quiet);
    known(ann, given);
    json_t *fl = OK(ann, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)quiet);
    assert_int_equal(json_array_size(json_object_get(fl, "followers")), 0);
    json_decref(fl);
    fl = OK(ann, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)given);
    assert_int_equal(json_array_size(json_object_get(fl, "followers")), 1); /* ann, its creator */
    assert_int_equal(sys_jint(json_array_get(json_object_get(fl, "followers"), 0), "userId"), ann_id);
    json_decref(fl);
    /* the salesperson adds others; they may choose for themselves later */
    f = OK(bob, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\",\"subtypes\":[\"SUBTYPE_CALL\"]}",
           (long long)given, (long long)cat_id);
    assert_int_equal(sys_jint(f, "userId"), cat_id);
    json_decref(f);
    json_decref(OK(bob, A("LogCall"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"summary\":\"Called\",\"durationMinutes\":5}",
                   (long long)given));
    assert_int_equal(wait_unread(cat, 2, DELIVERY_MS), 2);
    in = inbox(cat, 1);
    assert_string_equal(sys_jstr(json_array_get(in, 0), "subtype"), "SUBTYPE_CALL");
    assert_true(sys_jint(json_array_get(in, 0), "messageId") > 0);
    json_decref(in);
    free(ann);
    free(bob);
    free(cat);
}

/* --- access ------------------------------------------------------------------------------- */

static void test_own_leads_access(void **state)
{
    int64_t olly_id, sam_id;
    char *olly = login_new_user("olly", "SALES_ACCESS_OWN_LEADS", &olly_id);
    char *sam = login_new_user("sam", "SALES_ACCESS_ALL_LEADS", &sam_id);
    int64_t sams = new_opportunity(sam, "Sam's deal", sam_id);
    int64_t ollys = new_opportunity(admin, "Olly's deal", olly_id);
    known(sam, sams);
    known(admin, ollys);

    /* another salesperson's lead is as unknown to olly as none */
    ERR(CODE(NOT_FOUND), "doc.id", olly, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)sams);
    ERR(CODE(NOT_FOUND), "doc.id", olly, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)sams);
    /* nor can sam (or a manager) make olly follow it */
    ERR(CODE(INVALID_ARGUMENT), "userId", sam, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
        (long long)sams, (long long)olly_id);
    ERR(CODE(INVALID_ARGUMENT), "userId", admin, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
        (long long)sams, (long long)olly_id);
    /* sam may not add others to a lead that is not his to manage */
    ERR(CODE(PERMISSION_DENIED), "userId", sam, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
        (long long)ollys, (long long)olly_id);

    /* olly follows her own lead by herself (and was told it is hers); sam
     * chooses to */
    json_decref(OK(sam, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)ollys));
    move_stage(admin, ollys, stage_named("Qualification"));
    assert_int_equal(wait_unread(olly, 2, DELIVERY_MS), 2);
    /* reassigned away from her: from then on she is told nothing, not even
     * that, as she can no longer read the lead */
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"salespersonId\":\"%lld\"}", (long long)ollys, (long long)sam_id));
    move_stage(admin, ollys, stage_named("Proposition"));
    json_decref(OK(admin, A("PostMessage"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"after\"}",
                   (long long)ollys));
    /* sam hears all four; by then olly's share is decided */
    assert_int_equal(wait_unread(sam, 4, DELIVERY_MS), 4);
    usleep(100000);
    json_t *in = inbox(olly, 0);
    assert_int_equal(json_array_size(in), 2);
    assert_string_equal(sys_jstr(json_array_get(in, 1), "subtype"), "SUBTYPE_ASSIGNED");
    assert_string_equal(sys_jstr(json_array_get(in, 1), "summary"), "Opportunity created, assigned to olly");
    assert_non_null(strstr(sys_jstr(json_array_get(in, 0), "summary"), "Stage: New → Qualification"));
    json_decref(in);
    /* and her stream carries nothing of it on resume either */
    int status;
    sys_sse_t *sse = sys_sse_open(env, olly, 1, &status);
    assert_non_null(sse);
    int64_t id;
    int got = 0;
    while (sys_sse_next(sse, 300, &id, NULL) == 1)
        got++;
    assert_int_equal(got, 2);
    sys_sse_close(&sse);
    /* a quotation is read as its opportunity: now sam's, so not olly's;
     * a customer is open to every salesperson */
    json_t *cu = OK(admin, P("CreateCustomer"), "{\"name\":\"Shared customer\",\"salespersonId\":\"%lld\"}", (long long)sam_id);
    int64_t customer = sys_jint(cu, "id");
    json_decref(cu);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"%lld\"}", (long long)ollys, (long long)customer));
    json_t *q = OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)ollys);
    int64_t quotation = sys_jint(q, "id");
    json_decref(q);
    json_decref(OK(admin, N("ListFollowers"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"}}", (long long)customer));
    json_decref(OK(admin, N("ListFollowers"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)quotation));
    ERR(CODE(NOT_FOUND), "doc.id", olly, N("Follow"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)quotation);
    json_decref(OK(sam, N("Follow"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)quotation));
    json_decref(OK(olly, N("Follow"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"}}", (long long)customer));
    /* and one made from her own opportunity is hers to follow */
    int64_t mine = new_opportunity(admin, "Olly's second deal", olly_id);
    json_decref(OK(admin, P("UpdateLead"), "{\"id\":\"%lld\",\"customerId\":\"%lld\"}", (long long)mine, (long long)customer));
    q = OK(admin, P("MakeQuotation"), "{\"opportunityId\":\"%lld\"}", (long long)mine);
    int64_t her_quotation = sys_jint(q, "id");
    json_decref(q);
    json_decref(OK(admin, N("ListFollowers"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)her_quotation));
    json_decref(OK(olly, N("Follow"), "{\"doc\":{\"model\":\"quotation\",\"id\":\"%lld\"}}", (long long)her_quotation));
    /* the customer's salesperson may add others; olly may not */
    json_decref(OK(sam, N("Follow"), "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
                   (long long)customer, (long long)olly_id));
    ERR(CODE(PERMISSION_DENIED), "userId", olly, N("Unfollow"),
        "{\"doc\":{\"model\":\"customer\",\"id\":\"%lld\"},\"userId\":\"%lld\"}", (long long)customer, (long long)sam_id);
    free(olly);
    free(sam);
}

/* --- bad input ---------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    int64_t una_id, vic_id, nosales_id;
    char *una = login_new_user("una", "SALES_ACCESS_ALL_LEADS", &una_id);
    char *vic = login_new_user("vic", "SALES_ACCESS_ALL_LEADS", &vic_id);
    char *nosales = login_new_user("nosales", "SALES_ACCESS_NONE", &nosales_id);
    int64_t lead = new_opportunity(una, "Bad input deal", una_id);
    known(una, lead);

    ERR(CODE(INVALID_ARGUMENT), "subtypes[1]", vic, N("Follow"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_CALL\",99]}", (long long)lead);
    ERR(CODE(INVALID_ARGUMENT), "subtypes[0]", vic, N("Follow"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_UNSPECIFIED\"]}", (long long)lead);
    ERR(CODE(INVALID_ARGUMENT), NULL, vic, N("Follow"),
        "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"subtypes\":[\"SUBTYPE_BOGUS\"]}", (long long)lead);
    ERR(CODE(NOT_FOUND), "doc.id", vic, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"999999\"}}");
    ERR(CODE(INVALID_ARGUMENT), "doc.model", vic, N("Follow"), "{\"doc\":{\"model\":\"invoice\",\"id\":\"1\"}}");
    ERR(CODE(INVALID_ARGUMENT), "doc.id", vic, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"-4\"}}");
    ERR(CODE(INVALID_ARGUMENT), "doc", vic, N("Follow"), "{}");
    ERR(CODE(INVALID_ARGUMENT), "userId", una, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"-1\"}",
        (long long)lead);
    ERR(CODE(INVALID_ARGUMENT), "userId", una, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"424242\"}",
        (long long)lead);
    /* vic is neither its salesperson nor a manager */
    ERR(CODE(PERMISSION_DENIED), "userId", vic, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
        (long long)lead, (long long)una_id);
    ERR(CODE(PERMISSION_DENIED), "userId", vic, N("Unfollow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"userId\":\"%lld\"}",
        (long long)lead, (long long)una_id);
    ERR(CODE(PERMISSION_DENIED), NULL, nosales, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    /* nothing of that left a follower behind */
    json_t *fl = OK(una, N("ListFollowers"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead);
    assert_int_equal(json_array_size(json_object_get(fl, "followers")), 1);
    json_decref(fl);

    /* someone else's entry is unknown; one bad id refuses the whole call */
    json_decref(OK(vic, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)lead));
    move_stage(una, lead, stage_named("Qualification"));
    assert_int_equal(wait_unread(vic, 1, DELIVERY_MS), 1);
    json_t *in = inbox(vic, 0);
    int64_t vics = sys_jint(json_array_get(in, 0), "id");
    json_decref(in);
    ERR(CODE(NOT_FOUND), "ids[0]", una, N("MarkRead"), "{\"ids\":[\"%lld\"]}", (long long)vics);
    ERR(CODE(NOT_FOUND), "ids[1]", vic, N("MarkRead"), "{\"ids\":[\"%lld\",\"99999999\"]}", (long long)vics);
    ERR(CODE(NOT_FOUND), "ids[0]", vic, N("MarkRead"), "{\"ids\":[\"-3\"]}");
    ERR(CODE(INVALID_ARGUMENT), "ids", vic, N("MarkRead"), "{\"ids\":[]}");
    assert_int_equal(unread(vic), 1);
    ERR(CODE(INVALID_ARGUMENT), "pageSize", vic, N("ListInbox"), "{\"pageSize\":-1}");
    ERR(CODE(INVALID_ARGUMENT), "pageToken", vic, N("ListInbox"), "{\"pageToken\":\"not a token\"}");
    ERR(CODE(INVALID_ARGUMENT), "afterId", vic, N("ListInbox"), "{\"afterId\":\"-5\"}");
    /* the largest ids a client can name: nothing after them, no overflow */
    json_t *none = OK(vic, N("ListInbox"), "{\"afterId\":\"9223372036854775807\"}");
    assert_int_equal(json_array_size(json_object_get(none, "notifications")), 0);
    json_decref(none);
    ERR(CODE(INVALID_ARGUMENT), "pageToken", vic, N("ListInbox"), "{\"afterId\":\"1\",\"pageToken\":\"__________8\"}");
    int sse_status;
    sys_sse_t *far = sys_sse_open(env, vic, INT64_MAX, &sse_status);
    assert_non_null(far);
    /* its catch-up asked for what follows the largest id: nothing, and the
     * stream and the service are still there */
    int64_t far_id;
    assert_int_equal(sys_sse_next(far, 300, &far_id, NULL), 0);
    sys_sse_close(&far);
    assert_int_equal(unread(vic), 1);
    ERR(CODE(PERMISSION_DENIED), "userId", vic, N("GetPreferences"), "{\"userId\":\"%lld\"}", (long long)una_id);
    ERR(CODE(PERMISSION_DENIED), "userId", vic, N("UpdatePreferences"), "{\"userId\":\"%lld\",\"autoFollow\":false}",
        (long long)una_id);
    ERR(CODE(NOT_FOUND), "userId", admin, N("GetPreferences"), "{\"userId\":\"777777\"}");
    ERR(CODE(INVALID_ARGUMENT), "updateMask", vic, N("UpdatePreferences"), "{\"autoFollow\":false,\"updateMask\":\"bogus\"}");
    ERR(CODE(UNAUTHENTICATED), "token", NULL, N("UnreadCount"), "{}");
    /* the stream wants a session too */
    int status;
    assert_null(sys_sse_open(env, "not-a-token", 0, &status));
    assert_int_equal(status, 401);
    assert_null(sys_sse_open(env, NULL, 0, &status));
    assert_int_equal(status, 401);
    free(una);
    free(vic);
    free(nosales);
}

/* --- exactly once ------------------------------------------------------------------------- */

#define LEADS 50
#define CHANGES 1000

/* Checks that token's inbox holds exactly `want` entries, each summary
 * once (every change has its own revenue line). */
static void check_exactly_once(const char *token, size_t want)
{
    json_t *in = inbox(token, 0), *e;
    size_t i;
    assert_int_equal(json_array_size(in), want);
    json_t *seen = json_object();
    json_array_foreach(in, i, e) {
        char key[512];
        snprintf(key, sizeof key, "%lld:%s", (long long)sys_jint(e, "doc.id"), sys_jstr(e, "summary"));
        assert_null(json_object_get(seen, key));
        json_object_set_new(seen, key, json_true());
    }
    json_decref(seen);
    json_decref(in);
}

/* The stream that lives through test_exactly_once_down_and_killed, read as
 * the changes go (a client that stops reading is dropped), and what it gave. */
static sys_sse_t *once_sse;
static int64_t once_ids[2 * CHANGES + 16];
static size_t once_got;

static void drain_once_sse(int wait_ms)
{
    int64_t id;
    while (once_got < sizeof once_ids / sizeof once_ids[0] && sys_sse_next(once_sse, wait_ms, &id, NULL) == 1)
        once_ids[once_got++] = id;
}

/* CHANGES stage moves over LEADS leads, each with its own revenue, from
 * `from` on; calls hook after half of them. */
static void make_changes(const char *token, const int64_t *leads, int64_t s1, int64_t s2, int from,
                         void (*hook)(void))
{
    for (int i = 0; i < CHANGES; i++) {
        if (i == CHANGES / 2 && hook)
            hook();
        if (i % 50 == 0)
            drain_once_sse(1);
        int n = from + i;
        json_decref(OK(token, P("UpdateLead"), "{\"id\":\"%lld\",\"stageId\":\"%lld\",\"expectedRevenue\":\"%d\"}",
                       (long long)leads[n % LEADS], (long long)(n / LEADS % 2 ? s1 : s2), 100 + n));
    }
}

static void kill_notifications(void) { assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGKILL), 0); }
static void test_exactly_once_down_and_killed(void **state)
{
    int64_t wes_id, xia_id;
    char *wes = login_new_user("wes", "SALES_ACCESS_ALL_LEADS", &wes_id);
    char *xia = login_new_user("xia", "SALES_ACCESS_ALL_LEADS", &xia_id);
    int64_t leads[LEADS];
    for (int i = 0; i < LEADS; i++) {
        char name[32];
        snprintf(name, sizeof name, "Once %d", i);
        leads[i] = new_opportunity(admin, name, wes_id);
        known(admin, leads[i]);
        json_decref(OK(xia, N("Follow"), "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"}}", (long long)leads[i]));
    }
    int64_t s1 = stage_named("Qualification"), s2 = stage_named("Proposition");
    /* xia's stream lives through all of it */
    int status;
    once_got = 0;
    once_sse = sys_sse_open(env, xia, 0, &status);
    assert_non_null(once_sse);

    /* down (cleanly) while 1,000 changes happen */
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGTERM), 0);
    make_changes(admin, leads, s1, s2, 0, NULL);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    assert_int_equal(wait_unread(xia, CHANGES, 20000), CHANGES);
    /* wes, their salesperson, was also told of each lead given to him */
    assert_int_equal(wait_unread(wes, LEADS + CHANGES, 20000), LEADS + CHANGES);
    check_exactly_once(xia, CHANGES);
    check_exactly_once(wes, LEADS + CHANGES);

    /* killed -9 in the middle of the next 1,000, restarted at once */
    make_changes(admin, leads, s1, s2, CHANGES, kill_notifications);
    assert_int_equal(sys_spawn(env, SYS_NOTIFICATIONS), 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    assert_int_equal(wait_unread(xia, 2 * CHANGES, 20000), 2 * CHANGES);
    assert_int_equal(wait_unread(wes, LEADS + 2 * CHANGES, 20000), LEADS + 2 * CHANGES);
    check_exactly_once(xia, 2 * CHANGES);
    check_exactly_once(wes, LEADS + 2 * CHANGES);

    /* the stream gave every entry exactly once, in order, across both */
    json_t *in = inbox(xia, 0);
    int64_t id, last = 0;
    for (int64_t until = sys_now_ms() + 10000; once_got < 2 * CHANGES && sys_now_ms() < until;)
        drain_once_sse(500);
    assert_int_equal(once_got, 2 * CHANGES);
    for (size_t i = 0; i < once_got; i++) {
        assert_true(once_ids[i] > last);
        last = once_ids[i];
    }
    assert_int_equal(last, sys_jint(json_array_get(in, 0), "id"));
    assert_int_equal(sys_sse_next(once_sse, 300, &id, NULL), 0);
    sys_sse_close(&once_sse);
    sys_sse_t *sse;
    size_t got;

    /* resuming from an id gives what came after it, and only that */
    int64_t resume_from = sys_jint(json_array_get(in, 10), "id");
    json_decref(in);
    sse = sys_sse_open(env, xia, resume_from, &status);
    assert_non_null(sse);
    last = resume_from;
    got = 0;
    while (sys_sse_next(sse, 500, &id, NULL) == 1) {
        assert_true(id > last);
        last = id;
        got++;
    }
    assert_int_equal(got, 10);
    sys_sse_close(&sse);
    free(wes);
    free(xia);
}

/* --- a stream ends with its session ------------------------------------------------------ */

static void test_stream_ends_with_its_session(void **state)
{
    int64_t zoe_id;
    char *zoe = login_new_user("zoe", "SALES_ACCESS_ALL_LEADS", &zoe_id);
    int status;
    sys_sse_t *sse = sys_sse_open(env, zoe, 0, &status);
    assert_non_null(sse);
    /* one user cannot hold every stream of the gateway */
    sys_sse_t *more[16];
    int opened = 0;
    for (; opened < 16; opened++)
        if (!(more[opened] = sys_sse_open(env, zoe, 0, &status)))
            break;
    assert_int_equal(opened, 15);
    assert_int_equal(status, 429);
    for (int i = 0; i < opened; i++)
        sys_sse_close(&more[i]);
    json_decref(OK(zoe, I("Logout"), "{}"));
    int64_t id, t0 = sys_now_ms();
    int r;
    while ((r = sys_sse_next(sse, 5000, &id, NULL)) == 1)
        ;
    assert_int_equal(r, -1);
    assert_true(sys_now_ms() - t0 < 5000);
    sys_sse_close(&sse);
    free(zoe);
}

/* --- events of several services in a consistent order -------------------------------------- */

/* Notifications hears identity, pipeline and activities on separate
 * sockets. A lead assigned to a user created a moment before must not be
 * judged before notifications knows that user: pipeline's event says what
 * pipeline had applied of identity's, and waits for it here. */
static void test_events_wait_for_what_they_come_after(void **state)
{
    assert_int_equal(sys_kill(env, SYS_NOTIFICATIONS, SIGTERM), 0);
    int64_t nu_id;
    char *nu = login_new_user("nu", "SALES_ACCESS_ALL_LEADS", &nu_id);
    int64_t lead = new_opportunity(admin, "Newcomer's deal", nu_id);
    move_stage(admin, lead, stage_named("Qualification"));
    /* identity is silent while notifications starts: pipeline's events wait */
    assert_int_equal(kill(env->pid[SYS_IDENTITY], SIGSTOP), 0);
    int spawned = sys_spawn(env, SYS_NOTIFICATIONS);
    usleep(1500000);
    /* identity goes on before any assert can fail, or teardown would wait on it */
    assert_int_equal(kill(env->pid[SYS_IDENTITY], SIGCONT), 0);
    assert_int_equal(spawned, 0);
    assert_int_equal(sys_wait_ready(env, SYS_NOTIFICATIONS, 15000), 0);
    /* assigned, then moved: both told, once */
    assert_int_equal(wait_unread(nu, 2, 10000), 2);
    usleep(200000);
    assert_int_equal(unread(nu), 2);
    free(nu);
}

/* --- a stalled stream --------------------------------------------------------------------- */

/* The gateway's count of SSE clients dropped for falling behind. */
static long dropped_streams(void)
{
    char *metrics = NULL;
    assert_int_equal(sys_http(env, "GET", "/metrics", NULL, NULL, 0, &metrics, NULL), 200);
    const char *line = strstr(metrics, "\ncrm_gateway_sse_dropped_total ");
    assert_non_null(line);
    long n = strtol(line + strlen("\ncrm_gateway_sse_dropped_total "), NULL, 10);
    free(metrics);
    return n;
}

static void test_stalled_stream(void **state)
{
    int64_t yan_id;
    char *yan = login_new_user("yan", "SALES_ACCESS_ALL_LEADS", &yan_id);
    int64_t lead = new_opportunity(admin, "Stall deal", yan_id);
    known(admin, lead);
    int status;
    /* two streams of yan's: one never read, one read */
    sys_sse_t *stalled = sys_sse_open_stalled(env, yan, &status);
    sys_sse_t *live = sys_sse_open(env, yan, 0, &status);
    assert_non_null(stalled);
    assert_non_null(live);
    long dropped_before = dropped_streams();
    int64_t s1 = stage_named("Qualification"), s2 = stage_named("Proposition");
    /* long comments (their summary is cut to 280 bytes) fill the stalled
     * client's socket, then its 16 KiB at the gateway */
    char body[600];
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    int64_t id, worst = 0, until = sys_now_ms() + 60000;
    int moves = 0;
    while (sys_now_ms() < until && dropped_streams() == dropped_before) {
        for (int k = 0; k < 20; k++) {
            int64_t t0 = sys_now_ms();
            if (k % 2)
                move_stage(admin, lead, moves++ % 2 ? s1 : s2);
            else
                json_decref(OK(admin, A("PostMessage"),
                               "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"%s\"}",
                               (long long)lead, body));
            /* the live one keeps up all along: nobody waits on the other */
            assert_int_equal(sys_sse_next(live, 10 * DELIVERY_MS, &id, NULL), 1);
            int64_t took = sys_now_ms() - t0;
            worst = took > worst ? took : worst;
        }
    }
    assert_int_equal(dropped_streams(), dropped_before + 1);
    assert_true(worst < DELIVERY_MS);
    /* the stalled one was closed: reading it now ends short of the live one's last */
    int64_t live_last = id, stalled_last = 0;
    int r;
    while ((r = sys_sse_next(stalled, 2000, &id, NULL)) == 1)
        stalled_last = id;
    assert_int_equal(r, -1);
    assert_true(stalled_last < live_last);
    /* and the live one still works */
    json_decref(OK(admin, A("PostMessage"),
                   "{\"doc\":{\"model\":\"lead\",\"id\":\"%lld\"},\"kind\":\"MESSAGE_KIND_COMMENT\",\"body\":\"still there?\"}",
                   (long long)lead));
    assert_int_equal(sys_sse_next(live, 2000, &id, NULL), 1);
    sys_sse_close(&stalled);
    sys_sse_close(&live);
    free(yan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_following),
        cmocka_unit_test(test_subtypes_and_auto_follow),
        cmocka_unit_test(test_own_leads_access),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_exactly_once_down_and_killed),
        cmocka_unit_test(test_stalled_stream),
        cmocka_unit_test(test_stream_ends_with_its_session),
        cmocka_unit_test(test_events_wait_for_what_they_come_after),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
