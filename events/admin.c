/*
 * admin.c - the blocking Redis Streams operations of the command-line
 * tools (emit, replay, dlq), on one synchronous hiredis connection, or
 * with redis+cluster:// on one per master, each command sent to the
 * master of its key's slot (cluster.h follows MOVED and ASK).
 *
 * Every reply is checked for its shape and turned into struct bus_msg
 * entries by the bus's own entry parser (reply_int.h), so the tools see the
 * same fields, caps and errors as the daemon. Commands are sent with
 * redisCommandArgv (lengths given), never formatted, so stream names and
 * values are passed through byte for byte.
 */
#include "events/admin.h"

#include <assert.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "events/cluster.h"
#include "events/endpoint_int.h"
#include "events/fields.h"
#include "events/reply_int.h"
#include "events/sentinel.h"

/* XREAD waits in slices of at most this long: short enough that the
 * socket timeout (admin_connect's timeout_ms, 5 s for the tools) never
 * fires during a wait, long enough not to spin. */
#define ADMIN_BLOCK_MAX_MS 1000
/* Entries per XREAD: the answers a waiting `emit` looks through per
 * slice; more simply wait for the next slice. */
#define ADMIN_READ_COUNT "100"

struct admin {
	redisContext *c;
	struct tls_thread *tls; /* rediss:// (endpoint_open), or NULL */
	int timeout_ms;
	/* redis+cluster:// (c is NULL then): the client, and the endpoint
	 * it borrows */
	struct cluster_client *cluster;
	struct endpoint cluster_ep;
};

int
admin_connect(struct admin **out, const char *url, int timeout_ms,
    struct error *err)
{
	struct endpoint ep = { 0 };
	struct endpoint_conn ec = { 0 };
	struct admin *adm;
	int rc;

	if ((rc = endpoint_parse(&ep, url, err)) < 0)
		goto out;
	if (ep.nseeds > 0) {
		adm = xcalloc(1, sizeof(*adm));
		adm->cluster_ep = ep;
		memset(&ep, 0, sizeof(ep));
		adm->timeout_ms = timeout_ms;
		if ((rc = cluster_client_new(&adm->cluster, &adm->cluster_ep,
		         timeout_ms, err)) < 0) {
			endpoint_dispose(&adm->cluster_ep);
			free(adm);
			goto out;
		}
		*out = adm;
		goto out;
	}
	/* Through Sentinel: discovered once, here (a tool's run is short);
	 * rediss+sentinel:// over TLS to the sentinels and the master. */
	rc = ep.nsentinels > 0 ? sentinel_connect(&ec, &ep, timeout_ms, err)
	                       : endpoint_open(&ec, &ep, timeout_ms, err);
	if (rc < 0)
		goto out;
	adm = xcalloc(1, sizeof(*adm));
	adm->c = ec.c;
	adm->tls = ec.tls;
	adm->timeout_ms = timeout_ms;
	*out = adm;
out:
	endpoint_dispose(&ep);
	return rc;
}

void
admin_free(struct admin *adm)
{
	if (adm == NULL)
		return;
	if (adm->c != NULL) {
		struct endpoint_conn ec = { adm->c, adm->tls };

		endpoint_close(&ec); /* redisFree, then the TLS thread */
	}
	cluster_client_free(adm->cluster);
	endpoint_dispose(&adm->cluster_ep);
	free(adm);
}

void
admin_page_dispose(struct admin_page *page)
{
	size_t i;

	for (i = 0; i < page->n; i++)
		bus_msg_free(page->entries[i]);
	free(page->entries);
	page->entries = NULL;
	page->n = 0;
}

/* The key of a command the tools send: after STREAMS for XREAD, the
 * stream of XGROUP <sub> <stream>, else the first argument. */
static const char *
admin_key(size_t argc, const char **argv)
{
	size_t i;

	if (strcmp(argv[0], "XREAD") == 0) {
		for (i = 1; i + 1 < argc; i++)
			if (strcmp(argv[i], "STREAMS") == 0)
				return argv[i + 1];
	}
	if (strcmp(argv[0], "XGROUP") == 0 && argc > 2)
		return argv[2];
	return argc > 1 ? argv[1] : "";
}

