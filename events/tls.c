/*
 * tls.c - rediss://: a private plain socket for hiredis, OpenSSL to Redis.
 *
 * One "pipe" joins a plain stream socket (hiredis's peer) and a
 * bufferevent_openssl connected to Redis, and copies bytes both ways
 * with a bound on what waits in memory. The bridge (daemon) feeds pipes
 * from a private listening unix socket; the thread (blocking tools) from
 * one end of a socketpair. Why this shape, and not a TLS-capable hiredis:
 * docs/internals/bus.md, "TLS".
 */
#include "events/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"

/* Bytes one direction may hold before we stop reading the other side:
 * a reply of XREADGROUP COUNT 64 can be megabytes, and the pump must not
 * buffer without bound when hiredis (or Redis) reads slowly. */
#define TLS_PIPE_HIGH (4 * 1024 * 1024)
/* TCP connect plus TLS handshake of the daemon's connections. Above the
 * bus's own 3 s connect watchdog, which normally acts first (it closes
 * the plain side, which closes the pipe); this one covers a bridge
 * whose hiredis side is gone quiet. */
#define TLS_CONNECT_TIMEOUT_MS 10000
/* Length of a failure's cause kept for the log and the tools' error. */
#define TLS_WHY_MAX 256

struct tls_target {
	SSL_CTX *ctx;
	char *host;
	int port;
	bool insecure;
	bool is_ip;
	bool has_cert; /* a client certificate is configured */
};

struct tls_pipe;
typedef void tls_pipe_done_cb(struct tls_pipe *p, void *arg);

struct tls_pipe {
	const struct tls_target *tgt; /* borrowed from the bridge/thread */
	struct bufferevent *plain;
	struct bufferevent *tls;
	struct event *timer;
	bool up;      /* TLS handshake done */
	bool heard;   /* some bytes came from Redis after it */
	bool closing; /* Redis side gone; flushing what is left to hiredis */
	tls_pipe_done_cb *done;
	void *arg;
	char why[TLS_WHY_MAX]; /* the failure's cause, "" when none */
	struct tls_pipe *prev, *next;
};

/* ------------------------------------------------------------ context */

/* The reason text of OpenSSL's most recent error, for messages. */
static const char *
tls_err_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : "unknown error";
}

static int
tls_ctx_files(SSL_CTX *ctx, const struct endpoint_tls *t, struct error *err)
{
	struct stat st;

	if (t->ca_file != NULL && access(t->ca_file, R_OK) < 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "tls-ca-file %s: %s", t->ca_file, strerror(errno));
	if (t->ca_dir != NULL &&
	    (stat(t->ca_dir, &st) < 0 || !S_ISDIR(st.st_mode)))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "tls-ca-dir %s: not a readable directory", t->ca_dir);
	if (t->ca_file != NULL || t->ca_dir != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, t->ca_file, t->ca_dir) !=
		    1)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "cannot load the CA certificates of %s: %s",
			    t->ca_file ? t->ca_file : t->ca_dir,
			    tls_err_reason());
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return error_set(err, ERR_INVALID, "CONFIG",
		    "cannot load the system CA certificates: %s",
		    tls_err_reason());
	}
	if ((t->cert_file == NULL) != (t->key_file == NULL))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "tls-cert-file and tls-key-file go together");
	if (t->cert_file == NULL)
		return 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert_file) != 1)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "cannot load tls-cert-file %s: %s", t->cert_file,
		    tls_err_reason());
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key_file, SSL_FILETYPE_PEM) !=
	    1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "tls-key-file %s does not match tls-cert-file %s",
			    t->key_file, t->cert_file);
		return error_set(err, ERR_INVALID, "CONFIG",
		    "cannot load tls-key-file %s: %s", t->key_file,
		    tls_err_reason());
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "tls-key-file %s does not match tls-cert-file %s",
		    t->key_file, t->cert_file);
	return 0;
}

