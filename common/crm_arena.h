#ifndef CRM_ARENA_H
#define CRM_ARENA_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* A bump allocator for everything one request needs: decoded messages,
 * reply submessages, strings. Freed all at once, so handlers never free
 * piecemeal and a failing path leaks nothing. */
typedef struct crm_arena crm_arena_t;

/* A new empty arena. Aborts on out-of-memory; never returns NULL. */
crm_arena_t *crm_arena_new(void);

/* Frees the arena and all it handed out; sets *self_p to NULL. */
void crm_arena_destroy(crm_arena_t **self_p);

/* Forgets everything handed out, keeping the first block for reuse. */
void crm_arena_reset(crm_arena_t *self);

/* size bytes, 16-byte aligned, zeroed. Aborts on out-of-memory. */
void *crm_arena_alloc(crm_arena_t *self, size_t size);

/* A NUL-terminated copy of len bytes of s. Aborts on out-of-memory. */
char *crm_arena_strndup(crm_arena_t *self, const char *s, size_t len);
char *crm_arena_strdup(crm_arena_t *self, const char *s);

/* printf into the arena. Aborts on out-of-memory. */
char *crm_arena_printf(crm_arena_t *self, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A protobuf-c allocator drawing from the arena; its free does nothing.
 * The pointer stays valid as long as the arena. */
ProtobufCAllocator *crm_arena_allocator(crm_arena_t *self);

/* Bytes handed out since the last reset (for limits and tests). */
size_t crm_arena_used(const crm_arena_t *self);

#endif
