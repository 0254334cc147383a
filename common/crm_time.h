#ifndef CRM_TIME_H
#define CRM_TIME_H

#include <stdint.h>

/* Wall-clock now, Unix microseconds UTC (see ARCHITECTURE.md, Data conventions). Can't fail. */
int64_t crm_time_now_us(void);

/* Monotonic microseconds, for latencies and timeouts. Can't fail. */
int64_t crm_time_mono_us(void);

#endif