static int
tls_ctx_new(SSL_CTX **out, const struct endpoint_tls *t, struct error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int rc;

	if (ctx == NULL)
		return error_set(err, ERR_FAIL, "TLS", "SSL_CTX_new: %s",
		    tls_err_reason());
	/* TLS 1.2 is the oldest Redis 6+ and managed services accept. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
	    NULL);
	ERR_clear_error();
	if ((rc = tls_ctx_files(ctx, t, err)) < 0) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return rc;
	}
	*out = ctx;
	return 0;
}

int
tls_check(const struct endpoint_tls *t, struct error *err)
{
	SSL_CTX *ctx = NULL;
	int rc;

	if ((rc = tls_ctx_new(&ctx, t, err)) < 0)
		return rc;
	SSL_CTX_free(ctx);
	return 0;
}

static int
tls_target_init(struct tls_target *tgt, const struct endpoint *ep,
    struct error *err)
{
	unsigned char addr[sizeof(struct in6_addr)];
	int rc;

	memset(tgt, 0, sizeof(*tgt));
	if (ep->host == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "rediss:// needs a host");
	if ((rc = tls_ctx_new(&tgt->ctx, &ep->tls_opt, err)) < 0)
		return rc;
	tgt->host = xstrdup(ep->host);
	tgt->port = ep->port;
	tgt->insecure = ep->tls_opt.insecure;
	tgt->has_cert = ep->tls_opt.cert_file != NULL;
	tgt->is_ip = inet_pton(AF_INET, ep->host, addr) == 1 ||
	             inet_pton(AF_INET6, ep->host, addr) == 1;
	return 0;
}

static void
tls_target_dispose(struct tls_target *tgt)
{
	SSL_CTX_free(tgt->ctx);
	free(tgt->host);
	memset(tgt, 0, sizeof(*tgt));
}

/* A new SSL for one connection: SNI and the name (or address) the
 * certificate must carry, from the URL's host. */
static SSL *
tls_ssl_new(const struct tls_target *tgt)
{
	SSL *ssl = SSL_new(tgt->ctx);
	X509_VERIFY_PARAM *vp;

	if (ssl == NULL)
		return NULL;
	vp = SSL_get0_param(ssl);
	if (!tgt->is_ip)
		SSL_set_tlsext_host_name(ssl, tgt->host);
	if (!tgt->insecure) {
		int ok;

		if (tgt->is_ip) {
			ok = X509_VERIFY_PARAM_set1_ip_asc(vp, tgt->host);
		} else {
			X509_VERIFY_PARAM_set_hostflags(vp,
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			ok = X509_VERIFY_PARAM_set1_host(vp, tgt->host, 0);
		}
		if (ok != 1) {
			SSL_free(ssl);
			return NULL;
		}
	}
	return ssl;
}

/* --------------------------------------------------------------- pipe */

static void
tls_pipe_free(struct tls_pipe *p)
{
	if (p->done != NULL)
		p->done(p, p->arg);
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->tls != NULL)
		bufferevent_free(p->tls);
	if (p->plain != NULL)
		bufferevent_free(p->plain);
	free(p);
}

static void tls_pipe_fail(struct tls_pipe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keep the cause and log it: one line naming host, port and reason. */
static void
tls_pipe_fail(struct tls_pipe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	log_warnx("redis_tls_failed host=%s port=%d reason=\"%s\"",
	    p->tgt->host, p->tgt->port, p->why);
}

/* The cause of a failure on the TLS side, in words an operator acts on:
 * a verification failure names what did not verify. */
static void
tls_pipe_cause(struct tls_pipe *p, short what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(p->tls);
	long vr = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e, first = 0;
	int sockerr = EVUTIL_SOCKET_ERROR();

	/* libevent also queues SSL_get_error() codes (SSL_ERROR_SYSCALL for
	 * a refused connect, say) which are no library errors: skip them,
	 * the socket error says more. */
	while ((e = bufferevent_get_openssl_error(p->tls)) != 0)
		if (first == 0 && ERR_GET_LIB(e) != 0)
			first = e;
	if (first != 0 &&
	    ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
	    vr != X509_V_OK) {
		tls_pipe_fail(p, "certificate verify failed: %s",
		    X509_verify_cert_error_string(vr));
	} else if (first == 0 && p->up && !p->heard) {
		/* TLS 1.3: the server checks the client certificate after our
		 * side of the handshake is done; its alert is often lost to a
		 * reset when hiredis has written meanwhile. */
		tls_pipe_fail(p,
		    "closed by the server right after the TLS handshake (%s)",
		    p->tgt->has_cert
		        ? "was the client certificate refused?"
		        : "does it require a client certificate? tls-cert-file "
		          "is not set");
	} else if (first != 0) {
		const char *r = ERR_reason_error_string(first);

		tls_pipe_fail(p, "TLS error: %s", r ? r : "unknown");
	} else if (what & BEV_EVENT_EOF) {
		tls_pipe_fail(p, "%s",
		    p->up
		        ? "connection closed by the server"
		        : "closed during the TLS handshake (not a TLS port?)");
	} else {
		tls_pipe_fail(p, "%s",
		    sockerr ? evutil_socket_error_to_string(sockerr)
		            : "connection failed");
	}
}

static void tls_pipe_write_cb(struct bufferevent *bev, void *arg);

static void
tls_pipe_read_cb(struct bufferevent *bev, void *arg)
{
	struct tls_pipe *p = arg;
	struct bufferevent *to = bev == p->plain ? p->tls : p->plain;

	if (to == NULL)
		return;
	if (bev == p->tls)
		p->heard = true;
	evbuffer_add_buffer(bufferevent_get_output(to),
	    bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(to)) >= TLS_PIPE_HIGH) {
		/* Stop reading until the other side has written half. */
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, TLS_PIPE_HIGH / 2, 0);
	}
}

