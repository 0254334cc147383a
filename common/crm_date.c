/* Days from civil dates and back: Howard Hinnant's algorithms
 * ("chrono-Compatible Low-Level Date Algorithms"), exact for every
 * proleptic Gregorian date in integers alone; timegm and gmtime_r would
 * go through time_t, whose range and failures are the platform's. */
#include "crm_date.h"

static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int crm_date_parse(const char *s, int32_t *day)
{
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    /* each test reads only bytes the ones before proved are not the NUL */
    if (!s || digits(s, 4, &y) != 0 || s[4] != '-' || digits(s + 5, 2, &m) != 0 || s[7] != '-' ||
        digits(s + 8, 2, &d) != 0 || s[10] != '\0')
        return -1;
    if (y < CRM_DATE_MIN_YEAR || y > CRM_DATE_MAX_YEAR || m < 1 || m > 12 || d < 1 ||
        d > month_days[m - 1] + (m == 2 && is_leap(y)))
        return -1;
    *day = days_from_civil(y, m, d);
    return 0;
}

void crm_date_format(char out[CRM_DATE_LEN + 1], int32_t day)
{
    int y, m, d;
    civil_from_days(day, &y, &m, &d);
    if (y < 0 || y > 9999) /* outside what a date field holds: clamp rather than overflow the buffer */
        y = y < 0 ? 0 : 9999;
    int parts[] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10, m / 10, m % 10, d / 10, d % 10};
    const int at[] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++)
        out[at[i]] = (char)('0' + parts[i]);
    out[4] = out[7] = '-';
    out[10] = '\0';
}

#define DAY_US 86400000000LL

int32_t crm_date_of_instant(int64_t us)
{
    int64_t q = us / DAY_US;
    if (us % DAY_US < 0)
        q--; /* floor, so that an instant before 1970 falls on its own day */
    return (int32_t)q;
}

int64_t crm_date_start_us(int32_t day) { return (int64_t)day * DAY_US; }

int crm_date_due(int32_t deadline, int32_t today)
{
    return deadline < today ? CRM_DUE_OVERDUE : deadline == today ? CRM_DUE_TODAY : CRM_DUE_LATER;
}

void crm_date_key_put(uint8_t out[4], int32_t day)
{
    uint32_t v = (uint32_t)day ^ 0x80000000u;
    for (int i = 3; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

int32_t crm_date_key_get(const uint8_t in[4])
{
    uint32_t v = ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
    return (int32_t)(v ^ 0x80000000u);
}
