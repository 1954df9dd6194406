/*
 * cmd_commit.c - `artifactd commit`: one commit without the bus.
 *
 * Builds the same TEST_PASSED envelope a producer would send and runs the
 * same handler the daemon runs, so what is printed is exactly what the
 * daemon would answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "events/envelope.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/emit.h"
#include "worker/handler.h"

/* emit's options that only mean something with a bus to wait on. */
static bool
commit_emit_only(const char *name)
{
	return strcmp(name, "timeout") == 0 || strcmp(name, "no-wait") == 0;
}

int
cmd_commit(int argc, char **argv, struct config *cfg)
{
	struct cli_opt opts[EMIT_NOPTS];
	struct cli_spec spec = { "commit",
		"--workflow W --task T [options] FILE...",
		"Commit FILEs (paths inside the artifacts root) to the task "
		"branch with\nmetadata.json, tags and trailers, exactly as the "
		"daemon does for a TEST_PASSED\nevent, and print the "
		"ARTIFACT_COMMITTED answer (JSON with --json).",
		opts, 0, 1, 1000 };
	struct handler_result res = { 0 };
	struct handler_job *job = NULL;
	struct emit_args ea = { 0 };
	struct handler_ctx ctx;
	struct error err = { 0 };
	char **args = NULL, *json = NULL;
	size_t nargs = 0;
	size_t i;
	int rc;

	for (i = 0; i < EMIT_NOPTS; i++)
		if (!commit_emit_only(emit_opts[i].name))
			opts[spec.nopts++] = emit_opts[i];
	rc = cli_parse(&spec, argc, argv, cfg, emit_opt, &ea, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	if ((rc = emit_build_test_passed(&json, &ea, cfg,
	         (const char *const *)args, nargs, &err)) != 0) {
		rc = cli_fail(&spec, ea.json, CLI_EXIT_USAGE, "USAGE", "%s",
		    err.msg);
		goto out;
	}
	if (app_init(&ctx, cfg, &err) < 0) {
		rc = cli_fail_error(&spec, ea.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	if (handler_prepare(&ctx, &job, cfg->test_stream, json, strlen(json),
	        NULL, &res) == 0) {
		handler_run(&ctx, job, &res);
	}
	rc = emit_print_result(&res, ea.json) == 0 ? 0 : 1;
	/* A failure answers with a failure event; one that produced none
	 * still owes a JSON reader its error object. */
	if (rc != 0 && res.nevents == 0 && ea.json)
		cli_print_json_error("FAILED",
		    res.reason != NULL ? res.reason
		                       : "the commit failed without an answer");
	handler_job_free(job);
	handler_result_dispose(&res);
	app_dispose(&ctx);
out:
	emit_args_dispose(&ea);
	free(json);
	free(args);
	return rc;
}
