/*
 * cmd_config.c - `artifactd check-config` and `artifactd version`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <git2.h>
#include <hiredis/hiredis.h>

#include "worker/cli.h"
#include "worker/cmd.h"

static int
cmd_config_opt(const char *name, const char *value, void *arg)
{
	bool *flags = arg;

	(void)value;
	if (strcmp(name, "json") == 0)
		flags[0] = true;
	else if (strcmp(name, "list") == 0)
		flags[1] = true;
	else if (strcmp(name, "settings-markdown") == 0)
		flags[2] = true;
	return 0;
}

int
cmd_check_config(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "json", 0, false, "print the settings as one JSON object" },
		{ "list", 0, false,
		    "list every setting with its flag and variable" },
		{ "settings-markdown", 0, false,
		    "print the settings table of docs/guide.md" },
	};
	static const struct cli_spec spec = { "check-config", "[options]",
		"Load the settings (defaults, config file, environment, "
		"flags), "
		"check them,\nand print the effective values with secrets "
		"masked. Exits 1 when they are invalid.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct error err = { 0 };
	bool flags[3] = { false, false, false };
	char **args = NULL;
	size_t nargs = 0;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, cmd_config_opt, flags, &args,
	    &nargs);
	free(args);
	if (rc == 3)
		return 0;
	if (rc != 0)
		return rc;
	if (flags[1]) {
		config_describe();
		return 0;
	}
	if (flags[2]) {
		config_print_markdown();
		return 0;
	}
	if (config_validate(cfg, &err) < 0)
		return cli_fail(&spec, flags[0], CLI_EXIT_FAILED,
		    err.code[0] ? err.code : "CONFIG",
		    "invalid configuration: %s", err.msg);
	config_print(cfg, flags[0]);
	if (!flags[0])
		printf("# configuration OK\n");
	return 0;
}

int
cmd_version(int argc, char **argv, struct config *cfg)
{
	int major, minor, rev;

	(void)cfg;
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: artifactd version\n\nPrint the version of "
		       "artifactd and of the libraries it runs on.\n");
		return 0;
	}
	git_libgit2_version(&major, &minor, &rev);
	printf("artifactd %s (libgit2 %d.%d.%d, hiredis %d.%d.%d, %s)\n",
	    ARTIFACTD_VERSION, major, minor, rev, HIREDIS_MAJOR, HIREDIS_MINOR,
	    HIREDIS_PATCH, curl_version());
	return 0;
}
