/*
 * store_int.h - what the files of the store module share and nobody else
 * sees: the struct store itself, the pool of per-thread libgit2 handles,
 * commit-message trailers, ref-name helpers and the push helper process.
 *
 * Which file owns what, and who may call whom, is the file map in
 * docs/internals/store.md: repo.c (handles, libgit2 errors, names) at
 * the bottom; open.c; commit.c and store_query.c; push.c over
 * push_child.c (the helper and its children) and push_rebuild.c;
 * commit_write.c the one writer of commit and tag objects.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include <errno.h>
#include <git2.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "store/group.h"
#include "store/store.h"

struct sign_key;

/* Compare-and-swap attempts on one ref before giving up with
 * ERR_TRANSIENT. The research note measured about 4 retries per commit
 * with 4 processes on one branch (store.md 1.4); 200 leaves two orders of
 * magnitude of headroom while still bounding a stuck lock to a few
 * seconds (backoff is capped at STORE_BACKOFF_MAX_MS). */
#define STORE_CAS_ATTEMPTS 200
#define STORE_BACKOFF_MAX_MS 25

/* A ref lock older than this, met after this many lost attempts, was
 * left by a killed process (store.md 1.4: libgit2 never waits on a lock
 * and never removes a stale one) and is removed. */
#define STORE_STALE_LOCK_S 60
#define STORE_STALE_LOCK_AFTER 20

/* How many commits of a branch are searched for an Event-Id trailer.
 * Redeliveries come minutes, not thousands of commits, after the
 * original; a per-task branch rarely has more than a handful. */
#define STORE_DEDUPE_WALK 200

/* Push attempts when the remote moved under us (store.md 2.5). */
#define STORE_PUSH_ATTEMPTS 5

/* Credential callback calls per connection: libgit2 asks again forever
 * on a rejected credential (store.md 2.2). */
#define STORE_CRED_ATTEMPTS 3

/* Limits on what we read back from git (metadata.json, messages). */
#define STORE_METADATA_MAX (1024 * 1024)

/* A repository path or a file name of one artifact longer than this is
 * refused: git handles more, but no sane artifact needs it and every ref
 * and path we build stays well under PATH_MAX. */
#define STORE_NAME_MAX 512

/* The push protocol between push.c and the child (push_child.c): the
 * request is a few ref names; the reply lists only problem refs, at most
 * every ref of a 100k-ref repository (about 8 MB). */
#define PUSH_REQUEST_MAX (1024 * 1024)
#define PUSH_REPLY_MAX (16 * 1024 * 1024)

struct store {
	/* Copies of the options; the strings below are owned. */
	struct store_opts opts;
	char *push_url; /* remote_url, or the URL of remote `remote_name` */

	/* Idle libgit2 handles: a git_repository is not thread-safe
	 * (store.md 1.9), so each call takes one for itself. */
	pthread_mutex_t pool_lock;
	git_repository **pool;
	size_t npool;
	size_t cappool;

	/* The push helper: a process forked at store_open, while the
	 * caller has no libgit2 threads yet, that forks one short-lived
	 * child per push (store_push.c). */
	pthread_mutex_t helper_lock;
	int helper_fd;
	pid_t helper_pid;

	/* The signing key (opts.signing_key), or NULL: every commit and tag
	 * object goes through commit_write.c, which signs with it. */
	struct sign_key *signer;
	char *consumer; /* opts.consumer, owned */

	/* This process's group committer for repo_path (group.c). */
	struct store_group *group;

	/* The refs waiting for the next coalesced push (push_batch.c),
	 * made on first use. */
	struct push_batch *batch;
};

/* The trailers of one of our commits; empty strings when absent. */
struct store_trailers {
	char event_id[160];
	char correlation_id[160];
	char workflow_id[160];
	char task_id[160];
	char prompt_hash[160];
	char reverted_to[160];
};

/* Take an idle repository handle (opening one if none is idle) and give
 * it back. Returns 0 or ERR_FAIL. */
int store_repo_acquire(struct store *st, git_repository **out,
    struct error *err);
void store_repo_release(struct store *st, git_repository *repo);

/*
 * Run one libgit2 call with the thread's last error cleared first. libgit2
 * keeps its error per thread and never clears it on success, so without
 * this a call that fails without setting one (or a failure reported
 * after tolerated ones) showed the text of an earlier call - on a pooled
 * thread, another event's. errno is zeroed too, so that a failure
 * without a message can still name this call's system error. Every call
 * whose failure goes to
 * store_git_error() or store_git_message() is wrapped:
 *	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, id))) < 0)
 *		return store_git_error(err, grc, "read commit");
 */
#define STORE_GIT(call) (git_error_clear(), errno = 0, (call))

/*
 * Fill err from libgit2's last error, redacted (libgit2 quotes the raw
 * remote URL in some messages) and then cleared; returns ERR_FAIL (code
 * GIT), or ERR_TRANSIENT for lock contention.
 */
int store_git_error(struct error *err, int grc, const char *what);

/* The redacted text of libgit2's last error for a call that returned
 * grc, into msg (size bytes); the error is cleared. Never empty. */
void store_git_message(char *msg, size_t size, int grc);

