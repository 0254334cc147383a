#include "crm_zloop.h"
#include "crm_log.h"
#include "crm_mem.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

struct crm_zwatch {
    struct ev_loop *loop;
    void *socket;
    crm_zwatch_fn *fn;
    void *arg;
    ev_io io;
    ev_prepare prepare;
    ev_check check;
    ev_idle idle;
    /* ZMQ_EVENTS must be read before the loop may block: something used the
     * socket (a send, a receive, our callback) or its fd fired since the last
     * reading. Reading it costs a system call, so idle sockets skip it. */
    int stale;
    int ready; /* the last reading showed input */
    int paused;
};

/* The watches of this process, so that a send on a socket marks its watch. */
#define WATCHES_MAX 64
static crm_zwatch_t *watches[WATCHES_MAX];

static crm_zwatch_t *watch_of(void *socket)
{
    for (int i = 0; i < WATCHES_MAX; i++)
        if (watches[i] && watches[i]->socket == socket)
            return watches[i];
    return NULL;
}

static void mark_stale(void *socket)
{
    crm_zwatch_t *w = watch_of(socket);
    if (w)
        w->stale = 1;
}

static int has_input(void *socket)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(socket, ZMQ_EVENTS, &events, &len) != 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void run(crm_zwatch_t *self)
{
    if (self->paused)
        return;
    self->ready = 0;
    self->stale = 1; /* whatever the callback did, look again before blocking */
    if (has_input(self->socket))
        self->fn(self, self->socket, self->arg);
}

/* The fd fired: the socket's state changed. libev may call this after the
 * turn's check watchers, so the work is done here too. */
static void on_io(struct ev_loop *loop, ev_io *w, int revents) { run(w->data); }
static void on_idle(struct ev_loop *loop, ev_idle *w, int revents) { (void)loop; (void)w; (void)revents; }

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
    crm_zwatch_t *self = w->data;
    if (!self->stale || self->paused)
        return;
    self->stale = 0;
    self->ready = has_input(self->socket);
    if (self->ready)
        ev_idle_start(loop, &self->idle); /* input the fd will not announce again */
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    crm_zwatch_t *self = w->data;
    ev_idle_stop(loop, &self->idle);
    if (self->ready || self->stale)
        run(self);
}

crm_zwatch_t *crm_zwatch_new(struct ev_loop *loop, void *socket, crm_zwatch_fn *fn, void *arg)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(socket, ZMQ_FD, &fd, &len) != 0)
        return NULL;
    crm_zwatch_t *self = crm_calloc(1, sizeof *self);
    self->loop = loop;
    self->socket = socket;
    self->fn = fn;
    self->arg = arg;
    ev_io_init(&self->io, on_io, fd, EV_READ);
    ev_prepare_init(&self->prepare, on_prepare);
    ev_check_init(&self->check, on_check);
    ev_idle_init(&self->idle, on_idle);
    self->prepare.data = self->check.data = self;
    self->io.data = self;
    self->stale = 1;
    int slot = 0;
    while (slot < WATCHES_MAX && watches[slot])
        slot++;
    if (slot == WATCHES_MAX) {
        free(self);
        errno = ENFILE;
        return NULL;
    }
    watches[slot] = self;
    ev_io_start(loop, &self->io);
    ev_prepare_start(loop, &self->prepare);
    ev_check_start(loop, &self->check);
    return self;
}

void crm_zwatch_pause(crm_zwatch_t *self)
{
    self->paused = 1;
    self->ready = 0;
    ev_idle_stop(self->loop, &self->idle);
    /* libev polls level-triggered: a readable fd nobody reads would spin */
    ev_io_stop(self->loop, &self->io);
}

void crm_zwatch_resume(crm_zwatch_t *self)
{
    if (!self->paused)
        return;
    self->paused = 0;
    self->stale = 1; /* the fd's edges went unheard while paused */
    ev_io_start(self->loop, &self->io);
}

void crm_zwatch_destroy(crm_zwatch_t **self_p)
{
    crm_zwatch_t *self = *self_p;
    if (!self)
        return;
    ev_io_stop(self->loop, &self->io);
    ev_prepare_stop(self->loop, &self->prepare);
    ev_check_stop(self->loop, &self->check);
    ev_idle_stop(self->loop, &self->idle);
    for (int i = 0; i < WATCHES_MAX; i++)
        if (watches[i] == self)
            watches[i] = NULL;
    free(self);
    *self_p = NULL;
}

int crm_frames_recv(void *socket, crm_frames_t *f)
{
    mark_stale(socket);
    f->count = 0;
    int more = 1, overflow = 0;
    while (more) {
        zmq_msg_t scratch, *m = f->count < CRM_FRAMES_MAX ? &f->frame[f->count] : &scratch;
        zmq_msg_init(m);
        /* only the first frame may be missing: later ones arrive atomically */
        if (zmq_msg_recv(m, socket, ZMQ_DONTWAIT) < 0) {
            int err = errno;
            zmq_msg_close(m);
            crm_frames_close(f);
            errno = err;
            return -1;
        }
        more = zmq_msg_more(m);
        if (m == &scratch) {
            zmq_msg_close(m);
            overflow = 1;
        } else {
            f->count++;
        }
    }
    if (overflow) {
        crm_frames_close(f);
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

void crm_frames_close(crm_frames_t *f)
{
    for (int i = 0; i < f->count; i++)
        zmq_msg_close(&f->frame[i]);
    f->count = 0;
}

int crm_zsend(void *socket, const void *const *data, const size_t *size, int n)
{
    /* a send may take in the socket's pending commands, and with them the
     * fd's only signal of input that arrived meanwhile */
    mark_stale(socket);
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(socket, data[i], size[i], flags) < 0) {
            /* libzmq accepts the rest of a message once the first frame went */
            return -1;
        }
    }
    return 0;
}

int crm_zsend_msg(void *socket, const void *const *data, const size_t *size, int n, zmq_msg_t *last)
{
    mark_stale(socket);
    for (int i = 0; i < n; i++)
        if (zmq_send(socket, data[i], size[i], ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0)
            return -1; /* only the first frame can fail: nothing went */
    return zmq_msg_send(last, socket, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

int crm_zsock_setup(void *socket, int64_t max_msg)
{
    int linger = 0, ivl = CRM_HEARTBEAT_IVL_MS, timeout = CRM_HEARTBEAT_TIMEOUT_MS;
    if (zmq_setsockopt(socket, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) != 0 ||
        zmq_setsockopt(socket, ZMQ_HEARTBEAT_TTL, &timeout, sizeof timeout) != 0)
        return -1;
    if (max_msg > 0 && zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0)
        return -1;
    return 0;
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    crm_info("signal %d: stopping", w->signum);
    ev_break(loop, EVBREAK_ALL);
}

void crm_loop_run(struct ev_loop *loop)
{
    ev_signal sigint, sigterm;
    ev_signal_init(&sigint, on_stop_signal, SIGINT);
    ev_signal_init(&sigterm, on_stop_signal, SIGTERM);
    ev_signal_start(loop, &sigint);
    ev_signal_start(loop, &sigterm);
    signal(SIGPIPE, SIG_IGN);
    ev_run(loop, 0);
    ev_signal_stop(loop, &sigint);
    ev_signal_stop(loop, &sigterm);
}
