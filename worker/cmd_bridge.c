/*
 * cmd_bridge.c - `artifactd bridge`: Pub/Sub -> Streams for producers
 * that only PUBLISH.
 *
 * SUBSCRIBE to the input channels (ARTIFACTD_INPUT_CHANNELS) and append
 * each message to an input stream with a dedupe on its event_id (a Lua
 * SET NX + XADD, see bus_append_once), so several bridges can run side by
 * side and a message is appended once. The stream is chosen per channel
 * ("channel=stream" in the list) or by the event's type: RELEASE_TAGGED
 * goes to the release stream, everything else to the test stream.
 *
 * Health and metrics are served on ARTIFACTD_HTTP_ADDR as by the daemon
 * (/readyz: both connections up).
 *
 * Pub/Sub is at-most-once: what is published while no bridge is
 * subscribed (restart, network cut, a bridge dropped by Redis's output
 * buffer limit) is lost. Run two or more bridges, and prefer producers
 * that XADD to the stream themselves (docs/operations.md).
 */
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "events/bus.h"
#include "worker/app.h"
#include "worker/cli.h"
#include "worker/cmd.h"
#include "worker/status.h"

/* How long an event_id is remembered for the dedupe: a day covers any
 * realistic re-publish of the same event by a retrying producer. */
#define BRIDGE_DEDUPE_TTL_S 86400
/* Messages kept while the command connection is down (Pub/Sub itself
 * keeps nothing); beyond this they are dropped and logged. */
#define BRIDGE_BACKLOG_MAX 10000
/* Retry of the backlog while Redis is away. */
#define BRIDGE_RETRY_MS 500

struct bridge_msg {
	struct bridge_msg *next;
	char *stream;
	char *event_id;
	char *event_type;
	char *payload;
	size_t len;
};

struct bridge {
	const struct config *cfg;
	struct event_base *base;
	struct bus *bus;
	char **channels; /* channel names */
	char **streams;  /* per channel, NULL: by event type */
	size_t nchannels;
	struct bridge_msg *head, *tail;
	size_t backlog;
	unsigned long long appended, duplicates, dropped;
	struct event *retry_ev;
};

static void bridge_flush(struct bridge *b);

static void
bridge_msg_free(struct bridge_msg *m)
{
	free(m->stream);
	free(m->event_id);
	free(m->event_type);
	free(m->payload);
	free(m);
}

struct bridge_call {
	struct bridge *b;
	struct bridge_msg *m;
};

static void
bridge_done(int rc, void *arg)
{
	struct bridge_call *call = arg;
	struct bridge *b = call->b;
	struct bridge_msg *m = call->m;

	free(call);
	if (rc < 0) {
		/* Back to the front of the backlog, tried again soon. */
		m->next = b->head;
		b->head = m;
		if (b->tail == NULL)
			b->tail = m;
		b->backlog++;
		return;
	}
	if (rc == 0) {
		b->appended++;
		log_info("bridge_appended stream=%s event_id=%s", m->stream,
		    m->event_id);
	} else {
		b->duplicates++;
		log_debug("bridge_duplicate stream=%s event_id=%s", m->stream,
		    m->event_id);
	}
	bridge_msg_free(m);
}

static void
bridge_flush(struct bridge *b)
{
	struct bridge_msg *m;

	while ((m = b->head) != NULL) {
		struct bridge_call *call = xcalloc(1, sizeof(*call));

		call->b = b;
		call->m = m;
		if (bus_append_once(b->bus, m->stream, m->event_id,
		        m->event_type, m->payload, m->len, BRIDGE_DEDUPE_TTL_S,
		        bridge_done, call) < 0) {
			free(call);
			return; /* disconnected: the retry timer comes back */
		}
		b->head = m->next;
		if (b->head == NULL)
			b->tail = NULL;
		b->backlog--;
		m->next = NULL;
	}
}

static void
bridge_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bridge_flush(arg);
}

