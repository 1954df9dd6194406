/*
 * app.c - open the store and the scanner from the settings.
 */
#include "worker/app.h"

#include <string.h>

#include "common/log.h"
#include "store/scan.h"
#include "store/store.h"
#include "worker/scan_gate.h"

void
app_log_init(const struct config *cfg)
{
	int lvl = log_level_parse(cfg->log_level);

	log_init(lvl < 0 ? LOG_LEVEL_INFO : (enum log_level)lvl,
	    strcmp(cfg->log_format, "json") == 0);
}

static void
app_store_opts(struct store_opts *o, const struct config *cfg,
    struct scanner *sc)
{
	memset(o, 0, sizeof(*o));
	o->repo_path = cfg->repo;
	o->remote_url = cfg->remote_url;
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

int
app_open_store(struct store **out, const struct config *cfg, struct error *err)
{
	struct store_opts o;

	app_store_opts(&o, cfg, NULL);
	return store_open(out, &o, err);
}

int
app_init(struct handler_ctx *ctx, const struct config *cfg, struct error *err)
{
	struct scanner *sc = NULL;
	struct store *st = NULL;
	struct store_opts o;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	if (cfg->scan_for_secrets &&
	    (rc = scan_gate_scanner_new(&sc, cfg, err)) < 0)
		return rc;
	app_store_opts(&o, cfg, sc);
	if ((rc = store_open(&st, &o, err)) < 0) {
		scanner_free(sc);
		return rc;
	}
	ctx->cfg = cfg;
	ctx->store = st;
	ctx->scanner = sc;
	return 0;
}

void
app_dispose(struct handler_ctx *ctx)
{
	store_free(ctx->store);
	scanner_free(ctx->scanner);
	memset(ctx, 0, sizeof(*ctx));
}

int
app_expire(const struct handler_ctx *ctx, struct error *err)
{
	struct store_expire_opts o = { 0 };
	cJSON *rep = NULL;
	int rc;

	if (ctx->cfg->expire_after == NULL || *ctx->cfg->expire_after == '\0' ||
	    store_age_parse(&o.older_than_s, ctx->cfg->expire_after) < 0)
		return 0;
	o.archive = ctx->cfg->expire_archive;
	o.tags = ctx->cfg->expire_tags;
	rc = store_expire(ctx->store, &o, &rep, err);
	cJSON_Delete(rep);
	/* Another worker holds the repository's expiry lock: its turn. */
	if (rc == ERR_TRANSIENT && strcmp(err->code, "BUSY") == 0)
		return 0;
	return rc;
}

int
app_push_pending(const struct handler_ctx *ctx, struct error *err)
{
	if (ctx->cfg->remote_url == NULL || !ctx->cfg->auto_push)
		return 0;
	return store_push_pending(ctx->store, err);
}
