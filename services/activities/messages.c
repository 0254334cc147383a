/* The chatter: messages on a document, newest first, and their attachments,
 * whose bytes are kept once per content (SHA-256) however often they are
 * posted. */
#include "activities.h"
#include "crm_request.h"
#include "crm_validate.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CODE(x) CRM__RPC__V1__CODE__CODE_##x
#define KIND(x) CRM__ACTIVITIES__V1__MESSAGE_KIND__MESSAGE_KIND_##x

#define BODY_MAX 20000      /* characters */
#define ATTACHMENTS_MAX 16  /* per message */

int act_message_store(activities_t *a, MDB_txn *txn, message_t *m, int64_t actor_id)
{
    int rc = 0;
    if (!m->id) {
        uint64_t id;
        if ((rc = crm_store_next_id(a->store, txn, "message", &id)) != 0)
            return rc;
        m->id = (int64_t)id;
    }
    if ((rc = crm_db_put_id(txn, a->messages, (uint64_t)m->id, &m->base)) != 0)
        return rc;
    uint8_t key[ACT_TIME_KEY];
    act_doc_time_key(key, crm_doc_model(m->doc->model), m->doc->id, m->at, m->id);
    MDB_val k = {sizeof key, key}, d = {0, ""};
    if ((rc = mdb_put(txn, a->chatter, &k, &d, 0)) != 0)
        return rc;
    Crm__Activities__V1__MessageEvent ev = CRM__ACTIVITIES__V1__MESSAGE_EVENT__INIT;
    ev.message = m;
    return crm_outbox_append(a->outbox, txn, "message.posted", actor_id, &ev.base, NULL);
}

/* A message by the caller, now, on doc; its id is not yet taken. */
static message_t *new_message(crm_call_t *call, const doc_t *doc, int kind, const char *body)
{
    const Crm__Rpc__V1__Principal *p = crm_call_principal(call);
    message_t *m = crm_call_new(call, &crm__activities__v1__message__descriptor);
    doc_t *d = crm_call_new(call, &crm__common__v1__doc_ref__descriptor);
    d->model = (char *)crm_doc_model_name(crm_doc_model(doc->model));
    d->id = doc->id;
    m->doc = d;
    m->kind = kind;
    m->author_id = p->user_id;
    crm_userinfo_t *u = act_user(call, p->user_id);
    m->author_name = u && *u->name ? u->name : p->login;
    m->at = crm_call_now(call);
    m->body = (char *)body;
    return m;
}

int act_post_system(crm_call_t *call, const doc_t *doc, int kind, const char *body, int64_t call_id,
                    int64_t meeting_id)
{
    message_t *m = new_message(call, doc, kind, body);
    m->call_id = call_id;
    m->meeting_id = meeting_id;
    int rc = act_message_store(crm_call_ctx(call), crm_call_txn(call), m,
                               crm_call_principal(call)->user_id);
    return rc ? crm_call_fail_db(call, rc) : 0;
}

/* --- attachments ------------------------------------------------------------- */

static int check_filename(crm_call_t *call, const char *field, const char *s)
{
    crm_status_t st;
    if (crm_check_text(&st, field, s, 1, 255) != 0)
        return crm_call_fail_status(call, &st);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                                 "%s may not contain slashes or control characters", field);
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field, "%s must name a file", field);
    return 0;
}

/* RFC 6838's restricted-name: a letter or digit, then up to 126 of these. */
static size_t media_name(const char *s)
{
    static const char extra[] = "!#$&^_.+-";
    size_t n = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    while (s[n] && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
                    (s[n] >= '0' && s[n] <= '9') || strchr(extra, s[n])))
        n++;
    return n <= 127 ? n : 0;
}

/* "type/subtype" with optional "; parameters" of printable ASCII. */
static int check_content_type(crm_call_t *call, const char *field, const char *s)
{
    size_t t = media_name(s), st = t && s[t] == '/' ? media_name(s + t + 1) : 0;
    const char *rest = s + t + 1 + st;
    int ok = st > 0 && strlen(s) <= 255 && (*rest == '\0' || *rest == ';');
    for (const char *p = rest; ok && *p; p++)
        ok = *p >= 0x20 && *p < 0x7f;
    if (!ok)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), field,
                             "%s must be a media type such as application/pdf", field);
    return 0;
}

