/*
 * repos.c - the map from workflow to repository (issue 15: "one
 * repository for every workflow of a company does not last"). With
 * `repo` a template such as /data/{workflow_id}.git each workflow's
 * events go to their own repository and, with `remote-url` a template
 * too, to their own remote. Each repository is a struct store with its
 * own handles, locks and push batching, opened on first use and kept in
 * a small LRU; the push helper is shared, forked once at start-up
 * (store_helper_open) because a store opened later, while handler
 * threads run, must not fork (store/push_child.c). The commands find the
 * repositories that exist by globbing the template.
 */
#include "worker/repos.h"

#include <glob.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/store.h"

/* Stores open at once. Each holds a few libgit2 handles (a few MB of
 * caches and mapped packs) and file descriptors; 64 keeps a fleet's busy
 * workflows open without running a 1024-descriptor limit out. A store in
 * use is never closed: the map grows past the bound until one is free. */
#define REPOS_OPEN_MAX 64

struct repos_entry {
	char *wf;
	struct store *st;
	unsigned refs;
	uint64_t used; /* LRU clock at last use */
};

struct repos {
	const struct config *cfg;
	struct scanner *sc;
	struct store *single; /* no template: the one store */
	struct store *helper; /* template: the shared push helper */
	pthread_mutex_t lock;
	struct repos_entry *ents;
	size_t nents, cap;
	uint64_t clock;
};

void
repos_store_opts(struct store_opts *o, const struct config *cfg,
    struct scanner *sc, const char *repo, const char *remote_url)
{
	memset(o, 0, sizeof(*o));
	o->repo_path = repo;
	o->remote_url = remote_url;
	o->remote_name = cfg->remote_name;
	o->base_branch = cfg->base_branch;
	o->branch_prefix = cfg->branch_prefix;
	o->path_template = cfg->path_template;
	o->author_name = cfg->author_name;
	o->author_email = cfg->author_email;
	o->include_metadata = cfg->include_metadata;
	o->metadata_filename = cfg->metadata_filename;
	o->auto_push = cfg->auto_push;
	o->fsync = cfg->git_fsync;
	o->push_timeout_s = (int)cfg->push_timeout_s;
	o->push_window_ms = (int)cfg->push_window_ms;
	o->scan_for_secrets = cfg->scan_for_secrets && sc != NULL;
	o->scanner = sc;
	o->require_correlation_id = cfg->require_correlation_id;
	o->signing_key = cfg->signing_key;
	o->consumer = cfg->consumer;
	o->task_dir_replace = strcmp(cfg->task_dir_mode, "merge") != 0;
	o->max_rollback_depth = (int)cfg->max_rollback_depth;
	o->creds.username = cfg->git_username;
	o->creds.token = cfg->git_token;
	o->creds.password = cfg->git_password;
	o->creds.ssh_key = cfg->git_ssh_key;
	o->creds.ssh_pubkey = cfg->git_ssh_pubkey;
	o->creds.ssh_passphrase = cfg->git_ssh_passphrase;
	o->creds.ssh_host_key = cfg->git_ssh_host_key;
}

bool
repos_templated(const struct config *cfg)
{
	return cfg->repo != NULL && strstr(cfg->repo, REPOS_PLACEHOLDER);
}

/* s with every {workflow_id} replaced by wf; NULL s gives NULL. */
static char *
repos_subst(const char *s, const char *wf)
{
	size_t plen = strlen(REPOS_PLACEHOLDER), wlen = strlen(wf), n = 0;
	const char *p, *q;
	char *out, *o;

	if (s == NULL)
		return NULL;
	for (p = s; (q = strstr(p, REPOS_PLACEHOLDER)) != NULL; p = q + plen)
		n++;
	o = out = xmalloc(strlen(s) + n * wlen + 1);
	for (p = s; (q = strstr(p, REPOS_PLACEHOLDER)) != NULL; p = q + plen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, wf, wlen);
		o += wlen;
	}
	memcpy(o, p, strlen(p) + 1);
	return out;
}

