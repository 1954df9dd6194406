/*
 * cli.h - the small option parser every subcommand shares.
 *
 * Options are GNU style (--name value, --name=value, -x value). Each
 * subcommand declares its own options; any other long option that names a
 * setting ("--redis-url", "--repo", ...) is applied to the config with
 * config_set(), so every setting is a flag on every command. Positional
 * arguments are collected in order.
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

/*
 * Parse argv[1..] (argv[0] is the subcommand). *args receives the
 * positional arguments (borrowed from argv; the array is owned by the
 * caller, free() it). Returns 0; 2 after printing a usage error; 3 when
 * --help was printed (the command should exit 0).
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

#endif
