/*
 * group.h - group commit (group.c, odb_mem.c): the objects of events
 * handled close together in one process go to disk as one packfile with
 * one durable flush, before any of those events moves a ref. Private to
 * the store module.
 */
#ifndef STORE_GROUP_H
#define STORE_GROUP_H

#include <git2.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct store;

/* One object held in memory by a handle's backend (odb_mem.c). */
struct store_odb_obj {
	git_oid id;
	git_object_t type;
	size_t len;
	unsigned char *data;
};

/* The process-wide group of a repository path (shared by every store
 * opened on it in this process): taken by store_open, given back by
 * store_free. */
struct store_group;
struct store_group *store_group_get(const char *repo_path);
void store_group_put(struct store_group *g);

/*
 * Start capturing the objects the handle writes in memory (the handle's
 * backend is added on first use) and count the caller as a writer the
 * group may wait for. Returns 0 or ERR_FAIL. store_capture_end drops
 * what was not flushed and stops capturing; it must follow every begin
 * before the handle goes back to the pool, and does nothing when the
 * handle is not capturing (repo may be NULL).
 */
int store_capture_begin(struct store *st, git_repository *repo,
    struct error *err);
void store_capture_end(struct store *st, git_repository *repo);

/*
 * Make every object this handle captured and not yet flushed durable:
 * the caller joins the group; one member (the leader) writes the
 * objects of all members as one pack (fsynced with its index and
 * directory when fsync is on) while the others wait. Returns 0 when the
 * objects are in a pack on disk, or ERR_FAIL / ERR_TRANSIENT (err set):
 * then no ref may point at them.
 */
int store_group_flush(struct store *st, git_repository *repo,
    struct error *err);

/* Test builds (ARTIFACTD_TEST_HOOKS, odb_pack.c): SIGKILL the process when
 * stage (see group.c) is reached the ARTIFACTD_TEST_GROUP_KILL_AFTER-th time
 * and equals ARTIFACTD_TEST_GROUP_KILL. A no-op otherwise. */
void store_group_hook(const char *stage);

/* odb_pack.c: write objects as one pack through libgit2's indexer
 * (durable when fsync is on); returns 0 or ERR_FAIL. */
int store_pack_write(git_repository *repo, struct store_odb_obj **objs,
    size_t n, struct error *err);

/* odb_pack.c: fold the small packs into one when there are too many
 * (see STORE_PACK_FOLD); 0 also when there was nothing to do. */
int store_pack_fold(git_repository *repo, struct error *err);

/* odb_mem.c: the handle's memory backend. store_odb_capture returns 1
 * when the handle was capturing before, 0 when not, or ERR_FAIL. */
int store_odb_capture(git_repository *repo, bool on, struct error *err);
size_t store_odb_pending(git_repository *repo, struct store_odb_obj ***out);
void store_odb_flushed(git_repository *repo);

#endif
