#ifndef CRM_WORKERS_H
#define CRM_WORKERS_H

#include <ev.h>

/* A few threads for work that must not stall the loop (argon2id password
 * hashing: tens of milliseconds of CPU and 64 MiB each), with a bounded
 * queue so that a flood is refused at once rather than queued without end.
 * The work runs with no access to the loop or the store; what it needs is
 * in its argument, and done(arg) runs on the loop when it has finished. */
typedef struct crm_workers crm_workers_t;

typedef void (crm_work_fn)(void *arg);
/* On the loop: the work has run (cancelled 0) or was dropped at shutdown
 * without running (cancelled 1). Owns arg again. */
typedef void (crm_work_done_fn)(void *arg, int cancelled);

/* threads workers, at most queue_max jobs waiting beyond those running.
 * Returns NULL on error (logged). */
crm_workers_t *crm_workers_new(struct ev_loop *loop, int threads, int queue_max);

/* Queues work(arg), then done(arg, 0) on the loop. Returns 0, or -1 when
 * the queue is full (nothing queued, arg still the caller's). */
int crm_workers_submit(crm_workers_t *self, crm_work_fn *work, crm_work_done_fn *done, void *arg);

/* Jobs queued or running now. */
int crm_workers_busy(const crm_workers_t *self);

/* Lets running jobs finish, cancels queued ones (done(arg, 1)), delivers
 * every finished one, joins the threads and frees; sets *self_p to NULL. */
void crm_workers_destroy(crm_workers_t **self_p);

#endif
