/*
 * cmd_dlq.c - `artifactd dlq list|show|redrive|purge`: the dead letters
 * of an input stream (<stream>:dead).
 *
 * A dead letter holds the original entry's fields plus why it died
 * (reason, orig_stream, orig_id, group, consumer, deliveries, failed_at).
 * Redrive appends the original fields back to the input stream (with
 * redriven_from=<dead letter id>, same event_id, so the handlers'
 * idempotency applies) and deletes the dead letter, both in one
 * MULTI/EXEC.
 */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/bus.h"
#include "events/endpoint.h"
#include "worker/cli.h"
#include "worker/cmd.h"

/* Dead letters shown by `list` unless --count says otherwise. */
#define DLQ_LIST_DEFAULT 100
/* Page size when walking the whole dead letter stream. */
#define DLQ_PAGE 100

static const struct cli_opt dlq_opts[] = {
	{ "stream", 's', true, "input stream (default: the test stream)" },
	{ "count", 'n', true, "list at most N dead letters (default 100)" },
	{ "all", 'a', false, "redrive/purge every dead letter" },
	{ "json", 0, false, "print JSON" },
};

struct dlq_args {
	const char *stream;
	long long count;
	bool all;
	bool json;
};

/* The fields the bus adds when dead-lettering; not part of the event. */
static const char *const dlq_meta[] = { "reason", "orig_stream", "orig_id",
	"group", "consumer", "deliveries", "failed_at" };

static int
dlq_opt(const char *name, const char *value, void *arg)
{
	struct dlq_args *a = arg;

	if (strcmp(name, "stream") == 0)
		a->stream = value;
	else if (strcmp(name, "count") == 0)
		return util_parse_uint(&a->count, value, 1000000) < 0 ? 1 : 0;
	else if (strcmp(name, "all") == 0)
		a->all = true;
	else if (strcmp(name, "json") == 0)
		a->json = true;
	return 0;
}

static bool
dlq_is_meta(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(dlq_meta) / sizeof(dlq_meta[0]); i++)
		if (strcmp(name, dlq_meta[i]) == 0)
			return true;
	return false;
}

/* A field of an entry ([id, [k, v, ...]]), or NULL. */
static const redisReply *
dlq_field(const redisReply *entry, const char *name)
{
	const redisReply *kv = entry->element[1];
	size_t i;

	if (kv->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (i = 0; i + 1 < kv->elements; i += 2)
		if (strcmp(kv->element[i]->str, name) == 0)
			return kv->element[i + 1];
	return NULL;
}

static bool
dlq_entry_ok(const redisReply *e)
{
	return e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
	       e->element[0]->type == REDIS_REPLY_STRING &&
	       e->element[1]->type == REDIS_REPLY_ARRAY;
}

/* The event id of a dead letter: its plain field, else from the JSON. */
static char *
dlq_event_id(const redisReply *e)
{
	const redisReply *v = dlq_field(e, "event_id");
	cJSON *root;
	char *id = NULL;

	if (v != NULL)
		return xstrndup(v->str, v->len);
	if ((v = dlq_field(e, "event")) == NULL)
		return xstrdup("-");
	root = cJSON_ParseWithLength(v->str, v->len);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "event_id")))
		id = xstrdup(cJSON_GetObjectItemCaseSensitive(root, "event_id")
		                 ->valuestring);
	cJSON_Delete(root);
	return id ? id : xstrdup("-");
}

static const char *
dlq_str(const redisReply *e, const char *name)
{
	const redisReply *v = dlq_field(e, name);

	return v ? v->str : "-";
}

static cJSON *
dlq_entry_json(const redisReply *e, bool full)
{
	cJSON *o = cJSON_CreateObject();
	const redisReply *kv = e->element[1];
	char *eid = dlq_event_id(e);
	size_t i;

	cJSON_AddStringToObject(o, "id", e->element[0]->str);
	cJSON_AddStringToObject(o, "event_id", eid);
	free(eid);
	for (i = 0; i + 1 < kv->elements; i += 2) {
		const char *k = kv->element[i]->str;

		if (!full && !dlq_is_meta(k))
			continue;
		if (strcmp(k, "event_id") == 0)
			continue;
		cJSON_AddStringToObject(o, k, kv->element[i + 1]->str);
	}
	return o;
}

