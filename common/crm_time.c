#include "crm_time.h"

#include <time.h>

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t crm_time_now_us(void) { return clock_us(CLOCK_REALTIME); }
int64_t crm_time_mono_us(void) { return clock_us(CLOCK_MONOTONIC); }
