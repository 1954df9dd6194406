/*
 * cmd_bundle.c - `artifactd bundle --tag TAG [--path DIR]... -o OUTDIR`:
 * the ZIP of the tagged tree (or of the given paths in it) as `git
 * archive --format=zip` would write it, named <Name>_v<version>.zip (seed
 * 000), with <zip>.sha256 beside it (store_bundle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "store/history.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/release_req.h"

/* --path may be given this many times (store_bundle has the same). */
#define BUNDLE_CLI_PATHS 64

struct bundle_args {
	const char *tag;
	const char *outdir;
	const char *package;
	const char *name;
	const char *paths[BUNDLE_CLI_PATHS];
	size_t npaths;
	bool too_many;
	bool json;
};

static int
bundle_opt(const char *name, const char *value, void *arg)
{
	struct bundle_args *a = arg;

	if (strcmp(name, "tag") == 0)
		a->tag = value;
	else if (strcmp(name, "output") == 0)
		a->outdir = value;
	else if (strcmp(name, "package") == 0)
		a->package = value;
	else if (strcmp(name, "name") == 0)
		a->name = value;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	else if (strcmp(name, "path") == 0) {
		if (a->npaths == BUNDLE_CLI_PATHS) {
			a->too_many = true;
			return 1;
		}
		a->paths[a->npaths++] = value;
	}
	return 0;
}

int
cmd_bundle(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "tag", 't', true, "the release tag whose tree is bundled" },
		{ "path", 0, true, "only this path of the tree (repeatable)" },
		{ "output", 'o', true,
		    "directory for the ZIP and its .sha256" },
		{ "package", 'p', true,
		    "package: its name and tag prefix name the ZIP" },
		{ "name", 0, true, "Name in <Name>_v<version>.zip" },
		{ "json", 0, false, "print the result as JSON" },
	};
	static const struct cli_spec spec = { "bundle",
		"--tag TAG [--path DIR]... -o OUTDIR [--package P] [--name N] "
		"[--json]",
		"Write <Name>_v<version>.zip of the tagged tree (the files "
		"and bytes of\n`git archive --format=zip TAG -- paths`) and "
		"<zip>.sha256 into OUTDIR.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct bundle_args a = { 0 };
	struct store_bundle_result r = { 0 };
	struct store *st = NULL;
	struct error err = { 0 };
	char **args = NULL, *zip = NULL;
	size_t nargs = 0;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, bundle_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0) /* the parser has said why */
		goto out;
	if (a.too_many || a.tag == NULL || a.outdir == NULL) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE", "%s",
		    a.too_many ? "too many --path (limit 64)"
		               : "--tag and -o OUTDIR are required");
		goto out;
	}
	app_log_init(cfg);
	if ((zip = release_bundle_name(cfg, a.package, a.name, a.tag, &err)) ==
	        NULL ||
	    app_open_store(&st, cfg, &err) < 0 ||
	    store_bundle(st, a.tag, a.paths, a.npaths, a.outdir, zip, &r,
	        &err) < 0) {
		rc = cli_fail(&spec, a.json, 1, err.code, "%s: %s", err.code,
		    err.msg);
		goto out;
	}
	if (a.json) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		cJSON_AddStringToObject(o, "zip", r.zip_path);
		cJSON_AddStringToObject(o, "sha256_file", r.sha256_path);
		cJSON_AddStringToObject(o, "sha256", r.sha256);
		cJSON_AddNumberToObject(o, "files", (double)r.nfiles);
		text = cJSON_Print(o);
		printf("%s\n", text ? text : "{}");
		free(text);
		cJSON_Delete(o);
	} else
		printf("%s\n%s\n", r.zip_path, r.sha256_path);
	rc = 0;
out:
	store_bundle_result_dispose(&r);
	store_free(st);
	free(zip);
	free(args);
	return rc;
}
