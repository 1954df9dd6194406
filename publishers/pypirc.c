/*
 * pypirc.c - ~/.pypirc as twine reads it (see pypirc.h): a small INI
 * reader with RawConfigParser's rules for the part twine uses - sections,
 * `key = value` or `key: value` (keys case-insensitive, values trimmed),
 * whole-line comments starting with '#' or ';', indented continuation
 * lines, no interpolation.
 */
#include "publishers/pypirc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/xalloc.h"

#define PYPIRC_DEFAULT_URL "https://upload.pypi.org/legacy/"
#define PYPIRC_TEST_URL "https://test.pypi.org/legacy/"

/* What one pass over the file collects. */
struct pypirc_scan {
	const char *want;              /* the repository asked for */
	char *servers;                 /* [distutils] index-servers */
	char *login_user, *login_pass; /* [server-login] */
	char *url, *user, *pass;       /* [want] */
};

static void
pypirc_scan_dispose(struct pypirc_scan *s)
{
	free(s->servers);
	free(s->login_user);
	secret_free(s->login_pass);
	free(s->url);
	free(s->user);
	secret_free(s->pass);
}

static char *
pypirc_trim(const char *p, size_t n)
{
	while (n > 0 && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)p[n - 1]))
		n--;
	return xstrndup(p, n);
}

/* The slot of option key in the current section, or NULL (not kept). */
static char **
pypirc_slot(struct pypirc_scan *s, const char *section, const char *key)
{
	if (section == NULL)
		return NULL;
	if (strcmp(section, "distutils") == 0 &&
	    strcasecmp(key, "index-servers") == 0)
		return &s->servers;
	if (strcmp(section, "server-login") == 0) {
		if (strcasecmp(key, "username") == 0)
			return &s->login_user;
		if (strcasecmp(key, "password") == 0)
			return &s->login_pass;
	}
	if (strcmp(section, s->want) != 0)
		return NULL;
	if (strcasecmp(key, "repository") == 0)
		return &s->url;
	if (strcasecmp(key, "username") == 0)
		return &s->user;
	if (strcasecmp(key, "password") == 0)
		return &s->pass;
	return NULL;
}

/* One line (without its '\n'); *section and *last carry the state. */
static int
pypirc_line(struct pypirc_scan *s, const char *line, size_t n, char **section,
    char ***last, bool *in_option, const char *what, size_t lineno,
    struct error *err)
{
	char *t = pypirc_trim(line, n), *key, **slot;
	const char *eq;
	int rc = 0;

	if (t[0] == '\0' || t[0] == '#' || t[0] == ';')
		goto out; /* a blank line ends no value in configparser, but
		             an empty continuation adds nothing we use */
	if (n > 0 && isspace((unsigned char)line[0]) && *in_option) {
		if (*last != NULL) { /* a continuation of a kept value */
			char *v = xasprintf("%s\n%s", **last, t);

			secret_free(**last);
			**last = v;
		}
		goto out;
	}
	if (t[0] == '[' && t[strlen(t) - 1] == ']' && strlen(t) > 2) {
		free(*section);
		*section = xstrndup(t + 1, strlen(t) - 2);
		*last = NULL;
		*in_option = false;
		goto out;
	}
	eq = t + strcspn(t, "=:");
	if (*eq == '\0' || eq == t || *section == NULL) {
		rc = error_set(err, ERR_INVALID, "CONFIG", "%s line %zu: %s",
		    what, lineno,
		    *section == NULL ? "an option before any [section]"
		                     : "neither a section nor key = value");
		goto out;
	}
	key = pypirc_trim(t, (size_t)(eq - t));
	slot = pypirc_slot(s, *section, key);
	if (slot != NULL && *slot != NULL) {
		/* RawConfigParser is strict: a repeated option is an error. */
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s line %zu: option %s repeated in [%s]", what, lineno,
		    key, *section);
		free(key);
		goto out;
	}
	free(key);
	if (slot != NULL)
		*slot = pypirc_trim(eq + 1, strlen(eq + 1));
	*last = slot;
	*in_option = true;
out:
	secret_free(t);
	return rc;
}

/* True when name is one of the whitespace-separated words of list. */
static bool
pypirc_listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (*list != '\0') {
		size_t w;

		list += strspn(list, " \t\r\n");
		w = strcspn(list, " \t\r\n");
		if (w == n && w > 0 && strncmp(list, name, n) == 0)
			return true;
		list += w;
	}
	return false;
}

