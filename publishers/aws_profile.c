/*
 * aws_profile.c - the AWS shared config and credentials files: an INI
 * reader with configparser.RawConfigParser's rules, botocore's profile
 * maps (configloader.build_profile_map, session.full_config) and a
 * shlex.split for credential_process (see aws_profile.h).
 *
 * Both files may hold secret keys, so the parsed tree is wiped when it
 * is freed and messages carry line numbers, never line contents.
 */
#include "publishers/aws_profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"

/* A credential_process command line is a program and a few flags; more
 * words than this is not one. */
#define AWS_ARGV_MAX 256

struct aws_ini_section {
	char *name;
	char **keys;
	char **values;
	size_t n, cap;
};

struct aws_ini {
	struct aws_ini_section *sec;
	size_t n, cap;
	struct aws_ini_section defaults; /* configparser's [DEFAULT] */
};

static void
aws_ini_section_wipe(struct aws_ini_section *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->keys[i]);
		secret_free(s->values[i]);
	}
	free(s->keys);
	free(s->values);
	free(s->name);
	memset(s, 0, sizeof(*s));
}

void
aws_ini_free(struct aws_ini *ini)
{
	size_t i;

	if (ini == NULL)
		return;
	for (i = 0; i < ini->n; i++)
		aws_ini_section_wipe(&ini->sec[i]);
	aws_ini_section_wipe(&ini->defaults);
	free(ini->sec);
	free(ini);
}

static const struct aws_ini_section *
aws_ini_find(const struct aws_ini *ini, const char *section)
{
	size_t i;

	if (strcmp(section, "DEFAULT") == 0)
		return &ini->defaults;
	for (i = 0; i < ini->n; i++)
		if (strcmp(ini->sec[i].name, section) == 0)
			return &ini->sec[i];
	return NULL;
}

static const char *
aws_ini_section_get(const struct aws_ini_section *s, const char *key)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->values[i];
	return NULL;
}

const char *
aws_ini_get(const struct aws_ini *ini, const char *section, const char *key)
{
	const struct aws_ini_section *s;
	const char *v;

	if (ini == NULL || (s = aws_ini_find(ini, section)) == NULL)
		return NULL;
	if ((v = aws_ini_section_get(s, key)) != NULL)
		return v;
	/* configparser: [DEFAULT]'s keys appear in every section. */
	return aws_ini_section_get(&ini->defaults, key);
}

size_t
aws_ini_count(const struct aws_ini *ini)
{
	return ini != NULL ? ini->n : 0;
}

const char *
aws_ini_section(const struct aws_ini *ini, size_t i)
{
	return ini != NULL && i < ini->n ? ini->sec[i].name : NULL;
}

/* The parser's state between lines. */
struct aws_ini_state {
	struct aws_ini *ini;
	struct aws_ini_section *cur; /* NULL before the first header */
	char **value;                /* the option continuation lines extend */
	size_t indent;               /* of the option's line */
	size_t blanks;               /* blank lines since the option's text */
	const char *what;
	size_t lineno;
};

static char *
aws_trim(const char *p, size_t n)
{
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	return xstrndup(p, n);
}

static int
aws_ini_header(struct aws_ini_state *st, const char *line, size_t n,
    struct error *err)
{
	const char *close = NULL;
	char *name;
	size_t i;

	/* SECTCRE "\[(?P<header>.+)\]" with match(): up to the last ']',
	 * at least one character between. */
	for (i = n; i > 1; i--)
		if (line[i - 1] == ']') {
			close = line + i - 1;
			break;
		}
	if (close == NULL || close == line + 1)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s line %zu: not a section header, option or comment",
		    st->what, st->lineno);
	name = xstrndup(line + 1, (size_t)(close - line - 1));
	if (strcmp(name, "DEFAULT") == 0) {
		free(name);
		st->cur = &st->ini->defaults;
	} else if (aws_ini_find(st->ini, name) != NULL) {
		free(name);
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s line %zu: section already seen", st->what, st->lineno);
	} else {
		if (st->ini->n == st->ini->cap) {
			st->ini->cap = st->ini->cap ? 2 * st->ini->cap : 8;
			st->ini->sec = xrealloc(st->ini->sec,
			    st->ini->cap * sizeof(*st->ini->sec));
		}
		st->cur = &st->ini->sec[st->ini->n++];
		memset(st->cur, 0, sizeof(*st->cur));
		st->cur->name = name;
	}
	st->value = NULL;
	return 0;
}

static int
aws_ini_option(struct aws_ini_state *st, const char *line, size_t n,
    struct error *err)
{
	struct aws_ini_section *s = st->cur;
	const char *eq = NULL;
	char *key;
	size_t i;

