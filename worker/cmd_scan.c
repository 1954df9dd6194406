/*
 * cmd_scan.c - `artifactd scan [--json] FILE...`: the store's secret
 * scanner on files, for pre-commit hooks, CI and operators checking what
 * the daemon would refuse.
 *
 * The scanner is built exactly as the daemon builds it (built-in rules,
 * the secret_patterns and secret_allow settings), so a clean result here
 * means the daemon will not refuse the file for a secret. Every hit of
 * every file is printed (rule, file, line, fingerprint), never the
 * secret. Exit status: 0 all clean; 1 a secret was found or a file could
 * not be scanned (not clean is never assumed); 2 bad usage, including
 * extra patterns that do not compile.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/scan.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/scan_gate.h"

/* When max_file_bytes is unset: the daemon's own default. */
#define CMD_SCAN_DEFAULT_MAX (64LL * 1024 * 1024)

struct cmd_scan_state {
	bool json;
	cJSON *hits;   /* --json: array of hit objects */
	cJSON *errors; /* --json: array of {file, code, message} */
	size_t nhits;
};

static int
cmd_scan_opt(const char *name, const char *value, void *arg)
{
	struct cmd_scan_state *st = arg;

	(void)value;
	if (strcmp(name, "json") == 0)
		st->json = true;
	return 0;
}

static int
cmd_scan_hit(const struct scan_hit *hit, void *arg)
{
	struct cmd_scan_state *st = arg;
	cJSON *o;

	st->nhits++;
	if (!st->json) {
		printf("%s:%u: %s fingerprint=%s\n", hit->file, hit->line,
		    hit->rule, hit->fingerprint);
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "file", hit->file);
	cJSON_AddNumberToObject(o, "line", hit->line);
	cJSON_AddStringToObject(o, "rule", hit->rule);
	cJSON_AddStringToObject(o, "fingerprint", hit->fingerprint);
	cJSON_AddItemToArray(st->hits, o);
	return 0;
}

static void
cmd_scan_error(struct cmd_scan_state *st, const char *file,
    const struct error *err)
{
	cJSON *o;

	if (!st->json) {
		fprintf(stderr, "artifactd scan: %s\n", err->msg);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "file", file);
	cJSON_AddStringToObject(o, "code", err->code);
	cJSON_AddStringToObject(o, "message", err->msg);
	cJSON_AddItemToArray(st->errors, o);
}

/* Standard input ("-"), bounded like a file. */
static int
cmd_scan_read_stdin(char **out, size_t *len, size_t max, struct error *err)
{
	char chunk[65536];
	struct buf b;
	ssize_t n;
	int rc = 0;

	buf_init(&b, max);
	while ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) > 0)
		if ((rc = buf_append(&b, chunk, (size_t)n)) < 0) {
			error_set(err, rc, "TOO_LARGE",
			    "standard input is larger than %zu bytes", max);
			goto out;
		}
	if (n < 0) {
		rc = error_set(err, ERR_FAIL, "IO",
		    "cannot read standard input");
		goto out;
	}
	*out = buf_detach(&b, len);
out:
	buf_dispose(&b);
	return rc;
}

int
cmd_scan(int argc, char **argv, struct config *cfg)
{
	static const struct cli_opt opts[] = {
		{ "json", 0, false,
		    "print one JSON object: files, hits, errors" },
	};
	static const struct cli_spec spec = { "scan", "[--json] FILE...",
		"Scan FILEs (\"-\" for standard input) for secrets with the "
		"rules the daemon\nuses before every commit, including the "
		"secret_patterns and secret_allow\nsettings. Prints rule, "
		"file, line and fingerprint of every hit, never the\nsecret. "
		"Exits 0 when every file is clean, 1 when a secret was found "
		"or a\nfile could not be scanned, 2 on bad usage.",
		opts, sizeof(opts) / sizeof(opts[0]), 1, 100000 };
	struct cmd_scan_state st = { 0 };
	struct scanner *sc = NULL;
	struct error err = { 0 };
	char **args = NULL, *data, *text;
	size_t nargs = 0, i, len, max, nerrors = 0;
	cJSON *root;
	int rc;

	rc =
	    cli_parse(&spec, argc, argv, cfg, cmd_scan_opt, &st, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	app_log_init(cfg);
	if (scan_gate_scanner_new(&sc, cfg, &err) < 0) {
		rc = cli_fail(&spec, st.json, CLI_EXIT_USAGE, "USAGE", "%s",
		    err.msg);
		goto out;
	}
	max = cfg->max_file_bytes > 0 ? (size_t)cfg->max_file_bytes
	                              : (size_t)CMD_SCAN_DEFAULT_MAX;
	st.hits = cJSON_CreateArray();
	st.errors = cJSON_CreateArray();
	for (i = 0; i < nargs; i++) {
		data = NULL;
		error_clear(&err);
		if (strcmp(args[i], "-") == 0)
			rc = cmd_scan_read_stdin(&data, &len, max, &err);
		else
			rc = util_read_file(&data, &len, args[i], max, &err);
		if (rc == 0)
			rc = scanner_scan_all(sc, args[i], data, len,
			    cmd_scan_hit, &st, &err);
		if (rc < 0 && strcmp(err.code, "SECRET_DETECTED") != 0) {
			cmd_scan_error(&st, args[i], &err);
			nerrors++;
		}
		free(data);
	}
	if (st.json) {
		root = cJSON_CreateObject();
		cJSON_AddNumberToObject(root, "files", (double)nargs);
		cJSON_AddBoolToObject(root, "clean",
		    st.nhits == 0 && nerrors == 0);
		cJSON_AddItemToObject(root, "hits", st.hits);
		cJSON_AddItemToObject(root, "errors", st.errors);
		st.hits = st.errors = NULL;
		text = cJSON_PrintUnformatted(root);
		printf("%s\n", text);
		free(text);
		cJSON_Delete(root);
	} else if (st.nhits > 0) {
		fprintf(stderr,
		    "artifactd scan: %zu secret(s) found in %zu file(s) "
		    "scanned; "
		    "allow a known one with its fingerprint in "
		    "secret_allow\n",
		    st.nhits, nargs);
	}
	rc = st.nhits > 0 || nerrors > 0 ? 1 : 0;
out:
	cJSON_Delete(st.hits);
	cJSON_Delete(st.errors);
	scanner_free(sc);
	free(args);
	return rc;
}
