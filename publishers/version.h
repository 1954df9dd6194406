/*
 * version.h - which HTTP library publishers/ runs on, for `artifactd
 * version` and the metrics page (nothing outside publishers/ needs to
 * name it).
 */
#ifndef PUBLISHERS_VERSION_H
#define PUBLISHERS_VERSION_H

/* The version of the HTTP library at run time ("7.88.1"); *library (may
 * be NULL) gets its name ("libcurl"). Static strings. */
const char *publishers_version(const char **library);

#endif
