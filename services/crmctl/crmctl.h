#ifndef CRMCTL_H
#define CRMCTL_H

/* crmctl backup [--data DIR] DEST: a consistent hot copy of every store
 * under DIR (CRM_DATA_DIR, else ./data) into DEST/<service>/ (backup.c).
 * Returns the exit status. */
int crmctl_backup(int argc, char **argv);

#endif
