#ifndef CRM_MEM_H
#define CRM_MEM_H

#include <stddef.h>
#include <stdlib.h>

/* Allocation that never returns NULL: out-of-memory prints a message and
 * aborts (the one place a program stops on its own, as Redis's zmalloc). */
void *crm_malloc(size_t size);
void *crm_calloc(size_t n, size_t size);
void *crm_realloc(void *ptr, size_t size);
char *crm_strdup(const char *s);
char *crm_strndup(const char *s, size_t n);
/* A malloc'd copy of n bytes of p (p may be NULL when n is 0). */
void *crm_memdup(const void *p, size_t n);

/* Reports an allocation of size that failed and aborts. */
_Noreturn void crm_oom(size_t size);

#endif
