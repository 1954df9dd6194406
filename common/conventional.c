/*
 * conventional.c - Conventional Commits parsing and the release bump, the
 * way python-semantic-release 7.32 does it (see conventional.h). Where the
 * reference is a regular expression, this is the same match written out:
 * the type is tried in list order, the scope is as long as it can be
 * (greedy, so "feat(a): b (c): d" has scope "a): b (c"), and the body is
 * only what follows a blank line right after the subject.
 */
#include "common/conventional.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/xalloc.h"

void
conv_rules_default(struct conv_rules *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->allowed_types, sizeof(r->allowed_types), "%s",
	    "build,chore,ci,docs,feat,fix,perf,style,refactor,test");
	snprintf(r->minor_types, sizeof(r->minor_types), "feat");
	snprintf(r->patch_types, sizeof(r->patch_types), "fix,perf");
	r->default_bump = VERSION_BUMP_NONE;
	r->major_on_zero = true;
	r->patch_without_tag = false;
}

/* key == name, '-' and '_' alike. */
static bool
key_is(const char *key, const char *name)
{
	for (; *key != '\0' && *name != '\0'; key++, name++)
		if (*key != *name && !(*key == '-' && *name == '_'))
			return false;
	return *key == '\0' && *name == '\0';
}

/* value as a list of type names, written "a,b,c" into out (CONV_TYPES_MAX
 * bytes). */