int
pypirc_parse(struct pypirc_repo *out, const char *text, const char *section,
    const char *what, struct error *err)
{
	struct pypirc_scan s = { 0 };
	char *cur = NULL, **last = NULL;
	const char *p = text, *servers;
	bool in_option = false, listed;
	size_t lineno = 0;
	int rc = 0;

	s.want = section;
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");

		if ((rc = pypirc_line(&s, p, n, &cur, &last, &in_option, what,
		         ++lineno, err)) < 0)
			goto out;
		p += n + (p[n] == '\n');
	}
	servers = s.servers != NULL ? s.servers : "pypi testpypi";
	listed = pypirc_listed(servers, section);
	if (!listed && strcmp(section, "pypi") != 0) {
		rc = error_set(err, ERR_NOTFOUND, "CONFIG",
		    "%s has no repository [%s] (index-servers: %s)", what,
		    section, servers);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	/* twine: the listed sections' options, over [server-login]'s. */
	if (listed && s.url != NULL)
		out->url = xstrdup(s.url);
	else if (strcmp(section, "pypi") == 0)
		out->url = xstrdup(PYPIRC_DEFAULT_URL);
	else if (strcmp(section, "testpypi") == 0)
		out->url = xstrdup(PYPIRC_TEST_URL);
	if (listed && s.user != NULL)
		out->username = xstrdup(s.user);
	else if (s.login_user != NULL)
		out->username = xstrdup(s.login_user);
	if (listed && s.pass != NULL)
		out->password = xstrdup(s.pass);
	else if (s.login_pass != NULL)
		out->password = xstrdup(s.login_pass);
	secret_register(out->password);
out:
	free(cur);
	pypirc_scan_dispose(&s);
	return rc;
}

char *
pypirc_default_path(void)
{
	/* HOME is the user's, like TMPDIR: not a setting of ours. */
	const char *home = getenv("HOME");

	if (home == NULL || home[0] == '\0')
		return NULL;
	return xasprintf("%s/.pypirc", home);
}

/* The file's text, bounded; *missing when it does not exist. */
static int
pypirc_read(char **out, bool *missing, const char *path, struct error *err)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	int fd, rc = ERR_INVALID;

	*missing = false;
	/* O_NONBLOCK: a FIFO is refused by fstat below, never waited on. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
		if (errno == ENOENT) {
			*missing = true;
			return 0;
		}
		return error_set(err, ERR_INVALID, "CONFIG",
		    "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(err, rc, "CONFIG", "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > PYPIRC_MAX) {
		error_set(err, rc, "CONFIG", "%s is %lld bytes, limit %d", path,
		    (long long)st.st_size, PYPIRC_MAX);
		goto out;
	}
	if ((st.st_mode & 077) != 0)
		log_warnx("pypirc_permissions path=\"%s\" mode=%04o "
		          "hint=\"it holds passwords: chmod 600\"",
		    path, (unsigned)(st.st_mode & 07777));
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break; /* shrank while read: what we have */
		got += (size_t)r;
	}
	text[got] = '\0';
	if (memchr(text, '\0', got) != NULL) {
		error_set(err, rc, "CONFIG", "%s holds a NUL byte", path);
		goto out;
	}
	*out = text;
	text = NULL;
	rc = 0;
out:
	if (text != NULL) {
		secret_wipe(text, (size_t)st.st_size + 1);
		free(text);
	}
	close(fd);
	return rc;
}

int
pypirc_lookup(struct pypirc_repo *out, const char *path, const char *section,
    struct error *err)
{
	char *def = NULL, *text = NULL;
	bool missing;
	int rc;

	if (path == NULL)
		path = def = pypirc_default_path();
	missing = path == NULL; /* no HOME: no file, as twine */
	if (path != NULL && (rc = pypirc_read(&text, &missing, path, err)) < 0)
		goto out;
	if (missing && def == NULL && path != NULL) {
		/* twine: a file named on purpose must exist. */
		rc = error_set(err, ERR_INVALID, "CONFIG", "%s does not exist",
		    path);
		goto out;
	}
	rc = pypirc_parse(out, missing ? "" : text, section,
	    path != NULL ? path : "~/.pypirc", err);
	if (rc == 0)
		out->file_found = !missing;
out:
	secret_free(text);
	free(def);
	return rc;
}

void
pypirc_repo_dispose(struct pypirc_repo *r)
{
	if (r == NULL)
		return;
	free(r->url);
	free(r->username);
	secret_free(r->password);
	memset(r, 0, sizeof(*r));
}
