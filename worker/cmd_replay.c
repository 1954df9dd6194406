/*
 * cmd_replay.c - `artifactd replay`: deliver a range of an input stream
 * again.
 *
 * Default mode copies: XRANGE the range and XADD each entry again to the
 * same stream with the same fields (same `event` JSON, same event_id)
 * plus replayed_from=<original id>. The copies go through the running
 * workers' group like any new event, and the handlers' idempotency turns
 * what was already done into `duplicate: true` answers while re-creating
 * what is missing (commits lost with a worker's disk, say). Nothing about
 * the group is touched, so live traffic is not disturbed.
 *
 * With --group G the range is not copied: group G is created (or moved
 * with XGROUP SETID) to just before --from, and workers started with
 * --group G read from there to the end of the stream (--to does not
 * apply). That is for a second role, or for rebuilding after an outage
 * without growing the stream. Only the --stream named is touched: the
 * workers create G at $ on their other input streams (events/bus.c), so a
 * replay of test results never hands old RELEASE_TAGGED events to G;
 * releases are replayed only with --stream naming the release stream.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/admin.h"
#include "events/bus.h"
#include "events/envelope.h"
#include "events/fields.h"
#include "worker/cli.h"
#include "worker/cmd.h"

/* Entries copied per XRANGE page. */
#define REPLAY_PAGE 100

static const struct cli_opt replay_opts[] = {
	{ "stream", 's', true, "input stream (default: the test stream)" },
	{ "from", 'f', true,
	    "first entry: a stream id, epoch ms, a date or an ISO time" },
	{ "to", 't', true,
	    "last entry: a stream id, epoch ms, a date or an ISO time "
	    "(default: the end)" },
	{ "group", 'g', true,
	    "instead of copying, start group G just before --from" },
	{ "dry-run", 'n', false, "count the entries, change nothing" },
	{ "json", 0, false, "print the result (or the error) as JSON" },
};

struct replay_args {
	const char *stream;
	const char *from;
	const char *to;
	const char *group;
	bool dry_run;
	bool json;
};

static const struct cli_spec replay_spec = { "replay",
	"--from ID|TIME [--to ID|TIME] [--stream S] [--group G] "
	"[--json]",
	"Deliver a range of an input stream again. By default each "
	"entry of the range\nis appended again to the stream (same "
	"event and event_id, plus replayed_from);\nthe workers answer "
	"what was already done with duplicate: true and redo what\n"
	"is missing. With --group G, group G is started just before "
	"--from instead\n(run workers with --group G; on their other "
	"streams G starts at new entries:\nreleases are replayed only "
	"with --stream naming the release stream). --from and --to "
	"take a stream id\n(1700000000000-0), epoch milliseconds, an "
	"ISO 8601 date (2026-12-03, midnight\nUTC) or a date and time "
	"with Z or an offset (2026-12-03T14:30:00Z).",
	replay_opts, sizeof(replay_opts) / sizeof(replay_opts[0]), 0, 0 };

