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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/admin.h"
#include "events/bus.h"
#include "events/fields.h"
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

static const struct cli_spec dlq_spec = { "dlq",
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

/* The event id of a dead letter: its plain field, else from the JSON. */
static char *
dlq_event_id(const struct bus_msg *e)
{
	const char *v = bus_msg_field(e, FIELD_EVENT_ID, NULL);
	size_t len = 0;
	cJSON *root, *item;
	char *id = NULL;

	if (v != NULL)
		return xstrdup(v);
	if ((v = bus_msg_field(e, FIELD_EVENT, &len)) == NULL)
		return xstrdup("-");
	root = cJSON_ParseWithLength(v, len);
	item = cJSON_GetObjectItemCaseSensitive(root, FIELD_EVENT_ID);
	if (cJSON_IsString(item))
		id = xstrdup(item->valuestring);
	cJSON_Delete(root);
	return id ? id : xstrdup("-");
}

static const char *
dlq_str(const struct bus_msg *e, const char *name)
{
	const char *v = bus_msg_field(e, name, NULL);

	return v ? v : "-";
}

static cJSON *
dlq_entry_json(const struct bus_msg *e, bool full)
{
	cJSON *o = cJSON_CreateObject();
	char *eid = dlq_event_id(e);
	size_t i;

	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "event_id", eid);
	free(eid);
	for (i = 0; i < e->nfields; i++) {
		const char *k = e->fields[i].name;

		if (!full && !admin_is_dead_field(k))
			continue;
		if (strcmp(k, FIELD_EVENT_ID) == 0)
			continue;
		cJSON_AddStringToObject(o, k, e->fields[i].value);
	}
	return o;
}

static void
dlq_print_json(cJSON *o)
{
	char *s = cJSON_Print(o);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
}

static int
dlq_list(struct admin *adm, const char *dead, const struct dlq_args *a)
{
	struct admin_page page = { 0 };
	struct error err = { 0 };
	cJSON *arr = NULL;
	size_t i;

	if (admin_range(&page, adm, dead, "-", "+",
	        (size_t)(a->count > 0 ? a->count : DLQ_LIST_DEFAULT), &err) < 0)
		return cli_fail_error(&dlq_spec, a->json, CLI_EXIT_FAILED,
		    &err);
	if (a->json)
		arr = cJSON_CreateArray();
	else
		printf("%-20s %-36s %-10s %s\n", "ID", "EVENT_ID", "DELIVERIES",
		    "REASON");
	for (i = 0; i < page.n; i++) {
		const struct bus_msg *e = page.entries[i];

		if (a->json) {
			cJSON_AddItemToArray(arr, dlq_entry_json(e, false));
		} else {
			char *eid = dlq_event_id(e);

			printf("%-20s %-36s %-10s %s\n", e->id, eid,
			    dlq_str(e, FIELD_DEAD_DELIVERIES),
			    dlq_str(e, FIELD_DEAD_REASON));
			free(eid);
		}
	}
	if (a->json)
		dlq_print_json(arr);
	admin_page_dispose(&page);
	return 0;
}

static int
dlq_show(struct admin *adm, const char *dead, const char *id,
    const struct dlq_args *a)
{
	struct bus_msg *e = NULL;
	struct error err = { 0 };
	size_t i;

	if (admin_get(&e, adm, dead, id, &err) < 0) {
		if (err.rc == ERR_NOTFOUND)
			fprintf(stderr,
			    "artifactd dlq: no dead letter %s in %s\n", id,
			    dead);
		else
			fprintf(stderr, "artifactd dlq: %s\n", err.msg);
		return 1;
	}
	if (a->json) {
		dlq_print_json(dlq_entry_json(e, true));
	} else {
		printf("id: %s\n", e->id);
		for (i = 0; i < e->nfields; i++)
			printf("%s: %s\n", e->fields[i].name,
			    e->fields[i].value);
	}
	bus_msg_free(e);
	return 0;
}

/* Redrive or purge one dead letter. Returns 0 or 1. With out (JSON), the
 * outcome is added to it instead of printed. */
static int
dlq_one(struct admin *adm, const char *dead, const char *input,
    const struct bus_msg *e, bool redrive, cJSON *out)
{
	struct error err = { 0 };
	char id[ADMIN_ID_MAX];
	cJSON *o = out ? cJSON_CreateObject() : NULL;
	int rc = 0;

	if (o != NULL)
		cJSON_AddStringToObject(o, "id", e->id);
	if (!redrive) {
		rc = admin_delete(adm, dead, e->id, &err) < 0 ? 1 : 0;
		if (rc != 0 && o == NULL)
			fprintf(stderr,
			    "artifactd dlq: purge of %s failed: %s\n", e->id,
			    err.msg);
	} else if (admin_redrive(id, adm, dead, e, input, &err) < 0) {
		if (o == NULL)
			fprintf(stderr,
			    "artifactd dlq: redrive of %s failed: %s\n", e->id,
			    err.msg);
		rc = 1;
	} else if (o == NULL) {
		printf("redriven %s -> %s %s\n", e->id,
		    admin_redrive_target(e, input), id);
	} else {
		cJSON_AddStringToObject(o, "stream",
		    admin_redrive_target(e, input));
		cJSON_AddStringToObject(o, "new_id", id);
	}
	if (o != NULL) {
		cJSON_AddStringToObject(o, "result",
		    rc != 0   ? "failed"
		    : redrive ? "redriven"
		              : "purged");
		if (rc != 0)
			cJSON_AddStringToObject(o, "error", err.msg);
		cJSON_AddItemToArray(out, o);
	}
	return rc;
}

