#ifndef CRM_MAP_H
#define CRM_MAP_H

#include <stddef.h>
#include <stdint.h>

/* A hash map from u64 keys to pointers (open addressing, linear probing,
 * backward-shift deletion: no tombstones, so lookups stay short however
 * many keys come and go). Used for in-flight requests and caches. */
typedef struct crm_map crm_map_t;

/* A new empty map. Never NULL (out-of-memory aborts). */
crm_map_t *crm_map_new(void);
void crm_map_destroy(crm_map_t **self_p);

/* Sets key to value (replacing any). value must not be NULL. Can't fail. */
void crm_map_put(crm_map_t *self, uint64_t key, void *value);
/* The value of key, or NULL. */
void *crm_map_get(const crm_map_t *self, uint64_t key);
/* Removes key; returns its value, or NULL if absent. */
void *crm_map_remove(crm_map_t *self, uint64_t key);
size_t crm_map_size(const crm_map_t *self);

/* Calls fn for every entry; fn must not change the map. */
void crm_map_each(const crm_map_t *self, void (*fn)(void *arg, uint64_t key, void *value), void *arg);

#endif
