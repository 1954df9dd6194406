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
 * without growing the stream.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/endpoint.h"
#include "worker/cli.h"
#include "worker/cmd.h"

/* Entries copied per XRANGE page. */
#define REPLAY_PAGE 100

static const struct cli_opt replay_opts[] = {
	{ "stream", 's', true, "input stream (default: the test stream)" },
	{ "from", 'f', true, "first entry: a stream id or an ISO time" },
	{ "to", 't', true,
	    "last entry: a stream id or an ISO time (default: "
	    "the end)" },
	{ "group", 'g', true,
	    "instead of copying, start group G just before --from" },
	{ "dry-run", 'n', false, "count the entries, change nothing" },
};

struct replay_args {
	const char *stream;
	const char *from;
	const char *to;
	const char *group;
	bool dry_run;
};

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
	return 0;
}

/*
 * Turn a --from/--to value into a stream id for XRANGE: "-", "+", an id
 * ("1700000000000-0" or "1700000000000"), or an ISO time, which becomes
 * its millisecond (XRANGE reads "<ms>" as <ms>-0 as a start and
 * <ms>-<max> as an end). Returns 0 or ERR_INVALID.
 */
static int
replay_point(char *out, size_t n, const char *v)
{
	int64_t ms;
	const char *p;

	if (strcmp(v, "-") == 0 || strcmp(v, "+") == 0) {
		snprintf(out, n, "%s", v);
		return 0;
	}
	if (strchr(v, 'T') != NULL) {
		if (util_parse_iso8601(&ms, v) < 0 || ms < 0)
			return ERR_INVALID;
		snprintf(out, n, "%" PRId64, ms);
		return 0;
	}
	for (p = v; *p != '\0'; p++)
		if ((*p < '0' || *p > '9') && *p != '-')
			return ERR_INVALID;
	if (*v == '\0' || *v == '-' || strlen(v) > 41)
		return ERR_INVALID;
	snprintf(out, n, "%s", v);
	return 0;
}

/* The id just before `from` (groups deliver what comes after their last
 * id). */
static void
replay_before(char *out, size_t n, const char *from)
{
	unsigned long long ms = 0, seq = 0;
	char *end;

	if (strcmp(from, "-") == 0 || from[0] < '0' || from[0] > '9') {
		snprintf(out, n, "0");
		return;
	}
	ms = strtoull(from, &end, 10);
	if (*end == '-')
		seq = strtoull(end + 1, NULL, 10);
	if (seq > 0)
		snprintf(out, n, "%llu-%llu", ms, seq - 1);
	else if (ms > 0)
		snprintf(out, n, "%llu-%llu", ms - 1, 18446744073709551615ULL);
	else
		snprintf(out, n, "0");
}

static int
replay_group(redisContext *c, const struct replay_args *a, const char *from)
{
	char before[64];
	redisReply *r;
	int rc = 1;

	replay_before(before, sizeof(before), from);
	if (a->dry_run) {
		printf("would start group %s of %s after %s\n", a->group,
		    a->stream, before);
		return 0;
	}
	r = redisCommand(c, "XGROUP CREATE %s %s %s MKSTREAM", a->stream,
	    a->group, before);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "BUSYGROUP", 9) == 0) {
		freeReplyObject(r);
		r = redisCommand(c, "XGROUP SETID %s %s %s", a->stream,
		    a->group, before);
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "artifactd replay: group %s: %s\n", a->group,
		    r ? r->str : c->errstr);
		goto out;
	}
	printf("group %s of %s starts after %s: run workers with --group "
	       "%s\n",
	    a->group, a->stream, before, a->group);
	rc = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* Copy one entry (e = [id, [k, v, ...]]) to the end of the stream. */
