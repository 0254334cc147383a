#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "crm_workers.h"

typedef struct {
    int id;
    int ran;        /* set on the worker */
    int done;       /* set on the loop */
    int cancelled;
    useconds_t sleep_us;
} job_t;

static int done_count, order[16];

static void work(void *arg)
{
    job_t *j = arg;
    usleep(j->sleep_us);
    j->ran = 1;
}

static void done(void *arg, int cancelled)
{
    job_t *j = arg;
    j->done = 1;
    j->cancelled = cancelled;
    order[done_count++] = j->id;
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents) { ev_break(loop, EVBREAK_ALL); }

static void run_until_done(struct ev_loop *loop, int want)
{
    ev_timer t;
    ev_timer_init(&t, on_timeout, 5.0, 0);
    ev_timer_start(loop, &t);
    while (done_count < want && ev_is_active(&t))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
}

/* Work runs off the loop and comes back to it: done is called on the
 * loop's thread, once, for each job. */
static void test_runs_and_comes_back(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    crm_workers_t *w = crm_workers_new(loop, 2, 4);
    assert_non_null(w);
    done_count = 0;
    job_t jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t){.id = i, .sleep_us = 1000};
        assert_int_equal(crm_workers_submit(w, work, done, &jobs[i]), 0);
    }
    run_until_done(loop, 4);
    assert_int_equal(done_count, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(jobs[i].ran && jobs[i].done);
        assert_false(jobs[i].cancelled);
    }
    assert_int_equal(crm_workers_busy(w), 0);
    crm_workers_destroy(&w);
    assert_null(w);
    ev_loop_destroy(loop);
}

/* Past its threads and queue the pool refuses at once; at shutdown what
 * waits is cancelled and what runs finishes. */
static void test_bounded_queue_and_shutdown(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    crm_workers_t *w = crm_workers_new(loop, 1, 2);
    done_count = 0;
    job_t jobs[4];
    for (int i = 0; i < 3; i++) {
        jobs[i] = (job_t){.id = i, .sleep_us = 200000};
        assert_int_equal(crm_workers_submit(w, work, done, &jobs[i]), 0);
    }
    jobs[3] = (job_t){.id = 3};
    assert_int_equal(crm_workers_submit(w, work, done, &jobs[3]), -1);
    assert_int_equal(crm_workers_busy(w), 3);
    usleep(50000); /* the first is running */
    crm_workers_destroy(&w);
    assert_int_equal(done_count, 3);
    assert_true(jobs[0].ran && jobs[0].done && !jobs[0].cancelled);
    for (int i = 1; i < 3; i++)
        assert_true(!jobs[i].ran && jobs[i].done && jobs[i].cancelled);
    assert_false(jobs[3].done);
    ev_loop_destroy(loop);
}

static void test_bad_arguments(void **state)
{
    struct ev_loop *loop = ev_loop_new(0);
    assert_null(crm_workers_new(loop, 0, 1));
    assert_null(crm_workers_new(loop, 1, -1));
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_and_comes_back),
        cmocka_unit_test(test_bounded_queue_and_shutdown),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests_name("crm_workers", tests, NULL, NULL);
}