static int
dlq_list(redisContext *c, const char *dead, const struct dlq_args *a)
{
	redisReply *r;
	cJSON *arr = NULL;
	size_t i;
	char count[24];

	snprintf(count, sizeof(count), "%lld",
	    a->count > 0 ? a->count : DLQ_LIST_DEFAULT);
	r = redisCommand(c, "XRANGE %s - + COUNT %s", dead, count);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "artifactd dlq: XRANGE %s failed: %s\n", dead,
		    r && r->str ? r->str : c->errstr);
		if (r != NULL)
			freeReplyObject(r);
		return 1;
	}
	if (a->json)
		arr = cJSON_CreateArray();
	else
		printf("%-20s %-36s %-10s %s\n", "ID", "EVENT_ID", "DELIVERIES",
		    "REASON");
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (!dlq_entry_ok(e))
			continue;
		if (a->json) {
			cJSON_AddItemToArray(arr, dlq_entry_json(e, false));
		} else {
			char *eid = dlq_event_id(e);

			printf("%-20s %-36s %-10s %s\n", e->element[0]->str,
			    eid, dlq_str(e, "deliveries"),
			    dlq_str(e, "reason"));
			free(eid);
		}
	}
	if (a->json) {
		char *s = cJSON_Print(arr);

		printf("%s\n", s);
		free(s);
		cJSON_Delete(arr);
	}
	freeReplyObject(r);
	return 0;
}

static int
dlq_show(redisContext *c, const char *dead, const char *id,
    const struct dlq_args *a)
{
	redisReply *r = redisCommand(c, "XRANGE %s %s %s", dead, id, id);
	const redisReply *e, *kv;
	size_t i;
	int rc = 1;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    !dlq_entry_ok(r->element[0])) {
		fprintf(stderr, "artifactd dlq: no dead letter %s in %s\n", id,
		    dead);
		goto out;
	}
	e = r->element[0];
	if (a->json) {
		cJSON *o = dlq_entry_json(e, true);
		char *s = cJSON_Print(o);

		printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else {
		kv = e->element[1];
		printf("id: %s\n", e->element[0]->str);
		for (i = 0; i + 1 < kv->elements; i += 2)
			printf("%s: %s\n", kv->element[i]->str,
			    kv->element[i + 1]->str);
	}
	rc = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* Redrive or purge one dead letter (entry e). Returns 0 or 1. */
static int
dlq_one(redisContext *c, const char *dead, const char *input,
    const redisReply *e, bool redrive)
{
	const redisReply *kv = e->element[1];
	const char *id = e->element[0]->str;
	const redisReply *orig = dlq_field(e, "orig_stream");
	const char **argv;
	size_t *lens, argc = 0, i;
	redisReply *r;
	int rc = 1;

	if (!redrive) {
		r = redisCommand(c, "XDEL %s %s", dead, id);
		rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : 1;
		if (r != NULL)
			freeReplyObject(r);
		return rc;
	}
	argv = xcalloc(kv->elements + 6, sizeof(*argv));
	lens = xcalloc(kv->elements + 6, sizeof(*lens));
	argv[argc] = "XADD";
	lens[argc++] = 4;
	argv[argc] = orig ? orig->str : input;
	lens[argc] = strlen(argv[argc]);
	argc++;
	argv[argc] = "*";
	lens[argc++] = 1;
	for (i = 0; i + 1 < kv->elements; i += 2) {
		if (dlq_is_meta(kv->element[i]->str))
			continue;
		argv[argc] = kv->element[i]->str;
		lens[argc++] = kv->element[i]->len;
		argv[argc] = kv->element[i + 1]->str;
		lens[argc++] = kv->element[i + 1]->len;
	}
	argv[argc] = "redriven_from";
	lens[argc] = strlen(argv[argc]);
	argc++;
	argv[argc] = id;
	lens[argc] = strlen(id);
	argc++;
	/* MULTI/EXEC: the copy and the delete happen together or not. */
	redisAppendCommand(c, "MULTI");
	redisAppendCommandArgv(c, (int)argc, argv, lens);
	redisAppendCommand(c, "XDEL %s %s", dead, id);
	redisAppendCommand(c, "EXEC");
	for (i = 0; i < 4; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			r = NULL;
			break;
		}
		if (i == 3 && r->type == REDIS_REPLY_ARRAY &&
		    r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING) {
			printf("redriven %s -> %s %s\n", id, argv[1],
			    r->element[0]->str);
			rc = 0;
		}
		freeReplyObject(r);
	}
	if (rc != 0)
		fprintf(stderr, "artifactd dlq: redrive of %s failed\n", id);
	free(argv);
	free(lens);
	return rc;
}

