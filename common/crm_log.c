#include "crm_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char log_service[32] = "crm";

const char *crm_log_service(void) { return log_service; }
static crm_log_level_t log_threshold = CRM_LOG_INFO;
static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void crm_log_init(const char *service)
{
    snprintf(log_service, sizeof log_service, "%s", service);
    const char *lv = getenv("CRM_LOG_LEVEL");
    if (!lv)
        return;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(lv, level_names[i]) == 0)
            log_threshold = (crm_log_level_t)i;
}

void crm_log(crm_log_level_t level, uint64_t request_id, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000, level_names[level], log_service);
    if (request_id && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "req=%llu ",
                      (unsigned long long)request_id);
    if (n < (int)sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    /* one write per line so concurrent processes never interleave a line */
    for (char *p = line; p < line + n; p++)
        if (*p == '\n')
            *p = ' ';
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stderr);
}
