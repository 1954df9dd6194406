/*
 * cmd_unpublish.c - `artifactd unpublish`: take a release back without
 * the bus, as the RELEASE_ROLLBACK_REQUESTED handler does.
 *
 * Prints one line per item and target (or, with --json, the handler's
 * answer object plus "ok"). With --delete-tag the release's git tag is
 * deleted too, on the remote first when one is configured, and only once
 * the targets hold nothing of the release. Exit status 0 when nothing
 * failed - items left for a human (PyPI: "manual", with the URL) are
 * printed, and "complete" is false, but they are not failures: a second
 * run finds the rest "absent" and succeeds - 1 when something failed, 2
 * on bad usage.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "publishers/unpublish.h"
#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/handle_release_rollback.h"
#include "worker/handler.h"

/* As publish: more --target than that is no configuration anyone has. */
#define UNPUBLISH_MAX_TARGETS 32

struct unpublish_args {
	const char *tag;
	const char *package;
	const char *targets[UNPUBLISH_MAX_TARGETS];
	size_t ntargets;
	bool dry_run, delete_tag, json, too_many;
};

static const struct cli_opt unpublish_opts[] = {
	{ "tag", 't', true, "the release tag, e.g. v1.2.3 (required)" },
	{ "package", 'p', true, "the package (else chosen by tag patterns)" },
	{ "target", 0, true, "roll back on this target only (repeatable)" },
	{ "dry-run", 'n', false, "say what would be removed, remove nothing" },
	{ "delete-tag", 0, false,
	    "also delete the git tag (on the remote too, when configured)" },
	{ "json", 0, false, "print the result as JSON" },
};

static int
unpublish_opt(const char *name, const char *value, void *arg)
{
	struct unpublish_args *a = arg;

	if (strcmp(name, "tag") == 0)
		a->tag = value;
	else if (strcmp(name, "package") == 0)
		a->package = value;
	else if (strcmp(name, "target") == 0) {
		if (a->ntargets == UNPUBLISH_MAX_TARGETS)
			a->too_many = true;
		else
			a->targets[a->ntargets++] = value;
	} else if (strcmp(name, "dry-run") == 0)
		a->dry_run = true;
	else if (strcmp(name, "delete-tag") == 0)
		a->delete_tag = true;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

static void
print_text(const struct unpublish_result *r, const cJSON *git_tag, int rc,
    const struct error *err)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct unpublish_item *it = &r->items[i];

		if (it->rc < 0)
			printf("%-13s %-12s %s %s: %s\n", "failed", it->target,
			    it->what[0] ? it->what : "-", it->err.code,
			    it->err.msg);
		else
			printf("%-13s %-12s %s%s%s\n",
			    unpublish_status_name(it->status), it->target,
			    it->what, it->status == UNPUBLISH_MANUAL ? " " : "",
			    it->status == UNPUBLISH_MANUAL ? it->url : "");
	}
	if (git_tag != NULL) {
		const cJSON *l =
		    cJSON_GetObjectItemCaseSensitive(git_tag, "local");
		const cJSON *m =
		    cJSON_GetObjectItemCaseSensitive(git_tag, "remote");

		printf("git tag %s: local %s, remote %s\n", r->tag,
		    cJSON_IsString(l) ? l->valuestring : "?",
		    cJSON_IsString(m) ? m->valuestring : "?");
	}
	if (rc < 0)
		fprintf(stderr, "artifactd unpublish: %s %s: %s\n", r->tag,
		    err->code, err->msg);
	else
		printf("release %s %s%s\n", r->tag,
		    r->dry_run ? "checked (dry run)" : "rolled back",
		    unpublish_complete(r)
		        ? ""
		        : "; some targets need a hand (manual)");
}

static void
print_json(const struct unpublish_result *r, cJSON *git_tag, int rc,
    const struct error *err)
{
	cJSON *o = rollback_json(r, git_tag);
	char *s;

	cJSON_AddBoolToObject(o, "ok", rc == 0);
	if (rc < 0)
		cJSON_AddItemToObject(o, "error",
		    handler_error_json(err, rc, error_retryable(rc)));
	s = cJSON_PrintUnformatted(o);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

int
cmd_unpublish(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "unpublish",
		"--tag TAG [--package P] [--target NAME]... [--dry-run] "
		"[--delete-tag] [--json]",
		"Take the release of TAG back from the targets of its "
		"package, as the daemon\ndoes for RELEASE_ROLLBACK_REQUESTED: "
		"GitHub releases and Artifactory\nfiles are deleted, "
		"CodeArtifact versions deleted or unlisted; PyPI has no\nAPI "
		"for it, so its line says \"manual\" with the URL. A second "
		"run removes\nnothing and succeeds.",
		unpublish_opts,
		sizeof(unpublish_opts) / sizeof(unpublish_opts[0]), 0, 0 };
	struct unpublish_args a = { 0 };
	struct unpublish_request req = { 0 };
	struct unpublish_result ur;
	struct release_config rc_cfg;
	struct store *st = NULL;
	struct error err = { 0 };
	cJSON *git_tag = NULL;
	char **args = NULL;
	size_t nargs = 0;
	int rc;

	release_config_init(&rc_cfg);
	unpublish_result_init(&ur);
	rc =
	    cli_parse(&spec, argc, argv, cfg, unpublish_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (a.too_many || a.tag == NULL) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    a.too_many ? "at most 32 --target" : "--tag is required");
		goto out;
	}
	app_log_init(cfg);
	handler_release_config(&rc_cfg, cfg);
	req.tag = a.tag;
	req.package = a.package;
	req.targets = a.targets;
	req.ntargets = a.ntargets;
	req.dry_run = a.dry_run || cfg->dry_run;
	rc = unpublish_run(&ur, &rc_cfg, &req, &err);
	if (rc == 0 && a.delete_tag &&
	    (rc = app_open_store(&st, cfg, &err)) == 0)
		rc = store_tag_delete(st, a.tag, true, ur.dry_run, &git_tag,
		    &err);
	if (ur.tag == NULL)
		ur.tag = xstrdup(a.tag);
	if (a.json)
		print_json(&ur, git_tag, rc, &err);
	else {
		print_text(&ur, git_tag, rc, &err);
		cJSON_Delete(git_tag);
	}
	rc = rc == 0 ? 0 : 1;
out:
	unpublish_result_dispose(&ur);
	release_config_dispose(&rc_cfg);
	store_free(st);
	free(args);
	return rc;
}