static int
replay_copy(redisContext *c, const char *stream, const redisReply *e)
{
	const redisReply *kv = e->element[1];
	const char **argv;
	size_t *lens, argc = 0, i;
	redisReply *r;
	int rc = 1;

	argv = xcalloc(kv->elements + 5, sizeof(*argv));
	lens = xcalloc(kv->elements + 5, sizeof(*lens));
	argv[argc] = "XADD";
	lens[argc++] = 4;
	argv[argc] = stream;
	lens[argc] = strlen(stream);
	argc++;
	argv[argc] = "*";
	lens[argc++] = 1;
	for (i = 0; i + 1 < kv->elements; i += 2) {
		if (strcmp(kv->element[i]->str, "replayed_from") == 0)
			continue;
		argv[argc] = kv->element[i]->str;
		lens[argc++] = kv->element[i]->len;
		argv[argc] = kv->element[i + 1]->str;
		lens[argc++] = kv->element[i + 1]->len;
	}
	argv[argc] = "replayed_from";
	lens[argc] = strlen(argv[argc]);
	argc++;
	argv[argc] = e->element[0]->str;
	lens[argc] = e->element[0]->len;
	argc++;
	r = redisCommandArgv(c, (int)argc, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		rc = 0;
	else
		fprintf(stderr, "artifactd replay: XADD failed: %s\n",
		    r && r->str ? r->str : c->errstr);
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
	free(lens);
	return rc;
}

static int
replay_copies(redisContext *c, const struct replay_args *a, const char *from,
    const char *to)
{
	char start[64], end[64];
	redisReply *r, *last = NULL;
	size_t i, copied = 0;
	int rc = 0;

	snprintf(start, sizeof(start), "%s", from);
	/* Fix the end before copying, or we would replay our own copies
	 * forever: "+" becomes the last id now in the stream. */
	if (strcmp(to, "+") == 0) {
		last = redisCommand(c, "XREVRANGE %s + - COUNT 1", a->stream);
		if (last == NULL || last->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "artifactd replay: XREVRANGE failed\n");
			if (last != NULL)
				freeReplyObject(last);
			return 1;
		}
		if (last->elements == 0) {
			freeReplyObject(last);
			printf("replayed 0 entries of %s\n", a->stream);
			return 0;
		}
		snprintf(end, sizeof(end), "%s",
		    last->element[0]->element[0]->str);
		freeReplyObject(last);
	} else {
		snprintf(end, sizeof(end), "%s", to);
	}
	for (;;) {
		r = redisCommand(c, "XRANGE %s %s %s COUNT %d", a->stream,
		    start, end, REPLAY_PAGE);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "artifactd replay: XRANGE failed: %s\n",
			    r && r->str ? r->str : c->errstr);
			if (r != NULL)
				freeReplyObject(r);
			return 1;
		}
		if (r->elements == 0) {
			freeReplyObject(r);
			break;
		}
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			if (a->dry_run)
				copied++;
			else if (replay_copy(c, a->stream, e) == 0)
				copied++;
			else
				rc = 1;
		}
		snprintf(start, sizeof(start), "(%s",
		    r->element[r->elements - 1]->element[0]->str);
		freeReplyObject(r);
	}
	printf("%s %zu entries of %s\n",
	    a->dry_run ? "would replay" : "replayed", copied, a->stream);
	return rc;
}

int
cmd_replay(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "replay",
		"--from ID|TIME [--to ID|TIME] [--stream S] [--group G]",
		"Deliver a range of an input stream again. By default each "
		"entry of the range\nis appended again to the stream (same "
		"event and event_id, plus replayed_from);\nthe workers answer "
		"what was already done with duplicate: true and redo what\n"
		"is missing. With --group G, group G is started just before "
		"--from instead\n(run workers with --group G). Times are ISO "
		"8601, e.g. 2025-11-07T14:30:00Z.",
		replay_opts, sizeof(replay_opts) / sizeof(replay_opts[0]), 0,
		0 };
	struct replay_args a = { 0 };
	struct endpoint ep = { 0 };
	struct error err = { 0 };
	redisContext *c = NULL;
	char **args = NULL, from[64], to[64];
	size_t nargs = 0;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, replay_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	if (a.stream == NULL)
		a.stream = cfg->test_stream;
	if (a.from == NULL) {
		rc = cli_usage_error(&spec, "--from is required");
		goto out;
	}
	if (replay_point(from, sizeof(from), a.from) < 0 ||
	    replay_point(to, sizeof(to), a.to ? a.to : "+") < 0) {
		rc = cli_usage_error(&spec,
		    "--from/--to take a stream id (1700000000000-0) or an "
		    "ISO time");
		goto out;
	}
	if (endpoint_parse(&ep, cfg->redis_url, &err) < 0 ||
	    endpoint_connect(&c, &ep, 5000, &err) < 0) {
		fprintf(stderr, "artifactd replay: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	rc = a.group ? replay_group(c, &a, from)
	             : replay_copies(c, &a, from, to);
out:
	if (c != NULL)
		redisFree(c);
	endpoint_dispose(&ep);
	free(args);
	return rc;
}