static int
dlq_apply(redisContext *c, const char *dead, const char *input,
    const struct dlq_args *a, char **ids, size_t nids, bool redrive)
{
	redisReply *r;
	char start[64] = "-";
	size_t i, done = 0;
	int rc = 0;

	if (a->all) {
		/* Walk the stream page by page; entries we delete do not
		 * shift the pages since we continue after the last id. */
		for (;;) {
			r = redisCommand(c, "XRANGE %s %s + COUNT %d", dead,
			    start, DLQ_PAGE);
			if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
				if (r != NULL)
					freeReplyObject(r);
				return 1;
			}
			if (r->elements == 0) {
				freeReplyObject(r);
				break;
			}
			for (i = 0; i < r->elements; i++) {
				if (!dlq_entry_ok(r->element[i]))
					continue;
				if (dlq_one(c, dead, input, r->element[i],
				        redrive) != 0)
					rc = 1;
				else
					done++;
			}
			snprintf(start, sizeof(start), "(%s",
			    r->element[r->elements - 1]->element[0]->str);
			freeReplyObject(r);
		}
	} else {
		for (i = 0; i < nids; i++) {
			r = redisCommand(c, "XRANGE %s %s %s", dead, ids[i],
			    ids[i]);
			if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
			    r->elements != 1 || !dlq_entry_ok(r->element[0])) {
				fprintf(stderr,
				    "artifactd dlq: no dead letter %s\n",
				    ids[i]);
				rc = 1;
			} else if (dlq_one(c, dead, input, r->element[0],
			               redrive) != 0) {
				rc = 1;
			} else {
				done++;
			}
			if (r != NULL)
				freeReplyObject(r);
		}
	}
	printf("%s %zu dead letter(s) of %s\n", redrive ? "redrove" : "purged",
	    done, dead);
	return rc;
}

int
cmd_dlq(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "dlq",
		"list|show ID|redrive ID...|purge ID... [--stream S] [--all]",
		"Manage the dead letters of an input stream "
		"(<stream>:dead).\n"
		"  list            the dead letters with their reason\n"
		"  show ID         every field of one dead letter\n"
		"  redrive ID...   append the original event back to its "
		"stream (same event_id,\n                  so what was "
		"already done is answered as a duplicate) and\n"
		"                  delete the dead letter; --all for every "
		"one\n"
		"  purge ID...     delete dead letters; --all for every one",
		dlq_opts, sizeof(dlq_opts) / sizeof(dlq_opts[0]), 1, 100000 };
	struct dlq_args a = { 0 };
	struct endpoint ep = { 0 };
	struct error err = { 0 };
	redisContext *c = NULL;
	char **args = NULL, *dead = NULL;
	size_t nargs = 0;
	const char *verb;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, dlq_opt, &a, &args, &nargs);
	if (rc == 3) {
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	verb = args[0];
	if (a.stream == NULL)
		a.stream = cfg->test_stream;
	if (strcmp(verb, "list") != 0 && strcmp(verb, "show") != 0 &&
	    strcmp(verb, "redrive") != 0 && strcmp(verb, "purge") != 0) {
		rc = cli_usage_error(&spec, "unknown action \"%s\"", verb);
		goto out;
	}
	if (strcmp(verb, "show") == 0 && nargs != 2) {
		rc = cli_usage_error(&spec, "show takes one ID");
		goto out;
	}
	if ((strcmp(verb, "redrive") == 0 || strcmp(verb, "purge") == 0) &&
	    nargs == 1 && !a.all) {
		rc = cli_usage_error(&spec, "%s needs IDs or --all", verb);
		goto out;
	}
	if (endpoint_parse(&ep, cfg->redis_url, &err) < 0 ||
	    endpoint_connect(&c, &ep, 5000, &err) < 0) {
		fprintf(stderr, "artifactd dlq: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	dead = bus_dead_stream(a.stream);
	if (strcmp(verb, "list") == 0)
		rc = dlq_list(c, dead, &a);
	else if (strcmp(verb, "show") == 0)
		rc = dlq_show(c, dead, args[1], &a);
	else
		rc = dlq_apply(c, dead, a.stream, &a, args + 1, nargs - 1,
		    strcmp(verb, "redrive") == 0);
out:
	if (c != NULL)
		redisFree(c);
	endpoint_dispose(&ep);
	free(dead);
	free(args);
	return rc;
}
