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

int
cmd_commit(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "commit",
		"--workflow W --task T [options] FILE...",
		"Commit FILEs (paths inside the artifacts root) to the task "
		"branch with\nmetadata.json, tags and trailers, exactly as the "
		"daemon does for a TEST_PASSED\nevent, and print the "
		"ARTIFACT_COMMITTED answer (JSON with --json).",
		emit_opts, EMIT_NOPTS, 1, 1000 };
	struct handler_result res = { 0 };
	struct handler_job *job = NULL;
	struct emit_args ea = { 0 };
	struct handler_ctx ctx;
	struct error err = { 0 };
	char **args = NULL, *json = NULL;
	size_t nargs = 0;
	int rc;

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
		rc = cli_usage_error(&spec, "%s", err.msg);
		goto out;
	}
	if (app_init(&ctx, cfg, &err) < 0) {
		fprintf(stderr, "artifactd commit: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	if (handler_prepare(&ctx, &job, cfg->test_stream, json, strlen(json),
	        NULL, &res) == 0) {
		handler_run(&ctx, job, &res);
	}
	rc = emit_print_result(&res, ea.json) == 0 ? 0 : 1;
	handler_job_free(job);
	handler_result_dispose(&res);
	app_dispose(&ctx);
out:
	emit_args_dispose(&ea);
	free(json);
	free(args);
	return rc;
}
