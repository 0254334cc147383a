/* http_chunks.h: HTTP/1.1 chunked transfer decoding for the test clients of
 * GET /v1/stream (the system tests' harness and bench_notifications), which
 * read the gateway's socket themselves. Header-only: they are separate
 * programs. */
#ifndef TESTS_HTTP_CHUNKS_H
#define TESTS_HTTP_CHUNKS_H

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t left; /* bytes of the current chunk still to come */
    int crlf;    /* a chunk's data ended: its CRLF is next */
    int ended;   /* the last (empty) chunk came: the server ended the body */
} http_chunks_t;

/* Hands the chunk data in raw[0, *raw_len) to put, in order, and keeps in
 * raw only what is not yet a whole piece (moved to the front). */
static inline void http_chunks_decode(http_chunks_t *s, char *raw, size_t *raw_len,
                                      void (*put)(void *arg, const char *data, size_t len), void *arg)
{
    size_t at = 0, len = *raw_len;
    while (at < len && !s->ended) {
        if (s->crlf) {
            if (len - at < 2)
                break;
            at += 2;
            s->crlf = 0;
        }
        if (s->left) {
            size_t take = len - at < s->left ? len - at : s->left;
            if (!take)
                break;
            put(arg, raw + at, take);
            at += take;
            s->left -= take;
            if (!s->left)
                s->crlf = 1;
            continue;
        }
        char *eol = memmem(raw + at, len - at, "\r\n", 2);
        if (!eol)
            break;
        size_t size = strtoul(raw + at, NULL, 16);
        at = (size_t)(eol + 2 - raw);
        if (size == 0)
            s->ended = 1;
        s->left = size;
    }
    memmove(raw, raw + at, len - at);
    *raw_len = len - at;
}

#endif