static void
bridge_on_message(const char *channel, const char *payload, size_t len,
    void *arg)
{
	struct bridge *b = arg;
	struct bridge_msg *m;
	const char *stream = NULL;
	cJSON *root;
	const cJSON *v;
	size_t i;

	m = xcalloc(1, sizeof(*m));
	root = cJSON_ParseWithLength(payload, len);
	v = cJSON_GetObjectItemCaseSensitive(root, "event_id");
	if (cJSON_IsString(v) && strlen(v->valuestring) <= 256) {
		m->event_id = xstrdup(v->valuestring);
	} else {
		/* The same derivation as the envelope's: a re-published
		 * identical message dedupes too. */
		char hex[UTIL_SHA256_HEX];

		util_sha256_hex(hex, payload, len);
		m->event_id = xasprintf("sha256-%.32s", hex);
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "event_type");
	if (cJSON_IsString(v) && strlen(v->valuestring) <= 256)
		m->event_type = xstrdup(v->valuestring);
	for (i = 0; i < b->nchannels; i++)
		if (strcmp(b->channels[i], channel) == 0)
			stream = b->streams[i];
	if (stream == NULL)
		stream = m->event_type != NULL &&
		                 strcmp(m->event_type, "RELEASE_TAGGED") == 0
		             ? b->cfg->release_stream
		             : b->cfg->test_stream;
	m->stream = xstrdup(stream);
	m->payload = xmalloc(len + 1);
	memcpy(m->payload, payload, len);
	m->payload[len] = '\0';
	m->len = len;
	cJSON_Delete(root);
	if (b->backlog >= BRIDGE_BACKLOG_MAX) {
		b->dropped++;
		log_warnx("bridge_dropped channel=%s event_id=%s "
		          "reason=\"Redis unreachable, backlog full\"",
		    channel, m->event_id);
		bridge_msg_free(m);
		return;
	}
	if (b->tail != NULL)
		b->tail->next = m;
	else
		b->head = m;
	b->tail = m;
	b->backlog++;
	bridge_flush(b);
}

static bool
bridge_ready(void *arg)
{
	struct bridge *b = arg;

	return bus_ready(b->bus);
}

/* The bridge's own counters, for /metrics. */
static int
bridge_metrics(struct buf *out, void *arg)
{
	struct bridge *b = arg;
	const struct bus_stats *st = bus_stats(b->bus);

	if (buf_printf(out,
	        "# HELP artifactd_bridge_appended_total Pub/Sub messages "
	        "appended to a stream\n"
	        "# TYPE artifactd_bridge_appended_total counter\n"
	        "artifactd_bridge_appended_total %llu\n"
	        "# HELP artifactd_bridge_duplicates_total Messages another "
	        "bridge (or a re-publish) had appended already\n"
	        "# TYPE artifactd_bridge_duplicates_total counter\n"
	        "artifactd_bridge_duplicates_total %llu\n"
	        "# HELP artifactd_bridge_dropped_total Messages dropped while "
	        "Redis was unreachable and the backlog was full\n"
	        "# TYPE artifactd_bridge_dropped_total counter\n"
	        "artifactd_bridge_dropped_total %llu\n"
	        "# HELP artifactd_bridge_backlog Messages waiting for Redis\n"
	        "# TYPE artifactd_bridge_backlog gauge\n"
	        "artifactd_bridge_backlog %zu\n"
	        "# HELP artifactd_redis_connected 1 when the connection is "
	        "up\n# TYPE artifactd_redis_connected gauge\n"
	        "artifactd_redis_connected{conn=\"cmd\"} %d\n"
	        "artifactd_redis_connected{conn=\"pubsub\"} %d\n",
	        b->appended, b->duplicates, b->dropped, b->backlog,
	        st->connected[BUS_CONN_CMD] ? 1 : 0,
	        st->connected[BUS_CONN_PUBSUB] ? 1 : 0) < 0)
		return ERR_INVALID;
	return 0;
}

static void
bridge_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct bridge *b = arg;

	(void)what;
	log_info("bridge_stopping signal=%d appended=%llu duplicates=%llu",
	    (int)sig, b->appended, b->duplicates);
	event_base_loopexit(b->base, NULL);
}

