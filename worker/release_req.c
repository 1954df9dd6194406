/*
 * release_req.c - the package's tag prefix, the release answer's JSON and
 * the bundle's file name (release_req.h).
 */
#include "worker/release_req.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "common/xalloc.h"

int
release_prefix(char *out, size_t n, const struct config *cfg,
    const char *package, struct error *err)
{
	const struct config_package *p = NULL;

	if (package == NULL) {
		snprintf(out, n, "v");
		return 0;
	}
	for (size_t i = 0; i < cfg->npackages && p == NULL; i++)
		if (strcmp(cfg->packages[i].name, package) == 0)
			p = &cfg->packages[i];
	if (p == NULL)
		return error_set(err, ERR_NOTFOUND, "PACKAGE_NOT_FOUND",
		    "no package '%.*s' in the config", VERSION_MAX, package);
	if (p->ntag_patterns == 0)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "package %s has no tag pattern", p->name);
	return version_tag_prefix(out, n, p->tag_patterns[0], err);
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

cJSON *
release_json(const struct store_release_result *r, bool dry_run)
{
	cJSON *o = cJSON_CreateObject(),
	      *c = cJSON_AddArrayToObject(o, "commits");

	for (size_t i = 0; i < r->nentries; i++)
		cJSON_AddItemToArray(c, cJSON_CreateString(r->entries[i]));
	add_str(o, "bump", version_bump_name(r->bump));
	add_str(o, "version", r->version);
	add_str(o, "previous_version", r->previous_version);
	add_str(o, "previous_tag", r->previous_tag);
	add_str(o, "tag", r->tag);
	add_str(o, "commit_sha", r->commit_sha);
	add_str(o, "changelog_sha", r->changelog_sha);
	add_str(o, "notes", r->notes ? r->notes : "");
	cJSON_AddNumberToObject(o, "ncommits", (double)r->ncommits);
	cJSON_AddBoolToObject(o, "created", r->created);
	cJSON_AddBoolToObject(o, "duplicate", r->duplicate);
	cJSON_AddBoolToObject(o, "dry_run", dry_run);
	cJSON_AddBoolToObject(o, "pushed", false);
	return o;
}

char *
release_bundle_name(const struct config *cfg, const char *package,
    const char *name, const char *tag, struct error *err)
{
	char prefix[VERSION_MAX], *base = NULL, *out = NULL;
	const char *slash;
	size_t plen;

	if (release_prefix(prefix, sizeof(prefix), cfg, package, err) < 0)
		return NULL;
	plen = strlen(prefix);
	if (strncmp(tag, prefix, plen) != 0 || tag[plen] == '\0') {
		error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "tag %.*s does not start with the package's prefix %s",
		    VERSION_MAX, tag, prefix);
		return NULL;
	}
	if (name != NULL)
		base = xstrdup(name);
	else if (package != NULL)
		base = xstrdup(package);
	else {
		size_t len = strlen(cfg->repo);

		while (len > 1 && cfg->repo[len - 1] == '/')
			len--;
		base = xstrndup(cfg->repo, len);
		if ((slash = strrchr(base, '/')) != NULL)
			memmove(base, slash + 1, strlen(slash + 1) + 1);
		len = strlen(base);
		if (len > 4 && strcmp(base + len - 4, ".git") == 0)
			base[len - 4] = '\0';
	}
	for (char *p = base; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' &&
		    *p != '-')
			*p = '_';
	if (base[0] == '\0' || base[0] == '.' || base[0] == '-')
		error_set(err, ERR_INVALID, "PATH_REJECTED",
		    "bundle name '%s' must start with a letter or digit", base);
	else
		out = xasprintf("%s_v%s.zip", base, tag + plen);
	free(base);
	return out;
}
