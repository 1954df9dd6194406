/*
 * xalloc.h - allocation that never returns NULL.
 *
 * Running out of memory in our own code is not an input error we could
 * answer: we abort and let the supervisor (Kubernetes, systemd) restart us.
 * Nothing is lost, because unacknowledged events stay pending in Redis.
 */
#ifndef COMMON_XALLOC_H
#define COMMON_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xstrdup(NULL) returns NULL. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A newly allocated formatted string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
