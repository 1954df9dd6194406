/*
 * endpoint.c - parse the Redis URL; blocking connections for tools.
 */
#include "events/endpoint_int.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/tls.h"

/* Undo %XX escapes in user names and passwords. */
static char *
endpoint_unescape(const char *s, size_t n)
{
	char *o = xmalloc(n + 1);
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			char *end;
			long v = strtol(hex, &end, 16);

			if (*end == '\0') {
				o[j++] = (char)v;
				i += 2;
				continue;
			}
		}
		o[j++] = s[i];
	}
	o[j] = '\0';
	return o;
}

/* user:password (or a bare password, as redis-py accepts
 * redis://password@host) between p and the '@' at `at`. */
static void
endpoint_userinfo(struct endpoint *ep, const char *p, const char *at)
{
	const char *colon = memchr(p, ':', (size_t)(at - p));

	if (colon == NULL) {
		ep->password = endpoint_unescape(p, (size_t)(at - p));
		return;
	}
	if (colon > p)
		ep->user = endpoint_unescape(p, (size_t)(colon - p));
	ep->password = endpoint_unescape(colon + 1, (size_t)(at - colon - 1));
}

static int endpoint_parse_sentinel(struct endpoint *ep, const char *p,
    const struct endpoint_tls *tls, struct error *err);
static int endpoint_parse_tls(struct endpoint *ep, const char *url,
    const struct endpoint_tls *defaults, struct error *err);
static int endpoint_parse_cluster(struct endpoint *ep, const char *p,
    const struct endpoint_tls *tls, struct error *err);
static struct endpoint_tls endpoint_default_tls;

int
endpoint_parse(struct endpoint *ep, const char *url, struct error *err)
{
	const char *p, *at, *slash, *q;
	long long v;

	memset(ep, 0, sizeof(*ep));
	ep->port = 6379;
	if (strncmp(url, "redis+sentinel://", 17) == 0)
		return endpoint_parse_sentinel(ep, url + 17, NULL, err);
	if (strncmp(url, "rediss+sentinel://", 18) == 0)
		return endpoint_parse_sentinel(ep, url + 18,
		    &endpoint_default_tls, err);
	if (strncmp(url, "rediss://", 9) == 0)
		return endpoint_parse_tls(ep, url, &endpoint_default_tls, err);
	if (strncmp(url, "redis+cluster://", 16) == 0)
		return endpoint_parse_cluster(ep, url + 16, NULL, err);
	if (strncmp(url, "rediss+cluster://", 17) == 0)
		return endpoint_parse_cluster(ep, url + 17,
		    &endpoint_default_tls, err);
	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		q = strchr(p, '?');
		ep->path = q ? xstrndup(p, (size_t)(q - p)) : xstrdup(p);
		if (ep->path[0] != '/') {
			endpoint_dispose(ep);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "unix:// URL needs an absolute socket path");
		}
		if (q != NULL && strncmp(q, "?db=", 4) == 0) {
			if (util_parse_uint(&v, q + 4, 1 << 20) < 0) {
				endpoint_dispose(ep);
				return error_set(err, ERR_INVALID, "CONFIG",
				    "bad db number in redis URL");
			}
			ep->db = (int)v;
		}
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "redis URL must start with redis://, rediss://, "
		    "redis+sentinel://, rediss+sentinel://, redis+cluster://, "
		    "rediss+cluster:// or unix://");
	p = url + 8;
	slash = strchr(p, '/');
	at = strrchr(p, '@');
	if (at != NULL && slash != NULL && at > slash)
		at = NULL;
	if (at != NULL) {
		endpoint_userinfo(ep, p, at);
		p = at + 1;
	}
	if (*p == '[') { /* [::1]:6379 */
		const char *close = strchr(p, ']');

		if (close == NULL) {
			endpoint_dispose(ep);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad IPv6 host in redis URL");
		}
		ep->host = xstrndup(p + 1, (size_t)(close - p - 1));
		p = close + 1;
	} else {
		q = p;
		while (*q != '\0' && *q != ':' && *q != '/')
			q++;
		ep->host =
		    q > p ? xstrndup(p, (size_t)(q - p)) : xstrdup("127.0.0.1");
		p = q;
	}
	if (*p == ':') {
		char num[16];
		size_t n = strcspn(p + 1, "/");

		if (n == 0 || n >= sizeof(num)) {
			endpoint_dispose(ep);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad port in redis URL");
		}
		memcpy(num, p + 1, n);
		num[n] = '\0';
		if (util_parse_uint(&v, num, 65535) < 0 || v == 0) {
			endpoint_dispose(ep);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad port in redis URL");
		}
		ep->port = (int)v;
		p += 1 + n;
	}
	if (*p == '/' && p[1] != '\0') {
		if (util_parse_uint(&v, p + 1, 1 << 20) < 0) {
			endpoint_dispose(ep);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad db number in redis URL");
		}
		ep->db = (int)v;
	}
	return 0;
}

