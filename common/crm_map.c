#include "crm_map.h"
#include "crm_mem.h"

typedef struct {
    uint64_t key;
    void *value; /* NULL = empty slot */
} slot_t;

struct crm_map {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t size;
};

static size_t slot_of(uint64_t key, size_t cap)
{
    /* splitmix64 finaliser: sequential ids spread over the table */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & (cap - 1);
}

crm_map_t *crm_map_new(void)
{
    crm_map_t *self = crm_malloc(sizeof *self);
    self->cap = 16;
    self->size = 0;
    self->slots = crm_calloc(self->cap, sizeof *self->slots);
    return self;
}

void crm_map_destroy(crm_map_t **self_p)
{
    if (!*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

static void grow(crm_map_t *self)
{
    slot_t *old = self->slots;
    size_t old_cap = self->cap;
    self->cap *= 2;
    self->slots = crm_calloc(self->cap, sizeof *self->slots);
    self->size = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].value)
            crm_map_put(self, old[i].key, old[i].value);
    free(old);
}

void crm_map_put(crm_map_t *self, uint64_t key, void *value)
{
    if ((self->size + 1) * 4 > self->cap * 3)
        grow(self);
    size_t i = slot_of(key, self->cap);
    while (self->slots[i].value && self->slots[i].key != key)
        i = (i + 1) & (self->cap - 1);
    if (!self->slots[i].value)
        self->size++;
    self->slots[i].key = key;
    self->slots[i].value = value;
}

void *crm_map_get(const crm_map_t *self, uint64_t key)
{
    size_t i = slot_of(key, self->cap);
    while (self->slots[i].value) {
        if (self->slots[i].key == key)
            return self->slots[i].value;
        i = (i + 1) & (self->cap - 1);
    }
    return NULL;
}

void *crm_map_remove(crm_map_t *self, uint64_t key)
{
    size_t mask = self->cap - 1, i = slot_of(key, self->cap);
    while (self->slots[i].value && self->slots[i].key != key)
        i = (i + 1) & mask;
    void *value = self->slots[i].value;
    if (!value)
        return NULL;
    self->size--;
    /* shift back later entries whose home lies at or before the hole */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!self->slots[j].value)
            break;
        size_t home = slot_of(self->slots[j].key, self->cap);
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].value = NULL;
    return value;
}

size_t crm_map_size(const crm_map_t *self) { return self->size; }

void crm_map_each(const crm_map_t *self, void (*fn)(void *, uint64_t, void *), void *arg)
{
    for (size_t i = 0; i < self->cap; i++)
        if (self->slots[i].value)
            fn(arg, self->slots[i].key, self->slots[i].value);
}
