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

static int
show_opt(const char *name, const char *value, void *arg)
{
	(void)value;
	if (strcmp(name, "json") == 0)
		*(bool *)arg = true;
	return 0;
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
	struct store *st = NULL;
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
	if (app_open_store(&st, cfg, &err) < 0 ||
	    store_show(st, &o, args[0], &err) < 0) {
		rc = cli_fail_error(&spec, json,
		    err.rc == ERR_INVALID ? CLI_EXIT_USAGE : CLI_EXIT_FAILED,
		    &err);
		goto out;
	}
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
	store_free(st);
	free(args);
	return rc;
}
