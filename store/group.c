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
 * The pack itself is written by odb_pack.c, which also folds small
 * packs together now and then (the leader calls it after a write).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/group.h"
#include "store/store_int.h"

/* How long a leader waits for handlers still building their commit:
 * building a tree and a commit takes well under a millisecond, and the
 * wait adds to every event's latency (target p99 < 25 ms, issue 15). */
#define GROUP_WINDOW_US 2000

/* The leader looks for small packs to fold after every this many packs
 * of this process (a directory listing each time; folding itself waits
 * for STORE_PACK_FOLD small packs, odb_pack.c). */
#define GROUP_FOLD_EVERY 16

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

/* Write the batch's objects as one pack (odb_pack.c). */
static int
group_pack_write(git_repository *repo, struct group_ticket *batch,
    struct error *err)
{
	struct store_odb_obj **objs = NULL;
	size_t n = group_collect(&objs, batch);
	int rc = store_pack_write(repo, objs, n, err);

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

/* Fold small packs (leader, g->mu held; dropped meanwhile). A failed
 * fold loses nothing: the old packs stay. */
static void
group_fold(struct store_group *g, git_repository *repo)
{
	struct error err;

	pthread_mutex_unlock(&g->mu);
	error_clear(&err);
	if (store_pack_fold(repo, &err) < 0)
		log_warnx("store_pack_fold_failed error=\"%s\"", err.msg);
	pthread_mutex_lock(&g->mu);
	g->leading = false;
	pthread_cond_broadcast(&g->cv);
}

int
store_group_flush(struct store *st, git_repository *repo, struct error *err)
{
	struct store_group *g = st->group;
	struct group_ticket me = { 0 }, *batch, *t;
	size_t nbatch = 0;
	bool fold;
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
		fold = rc == 0 && ++g->packs % GROUP_FOLD_EVERY == 0;
		g->leading = fold; /* the next group waits for the fold */
		pthread_cond_broadcast(&g->cv);
		if (fold)
			group_fold(g, repo);
	}
	g->writers++;
	pthread_mutex_unlock(&g->mu);
	/* One line per pack (bench/run counts the files written from it). */
	if (nbatch > 0 && me.rc == 0)
		log_info("store_group_pack events=%zu", nbatch);
	if (me.rc < 0) {
		*err = me.err;
		return me.rc;
	}
	store_odb_flushed(repo);
	return 0;
}
