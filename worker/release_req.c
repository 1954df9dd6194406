/*
 * release_req.c - the package's tag prefix, making and pushing a release,
 * the release answer's JSON, the package of a tag, the bundle's file name,
 * the bundle a RELEASE_TAGGED builds and its notes (release_req.h).
 */
#include "worker/release_req.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/version.h"
#include "common/xalloc.h"
#include "events/envelope.h"
#include "worker/repos.h"

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

const struct conv_rules *
release_rules(const struct config *cfg, const char *package)
{
	for (size_t i = 0; package != NULL && i < cfg->npackages; i++)
		if (strcmp(cfg->packages[i].name, package) == 0)
			return &cfg->packages[i].rules;
	return NULL;
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

int
release_make(struct store *st, const struct store_release_req *req,
    struct store_release_result *res, bool *pushed, struct error *err)
{
	int rc;

	*pushed = false;
	if ((rc = store_release(st, req, res, err)) < 0)
		return rc;
	if (req->dry_run || res->tag == NULL)
		return 0;
	if ((rc = store_release_push(st, req->branch, res, err)) < 0) {
		store_release_result_dispose(res);
		return rc;
	}
	*pushed = rc == 0;
	return 0;
}

const struct config_package *
release_package_of(const struct config *cfg, const char *package,
    const char *tag)
{
	const struct config_package *best = NULL;
	size_t i, j, len, best_len = 0;

	for (i = 0; tag != NULL && i < cfg->npackages; i++) {
		const struct config_package *p = &cfg->packages[i];

		if (package != NULL && strcmp(p->name, package) != 0)
			continue;
		for (j = 0; j < p->ntag_patterns; j++) {
			const char *pat = p->tag_patterns[j];

			len = strlen(pat);
			if (len == 0 || pat[len - 1] != '*' ||
			    memchr(pat, '*', len - 1) != NULL ||
			    strncmp(tag, pat, len - 1) != 0 ||
			    tag[len - 1] == '\0')
				continue;
			if (best == NULL || len > best_len) {
				best = p;
				best_len = len;
			}
		}
	}
	return best;
}

cJSON *
release_json(const struct store_release_result *r, bool dry_run, bool pushed)
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
	cJSON_AddBoolToObject(o, "pushed", pushed);
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

int
release_tagged_check(const struct config *cfg, const struct envelope *env,
    struct error *err)
{
	const cJSON *files =
	    cJSON_GetObjectItemCaseSensitive(env->data, "files");
	const cJSON *targets =
	    cJSON_GetObjectItemCaseSensitive(env->data, "targets");
	const char *tag = envelope_data_string(env, "tag");
	const struct config_package *p =
	    release_package_of(cfg, envelope_data_string(env, "package"), tag);

	if (p == NULL || !p->bundle ||
	    (files != NULL &&
	        (!cJSON_IsArray(files) || cJSON_GetArraySize(files) > 0)))
		return envelope_check_release(env, err);
	if (targets != NULL && !cJSON_IsArray(targets))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "data.targets must be an array of target names");
	return 0;
}

int
release_bundle_add(struct release_bundle *b, const struct config *cfg,
    struct repos *repos, const struct envelope *env,
    struct release_request *req, struct error *err)
{
	struct store *st = NULL;
	const struct config_package *p =
	    release_package_of(cfg, req->package, req->tag);
	const char *root = cfg->artifacts_root ? cfg->artifacts_root : ".";
	struct store_bundle_result res;
	char *name = NULL;
	int rc;

	memset(b, 0, sizeof(*b));
	if (p == NULL || !p->bundle)
		return 0;
	if ((name = release_bundle_name(cfg, p->name, NULL, req->tag, err)) ==
	    NULL)
		return err->rc;
	if ((rc = repos_get(repos, env->workflow_id, &st, err)) < 0)
		goto out;
	b->dir = xasprintf("%s/.artifactd-bundle-XXXXXX", root);
	if (mkdtemp(b->dir) == NULL) {
		rc = error_set(err, ERR_TRANSIENT, "IO", "mkdtemp in %s: %s",
		    root, strerror(errno));
		free(b->dir);
		b->dir = NULL;
		goto out;
	}
	if ((rc = store_bundle(st, req->tag,
	         (const char *const *)p->bundle_paths, p->nbundle_paths, b->dir,
	         name, &res, err)) < 0)
		goto out;
	store_bundle_result_dispose(&res);
	b->zip = xasprintf("%s/%s", strrchr(b->dir, '/') + 1, name);
	b->files = xcalloc(req->nfiles + 1, sizeof(*b->files));
	if (req->nfiles > 0)
		memcpy(b->files, req->files, req->nfiles * sizeof(*b->files));
	b->files[req->nfiles] = b->zip;
	req->files = b->files;
	req->nfiles++;
	log_info("release_bundle tag=%s zip=%s", req->tag, name);
out:
	if (st != NULL)
		repos_put(repos, st);
	free(name);
	return rc;
}

void
release_bundle_dispose(struct release_bundle *b)
{
	DIR *d;
	struct dirent *de;

	if (b->dir != NULL && (d = opendir(b->dir)) != NULL) {
		/* Only what store_bundle wrote: the ZIP, its .sha256 and
		 * temporary names of them. */
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		(void)rmdir(b->dir);
	}
	free(b->dir);
	free(b->zip);
	free(b->files);
	memset(b, 0, sizeof(*b));
}

void
release_notes_set(struct release_config *c, const char *notes)
{
	for (size_t i = 0; notes != NULL && notes[0] != '\0' && i < c->ntargets;
	     i++)
		release_target_set(&c->targets[i], "release_notes", notes);
}

char *
release_notes_for(struct repos *repos, const struct envelope *env)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(env->data, "notes");
	const char *tag = envelope_data_string(env, "tag");
	struct error err = { 0 };
	struct store *st = NULL;
	char *msg = NULL;

	if (cJSON_IsString(n))
		return xstrdup(n->valuestring);
	if (tag == NULL)
		return NULL;
	if (repos_get(repos, env->workflow_id, &st, &err) < 0 ||
	    store_tag_message(st, tag, &msg, &err) < 0)
		log_warnx("release_notes_unread event_id=%s tag=%.*s code=%s "
		          "error=\"%s\"",
		    env->event_id, VERSION_MAX, tag, err.code, err.msg);
	if (st != NULL)
		repos_put(repos, st);
	return msg;
}
