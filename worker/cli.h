/*
 * cli.h - the small option parser every subcommand shares.
 *
 * Options are GNU style (--name value, --name=value, -x value). Each
 * subcommand declares its own options; any other long option that names a
 * setting ("--redis-url", "--repo", ...) is applied to the config with
 * config_set(), so every setting is a flag on every command; the global
 * --config FILE (read by main before any command runs) is accepted after
 * the command name too. Positional arguments are collected in order.
 *
 * Exit codes are the same for every command (docs/guide.md): 0 success,
 * 1 the operation failed, 2 bad usage, 3 a wait timed out (emit). With
 * --json, a failure prints {"error": {"code", "message"}} on stdout as
 * well as the text on stderr (cli_fail), so a program reading stdout
 * always gets one JSON document.
 */
#ifndef WORKER_CLI_H
#define WORKER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/config.h"

/* An option of one subcommand. */
struct cli_opt {
	const char *name; /* long name without dashes */
	char short_name;  /* 0 when none */
	bool has_arg;
	const char *help; /* one line for --help */
};

/* Called for each option of the subcommand's own table; value is NULL
 * for flags. Returns 0, or non-zero to stop with a usage error. */
typedef int (*cli_opt_cb)(const char *name, const char *value, void *arg);

struct cli_spec {
	const char *command;  /* "emit" */
	const char *synopsis; /* "[options] FILE..." */
	const char *summary;  /* one paragraph */
	const struct cli_opt *opts;
	size_t nopts;
	size_t min_args, max_args; /* positional bounds */
};

/* The exit codes of every command. */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_TIMEOUT = 3
};

/*
 * Parse argv[1..] (argv[0] is the subcommand). *args receives the
 * positional arguments (borrowed from argv; the array is owned by the
 * caller, free() it). Returns 0; 2 after printing a usage error (as JSON
 * on stdout too when the command has --json and it was given); 3 when
 * --help was printed (the command should exit 0). A callback that
 * returns non-zero has printed nothing: cli_parse reports the bad value.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv,
    struct config *cfg, cli_opt_cb cb, void *arg, char ***args, size_t *nargs);

/* Print the help of a subcommand to stdout (also used for the man page). */
void cli_help(const struct cli_spec *spec);

/*
 * When the setting called name holds a secret (--redis-url, --remote-url),
 * overwrite value - the bytes of an argv string, after it was copied into
 * the config - with '*', so that /proc/PID/cmdline and ps no longer show
 * it. Anyone reading cmdline before this ran saw it: the environment or
 * NAME_FILE is the way to pass secrets (docs/guide.md).
 */
void cli_wipe_secret(const char *name, char *value);

/* Print "artifactd <command>: <message>" to stderr and return 2. */
int cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Report a failure of a command and return status: "artifactd <command>:
 * <message>" on stderr (with a pointer to --help when status is
 * CLI_EXIT_USAGE), and with json also {"error":{"code":code,"message":
 * <message>}} on stdout. code is the one-word code (err.code, "USAGE").
 */
int cli_fail(const struct cli_spec *spec, bool json, int status,
    const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* cli_fail with an error record: its code (or a default from its rc) and
 * its message. */
int cli_fail_error(const struct cli_spec *spec, bool json, int status,
    const struct error *err);

/* True when the spec has a --json option and argv (before "--") gives
 * it: usage errors found before the callbacks ran are then JSON too. */
bool cli_json_requested(const struct cli_spec *spec, int argc, char **argv);

/* Print the JSON error object {"error":{"code":...,"message":...}} on
 * stdout. */
void cli_print_json_error(const char *code, const char *message);

#endif
