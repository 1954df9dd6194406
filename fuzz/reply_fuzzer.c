/*
 * reply_fuzzer.c - the bus's reply parsers (events/reply.c) on replies
 * decoded from arbitrary bytes.
 *
 * The input is RESP2, the protocol Redis answers in: one reply after the
 * other, each decoded into a tree of hiredis's redisReply structs by the
 * small decoder below (the same shapes hiredis's reader builds: strings
 * NUL-terminated, nil as a reply of type NIL, never a NULL element). The
 * decoder is ours, not hiredis's reader, so that an array count of 2^62
 * is refused here (bounded by the bytes left) instead of being handed to
 * calloc by hiredis 0.14.1, and so nesting is bounded (FUZZ_DEPTH_MAX).
 *
 * Every parser runs on every decoded reply and on each of its elements,
 * as bus.c would on an XREADGROUP, XAUTOCLAIM, XPENDING, XINFO GROUPS or
 * Pub/Sub reply. Beyond "no crash, no leak, no read out of bounds", what
 * they accept is checked: ids and cursors under REPLY_ID_MAX, at most
 * REPLY_MAX_FIELDS fields kept and the event field kept whenever the
 * entry had one.
 */
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "events/fields.h"
#include "events/reply_int.h"
#include "fuzz/fuzzer.h"

/* Deeper than anything Redis sends (XINFO STREAM FULL nests four) and
 * than hiredis 0.14.1 accepts (seven); bounds the decoder's recursion. */
#define FUZZ_DEPTH_MAX 16

struct fuzz_in {
	const char *p;
	const char *end;
};

static void
fuzz_free(redisReply *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->elements; i++)
		fuzz_free(r->element[i]);
	free(r->element);
	free(r->str);
	free(r);
}

/* The bytes up to the next CRLF: [*s, *s + *n); moves past the CRLF. */
static bool
fuzz_line(struct fuzz_in *in, const char **s, size_t *n)
{
	const char *q;

	for (q = in->p; q + 1 < in->end; q++) {
		if (q[0] == '\r' && q[1] == '\n') {
			*s = in->p;
			*n = (size_t)(q - in->p);
			in->p = q + 2;
			return true;
		}
	}
	return false;
}

/* A signed decimal of at most 18 digits (no overflow possible). */
static bool
fuzz_number(const char *s, size_t n, long long *out)
{
	long long v = 0;
	bool neg = n > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;

	if (i == n || n - i > 18)
		return false;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static redisReply *
fuzz_text(int type, const char *s, size_t n)
{
	redisReply *r = xcalloc(1, sizeof(*r));

	r->type = type;
	r->str = xmalloc(n + 1);
	memcpy(r->str, s, n);
	r->str[n] = '\0';
	r->len = n;
	return r;
}

static redisReply *fuzz_decode(struct fuzz_in *in, int depth);

/* The n elements of an array: each takes at least 3 bytes ("+\r\n"), so
 * a count beyond the bytes left is refused before allocating. */
static redisReply *
fuzz_array(struct fuzz_in *in, long long n, int depth)
{
	redisReply *r;
	size_t i;

	if (n < -1 || n > (in->end - in->p) / 3)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	if (n == -1) {
		r->type = REDIS_REPLY_NIL;
		return r;
	}
	r->type = REDIS_REPLY_ARRAY;
	r->element = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*r->element));
	for (i = 0; i < (size_t)n; i++) {
		if ((r->element[i] = fuzz_decode(in, depth + 1)) == NULL) {
			fuzz_free(r);
			return NULL;
		}
		r->elements = i + 1;
	}
	return r;
}

