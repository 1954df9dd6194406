/*
 * cmd_publish.c - `artifactd publish`: publish release files without the
 * bus.
 *
 * Runs the same release core as the RELEASE_TAGGED handler, with the same
 * targets and packages from the settings, and prints one line per file
 * and target (or one JSON object with --json). Relative FILE paths are
 * taken from the current directory; every file must still be inside the
 * artifacts root. Exit status 0 when every
 * file reached every target, 1 when something failed, 2 on bad usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "publishers/progress.h"
#include "publishers/release.h"
#include "store/scan.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/handler.h"
#include "worker/release_provenance.h"
#include "worker/scan_gate.h"

/* --target may be given this many times; more targets than that is not
 * a release configuration anyone has. */
#define PUBLISH_MAX_TARGETS 32

struct publish_args {
	const char *tag;
	const char *package;
	const char *targets[PUBLISH_MAX_TARGETS];
	size_t ntargets;
	bool dry_run;
	bool json;
	bool too_many;
	bool quiet;
	bool progress;
};

static const struct cli_opt publish_opts[] = {
	{ "tag", 't', true, "the release tag, e.g. v1.2.3 (required)" },
	{ "package", 'p', true, "the package (else chosen by tag patterns)" },
	{ "target", 0, true, "publish to this target only (repeatable)" },
	{ "dry-run", 'n', false, "build and check every request, send none" },
	{ "json", 0, false, "print the result as JSON" },
	{ "quiet", 'q', false, "no progress lines on the terminal" },
	{ "progress", 0, false,
	    "show progress on stderr even when it is not a terminal" },
};

static int
publish_opt(const char *name, const char *value, void *arg)
{
	struct publish_args *pa = arg;

	if (strcmp(name, "tag") == 0) {
		pa->tag = value;
	} else if (strcmp(name, "package") == 0) {
		pa->package = value;
	} else if (strcmp(name, "target") == 0) {
		/* Reported once, by cmd_publish. */
		if (pa->ntargets == PUBLISH_MAX_TARGETS)
			pa->too_many = true;
		else
			pa->targets[pa->ntargets++] = value;
	} else if (strcmp(name, "dry-run") == 0) {
		pa->dry_run = true;
	} else if (strcmp(name, "json") == 0) {
		pa->json = true;
	} else if (strcmp(name, "quiet") == 0) {
		pa->quiet = true;
	} else if (strcmp(name, "progress") == 0) {
		pa->progress = true;
	}
	return 0;
}

static void
print_json(const struct release_result *rr, int rc, const struct error *err)
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
	cJSON_AddBoolToObject(root, "dry_run", rr->dry_run);
	for (i = 0; i < rr->n; i++) {
		const struct release_item *it = &rr->items[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "target", it->target);
		cJSON_AddStringToObject(o, "file", it->file);
		if (it->sha256[0] != '\0')
			cJSON_AddStringToObject(o, "sha256", it->sha256);
		if (it->rc == 0) {
			cJSON_AddStringToObject(o, "status",
			    release_status_name(it->outcome.status));
			cJSON_AddBoolToObject(o, "verified",
			    it->outcome.verified);
			cJSON_AddStringToObject(o, "url", it->outcome.url);
			if (it->outcome.reason[0] != '\0')
				cJSON_AddStringToObject(o, "reason",
				    it->outcome.reason);
		} else {
			cJSON_AddItemToObject(o, "error",
			    handler_error_json(&it->err, it->rc,
			        error_retryable(it->rc)));
		}
		cJSON_AddItemToArray(items, o);
	}
	cJSON_AddItemToObject(root, "results", items);
	if (rc < 0)
		cJSON_AddItemToObject(root, "error",
		    handler_error_json(err, rc, error_retryable(rc)));
	s = cJSON_PrintUnformatted(root);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(root);
}

static void
print_text(const struct release_result *rr, int rc, const struct error *err)
{
	size_t i;

	for (i = 0; i < rr->n; i++) {
		const struct release_item *it = &rr->items[i];

		if (it->rc == 0)
			printf("%-15s %-12s %s %s\n",
			    release_status_name(it->outcome.status), it->target,
			    it->file,
			    it->outcome.reason[0] != '\0' ? it->outcome.reason
			                                  : it->outcome.url);
		else
			printf("%-15s %-12s %s %s: %s\n", "failed", it->target,
			    it->file[0] ? it->file : "-", it->err.code,
			    it->err.msg);
	}
	if (rc < 0)
		fprintf(stderr, "artifactd publish: %s %s: %s\n",
		    rr->tag ? rr->tag : "", err->code, err->msg);
	else
		printf("release %s (%s %s) %s\n", rr->tag, rr->package,
		    rr->version,
		    rr->dry_run ? "checked (dry run)" : "published");
}

