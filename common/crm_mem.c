#include "crm_mem.h"

#include <stdio.h>
#include <string.h>

_Noreturn void crm_oom(size_t size)
{
    fprintf(stderr, "out of memory allocating %zu bytes\n", size);
    fflush(stderr);
    abort();
}

void *crm_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        crm_oom(size);
    return p;
}

void *crm_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        crm_oom(n * size);
    return p;
}

void *crm_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        crm_oom(size);
    return p;
}

char *crm_strdup(const char *s)
{
    return crm_strndup(s, strlen(s));
}

char *crm_strndup(const char *s, size_t n)
{
    char *p = crm_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *crm_memdup(const void *p, size_t n)
{
    void *q = crm_malloc(n);
    if (n)
        memcpy(q, p, n);
    return q;
}
