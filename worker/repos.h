/*
 * repos.h - the repositories the worker commits to: one, or one per
 * workflow when `repo` (and `remote-url`) are templates with
 * {workflow_id}. Each repository is its own struct store (handles, locks,
 * push batching); at most REPOS_OPEN_MAX of them are open at once.
 */
#ifndef WORKER_REPOS_H
#define WORKER_REPOS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "worker/config.h"

struct repos;
struct scanner;
struct store;
struct store_opts;

/* The placeholder that makes `repo` and `remote-url` templates. */
#define REPOS_PLACEHOLDER "{workflow_id}"

/* The store options from the settings for one repository (repo and
 * remote_url already substituted; both borrowed). */
void repos_store_opts(struct store_opts *o, const struct config *cfg,
    struct scanner *sc, const char *repo, const char *remote_url);

/* True when cfg->repo is a template. */
bool repos_templated(const struct config *cfg);

/*
 * check-config's and run's check of the templates: a {workflow_id} in
 * remote-url needs one in repo; no other {...}; no glob character in
 * repo (the repositories are found by globbing it); the URL with a
 * sample id passes store_url_check. Returns 0 or ERR_INVALID
 * (INVALID_CONFIG).
 */
int repos_config_check(const struct config *cfg, struct error *err);

/* Can workflow_id name a repository: not empty, no '/', not "." or
 * "..", no "..", printable. Returns 0 or ERR_INVALID (PATH_REJECTED). */
int repos_workflow_ok(const char *workflow_id, struct error *err);

/*
 * Open the set: without a template the one store now (as before); with
 * one, a push helper for the stores opened later (call before threads
 * start). sc is borrowed (may be NULL). Returns 0 or as store_open.
 */
int repos_open(struct repos **out, const struct config *cfg, struct scanner *sc,
    struct error *err);
void repos_free(struct repos *r);

/* How many per-workflow stores are open (for the tests). */
size_t repos_open_count(struct repos *r);

/* The store when there is exactly one (no template), else NULL. */
struct store *repos_single(const struct repos *r);

/*
 * The store of workflow_id, opened (or created, or cloned) on first use;
 * give it back with repos_put. Thread-safe. Returns 0, ERR_INVALID
 * (PATH_REJECTED: workflow_id cannot name a repository) or as store_open.
 */
int repos_get(struct repos *r, const char *workflow_id, struct store **out,
    struct error *err);
void repos_put(struct repos *r, struct store *st);

/*
 * Call fn on the store of every existing repository (the one, or every
 * directory the template's glob finds), with its workflow id (NULL
 * without a template). Stops at fn's first nonzero return and returns
 * it; 0 when all were called.
 */
int repos_each(struct repos *r,
    int (*fn)(struct store *st, const char *workflow_id, void *arg), void *arg,
    struct error *err);

#endif