void
endpoint_dispose(struct endpoint *ep)
{
	size_t i;

	free(ep->host);
	free(ep->path);
	free(ep->user);
	free(ep->password);
	for (i = 0; i < ep->nsentinels; i++)
		free(ep->sentinels[i].host);
	free(ep->sentinels);
	for (i = 0; i < ep->nseeds; i++)
		free(ep->seeds[i].host);
	free(ep->seeds);
	free(ep->master_name);
	free(ep->sentinel_password);
	free(ep->tls_opt.ca_file);
	free(ep->tls_opt.ca_dir);
	free(ep->tls_opt.cert_file);
	free(ep->tls_opt.key_file);
	memset(ep, 0, sizeof(*ep));
}

/* AUTH and SELECT on a fresh connection, and a PING when ping (a TLS
 * connection: the handshake's outcome is known once something came
 * back). */
static int
endpoint_setup(redisContext *c, const struct endpoint *ep, bool ping,
    struct error *err)
{
	redisReply *r = NULL;
	int rc = ERR_FAIL;

	if (ep->password != NULL) {
		if (ep->user != NULL)
			r = redisCommand(c, "AUTH %s %s", ep->user,
			    ep->password);
		else
			r = redisCommand(c, "AUTH %s", ep->password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			error_set(err, rc, "AUTH",
			    "redis refused the credentials");
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (ep->db != 0) {
		r = redisCommand(c, "SELECT %d", ep->db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			error_set(err, rc, "REDIS", "cannot select db %d",
			    ep->db);
			goto out;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (ping && (r = redisCommand(c, "PING")) == NULL) {
		error_set(err, ERR_TRANSIENT, "REDIS",
		    "cannot connect to redis: %s", c->errstr);
		rc = ERR_TRANSIENT;
		goto out;
	}
	rc = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

int
endpoint_connect(redisContext **out, const struct endpoint *ep, int timeout_ms,
    struct error *err)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c;
	int rc = ERR_TRANSIENT;

	/* Never clear text to a rediss:// endpoint: that is endpoint_open. */
	if (ep->tls)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "rediss:// is connected through endpoint_open");
	c = ep->path != NULL ? redisConnectUnixWithTimeout(ep->path, tv)
	                     : redisConnectWithTimeout(ep->host, ep->port, tv);
	if (c == NULL || c->err) {
		error_set(err, rc, "REDIS", "cannot connect to redis: %s",
		    c ? c->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(c, tv);
	if ((rc = endpoint_setup(c, ep, false, err)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c != NULL)
		redisFree(c);
	return rc;
}

/* ------------------------------------------------------ redis+sentinel */

/* The settings sentinel-master and sentinel-password (see endpoint.h). */
static char *endpoint_default_master;
static char *endpoint_default_sentinel_password;

void
endpoint_sentinel_defaults(const char *master, const char *password)
{
	free(endpoint_default_master);
	free(endpoint_default_sentinel_password);
	endpoint_default_master =
	    master != NULL && *master != '\0' ? xstrdup(master) : NULL;
	endpoint_default_sentinel_password =
	    password != NULL && *password != '\0' ? xstrdup(password) : NULL;
}

/* One host[:port] or [v6]:port of a node list, n bytes at s; what names
 * the URL's scheme in messages, defport when no port is given. */
static int
endpoint_parse_node(struct endpoint_node *node, const char *s, size_t n,
    const char *what, const char *noun, int defport, struct error *err)
{
	const char *end = s + n, *port = NULL;
	char num[8];
	long long v = defport;

	if (n > 0 && *s == '[') {
		const char *close = memchr(s, ']', n);

		if (close == NULL || (close + 1 != end && close[1] != ':'))
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad IPv6 %s in %s URL", noun, what);
		node->host = xstrndup(s + 1, (size_t)(close - s - 1));
		port = close + 1 != end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(s, ':', n);

		node->host = xstrndup(s, (size_t)((colon ? colon : end) - s));
		port = colon ? colon + 1 : NULL;
	}
	if (node->host[0] == '\0')
		return error_set(err, ERR_INVALID, "CONFIG",
		    "empty %s host in %s URL", noun, what);
	if (port != NULL) {
		size_t len = (size_t)(end - port);

		if (len == 0 || len >= sizeof(num))
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad %s port in %s URL", noun, what);
		memcpy(num, port, len);
		num[len] = '\0';
		if (util_parse_uint(&v, num, 65535) < 0 || v == 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad %s port in %s URL", noun, what);
	}
	node->port = (int)v;
	return 0;
}

/* The comma-separated node list, n bytes at s, into *nodes (at most max). */
static int
endpoint_parse_nodes(struct endpoint_node **nodes, size_t *count, size_t max,
    const char *s, size_t n, const char *what, const char *noun, int defport,
    struct error *err)
{
	const char *end = s + n;
	int rc;

	if (n == 0)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "%s URL names no %s", what, noun);
	*nodes = xcalloc(max, sizeof(**nodes));
	while (s < end) {
		const char *comma = memchr(s, ',', (size_t)(end - s));
		const char *stop = comma ? comma : end;

		if (*count == max)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "at most %zu %ss in a %s URL", max, noun, what);
		rc = endpoint_parse_node(&(*nodes)[(*count)++], s,
		    (size_t)(stop - s), what, noun, defport, err);
		if (rc < 0)
			return rc;
		s = comma ? comma + 1 : end;
		if (comma != NULL && s == end)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "empty %s in %s URL", noun, what);
	}
	return 0;
}

static bool
endpoint_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > ENDPOINT_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\'' ||
		    s[i] == '\\' || s[i] == '/')
			return false;
	return true;
}

/* The master name and db after the sentinel list: "/<name>[/db]", or
 * nothing when the sentinel-master setting gives the name. */
static int
endpoint_parse_master(struct endpoint *ep, const char *p, struct error *err)
{
	const char *def = endpoint_default_master;
	size_t n = 0;
	long long v;

	if (*p == '/') {
		p++;
		n = strcspn(p, "/");
	}
	if (n == 0 && def == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "redis+sentinel URL needs a master name "
		    "(.../<master-name>, or the sentinel-master setting)");
	if (n > 0 && !endpoint_name_ok(p, n))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "bad master name in redis+sentinel URL (1 to %d printable "
		    "characters, no spaces, quotes or '/')",
		    ENDPOINT_NAME_MAX);
	if (n > 0 && def != NULL && (strlen(def) != n || memcmp(def, p, n)))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "the redis+sentinel URL names master '%.*s' but "
		    "sentinel-master says '%.128s'",
		    (int)n, p, def);
	if (n == 0 && !endpoint_name_ok(def, strlen(def)))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "bad sentinel-master (1 to %d printable characters, no "
		    "spaces, quotes or '/')",
		    ENDPOINT_NAME_MAX);
	ep->master_name = n > 0 ? xstrndup(p, n) : xstrdup(def);
	p += n;
	if (*p == '/' && p[1] != '\0') {
		if (util_parse_uint(&v, p + 1, 1 << 20) < 0)
			return error_set(err, ERR_INVALID, "CONFIG",
			    "bad db number in redis+sentinel URL");
		ep->db = (int)v;
	}
	return 0;
}

