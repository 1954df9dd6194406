/*
 * status.c - /healthz, /readyz and /metrics on evhttp.
 *
 * /healthz answers 200 as long as the loop turns (it is served by the
 * loop itself); /readyz answers 200 only while Redis is connected, the
 * groups exist and we are not draining, so an orchestrator stops sending
 * traffic our way; /metrics is the Prometheus text format 0.0.4.
 */
#include "worker/status.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"

/* The metrics page grows with the number of streams only; 1 MiB is far
 * above what it can reach and bounds a bug. */
#define HTTP_METRICS_MAX (1024 * 1024)

struct status {
	struct evhttp *http;
	status_ready_fn *ready;
	status_metrics_fn *metrics;
	void *arg;
};

static void
http_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void
http_cb(struct evhttp_request *req, void *arg)
{
	struct status *h = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct buf out;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		http_reply(req, 405, "Method Not Allowed", "text/plain",
		    "GET only\n", 9);
		return;
	}
	if (strcmp(uri, "/healthz") == 0) {
		http_reply(req, 200, "OK", "text/plain", "ok\n", 3);
	} else if (strcmp(uri, "/readyz") == 0) {
		if (h->ready(h->arg))
			http_reply(req, 200, "OK", "text/plain", "ready\n", 6);
		else
			http_reply(req, 503, "Service Unavailable",
			    "text/plain", "not ready\n", 10);
	} else if (strcmp(uri, "/metrics") == 0) {
		buf_init(&out, HTTP_METRICS_MAX);
		if (h->metrics(&out, h->arg) < 0)
			http_reply(req, 500, "Internal Server Error",
			    "text/plain", "metrics too large\n", 18);
		else
			http_reply(req, 200, "OK",
			    "text/plain; version=0.0.4; charset=utf-8",
			    out.data ? out.data : "", out.len);
		buf_dispose(&out);
	} else {
		http_reply(req, 404, "Not Found", "text/plain", "not found\n",
		    10);
	}
}

int
status_start(struct status **out, struct event_base *base, const char *addr,
    status_ready_fn *ready, status_metrics_fn *metrics, void *arg,
    struct error *err)
{
	struct status *h = NULL;
	char *host = NULL;
	const char *colon;
	long long port;
	int rc = ERR_INVALID;

	*out = NULL;
	if (addr == NULL || *addr == '\0' || strcmp(addr, "off") == 0)
		return 0;
	colon = strrchr(addr, ':');
	if (colon == NULL || util_parse_uint(&port, colon + 1, 65535) < 0) {
		error_set(err, rc, "CONFIG",
		    "http address \"%s\" is not host:port", addr);
		goto out;
	}
	if (addr[0] == '[' && colon > addr && colon[-1] == ']')
		host = xstrndup(addr + 1, (size_t)(colon - addr - 2));
	else
		host = xstrndup(addr, (size_t)(colon - addr));
	h = xcalloc(1, sizeof(*h));
	h->ready = ready;
	h->metrics = metrics;
	h->arg = arg;
	h->http = evhttp_new(base);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	/* A scraper that stops reading must not hold a connection
	 * forever. */
	evhttp_set_timeout(h->http, 10);
	evhttp_set_gencb(h->http, http_cb, h);
	if (evhttp_bind_socket(h->http, host, (unsigned short)port) != 0) {
		rc = error_set(err, ERR_FAIL, "CONFIG",
		    "cannot listen on %s (in use?)", addr);
		goto out;
	}
	log_info("http_listening addr=%s", addr);
	*out = h;
	h = NULL;
	rc = 0;
out:
	status_free(h);
	free(host);
	return rc;
}

void
status_free(struct status *h)
{
	if (h == NULL)
		return;
	evhttp_free(h->http);
	free(h);
}