static int check_attachment(crm_call_t *call, size_t i, const Crm__Activities__V1__Attachment *at)
{
    activities_t *a = crm_call_ctx(call);
    char f[64];
    snprintf(f, sizeof f, "attachments[%zu].filename", i);
    if (check_filename(call, f, at->filename) != 0)
        return -1;
    snprintf(f, sizeof f, "attachments[%zu].contentType", i);
    if (*at->content_type && check_content_type(call, f, at->content_type) != 0)
        return -1;
    snprintf(f, sizeof f, "attachments[%zu].data", i);
    if (at->data.len == 0)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f, "%s is empty: attach a file with content", f);
    if ((int64_t)at->data.len > a->max_attachment)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), f,
                             "%s is %zu bytes; an attachment may have at most %lld bytes (%.1f MiB)", f,
                             at->data.len, (long long)a->max_attachment,
                             (double)a->max_attachment / (1024.0 * 1024.0));
    return 0;
}

/* A content hash as clients see it: lowercase hex, in the call's arena. */
static char *hash_hex(crm_call_t *call, const uint8_t *hash, size_t len)
{
    char *hex = crm_arena_alloc(crm_call_arena(call), len * 2 + 1);
    sodium_bin2hex(hex, len * 2 + 1, hash, len);
    return hex;
}

/* Stores one attachment of message mid (its bytes once per content) and
 * fills out with its public record. Returns 0 or -1. */
static int store_attachment(crm_call_t *call, const doc_t *doc, int64_t mid,
                            const Crm__Activities__V1__Attachment *in, Crm__Activities__V1__Attachment *out)
{
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    uint8_t *hash = crm_arena_alloc(crm_call_arena(call), crypto_hash_sha256_BYTES);
    crypto_hash_sha256(hash, in->data.data, in->data.len);
    MDB_val k = {crypto_hash_sha256_BYTES, hash}, d = {in->data.len, in->data.data};
    int rc = mdb_put(txn, a->blobs, &k, &d, MDB_NOOVERWRITE);
    if (rc && rc != MDB_KEYEXIST)
        return crm_call_fail_db(call, rc);
    uint64_t id;
    if ((rc = crm_store_next_id(a->store, txn, "attachment", &id)) != 0)
        return crm_call_fail_db(call, rc);
    Crm__Activities__V1__AttachmentRecord r = CRM__ACTIVITIES__V1__ATTACHMENT_RECORD__INIT;
    r.id = (int64_t)id;
    r.filename = in->filename;
    r.content_type = *in->content_type ? in->content_type : "application/octet-stream";
    r.size = (int64_t)in->data.len;
    r.hash.data = hash;
    r.hash.len = crypto_hash_sha256_BYTES;
    r.doc = (doc_t *)doc;
    r.message_id = mid;
    if ((rc = crm_db_put_id(txn, a->attachments, id, &r.base)) != 0)
        return crm_call_fail_db(call, rc);
    out->id = r.id;
    out->filename = r.filename;
    out->content_type = r.content_type;
    out->size = r.size;
    out->sha256 = hash_hex(call, hash, crypto_hash_sha256_BYTES);
    return 0;
}

/* --- handlers ------------------------------------------------------------------ */

int act_post_message(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__PostMessageRequest *r = (const void *)in;
    activities_t *a = crm_call_ctx(call);
    crm_status_t st;
    if (act_check_doc(call, "doc", r->doc) != 0)
        return -1;
    if (r->kind != KIND(NOTE) && r->kind != KIND(COMMENT))
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "kind",
                             "kind must be MESSAGE_KIND_NOTE or MESSAGE_KIND_COMMENT");
    if (crm_check_text(&st, "body", r->body, 0, BODY_MAX) != 0)
        return crm_call_fail_status(call, &st);
    if (!*r->body && !r->n_attachments)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "body", "a message needs a body or an attachment");
    if (r->n_attachments > ATTACHMENTS_MAX)
        return crm_call_fail(call, CODE(INVALID_ARGUMENT), "attachments",
                             "a message may carry at most %d attachments", ATTACHMENTS_MAX);
    for (size_t i = 0; i < r->n_attachments; i++)
        if (check_attachment(call, i, r->attachments[i]) != 0)
            return -1;

    message_t *m = new_message(call, r->doc, r->kind, r->body);
    uint64_t id;
    int rc = crm_store_next_id(a->store, crm_call_txn(call), "message", &id);
    if (rc)
        return crm_call_fail_db(call, rc);
    m->id = (int64_t)id;
    if (r->n_attachments) {
        m->attachments = crm_arena_alloc(crm_call_arena(call), sizeof *m->attachments * r->n_attachments);
        for (size_t i = 0; i < r->n_attachments; i++) {
            m->attachments[i] = crm_call_new(call, &crm__activities__v1__attachment__descriptor);
            if (store_attachment(call, m->doc, m->id, r->attachments[i], m->attachments[i]) != 0)
                return -1;
        }
        m->n_attachments = r->n_attachments;
    }
    if ((rc = act_message_store(a, crm_call_txn(call), m, m->author_id)) != 0)
        return crm_call_fail_db(call, rc);
    *(message_t *)out = *m;
    return 0;
}

