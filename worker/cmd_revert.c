/*
 * cmd_revert.c - `artifactd revert <tag> [--branch main]`: a new commit on
 * the branch whose tree is the tagged tree (seed 003's revert_to_tag).
 * History is never rewritten and nothing is force-pushed; with
 * --event-id a repeated call is recognised and writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/repos.h"

struct revert_args {
	const char *branch;
	const char *event_id;
	bool json;
};

static int
revert_opt(const char *name, const char *value, void *arg)
{
	struct revert_args *a = arg;

	if (strcmp(name, "branch") == 0)
		a->branch = value;
	else if (strcmp(name, "event-id") == 0)
		a->event_id = value;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

/* What revert_one is asked and answers. */
struct revert_each {
	const char *tag, *branch, *event_id;
	cJSON *out;
	struct error *err;
};

/* Revert in the repository that has the tag: 1 when done (stop), 0 when
 * this repository has no such tag. */
static int
revert_one(struct store *st, const char *workflow_id, void *arg)
{
	struct revert_each *re = arg;
	int rc;

	(void)workflow_id;
	rc = store_revert(st, &re->out, re->tag, re->branch, re->event_id,
	    re->err);
	if (rc == ERR_NOTFOUND && strncmp(re->err->msg, "no tag ", 7) == 0)
		return 0;
	return rc < 0 ? rc : 1;
}

int
cmd_revert(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "branch", 'b', true,
		    "branch to restore (default: the base branch, main)" },
		{ "event-id", 0, true,
		    "idempotency key: a second revert with it writes nothing" },
		{ "json", 0, false, "print the result as JSON" },
	};
	static const struct cli_spec spec = { "revert",
		"<tag> [--branch main] [--event-id ID] [--json]",
		"Restore the tree of <tag> (e.g. corr_abc123) on a branch as a "
		"new commit on\ntop of its tip; no history is rewritten. "
		"Pushed "
		"when auto-push is on.",
		opts, sizeof(opts) / sizeof(opts[0]), 1, 1 };
	struct revert_args a = { NULL, NULL, false };
	struct repos *repos = NULL;
	struct revert_each re;
	struct error err = { 0 };
	char **args = NULL, *text;
	size_t nargs = 0;
	cJSON *o = NULL;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, revert_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	re.tag = args[0];
	re.branch = a.branch ? a.branch : cfg->base_branch;
	re.event_id = a.event_id;
	re.out = NULL;
	re.err = &err;
	/* With a repo template: in the repository that has the tag. */
	if (app_open_repos(&repos, cfg, &err) < 0 ||
	    (rc = repos_each(repos, revert_one, &re, &err)) < 0 ||
	    (rc == 0 && (err.rc == ERR_NOTFOUND ||
	                    error_set(&err, ERR_NOTFOUND, "NOT_FOUND",
	                        "no tag %s in any repository", args[0]) < 0))) {
		rc = cli_fail_error(&spec, a.json,
		    err.rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
		    &err);
		goto out;
	}
	o = re.out;
	if (a.json) {
		text = cJSON_Print(o);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		printf("%s %s to %s: %s%s\n",
		    cJSON_IsTrue(cJSON_GetObjectItem(o, "duplicate"))
		        ? "already reverted"
		        : "reverted",
		    cJSON_GetObjectItem(o, "branch")->valuestring, args[0],
		    cJSON_GetObjectItem(o, "commit_sha")->valuestring,
		    cJSON_IsTrue(cJSON_GetObjectItem(o, "pushed")) ? " (pushed)"
		                                                   : "");
	}
	rc = 0;
out:
	cJSON_Delete(o);
	repos_free(repos);
	free(args);
	return rc;
}
