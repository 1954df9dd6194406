/*
 * version.h - which git library store/ runs on, for `artifactd version`
 * and the metrics page (nothing outside store/ needs to name it).
 */
#ifndef STORE_VERSION_H
#define STORE_VERSION_H

/* The version of the git library at run time ("1.5.1"); *library (may be
 * NULL) gets its name ("libgit2"). Static strings. */
const char *store_version(const char **library);

#endif
