/*
 * dist.h - Python distributions: file names, versions and metadata.
 *
 * Before a release sends anything, every wheel and sdist is checked the way
 * PyPI (Warehouse) will check it, so a bad file fails the release at once
 * instead of half-way through the targets: the file name (PEP 427 wheels,
 * PEP 625 sdists), the project name (PEP 503 normalization), the version
 * (PEP 440; local versions refused for PyPI), and the wheel's
 * *.dist-info/METADATA or the sdist's <top>/PKG-INFO, read with libarchive,
 * which must agree with the file name and the release tag.
 */
#ifndef PUBLISHERS_DIST_H
#define PUBLISHERS_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* METADATA with a long description is rarely above a few hundred KiB;
 * 8 MiB bounds what a hostile archive can make us inflate. */
#define DIST_META_MAX (8u * 1024 * 1024)
#define DIST_NAME_MAX 256

enum dist_kind { DIST_OTHER, DIST_WHEEL, DIST_SDIST };

/* The parts of a distribution file name. */
struct dist_filename {
	enum dist_kind kind;
	char name[DIST_NAME_MAX];    /* as written in the file name */
	char version[DIST_NAME_MAX]; /* as written */
	char build[64];              /* wheel build tag, or "" */
	char python_tag[128];        /* wheel: "py3", "cp312.cp313" */
	char abi_tag[128];
	char platform_tag[DIST_NAME_MAX];
	char ext[8]; /* ".whl", ".tar.gz", or "" */
};

/*
 * Parse a basename: "<name>-<ver>[-<build>]-<py>-<abi>-<plat>.whl" or
 * "<name>-<ver>.tar.gz" where <ver> is a PEP 440 version (PEP 625: the
 * only sdist format current backends write). Anything else - a ZIP
 * bundle, "docs.tar.gz", "tool-1.2-linux-amd64.tar.gz", a legacy ".zip"
 * sdist - gives kind DIST_OTHER and returns 0: a plain release asset.
 * Returns ERR_INVALID (code INVALID_DIST) for a malformed wheel name, or a
 * name with '/', '\\' or control characters.
 */
int dist_parse_filename(struct dist_filename *out, const char *filename,
    struct error *err);

/* PEP 503 normalization: runs of "-_." become "-", lower case. out gets at
 * most n-1 bytes. */
void dist_normalize_name(char *out, size_t n, const char *name);

/* True when name is a valid project name (Warehouse's PROJECT_NAME_RE). */
bool dist_name_valid(const char *name);

/*
 * PEP 440 normalized form of a version ("1.0.0-RC1" -> "1.0.0rc1",
 * "v2.0.post" -> "2.0.post0"). Returns 0 or ERR_INVALID when v is not a
 * PEP 440 version. *has_local (may be NULL) tells whether a "+local" part
 * is present.
 */
int dist_version_normalize(char *out, size_t n, const char *v, bool *has_local);

/* One header of METADATA / PKG-INFO. */
struct dist_field {
	char *key;   /* as written: "Requires-Dist" */
	char *value; /* continuation lines joined with "\n" */
};

struct dist_meta {
	struct dist_field *fields;
	size_t n;
	char *description; /* the message body, or NULL */
	/* Borrowed from fields: */
	const char *metadata_version;
	const char *name;
	const char *version;
};

/* Parse the RFC 822 style text of METADATA / PKG-INFO. *out belongs to
 * the caller. Returns 0 or ERR_INVALID (no Name, Version or
 * Metadata-Version, or malformed). */
int dist_meta_parse(struct dist_meta **out, const char *text, size_t len,
    struct error *err);

/*
 * Read the metadata of a wheel (the one top-level *.dist-info/METADATA)
 * or sdist (<top>/PKG-INFO, the single top-level directory) from fd
 * (borrowed, not closed; read from offset 0, its offset is moved).
 * `path` names the file in messages. Returns 0, ERR_INVALID (not an
 * archive, no or several metadata files, over DIST_META_MAX) or ERR_FAIL
 * (I/O).
 */
int dist_meta_read(struct dist_meta **out, int fd, const char *path,
    enum dist_kind kind, struct error *err);

void dist_meta_free(struct dist_meta *m);

/* The first value of a field (case-insensitive key), or NULL. Borrowed. */
const char *dist_meta_get(const struct dist_meta *m, const char *key);

/* What dist_check demands. */
struct dist_rules {
	bool refuse_local;   /* PyPI: no "+local" versions */
	bool pypi_filenames; /* PEP 625 sdist names, wheel prefix exactly
	                        the normalized name, PyPI platform tags */
};

/*
 * Check one distribution: name and version of the file name agree with its
 * metadata; the version (normalized) equals version (the tag's, may be
 * NULL to skip); the project name normalizes to package (may be NULL).
 * Returns 0 or ERR_INVALID (code INVALID_DIST) saying what and what it
 * should be.
 */
int dist_check(const struct dist_filename *fn, const struct dist_meta *m,
    const char *package, const char *version, const struct dist_rules *rules,
    struct error *err);

#endif