static void
tls_pipe_write_cb(struct bufferevent *bev, void *arg)
{
	struct tls_pipe *p = arg;
	struct bufferevent *from = bev == p->plain ? p->tls : p->plain;

	if (p->closing && bev == p->plain &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		tls_pipe_free(p);
		return;
	}
	if (from != NULL && !(bufferevent_get_enabled(from) & EV_READ)) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(from, EV_READ);
	}
}

static void
tls_pipe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tls_pipe *p = arg;

	if (bev == p->tls && (what & BEV_EVENT_CONNECTED)) {
		int one = 1;

		p->up = true;
		evtimer_del(p->timer);
		setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_KEEPALIVE,
		    &one, sizeof(one));
		if (p->tgt->insecure)
			log_warnx("redis_tls_insecure host=%s port=%d "
			          "reason=\"tls-insecure: the server's "
			          "certificate is not verified\"",
			    p->tgt->host, p->tgt->port);
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (bev == p->plain) {
		/* hiredis gave up first (the bus's 3 s connect watchdog): a
		 * server that never answers the handshake, such as a clear
		 * text port waiting for a newline, is named here. */
		if (!p->up)
			tls_pipe_fail(p, "%s",
			    "no TLS handshake within the connect timeout "
			    "(not a TLS port, or no answer)");
		tls_pipe_free(p);
		return;
	}
	/* Redis's side: a plain EOF after the handshake is the server
	 * closing (the bus logs that); anything else is logged here. */
	if ((what & BEV_EVENT_ERROR) || !p->up)
		tls_pipe_cause(p, what);
	bufferevent_free(p->tls);
	p->tls = NULL;
	/* Hand hiredis what Redis said last (an error before closing). */
	if (evbuffer_get_length(bufferevent_get_output(p->plain)) == 0) {
		tls_pipe_free(p);
		return;
	}
	p->closing = true;
	bufferevent_disable(p->plain, EV_READ);
	bufferevent_setwatermark(p->plain, EV_WRITE, 0, 0);
}

static void
tls_pipe_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tls_pipe *p = arg;

	(void)fd;
	(void)what;
	tls_pipe_fail(p, "%s", "TLS connect timed out");
	tls_pipe_free(p);
}

/* Resolve (blocking, like hiredis) and start connecting; false with
 * p->why set on a failure known at once. */
