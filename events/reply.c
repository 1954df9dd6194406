/*
 * reply.c - the Redis replies of the bus, checked for their shape and
 * turned into our structs. No I/O and no state: bus.c (asynchronous) and
 * admin.c (blocking) hand replies in, the unit test builds them by hand
 * and fuzz/reply_fuzzer.c decodes them from arbitrary bytes. A reply of an
 * unexpected shape is refused here, never dereferenced: a server (or
 * something that answers on its port) chooses every type and count.
 */
#include "events/reply_int.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/xalloc.h"
#include "events/fields.h"

/* The fields of an entry that we read: kept whatever the field count. */
static bool
reply_field_known(const char *name, size_t len)
{
	static const char *const known[] = { FIELD_EVENT, FIELD_EVENT_ID,
		FIELD_EVENT_TYPE, FIELD_CORRELATION_ID };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == len && memcmp(known[i], name, len) == 0)
			return true;
	return false;
}

static struct bus_msg *
reply_msg_new(const char *stream, const redisReply *id)
{
	struct bus_msg *m = xcalloc(1, sizeof(*m));

	m->stream = xstrdup(stream);
	m->id = xstrndup(id->str, id->len);
	m->deliveries = 1;
	return m;
}

/* Copy the n fields of kv into m: over the cap, the fields we read (the
 * event and its ids) are taken first, wherever they stand, so the handler
 * and the dead letter always have them; the rest fill the remaining room
 * in order. Under the cap, one pass keeps the entry's order. */
static void
reply_copy_fields(struct bus_msg *m, const redisReply *kv, size_t total,
    size_t n)
{
	size_t i;
	int pass;

	m->fields = xcalloc(n ? n : 1, sizeof(*m->fields));
	for (pass = total > n ? 0 : 1; pass < 2; pass++) {
		for (i = 0; i < total && m->nfields < n; i++) {
			const redisReply *k = kv->element[2 * i];
			const redisReply *v = kv->element[2 * i + 1];
			struct bus_field *f = &m->fields[m->nfields];
			bool known = reply_field_known(k->str, k->len);

			if (total > n && known != (pass == 0))
				continue;
			f->name = xstrndup(k->str, k->len);
			f->value = xmalloc(v->len + 1);
			memcpy(f->value, v->str, v->len);
			f->value[v->len] = '\0';
			f->value_len = v->len;
			m->nfields++;
		}
	}
	m->nfields_total = total;
}

int
reply_entry(struct bus_msg **out, const redisReply *entry, const char *stream)
{
	const redisReply *id, *kv;
	struct bus_msg *m;
	size_t i, total;

	if (entry == NULL || entry->type != REDIS_REPLY_ARRAY ||
	    entry->elements != 2)
		return ERR_INVALID;
	id = entry->element[0];
	kv = entry->element[1];
	if (id->type != REDIS_REPLY_STRING || id->len >= REPLY_ID_MAX)
		return ERR_INVALID;
	if (kv->type == REDIS_REPLY_NIL) {
		*out = reply_msg_new(stream, id);
		return 1;
	}
	if (kv->type != REDIS_REPLY_ARRAY || kv->elements % 2 != 0)
		return ERR_INVALID;
	for (i = 0; i < kv->elements; i++)
		if (kv->element[i]->type != REDIS_REPLY_STRING)
			return ERR_INVALID;
	total = kv->elements / 2;
	m = reply_msg_new(stream, id);
	reply_copy_fields(m, kv, total,
	    total > REPLY_MAX_FIELDS ? REPLY_MAX_FIELDS : total);
	*out = m;
	return 0;
}

const char *
reply_string(const redisReply *r, size_t i, size_t *len)
{
	const redisReply *e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
		return NULL;
	e = r->element[i];
	if (e->type != REDIS_REPLY_STRING)
		return NULL;
	if (len != NULL)
		*len = e->len;
	return e->str;
}

int
reply_stream(struct reply_stream *out, const redisReply *s)
{
	struct reply_stream rs = { 0 };
	const redisReply *last;

	if (s == NULL || s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
	    s->element[1]->type != REDIS_REPLY_ARRAY)
		return ERR_INVALID;
	if ((rs.name = reply_string(s, 0, &rs.name_len)) == NULL)
		return ERR_INVALID;
	rs.entries = s->element[1];
	if (rs.entries->elements > 0) {
		/* The cursor of a history read continues after the last
		 * entry, whatever the shape of its body. */
		last = rs.entries->element[rs.entries->elements - 1];
		if (last->type == REDIS_REPLY_ARRAY && last->elements == 2 &&
		    (rs.last_id = reply_string(last, 0, &rs.last_id_len)) !=
		        NULL &&
		    rs.last_id_len >= REPLY_ID_MAX)
			rs.last_id = NULL;
	}
	if (rs.last_id == NULL)
		rs.last_id_len = 0;
	*out = rs;
	return 0;
}

int
reply_autoclaim(struct reply_autoclaim *out, const redisReply *r)
{
	struct reply_autoclaim ac = { 0 };

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[1]->type != REDIS_REPLY_ARRAY)
		return ERR_INVALID;
	/* A cursor we could not send back whole would restart or skip the
	 * scan of the PEL: refuse the reply instead. */
	if ((ac.cursor = reply_string(r, 0, &ac.cursor_len)) == NULL ||
	    ac.cursor_len >= REPLY_ID_MAX)
		return ERR_INVALID;
	ac.entries = r->element[1];
	if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
		ac.deleted = r->element[2];
	*out = ac;
	return 0;
}

long long
reply_pending_count(const redisReply *r, const char *id)
{
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return 0;
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 ||
		    e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[3]->type != REDIS_REPLY_INTEGER)
			continue;
		if (strcmp(e->element[0]->str, id) == 0)
			return e->element[3]->integer;
	}
	return 0;
}

void
reply_groups(const redisReply *r, const char *group, long long *lag,
    long long *pending)
{
	size_t i, j;

	*lag = -1;
	*pending = -1;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i < r->elements; i++) {
		const redisReply *g = r->element[i];
		bool mine = false;
		long long l = -1, p = -1;

		if (g->type != REDIS_REPLY_ARRAY || g->elements % 2 != 0)
			continue;
		for (j = 0; j + 1 < g->elements; j += 2) {
			const redisReply *k = g->element[j];
			const redisReply *v = g->element[j + 1];

			if (k->type != REDIS_REPLY_STRING)
				continue;
			if (strcmp(k->str, "name") == 0 &&
			    v->type == REDIS_REPLY_STRING &&
			    strcmp(v->str, group) == 0)
				mine = true;
			else if (strcmp(k->str, "lag") == 0 &&
			         v->type == REDIS_REPLY_INTEGER)
				l = v->integer;
			else if (strcmp(k->str, "pending") == 0 &&
			         v->type == REDIS_REPLY_INTEGER)
				p = v->integer;
		}
		if (mine) {
			*lag = l;
			*pending = p;
			return;
		}
	}
}

int
reply_message(const redisReply *r, const char **channel, const char **payload,
    size_t *len)
{
	const char *kind;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    (kind = reply_string(r, 0, NULL)) == NULL)
		return ERR_INVALID;
	if (strcmp(kind, "message") != 0 ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return 0;
	*channel = r->element[1]->str;
	*payload = r->element[2]->str;
	*len = r->element[2]->len;
	return 1;
}
