/*
 * status.c - /healthz, /readyz and /metrics on a small HTTP/1.x server of
 * our own (libevent evconnlistener and plain events).
 *
 * /healthz answers 200 as long as the loop turns (it is served by the
 * loop itself); /readyz answers 200 only while Redis is connected, the
 * groups exist and we are not draining, so an orchestrator stops sending
 * traffic our way; /metrics is the Prometheus text format 0.0.4. The query
 * string is ignored for routing.
 *
 * evhttp, which served this before, buffers headers without limit and
 * spins on accept() when descriptors run out. Here every connection has a
 * fixed input buffer (STATUS_HEAD_MAX, freed on close), one deadline for
 * its whole head and one for its whole answer, and serves one request
 * (Connection: close: probes open a connection per check anyway). At most
 * STATUS_CONN_MAX connections are open; a new one beyond that takes the
 * place of the oldest one still sending its head, so a burst of slow
 * clients cannot lock a health probe out (a probe sends its request at
 * once and is answered in the same turn of the loop). When accept() fails
 * (EMFILE, ENFILE, ENOBUFS) the listener pauses STATUS_ACCEPT_PAUSE_MS
 * instead of spinning, and says so at most once per STATUS_WARN_EVERY_MS.
 */
#include "worker/status.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "worker/status_parse.h"

/* The metrics page grows with the number of streams only; 1 MiB is far
 * above what it can reach and bounds a bug. */
#define STATUS_METRICS_MAX (1024 * 1024)
/*
 * Open connections. Clients are the kubelet (liveness and readiness, one
 * connection each per period), one or two scrapers and a person with
 * curl: 64 is ten times that. It bounds what the port can hold: 64
 * descriptors of the usual 1024 (git, Redis and uploads keep the rest)
 * and 64 x 8 KiB of input buffers.
 */
#define STATUS_CONN_MAX 64
/* The whole head must arrive within 5 s of the accept, however it is
 * spread (a slowloris sending a line every 4 s is cut): a probe sends it
 * in one packet, and kubelet gives up after 1 s by default. */
#define STATUS_READ_MS 5000
/* The whole answer must be taken within 10 s: /metrics is a few KiB, so
 * only a client that stopped reading needs longer. */
#define STATUS_WRITE_MS 10000
/* After the answer we read and drop what the client still sends (a body
 * we refused, pipelined requests) until it closes, at most this long and
 * this much: closing with unread input makes the kernel send a reset
 * that can destroy the answer before the client read it. */
#define STATUS_LINGER_MS 2000
#define STATUS_LINGER_MAX (64 * 1024)
/* Pending connections the kernel queues for us: bursts of probes and
 * scrapers are a handful; beyond this the client's SYN is retried. */
#define STATUS_BACKLOG 128
/* accept() failing for lack of descriptors or memory: try again after
 * this pause rather than at once (which spins the loop). */
#define STATUS_ACCEPT_PAUSE_MS 250
/* At most one warning per kind per 10 s, with the count since the last. */
#define STATUS_WARN_EVERY_MS 10000
/* libevent's own lines: at most this many per STATUS_WARN_EVERY_MS. */
#define STATUS_LIBEVENT_LINES 10

enum status_phase { STATUS_READING, STATUS_WRITING, STATUS_LINGERING };

struct status_conn {
	struct status_conn *prev, *next;
	struct status *srv;
	evutil_socket_t fd;
	enum status_phase phase;
	struct event *rd, *wr, *timer;
	size_t inlen;
	bool lf_seen;
	char *out;
	size_t outlen, outoff;
	size_t dropped; /* bytes read and dropped while lingering */
	char in[STATUS_HEAD_MAX];
};

/* A warning said at most once per STATUS_WARN_EVERY_MS, with a count. */
struct status_warn {
	int64_t last_ms;
	unsigned long count;
};

