/*
 * group.c - group commit: the objects of the events one process commits
 * close together are written as ONE packfile, made durable with one
 * flush (pack, index, directory), before any of those events moves its
 * branch; then each event updates its refs by compare-and-swap as
 * before, and answers.
 *
 * Leader and followers, as databases do it: a handler that needs its
 * objects on disk (store_group_flush) queues a ticket. If nobody is
 * writing, it becomes the leader: it waits at most GROUP_WINDOW_US for
 * the other handlers that are building a commit right now (the
 * "writers") to queue theirs, takes the whole queue, writes one pack
 * without the lock, and wakes everyone. Tickets queued while a pack is
 * being written form the next group, so under load the group grows by
 * itself with the cost of a flush. The group is per process and per
 * repository path; packs of other processes are written beside ours.
 *
 * The pack is written here, undeltified (each object zlib-compressed,
 * pack format v2), and handed to libgit2's indexer through
 * git_odb_write_pack, which checks every object, writes the .idx, and
 * with GIT_OPT_ENABLE_FSYNC_GITDIR fsyncs the .idx, the .pack and the
 * pack directory (libgit2 1.5 indexer.c git_indexer_commit).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/group.h"
#include "store/store_int.h"

/* How long a leader waits for handlers still building their commit:
 * building a tree and a commit takes well under a millisecond, and the
 * wait adds to every event's latency (target p99 < 25 ms, issue 15). */
#define GROUP_WINDOW_US 2000

/* Objects in one pack. A group is a few events of ~11 objects; a single
 * event of many files is bounded by ODB_MEM_MAX_BYTES. The indexer
 * holds one entry per object; 4 M objects is far beyond any group and
 * below the pack format's 32-bit count. */
#define GROUP_PACK_MAX_OBJECTS (4u * 1024 * 1024)

struct group_ticket {
	struct group_ticket *next;
	struct store_odb_obj **objs; /* borrowed from the waiting handle */
	size_t nobjs;
	bool done;
	int rc;
	struct error err;
};

struct store_group {
	struct store_group *next;
	char *path;
	int refs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct group_ticket *head, **tail;
	bool leading;
	int writers; /* building a commit, not queued */
	unsigned long packs;
};

static pthread_mutex_t group_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store_group *group_registry;

struct store_group *
store_group_get(const char *repo_path)
{
	struct store_group *g;

	pthread_mutex_lock(&group_registry_mu);
	for (g = group_registry; g != NULL; g = g->next)
		if (strcmp(g->path, repo_path) == 0)
			break;
	if (g == NULL) {
		g = xcalloc(1, sizeof(*g));
		g->path = xstrdup(repo_path);
		pthread_mutex_init(&g->mu, NULL);
		pthread_cond_init(&g->cv, NULL);
		g->tail = &g->head;
		g->next = group_registry;
		group_registry = g;
	}
	g->refs++;
	pthread_mutex_unlock(&group_registry_mu);
	return g;
}

void
store_group_put(struct store_group *g)
{
	struct store_group **pp;

	if (g == NULL)
		return;
	pthread_mutex_lock(&group_registry_mu);
	if (--g->refs == 0) {
		for (pp = &group_registry; *pp != g; pp = &(*pp)->next)
			;
		*pp = g->next;
		pthread_mutex_destroy(&g->mu);
		pthread_cond_destroy(&g->cv);
		free(g->path);
		free(g);
	}
	pthread_mutex_unlock(&group_registry_mu);
}

void
store_group_hook(const char *stage)
{
#ifdef ARTIFACTD_TEST_HOOKS
	static atomic_int seen;
	const char *want = getenv("ARTIFACTD_TEST_GROUP_KILL");
	const char *after = getenv("ARTIFACTD_TEST_GROUP_KILL_AFTER");

	if (want == NULL || strcmp(want, stage) != 0)
		return;
	if (atomic_fetch_add(&seen, 1) + 1 >=
	    (after ? strtol(after, NULL, 10) : 1))
		raise(SIGKILL);
#else
	(void)stage;
#endif
}

