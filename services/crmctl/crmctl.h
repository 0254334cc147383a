#ifndef CRMCTL_H
#define CRMCTL_H

/* crmctl backup [--data DIR] DEST: a consistent hot copy of every store
 * under DIR (CRM_DATA_DIR, else ./data) into DEST/<service>/ (backup.c).
 * Returns the exit status. */
int crmctl_backup(int argc, char **argv);

/* crmctl tail [--user ID] [--doc MODEL/ID] [--stream ENDPOINT]: follows the
 * notifications service's live stream, one JSON line per entry on stdout,
 * gaps on stderr, until SIGINT or SIGTERM (tail.c). Returns the exit status
 * (2 for bad arguments). */
int crmctl_tail(int argc, char **argv);

/* crmctl consumers [--rpc ENDPOINT] SERVICE [retry PRODUCER | skip PRODUCER
 * SEQ]: a service's event consumers, where each stands and the event it is
 * stuck at, and an operator's decision about that event, straight on the
 * service's RPC socket (consumers.c). Returns the exit status. */
int crmctl_consumers(int argc, char **argv);

/* crmctl import FILE --model leads|customers [--dry-run] [--page-rows N]
 * and crmctl export --model leads|customers [--archived], as token through
 * the gateway client c (transfer.c). Import prints each row's error as
 * "row N, column X: message" and a summary line; its status is 1 when any
 * row or page failed, 2 for bad arguments. Export writes CSV on stdout. */
#include "crm_client.h"
int crmctl_import(crm_client_t *c, const char *token, int argc, char **argv);
int crmctl_export(crm_client_t *c, const char *token, int argc, char **argv);

#endif
