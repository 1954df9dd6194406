/*
 * publisher.c - the table of publishers and how a target's settings are
 * resolved (setting, <key>_file, <key>_env, the type's environment
 * setting from struct publish_env).
 *
 * s3_publisher and codeartifact_publisher live in s3.c and codeartifact.c
 * (the AWS part of the module). They are plain references on purpose: a
 * weak reference would let the table link without them, but would never
 * pull their objects out of the static library either.
 */
#include "publishers/publisher.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"

extern const struct publisher_ops pypi_publisher;
extern const struct publisher_ops artifactory_publisher;
extern const struct publisher_ops github_publisher;
extern const struct publisher_ops s3_publisher;
extern const struct publisher_ops codeartifact_publisher;

const struct publisher_ops *const *
publisher_all(void)
{
	static const struct publisher_ops *const table[] = {
		&pypi_publisher,
		&artifactory_publisher,
		&github_publisher,
		&s3_publisher,
		&codeartifact_publisher,
		NULL,
	};

	return table;
}

const struct publisher_ops *
publisher_find(const char *type)
{
	const struct publisher_ops *const *p;

	if (type == NULL)
		return NULL;
	for (p = publisher_all(); *p != NULL; p++)
		if (strcmp((*p)->type, type) == 0)
			return *p;
	return NULL;
}

/* A type's environment names for a key, first set wins (GH_TOKEN before
 * GITHUB_TOKEN, as the gh CLI reads them), and where the settings table
 * put each one's value in struct publish_env. */
struct env_default {
	const char *type, *key;
	struct {
		const char *name;
		size_t off;
	} env[2];
};

#define E(field) offsetof(struct publish_env, field)

static const struct env_default env_defaults[] = {
	{ "pypi", "url",
	    { { "TWINE_REPOSITORY_URL", E(twine_repository_url) } } },
	{ "pypi", "token", { { "PYPI_API_TOKEN", E(pypi_api_token) } } },
	{ "pypi", "username", { { "TWINE_USERNAME", E(twine_username) } } },
	{ "pypi", "password", { { "TWINE_PASSWORD", E(twine_password) } } },
	{ "pypi", "repository",
	    { { "TWINE_REPOSITORY", E(twine_repository) } } },
	{ "artifactory", "url", { { "ARTIFACTORY_URL", E(artifactory_url) } } },
	{ "artifactory", "username",
	    { { "ARTIFACTORY_USERNAME", E(artifactory_username) } } },
	{ "artifactory", "password",
	    { { "ARTIFACTORY_PASSWORD", E(artifactory_password) } } },
	{ "artifactory", "token",
	    { { "ARTIFACTORY_ACCESS_TOKEN", E(artifactory_access_token) } } },
	{ "artifactory", "repository",
	    { { "ARTIFACTORY_REPOSITORY", E(artifactory_repository) } } },
	{ "github", "token",
	    { { "GH_TOKEN", E(gh_token) },
	        { "GITHUB_TOKEN", E(github_token) } } },
	{ "github", "repository",
	    { { "GITHUB_REPOSITORY", E(github_repository) } } },
	{ "github", "api_url", { { "GITHUB_API_URL", E(github_api_url) } } },
	{ "s3", "bucket", { { "S3_WHEELS_BUCKET", E(s3_wheels_bucket) } } },
	{ "codeartifact", "domain",
	    { { "CODEARTIFACT_DOMAIN", E(codeartifact_domain) } } },
	{ "codeartifact", "domain_owner",
	    { { "CODEARTIFACT_ACCOUNT_ID", E(codeartifact_account_id) } } },
	{ "codeartifact", "repository",
	    { { "CODEARTIFACT_REPOSITORY", E(codeartifact_repository) } } },
	{ NULL, NULL, { { NULL, 0 } } },
};

#undef E

static const struct env_default *
env_default_find(const char *type, const char *key)
{
	const struct env_default *d;

	if (type == NULL || key == NULL)
		return NULL;
	for (d = env_defaults; d->type != NULL; d++)
		if (strcmp(d->type, type) == 0 && strcmp(d->key, key) == 0)
			return d;
	return NULL;
}

const char *
publish_target_env_name(const char *type, const char *key)
{
	const struct env_default *d = env_default_find(type, key);

	return d != NULL ? d->env[0].name : NULL;
}

bool
publish_key_is_secret(const char *key)
{
	static const char *const words[] = { "token", "password", "secret",
		"api_key", "apikey", NULL };
	size_t i;

	for (i = 0; words[i] != NULL; i++)
		if (strstr(key, words[i]) != NULL)
			return true;
	return false;
}

static const char *
target_raw(const struct publish_target *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], key) == 0)
			return t->values[i];
	return NULL;
}

/* The content of the file a `<key>_file` setting names; a problem is
 * logged (path, never content) and reads as unset. */
