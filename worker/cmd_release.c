/*
 * cmd_release.c - `artifactd release`: the next version of a package from
 * the Conventional Commits on a branch since its last release tag, the
 * CHANGELOG.md commit and the annotated tag (store_release), or with
 * --dev the setuptools_scm development version of the branch tip
 * (store_dev_version). The package's tag prefix comes from its first tag
 * pattern in the config (packages: ... tags:), "v" without --package, and
 * its bump rules from its parser_angular_* / major_on_zero /
 * patch_without_tag keys (semantic-release's defaults without them).
 *
 * Unless a dry run, a new release is pushed to the store's remote (branch
 * and tag in one push; a refused push undoes it: store_release_push). The
 * bus's RELEASE_REQUESTED does the same (worker/handle_release_request.c)
 * and answers with the same release_json().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/version.h"
#include "store/history.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/release_req.h"

struct release_args {
	const char *repository;
	const char *branch;
	const char *package;
	bool dry_run;
	bool dev;
	bool json;
};

static int
release_opt(const char *name, const char *value, void *arg)
{
	struct release_args *a = arg;

	if (strcmp(name, "repository") == 0)
		a->repository = value;
	else if (strcmp(name, "branch") == 0)
		a->branch = value;
	else if (strcmp(name, "package") == 0)
		a->package = value;
	else if (strcmp(name, "dry-run") == 0)
		a->dry_run = true;
	else if (strcmp(name, "dev") == 0)
		a->dev = true;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

static void
print_json(cJSON *o)
{
	char *text = cJSON_Print(o);

	printf("%s\n", text ? text : "{}");
	free(text);
}

static int
release_dev(struct store *st, const struct release_args *a, const char *branch,
    const char *prefix, struct error *err)
{
	struct store_dev_result d;
	cJSON *o;

	if (store_dev_version(st, branch, prefix, &d, err) < 0)
		return -1;
	if (a->json) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "version", d.version);
		if (d.tag)
			cJSON_AddStringToObject(o, "tag", d.tag);
		else
			cJSON_AddNullToObject(o, "tag");
		cJSON_AddNumberToObject(o, "distance", (double)d.distance);
		cJSON_AddStringToObject(o, "commit_sha", d.commit_sha);
		print_json(o);
		cJSON_Delete(o);
	} else
		printf("%s\n", d.version);
	store_dev_result_dispose(&d);
	return 0;
}

static int
release_once(struct store *st, const struct config *cfg,
    const struct release_args *a, const char *branch, const char *prefix,
    struct error *err)
{
	struct store_release_req req = { branch, prefix,
		release_rules(cfg, a->package), a->dry_run };
	struct store_release_result r;
	bool pushed;
	cJSON *o;

	if (release_make(st, &req, &r, &pushed, err) < 0)
		return -1;
	if (a->json) {
		o = release_json(&r, a->dry_run, pushed);
		print_json(o);
		cJSON_Delete(o);
	} else if (r.bump == VERSION_BUMP_NONE)
		printf("nothing to release: %zu commits since %s\n", r.ncommits,
		    r.previous_tag ? r.previous_tag : "the first commit");
	else
		printf("%s %s (%s, was %s)%s\n%s",
		    r.duplicate  ? "already released"
		    : a->dry_run ? "would release"
		                 : "released",
		    r.tag, version_bump_name(r.bump), r.previous_version,
		    r.created ? "" : " - nothing written", r.notes);
	store_release_result_dispose(&r);
	return 0;
}

int
cmd_release(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "repository", 0, true,
		    "repository path (default: the store, --repo)" },
		{ "branch", 'b', true, "branch (default: the base branch)" },
		{ "package", 'p', true,
		    "package whose first tag pattern names its releases" },
		{ "dry-run", 'n', false, "compute only, write nothing" },
		{ "dev", 0, false,
		    "print the development version of the tip instead" },
		{ "json", 0, false, "print the result as JSON" },
	};
	static const struct cli_spec spec = { "release",
		"[--repository PATH] [--branch B] [--package P] [--dry-run] "
		"[--dev] [--json]",
		"Compute the next version from the Conventional Commits since "
		"the package's\nlast release tag, commit CHANGELOG.md and "
		"create the annotated tag, pushed to the\nstore's remote. "
		"--dev prints the "
		"setuptools_scm version of the branch tip.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct release_args a = { 0 };
	struct store *st = NULL;
	struct error err = { 0 };
	char **args = NULL, prefix[VERSION_MAX];
	size_t nargs = 0;
	const char *branch;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, release_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	if (a.repository != NULL && strstr(a.repository, "://") != NULL) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "--repository takes a path; for a remote set --repo and "
		    "--remote-url (the store clones it)");
		goto out;
	}
	if (a.repository != NULL &&
	    config_set(cfg, "repo", a.repository, &err) < 0) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE", "%s",
		    err.msg);
		goto out;
	}
	if (release_prefix(prefix, sizeof(prefix), cfg, a.package, &err) < 0) {
		rc = cli_fail(&spec, a.json, 1, err.code, "%s: %s", err.code,
		    err.msg);
		goto out;
	}
	branch = a.branch ? a.branch : cfg->base_branch;
	if (app_open_store(&st, cfg, &err) < 0 ||
	    (a.dev ? release_dev(st, &a, branch, prefix, &err)
	           : release_once(st, cfg, &a, branch, prefix, &err)) < 0) {
		rc = cli_fail(&spec, a.json, 1, err.code, "%s: %s", err.code,
		    err.msg);
		goto out;
	}
	rc = 0;
out:
	store_free(st);
	free(args);
	return rc;
}
