/*
 * store.h - the git artifact store (seed 003) on libgit2.
 *
 * A struct store wraps one git repository (bare, created or cloned when
 * missing). Commits are built from blobs and trees in the object database,
 * never through a working tree, and every ref write is a compare-and-swap,
 * so many threads and processes may share one repository. All calls on
 * one struct store are thread-safe: each thread uses its own libgit2
 * repository handle internally.
 *
 * Git itself is the record of what was done: every commit message ends
 * with Event-Id / Correlation-Id / Workflow-Id / Task-Id trailers, so a
 * redelivered event is recognised from the repository alone.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

struct store;
struct scanner;

/* How the push child authenticates (worker/config.c reads these from the
 * settings table: ARTIFACTD_GIT_*, secrets also as NAME_FILE). Each may be
 * NULL. The store copies them and wipes its copies of the secrets. */
struct store_creds {
	const char *username;       /* default "x-access-token" with a token */
	const char *token;          /* secret: HTTPS token */
	const char *password;       /* secret: HTTPS password */
	const char *ssh_key;        /* path of the private key file */
	const char *ssh_pubkey;     /* path of its public key, optional */
	const char *ssh_passphrase; /* secret: the key's passphrase */
	const char *ssh_host_key;   /* "SHA256:..." pin of an unknown host */
};

struct store_opts {
	const char *repo_path;         /* ARTIFACTD_REPO */
	const char *remote_url;        /* ARTIFACTD_REMOTE_URL, NULL: no push */
	const char *remote_name;       /* GIT_REMOTE_NAME, "origin" */
	const char *base_branch;       /* "main" */
	const char *branch_prefix;     /* "ai/generated" */
	const char *path_template;     /* "Backtest/codes/{task_id}" */
	const char *author_name;       /* GIT_AUTHOR_NAME, "algo-agent-bot" */
	const char *author_email;      /* GIT_AUTHOR_EMAIL */
	bool include_metadata;         /* true */
	const char *metadata_filename; /* "metadata.json" */
	bool auto_push;              /* push after each commit when a remote */
	int push_timeout_s;          /* GIT_PUSH_TIMEOUT, 30 */
	bool scan_for_secrets;       /* true */
	struct scanner *scanner;     /* borrowed; NULL: no scanning */
	bool require_correlation_id; /* true */
	struct store_creds creds;    /* push and clone credentials */
	bool fsync; /* fsync objects and refs (about 3x slower commits);
	               off: the remote is the system of record once pushed */
	/* ARTIFACTD_SIGNING_KEY: an OpenSSH ed25519 key file or its text
	 * (store/sign.h), NULL or "": commits are not signed. Loaded by
	 * store_open, which fails (ERR_INVALID, INVALID_CONFIG) when the key
	 * cannot be used; with it every commit and tag is signed and every
	 * artifact commit carries provenance.intoto.json. */
	const char *signing_key;
	const char *consumer; /* recorded in provenance; may be NULL */
	/* ARTIFACTD_PUSH_WINDOW_MS: refs that become ready within this many
	 * ms of each other (across events and branches) go out in one push
	 * (store/push_batch.c); 0: one push per event. */
	int push_window_ms;
	/* Borrowed, may be NULL: use this open store's push helper instead
	 * of forking one (same credentials; it must outlive this store).
	 * worker/repos.c opens stores while handler threads run, when a
	 * fork is no longer safe (store/push_child.c). */
	struct store *push_helper;
	/* A commit's task directory holds exactly its event's files (false:
	 * files of earlier events for the task stay, the old behaviour). */
	bool task_dir_replace;
	/* store_revert restores a commit at most this many first-parent
	 * commits behind the tip of its task branch (seed 003's
	 * max_rollback_depth); 0: no limit. */
	int max_rollback_depth;
};

/* How the push of a commit or a revert went: the answer's `push`. */
enum store_push {
	STORE_PUSH_DISABLED = 0, /* no remote configured, or auto_push off */
	STORE_PUSH_OK,           /* every ref of the event is on the remote */
	STORE_PUSH_FAILED,       /* kept locally; store_push_pending retries */
};