/*
 * Run one command. Returns the reply (caller frees) or NULL with err set:
 * ERR_TRANSIENT when the connection failed, ERR_FAIL for an error reply.
 */
static redisReply *
admin_command(struct admin *adm, const char *what, size_t argc,
    const char **argv, const size_t *lens, struct error *err)
{
	redisReply *r;

	if (adm->cluster != NULL) {
		r = cluster_command(adm->cluster, admin_key(argc, argv),
		    (int)argc, argv, lens, err);
		if (r == NULL)
			return NULL;
	} else {
		r = redisCommandArgv(adm->c, (int)argc, argv, lens);
	}
	if (r == NULL) {
		error_set(err, ERR_TRANSIENT, "REDIS", "%s: %s", what,
		    adm->c->errstr[0] ? adm->c->errstr : "connection lost");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		error_set(err, ERR_FAIL, "REDIS", "%s: %.*s", what,
		    (int)(r->len > 200 ? 200 : r->len), r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Like admin_command with NUL-terminated arguments (at most 8). */
static redisReply *
admin_commandv(struct admin *adm, struct error *err, size_t argc, ...)
{
	const char *argv[8];
	size_t lens[8], i;
	va_list ap;

	assert(argc <= 8);
	va_start(ap, argc);
	for (i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, const char *);
		lens[i] = strlen(argv[i]);
	}
	va_end(ap);
	return admin_command(adm, argv[0], argc, argv, lens, err);
}

static int
admin_rc(const struct error *err)
{
	return err != NULL && err->rc < 0 ? err->rc : ERR_FAIL;
}

/* An XRANGE/XREAD entry list into page (appended). */
static int
admin_parse_entries(struct admin_page *page, const redisReply *list,
    const char *stream, struct error *err)
{
	size_t i;

	if (list->type != REDIS_REPLY_ARRAY)
		return error_set(err, ERR_FAIL, "REDIS",
		    "unexpected reply of type %d for %s", list->type, stream);
	/* Bounded by the COUNT each command sends. */
	page->entries = xrealloc(page->entries,
	    (page->n + list->elements + 1) * sizeof(*page->entries));
	for (i = 0; i < list->elements; i++) {
		struct bus_msg *m = NULL;
		int rc = reply_entry(&m, list->element[i], stream);

		if (rc < 0)
			return error_set(err, ERR_FAIL, "REDIS",
			    "malformed entry in %s", stream);
		page->entries[page->n++] = m;
	}
	return 0;
}

static int
admin_range_cmd(struct admin_page *out, struct admin *adm, const char *cmd,
    const char *stream, const char *a, const char *b, size_t count,
    struct error *err)
{
	struct admin_page page = { 0 };
	char scount[24];
	redisReply *r;
	int rc;

	assert(count >= 1);
	snprintf(scount, sizeof(scount), "%zu", count);
	if ((r = admin_commandv(adm, err, 6, cmd, stream, a, b, "COUNT",
	         scount)) == NULL)
		return admin_rc(err);
	if ((rc = admin_parse_entries(&page, r, stream, err)) < 0)
		admin_page_dispose(&page);
	else
		*out = page;
	freeReplyObject(r);
	return rc;
}

int
admin_range(struct admin_page *out, struct admin *adm, const char *stream,
    const char *start, const char *end, size_t count, struct error *err)
{
	return admin_range_cmd(out, adm, "XRANGE", stream, start, end, count,
	    err);
}

int
admin_get(struct bus_msg **out, struct admin *adm, const char *stream,
    const char *id, struct error *err)
{
	struct admin_page page = { 0 };
	int rc;

	if ((rc = admin_range(&page, adm, stream, id, id, 1, err)) < 0)
		return rc;
	if (page.n != 1 || strcmp(page.entries[0]->id, id) != 0) {
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "no entry %s in %s", id, stream);
	} else {
		*out = page.entries[0];
		page.n = 0;
	}
	admin_page_dispose(&page);
	return rc;
}

int
admin_last_id(char out[ADMIN_ID_MAX], struct admin *adm, const char *stream,
    struct error *err)
{
	struct admin_page page = { 0 };
	int rc;

	if ((rc = admin_range_cmd(&page, adm, "XREVRANGE", stream, "+", "-", 1,
	         err)) < 0)
		return rc;
	if (page.n == 0)
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "stream %s is empty", stream);
	else
		snprintf(out, ADMIN_ID_MAX, "%s", page.entries[0]->id);
	admin_page_dispose(&page);
	return rc;
}

