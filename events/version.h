/*
 * version.h - which Redis client library events/ runs on, for `artifactd
 * version` and the metrics page (nothing else needs to name it).
 */
#ifndef EVENTS_VERSION_H
#define EVENTS_VERSION_H

/* The version of the Redis client library ("0.14.1"); *library (may be
 * NULL) gets its name ("hiredis"). Static strings. */
const char *events_version(const char **library);

#endif