static int endpoint_parse_query(struct endpoint *ep, const char *q,
    const struct endpoint_tls *tls, const char *what, struct error *err);

/* redis+sentinel://[user:pass@]host:port[,host:port...]/<master>[/db]:
 * p is past the scheme; tls non-NULL for rediss+sentinel://, whose
 * ?tls-... parameters win over those defaults (the sentinels and the
 * master are both reached over TLS). host/port stay unset until a
 * discovery. */
static int
endpoint_parse_sentinel(struct endpoint *ep, const char *p,
    const struct endpoint_tls *tls, struct error *err)
{
	const char *what = tls ? "rediss+sentinel" : "redis+sentinel";
	const char *query = strchr(p, '?');
	char *path = query ? xstrndup(p, (size_t)(query - p)) : xstrdup(p);
	const char *s = path, *slash = path + strcspn(path, "/");
	const char *at = NULL, *q;
	int rc;

	for (q = s; q < slash; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		endpoint_userinfo(ep, s, at);
		s = at + 1;
	}
	if ((rc = endpoint_parse_nodes(&ep->sentinels, &ep->nsentinels,
	         ENDPOINT_SENTINELS_MAX, s, (size_t)(slash - s), what,
	         "sentinel", 26379, err)) < 0 ||
	    (rc = endpoint_parse_master(ep, slash, err)) < 0 ||
	    (rc = endpoint_parse_query(ep, query ? query : "", tls, what,
	         err)) < 0) {
		free(path);
		endpoint_dispose(ep);
		return rc;
	}
	free(path);
	if (endpoint_default_sentinel_password != NULL)
		ep->sentinel_password =
		    xstrdup(endpoint_default_sentinel_password);
	return 0;
}

