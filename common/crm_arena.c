#include "crm_arena.h"
#include "crm_mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ARENA_BLOCK 8192

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} block_t;

struct crm_arena {
    block_t *head;   /* current block; older blocks follow */
    size_t total;
    ProtobufCAllocator pb;
};

static void *pb_alloc(void *ctx, size_t size) { return crm_arena_alloc(ctx, size); }
static void pb_free(void *ctx, void *ptr) { (void)ctx; (void)ptr; }

static block_t *block_new(size_t size)
{
    block_t *b = crm_malloc(sizeof *b + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

crm_arena_t *crm_arena_new(void)
{
    crm_arena_t *self = crm_malloc(sizeof *self);
    self->head = block_new(ARENA_BLOCK);
    self->total = 0;
    self->pb.alloc = pb_alloc;
    self->pb.free = pb_free;
    self->pb.allocator_data = self;
    return self;
}

static void free_blocks(block_t *b)
{
    while (b) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
}

void crm_arena_destroy(crm_arena_t **self_p)
{
    if (!*self_p)
        return;
    free_blocks((*self_p)->head);
    free(*self_p);
    *self_p = NULL;
}

void crm_arena_reset(crm_arena_t *self)
{
    /* keep the oldest block: it is the one of standard size */
    block_t *b = self->head, *keep = NULL;
    while (b) {
        block_t *next = b->next;
        if (!next)
            keep = b;
        else
            free(b);
        b = next;
    }
    keep->used = 0;
    self->head = keep;
    self->total = 0;
}

void *crm_arena_alloc(crm_arena_t *self, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size)
        crm_oom(size);
    block_t *b = self->head;
    if (b->size - b->used < need) {
        size_t bs = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = block_new(bs);
        b->next = self->head;
        self->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    self->total += need;
    memset(p, 0, size);
    return p;
}

char *crm_arena_strndup(crm_arena_t *self, const char *s, size_t len)
{
    char *p = crm_arena_alloc(self, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *crm_arena_strdup(crm_arena_t *self, const char *s)
{
    return crm_arena_strndup(self, s, strlen(s));
}

char *crm_arena_printf(crm_arena_t *self, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = crm_arena_alloc(self, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

ProtobufCAllocator *crm_arena_allocator(crm_arena_t *self) { return &self->pb; }

size_t crm_arena_used(const crm_arena_t *self) { return self->total; }