int
admin_delete(struct admin *adm, const char *stream, const char *id,
    struct error *err)
{
	redisReply *r;
	int rc = 0;

	if ((r = admin_commandv(adm, err, 3, "XDEL", stream, id)) == NULL)
		return admin_rc(err);
	if (r->type != REDIS_REPLY_INTEGER)
		rc =
		    error_set(err, ERR_FAIL, "REDIS", "XDEL: unexpected reply");
	else if (r->integer == 0)
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "no entry %s in %s", id, stream);
	freeReplyObject(r);
	return rc;
}

/* An XADD command being built: "XADD stream *" then field/value pairs. */
struct admin_xadd {
	const char **argv;
	size_t *lens;
	size_t argc, cap;
};

static void
admin_xadd_init(struct admin_xadd *x, const char *stream, size_t nfields)
{
	x->cap = 3 + 2 * (nfields + 1);
	x->argv = xcalloc(x->cap, sizeof(*x->argv));
	x->lens = xcalloc(x->cap, sizeof(*x->lens));
	x->argc = 0;
	x->argv[x->argc] = "XADD";
	x->lens[x->argc++] = 4;
	x->argv[x->argc] = stream;
	x->lens[x->argc++] = strlen(stream);
	x->argv[x->argc] = "*";
	x->lens[x->argc++] = 1;
}

static void
admin_xadd_field(struct admin_xadd *x, const char *name, const char *value,
    size_t len)
{
	assert(x->argc + 2 <= x->cap);
	x->argv[x->argc] = name;
	x->lens[x->argc++] = strlen(name);
	x->argv[x->argc] = value;
	x->lens[x->argc++] = len;
}

static void
admin_xadd_dispose(struct admin_xadd *x)
{
	free(x->argv);
	free(x->lens);
}

/* The id an XADD (or EXEC's first result) answered with, into id_out. */
static int
admin_added_id(char id_out[ADMIN_ID_MAX], const redisReply *r,
    struct error *err)
{
	if (r->type != REDIS_REPLY_STRING || r->len >= ADMIN_ID_MAX)
		return error_set(err, ERR_FAIL, "REDIS",
		    "XADD: unexpected reply");
	if (id_out != NULL)
		snprintf(id_out, ADMIN_ID_MAX, "%s", r->str);
	return 0;
}

int
admin_send(char id_out[ADMIN_ID_MAX], struct admin *adm, const char *stream,
    const struct bus_out_event *ev, struct error *err)
{
	struct admin_xadd x;
	redisReply *r;
	int rc;

	admin_xadd_init(&x, stream, 4);
	admin_xadd_field(&x, FIELD_EVENT, ev->json, strlen(ev->json));
	if (ev->event_id != NULL)
		admin_xadd_field(&x, FIELD_EVENT_ID, ev->event_id,
		    strlen(ev->event_id));
	if (ev->event_type != NULL)
		admin_xadd_field(&x, FIELD_EVENT_TYPE, ev->event_type,
		    strlen(ev->event_type));
	if (ev->correlation_id != NULL)
		admin_xadd_field(&x, FIELD_CORRELATION_ID, ev->correlation_id,
		    strlen(ev->correlation_id));
	r = admin_command(adm, "XADD", x.argc, x.argv, x.lens, err);
	rc = r == NULL ? admin_rc(err) : admin_added_id(id_out, r, err);
	if (r != NULL)
		freeReplyObject(r);
	admin_xadd_dispose(&x);
	return rc;
}