/* ------------------------------------------------------- redis+cluster */

static int endpoint_tls_param(struct endpoint_tls *t, const char *s, size_t n,
    struct error *err);
static void endpoint_tls_copy(struct endpoint_tls *to,
    const struct endpoint_tls *from);

/* redis+cluster://[user:pass@]host:port[,host:port...][/0] (p is past the
 * scheme); tls non-NULL for rediss+cluster://, whose ?tls-... parameters
 * win over those defaults. host/port stay unset: cluster.h routes. */
static int
endpoint_parse_cluster(struct endpoint *ep, const char *p,
    const struct endpoint_tls *tls, struct error *err)
{
	const char *what = tls ? "rediss+cluster" : "redis+cluster";
	const char *stop = p + strcspn(p, "/?"), *at = NULL, *q;
	int rc = ERR_INVALID;

	for (q = p; q < stop; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		endpoint_userinfo(ep, p, at);
		p = at + 1;
	}
	if ((rc = endpoint_parse_nodes(&ep->seeds, &ep->nseeds,
	         ENDPOINT_SEEDS_MAX, p, (size_t)(stop - p), what, "node", 6379,
	         err)) < 0)
		goto out;
	q = stop;
	if (*q == '/') {
		/* A cluster serves db 0 only (SELECT is refused there). */
		if (q[1] != '\0' && q[1] != '?' &&
		    (q[1] != '0' || (q[2] != '\0' && q[2] != '?'))) {
			rc = error_set(err, ERR_INVALID, "CONFIG",
			    "a %s URL has no db number (a cluster has db 0 "
			    "only)",
			    what);
			goto out;
		}
		q += strcspn(q, "?");
	}
	rc = endpoint_parse_query(ep, q, tls, what, err);
out:
	if (rc < 0)
		endpoint_dispose(ep);
	return rc;
}

/* The ?tls-... query of rediss+cluster:// and rediss+sentinel:// (q at
 * the '?', or at the end): tls non-NULL for those, and then ep->tls is
 * set and the defaults copied before the parameters are read. Clear-text
 * schemes (tls NULL) take no parameters: a tls-ca-file there would
 * otherwise be ignored and the connection made in clear text. */