int
store_capture_begin(struct store *st, git_repository *repo, struct error *err)
{
	int rc;

	if ((rc = store_odb_capture(repo, true, err)) != 0)
		return rc < 0 ? rc : 0; /* failed, or capturing already */
	pthread_mutex_lock(&st->group->mu);
	st->group->writers++;
	pthread_mutex_unlock(&st->group->mu);
	return 0;
}

void
store_capture_end(struct store *st, git_repository *repo)
{
	if (repo == NULL || store_odb_capture(repo, false, NULL) != 1)
		return; /* not capturing: already ended, or never begun */
	pthread_mutex_lock(&st->group->mu);
	st->group->writers--;
	pthread_cond_broadcast(&st->group->cv);
	pthread_mutex_unlock(&st->group->mu);
}

/* Pack bytes, hashed as they go to the indexer. */
struct group_pack {
	git_odb_writepack *wp;
	git_indexer_progress stats;
	EVP_MD_CTX *sha;
};

static int
group_pack_put(struct group_pack *pk, const void *p, size_t n)
{
	if (EVP_DigestUpdate(pk->sha, p, n) != 1)
		return GIT_ERROR;
	return STORE_GIT(pk->wp->append(pk->wp, p, n, &pk->stats));
}

/* One undeltified entry: the type and size header (pack format: 3 type
 * bits and 4 size bits, then 7 size bits a byte), then zlib data. */
static int
group_pack_entry(struct group_pack *pk, const struct store_odb_obj *o)
{
	unsigned char hdr[16], *z;
	uLongf zlen = compressBound((uLong)o->len);
	size_t n = 0, size = o->len;
	int grc;

	hdr[n++] = (unsigned char)(((unsigned)o->type << 4) | (size & 15));
	size >>= 4;
	while (size > 0) {
		hdr[n - 1] |= 0x80;
		hdr[n++] = (unsigned char)(size & 0x7f);
		size >>= 7;
	}
	z = xmalloc(zlen);
	if (compress2(z, &zlen, o->data, (uLong)o->len, Z_BEST_SPEED) != Z_OK) {
		free(z);
		git_error_set_str(GIT_ERROR_ZLIB, "deflate failed");
		return GIT_ERROR;
	}
	if ((grc = group_pack_put(pk, hdr, n)) >= 0)
		grc = group_pack_put(pk, z, zlen);
	free(z);
	return grc;
}

static int
group_oid_cmp(const void *a, const void *b)
{
	return git_oid_cmp(&(*(struct store_odb_obj *const *)a)->id,
	    &(*(struct store_odb_obj *const *)b)->id);
}

/* The objects of every ticket, each once (two events of a group may
 * carry the same file: a pack must not hold an object twice). */
static size_t
group_collect(struct store_odb_obj ***out, struct group_ticket *batch)
{
	struct store_odb_obj **all;
	struct group_ticket *t;
	size_t n = 0, i, k = 0;

	for (t = batch; t != NULL; t = t->next)
		n += t->nobjs;
	all = xcalloc(n > 0 ? n : 1, sizeof(*all));
	for (t = batch; t != NULL; t = t->next)
		for (i = 0; i < t->nobjs; i++)
			all[k++] = t->objs[i];
	qsort(all, n, sizeof(*all), group_oid_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || !git_oid_equal(&all[k - 1]->id, &all[i]->id))
			all[k++] = all[i];
	*out = all;
	return k;
}