/* Parse the trailers of a commit message. */
void store_trailers_parse(struct store_trailers *t, const char *msg);

/* "refs/heads/<prefix>/<wf>/<task>" and the short form, caller frees. */
char *store_branch_ref(const struct store *st, const char *wf,
    const char *task);

/* Tag names: "corr_<id>" (or the id itself when it already starts with
 * "corr_", as the seed's examples do), "prompt_<hash>". Caller frees. */
char *store_corr_tag(const char *correlation_id);
char *store_prompt_tag(const char *prompt_hash);

/* The task directory from path_template, caller frees. */
char *store_task_dir(const struct store *st, const char *wf, const char *task);

/* Sleep a jittered, growing delay for CAS attempt n (0-based). */
void store_backoff(int attempt);

/* Remove refs/...'s lock file if it is stale (see above); attempt is the
 * count of lost attempts so far. */
void store_lock_check(git_repository *repo, const char *ref, int attempt);

/* Peel refs/... to a commit id. Returns 0, ERR_NOTFOUND or ERR_FAIL. */
int store_ref_commit(git_oid *out, git_repository *repo, const char *ref,
    struct error *err);

/* Read the metadata file at `path` of commit `cid` as JSON (owned by the
 * caller). Returns 0, ERR_NOTFOUND or ERR_FAIL. */
int store_read_metadata(cJSON **out, git_repository *repo, const git_oid *cid,
    const char *path, struct error *err);

/* Helper process lifecycle (push_child.c). */
int store_helper_start(struct store *st, struct error *err);
void store_helper_stop(struct store *st);

/* Fetch the remote's branches and tags into a fresh repository (used by
 * store_open when the directory was missing or empty). */
int store_clone_fetch(struct store *st, struct error *err);

/*
 * Run one operation of push_child.c's protocol (op "release": the
 * branch and the tag in one push, nothing rebuilt) on refs in a child
 * under the push deadline. text gets the child's lines; the caller
 * disposes of it, also on failure. Returns 0 when the child said
 * "done 0", else ERR_TRANSIENT (network, timeout) or ERR_FAIL (AUTH).
 */
struct buf;
int store_push_op(struct store *st, const char *op, char *const *refs,
    size_t nrefs, struct buf *text, struct error *err);

/*
 * Push `branch_ref` then `tags` to the push URL, rebuilding our commits
 * on the remote tip when the remote moved (bounded). On success the local
 * branch may have been rebuilt: *new_tip (may be NULL) gets its final
 * commit. Returns 0 when the branch and every tag that is ours are on the
 * remote; ERR_TRANSIENT otherwise (err says why).
 */
int store_push_branch(struct store *st, git_repository *repo,
    const char *branch_ref, char **tags, size_t ntags, git_oid *new_tip,
    struct error *err);

/*
 * Push refs (several events' branches and tags) in one push, rebuilding
 * branches the remote moved and retrying the refs still open, bounded.
 * *open (caller frees with store_push_refs_free) lists the refs not on
 * the remote at the end (all of the last attempt's when the push itself
 * failed). Returns 0 when none is open, else ERR_TRANSIENT or ERR_FAIL.
 */
int store_push_refs(struct store *st, git_repository *repo, char *const *refs,
    size_t nrefs, char ***open, size_t *nopen, struct error *err);
void store_push_refs_free(char **refs, size_t n);

/*
 * store_push_branch through the store's coalescing pusher (push_batch.c):
 * the refs join those of other events ready within opts.push_window_ms
 * and the call returns once their push is known, with the same result
 * as store_push_branch for these refs alone. Window 0: store_push_branch.
 */
int store_push_batched(struct store *st, git_repository *repo,
    const char *branch_ref, char **tags, size_t ntags, git_oid *new_tip,
    struct error *err);
void store_push_batch_free(struct store *st);

/*
 * The remote's tip of branch_ref is `remote` (fetched by the push
 * child): make the local branch a descendant of it, replaying our
 * commits on top (push_rebuild.c). Returns 0 (also when the branch moved
 * under us meanwhile: the next push attempt starts over) or ERR_FAIL.
 */
int store_push_rebuild(git_repository *repo, const struct store *st,
    const char *branch_ref, const git_oid *remote, struct error *err);

/*
 * Every commit the store writes goes through this (commit_write.c): with
 * a signing key it carries an SSHSIG in its gpgsig header, so no caller
 * can forget to sign. Arguments as git_commit_create without update_ref.
 * Returns 0 (*out set) or ERR_FAIL (code GIT or SIGN).
 */
int store_commit_write(git_oid *out, git_repository *repo,
    const struct store *st, const git_signature *author,
    const git_signature *committer, const char *encoding, const char *message,
    const git_tree *tree, size_t nparents, const git_commit **parents,
    struct error *err);

/*
 * Every annotated tag object likewise (no ref is written): signed as git
 * verify-tag's ssh format expects, the signature after the message.
 * Returns 0 or ERR_FAIL.
 */
int store_tag_write(git_oid *out, git_repository *repo, const struct store *st,
    const char *name, const git_object *target, const git_signature *tagger,
    const char *message, struct error *err);

/* Cut a tag's signature off its message (in place), for reading notes
 * back from a signed tag. */
void store_tag_message_strip(char *msg);

#endif