static int
endpoint_parse_query(struct endpoint *ep, const char *q,
    const struct endpoint_tls *tls, const char *what, struct error *err)
{
	int rc;

	if (*q == '?' && tls == NULL)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "URL parameters are for rediss%s:// (TLS) only",
		    what + strlen("redis"));
	if (tls != NULL) {
		ep->tls = true;
		endpoint_tls_copy(&ep->tls_opt, tls);
	}
	while (*q == '?' || *q == '&') {
		const char *s = q + 1, *amp = strchr(s, '&');
		size_t n = amp ? (size_t)(amp - s) : strlen(s);

		if (n > 0 &&
		    (rc = endpoint_tls_param(&ep->tls_opt, s, n, err)) < 0)
			return rc;
		q = amp ? amp : s + n;
	}
	return 0;
}

/* ------------------------------------------------------------ rediss */

void
endpoint_tls_defaults(const struct endpoint_tls *t)
{
	struct endpoint_tls *d = &endpoint_default_tls;

	free(d->ca_file);
	free(d->ca_dir);
	free(d->cert_file);
	free(d->key_file);
	memset(d, 0, sizeof(*d));
	if (t == NULL)
		return;
#define ENDPOINT_DUP(s) ((s) != NULL && *(s) != '\0' ? xstrdup(s) : NULL)
	d->ca_file = ENDPOINT_DUP(t->ca_file);
	d->ca_dir = ENDPOINT_DUP(t->ca_dir);
	d->cert_file = ENDPOINT_DUP(t->cert_file);
	d->key_file = ENDPOINT_DUP(t->key_file);
#undef ENDPOINT_DUP
	d->insecure = t->insecure;
}

static void
endpoint_tls_copy(struct endpoint_tls *to, const struct endpoint_tls *from)
{
	to->ca_file = from->ca_file ? xstrdup(from->ca_file) : NULL;
	to->ca_dir = from->ca_dir ? xstrdup(from->ca_dir) : NULL;
	to->cert_file = from->cert_file ? xstrdup(from->cert_file) : NULL;
	to->key_file = from->key_file ? xstrdup(from->key_file) : NULL;
	to->insecure = from->insecure;
}

/* One key=value of a rediss:// query, n bytes at s. */
static int
endpoint_tls_param(struct endpoint_tls *t, const char *s, size_t n,
    struct error *err)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "tls-ca-file", offsetof(struct endpoint_tls, ca_file) },
		{ "tls-ca-dir", offsetof(struct endpoint_tls, ca_dir) },
		{ "tls-cert-file", offsetof(struct endpoint_tls, cert_file) },
		{ "tls-key-file", offsetof(struct endpoint_tls, key_file) },
	};
	const char *eq = memchr(s, '=', n);
	size_t klen = eq ? (size_t)(eq - s) : n, i;
	char *v;

	if (eq == NULL || eq + 1 == s + n)
		return error_set(err, ERR_INVALID, "CONFIG",
		    "rediss URL parameter '%.*s' needs a value",
		    (int)(klen > 64 ? 64 : klen), s);
	v = endpoint_unescape(eq + 1, (size_t)(s + n - eq - 1));
	if (klen == 12 && memcmp(s, "tls-insecure", 12) == 0) {
		bool yes = strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
		           strcmp(v, "1") == 0;

		if (!yes && strcmp(v, "no") != 0 && strcmp(v, "false") != 0 &&
		    strcmp(v, "0") != 0) {
			free(v);
			return error_set(err, ERR_INVALID, "CONFIG",
			    "tls-insecure in a rediss URL is yes or no");
		}
		t->insecure = yes;
		free(v);
		return 0;
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char **field = (char **)((char *)t + keys[i].off);

		if (strlen(keys[i].key) == klen &&
		    memcmp(keys[i].key, s, klen) == 0) {
			free(*field);
			*field = v;
			return 0;
		}
	}
	free(v);
	/* A misspelt tls-ca-file must not be ignored quietly. */
	return error_set(err, ERR_INVALID, "CONFIG",
	    "unknown parameter '%.*s' in rediss URL (tls-ca-file, tls-ca-dir, "
	    "tls-cert-file, tls-key-file, tls-insecure)",
	    (int)(klen > 64 ? 64 : klen), s);
}

