#ifndef CRM_SERVICES_H
#define CRM_SERVICES_H

#include <protobuf-c/protobuf-c.h>

/* The public API: every protobuf service a client may call, with the name of
 * the backend that owns it (NULL: the gateway answers). The gateway's routes
 * and crmctl's method names both come from this one table, so adding a
 * service is one line here. */
typedef struct {
    const ProtobufCServiceDescriptor *service;
    const char *backend;
} crm_service_entry_t;

extern const crm_service_entry_t crm_services[];
extern const int crm_services_count;

/* The method named "pkg.Service/Method" or, for people typing, just
 * "Service/Method". Returns NULL if none; *service_out gets its service. */
const ProtobufCMethodDescriptor *crm_services_find(const char *name,
                                                   const ProtobufCServiceDescriptor **service_out);

#endif