/* "disabled", "ok" or "failed". */
const char *store_push_name(enum store_push p);

/* One file to commit: `name` is its path below the task directory
 * (e.g. "strategy.py"); the bytes are borrowed for the call. */
struct store_file {
	const char *name;
	const char *data;
	size_t len;
};

struct store_commit_req {
	const char *event_id;       /* required: the trailer used for dedupe */
	const char *workflow_id;    /* required, util_id_valid */
	const char *task_id;        /* required, util_id_valid */
	const char *correlation_id; /* may be NULL unless required */
	const char *prompt_hash;    /* may be NULL */
	const char *agent_version;  /* may be NULL */
	const char *llm_version;    /* may be NULL */
	const cJSON *test_metrics;  /* borrowed, may be NULL */
	const cJSON *extra;         /* borrowed object of extra metadata */
	const char *trace_id; /* may be NULL: the Trace-Id trailer (32 hex) */
	const struct store_file *files;
	size_t nfiles;
};

struct store_commit_result {
	char *branch;     /* "ai/generated/<wf>/<task>" */
	char *commit_sha; /* 40 hex */
	char **tags;      /* tags pointing at this commit */
	size_t ntags;
	char **tags_existing; /* wanted tags already on another commit */
	size_t ntags_existing;
	char **files; /* repository paths written, metadata included */
	size_t nfiles;
	bool pushed;          /* push == STORE_PUSH_OK */
	enum store_push push; /* how the push went */
	bool duplicate; /* the event was already committed: nothing written */
};

/*
 * Open the repository at opts->repo_path; create it bare when absent, or
 * clone it from opts->remote_url when that is set and the directory is
 * missing or empty (a clone cut short is resumed by the next open). opts
 * strings are copied. Forks the push helper process that runs every
 * network operation under a hard deadline, so call it before starting
 * threads that use libgit2 (docs/internals/store.md). Returns 0, ERR_FAIL
 * (code AUTH: the remote refused the credentials), ERR_INVALID or
 * ERR_TRANSIENT (remote unreachable or silent during a clone).
 */
int store_open(struct store **out, const struct store_opts *opts,
    struct error *err);

void store_free(struct store *st);

/*
 * A push helper alone, for stores opened later with opts.push_helper
 * set (worker/repos.c): forks it now, so call it before starting threads
 * that use libgit2. creds are read only here. Returns 0 or ERR_FAIL.
 */
int store_helper_open(struct store **out, const struct store_creds *creds,
    struct error *err);
void store_helper_close(struct store *h);

/*
 * Check a remote URL the way libgit2 1.5 will when it connects: a scheme
 * it has a transport for (http, https, ssh, ssh+git, git+ssh, git, file),
 * then the URL parser libgit2 itself uses (http_parser) and a port in
 * 1..65535; or an scp-like "[user@]host:path"; or an existing directory.
 * check-config and run both call it, so they agree. The message names the
 * URL redacted. Returns 0 or ERR_INVALID (code INVALID_CONFIG).
 */
int store_url_check(const char *url, struct error *err);

/*
 * Commit the files and metadata.json to the task branch, tag it and (with
 * auto_push) push it. Idempotent: when a commit with the same Event-Id, or
 * with the same correlation/workflow/task and the same file digests,
 * already exists, nothing is written and res->duplicate is set. Returns 0;
 * ERR_INVALID with err->code SECRET_DETECTED, PATH_REJECTED or
 * INVALID_EVENT; ERR_TRANSIENT (lock contention exhausted); ERR_FAIL
 * (code GIT). A failed push is not an error: res->pushed is false and the
 * push is retried later by store_push_pending().
 */
int store_commit(struct store *st, const struct store_commit_req *req,
    struct store_commit_result *res, struct error *err);

/* Free what a store_commit_result holds (not the struct itself). */
void store_commit_result_dispose(struct store_commit_result *res);

