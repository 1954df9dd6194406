/*
 * registry.c - the table of publishers and how a target's settings are
 * resolved (setting, <key>_file, <key>_env, the type's environment name).
 *
 * s3_publisher and codeartifact_publisher live in s3.c and codeartifact.c
 * (the AWS part of the module). They are plain references on purpose: a
 * weak reference would let the table link without them, but would never
 * pull their objects out of the static library either.
 */
#include "publishers/publisher.h"

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

struct env_default {
	const char *type, *key, *env;
};

static const struct env_default env_defaults[] = {
	{ "pypi", "url", "TWINE_REPOSITORY_URL" },
	{ "pypi", "token", "PYPI_API_TOKEN" },
	{ "pypi", "username", "TWINE_USERNAME" },
	{ "pypi", "password", "TWINE_PASSWORD" },
	{ "artifactory", "url", "ARTIFACTORY_URL" },
	{ "artifactory", "username", "ARTIFACTORY_USERNAME" },
	{ "artifactory", "password", "ARTIFACTORY_PASSWORD" },
	{ "artifactory", "token", "ARTIFACTORY_ACCESS_TOKEN" },
	{ "artifactory", "repository", "ARTIFACTORY_REPOSITORY" },
	{ "github", "token", "GITHUB_TOKEN" },
	{ "github", "repository", "GITHUB_REPOSITORY" },
	{ "github", "api_url", "GITHUB_API_URL" },
	{ "s3", "bucket", "S3_WHEELS_BUCKET" },
	{ "codeartifact", "domain", "CODEARTIFACT_DOMAIN" },
	{ "codeartifact", "domain_owner", "CODEARTIFACT_ACCOUNT_ID" },
	{ "codeartifact", "repository", "CODEARTIFACT_REPOSITORY" },
	{ NULL, NULL, NULL },
};

const char *
publish_target_env_name(const char *type, const char *key)
{
	const struct env_default *d;

	if (type == NULL || key == NULL)
		return NULL;
	for (d = env_defaults; d->type != NULL; d++)
		if (strcmp(d->type, type) == 0 && strcmp(d->key, key) == 0)
			return d->env;
	return NULL;
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

/* NAME, else the file named by NAME_FILE (common/secret.h). */
static char *
env_or_file(const char *key, const char *name)
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
	return rc < 0 ? NULL : s;
}

char *
publish_target_get(const struct publish_target *t, const char *key)
{
	const char *v, *env;
	char *k2, *s = NULL;

	if ((v = target_raw(t, key)) != NULL)
		return xstrdup(v);
	k2 = xasprintf("%s_file", key);
	if ((v = target_raw(t, k2)) != NULL) {
		s = target_file(key, v, k2);
		goto out;
	}
	free(k2);
	k2 = xasprintf("%s_env", key);
	if ((v = target_raw(t, k2)) != NULL) {
		s = env_or_file(key, v);
		goto out;
	}
	if ((env = publish_target_env_name(t->type, key)) != NULL)
		s = env_or_file(key, env);
out:
	free(k2);
	return s;
}