/* rediss://...: the redis:// form with tls set, then the query (which
 * wins over defaults). A '?' in a password must be written %3F, as
 * redis-py and every URL parser read it. */
static int
endpoint_parse_tls(struct endpoint *ep, const char *url,
    const struct endpoint_tls *defaults, struct error *err)
{
	const char *q = strchr(url + 9, '?');
	char *plain = xasprintf("redis://%.*s",
	    (int)(q ? (size_t)(q - url - 9) : strlen(url + 9)), url + 9);
	int rc = endpoint_parse(ep, plain, err);

	free(plain);
	if (rc < 0)
		return rc;
	ep->tls = true;
	endpoint_tls_copy(&ep->tls_opt, defaults);
	while (q != NULL && q[1] != '\0') {
		const char *s = q + 1, *amp = strchr(s, '&');
		size_t n = amp ? (size_t)(amp - s) : strlen(s);

		if ((rc = endpoint_tls_param(&ep->tls_opt, s, n, err)) < 0) {
			endpoint_dispose(ep);
			return rc;
		}
		q = amp;
	}
	return 0;
}

int
endpoint_check(const char *url, const struct endpoint_tls *t, struct error *err)
{
	struct endpoint ep;
	int rc;

	if (strncmp(url, "rediss+cluster://", 17) == 0 ||
	    strncmp(url, "rediss+sentinel://", 18) == 0) {
		memset(&ep, 0, sizeof(ep));
		ep.port = 6379;
		rc = url[7] == 'c' ? endpoint_parse_cluster(&ep, url + 17,
		                         t ? t : &endpoint_default_tls, err)
		                   : endpoint_parse_sentinel(&ep, url + 18,
		                         t ? t : &endpoint_default_tls, err);
		if (rc == 0)
			rc = tls_check(&ep.tls_opt, err);
		endpoint_dispose(&ep);
		return rc;
	}
	if (strncmp(url, "rediss://", 9) != 0) {
		if ((rc = endpoint_parse(&ep, url, err)) == 0)
			endpoint_dispose(&ep);
		return rc;
	}
	memset(&ep, 0, sizeof(ep));
	rc = endpoint_parse_tls(&ep, url, t ? t : &endpoint_default_tls, err);
	if (rc < 0)
		return rc;
	rc = tls_check(&ep.tls_opt, err);
	endpoint_dispose(&ep);
	return rc;
}

int
endpoint_open(struct endpoint_conn *out, const struct endpoint *ep,
    int timeout_ms, struct error *err)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct tls_thread *t = NULL;
	redisContext *c = NULL;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	if (!ep->tls)
		return endpoint_connect(&out->c, ep, timeout_ms, err);
	/* The handshake gets 3/4 of the time, so that its own cause, not
	 * hiredis's read timeout, is what a black-holed server reports. */
	if ((rc = tls_thread_start(&t, ep, timeout_ms - timeout_ms / 4, &fd,
	         err)) < 0)
		return rc;
	c = redisConnectFd(fd);
	if (c == NULL || c->err) {
		rc = error_set(err, ERR_TRANSIENT, "REDIS",
		    "cannot connect to redis: %s",
		    c ? c->errstr : "out of memory");
		if (c == NULL)
			close(fd);
		goto fail;
	}
	redisSetTimeout(c, tv);
	if ((rc = endpoint_setup(c, ep, true, err)) < 0)
		goto fail;
	out->c = c;
	out->tls = t;
	return 0;
fail:
	if (c != NULL)
		redisFree(c);
	/* The TLS failure's cause, when there was one, says more. */
	if (tls_thread_finish(t, err) < 0)
		rc = ERR_TRANSIENT;
	return rc;
}

void
endpoint_close(struct endpoint_conn *conn)
{
	if (conn->c != NULL)
		redisFree(conn->c);
	tls_thread_finish(conn->tls, NULL);
	memset(conn, 0, sizeof(*conn));
}
