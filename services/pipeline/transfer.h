#ifndef PL_TRANSFER_H
#define PL_TRANSFER_H

#include "pipeline.h"

/* CSV import and export of leads and customers (import.c, export.c): the
 * columns both read and write, so that what export writes import reads
 * back as the same records. */

#define PL_MODEL_CUSTOMER CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_CUSTOMER
#define PL_MODEL_LEAD CRM__PIPELINE__V1__IMPORT_MODEL__IMPORT_MODEL_LEAD

typedef enum {
    COL_ID, COL_NAME, COL_TYPE, COL_REVENUE, COL_CURRENCY, COL_PROBABILITY, COL_CUSTOMER, COL_CONTACT,
    COL_COMPANY, COL_IS_COMPANY, COL_PARENT, COL_EMAIL, COL_PHONE, COL_FUNCTION, COL_STREET, COL_CITY,
    COL_COUNTRY, COL_SALESPERSON, COL_TEAM, COL_STAGE, COL_TAGS, COL_PRIORITY, COL_CLOSING, COL_NEXT_ACTION,
    COL_NEXT_DATE, COL_REFERRED, COL_NOTES, COL_COUNT
} pl_column_t;

typedef struct {
    const char *json;    /* the header export writes: the proto3 JSON name of what it holds */
    const char *aliases; /* other headers import takes, "|"-separated (labels people write) */
    const char *field;   /* the request field behind it, in snake case (update masks) */
    const char *error_field; /* the JSON name the create and update paths name in errors */
    unsigned models;     /* 1 << PL_MODEL_* */
} pl_column_def_t;

extern const pl_column_def_t pl_columns[COL_COUNT];

/* The columns of model, in the order export writes them; *n their count. */
const pl_column_t *pl_model_columns(int model, size_t *n);

/* The column of model a header names (case, spaces, "_" and "-" ignored;
 * its JSON name or a label), or -1. */
int pl_column_find(int model, const char *header);

/* The export id of a record ("lead/42@" and this store's export namespace
 * in 12 hex digits), in the call's arena. */
char *pl_export_id(crm_call_t *call, int model, int64_t id);
/* The record id an export id of this store names; 0 if s is not one of
 * model's or names another store (then it is an external id like any
 * other: a record of that id here is another record). Can't fail. */
int64_t pl_export_id_parse(crm_call_t *call, int model, const char *s);

/* Priorities and types as CSV writes them ("high", "opportunity"). */
const char *pl_priority_text(int priority);
const char *pl_type_text(int type);
/* Minor units as a decimal of major units with the currency's digits
 * ("3750.00"). out has room for 32 bytes. */
void pl_money_text(char *out, int64_t minor, const char *currency);

int pl_import_records(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);
int pl_export_records(crm_call_t *, const ProtobufCMessage *, ProtobufCMessage *);

#endif
