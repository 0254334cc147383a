#ifndef CRM_DATE_H
#define CRM_DATE_H

#include <stdint.h>

/* Calendar dates as the API writes them ("YYYY-MM-DD", proleptic
 * Gregorian) and as stores key them: a day number, days since 1970-01-01
 * (negative before). Pure functions; none can fail but as said. */

#define CRM_DATE_LEN 10   /* "YYYY-MM-DD" */
#define CRM_DATE_MIN_YEAR 1900
#define CRM_DATE_MAX_YEAR 9999

/* Parses s, exactly "YYYY-MM-DD" of a real date in years 1900 to 9999, into
 * *day. Returns 0, or -1 (nothing written) for anything else. */
int crm_date_parse(const char *s, int32_t *day);

/* Writes day as "YYYY-MM-DD" and a NUL into out. Can't fail. */
void crm_date_format(char out[CRM_DATE_LEN + 1], int32_t day);

/* The UTC day of an instant (Unix microseconds). Can't fail. */
int32_t crm_date_of_instant(int64_t us);

/* The instant (Unix microseconds) day starts at, UTC. Can't fail. */
int64_t crm_date_start_us(int32_t day);

/* Where a deadline stands against today: CRM_DUE_OVERDUE before it,
 * CRM_DUE_TODAY on it, CRM_DUE_LATER after (the numbers are the API's
 * ActivityDue values). Can't fail. */
enum { CRM_DUE_OVERDUE = 1, CRM_DUE_TODAY = 2, CRM_DUE_LATER = 3 };
int crm_date_due(int32_t deadline, int32_t today);

/* A day as 4 key bytes that sort as the days do (big-endian, offset so
 * that days before 1970 come first), and back. Can't fail. */
void crm_date_key_put(uint8_t out[4], int32_t day);
int32_t crm_date_key_get(const uint8_t in[4]);

#endif
