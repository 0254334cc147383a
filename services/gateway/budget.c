/* Bytes in flight: request bodies being read or served, and replies not yet
 * taken by their reader, counted per source address and for the whole
 * gateway, so that no one address, and no crowd, can make the gateway hold
 * more than its share (the HTTP door's per-address connection limit bounds
 * the connections; this bounds what they hold). */
#include "gateway.h"
#include "crm_mem.h"

#include <sodium.h>
#include <string.h>

typedef struct {
    int64_t bytes;
} held_t;

static uint64_t address_key(const char *address)
{
    uint64_t key;
    crypto_shorthash((unsigned char *)&key, (const unsigned char *)address, strlen(address),
                     (const unsigned char *)"crm-gw-addresses");
    return key;
}

int gw_budget_take(gateway_t *gw, const char *address, int64_t bytes)
{
    if (bytes <= 0)
        return 0;
    if (!gw->held)
        gw->held = crm_map_new();
    uint64_t key = address_key(address);
    held_t *h = crm_map_get(gw->held, key);
    int64_t mine = h ? h->bytes : 0;
    if (gw->held_total + bytes > gw->max_held || mine + bytes > gw->max_held_per_address)
        return -1;
    if (!h) {
        h = crm_calloc(1, sizeof *h);
        crm_map_put(gw->held, key, h);
    }
    h->bytes += bytes;
    gw->held_total += bytes;
    return 0;
}

void gw_budget_force(gateway_t *gw, const char *address, int64_t bytes)
{
    if (bytes <= 0)
        return;
    if (!gw->held)
        gw->held = crm_map_new();
    uint64_t key = address_key(address);
    held_t *h = crm_map_get(gw->held, key);
    if (!h) {
        h = crm_calloc(1, sizeof *h);
        crm_map_put(gw->held, key, h);
    }
    h->bytes += bytes;
    gw->held_total += bytes;
}

int gw_budget_over(gateway_t *gw, const char *address)
{
    if (gw->held_total >= gw->max_held)
        return 1;
    held_t *h = gw->held ? crm_map_get(gw->held, address_key(address)) : NULL;
    return h && h->bytes >= gw->max_held_per_address;
}

void gw_budget_give(gateway_t *gw, const char *address, int64_t bytes)
{
    if (bytes <= 0 || !gw->held)
        return;
    uint64_t key = address_key(address);
    held_t *h = crm_map_get(gw->held, key);
    if (!h)
        return;
    h->bytes -= bytes;
    gw->held_total -= bytes;
    if (h->bytes <= 0)
        free(crm_map_remove(gw->held, key));
}

static void free_held(void *arg, uint64_t key, void *value)
{
    free(value);
}

void gw_budget_free_all(gateway_t *gw)
{
    if (!gw->held)
        return;
    crm_map_each(gw->held, free_held, NULL);
    crm_map_destroy(&gw->held);
}
