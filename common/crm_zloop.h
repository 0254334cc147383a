#ifndef CRM_ZLOOP_H
#define CRM_ZLOOP_H

#include <stddef.h>
#include <ev.h>
#include <zmq.h>

/* A ZeroMQ socket inside a libev loop (see ARCHITECTURE.md, Event loop).
 *
 * ZMQ_FD only signals edges: it becomes readable when the socket's state
 * changed, not while messages wait. So readiness is taken from ZMQ_EVENTS,
 * checked in an ev_prepare/ev_check pair every loop turn: a send or a receive
 * anywhere in the turn that leaves messages queued keeps an ev_idle running
 * and the loop never blocks on a socket that still holds input. */
typedef struct crm_zwatch crm_zwatch_t;

/* Called when the socket has input. It should receive until EAGAIN or until
 * its own budget is spent; what is left is offered again next turn. */
typedef void (crm_zwatch_fn)(crm_zwatch_t *watch, void *socket, void *arg);

/* Starts watching socket (not owned). Returns NULL if ZMQ_FD can't be read
 * (errno set). */
crm_zwatch_t *crm_zwatch_new(struct ev_loop *loop, void *socket, crm_zwatch_fn *fn, void *arg);

/* Stops offering input until crm_zwatch_resume, which offers what waits
 * then at once: a reader that gathers input over a while (group commit)
 * lets it queue in libzmq meanwhile. Both may be called from the callback. */
void crm_zwatch_pause(crm_zwatch_t *self);
void crm_zwatch_resume(crm_zwatch_t *self);

/* Stops watching and frees; sets *self_p to NULL. The socket is left open. */
void crm_zwatch_destroy(crm_zwatch_t **self_p);

/* Runs loop until SIGINT or SIGTERM (logged), with SIGPIPE ignored: the
 * last line of every program's wiring. */
void crm_loop_run(struct ev_loop *loop);

/* Up to CRM_FRAMES_MAX frames of one multipart message. */
#define CRM_FRAMES_MAX 8
typedef struct {
    zmq_msg_t frame[CRM_FRAMES_MAX];
    int count;
} crm_frames_t;

/* Receives one whole message without blocking. Returns 0; or -1 with errno
 * EAGAIN when none waits, EMSGSIZE when it had more than CRM_FRAMES_MAX frames
 * (the message is consumed and dropped), or libzmq's errno. On success the
 * caller owns the frames and releases them with crm_frames_close. */
int crm_frames_recv(void *socket, crm_frames_t *frames);

/* Closes every frame. Can't fail. */
void crm_frames_close(crm_frames_t *frames);

/* Data and size of frame i. */
static inline const void *crm_frame_data(crm_frames_t *f, int i) { return zmq_msg_data(&f->frame[i]); }
static inline size_t crm_frame_size(crm_frames_t *f, int i) { return zmq_msg_size(&f->frame[i]); }

/* Sends n buffers as one multipart message without blocking. Returns 0, or
 * -1 with libzmq's errno (EAGAIN: no peer can take it now, EHOSTUNREACH:
 * a ROUTER's peer is gone). Never sends half a message: the first frame is
 * only sent when the socket can take it, and later frames of an accepted
 * message are always queued by libzmq. */
int crm_zsend(void *socket, const void *const *data, const size_t *size, int n);
/* The same with a last frame of the caller's, sent without a copy: on
 * success libzmq owns *last (its free function runs when libzmq lets go of
 * the bytes, maybe on an I/O thread); on failure *last is left as it was. */
int crm_zsend_msg(void *socket, const void *const *data, const size_t *size, int n, zmq_msg_t *last);

/* Sets socket options every socket of ours wants: linger 0 (so a close never
 * hangs), a maximum message size (max_msg bytes; 0 = unlimited), and ZMTP
 * heartbeats: a peer silent for CRM_HEARTBEAT_TIMEOUT_MS is dropped, so a
 * cut link is noticed in seconds rather than at TCP's timeout (an
 * IMMEDIATE socket then reports its service unavailable, and reconnection
 * starts at once). Returns 0 or -1 with errno. */
#define CRM_HEARTBEAT_IVL_MS 1000
#define CRM_HEARTBEAT_TIMEOUT_MS 3000
int crm_zsock_setup(void *socket, int64_t max_msg);

#endif