	for (i = 0; i < n; i++)
		if (line[i] == '=' || line[i] == ':') {
			eq = line + i;
			break;
		}
	if (eq == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s line %zu: not a section header, option or comment",
		    st->what, st->lineno);
	key = aws_trim(line, (size_t)(eq - line));
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	if (key[0] == '\0' || aws_ini_section_get(s, key) != NULL) {
		error_set(err, ERR_INVALID, "CONFIG", "%s line %zu: %s",
		    st->what, st->lineno,
		    key[0] == '\0' ? "an option without a name"
		                   : "option already set in this section");
		free(key);
		return ERR_INVALID;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->keys = xrealloc(s->keys, s->cap * sizeof(*s->keys));
		s->values = xrealloc(s->values, s->cap * sizeof(*s->values));
	}
	s->keys[s->n] = key;
	s->values[s->n] = aws_trim(eq + 1, n - (size_t)(eq + 1 - line));
	st->value = &s->values[s->n++];
	st->blanks = 0;
	return 0;
}

/* Add a continuation line (already trimmed) to the current value. */
static void
aws_ini_continue(struct aws_ini_state *st, const char *p, size_t n)
{
	size_t old = strlen(*st->value), i;
	char *v = xmalloc(old + st->blanks + 1 + n + 1);

	memcpy(v, *st->value, old);
	for (i = 0; i < st->blanks; i++)
		v[old++] = '\n';
	v[old++] = '\n';
	memcpy(v + old, p, n);
	v[old + n] = '\0';
	secret_free(*st->value);
	*st->value = v;
	st->blanks = 0;
}

static int
aws_ini_line(struct aws_ini_state *st, const char *line, size_t n,
    struct error *err)
{
	size_t indent = 0;

	while (n > 0 && isspace((unsigned char)line[n - 1]))
		n--;
	while (indent < n && isspace((unsigned char)line[indent]))
		indent++;
	if (indent == n) { /* blank: kept inside a multi-line value */
		if (st->value != NULL)
			st->blanks++;
		return 0;
	}
	if (line[indent] == '#' || line[indent] == ';')
		return 0;
	if (st->value != NULL && indent > st->indent) {
		aws_ini_continue(st, line + indent, n - indent);
		return 0;
	}
	st->indent = indent;
	if (line[indent] == '[')
		return aws_ini_header(st, line + indent, n - indent, err);
	if (st->cur == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s line %zu: an option before the first [section]",
		    st->what, st->lineno);
	return aws_ini_option(st, line + indent, n - indent, err);
}

int
aws_ini_parse(struct aws_ini **out, const char *text, size_t len,
    const char *what, struct error *err)
{
	struct aws_ini_state st = { 0 };
	const char *p = text, *end = text + len, *nl;
	int rc = 0;

	if (memchr(text, '\0', len) != NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s holds a NUL byte", what);
	st.ini = xcalloc(1, sizeof(*st.ini));
	st.what = what;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		st.lineno++;
		if ((rc = aws_ini_line(&st, p, (size_t)(nl - p), err)) < 0)
			break;
		p = nl + 1;
	}
	if (rc < 0) {
		aws_ini_free(st.ini);
		return rc;
	}
	*out = st.ini;
	return 0;
}

int
aws_ini_load(struct aws_ini **out, const char *path, struct error *err)
{
	struct error rerr;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((rc = util_read_file(&text, &len, path, AWS_PROFILE_FILE_MAX,
	         &rerr)) < 0) {
		if (rc == ERR_NOTFOUND)
			return rc;
		return error_set(err, rc, rc == ERR_INVALID ? "CONFIG" : "IO",
		    "AWS shared file %s: %s", path, rerr.msg);
	}
	rc = aws_ini_parse(out, text, len, path, err);
	secret_wipe(text, len);
	free(text);
	return rc;
}

/* The profile a config-file section stands for ("default", or the
 * second word of "profile NAME"), or NULL: build_profile_map. */
static bool
aws_config_section_is(const char *section, const char *profile)
{
	const char *p;
	size_t n;

	if (strcmp(section, "default") == 0)
		return strcmp(profile, "default") == 0;
	if (strncmp(section, "profile", 7) != 0 ||
	    !isspace((unsigned char)section[7]))
		return false;
	for (p = section + 7; isspace((unsigned char)*p); p++)
		;
	n = strcspn(p, " \t\r\n\v\f");
	if (p[n] != '\0') /* shlex.split must give exactly two words */
		return false;
	return n == strlen(profile) && strncmp(p, profile, n) == 0;
}

static const char *
aws_config_section_of(const struct aws_profiles *p, const char *profile)
{
	const char *found = NULL, *name;
	size_t i;

	for (i = 0; i < aws_ini_count(p->config); i++) {
		name = aws_ini_section(p->config, i);
		if (aws_config_section_is(name, profile))
			found = name; /* a later section replaces the dict */
	}
	return found;
}

const char *
aws_profile_config_get(const struct aws_profiles *p, const char *profile,
    const char *key)
{
	const char *sec = aws_config_section_of(p, profile);

	return sec != NULL ? aws_ini_get(p->config, sec, key) : NULL;
}

const char *
aws_profile_creds_get(const struct aws_profiles *p, const char *profile,
    const char *key)
{
	return aws_ini_get(p->creds, profile, key);
}

