/*
 * cmd_config.c - `artifactd check-config` and `artifactd version`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "events/version.h"
#include "publishers/aws_creds.h"
#include "publishers/publisher.h"
#include "publishers/release.h"
#include "publishers/version.h"
#include "store/version.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/handler.h"

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
	else if (strcmp(name, "aws-credentials") == 0)
		flags[3] = true;
	return 0;
}

/*
 * --aws-credentials: resolve the credentials of every s3 and
 * codeartifact target now (requests to STS, a credential_process, the
 * container endpoint or IMDS included) and print which step gave them
 * and the access key id - never the secret key or the token. Returns
 * the number of targets that got none.
 */
static size_t
cmd_aws_credentials(const struct config *cfg)
{
	struct release_config rc;
	size_t i, failed = 0;

	handler_release_config(&rc, cfg);
	for (i = 0; i < rc.ntargets; i++) {
		const struct release_target *t = &rc.targets[i];
		struct publish_target pt = { t->name, t->type,
			(const char *const *)t->keys,
			(const char *const *)t->values, t->n, rc.env };
		struct error err = { 0 };
		char line[512];

		if (strcmp(t->type, "s3") != 0 &&
		    strcmp(t->type, "codeartifact") != 0)
			continue;
		if (aws_credentials_describe(&pt, line, sizeof(line), &err) <
		    0) {
			printf("aws-credentials target=%s NONE: %s\n", t->name,
			    err.msg);
			failed++;
		} else {
			printf("aws-credentials target=%s %s\n", t->name, line);
		}
	}
	release_config_dispose(&rc);
	return failed;
}

/* One target of a package: the credential it will use, by source. */
static bool
cmd_credential_line(const struct release_config *rc, const char *package,
    const char *name, bool print)
{
	struct publish_target pt = { name, NULL, NULL, NULL, 0, rc->env };
	struct error err = { 0 };
	char src[2048];
	size_t i;

	for (i = 0; i < rc->ntargets; i++)
		if (strcmp(rc->targets[i].name, name) == 0)
			break;
	if (i == rc->ntargets)
		return true; /* config_validate names unknown targets */
	pt.type = rc->targets[i].type;
	pt.keys = (const char *const *)rc->targets[i].keys;
	pt.values = (const char *const *)rc->targets[i].values;
	pt.n = rc->targets[i].n;
	if (publish_target_credential(&pt, src, sizeof(src), &err) < 0) {
		if (print)
			printf("credential package=%s target=%s NONE: %s\n",
			    package, name, err.msg);
		else
			fprintf(stderr,
			    "credential package=%s target=%s "
			    "NONE: %s\n",
			    package, name, err.msg);
		return false;
	}
	if (print)
		printf("credential package=%s target=%s %s (value ***)\n",
		    package, name, src);
	return true;
}

/*
 * Per package and target, which credential each target will use (its
 * source, never its value), as the publishers would resolve it - the
 * environment defaults included. Returns the number of targets that
 * would have none (a release to them fails with AUTH).
 */
static size_t
cmd_credentials_report(const struct config *cfg, bool print)
{
	struct release_config rc;
	size_t i, j, missing = 0;

	handler_release_config(&rc, cfg);
	if (rc.npackages == 0) /* every target serves any tag */
		for (i = 0; i < rc.ntargets; i++)
			missing += !cmd_credential_line(&rc, "*",
			    rc.targets[i].name, print);
	for (i = 0; i < rc.npackages; i++)
		for (j = 0; j < rc.packages[i].ntargets; j++)
			missing +=
			    !cmd_credential_line(&rc, rc.packages[i].name,
			        rc.packages[i].targets[j], print);
	release_config_dispose(&rc);
	return missing;
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
		{ "aws-credentials", 0, false,
		    "resolve each AWS target's credentials now and print "
		    "their source and access key id" },
	};
	static const struct cli_spec spec = { "check-config", "[options]",
		"Load the settings (defaults, config file, environment, "
		"flags), "
		"check them,\nand print the effective values with secrets "
		"masked. Exits 1 when they are invalid.",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct error err = { 0 };
	bool flags[4] = { false, false, false, false };
	char **args = NULL;
	size_t nargs = 0, missing;
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
	if (flags[3])
		return cmd_aws_credentials(cfg) > 0 ? CLI_EXIT_FAILED : 0;
	/* JSON: one object on stdout, the settings or the error. */
	if (flags[0] && (missing = cmd_credentials_report(cfg, false)) > 0)
		goto no_credential;
	config_print(cfg, flags[0]);
	if (!flags[0]) {
		cmd_signing_print(cfg);
		if ((missing = cmd_credentials_report(cfg, true)) > 0)
			goto no_credential;
	}
	if (!flags[0])
		printf("# configuration OK\n");
	return 0;
no_credential:
	return cli_fail(&spec, flags[0], CLI_EXIT_FAILED, "AUTH",
	    "invalid configuration: %zu publishing target%s would have no "
	    "credential",
	    missing, missing == 1 ? "" : "s");
}

/* One library a module runs on, as the module reports it. */
struct cmd_version_lib {
	const char *name;
	const char *version;
};

static int
cmd_version_opt(const char *name, const char *value, void *arg)
{
	(void)value;
	if (strcmp(name, "json") == 0)
		*(bool *)arg = true;
	return 0;
}

int
cmd_version(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "json", 0, false,
		    "print one JSON object: version and libraries" },
	};
	static const struct cli_spec spec = { "version", "[--json]",
		"Print the version of artifactd and of the libraries it runs "
		"on, as each\nmodule reports its own (git, Redis, HTTP).",
		opts, sizeof(opts) / sizeof(opts[0]), 0, 0 };
	struct cmd_version_lib libs[3];
	bool json = false;
	char **args = NULL;
	size_t i, nargs = 0;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, cmd_version_opt, &json, &args,
	    &nargs);
	free(args);
	if (rc != 0)
		return rc == 3 ? 0 : rc;
	/* Each module names its own library (git, Redis, HTTP): none of
	 * their headers is needed here. */
	libs[0].version = store_version(&libs[0].name);
	libs[1].version = events_version(&libs[1].name);
	libs[2].version = publishers_version(&libs[2].name);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON *l = cJSON_AddObjectToObject(o, "libraries");
		char *s;

		cJSON_AddStringToObject(o, "version", ARTIFACTD_VERSION);
		for (i = 0; i < 3; i++)
			cJSON_AddStringToObject(l, libs[i].name,
			    libs[i].version);
		s = cJSON_PrintUnformatted(o);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
		return 0;
	}
	printf("artifactd %s (", ARTIFACTD_VERSION);
	for (i = 0; i < 3; i++)
		printf("%s%s %s", i ? ", " : "", libs[i].name, libs[i].version);
	printf(")\n");
	return 0;
}
