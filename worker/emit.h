/*
 * emit.h - build a TEST_PASSED event from command-line flags and files,
 * and print a handler's answer. Shared by `commit` (no bus) and `emit`
 * (through the bus), so both send exactly the same event.
 */
#ifndef WORKER_EMIT_H
#define WORKER_EMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "worker/cli.h"
#include "worker/config.h"
#include "worker/handler.h"

struct emit_args {
	char *workflow;
	char *task;
	char *correlation;
	char *prompt_hash;
	char *agent_version;
	char *llm_version;
	char *metrics; /* JSON object text */
	char *event_id;
	char *event_type;  /* default TEST_PASSED */
	char *timeout;     /* emit: seconds to wait for the answer */
	bool inline_files; /* send contents, not paths */
	bool json;
	bool no_wait;
};

extern const struct cli_opt emit_opts[];
#define EMIT_NOPTS 13

/* cli_opt_cb filling a struct emit_args. */
int emit_opt(const char *name, const char *value, void *arg);

void emit_args_dispose(struct emit_args *ea);

/*
 * The event JSON (*out, caller frees). Paths are made absolute, or their
 * contents inlined (base64) with --inline. Returns 0 or ERR_INVALID.
 */
int emit_build_test_passed(char **out, const struct emit_args *ea,
    const struct config *cfg, const char *const *files, size_t nfiles,
    struct error *err);

/* Print the answer events (text or JSON lines). Returns 0 when the outcome
 * is a success (ACK or SKIP), -1 otherwise. */
int emit_print_result(const struct handler_result *res, bool json);

/* Print one answer event given as JSON text. Returns 0 when it is a
 * success event, -1 for a failure event. */
int emit_print_event(const char *json, bool as_json);

#endif
