/*
 * version.c - semantic versions, PEP 440 normalisation, setuptools_scm's
 * development versions and tag-pattern prefixes (see version.h).
 *
 * Numbers are kept as digit strings wherever the reference keeps
 * arbitrary-precision integers (PEP 440 segments, setuptools_scm's bump of
 * the last number), so no input can overflow; only semver, whose numbers
 * we add to, is parsed into uint64_t, with VERSION_NUM_DIGITS as its
 * ceiling.
 */
#include "common/version.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"

const char *
version_bump_name(enum version_bump b)
{
	switch (b) {
	case VERSION_BUMP_PATCH:
		return "patch";
	case VERSION_BUMP_MINOR:
		return "minor";
	case VERSION_BUMP_MAJOR:
		return "major";
	default:
		return "none";
	}
}

static int
semver_num(uint64_t *out, const char **p)
{
	uint64_t v = 0;
	size_t n = 0;

	while (isdigit((unsigned char)**p)) {
		if (++n > VERSION_NUM_DIGITS)
			return -1;
		v = v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

int
semver_parse(struct semver *out, const char *s, struct error *err)
{
	struct semver v;
	const char *p = s;

	if (semver_num(&v.major, &p) < 0 || *p++ != '.' ||
	    semver_num(&v.minor, &p) < 0 || *p++ != '.' ||
	    semver_num(&v.patch, &p) < 0 || *p != '\0')
		return error_set(err, ERR_INVALID, "INVALID_VERSION",
		    "'%.*s' is not a version X.Y.Z", VERSION_MAX, s);
	*out = v;
	return 0;
}

int
semver_cmp(const struct semver *a, const struct semver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

void
semver_bump(struct semver *v, enum version_bump b)
{
	switch (b) {
	case VERSION_BUMP_MAJOR:
		v->major++;
		v->minor = 0;
		v->patch = 0;
		break;
	case VERSION_BUMP_MINOR:
		v->minor++;
		v->patch = 0;
		break;
	case VERSION_BUMP_PATCH:
		v->patch++;
		break;
	default:
		break;
	}
}

void
semver_format(char *out, size_t n, const struct semver *v)
{
	snprintf(out, n, "%llu.%llu.%llu", (unsigned long long)v->major,
	    (unsigned long long)v->minor, (unsigned long long)v->patch);
}

/* ---- PEP 440 ---------------------------------------------------------- */

/* A cursor over the lower-cased version text. */
struct pep_cur {
	const char *p;
};

static bool
pep_sep(char c)
{
	return c == '-' || c == '_' || c == '.';
}

/* Append the number at c->p without its leading zeros ("007" -> "7").
 * Returns false when there is no digit. */
static bool
pep_number(struct buf *b, struct pep_cur *c)
{
	const char *start = c->p;

	while (isdigit((unsigned char)*c->p))
		c->p++;
	if (c->p == start)
		return false;
	while (start + 1 < c->p && *start == '0')
		start++;
	buf_append(b, start, (size_t)(c->p - start));
	return true;
}

/* Match one of `labels` (longest spellings listed first) at c->p. */
static int
pep_label(struct pep_cur *c, const char *const *labels)
{
	for (int i = 0; labels[i] != NULL; i++) {
		size_t n = strlen(labels[i]);

		if (strncmp(c->p, labels[i], n) == 0) {
			c->p += n;
			return i;
		}
	}
	return -1;
}

/* [-_.]?label[-_.]?N? ; the normalised text is "<canon>N" (N default 0).
 * Returns false (cursor unchanged) when the label is absent. */
static bool
pep_labelled(struct buf *b, struct pep_cur *c, const char *const *labels,
    const char *const *canon, const char *lead)
{
	struct pep_cur save = *c;
	int i;

	if (pep_sep(*c->p))
		c->p++;
	if ((i = pep_label(c, labels)) < 0) {
		*c = save;
		return false;
	}
	buf_printf(b, "%s%s", lead, canon[i]);
	if (pep_sep(*c->p))
		c->p++;
	if (!pep_number(b, c))
		buf_puts(b, "0");
	return true;
}

static const char *const pre_labels[] = { "alpha", "beta", "preview", "pre",
	"rc", "a", "b", "c", NULL };
static const char *const pre_canon[] = { "a", "b", "rc", "rc", "rc", "a", "b",
	"rc", NULL };
static const char *const post_labels[] = { "post", "rev", "r", NULL };
static const char *const post_canon[] = { "post", "post", "post", NULL };
static const char *const dev_labels[] = { "dev", NULL };

/* The local segment after '+': alphanumerics separated by [-_.],
 * written with '.' and numeric parts without leading zeros. */
static bool
pep_local(struct buf *b, struct pep_cur *c)
{
	buf_puts(b, "+");
	for (;;) {
		const char *start = c->p;

		while (isalnum((unsigned char)*c->p))
			c->p++;
		if (c->p == start)
			return false;
		if (strspn(start, "0123456789") == (size_t)(c->p - start)) {
			c->p = start;
			pep_number(b, c);
		} else
			buf_append(b, start, (size_t)(c->p - start));
		if (!pep_sep(*c->p))
			return true;
		c->p++;
		buf_puts(b, ".");
	}
}

/* Parse the lower-cased, trimmed text into b; false when invalid. */
static bool
pep_parse(struct buf *b, struct pep_cur *c)
{
	const char *q;

	if (*c->p == 'v')
		c->p++;
	q = c->p + strspn(c->p, "0123456789");
	if (q != c->p && *q == '!') { /* epoch, shown unless 0 */
		struct buf e;

		buf_init(&e, VERSION_MAX);
		pep_number(&e, c);
		if (strcmp(e.data, "0") != 0)
			buf_printf(b, "%s!", e.data);
		buf_dispose(&e);
		c->p++;
	}
	if (!pep_number(b, c))
		return false;
	while (*c->p == '.' && isdigit((unsigned char)c->p[1])) {
		c->p++;
		buf_puts(b, ".");
		pep_number(b, c);
	}
	pep_labelled(b, c, pre_labels, pre_canon, "");
	if (*c->p == '-' && isdigit((unsigned char)c->p[1])) {
		c->p++;
		buf_puts(b, ".post");
		pep_number(b, c);
	} else
		pep_labelled(b, c, post_labels, post_canon, ".");
	pep_labelled(b, c, dev_labels, dev_labels, ".");
	if (*c->p == '+') {
		c->p++;
		if (!pep_local(b, c))
			return false;
	}
	return *c->p == '\0';
}

int
pep440_normalize(char *out, size_t n, const char *s, struct error *err)
{
	char low[VERSION_MAX];
	size_t len, i;
	struct pep_cur c;
	struct buf b;
	int rc = ERR_INVALID;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(low))
		return error_set(err, rc, "INVALID_VERSION",
		    "version is %zu bytes (1 to %d)", len, VERSION_MAX - 1);
	for (i = 0; i < len; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	low[len] = '\0';
	buf_init(&b, VERSION_MAX);
	c.p = low;
	if (!pep_parse(&b, &c)) {
		error_set(err, rc, "INVALID_VERSION",
		    "'%s' is not a PEP 440 version (stops at offset %zu)", low,
		    (size_t)(c.p - low));
		goto out;
	}
	if (b.data == NULL || b.len >= n) {
		error_set(err, rc, "INVALID_VERSION", "version '%s' too long",
		    low);
		goto out;
	}
	memcpy(out, b.data, b.len + 1);
	rc = 0;
out:
	buf_dispose(&b);
	return rc;
}

/* ---- setuptools_scm ----------------------------------------------------- */

/* Increment the decimal number that ends s in place (s has room for one
 * more byte). False when s does not end with a digit. */
static bool
incr_last_number(char *s, size_t cap)
{
	size_t len = strlen(s), i = len;

	if (len == 0 || !isdigit((unsigned char)s[len - 1]))
		return false;
	while (i > 0 && isdigit((unsigned char)s[i - 1])) {
		if (s[i - 1] != '9') {
			s[i - 1]++;
			return true;
		}
		s[i - 1] = '0';
		i--;
	}
	/* All nines: "…99" -> "…100". */
	if (len + 1 >= cap)
		return false;
	memmove(s + i + 1, s + i, len - i + 1);
	s[i] = '1';
	return true;
}

int
version_dev(char *out, size_t n, const char *tag_version, size_t distance,
    const char *short_sha, struct error *err)
{
	char next[VERSION_MAX + 1];
	char *dev;

	if (tag_version == NULL) {
		snprintf(out, n, "0.1.dev%zu+g%s", distance, short_sha);
		return 0;
	}
	if (distance == 0) {
		snprintf(out, n, "%s", tag_version);
		return 0;
	}
	snprintf(next, sizeof(next) - 1, "%s", tag_version);
	next[strcspn(next, "+")] = '\0'; /* the local part is not bumped */
	if ((dev = strstr(next, ".dev")) != NULL) {
		char *last;

		while ((last = strstr(dev + 1, ".dev")) != NULL)
			dev = last;
		if (strcmp(dev, ".dev0") != 0)
			return error_set(err, ERR_INVALID, "INVALID_VERSION",
			    "tag version %s ends in a .devN other than .dev0, "
			    "which has no next version",
			    tag_version);
		*dev = '\0';
	} else if (!incr_last_number(next, sizeof(next)))
		return error_set(err, ERR_INVALID, "INVALID_VERSION",
		    "tag version %s does not end with a number", tag_version);
	snprintf(out, n, "%s.dev%zu+g%s", next, distance, short_sha);
	return 0;
}

int
version_tag_prefix(char *out, size_t n, const char *pattern, struct error *err)
{
	size_t len = strlen(pattern), i;

	if (len < 1 || len > VERSION_MAX - 32 || pattern[len - 1] != '*')
		goto bad;
	for (i = 0; i + 1 < len; i++) {
		char c = pattern[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_' &&
		    c != '.' && c != '/')
			goto bad;
	}
	if (len > 1 &&
	    (pattern[0] == '.' || pattern[0] == '/' ||
	        strstr(pattern, "..") != NULL || strstr(pattern, "//") != NULL))
		goto bad;
	snprintf(out, n, "%.*s", (int)(len - 1), pattern);
	return 0;
bad:
	return error_set(err, ERR_INVALID, "INVALID_CONFIG",
	    "tag pattern '%.*s' is not <prefix>* with a prefix of letters, "
	    "digits, '-', '_', '.', '/'",
	    VERSION_MAX, pattern);
}