struct status {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *resume_ev;
	status_ready_fn *ready;
	status_metrics_fn *metrics;
	void *arg;
	struct status_conn *head, *tail; /* oldest first */
	size_t nconns;
	struct status_warn accept_warn, busy_warn;
};

static void status_conn_read(struct status_conn *c);

/* True when the caller should log now; *count is then the number of
 * occurrences since the last line, this one included. */
static bool
status_warn_due(struct status_warn *w, unsigned long *count)
{
	int64_t now = util_mono_ms();

	w->count++;
	if (w->last_ms != 0 && now - w->last_ms < STATUS_WARN_EVERY_MS)
		return false;
	*count = w->count;
	w->count = 0;
	w->last_ms = now;
	return true;
}

/* libevent's log lines, from any thread: rate-limited, and made safe to
 * put in a key=value line. */
static pthread_mutex_t status_evlog_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t status_evlog_window_ms;
static unsigned long status_evlog_lines, status_evlog_dropped;

static void
status_libevent_log(int severity, const char *msg)
{
	char clean[256];
	unsigned long dropped = 0;
	int64_t now = util_mono_ms();
	bool say;
	size_t i;

	if (severity == EVENT_LOG_DEBUG)
		return;
	pthread_mutex_lock(&status_evlog_mu);
	if (status_evlog_window_ms == 0 ||
	    now - status_evlog_window_ms >= STATUS_WARN_EVERY_MS) {
		dropped = status_evlog_dropped;
		status_evlog_window_ms = now;
		status_evlog_lines = status_evlog_dropped = 0;
	}
	say = status_evlog_lines < STATUS_LIBEVENT_LINES;
	if (say)
		status_evlog_lines++;
	else
		status_evlog_dropped++;
	pthread_mutex_unlock(&status_evlog_mu);
	if (dropped > 0)
		log_warnx("libevent_log_dropped count=%lu", dropped);
	if (!say)
		return;
	for (i = 0; msg[i] != '\0' && i < sizeof(clean) - 1; i++)
		clean[i] = (msg[i] < 0x20 || msg[i] == 0x7f || msg[i] == '"' ||
		               msg[i] == '\\')
		               ? '?'
		               : msg[i];
	clean[i] = '\0';
	if (severity == EVENT_LOG_MSG)
		log_info("libevent msg=\"%s\"", clean);
	else
		log_warnx("libevent msg=\"%s\"", clean);
}

static void
status_conn_close(struct status_conn *c)
{
	struct status *s = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		s->tail = c->prev;
	s->nconns--;
	event_free(c->rd);
	event_free(c->wr);
	event_free(c->timer);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
status_conn_deadline(struct status_conn *c, enum status_phase phase, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	c->phase = phase;
	evtimer_add(c->timer, &tv);
}

static void
status_conn_linger(struct status_conn *c)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, sink, sizeof(sink), 0);
		if (n > 0) {
			c->dropped += (size_t)n;
			if (c->dropped > STATUS_LINGER_MAX)
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->rd, NULL);
			return;
		}
		break; /* EOF or error: the client is done */
	}
	status_conn_close(c);
}

static void
status_conn_write(struct status_conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(c->wr, NULL);
			return;
		}
		status_conn_close(c);
		return;
	}
	event_del(c->wr);
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	status_conn_deadline(c, STATUS_LINGERING, STATUS_LINGER_MS);
	status_conn_linger(c);
}

/* Queue the whole answer and start writing it. */
static void
status_reply(struct status_conn *c, int code, const char *type,
    const char *body, size_t len, bool head_only)
{
	struct buf b;

	buf_init(&b, STATUS_METRICS_MAX + 1024);
	buf_printf(&b,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%sCache-Control: no-store\r\nConnection: close\r\n\r\n",
	    code, status_reason(code), type, len,
	    code == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!head_only)
		buf_append(&b, body, len);
	c->out = buf_detach(&b, &c->outlen);
	c->outoff = 0;
	event_del(c->rd);
	status_conn_deadline(c, STATUS_WRITING, STATUS_WRITE_MS);
	status_conn_write(c);
}

