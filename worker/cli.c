/*
 * cli.c - option parsing shared by the subcommands, and the one way a
 * command reports a failure (text on stderr, JSON on stdout with --json).
 */
#include "worker/cli.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void
cli_help(const struct cli_spec *spec)
{
	size_t i;

	printf("usage: artifactd %s %s\n\n%s\n", spec->command, spec->synopsis,
	    spec->summary);
	if (spec->nopts > 0)
		printf("\noptions:\n");
	for (i = 0; i < spec->nopts; i++) {
		const struct cli_opt *o = &spec->opts[i];
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s",
			    o->short_name, o->name, o->has_arg ? " VALUE" : "");
		else
			snprintf(left, sizeof(left), "    --%s%s", o->name,
			    o->has_arg ? " VALUE" : "");
		printf("  %-30s %s\n", left, o->help);
	}
	printf("  %-30s %s\n", "-h, --help", "show this help");
	printf("\nEvery setting is also a flag (--redis-url, --repo, ...; see "
	       "`artifactd check-config`),\nand comes from the config file "
	       "(--config) or the environment too.\n");
}

int
cli_usage_error(const struct cli_spec *spec, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "artifactd %s: ", spec->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'artifactd %s --help'.\n", spec->command);
	return 2;
}

void
cli_print_json_error(const char *code, const char *message)
{
	cJSON *root = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddItemToObject(root, "error", e);
	text = cJSON_PrintUnformatted(root);
	printf("%s\n", text != NULL ? text : "{}");
	fflush(stdout);
	free(text);
	cJSON_Delete(root);
}

static int
cli_vfail(const struct cli_spec *spec, bool json, int status, const char *code,
    const char *fmt, va_list ap)
{
	char msg[ERROR_MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "artifactd %s: %s\n", spec->command, msg);
	if (status == CLI_EXIT_USAGE)
		fprintf(stderr, "Try 'artifactd %s --help'.\n", spec->command);
	if (json)
		cli_print_json_error(code, msg);
	return status;
}

int
cli_fail(const struct cli_spec *spec, bool json, int status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	status = cli_vfail(spec, json, status, code, fmt, ap);
	va_end(ap);
	return status;
}

int
cli_fail_error(const struct cli_spec *spec, bool json, int status,
    const struct error *err)
{
	return cli_fail(spec, json, status,
	    err->code[0] != '\0' ? err->code : error_default_code(err->rc),
	    "%s", err->msg);
}

bool
cli_json_requested(const struct cli_spec *spec, int argc, char **argv)
{
	size_t k;
	int i;

	for (k = 0; k < spec->nopts; k++)
		if (strcmp(spec->opts[k].name, "json") == 0)
			break;
	if (k == spec->nopts)
		return false;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0)
			return true;
	}
	return false;
}

/* A usage error found by the parser. */
static int cli_parse_error(const struct cli_spec *spec, bool json,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
cli_parse_error(const struct cli_spec *spec, bool json, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cli_vfail(spec, json, CLI_EXIT_USAGE, "USAGE", fmt, ap);
	va_end(ap);
	return rc;
}

void
cli_wipe_secret(const char *name, char *value)
{
	if (value != NULL && config_is_secret(name))
		memset(value, '*', strlen(value));
}

static const struct cli_opt *
cli_find(const struct cli_spec *spec, const char *name, size_t len, char sh)
{
	size_t i;

	for (i = 0; i < spec->nopts; i++) {
		const struct cli_opt *o = &spec->opts[i];

		if (sh != 0 ? o->short_name == sh
		            : (strlen(o->name) == len &&
		                  strncmp(o->name, name, len) == 0))
			return o;
	}
	return NULL;
}

int
cli_parse(const struct cli_spec *spec, int argc, char **argv,
    struct config *cfg, cli_opt_cb cb, void *arg, char ***args, size_t *nargs)
{
	char **pos = xcalloc((size_t)argc + 1, sizeof(*pos));
	size_t npos = 0;
	bool only_pos = false, json = cli_json_requested(spec, argc, argv);
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *value = NULL;
		const struct cli_opt *o;
		struct error err = { 0 };
		char sh = 0, *setting;
		size_t len;

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			cli_help(spec);
			rc = 3;
			goto out;
		}
		/* The global --config: main read the file already. */
		if (strcmp(a, "--config") == 0 ||
		    strncmp(a, "--config=", 9) == 0) {
			if (a[8] == '\0' && ++i >= argc) {
				rc = cli_parse_error(spec, json,
				    "option --config needs a value");
				goto out;
			}
			continue;
		}
		if (a[1] == '-') {
			name = a + 2;
			eq = strchr(name, '=');
			len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			if (eq != NULL)
				value = eq + 1;
		} else {
			name = a + 1;
			sh = a[1];
			len = 1;
			if (a[2] != '\0')
				value = a + 2;
		}
		o = cli_find(spec, name, len, sh);
		if (o != NULL) {
			if (o->has_arg && value == NULL) {
				if (i + 1 >= argc) {
					rc = cli_parse_error(spec, json,
					    "option --%s needs a value",
					    o->name);
					goto out;
				}
				value = argv[++i];
			} else if (!o->has_arg && value != NULL) {
				rc = cli_parse_error(spec, json,
				    "option --%s takes no value", o->name);
				goto out;
			}
			if (cb == NULL || cb(o->name, value, arg) != 0) {
				rc = cli_parse_error(spec, json,
				    "bad value for --%s: '%s'", o->name,
				    value != NULL ? value : "");
				goto out;
			}
			continue;
		}
		if (sh != 0) {
			rc = cli_parse_error(spec, json, "unknown option -%c",
			    sh);
			goto out;
		}
		/* Not ours: maybe a setting. */
		if (value == NULL) {
			if (i + 1 >= argc) {
				rc = cli_parse_error(spec, json,
				    "unknown option --%.*s", (int)len, name);
				goto out;
			}
			value = argv[++i];
		}
		setting = xstrndup(name, len);
		switch (config_set(cfg, setting, value, &err)) {
		case 0:
			/* value points into an argv string, which the
			 * process may write: wipe it there. */
			cli_wipe_secret(setting, (char *)(uintptr_t)value);
			break;
		case ERR_NOTFOUND:
			rc = cli_parse_error(spec, json, "unknown option --%s",
			    setting);
			free(setting);
			goto out;
		default:
			rc = cli_parse_error(spec, json, "%s", err.msg);
			free(setting);
			goto out;
		}
		free(setting);
	}
	if (npos < spec->min_args || npos > spec->max_args) {
		rc = cli_parse_error(spec, json, "expected %s", spec->synopsis);
		goto out;
	}
	*args = pos;
	*nargs = npos;
	pos = NULL;
out:
	free(pos);
	return rc;
}
