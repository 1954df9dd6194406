/*
 * secret.h - the one home of secrets: read them from NAME or NAME_FILE,
 * register them with the redactor, wipe them when they are freed.
 *
 * Tokens and passwords reach artifactd in the environment (NAME) or, as
 * container secrets are mounted, in a file the environment names
 * (NAME_FILE). Every reader of such a secret calls secret_get, every
 * secret file named by a setting goes through secret_read_file, and
 * every secret string is released with secret_free, so a fix to how a
 * secret is read, masked or wiped lands here once.
 */
#ifndef COMMON_SECRET_H
#define COMMON_SECRET_H

#include <stddef.h>

#include "common/error.h"

/* A token, password or passphrase is at most a few KiB (a JWT is the
 * largest we meet); a larger file is a mistake, and the ceiling bounds
 * the allocation before the file is read. */
#define SECRET_FILE_MAX (64 * 1024)

/* Environment names are short; "NAME_FILE" is built in a buffer this
 * big, and a longer name is a programming error. */
#define SECRET_NAME_MAX 128

/*
 * The secret `name` from the environment: the value of NAME when it is
 * set and not empty (it wins when both are set), else the content of the
 * file NAME_FILE names (see secret_read_file). An empty NAME counts as
 * unset. On success *out is the caller's (release it with secret_free)
 * and the value is registered with the redactor (secret_register).
 * Returns 0, ERR_NOTFOUND (neither is set; *out untouched, err not set),
 * ERR_INVALID (code CONFIG: the file is missing, not a regular file,
 * larger than SECRET_FILE_MAX or holds a NUL byte) or ERR_FAIL (code IO).
 * Messages name the variable and the path, never the content.
 */
int secret_get(char **out, const char *name, struct error *err);

/*
 * The content of the secret file at path (a configured, trusted path),
 * trailing "\n" / "\r\n" removed. The file must be a regular file (a
 * FIFO is refused without blocking) of at most SECRET_FILE_MAX bytes
 * with no NUL byte. `what` names the setting in messages. On success
 * *out is the caller's (secret_free) and the value is registered with
 * the redactor. Returns 0, ERR_INVALID (code CONFIG) or ERR_FAIL (IO).
 */
int secret_read_file(char **out, const char *path, const char *what,
    struct error *err);

/*
 * The same two, for a setting that is not secret but is also accepted as
 * NAME_FILE (a bucket, a repository, a user name): the same rules and
 * limits, but the value is not registered with the redactor (it would
 * mask an ordinary word in every log line). The caller frees with free()
 * (secret_free is harmless too).
 */
int secret_get_plain(char **out, const char *name, struct error *err);
int secret_read_file_plain(char **out, const char *path, const char *what,
    struct error *err);

/*
 * Register value with the redactor so it is masked wherever it appears:
 * a URL registers its credentials only (redact_secret_url, for good),
 * anything else the whole value, owned by this string
 * (redact_secret_add_owned: secret_free(value) releases it). NULL and ""
 * are ignored.
 */
void secret_register(const char *value);

/* Overwrite the n bytes at p with zeros in a way the compiler cannot
 * drop (the memory is about to be freed or reused). */
void secret_wipe(void *p, size_t n);

/* Wipe the NUL-terminated string s, then free it. NULL is fine. When s
 * itself was registered (secret_register, secret_get, secret_read_file),
 * the redactor forgets that registration (redact_secret_release): a copy
 * of the value still registered elsewhere stays masked. */
void secret_free(char *s);

#endif