const char *
aws_profile_get(const struct aws_profiles *p, const char *profile,
    const char *key)
{
	const char *v = aws_profile_creds_get(p, profile, key);

	return v != NULL ? v : aws_profile_config_get(p, profile, key);
}

bool
aws_profile_exists(const struct aws_profiles *p, const char *profile)
{
	size_t i;

	for (i = 0; i < aws_ini_count(p->creds); i++)
		if (strcmp(aws_ini_section(p->creds, i), profile) == 0)
			return true;
	return aws_config_section_of(p, profile) != NULL;
}

/* path from the environment or the default under $HOME; "~/" expanded. */
static char *
aws_shared_path(const char *set, const char *def)
{
	const char *home = getenv("HOME");

	if (set == NULL || set[0] == '\0')
		set = def;
	if (strncmp(set, "~/", 2) == 0)
		return home != NULL && home[0] != '\0'
		           ? xasprintf("%s/%s", home, set + 2)
		           : NULL;
	return xstrdup(set);
}

static int
aws_profiles_file(struct aws_ini **out, const char *path, struct error *err)
{
	int rc;

	if (path == NULL)
		return 0;
	if ((rc = aws_ini_load(out, path, err)) == ERR_NOTFOUND)
		return 0;
	return rc;
}

int
aws_profiles_load(struct aws_profiles *p, const struct publish_env *env,
    struct error *err)
{
	const char *name = NULL;
	int rc;

	memset(p, 0, sizeof(*p));
	if (env != NULL && env->aws_default_profile != NULL &&
	    env->aws_default_profile[0] != '\0')
		name = env->aws_default_profile;
	else if (env != NULL && env->aws_profile != NULL &&
	         env->aws_profile[0] != '\0')
		name = env->aws_profile;
	p->named = name != NULL;
	p->name = xstrdup(name != NULL ? name : "default");
	p->config_path =
	    aws_shared_path(env ? env->aws_config_file : NULL, "~/.aws/config");
	p->creds_path =
	    aws_shared_path(env ? env->aws_shared_credentials_file : NULL,
	        "~/.aws/credentials");
	if ((rc = aws_profiles_file(&p->config, p->config_path, err)) < 0 ||
	    (rc = aws_profiles_file(&p->creds, p->creds_path, err)) < 0)
		goto out;
	if (p->named && strcmp(p->name, "default") != 0 &&
	    !aws_profile_exists(p, p->name)) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "AWS profile \"%.64s\" (AWS_PROFILE) is in neither %s nor "
		    "%s",
		    p->name, p->config_path ? p->config_path : "~/.aws/config",
		    p->creds_path ? p->creds_path : "~/.aws/credentials");
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		aws_profiles_dispose(p);
	return rc;
}

void
aws_profiles_dispose(struct aws_profiles *p)
{
	if (p == NULL)
		return;
	aws_ini_free(p->config);
	aws_ini_free(p->creds);
	free(p->name);
	free(p->config_path);
	free(p->creds_path);
	memset(p, 0, sizeof(*p));
}

void
aws_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

/* One word of shlex.split starting at *pp (not a blank); *pp moves past
 * it. Returns the word or NULL with err set. */
static char *
aws_shell_word(const char **pp, struct error *err)
{
	const char *p = *pp;
	size_t cap = strlen(p) + 1, n = 0;
	char *w = xmalloc(cap), q = 0;
	bool dangling = false;

	for (; *p != '\0'; p++) {
		if (q == 0 && isspace((unsigned char)*p))
			break;
		if (q == 0 && (*p == '\'' || *p == '"')) {
			q = *p;
		} else if (q != 0 && *p == q) {
			q = 0;
		} else if (q != '\'' && *p == '\\') {
			/* In "...", only \\ \" \$ \` and \newline escape. */
			if (p[1] == '\0') {
				dangling = true;
				p++;
				break;
			}
			if (q == '"' && strchr("\\\"$`\n", p[1]) == NULL)
				w[n++] = *p;
			w[n++] = *++p;
		} else {
			w[n++] = *p;
		}
	}
	if (q != 0 || dangling) {
		free(w);
		error_set(err, ERR_INVALID, "CONFIG", "credential_process: %s",
		    q != 0 ? "no closing quotation" : "no escaped character");
		return NULL;
	}
	w[n] = '\0';
	*pp = p;
	return w;
}

int
aws_shell_split(char ***argv, const char *cmd, struct error *err)
{
	char **v = xcalloc(AWS_ARGV_MAX + 1, sizeof(*v)), *w;
	const char *p = cmd;
	size_t n = 0;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (n == AWS_ARGV_MAX) {
			aws_argv_free(v);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "credential_process has more than %d words",
			    AWS_ARGV_MAX);
		}
		if ((w = aws_shell_word(&p, err)) == NULL) {
			aws_argv_free(v);
			return ERR_INVALID;
		}
		v[n++] = w;
	}
	if (n == 0) {
		aws_argv_free(v);
		return error_set(err, ERR_INVALID, "CONFIG",
		    "credential_process is empty");
	}
	*argv = v;
	return 0;
}
