/*
 * buf.h - a growable byte buffer with a hard maximum.
 *
 * Everything filled from outside (files, HTTP bodies, Redis replies we
 * keep) goes through a buf whose maximum is chosen by the caller, so a
 * hostile or broken peer cannot make us allocate without bound (curl's
 * dynbuf does the same). The data is always NUL-terminated.
 */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated, NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends that would exceed it fail */
};

/* Prepare an empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);

/* Free the storage; the buffer may be reused after buf_init. */
void buf_dispose(struct buf *b);

/* Drop the contents, keep the storage. */
void buf_reset(struct buf *b);

/* Append n bytes. Returns 0, or ERR_INVALID when max would be exceeded
 * (the buffer is then unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Append a string, or formatted text. Same codes as buf_append. */
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hand the storage to the caller (who frees it) and reset the buffer.
 * Never returns NULL: an empty buffer yields "". */
char *buf_detach(struct buf *b, size_t *len);

#endif
