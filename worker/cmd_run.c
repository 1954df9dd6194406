/*
 * cmd_run.c - `artifactd run`: the daemon. Every setting is also a flag
 * (--redis-url, --group, --consumer, --concurrency, --http-addr, ...),
 * applied by the shared CLI parser; this file only opens the store and
 * hands over to the loop.
 */
#include <stdio.h>
#include <stdlib.h>

#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/loop.h"

int
cmd_run(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "run", "[options]",
		"Run the daemon: read TEST_PASSED, RELEASE_TAGGED and "
		"ROLLBACK_REQUESTED events\nfrom the input streams (consumer "
		"group), handle them on --concurrency threads\nand answer on "
		"the output stream and channel. Health and metrics on\n"
		"--http-addr (/healthz, /readyz, /metrics). SIGTERM drains "
		"in-flight events\nfor --drain-timeout-ms, then gives the "
		"rest back; a second signal exits at once.\nEvery setting "
		"(see check-config) is accepted as --<name> VALUE.",
		NULL, 0, 0, 0 };
	struct handler_ctx ctx;
	struct error err = { 0 };
	char **args = NULL;
	size_t nargs = 0;
	int rc;

	loop_catch_signals();
	rc = cli_parse(&spec, argc, argv, cfg, NULL, NULL, &args, &nargs);
	free(args);
	if (rc == 3)
		return 0;
	if (rc != 0)
		return rc;
	app_log_init(cfg);
	if (config_validate(cfg, &err) < 0) {
		fprintf(stderr, "artifactd run: %s\n", err.msg);
		return 2;
	}
	if (app_init(&ctx, cfg, &err) < 0) {
		fprintf(stderr, "artifactd run: %s\n", err.msg);
		return 1;
	}
	rc = loop_run(&ctx, cfg, &err);
	if (rc < 0)
		fprintf(stderr, "artifactd run: %s\n", err.msg);
	app_dispose(&ctx);
	return rc < 0 ? 1 : 0;
}
