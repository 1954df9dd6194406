/*
 * unpublish_item.c - the items of a rollback and the one request every
 * file-like rollback makes (a DELETE that finds 2xx or 404), shared by
 * unpublish.c and the per-target files (unpublish_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "publishers/http.h"
#include "publishers/unpublish_int.h"

const char *
unpublish_status_name(enum unpublish_status s)
{
	switch (s) {
	case UNPUBLISH_REMOVED:
		return "removed";
	case UNPUBLISH_UNLISTED:
		return "unlisted";
	case UNPUBLISH_ABSENT:
		return "absent";
	case UNPUBLISH_WOULD_REMOVE:
		return "would_remove";
	case UNPUBLISH_WOULD_UNLIST:
		return "would_unlist";
	case UNPUBLISH_MANUAL:
		return "manual";
	}
	return "unknown";
}

struct unpublish_item *
unpublish_item_add(struct unpublish_result *out, const char *target,
    const char *what, enum unpublish_status status, const char *url)
{
	struct unpublish_item *it;

	out->items = xrealloc(out->items, (out->n + 1) * sizeof(*out->items));
	it = &out->items[out->n++];
	memset(it, 0, sizeof(*it));
	it->target = xstrdup(target);
	it->what = xstrdup(what ? what : "");
	it->status = status;
	snprintf(it->url, sizeof(it->url), "%s", url ? url : "");
	error_clear(&it->err);
	log_info("unpublish_item target=%s what=\"%s\" status=%s", target,
	    it->what, unpublish_status_name(status));
	return it;
}

int
unpublish_item_fail(struct unpublish_result *out, const char *target,
    const char *what, int rc, const struct error *err)
{
	struct unpublish_item *it =
	    unpublish_item_add(out, target, what, UNPUBLISH_ABSENT, NULL);

	it->rc = rc;
	it->err = *err;
	log_warnx("unpublish_failed target=%s what=\"%s\" code=%s "
	          "error=\"%s\"",
	    target, it->what, err->code, err->msg);
	return rc;
}

int
unpublish_http_delete(enum unpublish_status *st, const char *url,
    const char *const *hdrs, const char *what, struct error *err)
{
	struct http_request req = { 0 };
	struct http_response resp;
	int rc;

	http_response_init(&resp);
	req.method = "DELETE";
	req.url = url;
	req.headers = hdrs;
	req.what = what;
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status >= 200 && resp.status < 300)
		*st = UNPUBLISH_REMOVED;
	else if (resp.status == 404 || resp.status == 410)
		*st = UNPUBLISH_ABSENT;
	else
		rc = http_status_error(&resp, what, err);
out:
	http_response_dispose(&resp);
	return rc;
}

/* A name from SHA256SUMS that stays inside the release's directory. */
static bool
sums_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > UNPUBLISH_NAME_MAX ||
	    (n <= 2 && s[0] == '.' && (n == 1 || s[1] == '.')))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == '\\' || (unsigned char)s[i] < 0x20 ||
		    s[i] == 0x7f)
			return false;
	return true;
}

int
unpublish_sums_each(const char *text, size_t len, const char *target,
    int (*fn)(void *arg, const char *name), void *arg)
{
	const char *p = text, *end = text + len;
	size_t lines = 0;
	int rc = 0, r;

	while (p < end && lines < RELEASE_MAX_FILES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *sp = memchr(p, ' ', (size_t)(le - p));
		char name[UNPUBLISH_NAME_MAX + 8];
		size_t n;

		lines++;
		if (sp != NULL && sp + 1 < le && (sp[1] == ' ' || sp[1] == '*'))
			sp += 2;
		else
			sp = NULL;
		n = sp ? (size_t)(le - sp) : 0;
		if (sp == NULL || !sums_name_ok(sp, n)) {
			log_warnx("unpublish_sums_line_refused target=%s "
			          "line=%zu",
			    target, lines);
		} else {
			memcpy(name, sp, n);
			name[n] = '\0';
			if ((r = fn(arg, name)) < 0)
				rc = r;
			snprintf(name + n, sizeof(name) - n, ".sha256");
			if ((r = fn(arg, name)) < 0)
				rc = r;
		}
		p = nl ? nl + 1 : end;
	}
	return rc;
}