int
repos_workflow_ok(const char *wf, struct error *err)
{
	const unsigned char *p;

	if (wf == NULL || *wf == '\0' || strcmp(wf, ".") == 0 ||
	    strstr(wf, "..") != NULL || strchr(wf, '/') != NULL)
		goto bad;
	for (p = (const unsigned char *)wf; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '\\')
			goto bad;
	return 0;
bad:
	return error_set(err, ERR_INVALID, "PATH_REJECTED",
	    "workflow_id \"%.64s\" cannot name a repository (no '/', '..', "
	    "control or non-ASCII characters)",
	    wf ? wf : "");
}

/* The text of s with its placeholders removed has a '{' left. */
static bool
repos_other_brace(const char *s)
{
	char *t = repos_subst(s, "x");
	bool bad = strchr(t, '{') != NULL || strchr(t, '}') != NULL;

	free(t);
	return bad;
}

int
repos_config_check(const struct config *cfg, struct error *err)
{
	bool rt = repos_templated(cfg);
	char *url;
	int rc;

	if (cfg->remote_url != NULL &&
	    strstr(cfg->remote_url, REPOS_PLACEHOLDER) != NULL && !rt)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "remote-url has %s but repo has not: every workflow would "
		    "push one repository to its own remote",
		    REPOS_PLACEHOLDER);
	if (!rt)
		return store_url_check(cfg->remote_url, err);
	if (repos_other_brace(cfg->repo) ||
	    (cfg->remote_url && repos_other_brace(cfg->remote_url)))
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "repo and remote-url know only the placeholder %s",
		    REPOS_PLACEHOLDER);
	if (strstr(strstr(cfg->repo, REPOS_PLACEHOLDER) + 1,
	        REPOS_PLACEHOLDER) != NULL)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "repo may hold %s once", REPOS_PLACEHOLDER);
	if (strpbrk(cfg->repo, "*?[]\\") != NULL)
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "a templated repo may not contain * ? [ ] or \\ (its "
		    "repositories are found by globbing it)");
	url = repos_subst(cfg->remote_url, "workflow");
	rc = store_url_check(url, err);
	free(url);
	return rc;
}

int
repos_open(struct repos **out, const struct config *cfg, struct scanner *sc,
    struct error *err)
{
	struct store_opts o;
	struct repos *r;
	int rc;