static int
admin_check_whole(const struct bus_msg *m, struct error *err)
{
	if (m->nfields_total > m->nfields)
		return error_set(err, ERR_INVALID, "TOO_MANY_FIELDS",
		    "entry %s has %zu fields, limit %d: not copied", m->id,
		    m->nfields_total, REPLY_MAX_FIELDS);
	return 0;
}

int
admin_replay(char id_out[ADMIN_ID_MAX], struct admin *adm,
    const struct bus_msg *entry, struct error *err)
{
	struct admin_xadd x;
	redisReply *r;
	size_t i;
	int rc;

	if ((rc = admin_check_whole(entry, err)) < 0)
		return rc;
	admin_xadd_init(&x, entry->stream, entry->nfields + 1);
	for (i = 0; i < entry->nfields; i++) {
		const struct bus_field *f = &entry->fields[i];

		if (strcmp(f->name, FIELD_REPLAYED_FROM) != 0)
			admin_xadd_field(&x, f->name, f->value, f->value_len);
	}
	admin_xadd_field(&x, FIELD_REPLAYED_FROM, entry->id, strlen(entry->id));
	r = admin_command(adm, "XADD", x.argc, x.argv, x.lens, err);
	rc = r == NULL ? admin_rc(err) : admin_added_id(id_out, r, err);
	if (r != NULL)
		freeReplyObject(r);
	admin_xadd_dispose(&x);
	return rc;
}