static bool
tls_pipe_connect(struct tls_pipe *p, struct event_base *base)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[16];
	SSL *ssl;
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", p->tgt->port);
	if ((rc = getaddrinfo(p->tgt->host, port, &hints, &ai)) != 0) {
		tls_pipe_fail(p, "cannot resolve host: %s", gai_strerror(rc));
		return false;
	}
	if ((ssl = tls_ssl_new(p->tgt)) == NULL) {
		freeaddrinfo(ai);
		tls_pipe_fail(p, "%s", "cannot set up the TLS session");
		return false;
	}
	/* Owns ssl from here (BEV_OPT_CLOSE_ON_FREE frees it). */
	p->tls = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (p->tls == NULL) {
		SSL_free(ssl);
		freeaddrinfo(ai);
		tls_pipe_fail(p, "%s", "cannot set up the TLS session");
		return false;
	}
	bufferevent_setcb(p->tls, tls_pipe_read_cb, tls_pipe_write_cb,
	    tls_pipe_event_cb, p);
	rc = bufferevent_socket_connect(p->tls, ai->ai_addr,
	    (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc < 0) {
		tls_pipe_fail(p, "%s", "cannot connect");
		return false;
	}
	bufferevent_enable(p->tls, EV_READ | EV_WRITE);
	return true;
}

/* Serve plain_fd (taken over, closed in every case). NULL when it
 * failed at once (logged; done is not called then). */
static struct tls_pipe *
tls_pipe_new(struct event_base *base, const struct tls_target *tgt,
    evutil_socket_t plain_fd, int timeout_ms, char *why, size_t whylen)
{
	struct tls_pipe *p = xcalloc(1, sizeof(*p));
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	p->tgt = tgt;
	evutil_make_socket_nonblocking(plain_fd);
	p->plain =
	    bufferevent_socket_new(base, plain_fd, BEV_OPT_CLOSE_ON_FREE);
	p->timer = evtimer_new(base, tls_pipe_timer_cb, p);
	if (p->plain == NULL || p->timer == NULL) {
		if (p->plain == NULL)
			close(plain_fd);
		snprintf(p->why, sizeof(p->why), "out of memory");
		goto fail;
	}
	bufferevent_setcb(p->plain, tls_pipe_read_cb, tls_pipe_write_cb,
	    tls_pipe_event_cb, p);
	if (!tls_pipe_connect(p, base))
		goto fail;
	/* hiredis may write (AUTH, PING) at once: the TLS bufferevent keeps
	 * it until the handshake is done. */
	bufferevent_enable(p->plain, EV_READ | EV_WRITE);
	evtimer_add(p->timer, &tv);
	return p;
fail:
	if (why != NULL)
		snprintf(why, whylen, "%s", p->why);
	tls_pipe_free(p);
	return NULL;
}

/* ------------------------------------------------------------- bridge */

struct tls_bridge {
	struct event_base *base;
	struct tls_target tgt;
	struct evconnlistener *lis;
	char *dir;
	char *path;
	struct tls_pipe *pipes; /* open ones, freed with the bridge */
};

static void
tls_bridge_pipe_done(struct tls_pipe *p, void *arg)
{
	struct tls_bridge *b = arg;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		b->pipes = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
}

static void
tls_bridge_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct tls_bridge *b = arg;
	struct tls_pipe *p;

	(void)lis;
	(void)sa;
	(void)len;
	p = tls_pipe_new(b->base, &b->tgt, fd, TLS_CONNECT_TIMEOUT_MS, NULL, 0);
	if (p == NULL)
		return;
	p->done = tls_bridge_pipe_done;
	p->arg = b;
	p->next = b->pipes;
	if (b->pipes != NULL)
		b->pipes->prev = p;
	b->pipes = p;
}

/* A fresh 0700 directory for the socket: only our user (and root) can
 * connect to it, so nobody else gets a connection to Redis made with
 * our client certificate. */
static char *
tls_bridge_mkdir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	/* sun_path is 108 bytes: keep room for "/s". */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 64)
		tmp = "/tmp";
	dir = xasprintf("%s/artifactd-tls-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		free(dir);
		return NULL;
	}
	return dir;
}