static bool
status_path_is(const struct status_request *req, const char *path)
{
	return req->path_len == strlen(path) &&
	       memcmp(req->path, path, req->path_len) == 0;
}

static void
status_route(struct status_conn *c, const struct status_request *req)
{
	struct status *s = c->srv;
	bool head = req->method == STATUS_HEAD;
	struct buf out;

	if (status_path_is(req, "/healthz")) {
		status_reply(c, 200, "text/plain", "ok\n", 3, head);
	} else if (status_path_is(req, "/readyz")) {
		if (s->ready(s->arg))
			status_reply(c, 200, "text/plain", "ready\n", 6, head);
		else
			status_reply(c, 503, "text/plain", "not ready\n", 10,
			    head);
	} else if (status_path_is(req, "/metrics")) {
		buf_init(&out, STATUS_METRICS_MAX);
		if (s->metrics(&out, s->arg) < 0)
			status_reply(c, 500, "text/plain",
			    "metrics too large\n", 18, head);
		else
			status_reply(c, 200,
			    "text/plain; version=0.0.4; charset=utf-8",
			    out.data ? out.data : "", out.len, head);
		buf_dispose(&out);
	} else {
		status_reply(c, 404, "text/plain", "not found\n", 10, head);
	}
}

/* Parse what arrived; answer when the head is complete or refused. eof:
 * the client will send nothing more (it may still read the answer). */
static void
status_conn_parse(struct status_conn *c, bool eof)
{
	struct status_request req;
	struct error err = { 0 };
	char body[64];
	int rc;

	rc = status_parse_request(&req, c->in, c->inlen, &err);
	if (rc == STATUS_PARSE_AGAIN) {
		if (eof)
			status_conn_close(c);
		else
			event_add(c->rd, NULL);
		return;
	}
	if (rc == 0) {
		status_route(c, &req);
		return;
	}
	log_debug("status_refused status=%d", req.status);
	snprintf(body, sizeof(body), "%s\n", status_reason(req.status));
	status_reply(c, req.status, "text/plain", body, strlen(body), false);
}

static void
status_conn_read(struct status_conn *c)
{
	bool parse = false, eof = false;
	ssize_t n;

	while (c->inlen < sizeof(c->in)) {
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n > 0) {
			if (memchr(c->in + c->inlen, '\n', (size_t)n) != NULL)
				c->lf_seen = parse = true;
			c->inlen += (size_t)n;
			if (!c->lf_seen && c->inlen > STATUS_LINE_MAX + 1)
				parse = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 || c->inlen == 0) {
			status_conn_close(c);
			return;
		}
		/* Half-closed after its request (printf | nc -N): answer
		 * what is there. */
		parse = eof = true;
		break;
	}
	/* Only when a line ended (or a limit was hit) is parsing again
	 * worth it: a client sending a byte at a time costs one parse per
	 * line, not per byte. */
	if (parse || c->inlen == sizeof(c->in))
		status_conn_parse(c, eof);
	else
		event_add(c->rd, NULL);
}

static void
status_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->phase == STATUS_READING)
		status_conn_read(c);
	else if (c->phase == STATUS_WRITING)
		status_conn_write(c);
	else
		status_conn_linger(c);
}

static void
status_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status_conn *c = arg;

	(void)fd;
	(void)what;
	log_debug("status_timeout phase=%s", c->phase == STATUS_READING ? "read"
	                                     : c->phase == STATUS_WRITING
	                                         ? "write"
	                                         : "linger");
	status_conn_close(c);
}

/* At the cap: close the oldest connection that has not sent its whole
 * head (or is lingering), to make room. False when every one is being
 * answered. */
