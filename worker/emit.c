/*
 * emit.c - TEST_PASSED events from the command line, and their answers
 * printed for people (text) or programs (--json).
 */
/* realpath(3) is XSI, beyond _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700

#include "worker/emit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/envelope.h"

const struct cli_opt emit_opts[EMIT_NOPTS] = {
	{ "workflow", 'w', true, "workflow id (required)" },
	{ "task", 't', true, "task id (required)" },
	{ "correlation", 'c', true, "correlation id" },
	{ "prompt-hash", 0, true, "hash of the prompt (tag prompt_<hash>)" },
	{ "agent-version", 0, true, "agent version for metadata.json" },
	{ "llm-version", 0, true, "LLM version for metadata.json" },
	{ "metrics", 0, true, "test metrics, a JSON object" },
	{ "event-id", 0, true, "event id (default: random)" },
	{ "event-type", 0, true, "event type (default TEST_PASSED)" },
	{ "timeout", 0, true, "emit: seconds to wait for the answer (30)" },
	{ "inline", 0, false, "send file contents in the event, not paths" },
	{ "json", 0, false, "print the answer as JSON" },
	{ "no-wait", 0, false, "emit: do not wait for the answer" },
};

int
emit_opt(const char *name, const char *value, void *arg)
{
	struct emit_args *ea = arg;
	char **slot = NULL;

	if (strcmp(name, "workflow") == 0)
		slot = &ea->workflow;
	else if (strcmp(name, "task") == 0)
		slot = &ea->task;
	else if (strcmp(name, "correlation") == 0)
		slot = &ea->correlation;
	else if (strcmp(name, "prompt-hash") == 0)
		slot = &ea->prompt_hash;
	else if (strcmp(name, "agent-version") == 0)
		slot = &ea->agent_version;
	else if (strcmp(name, "llm-version") == 0)
		slot = &ea->llm_version;
	else if (strcmp(name, "metrics") == 0)
		slot = &ea->metrics;
	else if (strcmp(name, "event-id") == 0)
		slot = &ea->event_id;
	else if (strcmp(name, "event-type") == 0)
		slot = &ea->event_type;
	else if (strcmp(name, "timeout") == 0)
		slot = &ea->timeout;
	else if (strcmp(name, "inline") == 0)
		ea->inline_files = true;
	else if (strcmp(name, "json") == 0)
		ea->json = true;
	else if (strcmp(name, "no-wait") == 0)
		ea->no_wait = true;
	if (slot != NULL) {
		free(*slot);
		*slot = xstrdup(value);
	}
	return 0;
}

void
emit_args_dispose(struct emit_args *ea)
{
	free(ea->workflow);
	free(ea->task);
	free(ea->correlation);
	free(ea->prompt_hash);
	free(ea->agent_version);
	free(ea->llm_version);
	free(ea->metrics);
	free(ea->event_id);
	free(ea->event_type);
	free(ea->timeout);
	memset(ea, 0, sizeof(*ea));
}

static void
emit_add(cJSON *o, const char *key, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, key, v);
}

int
emit_build_test_passed(char **out, const struct emit_args *ea,
    const struct config *cfg, const char *const *files, size_t nfiles,
    struct error *err)
{
	struct envelope *env = NULL;
	cJSON *arts = NULL, *list = NULL, *metrics = NULL;
	char ts[32];
	size_t i;
	int rc = ERR_INVALID;

	if (ea->workflow == NULL || ea->task == NULL)
		return error_set(err, rc, "USAGE",
		    "--workflow and --task are required");
	if (ea->metrics != NULL &&
	    ((metrics = cJSON_Parse(ea->metrics)) == NULL ||
	        !cJSON_IsObject(metrics))) {
		cJSON_Delete(metrics);
		return error_set(err, rc, "USAGE",
		    "--metrics must be a JSON object");
	}
	env = envelope_new(ea->event_type ? ea->event_type : "TEST_PASSED");
	if (ea->event_id != NULL)
		envelope_set_event_id(env, ea->event_id);
	env->workflow_id = xstrdup(ea->workflow);
	env->task_id = xstrdup(ea->task);
	env->correlation_id = xstrdup(ea->correlation);
	free(env->source);
	env->source = xstrdup("artifactd-cli");
	util_now_iso8601(ts, sizeof(ts));
	arts = cJSON_AddObjectToObject(env->data, "artifacts");
	list = cJSON_AddArrayToObject(env->data, "files");
	for (i = 0; i < nfiles; i++) {
		const char *base = strrchr(files[i], '/');
		char *real, *data = NULL, *b64;
		size_t len;
		cJSON *f;

		base = base ? base + 1 : files[i];
		if (ea->inline_files) {
			if (util_read_file(&data, &len, files[i],
			        (size_t)cfg->max_file_bytes, err) < 0)
				goto out;
			b64 = util_base64_encode(data, len);
			free(data);
			f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "name", base);
			cJSON_AddStringToObject(f, "content", b64);
			cJSON_AddStringToObject(f, "encoding", "base64");
			cJSON_AddItemToArray(list, f);
			free(b64);
			continue;
		}
		if ((real = realpath(files[i], NULL)) == NULL) {
			error_set(err, rc, "FILE_NOT_FOUND",
			    "cannot resolve %s", files[i]);
			goto out;
		}
		cJSON_AddItemToArray(list, cJSON_CreateString(real));
		free(real);
	}
	if (cJSON_GetArraySize(arts) == 0)
		cJSON_DeleteItemFromObject(env->data, "artifacts");
	if (metrics != NULL) {
		cJSON_AddItemToObject(env->data, "metrics", metrics);
		metrics = NULL;
	}
	{
		cJSON *d = env->data;

		emit_add(d, "prompt_hash", ea->prompt_hash);
		emit_add(d, "agent_version", ea->agent_version);
		emit_add(d, "llm_version", ea->llm_version);
	}
	*out = envelope_to_json(env);
	rc = 0;
out:
	cJSON_Delete(metrics);
	envelope_free(env);
	return rc;
}

int
emit_print_event(const char *json, bool as_json)
{
	cJSON *root = cJSON_Parse(json), *data, *e, *item;
	const char *type;
	int rc = 0;

	if (as_json) {
		printf("%s\n", json);
	}
	if (root == NULL)
		return -1;
	item = cJSON_GetObjectItemCaseSensitive(root, "event_type");
	type = cJSON_IsString(item) ? item->valuestring : "?";
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	e = cJSON_GetObjectItemCaseSensitive(data, "error");
	if (e != NULL || strstr(type, "FAILED") != NULL)
		rc = -1;
	if (!as_json) {
		char *pretty = cJSON_Print(data);

		printf("%s\n%s\n", type, pretty ? pretty : "{}");
		free(pretty);
	}
	cJSON_Delete(root);
	return rc;
}

int
emit_print_result(const struct handler_result *res, bool json)
{
	size_t i;
	int rc = 0;

	if (res->action == HANDLER_SKIP) {
		fprintf(stderr, "skipped: %s\n",
		    res->reason ? res->reason : "");
		return 0;
	}
	for (i = 0; i < res->nevents; i++)
		if (emit_print_event(res->events[i].json, json) < 0)
			rc = -1;
	if (res->action != HANDLER_ACK)
		rc = -1;
	return rc;
}