int
tls_bridge_new(struct tls_bridge **out, struct event_base *base,
    const struct endpoint *ep, struct error *err)
{
	struct tls_bridge *b = xcalloc(1, sizeof(*b));
	struct sockaddr_un sun = { 0 };
	int rc;

	b->base = base;
	if ((rc = tls_target_init(&b->tgt, ep, err)) < 0)
		goto fail;
	rc = ERR_FAIL;
	if ((b->dir = tls_bridge_mkdir()) == NULL) {
		error_set(err, rc, "TLS",
		    "cannot create a private directory "
		    "for the TLS bridge: %s",
		    strerror(errno));
		goto fail;
	}
	b->path = xasprintf("%s/s", b->dir);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", b->path);
	b->lis = evconnlistener_new_bind(base, tls_bridge_accept_cb, b,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (b->lis == NULL) {
		error_set(err, rc, "TLS", "cannot listen on %s: %s", b->path,
		    strerror(errno));
		goto fail;
	}
	*out = b;
	return 0;
fail:
	tls_bridge_free(b);
	return rc;
}

const char *
tls_bridge_path(const struct tls_bridge *b)
{
	return b->path;
}

void
tls_bridge_set_target(struct tls_bridge *b, const char *host, int port)
{
	free(b->tgt.host);
	b->tgt.host = xstrdup(host);
	b->tgt.port = port;
}

void
tls_bridge_free(struct tls_bridge *b)
{
	if (b == NULL)
		return;
	while (b->pipes != NULL)
		tls_pipe_free(b->pipes);
	if (b->lis != NULL)
		evconnlistener_free(b->lis);
	if (b->path != NULL)
		unlink(b->path);
	if (b->dir != NULL)
		rmdir(b->dir);
	free(b->path);
	free(b->dir);
	tls_target_dispose(&b->tgt);
	free(b);
}

/* ------------------------------------------------------------- thread */

struct tls_thread {
	pthread_t th;
	bool started;
	struct event_base *base;
	struct tls_target tgt;
	char why[TLS_WHY_MAX];
};

static void
tls_thread_pipe_done(struct tls_pipe *p, void *arg)
{
	struct tls_thread *t = arg;

	snprintf(t->why, sizeof(t->why), "%s", p->why);
}

static void *
tls_thread_run(void *arg)
{
	struct tls_thread *t = arg;

	/* Returns when the pipe is gone: nothing else is on this base. */
	event_base_dispatch(t->base);
	return NULL;
}

int
tls_thread_start(struct tls_thread **out, const struct endpoint *ep,
    int timeout_ms, int *fd, struct error *err)
{
	struct tls_thread *t = xcalloc(1, sizeof(*t));
	struct tls_pipe *p;
	int sv[2], rc;

	if ((rc = tls_target_init(&t->tgt, ep, err)) < 0)
		goto fail;
	rc = ERR_FAIL;
	if ((t->base = event_base_new()) == NULL) {
		error_set(err, rc, "TLS", "event_base_new failed");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		error_set(err, rc, "TLS", "socketpair: %s", strerror(errno));
		goto fail;
	}
	p = tls_pipe_new(t->base, &t->tgt, sv[1], timeout_ms, t->why,
	    sizeof(t->why));
	if (p == NULL) {
		close(sv[0]);
		rc = ERR_TRANSIENT;
		error_set(err, rc, "REDIS", "cannot connect to redis: %s",
		    t->why);
		goto fail;
	}
	p->done = tls_thread_pipe_done;
	p->arg = t;
	/* The base is the thread's alone from here on. */
	if (pthread_create(&t->th, NULL, tls_thread_run, t) != 0) {
		close(sv[0]);
		tls_pipe_free(p);
		error_set(err, rc, "TLS", "cannot start the TLS thread");
		goto fail;
	}
	t->started = true;
	*fd = sv[0];
	*out = t;
	return 0;
fail:
	tls_thread_finish(t, NULL);
	return rc;
}

int
tls_thread_finish(struct tls_thread *t, struct error *err)
{
	int rc = 0;

	if (t == NULL)
		return 0;
	if (t->started)
		pthread_join(t->th, NULL);
	if (err != NULL && t->why[0] != '\0')
		rc = error_set(err, ERR_TRANSIENT, "REDIS",
		    "cannot connect to redis: %s", t->why);
	if (t->base != NULL)
		event_base_free(t->base);
	tls_target_dispose(&t->tgt);
	free(t);
	return rc;
}