static int
types_parse(char *out, const char *key, const char *value, struct error *err)
{
	const char *p = value;
	size_t n = 0;

	out[0] = '\0';
	while (*p != '\0') {
		size_t len = strcspn(p, ",\n");
		const char *w = p;

		p += len + (p[len] != '\0');
		while (len > 0 && (*w == ' ' || *w == '\t' || *w == '\r')) {
			w++;
			len--;
		}
		while (len > 0 && (w[len - 1] == ' ' || w[len - 1] == '\t' ||
		                      w[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		if (len > CONV_TYPE_NAME_MAX ||
		    strspn(w,
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
		        "YZ0123456789_-") < len)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s: '%.*s' is not a commit type (1 to %d letters, "
			    "digits, '-' or '_')",
			    key, (int)(len > 64 ? 64 : len), w,
			    CONV_TYPE_NAME_MAX);
		if (conv_type_in(out, w, len))
			continue; /* named twice: once is what it means */
		if (n + len + 2 > CONV_TYPES_MAX)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "%s: the list is longer than %d bytes", key,
			    CONV_TYPES_MAX - 1);
		n += (size_t)snprintf(out + n, CONV_TYPES_MAX - n, "%s%.*s",
		    n > 0 ? "," : "", (int)len, w);
	}
	return 0;
}

/* configparser's getboolean() words, as util_parse_bool reads them. */
static int
flag_parse(bool *out, const char *key, const char *value, struct error *err)
{
	if (util_parse_bool(out, value) < 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s must be true or false", key);
	return 0;
}

int
conv_rules_set(struct conv_rules *r, const char *key, const char *value,
    struct error *err)
{
	static const char *const levels[] = { "no-release", "patch", "minor",
		"major" };
	static const enum version_bump bumps[] = { VERSION_BUMP_NONE,
		VERSION_BUMP_PATCH, VERSION_BUMP_MINOR, VERSION_BUMP_MAJOR };

	if (key_is(key, "parser_angular_allowed_types"))
		return types_parse(r->allowed_types, key, value, err);
	if (key_is(key, "parser_angular_minor_types"))
		return types_parse(r->minor_types, key, value, err);
	if (key_is(key, "parser_angular_patch_types"))
		return types_parse(r->patch_types, key, value, err);
	if (key_is(key, "major_on_zero"))
		return flag_parse(&r->major_on_zero, key, value, err);
	if (key_is(key, "patch_without_tag"))
		return flag_parse(&r->patch_without_tag, key, value, err);
	if (!key_is(key, "parser_angular_default_level_bump"))
		return ERR_NOTFOUND;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(value, levels[i]) == 0) {
			r->default_bump = bumps[i];
			return 0;
		}
	return error_set(err, ERR_INVALID, "CONFIG",
	    "%s must be no-release, patch, minor or major", key);
}

int
conv_rules_check(const struct conv_rules *r, struct error *err)
{
	const char *lists[] = { r->minor_types, r->patch_types };
	const char *names[] = { "parser_angular_minor_types",
		"parser_angular_patch_types" };

	if (r->allowed_types[0] == '\0')
		return error_set(err, ERR_INVALID, "CONFIG",
		    "has an empty parser_angular_allowed_types: no commit "
		    "would ever parse");
	for (size_t l = 0; l < 2; l++)
		for (const char *p = lists[l]; *p != '\0';) {
			size_t n = strcspn(p, ",");

			if (!conv_type_in(r->allowed_types, p, n))
				return error_set(err, ERR_INVALID, "CONFIG",
				    "has '%.*s' in %s, which is not in "
				    "parser_angular_allowed_types (%s)",
				    (int)n, p, names[l], r->allowed_types);
			if (l == 0 && conv_type_in(r->patch_types, p, n))
				return error_set(err, ERR_INVALID, "CONFIG",
				    "has '%.*s' as both a minor and a patch "
				    "type",
				    (int)n, p);
			p += n + (p[n] == ',');
		}
	return 0;
}

bool
conv_type_in(const char *list, const char *type, size_t type_len)
{
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");

		if (n == type_len && strncmp(p, type, n) == 0)
			return true;
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* After type/scope at p (line ends at eol): "!: subject" or ": subject"
 * with a non-empty subject. Sets *bang and returns the subject start, or
 * NULL. */
static const char *
after_type(const char *p, const char *eol, bool *bang)
{
	*bang = false;
	if (p < eol && *p == '!' && eol - p > 3 && p[1] == ':' && p[2] == ' ') {
		*bang = true;
		return p + 3;
	}
	if (eol - p > 2 && p[0] == ':' && p[1] == ' ')
		return p + 2;
	return NULL;
}

/* Match `type(scope)!: subject` on the first line [msg, eol). */
static bool
match_first_line(struct conv_commit *c, const char *msg, const char *eol,
    const struct conv_rules *rules)
{
	const char *p = rules->allowed_types;

	while (*p != '\0') {
		size_t n = strcspn(p, ","), avail = (size_t)(eol - msg);
		const char *t = msg + n, *subj = NULL, *q;

		if (n > 0 && n <= avail && strncmp(msg, p, n) == 0) {
			/* With a scope: the last ')' that works wins. */
			if (t < eol && *t == '(')
				for (q = eol - 1; q > t + 1 && subj == NULL;
				     q--)
					if (*q == ')' &&
					    (subj = after_type(q + 1, eol,
					         &c->bang)) != NULL)
						c->scope = xstrndup(t + 1,
						    (size_t)(q - t - 1));
			if (subj == NULL)
				subj = after_type(t, eol, &c->bang);
			if (subj != NULL) {
				c->type = xstrndup(msg, n);
				c->subject =
				    xstrndup(subj, (size_t)(eol - subj));
				return true;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The body's paragraphs: split on "\n\n", empty ones dropped, newlines
 * inside one read as spaces. The first starting with a breaking-change
 * token becomes c->breaking (text after "BREAKING CHANGE: "). */
static void
find_breaking(struct conv_commit *c, const char *body, const char *end)
{
	const char *p = body;

	while (p < end && c->breaking == NULL) {
		const char *q = p, *stop;

		while (
		    q < end && !(q + 1 < end && q[0] == '\n' && q[1] == '\n'))
			q++;
		stop = q;
		if ((size_t)(stop - p) >= 16 &&
		    (strncmp(p, "BREAKING CHANGE:", 16) == 0 ||
		        strncmp(p, "BREAKING-CHANGE:", 16) == 0)) {
			const char *d = p + 16;
			char *s;

			if (d < stop && *d == ' ')
				d++;
			s = xstrndup(d, (size_t)(stop - d));
			for (char *x = s; *x != '\0'; x++)
				if (*x == '\n')
					*x = ' ';
			for (size_t k = strlen(s); k > 0 && s[k - 1] == ' ';
			     k--)
				s[k - 1] = '\0';
			c->breaking = s;
		}
		p = stop + 2;
	}
}

int
conv_parse(struct conv_commit *out, const char *msg, size_t len,
    const struct conv_rules *rules)
{
	struct conv_commit c;
	char *text = NULL;
	const char *eol, *end;
	size_t n = 0;
	int rc = ERR_NOTFOUND;

	memset(&c, 0, sizeof(c));
	if (len > CONV_MESSAGE_MAX)
		len = CONV_MESSAGE_MAX;
	/* "\r\n" -> "\n", as the reference does before parsing. */
	text = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')
			continue;
		text[n++] = msg[i];
	}
	text[n] = '\0';
	end = text + n;
	eol = memchr(text, '\n', n);
	if (eol == NULL)
		eol = end;
	if (!match_first_line(&c, text, eol, rules))
		goto out;
	if (end - eol > 2 && eol[0] == '\n' && eol[1] == '\n')
		find_breaking(&c, eol + 2, end);
	if (c.bang || c.breaking != NULL)
		c.bump = VERSION_BUMP_MAJOR;
	else if (conv_type_in(rules->minor_types, c.type, strlen(c.type)))
		c.bump = VERSION_BUMP_MINOR;
	else if (conv_type_in(rules->patch_types, c.type, strlen(c.type)))
		c.bump = VERSION_BUMP_PATCH;
	else
		c.bump = rules->default_bump;
	*out = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	conv_commit_dispose(&c);
	free(text);
	return rc;
}

void
conv_commit_dispose(struct conv_commit *c)
{
	if (c == NULL)
		return;
	free(c->type);
	free(c->scope);
	free(c->subject);
	free(c->breaking);
	memset(c, 0, sizeof(*c));
}

enum version_bump
conv_release_bump(enum version_bump largest, size_t ncommits,
    const struct semver *current, const struct conv_rules *rules)
{
	enum version_bump b = largest;

	if (rules->patch_without_tag && ncommits > 0 && b == VERSION_BUMP_NONE)
		b = VERSION_BUMP_PATCH;
	if (!rules->major_on_zero && current->major == 0 &&
	    b == VERSION_BUMP_MAJOR)
		b = VERSION_BUMP_MINOR;
	return b;
}