/* Write the batch's objects as one pack through libgit2's indexer. */
static int
group_pack_write(git_repository *repo, struct group_ticket *batch,
    struct error *err)
{
	struct group_pack pk = { 0 };
	struct store_odb_obj **objs = NULL;
	unsigned char head[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int sumlen = 0;
	git_odb *odb = NULL;
	size_t i, n = group_collect(&objs, batch);
	int grc = 0, rc = ERR_FAIL;

	if (n == 0) {
		rc = 0;
		goto out;
	}
	if (n > GROUP_PACK_MAX_OBJECTS) {
		rc = error_set(err, ERR_FAIL, "GIT",
		    "group of %zu objects, limit %u", n,
		    GROUP_PACK_MAX_OBJECTS);
		goto out;
	}
	head[8] = (unsigned char)(n >> 24);
	head[9] = (unsigned char)(n >> 16);
	head[10] = (unsigned char)(n >> 8);
	head[11] = (unsigned char)n;
	if ((pk.sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(pk.sha, EVP_sha1(), NULL) != 1) {
		rc = error_set(err, ERR_FAIL, "GIT", "SHA-1 unavailable");
		goto out;
	}
	store_group_hook("pack-begin");
	if ((grc = STORE_GIT(git_repository_odb(&odb, repo))) < 0 ||
	    (grc = STORE_GIT(git_odb_write_pack(&pk.wp, odb, NULL, NULL))) <
	        0 ||
	    (grc = group_pack_put(&pk, head, sizeof(head))) < 0)
		goto fail;
	for (i = 0; i < n && grc >= 0; i++) {
		grc = group_pack_entry(&pk, objs[i]);
		if (i == n / 2)
			store_group_hook("pack-mid");
	}
	if (grc < 0 || EVP_DigestFinal_ex(pk.sha, sum, &sumlen) != 1 ||
	    (grc = STORE_GIT(pk.wp->append(pk.wp, sum, sumlen, &pk.stats))) <
	        0 ||
	    (grc = STORE_GIT(pk.wp->commit(pk.wp, &pk.stats))) < 0)
		goto fail;
	store_group_hook("pack-done");
	rc = 0;
	goto out;
fail:
	rc = store_git_error(err, grc < 0 ? grc : GIT_ERROR, "write pack");
out:
	if (pk.wp != NULL)
		pk.wp->free(pk.wp);
	EVP_MD_CTX_free(pk.sha);
	git_odb_free(odb);
	free(objs);
	return rc;
}

/* Leader: wait for the writers still building (bounded), then take the
 * queue. Called and returns with g->mu held. */
static struct group_ticket *
group_take(struct store_group *g)
{
	struct group_ticket *batch;
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += GROUP_WINDOW_US * 1000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (g->writers > 0 &&
	       pthread_cond_timedwait(&g->cv, &g->mu, &deadline) == 0)
		;
	batch = g->head;
	g->head = NULL;
	g->tail = &g->head;
	return batch;
}

int
store_group_flush(struct store *st, git_repository *repo, struct error *err)
{
	struct store_group *g = st->group;
	struct group_ticket me = { 0 }, *batch, *t;
	size_t nbatch = 0;
	int rc;

	me.nobjs = store_odb_pending(repo, &me.objs);
	if (me.nobjs == 0)
		return 0; /* nothing new: every object is already on disk */
	pthread_mutex_lock(&g->mu);
	g->writers--;
	*g->tail = &me;
	g->tail = &me.next;
	pthread_cond_broadcast(&g->cv);
	while (!me.done) {
		if (g->leading) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		g->leading = true;
		batch = group_take(g);
		pthread_mutex_unlock(&g->mu);
		error_clear(&me.err);
		rc = group_pack_write(repo, batch, &me.err);
		pthread_mutex_lock(&g->mu);
		for (t = batch; t != NULL; t = t->next, nbatch++) {
			t->rc = rc;
			if (t != &me)
				t->err = me.err;
			t->done = true;
		}
		g->packs++;
		g->leading = false;
		pthread_cond_broadcast(&g->cv);
	}
	g->writers++;
	pthread_mutex_unlock(&g->mu);
	if (nbatch > 0)
		log_debug("store_group_pack events=%zu", nbatch);
	if (me.rc < 0) {
		*err = me.err;
		return me.rc;
	}
	store_odb_flushed(repo);
	return 0;
}
