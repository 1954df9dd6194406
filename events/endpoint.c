/*
 * endpoint.c - parse the Redis URL; blocking connections for tools.
 */
#include "events/endpoint_int.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/util.h"
#include "common/xalloc.h"

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

int
endpoint_parse(struct endpoint *ep, const char *url, struct error *err)
{
	const char *p, *at, *slash, *colon, *q;
	long long v;

	memset(ep, 0, sizeof(*ep));
	ep->port = 6379;
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
		    "redis URL must start with redis:// or unix://");
	p = url + 8;
	slash = strchr(p, '/');
	at = strrchr(p, '@');
	if (at != NULL && slash != NULL && at > slash)
		at = NULL;
	if (at != NULL) {
		colon = memchr(p, ':', (size_t)(at - p));
		if (colon != NULL) {
			if (colon > p)
				ep->user =
				    endpoint_unescape(p, (size_t)(colon - p));
			ep->password = endpoint_unescape(colon + 1,
			    (size_t)(at - colon - 1));
		} else {
			/* redis://password@host, as redis-py accepts */
			ep->password = endpoint_unescape(p, (size_t)(at - p));
		}
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
	free(ep->host);
	free(ep->path);
	free(ep->user);
	free(ep->password);
	memset(ep, 0, sizeof(*ep));
}

int
endpoint_connect(redisContext **out, const struct endpoint *ep, int timeout_ms,
    struct error *err)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c;
	redisReply *r = NULL;
	int rc = ERR_TRANSIENT;

	c = ep->path != NULL ? redisConnectUnixWithTimeout(ep->path, tv)
	                     : redisConnectWithTimeout(ep->host, ep->port, tv);
	if (c == NULL || c->err) {
		error_set(err, rc, "REDIS", "cannot connect to redis: %s",
		    c ? c->errstr : "out of memory");
		goto fail;
	}
	redisSetTimeout(c, tv);
	if (ep->password != NULL) {
		if (ep->user != NULL)
			r = redisCommand(c, "AUTH %s %s", ep->user,
			    ep->password);
		else
			r = redisCommand(c, "AUTH %s", ep->password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			rc = ERR_FAIL;
			error_set(err, rc, "AUTH",
			    "redis refused the credentials");
			goto fail;
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (ep->db != 0) {
		r = redisCommand(c, "SELECT %d", ep->db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			rc = ERR_FAIL;
			error_set(err, rc, "REDIS", "cannot select db %d",
			    ep->db);
			goto fail;
		}
		freeReplyObject(r);
	}
	*out = c;
	return 0;
fail:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return rc;
}
