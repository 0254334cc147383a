/* Bytes in flight: request bodies being read or served, and replies not yet
 * taken by their reader, counted per source address, per session and for
 * the whole gateway, so that no one address, no one session (its token's
 * calls from any number of addresses), and no crowd, can make the gateway
 * hold more than its share (the HTTP door's per-address connection limit
 * bounds the connections; this bounds what they hold). */
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

static int64_t held_in(crm_map_t *map, uint64_t key)
{
    held_t *h = map ? crm_map_get(map, key) : NULL;
    return h ? h->bytes : 0;
}

static void add_to(crm_map_t **map, uint64_t key, int64_t bytes)
{
    if (!*map)
        *map = crm_map_new();
    held_t *h = crm_map_get(*map, key);
    if (!h) {
        h = crm_calloc(1, sizeof *h);
        crm_map_put(*map, key, h);
    }
    h->bytes += bytes;
    if (h->bytes <= 0)
        free(crm_map_remove(*map, key));
}

void gw_budget_force(gateway_t *gw, const char *address, uint64_t session, int64_t bytes)
{
    if (bytes <= 0)
        return;
    add_to(&gw->held, address_key(address), bytes);
    if (session)
        add_to(&gw->held_by_session, session, bytes);
    gw->held_total += bytes;
}

int gw_budget_take(gateway_t *gw, const char *address, uint64_t session, int64_t bytes)
{
    if (bytes <= 0)
        return 0;
    if (gw->held_total + bytes > gw->max_held ||
        held_in(gw->held, address_key(address)) + bytes > gw->max_held_per_address ||
        (session && held_in(gw->held_by_session, session) + bytes > gw->max_held_per_session))
        return -1;
    gw_budget_force(gw, address, session, bytes);
    return 0;
}

int gw_budget_over(gateway_t *gw, const char *address, uint64_t session)
{
    return gw->held_total >= gw->max_held || held_in(gw->held, address_key(address)) >= gw->max_held_per_address ||
           (session && held_in(gw->held_by_session, session) >= gw->max_held_per_session);
}

void gw_budget_give(gateway_t *gw, const char *address, uint64_t session, int64_t bytes)
{
    if (bytes <= 0 || !gw->held)
        return;
    uint64_t key = address_key(address);
    if (!crm_map_get(gw->held, key))
        return; /* never taken */
    add_to(&gw->held, key, -bytes);
    if (session && gw->held_by_session && crm_map_get(gw->held_by_session, session))
        add_to(&gw->held_by_session, session, -bytes);
    gw->held_total -= bytes;
}

static void free_held(void *arg, uint64_t key, void *value)
{
    free(value);
}

void gw_budget_free_all(gateway_t *gw)
{
    crm_map_t **maps[] = {&gw->held, &gw->held_by_session};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        if (!*maps[i])
            continue;
        crm_map_each(*maps[i], free_held, NULL);
        crm_map_destroy(maps[i]);
    }
}
