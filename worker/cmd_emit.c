/*
 * cmd_emit.c - `artifactd emit`: send a TEST_PASSED event the way a
 * producer does (XADD <test stream> * event <json> ...), then wait for
 * the answer whose causation_id is our event id on the output stream.
 *
 * Exit status: 0 for a success answer, 1 for a failure answer or when
 * Redis cannot be reached, 2 for bad usage, 3 when no answer came in
 * time (CLI_EXIT_TIMEOUT, as examples/orchestrator.py and the guide's
 * table of exit codes say).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/admin.h"
#include "events/envelope.h"
#include "events/fields.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/emit.h"

static const struct cli_spec emit_spec = { "emit",
	"--workflow W --task T [options] FILE...",
	"Send a TEST_PASSED event for FILEs to the test stream, as a "
	"producer would\n(XADD test_results * event <json>), wait for "
	"artifactd's answer on the output\nstream and print it. Paths "
	"are sent absolute and must be inside the daemon's\nartifacts "
	"root; --inline sends the contents instead (base64).",
	emit_opts, EMIT_NOPTS, 1, 1000 };

/* Look through entries read from the output stream for our answer.
 * Returns the answer's JSON (caller frees) or NULL. */
static char *
cmd_emit_find(const struct admin_page *page, const char *event_id)
{
	size_t i;

	for (i = 0; i < page->n; i++) {
		struct envelope *env = NULL;
		const char *v;
		size_t len = 0;
		char *found = NULL;

		v = bus_msg_field(page->entries[i], FIELD_EVENT, &len);
		if (v == NULL)
			continue;
		if (envelope_parse(&env, v, len, NULL) == 0 &&
		    env->causation_id != NULL &&
		    strcmp(env->causation_id, event_id) == 0)
			found = xstrndup(v, len);
		envelope_free(env);
		if (found != NULL)
			return found;
	}
	return NULL;
}

/* Wait until deadline for the answer to event_id after cursor. Returns
 * 0 with *answer set, ERR_NOTFOUND when the time ran out, or a negative
 * code with err set. */
static int
cmd_emit_wait(char **answer, struct admin *adm, const char *stream,
    char cursor[ADMIN_ID_MAX], const char *event_id, int64_t deadline,
    struct error *err)
{
	struct admin_page page = { 0 };
	char *found = NULL;
	int rc;

	while (util_mono_ms() < deadline) {
		if ((rc = admin_read(&page, adm, stream, cursor, deadline,
		         err)) < 0)
			return rc;
		found = cmd_emit_find(&page, event_id);
		admin_page_dispose(&page);
		if (found != NULL) {
			*answer = found;
			return 0;
		}
	}
	return ERR_NOTFOUND;
}

int
cmd_emit(int argc, char **argv, struct config *cfg)
{
	struct emit_args ea = { 0 };
	struct error err = { 0 };
	struct envelope *env = NULL;
	struct admin *adm = NULL;
	struct bus_out_event ev;
	char **args = NULL, *json = NULL, *answer = NULL;
	char last[ADMIN_ID_MAX] = "0-0", sent[ADMIN_ID_MAX];
	long long timeout_s = 30;
	size_t nargs = 0;
	int64_t deadline;
	int rc, wrc;

	rc = cli_parse(&emit_spec, argc, argv, cfg, emit_opt, &ea, &args,
	    &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (ea.timeout != NULL &&
	    util_parse_uint(&timeout_s, ea.timeout, 86400) < 0) {
		rc = cli_fail(&emit_spec, ea.json, CLI_EXIT_USAGE, "USAGE",
		    "--timeout must be seconds");
		goto out;
	}
	if (emit_build_test_passed(&json, &ea, cfg, (const char *const *)args,
	        nargs, &err) < 0) {
		rc = cli_fail_error(&emit_spec, ea.json, CLI_EXIT_USAGE, &err);
		goto out;
	}
	envelope_parse(&env, json, strlen(json), NULL);
	if (admin_connect(&adm, cfg->redis_url, 5000, &err) < 0) {
		rc = cli_fail_error(&emit_spec, ea.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	/* Remember where the output stream ends before we send. */
	if (admin_last_id(last, adm, cfg->output_stream, &err) < 0 &&
	    err.rc != ERR_NOTFOUND) {
		rc = cli_fail_error(&emit_spec, ea.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	ev = (struct bus_out_event){ json, env->event_id, env->event_type,
		env->correlation_id ? env->correlation_id : "", NULL };
	if (admin_send(sent, adm, cfg->test_stream, &ev, &err) < 0) {
		rc = cli_fail_error(&emit_spec, ea.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	fprintf(stderr, "sent event_id=%s entry=%s stream=%s\n", env->event_id,
	    sent, cfg->test_stream);
	if (ea.no_wait) {
		rc = 0;
		goto out;
	}
	deadline = util_mono_ms() + timeout_s * 1000;
	wrc = cmd_emit_wait(&answer, adm, cfg->output_stream, last,
	    env->event_id, deadline, &err);
	if (wrc == ERR_NOTFOUND) {
		error_set(&err, ERR_TRANSIENT, "TIMEOUT",
		    "no answer within %llds (is `artifactd run` running?)",
		    timeout_s);
		rc =
		    cli_fail_error(&emit_spec, ea.json, CLI_EXIT_TIMEOUT, &err);
		goto out;
	}
	if (wrc < 0) {
		rc = cli_fail_error(&emit_spec, ea.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	rc = emit_print_event(answer, ea.json) == 0 ? 0 : 1;
out:
	admin_free(adm);
	envelope_free(env);
	emit_args_dispose(&ea);
	free(answer);
	free(json);
	free(args);
	return rc;
}