bool
admin_is_dead_field(const char *name)
{
	static const char *const names[FIELD_DEAD_COUNT] = FIELD_DEAD_NAMES;
	size_t i;

	for (i = 0; i < FIELD_DEAD_COUNT; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

const char *
admin_redrive_target(const struct bus_msg *letter, const char *fallback)
{
	const char *orig = bus_msg_field(letter, FIELD_DEAD_ORIG_STREAM, NULL);

	return orig != NULL && orig[0] != '\0' ? orig : fallback;
}

/* Read the MULTI/XADD/XDEL/EXEC replies; the id from EXEC's first. */
static int
admin_redrive_replies(char id_out[ADMIN_ID_MAX], struct admin *adm,
    struct error *err)
{
	redisReply *r = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < 4; i++) {
		if (redisGetReply(adm->c, (void **)&r) != REDIS_OK) {
			return error_set(err, ERR_TRANSIENT, "REDIS",
			    "redrive: %s", adm->c->errstr);
		}
		if (rc == 0 && r->type == REDIS_REPLY_ERROR)
			rc = error_set(err, ERR_FAIL, "REDIS", "redrive: %.*s",
			    (int)(r->len > 200 ? 200 : r->len), r->str);
		else if (rc == 0 && i == 3 &&
		         (r->type != REDIS_REPLY_ARRAY || r->elements != 2))
			rc = error_set(err, ERR_FAIL, "REDIS",
			    "redrive: the transaction was not applied");
		else if (rc == 0 && i == 3)
			rc = admin_added_id(id_out, r->element[0], err);
		freeReplyObject(r);
	}
	return rc;
}

/*
 * Redrive in a cluster, where the letter and its target usually live on
 * different slots and MULTI cannot span them: copy first, then delete.
 * Should the delete fail, the letter stays and a second redrive copies it
 * again; the copy carries redriven_from and the store's idempotency
 * answers it as a duplicate. Never the other way round (nothing lost).
 */
static int
admin_redrive_split(char id_out[ADMIN_ID_MAX], struct admin *adm,
    const struct admin_xadd *x, const char *dead, const char *id,
    struct error *err)
{
	redisReply *r;
	int rc;

	r = admin_command(adm, "XADD", x->argc, x->argv, x->lens, err);
	if (r == NULL)
		return admin_rc(err);
	rc = admin_added_id(id_out, r, err);
	freeReplyObject(r);
	if (rc < 0)
		return rc;
	if ((r = admin_commandv(adm, err, 3, "XDEL", dead, id)) == NULL)
		return admin_rc(err);
	freeReplyObject(r);
	return 0;
}

int
admin_redrive(char id_out[ADMIN_ID_MAX], struct admin *adm, const char *dead,
    const struct bus_msg *letter, const char *fallback, struct error *err)
{
	struct admin_xadd x;
	size_t i;
	int rc;

	if ((rc = admin_check_whole(letter, err)) < 0)
		return rc;
	admin_xadd_init(&x, admin_redrive_target(letter, fallback),
	    letter->nfields + 1);
	for (i = 0; i < letter->nfields; i++) {
		const struct bus_field *f = &letter->fields[i];

		if (!admin_is_dead_field(f->name))
			admin_xadd_field(&x, f->name, f->value, f->value_len);
	}
	admin_xadd_field(&x, FIELD_REDRIVEN_FROM, letter->id,
	    strlen(letter->id));
	if (adm->cluster != NULL) {
		rc =
		    admin_redrive_split(id_out, adm, &x, dead, letter->id, err);
		admin_xadd_dispose(&x);
		return rc;
	}
	/* MULTI/EXEC: the copy and the delete happen together or not. */
	redisAppendCommand(adm->c, "MULTI");
	redisAppendCommandArgv(adm->c, (int)x.argc, x.argv, x.lens);
	redisAppendCommand(adm->c, "XDEL %s %s", dead, letter->id);
	redisAppendCommand(adm->c, "EXEC");
	rc = admin_redrive_replies(id_out, adm, err);
	admin_xadd_dispose(&x);
	return rc;
}

int
admin_group_start(struct admin *adm, const char *stream, const char *group,
    const char *after_id, struct error *err)
{
	redisReply *r;

	r = admin_commandv(adm, err, 6, "XGROUP", "CREATE", stream, group,
	    after_id, "MKSTREAM");
	if (r == NULL && err != NULL && err->rc == ERR_FAIL &&
	    strstr(err->msg, "BUSYGROUP") != NULL) {
		error_clear(err);
		r = admin_commandv(adm, err, 5, "XGROUP", "SETID", stream,
		    group, after_id);
	}
	if (r == NULL)
		return admin_rc(err);
	freeReplyObject(r);
	return 0;
}

int
admin_read(struct admin_page *out, struct admin *adm, const char *stream,
    char cursor[ADMIN_ID_MAX], int64_t deadline_ms, struct error *err)
{
	struct admin_page page = { 0 };
	int64_t wait = deadline_ms - util_mono_ms();
	char block[24];
	redisReply *r;
	int rc = 0;

	if (wait <= 0) {
		*out = page;
		return 0;
	}
	/* BLOCK 0 would wait forever; stay under the socket timeout. */
	if (wait > ADMIN_BLOCK_MAX_MS)
		wait = ADMIN_BLOCK_MAX_MS;
	if (wait > adm->timeout_ms / 2)
		wait = adm->timeout_ms / 2 > 0 ? adm->timeout_ms / 2 : 1;
	snprintf(block, sizeof(block), "%" PRId64, wait);
	if ((r = admin_commandv(adm, err, 8, "XREAD", "COUNT", ADMIN_READ_COUNT,
	         "BLOCK", block, "STREAMS", stream, cursor)) == NULL)
		return admin_rc(err);
	/* nil: nothing before the block ran out. */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2)
		rc = admin_parse_entries(&page, r->element[0]->element[1],
		    stream, err);
	else if (r->type != REDIS_REPLY_NIL)
		rc = error_set(err, ERR_FAIL, "REDIS",
		    "XREAD: unexpected reply");
	freeReplyObject(r);
	if (rc < 0) {
		admin_page_dispose(&page);
		return rc;
	}
	if (page.n > 0)
		snprintf(cursor, ADMIN_ID_MAX, "%s",
		    page.entries[page.n - 1]->id);
	*out = page;
	return 0;
}

/* A decimal number of at most 20 digits that fits in 64 bits; [s, e). */
static int
admin_u64(uint64_t *out, const char *s, const char *e)
{
	char buf[24];
	char *end;
	size_t n = (size_t)(e - s);
	const char *p;

	if (n == 0 || n > 20)
		return ERR_INVALID;
	for (p = s; p < e; p++)
		if (*p < '0' || *p > '9')
			return ERR_INVALID;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoull(buf, &end, 10);
	return errno == ERANGE ? ERR_INVALID : 0;
}

