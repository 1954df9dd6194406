/*
 * cmd_list.c - `artifactd list`: the artifacts in the store, newest first,
 * read from the metadata.json of each task branch's tip (seed 003's
 * list_artifacts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/repos.h"

/* The list is read into memory as one JSON array; 10 000 entries bound
 * it to a few MB (the store caps the same). */
#define LIST_LIMIT_MAX 10000

struct list_args {
	const char *workflow;
	long long limit;
	bool json;
	bool bad_limit;
};

static int
list_opt(const char *name, const char *value, void *arg)
{
	struct list_args *a = arg;

	if (strcmp(name, "workflow") == 0)
		a->workflow = value;
	else if (strcmp(name, "limit") == 0) {
		/* Reported once, by cmd_list, with the range. */
		if (util_parse_uint(&a->limit, value, LIST_LIMIT_MAX) < 0 ||
		    a->limit == 0)
			a->bad_limit = true;
	} else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

static const char *
list_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "-";
}

/* What list_one gathers over the repositories. */
struct list_each {
	const char *workflow;
	size_t limit;
	cJSON *all;
	struct error *err;
};

/* The artifacts of one repository, into le->all. */
static int
list_one(struct store *st, const char *workflow_id, void *arg)
{
	struct list_each *le = arg;
	cJSON *arr = NULL, *it;

	/* A template's repository holds one workflow: skip the others. */
	if (workflow_id != NULL && le->workflow != NULL &&
	    strcmp(workflow_id, le->workflow) != 0)
		return 0;
	if (store_list(st, &arr, le->workflow, le->limit, le->err) < 0)
		return le->err->rc;
	while ((it = cJSON_DetachItemFromArray(arr, 0)) != NULL)
		cJSON_AddItemToArray(le->all, it);
	cJSON_Delete(arr);
	return 0;
}

static int
list_newer_first(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	const cJSON *tx =
	    cJSON_GetObjectItemCaseSensitive(x, "commit_timestamp");
	const cJSON *ty =
	    cJSON_GetObjectItemCaseSensitive(y, "commit_timestamp");

	return strcmp(cJSON_IsString(ty) ? ty->valuestring : "",
	    cJSON_IsString(tx) ? tx->valuestring : "");
}

/* Several repositories' lists: newest first (the ISO timestamps sort as
 * text), cut to limit. */
static cJSON *
list_merge(cJSON *all, size_t limit)
{
	cJSON **v, *out = cJSON_CreateArray(), *it;
	size_t n = 0, i;

	v = xcalloc((size_t)cJSON_GetArraySize(all) + 1, sizeof(*v));
	while ((it = cJSON_DetachItemFromArray(all, 0)) != NULL)
		v[n++] = it;
	qsort(v, n, sizeof(*v), list_newer_first);
	for (i = 0; i < n; i++) {
		if (i < limit)
			cJSON_AddItemToArray(out, v[i]);
		else
			cJSON_Delete(v[i]);
	}
	free(v);
	cJSON_Delete(all);
	return out;
}

int
cmd_list(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "workflow", 'w', true, "only artifacts of this workflow id" },
		{ "limit", 'n', true, "at most N artifacts (default 50)" },
		{ "json", 0, false, "print a JSON array" },
	};
	static const struct cli_spec spec = { "list",
		"[--workflow W] "
		"[--limit N] [--json]",
		"List the committed artifacts, newest first: the metadata.json "
		"of the tip\nof every task branch under the branch prefix, "
		"with "
		"its branch and commit.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct list_args a = { NULL, 50, false, false };
	struct repos *repos = NULL;
	struct list_each le;
	struct error err = { 0 };
	char **args = NULL, *text;
	size_t nargs = 0;
	cJSON *arr = NULL, *it, *m;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, list_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (a.bad_limit) {
		rc = cli_fail(&spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "--limit must be 1..%d", LIST_LIMIT_MAX);
		goto out;
	}
	app_log_init(cfg);
	le.workflow = a.workflow;
	le.limit = (size_t)a.limit;
	le.all = arr = cJSON_CreateArray();
	le.err = &err;
	if (app_open_repos(&repos, cfg, &err) < 0 ||
	    repos_each(repos, list_one, &le, &err) < 0) {
		rc = cli_fail_error(&spec, a.json,
		    err.rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
		    &err);
		goto out;
	}
	arr = list_merge(arr, (size_t)a.limit);
	if (a.json) {
		text = cJSON_Print(arr);
		printf("%s\n", text ? text : "[]");
		free(text);
	} else {
		cJSON_ArrayForEach(it, arr) {
			m = cJSON_GetObjectItemCaseSensitive(it,
			    "test_metrics");
			text = m ? cJSON_PrintUnformatted(m) : NULL;
			printf("%.12s  %s  corr=%s  %s  %s\n",
			    list_str(it, "commit_sha"), list_str(it, "branch"),
			    list_str(it, "correlation_id"),
			    list_str(it, "commit_timestamp"),
			    text ? text : "{}");
			free(text);
		}
	}
	rc = 0;
out:
	cJSON_Delete(arr);
	repos_free(repos);
	free(args);
	return rc;
}
