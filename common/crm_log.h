#ifndef CRM_LOG_H
#define CRM_LOG_H

#include <stdint.h>

/* One line per event on stderr:
 *   2026-11-27T07:30:00.123456Z INFO identity req=42 created user 7
 * The level threshold comes from CRM_LOG_LEVEL (debug, info, warn, error). */
typedef enum { CRM_LOG_DEBUG, CRM_LOG_INFO, CRM_LOG_WARN, CRM_LOG_ERROR } crm_log_level_t;

/* Names the program in every line and reads CRM_LOG_LEVEL. Can't fail. */
void crm_log_init(const char *service);

/* The name given to crm_log_init ("crm" before). Never NULL. */
const char *crm_log_service(void);

/* Writes one line if level passes the threshold. request_id 0 = none. */
void crm_log(crm_log_level_t level, uint64_t request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define crm_debug(...) crm_log(CRM_LOG_DEBUG, 0, __VA_ARGS__)
#define crm_info(...)  crm_log(CRM_LOG_INFO, 0, __VA_ARGS__)
#define crm_warn(...)  crm_log(CRM_LOG_WARN, 0, __VA_ARGS__)
#define crm_error(...) crm_log(CRM_LOG_ERROR, 0, __VA_ARGS__)

#endif