/* One reply, or NULL when the bytes are not RESP2. */
static redisReply *
fuzz_decode(struct fuzz_in *in, int depth)
{
	redisReply *r;
	const char *s;
	size_t n;
	long long v;
	char kind;

	if (depth > FUZZ_DEPTH_MAX || in->p >= in->end)
		return NULL;
	kind = *in->p++;
	if (!fuzz_line(in, &s, &n))
		return NULL;
	switch (kind) {
	case '+':
		return fuzz_text(REDIS_REPLY_STATUS, s, n);
	case '-':
		return fuzz_text(REDIS_REPLY_ERROR, s, n);
	case ':':
		if (!fuzz_number(s, n, &v))
			return NULL;
		r = xcalloc(1, sizeof(*r));
		r->type = REDIS_REPLY_INTEGER;
		r->integer = v;
		return r;
	case '$':
		if (!fuzz_number(s, n, &v) || v < -1)
			return NULL;
		if (v == -1) {
			r = xcalloc(1, sizeof(*r));
			r->type = REDIS_REPLY_NIL;
			return r;
		}
		if (v + 2 > in->end - in->p || in->p[v] != '\r' ||
		    in->p[v + 1] != '\n')
			return NULL;
		r = fuzz_text(REDIS_REPLY_STRING, in->p, (size_t)v);
		in->p += v + 2;
		return r;
	case '*':
		if (!fuzz_number(s, n, &v))
			return NULL;
		return fuzz_array(in, v, depth);
	default:
		return NULL;
	}
}

/* Does the entry's body hold a field named `name`? */
static bool
fuzz_has_field(const redisReply *entry, const char *name)
{
	const redisReply *kv = entry->element[1];
	size_t i;

	for (i = 0; i + 1 < kv->elements; i += 2)
		if (kv->element[i]->len == strlen(name) &&
		    memcmp(kv->element[i]->str, name, kv->element[i]->len) == 0)
			return true;
	return false;
}

static void
fuzz_entry(const redisReply *entry)
{
	struct bus_msg *m = NULL;
	size_t i;
	int rc;

	rc = reply_entry(&m, entry, "s");
	if (rc < 0) {
		if (rc != ERR_INVALID || m != NULL)
			abort();
		return;
	}
	if (m == NULL || strlen(m->id) >= REPLY_ID_MAX ||
	    m->nfields > REPLY_MAX_FIELDS || m->nfields > m->nfields_total)
		abort();
	if (rc == 1 && m->nfields != 0)
		abort();
	for (i = 0; i < m->nfields; i++)
		if (m->fields[i].value[m->fields[i].value_len] != '\0')
			abort();
	/* Over the cap or not, the event is never the field dropped. */
	if (rc == 0 && fuzz_has_field(entry, FIELD_EVENT) &&
	    bus_msg_field(m, FIELD_EVENT, NULL) == NULL) {
		fprintf(stderr, "entry lost its event field\n");
		abort();
	}
	bus_msg_free(m);
}

static void
fuzz_entries(const redisReply *list)
{
	size_t i;

	for (i = 0; i < list->elements; i++)
		fuzz_entry(list->element[i]);
}

static void
fuzz_stream(const redisReply *s)
{
	struct reply_stream rs;

	if (reply_stream(&rs, s) < 0)
		return;
	if (rs.name == NULL || rs.entries == NULL ||
	    rs.entries->type != REDIS_REPLY_ARRAY ||
	    (rs.last_id != NULL && rs.last_id_len >= REPLY_ID_MAX))
		abort();
	fuzz_entries(rs.entries);
}

static void
fuzz_autoclaim(const redisReply *r)
{
	struct reply_autoclaim ac;
	size_t i;

	if (reply_autoclaim(&ac, r) < 0)
		return;
	if (ac.cursor == NULL || ac.cursor_len >= REPLY_ID_MAX ||
	    ac.entries->type != REDIS_REPLY_ARRAY)
		abort();
	for (i = 0; ac.deleted != NULL && i <= ac.deleted->elements; i++)
		(void)reply_string(ac.deleted, i, NULL);
	fuzz_entries(ac.entries);
}

static void
fuzz_one(const redisReply *r)
{
	const char *channel, *payload;
	long long lag, pending;
	size_t i, len;

	fuzz_entry(r);
	fuzz_autoclaim(r);
	fuzz_stream(r);
	(void)reply_pending_count(r, "1-0");
	reply_groups(r, "artifactd", &lag, &pending);
	if (reply_message(r, &channel, &payload, &len) == 1 &&
	    (channel == NULL || payload == NULL || payload[len] != '\0'))
		abort();
	/* An XREADGROUP reply is an array of streams. */
	for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		fuzz_stream(r->element[i]);
		fuzz_entry(r->element[i]);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { (const char *)data, (const char *)data + size };
	redisReply *r;

	while ((r = fuzz_decode(&in, 0)) != NULL) {
		fuzz_one(r);
		fuzz_free(r);
	}
	return 0;
}