static bool
status_make_room(struct status *s)
{
	struct status_conn *c;
	unsigned long count;

	for (c = s->head; c != NULL; c = c->next)
		if (c->phase != STATUS_WRITING)
			break;
	if (status_warn_due(&s->busy_warn, &count))
		log_warnx("status_busy conns=%zu limit=%d count=%lu "
		          "action=close_oldest",
		    s->nconns, STATUS_CONN_MAX, count);
	if (c == NULL)
		return false;
	status_conn_close(c);
	return true;
}

static void
status_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct status *s = arg;
	struct status_conn *c;

	(void)lis;
	(void)sa;
	(void)salen;
	if (s->nconns >= STATUS_CONN_MAX && !status_make_room(s)) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = s;
	c->fd = fd;
	c->rd = event_new(s->base, fd, EV_READ, status_io_cb, c);
	c->wr = event_new(s->base, fd, EV_WRITE, status_io_cb, c);
	c->timer = evtimer_new(s->base, status_timer_cb, c);
	if (c->rd == NULL || c->wr == NULL || c->timer == NULL)
		fatalx("status: event_new failed");
	c->prev = s->tail;
	if (s->tail != NULL)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
	s->nconns++;
	status_conn_deadline(c, STATUS_READING, STATUS_READ_MS);
	/* The request of a probe is usually there already: answer it in
	 * this turn, before later connections can push it out. */
	status_conn_read(c);
}

static void
status_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status *s = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(s->lis);
}

static void
status_accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct status *s = arg;
	struct timeval tv = { 0, STATUS_ACCEPT_PAUSE_MS * 1000 };
	int e = EVUTIL_SOCKET_ERROR();
	unsigned long count;

	evconnlistener_disable(lis);
	evtimer_add(s->resume_ev, &tv);
	if (status_warn_due(&s->accept_warn, &count)) {
		errno = e;
		log_warn("status_accept_failed count=%lu conns=%zu "
		         "action=pause pause_ms=%d",
		    count, s->nconns, STATUS_ACCEPT_PAUSE_MS);
	}
}

/* Bind the first address host:port resolves to. */
static int
status_listen(struct status *s, const char *host, const char *port,
    const char *addr, struct error *err)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	unsigned flags =
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
	int gai;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((gai = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "http address \"%s\": %s", addr, gai_strerror(gai));
	for (ai = res; ai != NULL && s->lis == NULL; ai = ai->ai_next)
		s->lis = evconnlistener_new_bind(s->base, status_accept_cb, s,
		    flags, STATUS_BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(res);
	if (s->lis == NULL)
		return error_set(err, ERR_FAIL, "CONFIG",
		    "cannot listen on %s (in use?)", addr);
	evconnlistener_set_error_cb(s->lis, status_accept_error_cb);
	return 0;
}

int
status_start(struct status **out, struct event_base *base, const char *addr,
    status_ready_fn *ready, status_metrics_fn *metrics, void *arg,
    struct error *err)
{
	struct status *s = NULL;
	char *host = NULL;
	const char *colon;
	long long port;
	int rc = ERR_INVALID;

	*out = NULL;
	event_set_log_callback(status_libevent_log);
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
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->ready = ready;
	s->metrics = metrics;
	s->arg = arg;
	s->resume_ev = evtimer_new(base, status_resume_cb, s);
	if ((rc = status_listen(s, host, colon + 1, addr, err)) < 0)
		goto out;
	log_info("http_listening addr=%s max_conns=%d head_max=%d", addr,
	    STATUS_CONN_MAX, STATUS_HEAD_MAX);
	*out = s;
	s = NULL;
	rc = 0;
out:
	status_free(s);
	free(host);
	return rc;
}

void
status_free(struct status *s)
{
	if (s == NULL)
		return;
	while (s->head != NULL)
		status_conn_close(s->head);
	if (s->lis != NULL)
		evconnlistener_free(s->lis);
	if (s->resume_ev != NULL)
		event_free(s->resume_ev);
	free(s);
}
