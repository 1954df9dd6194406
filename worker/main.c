/*
 * main.c - the artifactd binary: global options, settings, subcommands.
 *
 * Settings are layered before the subcommand runs: built-in defaults, the
 * config file (--config or ARTIFACTD_CONFIG), the environment; the
 * subcommand's flags are applied last (they win).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/config.h"

struct main_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct config *cfg);
	const char *summary;
};

static const struct main_cmd main_cmds[] = {
	{ "run", cmd_run, "the daemon: consume events, commit, publish" },
	{ "commit", cmd_commit, "commit files to the store without the bus" },
	{ "publish", cmd_publish, "publish release files without the bus" },
	{ "unpublish", cmd_unpublish,
	    "take a release back from its targets (rollback)" },
	{ "emit", cmd_emit, "send an event and wait for the answer" },
	{ "list", cmd_list, "list committed artifacts" },
	{ "show", cmd_show, "show the artifact of a correlation id" },
	{ "revert", cmd_revert, "restore a tagged tree as a new commit" },
	{ "expire", cmd_expire, "remove task branches older than an age" },
	{ "release", cmd_release,
	    "next version, changelog commit and tag from the commits" },
	{ "bundle", cmd_bundle, "ZIP of a tagged tree with its .sha256" },
	{ "scan", cmd_scan, "scan files for secrets" },
	{ "replay", cmd_replay, "re-deliver a range of a stream" },
	{ "dlq", cmd_dlq, "list, show, redrive or purge dead letters" },
	{ "bridge", cmd_bridge, "append Pub/Sub messages to the streams" },
	{ "verify", cmd_verify,
	    "check that targets serve a release's files byte for byte" },
	{ "verify-provenance", cmd_verify_provenance,
	    "check an artifact's signed provenance" },
	{ "check-config", cmd_check_config,
	    "print the effective settings (secrets masked)" },
	{ "version", cmd_version, "print the version" },
};

static void
main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: artifactd [--config FILE] [--log-format text|json] "
	           "[--log-level L] COMMAND [options]\n\ncommands:\n");
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		fprintf(f, "  %-14s %s\n", main_cmds[i].name,
		    main_cmds[i].summary);
	fprintf(f, "\n'artifactd COMMAND --help' (or 'artifactd help COMMAND') "
	           "describes each command.\n");
}

static const struct main_cmd *
main_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (strcmp(name, main_cmds[i].name) == 0)
			return &main_cmds[i];
	return NULL;
}

/* `artifactd help [COMMAND]`: the command's own --help. */
static int
main_help(int argc, char **argv)
{
	const struct main_cmd *c;
	struct config cfg;
	char help[] = "--help", *hargv[3];
	int rc;

	if (argc < 3) {
		main_usage(stdout);
		return 0;
	}
	if ((c = main_find(argv[2])) == NULL) {
		fprintf(stderr, "artifactd: unknown command '%s'\n", argv[2]);
		main_usage(stderr);
		return 2;
	}
	hargv[0] = argv[2];
	hargv[1] = help;
	hargv[2] = NULL;
	config_defaults(&cfg);
	rc = c->fn(2, hargv, &cfg);
	config_dispose(&cfg);
	return rc;
}

/* Whether a command after the global options was given --json: a
 * failure before the command runs is then reported as JSON too. */
static bool
main_json_requested(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

/* Find --config FILE / --config=FILE anywhere: the file must be read
 * before any other flag is applied on top of it. */
static const char *
main_config_path(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

/*
 * Raise the soft descriptor limit to the hard one. The common soft default
 * of 1024 is what a flood of connections or a wide push exhausts first;
 * the hard limit is what the administrator allows (LimitNOFILE= in the
 * unit). The event loop uses epoll, so large descriptor numbers cost
 * nothing. An unlimited hard limit is capped at the kernel's usual
 * fs.nr_open (2^20), above which setrlimit fails.
 */
static void
main_raise_nofile(bool say)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	want = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("nofile_limit_not_raised want=%llu",
			    (unsigned long long)want);
			return;
		}
	}
	if (say)
		log_info("nofile_limit soft=%llu hard=%llu",
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
}

int
main(int argc, char **argv)
{
	struct config cfg;
	struct error err = { 0 };
	const char *path;
	int i, rc, lvl;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		main_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0)
		return main_help(argc, argv);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return cmd_version(1, argv + 1, NULL);
	config_defaults(&cfg);
	path = main_config_path(argc, argv);
	if (config_load(&cfg, path, &err) < 0) {
		fprintf(stderr, "artifactd: %s\n", err.msg);
		if (main_json_requested(argc, argv))
			cli_print_json_error(err.code[0] ? err.code : "CONFIG",
			    err.msg);
		config_dispose(&cfg);
		return 1;
	}
	/* Global options before the command name. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0)
			continue;
		if (strncmp(argv[i], "--", 2) == 0 && i + 1 < argc &&
		    strchr(argv[i], '=') == NULL) {
			if (config_set(&cfg, argv[i] + 2, argv[i + 1], &err) <
			    0) {
				fprintf(stderr, "artifactd: %s\n",
				    err.msg[0] ? err.msg : "unknown option");
				config_dispose(&cfg);
				return 2;
			}
			cli_wipe_secret(argv[i] + 2, argv[i + 1]);
			i++;
			continue;
		}
		fprintf(stderr, "artifactd: unknown option %s\n", argv[i]);
		config_dispose(&cfg);
		return 2;
	}
	if (i >= argc) {
		main_usage(stderr);
		config_dispose(&cfg);
		return 2;
	}
	for (size_t c = 0; c < sizeof(main_cmds) / sizeof(main_cmds[0]); c++) {
		if (strcmp(argv[i], main_cmds[c].name) != 0)
			continue;
		lvl = log_level_parse(cfg.log_level);
		log_init(lvl < 0 ? LOG_LEVEL_INFO : (enum log_level)lvl,
		    strcmp(cfg.log_format, "json") == 0);
		main_raise_nofile(main_cmds[c].fn == cmd_run ||
		                  main_cmds[c].fn == cmd_bridge);
		config_apply_tls(&cfg); /* rediss:// for every command */
		rc = main_cmds[c].fn(argc - i, argv + i, &cfg);
		config_dispose(&cfg);
		return rc;
	}
	fprintf(stderr, "artifactd: unknown command '%s'\n", argv[i]);
	main_usage(stderr);
	config_dispose(&cfg);
	return 2;
}
