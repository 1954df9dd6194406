/*
 * odb_mem.c - the in-memory object backend each store handle carries
 * at the top of its object database, so that a commit's blobs, trees
 * and commit object go to memory and then to disk as one pack for a
 * whole group of events (group.c) instead of one loose file each.
 *
 * The backend captures only between store_capture_begin and
 * store_capture_end (the commit path); at any other time its write
 * answers GIT_PASSTHROUGH and libgit2 writes the object loose, as
 * before (libgit2 1.5 odb.c git_odb_write tries the next backend while
 * the one before failed). So every other writer (revert, push rebuild,
 * release tags) stays exactly as durable as it was. git_mempack was not
 * used: git_mempack_dump packs each commit with
 * git_packbuilder_insert_commit, i.e. its whole tree, which here is
 * every task directory of the repository (docs/internals/store.md).
 *
 * A handle is used by one thread at a time (store_int.h), so the
 * backend has no lock; the group leader reads another handle's objects
 * only while that handle's thread waits in store_group_flush.
 */
#include <stdlib.h>
#include <string.h>

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>

#include "common/xalloc.h"
#include "store/group.h"
#include "store/store_int.h"

/* Above libgit2's own backends (packed 2, loose 1): the objects of the
 * commit being built are read back from here (the new tree by
 * git_tree_lookup, git_commit_create checking it exists). */
#define ODB_MEM_PRIORITY 1000

/* Bytes one handle keeps in memory before the rest of its objects go
 * loose (still fsynced): an event is at most a few MB of files
 * (envelope limits), but a store_commit called with 80,000 files must
 * not double its memory; past this the commit is correct, only slower.
 */
#define ODB_MEM_MAX_BYTES (64 * 1024 * 1024)

/* Commits on one handle before its object database is opened afresh.
 * libgit2 1.5's pack backend adds the packs it finds on a miss and never
 * drops one (odb_pack.c, pack_backend__refresh), so a long-lived handle
 * kept an entry (and, unbounded by default, an open descriptor) for
 * every pack ever written, also after a fold unlinked it: ~550 bytes of
 * heap per event (tests/unit/store/test_store_memory.c). A fresh
 * database lists only the packs that exist; 64 bounds the stale entries
 * per handle and costs one directory listing per 64 commits. */
#define ODB_MEM_RENEW_AFTER 64

struct odb_mem {
	git_odb_backend parent; /* first: libgit2 hands us this pointer */
	bool capture;
	unsigned captures;           /* since this database was opened */
	struct store_odb_obj **slot; /* open addressing, power of two */
	size_t nslot;
	struct store_odb_obj **list; /* in write order */
	size_t n, cap;
	size_t flushed; /* list[0..flushed) are in a durable pack */
	size_t bytes;
};

static size_t
odb_mem_hash(const git_oid *id, size_t mask)
{
	size_t h;

	memcpy(&h, id->id, sizeof(h));
	return h & mask;
}

static struct store_odb_obj *
odb_mem_find(const struct odb_mem *m, const git_oid *id)
{
	size_t i;

	if (m->n == 0)
		return NULL;
	for (i = odb_mem_hash(id, m->nslot - 1); m->slot[i] != NULL;
	     i = (i + 1) & (m->nslot - 1))
		if (git_oid_equal(&m->slot[i]->id, id))
			return m->slot[i];
	return NULL;
}

static void
odb_mem_slot_put(struct odb_mem *m, struct store_odb_obj *o)
{
	size_t i = odb_mem_hash(&o->id, m->nslot - 1);

	while (m->slot[i] != NULL)
		i = (i + 1) & (m->nslot - 1);
	m->slot[i] = o;
}

/* Keep the table at most half full. */
static void
odb_mem_grow(struct odb_mem *m)
{
	size_t i;

	if (m->n + 1 <= m->nslot / 2)
		return;
	m->nslot = m->nslot ? m->nslot * 2 : 64;
	free(m->slot);
	m->slot = xcalloc(m->nslot, sizeof(*m->slot));
	for (i = 0; i < m->n; i++)
		odb_mem_slot_put(m, m->list[i]);
}

static int
odb_mem_write(git_odb_backend *b, const git_oid *id, const void *data,
    size_t len, git_object_t type)
{
	struct odb_mem *m = (struct odb_mem *)b;
	struct store_odb_obj *o;

	if (!m->capture || m->bytes + len > ODB_MEM_MAX_BYTES)
		return GIT_PASSTHROUGH;
	if (odb_mem_find(m, id) != NULL)
		return 0;
	odb_mem_grow(m);
	o = xcalloc(1, sizeof(*o));
	git_oid_cpy(&o->id, id);
	o->type = type;
	o->len = len;
	o->data = xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(o->data, data, len);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 32;
		m->list = xrealloc(m->list, m->cap * sizeof(*m->list));
	}
	m->list[m->n++] = o;
	odb_mem_slot_put(m, o);
	m->bytes += len;
	return 0;
}

