#ifndef CRM_TRACKING_H
#define CRM_TRACKING_H

#include <stddef.h>
#include <stdint.h>
#include "crm_arena.h"
#include "pipeline.pb-c.h"

/* How a person reads pipeline's tracked changes, one copy for the chatter
 * (activities) and the inbox (notifications): "Stage: New → Proposition",
 * "Expected revenue: 0.00 → 3,750.00 EUR", "Salesperson: — → Li". */

/* Money in minor units as people read it: 375000, "EUR" → "3,750.00"
 * (ISO 4217 exponents). Writes at most size bytes to out. Can't fail. */
void crm_format_money(char *out, size_t size, int64_t minor, const char *currency);

/* The digits after the decimal mark of currency's minor units (ISO 4217:
 * 0 for JPY, 3 for KWD, else 2). Can't fail. */
int crm_currency_exponent(const char *currency);

/* An instant (Unix us) as "2026-12-01 10:00 UTC". Can't fail. */
void crm_format_time(char *out, size_t size, int64_t at_us);

/* Called once per tracked change, in order, with its label ("Stage") and
 * both sides as people read them. */
typedef void (crm_tracking_fn)(void *arg, const Crm__Pipeline__V1__FieldChange *change,
                               const char *label, const char *old_text, const char *new_text);

/* The text of a change: headline (may be NULL) then one line per tracked
 * field; untracked fields (name, notes, ...) are left out. *tracked is the
 * number of tracked changes. each may be NULL. Never NULL; "" when nothing
 * is tracked and there is no headline. Allocated in arena. */
char *crm_tracking_text(crm_arena_t *arena, Crm__Pipeline__V1__FieldChange *const *changes, size_t n,
                        const char *headline, crm_tracking_fn *each, void *arg, size_t *tracked);

#endif
