/*
 * cmd_show.c - `artifactd show <correlation_id>`: the artifact tagged
 * corr_<id> (seed 003's get_artifact_by_correlation_id): its metadata,
 * branch, commit and files. One exact tag lookup, however many refs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/repos.h"

static int
show_opt(const char *name, const char *value, void *arg)
{
	(void)value;
	if (strcmp(name, "json") == 0)
		*(bool *)arg = true;
	return 0;
}

/* What show_one looks for and finds. */
struct show_each {
	const char *id;
	cJSON *found;
	struct error *err;
};

/* The artifact in one repository: 1 when found (stop), 0 when this one
 * has not got it. */
static int
show_one(struct store *st, const char *workflow_id, void *arg)
{
	struct show_each *se = arg;
	int rc;

	(void)workflow_id;
	rc = store_show(st, &se->found, se->id, se->err);
	if (rc == ERR_NOTFOUND)
		return 0;
	return rc < 0 ? rc : 1;
}

int
cmd_show(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "json", 0, false, "print the JSON object" },
	};
	static const struct cli_spec spec = { "show",
		"<correlation_id> [--json]",
		"Show the artifact committed for a correlation id (tag "
		"corr_<id>; the\n\"corr_\" prefix may be given or not): its "
		"metadata.json, branch, commit\nand files.",
		opts, 1, 1, 1 };
	struct repos *repos = NULL;
	struct show_each se;
	struct error err = { 0 };
	char **args = NULL, *text;
	size_t nargs = 0;
	bool json = false;
	cJSON *o = NULL, *it, *v;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, show_opt, &json, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	se.id = args[0];
	se.found = NULL;
	se.err = &err;
	if (app_open_repos(&repos, cfg, &err) < 0 ||
	    (rc = repos_each(repos, show_one, &se, &err)) < 0 ||
	    (rc == 0 && (err.rc == ERR_NOTFOUND ||
	                    error_set(&err, ERR_NOTFOUND, "NOT_FOUND",
	                        "no artifact for %s in any repository",
	                        args[0]) < 0))) {
		rc = cli_fail_error(&spec, json,
		    err.rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
		    &err);
		goto out;
	}
	o = se.found;
	if (json) {
		text = cJSON_Print(o);
		printf("%s\n", text ? text : "{}");
		free(text);
	} else {
		cJSON_ArrayForEach(it, o) {
			if (strcmp(it->string, "files") == 0)
				continue;
			text = cJSON_IsString(it) ? NULL
			                          : cJSON_PrintUnformatted(it);
			printf("%-17s %s\n", it->string,
			    text ? text : it->valuestring);
			free(text);
		}
		printf("files:\n");
		v = cJSON_GetObjectItemCaseSensitive(o, "files");
		cJSON_ArrayForEach(it, v) {
			if (cJSON_IsString(it))
				printf("  %s\n", it->valuestring);
		}
	}
	rc = 0;
out:
	cJSON_Delete(o);
	repos_free(repos);
	free(args);
	return rc;
}