static char *
target_file(const char *key, const char *path, const char *what)
{
	struct error err;
	char *s = NULL;
	int rc;

	rc = publish_key_is_secret(key)
	         ? secret_read_file(&s, path, what, &err)
	         : secret_read_file_plain(&s, path, what, &err);
	if (rc < 0) {
		log_warnx("publish_secret_file_unreadable setting=%s "
		          "error=\"%s\"",
		    what, err.msg);
		return NULL;
	}
	return s;
}

/* A target's <key>_env: the variable the operator named in the config
 * file, so no row of the settings table can hold it; read at run time,
 * NAME, else the file named by NAME_FILE (common/secret.h); *from says
 * which ("" or "_FILE"). */
static char *
env_or_file(const char *key, const char *name, const char **from)
{
	struct error err;
	char *s = NULL;
	int rc;

	rc = publish_key_is_secret(key) ? secret_get(&s, name, &err)
	                                : secret_get_plain(&s, name, &err);
	if (rc < 0 && rc != ERR_NOTFOUND)
		log_warnx("publish_secret_file_unreadable setting=%s_FILE "
		          "error=\"%s\"",
		    name, err.msg);
	if (rc == 0) {
		const char *v = getenv(name);

		*from = v != NULL && v[0] != '\0' ? "" : "_FILE";
	}
	return rc < 0 ? NULL : s;
}

static void
src_set(char *src, size_t n, const char *fmt, const char *a, const char *b)
{
	if (src != NULL && n > 0)
		snprintf(src, n, fmt, a, b);
}

char *
publish_target_get_src(const struct publish_target *t, const char *key,
    char *src, size_t srclen)
{
	const struct env_default *d;
	const char *v, *from = "";
	char *k2, *s = NULL;
	size_t i;

	src_set(src, srclen, "%s%s", "", "");
	if ((v = target_raw(t, key)) != NULL) {
		src_set(src, srclen, "setting %s%s", key, "");
		return xstrdup(v);
	}
	k2 = xasprintf("%s_file", key);
	if ((v = target_raw(t, k2)) != NULL) {
		/* A file named on purpose that cannot be read is not skipped
		 * for another source: the caller reports the target has none
		 * (and the warning names the file). */
		s = target_file(key, v, k2);
		src_set(src, srclen, "%s %s", k2, v);
		goto out;
	}
	free(k2);
	k2 = xasprintf("%s_env", key);
	/* The variable <key>_env names, when it (or its _FILE) is set; an
	 * unset one falls through to the type's own names, as the
	 * documented order says (it used to end the search). */
	if ((v = target_raw(t, k2)) != NULL &&
	    (s = env_or_file(key, v, &from)) != NULL) {
		src_set(src, srclen, "%s_env: environment %s", key, "");
		if (src != NULL)
			snprintf(src + strlen(src), srclen - strlen(src),
			    "%s%s", v, from);
		goto out;
	}
	if ((d = env_default_find(t->type, key)) == NULL || t->env == NULL)
		goto out;
	for (i = 0; i < 2 && d->env[i].name != NULL && s == NULL; i++) {
		const char *ev =
		    *(const char *const *)(const void *)((const char *)t->env +
		                                         d->env[i].off);

		if (ev == NULL || ev[0] == '\0')
			continue;
		s = xstrdup(ev);
		src_set(src, srclen, "environment %s%s", d->env[i].name, "");
	}
out:
	free(k2);
	if (s == NULL)
		src_set(src, srclen, "%s%s", "", "");
	return s;
}

char *
publish_target_get(const struct publish_target *t, const char *key)
{
	return publish_target_get_src(t, key, NULL, 0);
}

int
publish_target_credential(const struct publish_target *t, char *src, size_t n,
    struct error *err)
{
	const struct publisher_ops *ops = publisher_find(t->type);
	char *tok, *user = NULL, *pass = NULL;
	char s1[512], s2[512];
	int rc = 0;

	if (ops == NULL)
		return error_set(err, ERR_INVALID, "UNKNOWN_TARGET",
		    "target %s has unknown type %s", t->name,
		    t->type ? t->type : "");
	if (ops->credential != NULL)
		return ops->credential(t, src, n, err);
	/* Artifactory's rule (artifactory.c): a bearer token, else Basic
	 * auth, else anonymous requests (a plain WebDAV server). */
	if ((tok = publish_target_get_src(t, "token", s1, sizeof(s1))) !=
	    NULL) {
		snprintf(src, n, "token from %s", s1);
		goto out;
	}
	user = publish_target_get_src(t, "username", s1, sizeof(s1));
	pass = publish_target_get_src(t, "password", s2, sizeof(s2));
	if (user != NULL && pass != NULL)
		snprintf(src, n, "username from %s, password from %s", s1, s2);
	else
		snprintf(src, n, "none (anonymous requests)");
out:
	secret_free(tok);
	free(user);
	secret_free(pass);
	return rc;
}
