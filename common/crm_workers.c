#include "crm_workers.h"
#include "crm_log.h"
#include "crm_mem.h"

#include <pthread.h>
#include <string.h>

typedef struct job {
    struct job *next;
    crm_work_fn *work;
    crm_work_done_fn *done;
    void *arg;
} job_t;

struct crm_workers {
    struct ev_loop *loop;
    ev_async wake;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    job_t *queue, **queue_tail; /* waiting, oldest first */
    job_t *finished;            /* run, for the loop to deliver */
    int queued, running, queue_max, stopping;
    int n_threads;
    pthread_t threads[];
};

static void *worker(void *p)
{
    crm_workers_t *self = p;
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->queue && !self->stopping)
            pthread_cond_wait(&self->ready, &self->lock);
        if (!self->queue)
            break; /* stopping, nothing left that was taken */
        job_t *j = self->queue;
        self->queue = j->next;
        if (!self->queue)
            self->queue_tail = &self->queue;
        self->queued--;
        self->running++;
        pthread_mutex_unlock(&self->lock);
        j->work(j->arg);
        pthread_mutex_lock(&self->lock);
        self->running--;
        j->next = self->finished;
        self->finished = j;
        ev_async_send(self->loop, &self->wake);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

/* Hands finished jobs back to the loop, oldest first. */
static void deliver(crm_workers_t *self)
{
    pthread_mutex_lock(&self->lock);
    job_t *list = self->finished;
    self->finished = NULL;
    pthread_mutex_unlock(&self->lock);
    job_t *rev = NULL;
    while (list) {
        job_t *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        job_t *next = rev->next;
        rev->done(rev->arg, 0);
        free(rev);
        rev = next;
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    deliver(w->data);
}

crm_workers_t *crm_workers_new(struct ev_loop *loop, int threads, int queue_max)
{
    if (threads < 1 || queue_max < 0) {
        crm_error("workers: need at least one thread and a queue of 0 or more");
        return NULL;
    }
    crm_workers_t *self = crm_calloc(1, sizeof *self + (size_t)threads * sizeof(pthread_t));
    self->loop = loop;
    self->queue_tail = &self->queue;
    self->queue_max = queue_max;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->ready, NULL);
    ev_async_init(&self->wake, on_wake);
    self->wake.data = self;
    ev_async_start(loop, &self->wake);
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create(&self->threads[i], NULL, worker, self);
        if (rc != 0) {
            crm_error("workers: cannot start a thread: %s", strerror(rc));
            crm_workers_destroy(&self);
            return NULL;
        }
        self->n_threads++;
    }
    return self;
}

int crm_workers_submit(crm_workers_t *self, crm_work_fn *work, crm_work_done_fn *done, void *arg)
{
    pthread_mutex_lock(&self->lock);
    /* a job waits only if every thread is taken, so the bound is on waiting */
    if (self->stopping || self->running + self->queued >= self->n_threads + self->queue_max) {
        pthread_mutex_unlock(&self->lock);
        return -1;
    }
    job_t *j = crm_malloc(sizeof *j);
    *j = (job_t){NULL, work, done, arg};
    *self->queue_tail = j;
    self->queue_tail = &j->next;
    self->queued++;
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

int crm_workers_busy(const crm_workers_t *self)
{
    crm_workers_t *s = (crm_workers_t *)self;
    pthread_mutex_lock(&s->lock);
    int n = s->queued + s->running;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void crm_workers_destroy(crm_workers_t **self_p)
{
    crm_workers_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stopping = 1;
    job_t *cancelled = self->queue;
    self->queue = NULL;
    self->queue_tail = &self->queue;
    self->queued = 0;
    pthread_cond_broadcast(&self->ready);
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < self->n_threads; i++)
        pthread_join(self->threads[i], NULL);
    while (cancelled) {
        job_t *next = cancelled->next;
        cancelled->done(cancelled->arg, 1);
        free(cancelled);
        cancelled = next;
    }
    deliver(self);
    ev_async_stop(self->loop, &self->wake);
    pthread_cond_destroy(&self->ready);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