static int
odb_mem_read(void **out, size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	struct store_odb_obj *o = odb_mem_find((struct odb_mem *)b, id);

	if (o == NULL)
		return GIT_ENOTFOUND;
	if ((*out = git_odb_backend_data_alloc(b, o->len + 1)) == NULL)
		return GIT_ERROR;
	memcpy(*out, o->data, o->len);
	((char *)*out)[o->len] = '\0';
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
odb_mem_read_header(size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *id)
{
	struct store_odb_obj *o = odb_mem_find((struct odb_mem *)b, id);

	if (o == NULL)
		return GIT_ENOTFOUND;
	*len = o->len;
	*type = o->type;
	return 0;
}

static int
odb_mem_exists(git_odb_backend *b, const git_oid *id)
{
	return odb_mem_find((struct odb_mem *)b, id) != NULL;
}

static void
odb_mem_clear(struct odb_mem *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->list[i]->data);
		free(m->list[i]);
	}
	if (m->nslot > 0)
		memset(m->slot, 0, m->nslot * sizeof(*m->slot));
	m->n = 0;
	m->flushed = 0;
	m->bytes = 0;
}

static void
odb_mem_free(git_odb_backend *b)
{
	struct odb_mem *m = (struct odb_mem *)b;

	odb_mem_clear(m);
	free(m->slot);
	free(m->list);
	free(m);
}

/* The handle's backend, added on first use (a handle lives as long as
 * the store's pool). Returns NULL with err set on a libgit2 failure. */
static struct odb_mem *
odb_mem_of(git_repository *repo, bool add, struct error *err)
{
	git_odb *odb = NULL;
	git_odb_backend *b = NULL;
	struct odb_mem *m = NULL;
	size_t i, n;
	int grc;

	if ((grc = STORE_GIT(git_repository_odb(&odb, repo))) < 0) {
		if (err != NULL)
			store_git_error(err, grc, "open object database");
		return NULL;
	}
	n = git_odb_num_backends(odb);
	for (i = 0; i < n && m == NULL; i++)
		if (git_odb_get_backend(&b, odb, i) == 0 &&
		    b->free == odb_mem_free)
			m = (struct odb_mem *)b;
	if (m == NULL && add) {
		m = xcalloc(1, sizeof(*m));
		(void)git_odb_init_backend(&m->parent, GIT_ODB_BACKEND_VERSION);
		m->parent.read = odb_mem_read;
		m->parent.read_header = odb_mem_read_header;
		m->parent.write = odb_mem_write;
		m->parent.exists = odb_mem_exists;
		m->parent.free = odb_mem_free;
		if ((grc = STORE_GIT(git_odb_add_backend(odb, &m->parent,
		         ODB_MEM_PRIORITY))) < 0) {
			free(m);
			m = NULL;
			if (err != NULL)
				store_git_error(err, grc, "add memory backend");
		}
	}
	git_error_clear();
	git_odb_free(odb);
	return m;
}

/* Give the handle a freshly opened object database (see
 * ODB_MEM_RENEW_AFTER); the old one and its backends, ours included,
 * are freed with their last reference. */
static int
odb_mem_renew(git_repository *repo, struct error *err)
{
	git_odb *fresh = NULL;
	char *dir = xasprintf("%sobjects", git_repository_path(repo));
	int grc;

	if ((grc = STORE_GIT(git_odb_open(&fresh, dir))) == 0)
		grc = STORE_GIT(git_repository_set_odb(repo, fresh));
	git_odb_free(fresh);
	free(dir);
	return grc < 0 ? store_git_error(err, grc, "reopen object database")
	               : 0;
}

int
store_odb_capture(git_repository *repo, bool on, struct error *err)
{
	struct odb_mem *m = odb_mem_of(repo, on, err);
	bool was;

	if (m != NULL && on && !m->capture &&
	    ++m->captures >= ODB_MEM_RENEW_AFTER) {
		if (odb_mem_renew(repo, err) < 0)
			return ERR_FAIL;
		m = odb_mem_of(repo, true, err);
	}
	if (m == NULL)
		return on ? ERR_FAIL : 0;
	was = m->capture;
	if (!on)
		odb_mem_clear(m);
	m->capture = on;
	return was ? 1 : 0;
}

size_t
store_odb_pending(git_repository *repo, struct store_odb_obj ***out)
{
	struct odb_mem *m = odb_mem_of(repo, false, NULL);

	if (m == NULL) {
		*out = NULL;
		return 0;
	}
	*out = m->list + m->flushed;
	return m->n - m->flushed;
}

void
store_odb_flushed(git_repository *repo)
{
	struct odb_mem *m = odb_mem_of(repo, false, NULL);

	if (m != NULL)
		m->flushed = m->n;
}