	*out = NULL;
	if ((rc = repos_config_check(cfg, err)) < 0)
		return rc;
	r = xcalloc(1, sizeof(*r));
	r->cfg = cfg;
	r->sc = sc;
	pthread_mutex_init(&r->lock, NULL);
	repos_store_opts(&o, cfg, sc, cfg->repo, cfg->remote_url);
	rc = repos_templated(cfg) ? store_helper_open(&r->helper, &o.creds, err)
	                          : store_open(&r->single, &o, err);
	if (rc < 0) {
		repos_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void
repos_free(struct repos *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nents; i++) {
		store_free(r->ents[i].st);
		free(r->ents[i].wf);
	}
	free(r->ents);
	store_free(r->single);
	store_helper_close(r->helper);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

size_t
repos_open_count(struct repos *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nents;
	pthread_mutex_unlock(&r->lock);
	return n;
}

struct store *
repos_single(const struct repos *r)
{
	return r->single;
}

/* Close the least recently used stores nobody holds while more than
 * REPOS_OPEN_MAX are open (lock held). */
static void
repos_evict(struct repos *r)
{
	size_t i, lru;

	while (r->nents > REPOS_OPEN_MAX) {
		lru = SIZE_MAX;
		for (i = 0; i < r->nents; i++)
			if (r->ents[i].refs == 0 &&
			    (lru == SIZE_MAX ||
			        r->ents[i].used < r->ents[lru].used))
				lru = i;
		if (lru == SIZE_MAX)
			return; /* all in use */
		log_debug("repos_close workflow_id=%s", r->ents[lru].wf);
		store_free(r->ents[lru].st);
		free(r->ents[lru].wf);
		r->ents[lru] = r->ents[--r->nents];
	}
}

/* The entry of wf, its reference taken (lock held); NULL when absent. */
static struct store *
repos_find(struct repos *r, const char *wf)
{
	size_t i;

	for (i = 0; i < r->nents; i++)
		if (strcmp(r->ents[i].wf, wf) == 0) {
			r->ents[i].refs++;
			r->ents[i].used = ++r->clock;
			return r->ents[i].st;
		}
	return NULL;
}

/* Open the store of wf (lock not held: a clone may take a while). */
static int
repos_open_one(struct repos *r, const char *wf, struct store **out,
    struct error *err)
{
	struct store_opts o;
	char *repo = repos_subst(r->cfg->repo, wf);
	char *url = repos_subst(r->cfg->remote_url, wf);
	int rc;

	repos_store_opts(&o, r->cfg, r->sc, repo, url);
	o.push_helper = r->helper;
	rc = store_open(out, &o, err);
	if (rc == 0)
		log_info("repos_open workflow_id=%s repo=\"%s\"", wf, repo);
	free(repo);
	free(url);
	return rc;
}

int
repos_get(struct repos *r, const char *wf, struct store **out,
    struct error *err)
{
	struct store *st = NULL, *have;
	int rc;

	*out = NULL;
	if (r == NULL)
		return error_set(err, ERR_FAIL, "GIT", "no repository is open");
	if (r->single != NULL) {
		*out = r->single;
		return 0;
	}
	if ((rc = repos_workflow_ok(wf, err)) < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	*out = repos_find(r, wf);
	pthread_mutex_unlock(&r->lock);
	if (*out != NULL)
		return 0;
	if ((rc = repos_open_one(r, wf, &st, err)) < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	if ((have = repos_find(r, wf)) != NULL) {
		/* Another thread opened it meanwhile: use that one. */
		pthread_mutex_unlock(&r->lock);
		store_free(st);
		*out = have;
		return 0;
	}
	if (r->nents == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->ents = xrealloc(r->ents, r->cap * sizeof(*r->ents));
	}
	r->ents[r->nents].wf = xstrdup(wf);
	r->ents[r->nents].st = st;
	r->ents[r->nents].refs = 1;
	r->ents[r->nents].used = ++r->clock;
	r->nents++;
	repos_evict(r);
	pthread_mutex_unlock(&r->lock);
	*out = st;
	return 0;
}

void
repos_put(struct repos *r, struct store *st)
{
	size_t i;

	if (r == NULL || st == NULL || st == r->single)
		return;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nents; i++)
		if (r->ents[i].st == st && r->ents[i].refs > 0) {
			r->ents[i].refs--;
			break;
		}
	repos_evict(r);
	pthread_mutex_unlock(&r->lock);
}

/* The workflow id a globbed path stands for, or NULL when the path does
 * not give the template back with one valid id. Caller frees. */
static char *
repos_path_workflow(const char *tmpl, const char *path)
{
	const char *ph = strstr(tmpl, REPOS_PLACEHOLDER);
	size_t pre = (size_t)(ph - tmpl);
	size_t suf = strlen(ph + strlen(REPOS_PLACEHOLDER));
	size_t len = strlen(path);
	char *wf, *back;

	if (len <= pre + suf || strncmp(path, tmpl, pre) != 0)
		return NULL;
	wf = xstrndup(path + pre, len - pre - suf);
	back = repos_subst(tmpl, wf);
	if (strcmp(back, path) != 0 || repos_workflow_ok(wf, NULL) < 0 ||
	    !util_id_valid(wf)) {
		free(wf);
		wf = NULL;
	}
	free(back);
	return wf;
}

int
repos_each(struct repos *r,
    int (*fn)(struct store *st, const char *workflow_id, void *arg), void *arg,
    struct error *err)
{
	struct store *st;
	char *pattern, *wf;
	glob_t g;
	size_t i, len;
	int rc = 0;

	if (r->single != NULL)
		return fn(r->single, NULL, arg);
	pattern = repos_subst(r->cfg->repo, "*");
	memset(&g, 0, sizeof(g));
	/* GLOB_MARK ends the directories' names with '/': only they can be
	 * repositories. */
	if (glob(pattern, GLOB_MARK, NULL, &g) != 0)
		g.gl_pathc = 0; /* none yet */
	for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
		len = strlen(g.gl_pathv[i]);
		if (len < 2 || g.gl_pathv[i][len - 1] != '/')
			continue;
		g.gl_pathv[i][len - 1] = '\0';
		if ((wf = repos_path_workflow(r->cfg->repo, g.gl_pathv[i])) ==
		    NULL)
			continue;
		if ((rc = repos_get(r, wf, &st, err)) == 0) {
			rc = fn(st, wf, arg);
			repos_put(r, st);
		}
		free(wf);
	}
	globfree(&g);
	free(pattern);
	return rc;
}