static int
replay_opt(const char *name, const char *value, void *arg)
{
	struct replay_args *a = arg;

	if (strcmp(name, "stream") == 0)
		a->stream = value;
	else if (strcmp(name, "from") == 0)
		a->from = value;
	else if (strcmp(name, "to") == 0)
		a->to = value;
	else if (strcmp(name, "group") == 0)
		a->group = value;
	else if (strcmp(name, "dry-run") == 0)
		a->dry_run = true;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

/* Print o as one JSON line and free it. */
static void
replay_print(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

static int
replay_group(struct admin *adm, const struct replay_args *a, const char *from)
{
	struct error err = { 0 };
	char before[ADMIN_ID_MAX];
	cJSON *o;

	admin_id_before(before, from);
	if (!a->dry_run &&
	    admin_group_start(adm, a->stream, a->group, before, &err) < 0) {
		return cli_fail(&replay_spec, a->json, CLI_EXIT_FAILED,
		    err.code, "group %s: %s", a->group, err.msg);
	}
	if (!a->json) {
		if (a->dry_run)
			printf("would start group %s of %s after %s\n",
			    a->group, a->stream, before);
		else
			printf("group %s of %s starts after %s: run workers "
			       "with --group %s\n",
			    a->group, a->stream, before, a->group);
		return 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "stream", a->stream);
	cJSON_AddStringToObject(o, "group", a->group);
	cJSON_AddStringToObject(o, "after", before);
	cJSON_AddBoolToObject(o, "dry_run", a->dry_run);
	replay_print(o);
	return 0;
}

/* The event id of an entry, as the workers will see it: the envelope's
 * (or the one it derives from the bytes), else the plain field. */
static void
replay_event_id(char *out, size_t n, const struct bus_msg *m)
{
	struct envelope *env = NULL;
	size_t len = 0;
	const char *plain = bus_msg_field(m, FIELD_EVENT_ID, &len);
	const char *json = bus_msg_field(m, FIELD_EVENT, &len);

	if (json != NULL && envelope_parse(&env, json, len, NULL) == 0)
		snprintf(out, n, "%s",
		    plain != NULL && env->event_id_derived ? plain
		                                           : env->event_id);
	else
		snprintf(out, n, "%s", plain != NULL ? plain : "-");
	envelope_free(env);
}

/* Report one entry: a line of text, or an object of the JSON list. */
static void
replay_report(cJSON *list, const struct replay_args *a, const char *id,
    const char *new_id, const char *event_id, const struct error *err)
{
	cJSON *o;

	if (list == NULL) {
		if (err != NULL)
			printf("failed %s event_id=%s: %s\n", id, event_id,
			    err->msg);
		else if (a->dry_run)
			printf("would replay %s event_id=%s\n", id, event_id);
		else
			printf("replayed %s -> %s event_id=%s\n", id, new_id,
			    event_id);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	if (new_id != NULL)
		cJSON_AddStringToObject(o, "new_id", new_id);
	cJSON_AddStringToObject(o, "event_id", event_id);
	cJSON_AddStringToObject(o, "status",
	    err != NULL  ? "failed"
	    : a->dry_run ? "would_replay"
	                 : "replayed");
	if (err != NULL)
		cJSON_AddStringToObject(o, "message", err->msg);
	cJSON_AddItemToArray(list, o);
}

/* Copy (or count) the entries of [start, end]; *copied counts them, and
 * each is reported (replay_report; list NULL: as text). */
static int
replay_range(struct admin *adm, const struct replay_args *a, const char *from,
    const char *end, size_t *copied, cJSON *list, struct error *err)
{
	struct admin_page page = { 0 };
	char start[ADMIN_ID_MAX + 1], new_id[ADMIN_ID_MAX];
	char eid[ENVELOPE_FIELD_MAX + 1];
	size_t i;
	int rc = 0;

	snprintf(start, sizeof(start), "%s", from);
	for (;;) {
		if (admin_range(&page, adm, a->stream, start, end, REPLAY_PAGE,
		        err) < 0)
			return -1;
		if (page.n == 0)
			break;
		for (i = 0; i < page.n; i++) {
			const struct bus_msg *m = page.entries[i];
			struct error cerr = { 0 };

			replay_event_id(eid, sizeof(eid), m);
			if (a->dry_run || admin_replay(new_id, adm,
			                      page.entries[i], &cerr) == 0) {
				(*copied)++;
				replay_report(list, a, m->id,
				    a->dry_run ? NULL : new_id, eid, NULL);
			} else {
				fprintf(stderr, "artifactd replay: %s\n",
				    cerr.msg);
				replay_report(list, a, m->id, NULL, eid, &cerr);
				*err = cerr;
				rc = -1;
			}
		}
		snprintf(start, sizeof(start), "(%s",
		    page.entries[page.n - 1]->id);
		admin_page_dispose(&page);
	}
	admin_page_dispose(&page);
	return rc;
}

static int
replay_copies(struct admin *adm, const struct replay_args *a, const char *from,
    const char *to)
{
	struct error err = { 0 };
	char end[ADMIN_ID_MAX];
	size_t copied = 0;
	int rc = 0;
	cJSON *o, *list = a->json ? cJSON_CreateArray() : NULL;

	/* Fix the end before copying, or we would replay our own copies
	 * forever: "+" becomes the last id now in the stream. */
	snprintf(end, sizeof(end), "%s", to);
	if (strcmp(to, "+") == 0 &&
	    (rc = admin_last_id(end, adm, a->stream, &err)) < 0 &&
	    rc != ERR_NOTFOUND) {
		cJSON_Delete(list);
		return cli_fail_error(&replay_spec, a->json, CLI_EXIT_FAILED,
		    &err);
	}
	if (rc == 0 &&
	    replay_range(adm, a, from, end, &copied, list, &err) < 0) {
		/* A page that could not be read stops the replay; an entry
		 * that could not be copied was reported and is skipped. */
		if (err.rc != ERR_INVALID) {
			cJSON_Delete(list);
			return cli_fail_error(&replay_spec, a->json,
			    CLI_EXIT_FAILED, &err);
		}
		rc = -1;
	}
	if (!a->json) {
		printf("%s %zu entries of %s\n",
		    a->dry_run ? "would replay" : "replayed", copied,
		    a->stream);
		return rc < 0 && rc != ERR_NOTFOUND ? 1 : 0;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "stream", a->stream);
	cJSON_AddStringToObject(o, "from", from);
	cJSON_AddStringToObject(o, "to", rc == ERR_NOTFOUND ? to : end);
	cJSON_AddNumberToObject(o, "replayed", (double)copied);
	cJSON_AddBoolToObject(o, "dry_run", a->dry_run);
	cJSON_AddItemToObject(o, "entries", list);
	if (rc < 0 && rc != ERR_NOTFOUND) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "code", err.code);
		cJSON_AddStringToObject(e, "message", err.msg);
	}
	replay_print(o);
	return rc < 0 && rc != ERR_NOTFOUND ? 1 : 0;
}

int
cmd_replay(int argc, char **argv, struct config *cfg)
{
	struct replay_args a = { 0 };
	struct error err = { 0 };
	struct admin *adm = NULL;
	char **args = NULL, from[ADMIN_ID_MAX], to[ADMIN_ID_MAX];
	size_t nargs = 0;
	int rc;

	rc = cli_parse(&replay_spec, argc, argv, cfg, replay_opt, &a, &args,
	    &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (a.stream == NULL)
		a.stream = cfg->test_stream;
	if (a.from == NULL) {
		rc = cli_fail(&replay_spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "--from is required");
		goto out;
	}
	if (admin_point(from, a.from, false, &err) < 0 ||
	    admin_point(to, a.to ? a.to : "+", true, &err) < 0) {
		rc = cli_fail_error(&replay_spec, a.json, CLI_EXIT_USAGE, &err);
		goto out;
	}
	if (admin_connect(&adm, cfg->redis_url, 5000, &err) < 0) {
		rc =
		    cli_fail_error(&replay_spec, a.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	rc = a.group ? replay_group(adm, &a, from)
	             : replay_copies(adm, &a, from, to);
out:
	admin_free(adm);
	free(args);
	return rc;
}
