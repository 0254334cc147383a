#ifndef LOOP_UNTIL_H
#define LOOP_UNTIL_H

/* Unit tests that drive a libev loop: run it until a condition holds or a
 * time limit passes, polling the condition every millisecond. */

#include <ev.h>

typedef int(loop_pred_fn)(void *arg);

typedef struct {
    loop_pred_fn *pred;
    void *arg;
    int ok;
} loop_until_t;

static void loop_until_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    loop_until_t *u = w->data;
    (void)revents;
    if (u->pred && u->pred(u->arg)) {
        u->ok = 1;
        ev_break(loop, EVBREAK_ALL);
    }
}

static void loop_until_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ALL);
}

/* Runs loop until pred(arg) holds (1) or seconds pass (0). pred NULL: runs
 * for the whole time. */
static inline int loop_until(struct ev_loop *loop, loop_pred_fn *pred, void *arg, double seconds)
{
    loop_until_t u = {pred, arg, 0};
    ev_timer poll, limit;
    ev_timer_init(&poll, loop_until_poll, 0.001, 0.001);
    poll.data = &u;
    ev_timer_init(&limit, loop_until_limit, seconds, 0);
    ev_timer_start(loop, &poll);
    ev_timer_start(loop, &limit);
    ev_run(loop, 0);
    ev_timer_stop(loop, &poll);
    ev_timer_stop(loop, &limit);
    return u.ok;
}

/* Calls answered into an array of results, each with an int "done" field
 * at the same place: every one answered. */
typedef struct {
    const char *first_done; /* &results[0].done */
    size_t stride;          /* sizeof results[0] */
    int n;
} loop_all_done_t;

static inline int loop_all_done_pred(void *arg)
{
    loop_all_done_t *a = arg;
    for (int i = 0; i < a->n; i++)
        if (!*(const int *)(const void *)(a->first_done + (size_t)i * a->stride))
            return 0;
    return 1;
}

/* Runs loop until all n results are answered (1) or seconds pass (0). */
#define loop_until_all_done(loop, results, n, seconds)                                                      \
    loop_until((loop), loop_all_done_pred,                                                                  \
               &(loop_all_done_t){(const char *)&(results)[0].done, sizeof (results)[0], (n)}, (seconds))

#endif