int
cmd_bridge(int argc, char **argv, struct config *cfg)
{
	static const struct cli_spec spec = { "bridge", "[options]",
		"Subscribe to the Pub/Sub channels of --input-channels "
		"(ARTIFACTD_INPUT_CHANNELS,\ncomma-separated; "
		"\"channel=stream\" picks the stream, otherwise "
		"RELEASE_TAGGED\n"
		"goes to the release stream and the rest to the test stream) "
		"and append each\nmessage to its stream once (deduplicated "
		"by event_id, so several bridges\nmay run). Pub/Sub loses "
		"what is published while no bridge listens.",
		NULL, 0, 0, 0 };
	struct bridge b = { 0 };
	struct bus_opts bo = { 0 };
	struct error err = { 0 };
	struct event *sig_term = NULL, *sig_int = NULL;
	struct status *status = NULL;
	struct timeval tv = { 0, BRIDGE_RETRY_MS * 1000 };
	char **args = NULL;
	size_t nargs = 0, i;
	int rc;

	rc = cli_parse(&spec, argc, argv, cfg, NULL, NULL, &args, &nargs);
	free(args);
	if (rc == 3)
		return 0;
	if (rc != 0)
		return rc;
	app_log_init(cfg);
	if (cfg->ninput_channels == 0) {
		fprintf(stderr, "artifactd bridge: no input channels "
		                "(set ARTIFACTD_INPUT_CHANNELS or "
		                "--input-channels)\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	b.cfg = cfg;
	b.nchannels = cfg->ninput_channels;
	b.channels = xcalloc(b.nchannels, sizeof(*b.channels));
	b.streams = xcalloc(b.nchannels, sizeof(*b.streams));
	for (i = 0; i < b.nchannels; i++) {
		const char *c = cfg->input_channels[i];
		const char *eq = strchr(c, '=');

		b.channels[i] = eq ? xstrndup(c, (size_t)(eq - c)) : xstrdup(c);
		b.streams[i] = eq && eq[1] ? xstrdup(eq + 1) : NULL;
	}
	b.base = event_base_new();
	bo.url = cfg->redis_url;
	bo.group = cfg->group;
	bo.consumer = cfg->consumer;
	bo.output_stream = cfg->output_stream;
	bo.consume = false;
	if (bus_new(&b.bus, b.base, &bo, NULL, NULL, NULL, &err) < 0) {
		fprintf(stderr, "artifactd bridge: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	if (status_start(&status, b.base, cfg->http_addr, bridge_ready,
	        bridge_metrics, &b, &err) < 0) {
		fprintf(stderr, "artifactd bridge: %s\n", err.msg);
		rc = 1;
		goto out;
	}
	bus_subscribe(b.bus, (const char *const *)b.channels, b.nchannels,
	    bridge_on_message, &b);
	b.retry_ev = event_new(b.base, -1, EV_PERSIST, bridge_retry_cb, &b);
	event_add(b.retry_ev, &tv);
	sig_term = evsignal_new(b.base, SIGTERM, bridge_signal_cb, &b);
	sig_int = evsignal_new(b.base, SIGINT, bridge_signal_cb, &b);
	event_add(sig_term, NULL);
	event_add(sig_int, NULL);
	log_info("bridge_started channels=%zu", b.nchannels);
	event_base_dispatch(b.base);
	rc = 0;
out:
	status_free(status);
	if (sig_term != NULL)
		event_free(sig_term);
	if (sig_int != NULL)
		event_free(sig_int);
	if (b.retry_ev != NULL)
		event_free(b.retry_ev);
	bus_free(b.bus);
	while (b.head != NULL) {
		struct bridge_msg *m = b.head;

		b.head = m->next;
		bridge_msg_free(m);
	}
	for (i = 0; i < b.nchannels; i++) {
		free(b.channels[i]);
		free(b.streams[i]);
	}
	free(b.channels);
	free(b.streams);
	if (b.base != NULL)
		event_base_free(b.base);
	return rc;
}