int
cmd_publish(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "publish",
		"--tag TAG [--package P] [--target NAME]... [--dry-run] "
		"[--json] [--quiet] [--progress] FILE...",
		"Publish release FILEs (wheels, sdists, other assets inside "
		"the artifacts\nroot) for TAG to the targets of its package, "
		"as the daemon does for a\nRELEASE_TAGGED event: every file is "
		"checked first, SHA256SUMS and\n<file>.sha256 are added, and "
		"one line per file and target is printed.\nOn a terminal each "
		"upload shows its bytes, rate and time left\n(--quiet: "
		"not).\nWith --dry-run "
		"every request is built and checked but nothing is sent.",
		publish_opts, sizeof(publish_opts) / sizeof(publish_opts[0]), 1,
		RELEASE_MAX_FILES };
	struct publish_args pa = { 0 };
	struct release_config rc_cfg;
	struct release_request req = { 0 };
	struct release_result rr;
	struct release_prov prov = { 0 };
	struct release_prov_in pin = { NULL, NULL, NULL };
	struct scanner *sc = NULL;
	struct error err = { 0 };
	char **args = NULL, **paths = NULL, cwd[4096], *invocation = NULL;
	size_t nargs = 0, i;
	int rc;

	release_config_init(&rc_cfg);
	release_result_init(&rr);
	rc = cli_parse(&spec, argc, argv, cfg, publish_opt, &pa, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (pa.too_many) {
		rc = cli_fail(&spec, pa.json, CLI_EXIT_USAGE, "USAGE",
		    "at most %d --target", PUBLISH_MAX_TARGETS);
		goto out;
	}
	if (pa.tag == NULL) {
		rc = cli_fail(&spec, pa.json, CLI_EXIT_USAGE, "USAGE",
		    "--tag is required");
		goto out;
	}
	app_log_init(cfg);
	/* Per file bytes, rate and time left, redrawn on a terminal; the
	 * daemon's periodic log line is not for an interactive run. */
	progress_mode_set(pa.progress || (!pa.quiet && isatty(STDERR_FILENO))
	                      ? PROGRESS_TTY
	                      : PROGRESS_OFF);
	handler_release_config(&rc_cfg, cfg);
	/* The daemon's secret gate: nothing is sent when a file holds a
	 * secret. */
	if (cfg->scan_for_secrets) {
		if (scan_gate_scanner_new(&sc, cfg, &err) < 0) {
			rc = cli_fail(&spec, pa.json, CLI_EXIT_USAGE, "USAGE",
			    "%s", err.msg);
			goto out;
		}
		scan_gate_attach(&rc_cfg, sc);
	}
	/* On the command line, relative paths are the user's, relative to
	 * the current directory (events name them relative to the artifacts
	 * root instead). */
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		rc = cli_fail(&spec, pa.json, CLI_EXIT_FAILED, "IO",
		    "cannot read the current directory");
		goto out;
	}
	paths = xcalloc(nargs + 1, sizeof(*paths));
	for (i = 0; i < nargs; i++)
		paths[i] = args[i][0] == '/' ? xstrdup(args[i])
		                             : xasprintf("%s/%s", cwd, args[i]);
	req.tag = pa.tag;
	req.package = pa.package;
	req.files = (const char *const *)paths;
	req.nfiles = nargs;
	req.targets = pa.targets;
	req.ntargets = pa.ntargets;
	req.dry_run = pa.dry_run || cfg->dry_run;
	/* As the daemon does, without an event: the invocation is the tag,
	 * the time the newest file's. */
	pin.invocation_id = invocation =
	    xasprintf("artifactd-publish:%s", pa.tag);
	rc = release_provenance_add(&prov, cfg, &rc_cfg, &req, &pin, &err);
	if (rc == 0)
		rc = release_run(&rr, &rc_cfg, &req, &err);
	if (rc == 0)
		rc = release_provenance_check(&prov, &rr, &err);
	if (rr.tag == NULL)
		rr.tag = xstrdup(pa.tag);
	if (pa.json)
		print_json(&rr, rc, &err);
	else
		print_text(&rr, rc, &err);
	rc = rc == 0 ? 0 : 1;
out:
	release_provenance_dispose(&prov);
	free(invocation);
	for (i = 0; paths != NULL && i < nargs; i++)
		free(paths[i]);
	free(paths);
	release_result_dispose(&rr);
	release_config_dispose(&rc_cfg);
	scanner_free(sc);
	free(args);
	return rc;
}
