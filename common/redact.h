/*
 * redact.h - the one place that masks credentials in text.
 *
 * Every string that may carry a credential goes through redact_text()
 * or redact_buf() before it is logged or put into an error: URLs we
 * print, and the error text that libgit2, libcurl and remote servers
 * hand back (libgit2 quotes the raw remote URL in "malformed URL '...'").
 * Two things are masked: the userinfo of every URL-looking substring
 * ("scheme://user:PASSWORD@host" becomes "scheme://user:***@host", and a
 * bare "scheme://TOKEN@host" has the whole userinfo masked), the values of
 * query parameters that carry a credential (token=, X-Amz-Signature=,
 * ...), and every secret value registered with redact_secret_add() —
 * wherever it appears, even outside a URL.
 */
#ifndef COMMON_REDACT_H
#define COMMON_REDACT_H

#include <stddef.h>

/* What replaces a masked credential. */
#define REDACT_MASK "***"

/* Registered secrets shorter than this are not matched as free text (a
 * 1-3 character value would mask random words); they are still masked
 * inside URLs. */
#define REDACT_SECRET_MIN 4

/* At most this many registered secrets at once: the remote password, the
 * Redis password and one token per publishing target fit many times
 * over; secrets registered through an owner string are released when it
 * is freed (secret_free), so short-lived tokens do not fill the table.
 * Further ones are ignored while it is full (still masked inside URLs). */
#define REDACT_SECRETS_MAX 128

/*
 * A copy of text with every credential masked (see above); the caller
 * frees it. text may be NULL (returns NULL). Safe from any thread and in
 * a forked child: readers take no lock.
 */
char *redact_text(const char *text);

/* Redact the NUL-terminated string in buf (size bytes) in place,
 * truncating when the masked text is longer. */
void redact_buf(char *buf, size_t size);

/*
 * Remember a secret value (copied) so that it is masked wherever it
 * appears. NULL, empty, too short or already known values are ignored.
 */
void redact_secret_add(const char *value);

/*
 * Remember value like redact_secret_add, owned by the string value
 * itself: redact_secret_release(value) on that same string (secret_free
 * calls it) forgets it again once no other owner holds the same value,
 * and wipes the registry's copy. A value also registered without an
 * owner stays.
 */
void redact_secret_add_owned(const char *value);

/* Release the registration made through this very string (pointer and
 * content must match); anything else is ignored. */
void redact_secret_release(const char *value);

/*
 * Remember the credentials inside a URL: the password (or a bare user
 * name standing for a token), as written and percent-decoded. A URL
 * without userinfo registers nothing.
 */
void redact_secret_url(const char *url);

/* Forget every registered secret (tests only: not thread-safe). */
void redact_secret_reset(void);

#endif