/* n decimal digits (already checked) as a number. */
static int
admin_digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* Days in a month of the proleptic Gregorian calendar. */
static int
admin_month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * "YYYY-MM-DD" alone (midnight UTC) or followed by 'T' and a time with a
 * zone (util_parse_iso8601), into epoch ms. The date is checked against
 * the calendar first (util_parse_iso8601 takes any day up to 31).
 */
static int
admin_parse_time(int64_t *ms, const char *v)
{
	char buf[ADMIN_POINT_MAX + 16];
	int y, m, d;
	size_t i;

	for (i = 0; i < 10; i++) {
		bool dash = i == 4 || i == 7;

		if (v[i] == '\0' ||
		    (dash ? v[i] != '-' : (v[i] < '0' || v[i] > '9')))
			return ERR_INVALID;
	}
	y = admin_digits(v, 4);
	m = admin_digits(v + 5, 2);
	d = admin_digits(v + 8, 2);
	if (m < 1 || m > 12 || d < 1 || d > admin_month_days(y, m))
		return ERR_INVALID;
	if (v[10] == '\0')
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", v);
	else if (v[10] == 'T' || v[10] == 't')
		snprintf(buf, sizeof(buf), "%.10sT%s", v, v + 11);
	else
		return ERR_INVALID;
	if (util_parse_iso8601(ms, buf) < 0 || *ms < 0)
		return ERR_INVALID;
	return 0;
}

int
admin_point(char out[ADMIN_ID_MAX], const char *value, bool end,
    struct error *err)
{
	const char *dash;
	uint64_t ms, seq;
	int64_t t;

	if (strnlen(value, ADMIN_POINT_MAX + 1) > ADMIN_POINT_MAX)
		return error_set(err, ERR_INVALID, "USAGE",
		    "a range bound is at most %d characters", ADMIN_POINT_MAX);
	if (strcmp(value, "-") == 0 || strcmp(value, "+") == 0) {
		snprintf(out, ADMIN_ID_MAX, "%s", value);
		return 0;
	}
	dash = strchr(value, '-');
	if (dash != NULL && strchr(dash + 1, '-') == NULL &&
	    admin_u64(&ms, value, dash) == 0 &&
	    admin_u64(&seq, dash + 1, dash + strlen(dash)) == 0) {
		snprintf(out, ADMIN_ID_MAX, "%" PRIu64 "-%" PRIu64, ms, seq);
		return 0;
	}
	if (dash == NULL && admin_u64(&ms, value, value + strlen(value)) == 0)
		goto time;
	if (admin_parse_time(&t, value) == 0) {
		ms = (uint64_t)t;
		goto time;
	}
	return error_set(err, ERR_INVALID, "USAGE",
	    "\"%s\" is not a stream id (1700000000000-0), epoch milliseconds, "
	    "a date (2026-12-03) or a date and time with a zone "
	    "(2026-12-03T14:30:00Z)",
	    value);
time:
	if (end)
		snprintf(out, ADMIN_ID_MAX, "%" PRIu64 "-%" PRIu64, ms,
		    UINT64_MAX);
	else
		snprintf(out, ADMIN_ID_MAX, "%" PRIu64 "-0", ms);
	return 0;
}

void
admin_id_before(char out[ADMIN_ID_MAX], const char *id)
{
	unsigned long long ms, seq = 0;
	char *end;

	if (id[0] < '0' || id[0] > '9') {
		snprintf(out, ADMIN_ID_MAX, "0");
		return;
	}
	ms = strtoull(id, &end, 10);
	if (*end == '-')
		seq = strtoull(end + 1, NULL, 10);
	if (seq > 0)
		snprintf(out, ADMIN_ID_MAX, "%llu-%llu", ms, seq - 1);
	else if (ms > 0)
		snprintf(out, ADMIN_ID_MAX, "%llu-%llu", ms - 1, ULLONG_MAX);
	else
		snprintf(out, ADMIN_ID_MAX, "0");
}
