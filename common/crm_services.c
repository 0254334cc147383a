#include "crm_services.h"
#include "activities.pb-c.h"
#include "health.pb-c.h"
#include "identity.pb-c.h"
#include "notifications.pb-c.h"
#include "pipeline.pb-c.h"

#include <string.h>

const crm_service_entry_t crm_services[] = {
    {&crm__identity__v1__identity__descriptor, "identity"},
    {&crm__pipeline__v1__pipeline__descriptor, "pipeline"},
    {&crm__activities__v1__activities__descriptor, "activities"},
    {&crm__notifications__v1__notifications__descriptor, "notifications"},
    {&crm__health__v1__health__descriptor, NULL},
};
const int crm_services_count = sizeof crm_services / sizeof crm_services[0];

const ProtobufCMethodDescriptor *crm_services_find(const char *name,
                                                   const ProtobufCServiceDescriptor **service_out)
{
    const char *slash = strchr(name, '/');
    if (!slash)
        return NULL;
    size_t slen = (size_t)(slash - name);
    for (int i = 0; i < crm_services_count; i++) {
        const ProtobufCServiceDescriptor *d = crm_services[i].service;
        int full = strlen(d->name) == slen && !strncmp(d->name, name, slen);
        int brief = strlen(d->short_name) == slen && !strncmp(d->short_name, name, slen);
        if (!full && !brief)
            continue;
        const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(d, slash + 1);
        if (m) {
            if (service_out)
                *service_out = d;
            return m;
        }
    }
    return NULL;
}
