#include "crm_limits.h"

#include <string.h>

/* Derived from what each method needs: the texts the services accept at
 * most (crm_check_text limits times 4 bytes of UTF-8), with room to spare,
 * and the attachment limit for the one method that carries files. The
 * first entry that matches wins, so exact names come before prefixes. */
static const crm_limit_entry_t table[] = {
    {"crm.identity.v1.Identity/Login", 4 << 10, "login and password"},
    {"crm.identity.v1.Identity/SetPassword", 4 << 10, "token and password"},
    {"crm.identity.v1.Identity/ChangePassword", 4 << 10, "two passwords"},
    {"crm.health.v1.Health/", 4 << 10, "a service name"},
    {"crm.activities.v1.Activities/PostMessage", CRM_LIMIT_ATTACHMENT + (256 << 10),
     "one attachment at the limit, or several smaller, and a body of 20,000 characters"},
    {"crm.pipeline.v1.Pipeline/CreateLead", 512 << 10, "internal notes of 65,536 characters"},
    {"crm.pipeline.v1.Pipeline/UpdateLead", 512 << 10, "internal notes of 65,536 characters"},
    {"crm.pipeline.v1.Pipeline/ImportRecords", CRM_LIMIT_IMPORT_PAGE + (64 << 10),
     "a CSV page of 4 MiB (the service refuses a longer one naming csv)"},
    {"", 64 << 10, "every other method: names, filters, ids"},
};

const crm_limit_entry_t *crm_limit_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

static int matches(const char *pattern, const char *method)
{
    size_t n = strlen(pattern);
    if (n == 0)
        return 1;
    if (pattern[n - 1] == '/' || pattern[n - 1] == '.')
        return strncmp(pattern, method, n) == 0;
    return strcmp(pattern, method) == 0;
}

int64_t crm_limit_request(const char *method)
{
    size_t i = 0;
    while (!matches(table[i].method, method ? method : ""))
        i++;
    return table[i].request;
}

int64_t crm_limit_json(int64_t request)
{
    return request / 2 * 3 + (16 << 10);
}

int64_t crm_limit_service(const char *service_prefix)
{
    size_t n = strlen(service_prefix);
    int64_t max = table[sizeof table / sizeof table[0] - 1].request;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strncmp(table[i].method, service_prefix, n) && table[i].request > max)
            max = table[i].request;
    return max + CRM_LIMIT_ENVELOPE;
}

size_t crm_limit_decode_budget(size_t len)
{
    return len * CRM_LIMIT_DECODE_FACTOR + CRM_LIMIT_DECODE_SLACK;
}
