/*
 * cmd_expire.c - `artifactd expire --older-than AGE`: remove the task
 * branches whose tip is older than AGE, locally and on the remote
 * (store_expire), keeping them under refs/archive/ with --archive and
 * their tags unless --tags. The daemon runs the same on a timer
 * (expire-after, loop.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/repos.h"

struct expire_args {
	const char *older_than;
	bool archive, tags, dry_run, json;
};

static int
expire_opt(const char *name, const char *value, void *arg)
{
	struct expire_args *a = arg;

	if (strcmp(name, "older-than") == 0)
		a->older_than = value;
	else if (strcmp(name, "archive") == 0)
		a->archive = true;
	else if (strcmp(name, "tags") == 0)
		a->tags = true;
	else if (strcmp(name, "dry-run") == 0)
		a->dry_run = true;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

/* What expire_one gathers over the repositories. */
struct expire_each {
	struct store_expire_opts o;
	cJSON *rep; /* the first repository's report, the others' merged */
	struct error *err;
};

static void
expire_add_num(cJSON *rep, const char *key, const cJSON *more)
{
	cJSON *v = cJSON_GetObjectItem(rep, key);

	cJSON_SetNumberValue(v,
	    v->valuedouble + cJSON_GetObjectItem(more, key)->valuedouble);
}

/* store_expire on one repository, its report merged into ee->rep. */
static int
expire_one(struct store *st, const char *workflow_id, void *arg)
{
	struct expire_each *ee = arg;
	cJSON *rep = NULL, *b, *remote;

	(void)workflow_id;
	if (store_expire(st, &ee->o, &rep, ee->err) < 0)
		return ee->err->rc;
	if (ee->rep == NULL) {
		ee->rep = rep;
		return 0;
	}
	while (
	    (b = cJSON_DetachItemFromArray(cJSON_GetObjectItem(rep, "branches"),
	         0)) != NULL)
		cJSON_AddItemToArray(cJSON_GetObjectItem(ee->rep, "branches"),
		    b);
	expire_add_num(ee->rep, "removed", rep);
	expire_add_num(ee->rep, "kept", rep);
	remote = cJSON_GetObjectItem(rep, "remote");
	if (strcmp(remote->valuestring, "failed") == 0)
		cJSON_ReplaceItemInObject(ee->rep, "remote",
		    cJSON_CreateString("failed"));
	cJSON_Delete(rep);
	return 0;
}

static void
expire_print(const cJSON *rep)
{
	const cJSON *b, *t;

	cJSON_ArrayForEach(b, cJSON_GetObjectItem(rep, "branches")) {
		printf("%-16s %s %.12s",
		    cJSON_GetObjectItem(b, "status")->valuestring,
		    cJSON_GetObjectItem(b, "branch")->valuestring,
		    cJSON_GetObjectItem(b, "tip")->valuestring);
		if ((t = cJSON_GetObjectItem(b, "archive")) != NULL)
			printf(" -> %s", t->valuestring);
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(b, "tags"))
			printf(" -%s", t->valuestring);
		printf("\n");
	}
	printf("%d removed, %d kept, remote %s%s\n",
	    cJSON_GetObjectItem(rep, "removed")->valueint,
	    cJSON_GetObjectItem(rep, "kept")->valueint,
	    cJSON_GetObjectItem(rep, "remote")->valuestring,
	    cJSON_IsTrue(cJSON_GetObjectItem(rep, "dry_run")) ? " (dry run)"
	                                                      : "");
}

int
cmd_expire(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "older-than", 0, true,
		    "age of the tip commit: 90d, 12h, 2w, 30m, 45s" },
		{ "archive", 0, false,
		    "keep each under refs/archive/<branch> (also remotely)" },
		{ "tags", 0, false,
		    "also delete the corr_/prompt_ tags of their commits" },
		{ "dry-run", 'n', false, "say what would go, change nothing" },
		{ "json", 0, false, "print the report as JSON" },
	};
	static const struct cli_spec spec = { "expire",
		"--older-than AGE [--archive] [--tags] [--dry-run] [--json]",
		"Remove the task branches whose tip is older than AGE, "
		"locally and on the\nremote. A branch that moved meanwhile "
		"is kept. Tags stay unless --tags.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct expire_args a = { 0 };
	struct expire_each ee = { { 0 }, NULL, NULL };
	struct repos *repos = NULL;
	struct error err = { 0 };
	char **args = NULL, *text;
	size_t nargs = 0;
	cJSON *rep;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, expire_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (a.older_than == NULL ||
	    store_age_parse(&ee.o.older_than_s, a.older_than) < 0) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "--older-than needs an age: a number with s, m, h, d or "
		    "w (at most 100 years)");
		goto out;
	}
	ee.o.archive = a.archive;
	ee.o.tags = a.tags;
	ee.o.dry_run = a.dry_run;
	ee.err = &err;
	app_log_init(cfg);
	if (app_open_repos(&repos, cfg, &err) < 0 ||
	    repos_each(repos, expire_one, &ee, &err) < 0) {
		rc = cli_fail_error(&spec, a.json,
		    err.rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
		    &err);
		goto out;
	}
	if ((rep = ee.rep) == NULL) { /* a template without repositories */
		ee.rep = rep = cJSON_CreateObject();
		cJSON_AddArrayToObject(rep, "branches");
		cJSON_AddNumberToObject(rep, "removed", 0);
		cJSON_AddNumberToObject(rep, "kept", 0);
		cJSON_AddStringToObject(rep, "remote", "disabled");
		cJSON_AddBoolToObject(rep, "dry_run", a.dry_run);
	}
	if (a.json) {
		text = cJSON_Print(rep);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		expire_print(rep);
	}
	/* The local part stands; a remote that could not be reached is a
	 * failure to report (run it again). */
	rc = strcmp(cJSON_GetObjectItem(rep, "remote")->valuestring,
	         "failed") == 0
	         ? CLI_EXIT_FAILED
	         : 0;
out:
	cJSON_Delete(ee.rep);
	repos_free(repos);
	free(args);
	return rc;
}
