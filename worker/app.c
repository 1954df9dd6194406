/*
 * app.c - open the store and the scanner from the settings.
 */
#include "worker/app.h"

#include <string.h>

#include "common/log.h"
#include "store/scan.h"
#include "store/store.h"
#include "worker/repos.h"
#include "worker/scan_gate.h"

void
app_log_init(const struct config *cfg)
{
	int lvl = log_level_parse(cfg->log_level);

	log_init(lvl < 0 ? LOG_LEVEL_INFO : (enum log_level)lvl,
	    strcmp(cfg->log_format, "json") == 0);
}

int
app_open_store(struct store **out, const struct config *cfg, struct error *err)
{
	struct store_opts o;

	if (repos_templated(cfg))
		return error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "repo is a template (%s): this command works on one "
		    "repository; give --repo",
		    REPOS_PLACEHOLDER);
	repos_store_opts(&o, cfg, NULL, cfg->repo, cfg->remote_url);
	return store_open(out, &o, err);
}

int
app_open_repos(struct repos **out, const struct config *cfg, struct error *err)
{
	return repos_open(out, cfg, NULL, err);
}

int
app_init(struct handler_ctx *ctx, const struct config *cfg, struct error *err)
{
	struct scanner *sc = NULL;
	struct repos *r = NULL;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	if (cfg->scan_for_secrets &&
	    (rc = scan_gate_scanner_new(&sc, cfg, err)) < 0)
		return rc;
	if ((rc = repos_open(&r, cfg, sc, err)) < 0) {
		scanner_free(sc);
		return rc;
	}
	ctx->cfg = cfg;
	ctx->repos = r;
	ctx->store = repos_single(r);
	ctx->scanner = sc;
	return 0;
}

void
app_dispose(struct handler_ctx *ctx)
{
	repos_free(ctx->repos);
	scanner_free(ctx->scanner);
	memset(ctx, 0, sizeof(*ctx));
}

/* store_push_pending on one repository; the next still gets its turn. */
static int
app_push_one(struct store *st, const char *workflow_id, void *arg)
{
	struct error *err = arg, e;

	(void)workflow_id;
	error_clear(&e);
	if (store_push_pending(st, &e) < 0 && err->rc == 0)
		*err = e;
	return 0;
}

struct app_expire_arg {
	struct store_expire_opts o;
	struct error *err;
};

/* store_expire on one repository; the next still gets its turn. Another
 * worker holding a repository's expiry lock (BUSY) is its turn there. */
static int
app_expire_one(struct store *st, const char *workflow_id, void *arg)
{
	struct app_expire_arg *a = arg;
	struct error e;
	cJSON *rep = NULL;

	(void)workflow_id;
	error_clear(&e);
	if (store_expire(st, &a->o, &rep, &e) < 0 &&
	    strcmp(e.code, "BUSY") != 0 && a->err->rc == 0)
		*a->err = e;
	cJSON_Delete(rep);
	return 0;
}

int
app_expire(const struct handler_ctx *ctx, struct error *err)
{
	struct app_expire_arg a = { { 0 }, err };
	int rc;

	if (ctx->cfg->expire_after == NULL || *ctx->cfg->expire_after == '\0' ||
	    store_age_parse(&a.o.older_than_s, ctx->cfg->expire_after) < 0)
		return 0;
	a.o.archive = ctx->cfg->expire_archive;
	a.o.tags = ctx->cfg->expire_tags;
	error_clear(err);
	if ((rc = repos_each(ctx->repos, app_expire_one, &a, err)) < 0)
		return rc;
	return err->rc;
}

int
app_push_pending(const struct handler_ctx *ctx, struct error *err)
{
	int rc;

	if (ctx->cfg->remote_url == NULL || !ctx->cfg->auto_push)
		return 0;
	error_clear(err);
	if ((rc = repos_each(ctx->repos, app_push_one, err, err)) < 0)
		return rc;
	return err->rc;
}
