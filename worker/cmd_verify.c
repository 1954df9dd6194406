/*
 * cmd_verify.c - `artifactd verify`: is a published release served back,
 * byte for byte? (issue 13)
 *
 * The release's local files are the reference (as for `publish`: paths
 * relative to the current directory, inside the artifacts root); with
 * the SHA256SUMS and <file>.sha256 a release of them publishes, each is
 * looked up on every target of the tag's package (or --target) with the
 * checks that follow each upload (publishers/verify.h), nothing uploaded.
 * One line per file and target, or one JSON object with --json. Exit
 * status 0 when every file is served and equal, 1 otherwise, 2 on bad
 * usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "publishers/release.h"
#include "publishers/verify_release.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/handler.h"

/* As `publish`: more targets than that is no configuration anyone has. */
#define VERIFY_MAX_TARGETS 32

struct verify_args {
	const char *tag;
	const char *package;
	const char *targets[VERIFY_MAX_TARGETS];
	size_t ntargets;
	bool json;
	bool too_many;
};

static const struct cli_opt verify_opts[] = {
	{ "tag", 't', true, "the release tag, e.g. v1.2.3 (required)" },
	{ "package", 'p', true, "the package (else chosen by tag patterns)" },
	{ "target", 0, true, "check this target only (repeatable)" },
	{ "json", 0, false, "print the result as JSON" },
};

static int
verify_opt(const char *name, const char *value, void *arg)
{
	struct verify_args *va = arg;

	if (strcmp(name, "tag") == 0)
		va->tag = value;
	else if (strcmp(name, "package") == 0)
		va->package = value;
	else if (strcmp(name, "target") == 0 &&
	         va->ntargets == VERIFY_MAX_TARGETS)
		va->too_many = true;
	else if (strcmp(name, "target") == 0)
		va->targets[va->ntargets++] = value;
	else if (strcmp(name, "json") == 0)
		va->json = true;
	return 0;
}

/* handler_error_json with the CLI's retryable. */
static cJSON *
error_json(const struct error *err, int rc)
{
	return handler_error_json(err, rc, error_retryable(rc));
}

static void
verify_print_json(const struct release_result *rr, int rc,
    const struct error *err)
{
	cJSON *root = cJSON_CreateObject(), *items = cJSON_CreateArray();
	char *s;
	size_t i;

	cJSON_AddBoolToObject(root, "ok", rc == 0);
	cJSON_AddStringToObject(root, "tag", rr->tag ? rr->tag : "");
	if (rr->package != NULL)
		cJSON_AddStringToObject(root, "package", rr->package);
	if (rr->version != NULL)
		cJSON_AddStringToObject(root, "version", rr->version);
	for (i = 0; i < rr->n; i++) {
		const struct release_item *it = &rr->items[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "target", it->target);
		cJSON_AddStringToObject(o, "file", it->file);
		cJSON_AddStringToObject(o, "sha256", it->sha256);
		cJSON_AddBoolToObject(o, "verified",
		    it->rc == 0 && it->outcome.verified);
		if (it->rc < 0)
			cJSON_AddItemToObject(o, "error",
			    error_json(&it->err, it->rc));
		cJSON_AddItemToArray(items, o);
	}
	cJSON_AddItemToObject(root, "results", items);
	if (rc < 0)
		cJSON_AddItemToObject(root, "error", error_json(err, rc));
	s = cJSON_PrintUnformatted(root);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(root);
}

static void
verify_print_text(const struct release_result *rr, int rc,
    const struct error *err)
{
	size_t i;

	for (i = 0; i < rr->n; i++) {
		const struct release_item *it = &rr->items[i];

		if (it->rc == 0)
			printf("%-9s %-12s %s %s\n", "verified", it->target,
			    it->file, it->sha256);
		else
			printf("%-9s %-12s %s %s: %s\n", "failed", it->target,
			    it->file, it->err.code, it->err.msg);
	}
	if (rc < 0)
		fprintf(stderr, "artifactd verify: %s %s: %s\n",
		    rr->tag ? rr->tag : "", err->code, err->msg);
	else
		printf("release %s (%s %s) verified\n", rr->tag, rr->package,
		    rr->version);
}

int
cmd_verify(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "verify",
		"--tag TAG [--package P] [--target NAME]... [--json] FILE...",
		"Check that every target of TAG's package serves the release's "
		"FILEs\n(and the SHA256SUMS and <file>.sha256 published with "
		"them) with the\nsha256 of the local files, as after each "
		"upload: listings and digests\nare read, or downloads hashed, "
		"until verify-deadline. Nothing is sent.\nExit 0 when every "
		"file is served and equal, 1 otherwise.",
		verify_opts, sizeof(verify_opts) / sizeof(verify_opts[0]), 1,
		RELEASE_MAX_FILES };
	struct verify_args va = { 0 };
	struct release_config rc_cfg;
	struct release_request req = { 0 };
	struct release_result rr;
	struct error err = { 0 };
	char **args = NULL, **paths = NULL, cwd[4096];
	size_t nargs = 0, i;
	int rc;

	release_config_init(&rc_cfg);
	release_result_init(&rr);
	rc = cli_parse(&spec, argc, argv, cfg, verify_opt, &va, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (va.too_many || va.tag == NULL) {
		rc = cli_fail(&spec, va.json, CLI_EXIT_USAGE, "USAGE",
		    va.too_many ? "at most 32 --target" : "--tag is required");
		goto out;
	}
	app_log_init(cfg);
	handler_release_config(&rc_cfg, cfg);
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		rc = cli_fail(&spec, va.json, CLI_EXIT_FAILED, "IO",
		    "cannot read the current directory");
		goto out;
	}
	paths = xcalloc(nargs + 1, sizeof(*paths));
	for (i = 0; i < nargs; i++)
		paths[i] = args[i][0] == '/' ? xstrdup(args[i])
		                             : xasprintf("%s/%s", cwd, args[i]);
	req.tag = va.tag;
	req.package = va.package;
	req.files = (const char *const *)paths;
	req.nfiles = nargs;
	req.targets = va.targets;
	req.ntargets = va.ntargets;
	rc = verify_release(&rr, &rc_cfg, &req, &err);
	if (va.json)
		verify_print_json(&rr, rc, &err);
	else
		verify_print_text(&rr, rc, &err);
	rc = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	for (i = 0; paths != NULL && i < nargs; i++)
		free(paths[i]);
	free(paths);
	release_result_dispose(&rr);
	release_config_dispose(&rc_cfg);
	free(args);
	return rc;
}
