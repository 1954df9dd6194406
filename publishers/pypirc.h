/*
 * pypirc.h - the repositories of a ~/.pypirc, read as twine reads them.
 *
 * twine (utils.get_config, Debian's twine 4) reads the file with
 * Python's RawConfigParser: `[distutils] index-servers` lists the
 * repository sections (default "pypi testpypi"); each section may set
 * `repository` (the upload URL), `username` and `password`; the obsolete
 * `[server-login]` gives defaults for both. "pypi" always exists with
 * https://upload.pypi.org/legacy/, "testpypi" gets
 * https://test.pypi.org/legacy/ when it is listed. A missing file at the
 * default place is an empty file; a missing file named on purpose is an
 * error. The pypi publisher consults it last, only when no other source
 * names the upload URL (twine ignores the file's credentials when
 * TWINE_REPOSITORY_URL is set, so a password of the file never goes to
 * another index).
 */
#ifndef PUBLISHERS_PYPIRC_H
#define PUBLISHERS_PYPIRC_H

#include <stdbool.h>

#include "common/error.h"

/* A .pypirc holds a few sections of a few lines; 64 KiB (the secret
 * files' ceiling) bounds the read before anything is allocated. */
#define PYPIRC_MAX (64 * 1024)

/* One repository of the file; each field NULL when absent. */
struct pypirc_repo {
	char *url; /* `repository` */
	char *username;
	char *password;  /* registered with the redactor */
	bool file_found; /* false: twine's defaults, no file was read */
};

/*
 * The repository called section in the file at path (NULL: $HOME/.pypirc,
 * as twine's default "~/.pypirc"). The file must be a regular file (a
 * FIFO is refused without blocking) of at most PYPIRC_MAX bytes; a file
 * its group or others may read is used with a warning (it holds
 * passwords: chmod 600). *is_default tells whether path was the default.
 * Returns 0 (out filled, release with pypirc_repo_dispose), ERR_NOTFOUND
 * (no such repository: not listed in index-servers, or no file and not
 * "pypi"/"testpypi") or ERR_INVALID (code CONFIG: unreadable, too large,
 * not a regular file, a line that is neither a section, an option, a
 * comment nor a continuation). Messages name the path, never a value.
 */
int pypirc_lookup(struct pypirc_repo *out, const char *path,
    const char *section, struct error *err);

/* Parse text (the file's content) as pypirc_lookup does. `what` names
 * the file in messages. For the unit tests and pypirc_lookup. */
int pypirc_parse(struct pypirc_repo *out, const char *text, const char *section,
    const char *what, struct error *err);

/* The path pypirc_lookup reads when path is NULL, or NULL without HOME.
 * The caller frees. */
char *pypirc_default_path(void);

/* Free and wipe (the password) what pypirc_lookup put in r. */
void pypirc_repo_dispose(struct pypirc_repo *r);

#endif