/*
 * Push every local branch/tag under the prefix that the remote lacks.
 * Called by the daemon on a timer and at start-up. Returns 0 when all is
 * pushed, ERR_TRANSIENT when something is still waiting.
 */
int store_push_pending(struct store *st, struct error *err);

/* List artifacts (metadata.json objects, newest first), optionally of one
 * workflow. *out is a cJSON array owned by the caller. */
int store_list(struct store *st, cJSON **out, const char *workflow_id,
    size_t limit, struct error *err);

/* Metadata of the artifact tagged corr_<correlation_id>, with "commit_sha",
 * "branch" and "files". Returns 0 or ERR_NOTFOUND. */
int store_show(struct store *st, cJSON **out, const char *correlation_id,
    struct error *err);

/*
 * A new commit on `branch` whose tree is the tree of `tag` (history is
 * never rewritten). *out is {"branch","commit_sha","reverted_to","pushed",
 * "push","duplicate"}. event_id (may be NULL) makes it idempotent. Returns 0,
 * ERR_NOTFOUND (no such tag or branch) or ERR_FAIL.
 */
int store_revert(struct store *st, cJSON **out, const char *tag,
    const char *branch, const char *event_id, struct error *err);

/* What store_expire does (store/expire.c). */
struct store_expire_opts {
	long long older_than_s; /* tip's commit time older than now - this */
	bool archive;           /* keep each under refs/archive/<branch> */
	bool tags;              /* also delete the tags on its commits */
	bool dry_run;           /* judge and report, change nothing */
};

/*
 * Remove the task branches whose tip commit is older than
 * opts->older_than_s, locally and, with a push URL, on the remote. Every
 * delete is a compare-and-swap from the tip that was judged old: a
 * branch that moved since is kept and reported "moved". *out is
 * {"older_than_s", "dry_run", "branches": [{"branch", "tip", "time",
 * "status", "archive"?, "tags", "remote_removed"?}], "removed", "kept",
 * "remote": "ok" | "failed" | "disabled"}; a remote that could not be
 * reached leaves the local deletions standing (the next run, or
 * store_push_pending's view, does not bring them back). Returns 0,
 * ERR_INVALID or ERR_FAIL.
 */
int store_expire(struct store *st, const struct store_expire_opts *opts,
    cJSON **out, struct error *err);

/* Parse an age: digits then s, m, h, d or w ("30d"), at most 100 years.
 * Returns 0 (*secs set) or -1. */
int store_age_parse(long long *secs, const char *s);

/*
 * Delete the release tag refs/tags/<tag> (store/tag_delete.c): with
 * remote and a push URL, on the remote first (only while it still points
 * where the local one does), then locally. *out is {"tag", "local":
 * "removed"|"absent"|"would_remove", "remote": "removed"|"absent"|
 * "would_remove"|"disabled", "id"?}. Returns 0, ERR_INVALID (a name git
 * refuses), ERR_FAIL (code TAG_REMOTE: the remote's tag moved or the
 * delete was rejected; the local tag is kept) or the push's
 * ERR_TRANSIENT.
 */
int store_tag_delete(struct store *st, const char *tag, bool remote,
    bool dry_run, cJSON **out, struct error *err);

/* The longest ref name we create: the repository path and the ref must
 * fit in PATH_MAX (4096) with room for a deep repository path. */
#define STORE_REF_NAME_MAX 1024
/* The longest component of a ref: a loose ref is a file, written first
 * as "<component>.lock", and a file name has at most NAME_MAX (255). */
#define STORE_REF_COMPONENT_MAX 250

/*
 * True when refname (e.g. "refs/heads/ai/generated/wf/task") is a ref
 * name git accepts (libgit2's git_reference_name_is_valid: no "..", no
 * component ending in '.' or ".lock", no control characters, ...) within
 * the two ceilings above. Callers check every name an event would make
 * before anything is written.
 */
bool store_ref_name_ok(const char *refname);

#endif