/* Every dead letter, page by page; entries we delete do not shift the
 * pages since we continue after the last id. */
static int
dlq_apply_all(struct admin *adm, const char *dead, const char *input,
    bool redrive, size_t *done, cJSON *out)
{
	struct admin_page page = { 0 };
	struct error err = { 0 };
	char start[ADMIN_ID_MAX + 1] = "-";
	size_t i;
	int rc = 0;

	for (;;) {
		if (admin_range(&page, adm, dead, start, "+", DLQ_PAGE, &err) <
		    0) {
			fprintf(stderr, "artifactd dlq: %s\n", err.msg);
			return 1;
		}
		if (page.n == 0)
			break;
		for (i = 0; i < page.n; i++) {
			if (dlq_one(adm, dead, input, page.entries[i], redrive,
			        out) != 0)
				rc = 1;
			else
				(*done)++;
		}
		snprintf(start, sizeof(start), "(%s",
		    page.entries[page.n - 1]->id);
		admin_page_dispose(&page);
	}
	admin_page_dispose(&page);
	return rc;
}

static int
dlq_apply(struct admin *adm, const char *dead, const char *input,
    const struct dlq_args *a, char **ids, size_t nids, bool redrive)
{
	struct error err = { 0 };
	cJSON *out = a->json ? cJSON_CreateArray() : NULL, *o;
	size_t i, done = 0;
	int rc = 0;

	if (a->all) {
		rc = dlq_apply_all(adm, dead, input, redrive, &done, out);
	} else {
		for (i = 0; i < nids; i++) {
			struct bus_msg *e = NULL;

			if (admin_get(&e, adm, dead, ids[i], &err) < 0) {
				fprintf(stderr,
				    "artifactd dlq: no dead letter %s\n",
				    ids[i]);
				if (out != NULL) {
					o = cJSON_CreateObject();
					cJSON_AddStringToObject(o, "id",
					    ids[i]);
					cJSON_AddStringToObject(o, "result",
					    "not_found");
					cJSON_AddItemToArray(out, o);
				}
				rc = 1;
			} else if (dlq_one(adm, dead, input, e, redrive, out) !=
			           0) {
				rc = 1;
			} else {
				done++;
			}
			bus_msg_free(e);
		}
	}
	if (out == NULL) {
		printf("%s %zu dead letter(s) of %s\n",
		    redrive ? "redrove" : "purged", done, dead);
		return rc;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "dead", dead);
	cJSON_AddStringToObject(o, "action", redrive ? "redrive" : "purge");
	cJSON_AddNumberToObject(o, "done", (double)done);
	cJSON_AddItemToObject(o, "entries", out);
	dlq_print_json(o);
	return rc;
}

int
cmd_dlq(int argc, char **argv, struct config *cfg)
{
	struct dlq_args a = { 0 };
	struct error err = { 0 };
	struct admin *adm = NULL;
	char **args = NULL, *dead = NULL;
	size_t nargs = 0;
	const char *verb;
	int rc;

	rc = cli_parse(&dlq_spec, argc, argv, cfg, dlq_opt, &a, &args, &nargs);
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
		rc = cli_fail(&dlq_spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "unknown action \"%s\"", verb);
		goto out;
	}
	if (strcmp(verb, "show") == 0 && nargs != 2) {
		rc = cli_fail(&dlq_spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "show takes one ID");
		goto out;
	}
	if ((strcmp(verb, "redrive") == 0 || strcmp(verb, "purge") == 0) &&
	    nargs == 1 && !a.all) {
		rc = cli_fail(&dlq_spec, a.json, CLI_EXIT_USAGE, "USAGE",
		    "%s needs IDs or --all", verb);
		goto out;
	}
	if (admin_connect(&adm, cfg->redis_url, 5000, &err) < 0) {
		rc = cli_fail_error(&dlq_spec, a.json, CLI_EXIT_FAILED, &err);
		goto out;
	}
	dead = bus_dead_stream(a.stream);
	if (strcmp(verb, "list") == 0)
		rc = dlq_list(adm, dead, &a);
	else if (strcmp(verb, "show") == 0)
		rc = dlq_show(adm, dead, args[1], &a);
	else
		rc = dlq_apply(adm, dead, a.stream, &a, args + 1, nargs - 1,
		    strcmp(verb, "redrive") == 0);
out:
	admin_free(adm);
	free(dead);
	free(args);
	return rc;
}