int act_list_messages(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__ListMessagesRequest *r = (const void *)in;
    Crm__Activities__V1__ListMessagesReply *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    if (act_check_doc(call, "doc", r->doc) != 0)
        return -1;
    uint32_t size;
    uint64_t after;
    if (crm_call_page(call, r->page_size, r->page_token, 30, 200, &size, &after) != 0)
        return -1;
    int model = crm_doc_model(r->doc->model);
    uint8_t key[ACT_TIME_KEY];
    if (after) {
        /* resume just below the last message given, wherever its time puts it */
        message_t *last;
        int rc = crm_db_get_id(txn, a->messages, after, &crm__activities__v1__message__descriptor,
                               crm_arena_allocator(crm_call_arena(call)), (void **)&last);
        if (rc == MDB_NOTFOUND || (rc == 0 && (crm_doc_model(last->doc->model) != model || last->doc->id != r->doc->id)))
            return crm_call_fail(call, CODE(INVALID_ARGUMENT), "pageToken", "pageToken is not from this chatter");
        if (rc)
            return crm_call_fail_db(call, rc);
        act_doc_time_key(key, model, r->doc->id, last->at, last->id);
    } else {
        act_doc_time_key(key, model, r->doc->id, INT64_MAX, INT64_MAX);
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, a->chatter, &cur);
    if (rc)
        return crm_call_fail_db(call, rc);
    reply->messages = crm_arena_alloc(crm_call_arena(call), sizeof *reply->messages * size);
    MDB_val k = {sizeof key, key}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &d, MDB_LAST) : mdb_cursor_get(cur, &k, &d, MDB_PREV);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_PREV)) {
        if (k.mv_size != ACT_TIME_KEY || memcmp(k.mv_data, key, ACT_DOC_KEY) != 0)
            break;
        int64_t id = (int64_t)crm_key_get_u64((uint8_t *)k.mv_data + 17);
        if (reply->n_messages == size) {
            reply->next_page_token = crm_call_page_token(call, (uint64_t)reply->messages[size - 1]->id);
            break;
        }
        message_t *m;
        rc = crm_db_get_id(txn, a->messages, (uint64_t)id, &crm__activities__v1__message__descriptor,
                           crm_arena_allocator(crm_call_arena(call)), (void **)&m);
        if (rc) {
            rc = rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc; /* a chatter entry without its message */
            break;
        }
        reply->messages[reply->n_messages++] = m;
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND)
        return crm_call_fail_db(call, rc);
    return 0;
}

int act_get_attachment(crm_call_t *call, const ProtobufCMessage *in, ProtobufCMessage *out)
{
    const Crm__Activities__V1__GetAttachmentRequest *r = (const void *)in;
    Crm__Activities__V1__Attachment *reply = (void *)out;
    activities_t *a = crm_call_ctx(call);
    MDB_txn *txn = crm_call_txn(call);
    Crm__Activities__V1__AttachmentRecord *rec;
    if (crm_call_require_sales(call) != 0)
        return -1;
    int rc = r->id > 0 ? crm_db_get_id(txn, a->attachments, (uint64_t)r->id,
                                        &crm__activities__v1__attachment_record__descriptor,
                                        crm_arena_allocator(crm_call_arena(call)), (void **)&rec)
                       : MDB_NOTFOUND;
    if (rc == 0) {
        int r = act_doc_readable(call, rec->doc);
        if (r < 0)
            return -1;
        if (!r)
            rc = MDB_NOTFOUND;
    }
    if (rc == MDB_NOTFOUND)
        return crm_call_fail(call, CODE(NOT_FOUND), "id", "no attachment %lld", (long long)r->id);
    if (rc)
        return crm_call_fail_db(call, rc);
    MDB_val k = {rec->hash.len, rec->hash.data}, d;
    if ((rc = mdb_get(txn, a->blobs, &k, &d)) != 0)
        return crm_call_fail_db(call, rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
    reply->id = rec->id;
    reply->filename = rec->filename;
    reply->content_type = rec->content_type;
    reply->size = rec->size;
    /* the map's pages are only valid while the read transaction lives */
    reply->data.data = crm_arena_alloc(crm_call_arena(call), d.mv_size);
    memcpy(reply->data.data, d.mv_data, d.mv_size);
    reply->data.len = d.mv_size;
    reply->sha256 = hash_hex(call, rec->hash.data, rec->hash.len);
    return 0;
}
