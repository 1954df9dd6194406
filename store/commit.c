/*
 * store.c - the git artifact store: opening the repository and the commit
 * path (seed 003).
 *
 * A commit is built without a working tree: blobs from memory, one
 * git_tree_create_updated() on the branch tip's tree, git_commit_create()
 * without update_ref, then a compare-and-swap of the branch ref with
 * git_reference_create_matching(), retried with jittered backoff on
 * GIT_EMODIFIED / GIT_ELOCKED (store.md 1.3, 1.4). Tags are created the
 * same way against the zero id, so they are never moved: the first commit
 * to claim a tag name keeps it. Idempotency needs nothing but git: the
 * Event-Id trailer of recent commits on the branch and the commit behind
 * the corr_ tag say whether an event was already committed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <http_parser.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/redact.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/provenance.h"
#include "store/scan.h"
#include "store/sign.h"
#include "store/store_int.h"

/* A repository path or a file name of one artifact longer than this is
 * refused: git handles more, but no sane artifact needs it and every ref
 * and path we build stays well under PATH_MAX. */
#define STORE_NAME_MAX 512

/* Event ids go into a trailer line; a ULID or a Redis stream id is 26
 * characters, a UUID 36. */
#define STORE_EVENT_ID_MAX 128

/* Ceiling of libgit2's object cache, process-wide. Its default, 256 MiB,
 * is never reached by a daemon that reads each event's new tree once:
 * libgit2 counts an object by its raw size (35 bytes for a tree of one
 * entry) but a parsed tree of one entry takes ~800 bytes of heap, so the
 * cache grew by ~0.75 KiB per event, 15 MiB over 20,000 events, and
 * would have stopped only past 3 GiB (performance.md, "Memory"). What is
 * worth caching is what every event reads again: the base branch's tip
 * commit and the trees on the path to the task directory, under 1 KiB.
 * 64 KiB counted holds that 60 times over and ~1.5 MiB of heap. */
#define STORE_GIT_CACHE_BYTES (64 * 1024)

/* Present in a repository we created until its first fetch from the
 * remote succeeded. */
#define STORE_CLONE_MARKER "artifactd-clone-incomplete"

/* Opening ---------------------------------------------------------------- */

/* A copy of the credentials: empty strings read as unset. */
static char *
store_cred_dup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static void
store_creds_copy(struct store_creds *dst, const struct store_creds *src)
{
	dst->username = store_cred_dup(src->username);
	dst->token = store_cred_dup(src->token);
	dst->password = store_cred_dup(src->password);
	dst->ssh_key = store_cred_dup(src->ssh_key);
	dst->ssh_pubkey = store_cred_dup(src->ssh_pubkey);
	dst->ssh_passphrase = store_cred_dup(src->ssh_passphrase);
	dst->ssh_host_key = store_cred_dup(src->ssh_host_key);
}

static void
store_creds_free(struct store_creds *c)
{
	secret_free((char *)(uintptr_t)c->username);
	secret_free((char *)(uintptr_t)c->token);
	secret_free((char *)(uintptr_t)c->password);
	free((void *)(uintptr_t)c->ssh_key);
	free((void *)(uintptr_t)c->ssh_pubkey);
	secret_free((char *)(uintptr_t)c->ssh_passphrase);
	free((void *)(uintptr_t)c->ssh_host_key);
}

static void
store_opts_copy(struct store_opts *dst, const struct store_opts *src)
{
	*dst = *src;
	dst->repo_path = xstrdup(src->repo_path);
	dst->remote_url = src->remote_url && *src->remote_url
	                      ? xstrdup(src->remote_url)
	                      : NULL;
	dst->remote_name =
	    xstrdup(src->remote_name ? src->remote_name : "origin");
	dst->base_branch =
	    xstrdup(src->base_branch ? src->base_branch : "main");
	dst->branch_prefix =
	    xstrdup(src->branch_prefix ? src->branch_prefix : "ai/generated");
	dst->path_template =
	    xstrdup(src->path_template ? src->path_template
	                               : "Backtest/codes/{task_id}");
	dst->author_name =
	    xstrdup(src->author_name ? src->author_name : "algo-agent-bot");
	dst->author_email = xstrdup(
	    src->author_email ? src->author_email : "algo-agent@example.com");
	dst->metadata_filename = xstrdup(
	    src->metadata_filename ? src->metadata_filename : "metadata.json");
	if (dst->push_timeout_s <= 0)
		dst->push_timeout_s = 30;
	store_creds_copy(&dst->creds, &src->creds);
}

static void
store_opts_free(struct store_opts *o)
{
	free((void *)(uintptr_t)o->repo_path);
	free((void *)(uintptr_t)o->remote_url);
	free((void *)(uintptr_t)o->remote_name);
	free((void *)(uintptr_t)o->base_branch);
	free((void *)(uintptr_t)o->branch_prefix);
	free((void *)(uintptr_t)o->path_template);
	free((void *)(uintptr_t)o->author_name);
	free((void *)(uintptr_t)o->author_email);
	free((void *)(uintptr_t)o->metadata_filename);
	store_creds_free(&o->creds);
}

void
store_git_message(char *msg, size_t size, int grc)
{
	const git_error *e = git_error_last();

	/* libgit2 1.5 returns NULL after git_error_clear(); later versions
	 * return an entry of class GIT_ERROR_NONE. Either way the call set
	 * nothing: say so rather than show older text. */
	if (e != NULL && e->klass != GIT_ERROR_NONE && e->message != NULL &&
	    *e->message != '\0')
		snprintf(msg, size, "%s", e->message);
	else
		snprintf(msg, size, "libgit2 error %d without a message%s%s",
		    grc, errno ? ", last system error: " : "",
		    errno ? strerror(errno) : "");
	git_error_clear();
	redact_buf(msg, size);
}

/*
 * A lock held by another writer, and a failure of the operating system
 * or the file system (a full disk, EIO, no descriptors left: libgit2's
 * classes GIT_ERROR_OS and GIT_ERROR_FILESYSTEM),
 * may succeed later: they are transient, retried with backoff and
 * dead-lettered when the attempts run out, so the event is kept. Anything
 * else libgit2 refuses (a corrupt object, a bad name) will fail the same
 * way again.
 */
int
store_git_error(struct error *err, int grc, const char *what)
{
	const git_error *e = git_error_last();
	int os = e != NULL &&
	         (e->klass == GIT_ERROR_OS || e->klass == GIT_ERROR_FILESYSTEM);
	char m[ERROR_MSG_MAX];

	store_git_message(m, sizeof(m), grc);
	if (grc == GIT_ELOCKED)
		return error_set(err, ERR_TRANSIENT, "GIT", "%s: %s", what, m);
	if (os)
		return error_set(err, ERR_TRANSIENT, "IO", "%s: %s", what, m);
	return error_set(err, ERR_FAIL, "GIT", "%s: %s", what, m);
}

/* The port written in url's authority (after the last '@'), or -1 when
 * none is written; only to say precisely what is wrong. */
static long
store_url_port(const char *url)
{
	const char *a = strstr(url, "://") + 3, *end, *at, *colon;
	long port = 0;

	end = a + strcspn(a, "/?#");
	for (at = end; at > a && at[-1] != '@'; at--)
		;
	if ((colon = memchr(at, ':', (size_t)(end - at))) == NULL ||
	    colon + 1 == end)
		return -1;
	for (a = colon + 1; a < end; a++) {
		if (*a < '0' || *a > '9')
			return -1;
		if (port <= 65535)
			port = port * 10 + (*a - '0');
	}
	return port;
}

int
store_url_check(const char *url, struct error *err)
{
	/* libgit2 1.5's transport table (transport.c). */
	static const char *const schemes[] = { "http://", "https://", "ssh://",
		"ssh+git://", "git+ssh://", "git://", "file://" };
	struct http_parser_url u;
	struct stat sb;
	char *safe;
	size_t i, n = sizeof(schemes) / sizeof(schemes[0]);
	long port;
	int rc = 0;

	if (url == NULL || *url == '\0')
		return 0;
	safe = redact_text(url);
	if (strstr(url, "://") == NULL) {
		/* A path is the local transport (it may not exist yet where
		 * check-config runs: a volume mounted only in the container);
		 * anything else with a ':' goes to ssh as "[user@]host:path".
		 */
		if (url[0] != '/' && strncmp(url, "./", 2) != 0 &&
		    strncmp(url, "../", 3) != 0 &&
		    (stat(url, &sb) < 0 || !S_ISDIR(sb.st_mode)) &&
		    strchr(url, ':') == NULL)
			rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
			    "remote-url %s is neither a URL, nor "
			    "[user@]host:path, nor a path",
			    safe);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
			break;
	if (i == n) {
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "remote-url %s: libgit2 has no transport for this scheme "
		    "(http, https, ssh, git or file)",
		    safe);
		goto out;
	}
	if (strncasecmp(url, "file://", 7) == 0)
		goto out;
	port = store_url_port(url);
	if (port == 0 || port > 65535) {
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "remote-url %s: port %s is out of range 1-65535", safe,
		    port > 65535 ? "above 65535" : "0");
		goto out;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_HOST)) || u.field_data[UF_HOST].len == 0)
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "remote-url %s is malformed and libgit2 would refuse it "
		    "(write '/', '@', ':' and blanks in a user name or "
		    "password as %%2F, %%40, %%3A, %%20)",
		    safe);
out:
	free(safe);
	return rc;
}

/* True when path is missing, or an empty directory. */
static bool
store_dir_empty(const char *path)
{
	DIR *d;
	struct dirent *de;
	bool empty = true;

	if ((d = opendir(path)) == NULL)
		return errno == ENOENT;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

/* The URL we push to: the configured one, or that of the repository's own
 * remote `remote_name` (GIT_REMOTE_NAME), as the seed did. */
static void
store_resolve_push_url(struct store *st, git_repository *repo)
{
	git_remote *r = NULL;

	if (st->opts.remote_url != NULL) {
		st->push_url = xstrdup(st->opts.remote_url);
		return;
	}
	if (git_remote_lookup(&r, repo, st->opts.remote_name) == 0) {
		if (git_remote_pushurl(r) != NULL)
			st->push_url = xstrdup(git_remote_pushurl(r));
		else if (git_remote_url(r) != NULL)
			st->push_url = xstrdup(git_remote_url(r));
		git_remote_free(r);
	}
	git_error_clear();
}

/* How long store_open waits for another process that is creating the
 * same repository: 50 x 100 ms; creating one takes a few milliseconds. */
#define STORE_OPEN_ATTEMPTS 50

int
store_open(struct store **out, const struct store_opts *opts, struct error *err)
{
	struct store *st;
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	bool fresh = false;
	int fd, grc, attempt, rc = ERR_FAIL;
	char *url, *marker = NULL;

	git_libgit2_init();
	/* The repository is named by the operator, and containers mount it
	 * from volumes owned by another uid, which libgit2 1.5 refuses by
	 * default (store.md 1.0). */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	/* Process-wide in libgit2 1.5; only turned on, never off, so one
	 * store asking for durability gets it (research store.md 5.3). */
	if (opts->fsync)
		git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	/* Bound libgit2's object cache (see STORE_GIT_CACHE_BYTES): with its
	 * default the daemon's memory grew with every event. */
	git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE,
	    (ssize_t)STORE_GIT_CACHE_BYTES);

	st = xcalloc(1, sizeof(*st));
	store_opts_copy(&st->opts, opts);
	pthread_mutex_init(&st->pool_lock, NULL);
	pthread_mutex_init(&st->helper_lock, NULL);
	st->helper_fd = -1;
	st->helper_pid = -1;

	if (st->opts.repo_path == NULL || *st->opts.repo_path == '\0') {
		rc = error_set(err, ERR_INVALID, "INVALID_CONFIG",
		    "no repository path");
		goto out;
	}
	/* A configured key that cannot be used stops the start: we never
	 * commit unsigned while a key is configured. */
	if (opts->signing_key != NULL && *opts->signing_key != '\0' &&
	    (rc = sign_key_load(&st->signer, opts->signing_key, err)) < 0)
		goto out;
	st->consumer = opts->consumer ? xstrdup(opts->consumer) : NULL;
	/* Before anything can print it: libgit2 quotes the raw URL. */
	redact_secret_url(st->opts.remote_url);
	if ((rc = store_url_check(st->opts.remote_url, err)) < 0)
		goto out;
	rc = ERR_FAIL;
	/* Several workers may start at once on one missing repository: one
	 * initialises it while another already sees a half-made directory
	 * that libgit2 cannot open yet. Retry for a few seconds rather than
	 * fail the worker. */
	for (attempt = 0;; attempt++) {
		if (store_dir_empty(st->opts.repo_path)) {
			grc = STORE_GIT(
			    git_repository_init(&repo, st->opts.repo_path, 1));
			fresh = grc == 0;
		} else {
			grc = STORE_GIT(
			    git_repository_open_ext(&repo, st->opts.repo_path,
			        GIT_REPOSITORY_OPEN_NO_SEARCH, NULL));
		}
		if (grc == 0 || attempt >= STORE_OPEN_ATTEMPTS)
			break;
		git_error_clear();
		nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	}
	if (grc < 0) {
		rc = store_git_error(err, grc,
		    fresh ? "init repository" : "open repository");
		goto out;
	}
	if (fresh) {
		log_info("store_init repo=\"%s\"", st->opts.repo_path);
		/* Keep refs loose: with 100k packed refs every ref create
		 * scans the packed list (research store.md 4), measured 3-4x
		 * slower commits than with 100k loose refs. */
		if (git_repository_config(&cfg, repo) == 0) {
			(void)git_config_set_bool(cfg, "gc.packRefs", 0);
			git_config_free(cfg);
		}
		git_error_clear();
	}
	store_resolve_push_url(st, repo);
	redact_secret_url(st->push_url);
	git_repository_free(repo);
	repo = NULL;

	/* Fork the push helper now, before the caller starts threads that
	 * use libgit2 (store_push.c). */
	if ((rc = store_helper_start(st, err)) < 0)
		goto out;
	/* A repository we created is filled from the remote. The marker
	 * stays until that fetch succeeded, so a clone cut short (remote
	 * down, bad credentials, killed) is resumed by the next open rather
	 * than leaving an empty repository that remembers no events. */
	marker = xasprintf("%s/%s", st->opts.repo_path, STORE_CLONE_MARKER);
	if (st->opts.remote_url != NULL &&
	    (fresh || access(marker, F_OK) == 0)) {
		if (fresh && (fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC,
		                  0644)) >= 0)
			close(fd);
		url = util_redact_url(st->opts.remote_url);
		log_info("store_clone repo=\"%s\" remote=\"%s\"",
		    st->opts.repo_path, url);
		free(url);
		if ((rc = store_clone_fetch(st, err)) < 0)
			goto out;
		unlink(marker);
	}
	*out = st;
	st = NULL;
	rc = 0;
out:
	free(marker);
	git_repository_free(repo);
	store_free(st);
	return rc;
}

void
store_free(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	store_helper_stop(st);
	for (i = 0; i < st->npool; i++)
		git_repository_free(st->pool[i]);
	free(st->pool);
	pthread_mutex_destroy(&st->pool_lock);
	pthread_mutex_destroy(&st->helper_lock);
	store_opts_free(&st->opts);
	free(st->push_url);
	sign_key_free(st->signer);
	free(st->consumer);
	free(st);
	git_libgit2_shutdown();
}

int
store_repo_acquire(struct store *st, git_repository **out, struct error *err)
{
	git_repository *repo = NULL;
	int grc;

	pthread_mutex_lock(&st->pool_lock);
	if (st->npool > 0)
		repo = st->pool[--st->npool];
	pthread_mutex_unlock(&st->pool_lock);
	if (repo == NULL) {
		grc = STORE_GIT(git_repository_open_ext(&repo,
		    st->opts.repo_path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL));
		if (grc < 0)
			return store_git_error(err, grc, "open repository");
	}
	*out = repo;
	return 0;
}

void
store_repo_release(struct store *st, git_repository *repo)
{
	if (repo == NULL)
		return;
	pthread_mutex_lock(&st->pool_lock);
	if (st->npool == st->cappool) {
		st->cappool = st->cappool ? st->cappool * 2 : 8;
		st->pool = xrealloc(st->pool, st->cappool * sizeof(*st->pool));
	}
	st->pool[st->npool++] = repo;
	pthread_mutex_unlock(&st->pool_lock);
}

/* Small helpers shared with store_query.c and store_push.c --------------- */

void
store_trailers_parse(struct store_trailers *t, const char *msg)
{
	git_message_trailer_array arr = { 0 };
	size_t i;

	memset(t, 0, sizeof(*t));
	if (msg == NULL || git_message_trailers(&arr, msg) < 0) {
		git_error_clear();
		return;
	}
	for (i = 0; i < arr.count; i++) {
		const char *k = arr.trailers[i].key, *v = arr.trailers[i].value;
		char *dst = NULL;

		if (strcmp(k, "Event-Id") == 0)
			dst = t->event_id;
		else if (strcmp(k, "Correlation-Id") == 0)
			dst = t->correlation_id;
		else if (strcmp(k, "Workflow-Id") == 0)
			dst = t->workflow_id;
		else if (strcmp(k, "Task-Id") == 0)
			dst = t->task_id;
		else if (strcmp(k, "Prompt-Hash") == 0)
			dst = t->prompt_hash;
		else if (strcmp(k, "Reverted-To") == 0)
			dst = t->reverted_to;
		if (dst != NULL)
			snprintf(dst, sizeof(t->event_id), "%s", v);
	}
	git_message_trailer_array_free(&arr);
}

char *
store_branch_ref(const struct store *st, const char *wf, const char *task)
{
	return xasprintf("refs/heads/%s/%s/%s", st->opts.branch_prefix, wf,
	    task);
}

char *
store_corr_tag(const char *correlation_id)
{
	if (strncmp(correlation_id, "corr_", 5) == 0)
		return xstrdup(correlation_id);
	return xasprintf("corr_%s", correlation_id);
}

char *
store_prompt_tag(const char *prompt_hash)
{
	if (strncmp(prompt_hash, "prompt_", 7) == 0)
		return xstrdup(prompt_hash);
	return xasprintf("prompt_%s", prompt_hash);
}

/* Replace {task_id} and {workflow_id} in the template. */
char *
store_task_dir(const struct store *st, const char *wf, const char *task)
{
	struct buf b;
	const char *p = st->opts.path_template;

	buf_init(&b, (size_t)STORE_NAME_MAX * 4);
	while (*p != '\0') {
		if (strncmp(p, "{task_id}", 9) == 0) {
			(void)buf_puts(&b, task);
			p += 9;
		} else if (strncmp(p, "{workflow_id}", 13) == 0) {
			(void)buf_puts(&b, wf);
			p += 13;
		} else {
			(void)buf_append(&b, p, 1);
			p++;
		}
	}
	/* No trailing slash: paths are joined with one. */
	while (b.len > 0 && b.data[b.len - 1] == '/')
		b.data[--b.len] = '\0';
	return buf_detach(&b, NULL);
}

void
store_backoff(int attempt)
{
	double hi = 1.0;
	struct timespec ts;
	double ms;
	int i;

	for (i = 0; i < attempt && hi < STORE_BACKOFF_MAX_MS; i++)
		hi *= 2.0;
	if (hi > STORE_BACKOFF_MAX_MS)
		hi = STORE_BACKOFF_MAX_MS;
	ms = util_jitter(0.2, hi);
	ts.tv_sec = (time_t)(ms / 1000.0);
	ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}

void
store_lock_check(git_repository *repo, const char *ref, int attempt)
{
	struct stat sb;
	char *path;

	/* Only after many lost attempts: a live writer holds a ref lock for
	 * well under a millisecond. */
	if (attempt < STORE_STALE_LOCK_AFTER)
		return;
	path = xasprintf("%s%s.lock", git_repository_path(repo), ref);
	if (stat(path, &sb) == 0 &&
	    time(NULL) - sb.st_mtime > STORE_STALE_LOCK_S && unlink(path) == 0)
		log_warnx("store_stale_lock_removed lock=\"%s\" age_s=%lld",
		    path, (long long)(time(NULL) - sb.st_mtime));
	free(path);
}

int
store_ref_commit(git_oid *out, git_repository *repo, const char *ref,
    struct error *err)
{
	git_reference *r = NULL;
	git_object *obj = NULL;
	int grc, rc = ERR_FAIL;

	grc = STORE_GIT(git_reference_lookup(&r, repo, ref));
	if (grc == GIT_ENOTFOUND || grc == GIT_EINVALIDSPEC) {
		git_error_clear();
		rc =
		    error_set(err, ERR_NOTFOUND, "NOT_FOUND", "no ref %s", ref);
		goto out;
	}
	if (grc < 0) {
		rc = store_git_error(err, grc, "look up ref");
		goto out;
	}
	if ((grc = STORE_GIT(git_reference_peel(&obj, r, GIT_OBJECT_COMMIT))) <
	    0) {
		rc = store_git_error(err, grc, "peel ref");
		goto out;
	}
	git_oid_cpy(out, git_object_id(obj));
	rc = 0;
out:
	git_object_free(obj);
	git_reference_free(r);
	return rc;
}

int
store_read_metadata(cJSON **out, git_repository *repo, const git_oid *cid,
    const char *path, struct error *err)
{
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	git_blob *blob = NULL;
	cJSON *json = NULL;
	int grc, rc = ERR_FAIL;

	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, cid))) < 0 ||
	    (grc = STORE_GIT(git_commit_tree(&tree, c))) < 0) {
		rc = store_git_error(err, grc, "read commit");
		goto out;
	}
	if (git_tree_entry_bypath(&e, tree, path) < 0 ||
	    git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
		git_error_clear();
		rc = error_set(err, ERR_NOTFOUND, "NOT_FOUND",
		    "no %s in the commit", path);
		goto out;
	}
	if ((grc = STORE_GIT(
	         git_blob_lookup(&blob, repo, git_tree_entry_id(e)))) < 0) {
		rc = store_git_error(err, grc, "read metadata blob");
		goto out;
	}
	if (git_blob_rawsize(blob) > STORE_METADATA_MAX) {
		rc = error_set(err, ERR_FAIL, "GIT", "%s is too large", path);
		goto out;
	}
	json = cJSON_ParseWithLength(git_blob_rawcontent(blob),
	    (size_t)git_blob_rawsize(blob));
	if (json == NULL || !cJSON_IsObject(json)) {
		rc = error_set(err, ERR_FAIL, "GIT", "%s is not a JSON object",
		    path);
		goto out;
	}
	*out = json;
	json = NULL;
	rc = 0;
out:
	cJSON_Delete(json);
	git_blob_free(blob);
	git_tree_entry_free(e);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

/* The commit path ---------------------------------------------------------- */

/* Everything one store_commit() computes before touching the repository. */
struct store_plan {
	char *branch_ref; /* refs/heads/... */
	char *task_dir;
	char **paths; /* repository paths of the files, then metadata */
	git_oid *ids; /* blob ids (hashed only until written) */
	char **data;  /* borrowed bytes, parallel to paths */
	size_t *len;
	size_t n; /* files + metadata */
	size_t nfiles;
	char *metadata;   /* owned JSON text, or NULL */
	char *provenance; /* owned DSSE envelope, or NULL (no signing key) */
	char *message;
	char *tags[2];
	size_t ntags;
	char timestamp[32];
	int64_t time_ms;
};

static void
store_plan_dispose(struct store_plan *p)
{
	size_t i;

	free(p->branch_ref);
	free(p->task_dir);
	for (i = 0; i < p->n; i++)
		free(p->paths[i]);
	free(p->paths);
	free(p->ids);
	free(p->data);
	free(p->len);
	free(p->metadata);
	free(p->provenance);
	free(p->message);
	for (i = 0; i < p->ntags; i++)
		free(p->tags[i]);
}

/* An artifact name below the task directory: relative, '/'-separated
 * components that are each safe identifiers (no "..", no ".git"). */
static bool
store_name_valid(const char *name)
{
	char part[STORE_NAME_MAX];
	const char *p = name, *slash;
	size_t n;

	if (name == NULL || *name == '\0' || strlen(name) >= STORE_NAME_MAX)
		return false;
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n >= sizeof(part))
			return false;
		memcpy(part, p, n);
		part[n] = '\0';
		if (!util_id_valid(part) || strcasecmp(part, ".git") == 0)
			return false;
		p += n;
		if (*p == '/')
			p++;
		else
			break;
	}
	return name[strlen(name) - 1] != '/';
}

static bool
store_event_id_valid(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > STORE_EVENT_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static int
store_cmp_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A name given twice, found by sorting (n log n): comparing each name
 * with every earlier one took most of 39 s for 80,000 files. */
static int
store_names_unique(const struct store_commit_req *req, struct error *err)
{
	const char **names = xcalloc(req->nfiles, sizeof(*names));
	size_t i;
	int rc = 0;

	for (i = 0; i < req->nfiles; i++)
		names[i] = req->files[i].name;
	qsort(names, req->nfiles, sizeof(*names), store_cmp_name);
	for (i = 1; i < req->nfiles && rc == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			rc = error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" given twice", names[i]);
	free(names);
	return rc;
}

static int
store_validate(const struct store *st, const struct store_commit_req *req,
    struct error *err)
{
	size_t i;

	if (!store_event_id_valid(req->event_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "event_id is missing or not printable ASCII of at most "
		    "%d characters",
		    STORE_EVENT_ID_MAX);
	if (!util_id_valid(req->workflow_id) || !util_id_valid(req->task_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "workflow_id and task_id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	if (req->correlation_id == NULL && st->opts.require_correlation_id)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "correlation_id is required");
	if (req->correlation_id != NULL && !util_id_valid(req->correlation_id))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "correlation_id must be 1-128 characters of "
		    "[A-Za-z0-9._-]");
	if (req->prompt_hash != NULL && !util_id_valid(req->prompt_hash))
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "prompt_hash must be 1-128 characters of [A-Za-z0-9._-]");
	if (req->nfiles == 0)
		return error_set(err, ERR_INVALID, "INVALID_EVENT",
		    "no files to commit");
	for (i = 0; i < req->nfiles; i++) {
		const char *name = req->files[i].name;

		if (!store_name_valid(name))
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is not a safe relative "
			    "path",
			    name ? name : "");
		if (st->opts.include_metadata &&
		    strcmp(name, st->opts.metadata_filename) == 0)
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is reserved for the "
			    "metadata",
			    name);
		if (st->signer != NULL &&
		    strcmp(name, PROVENANCE_FILENAME) == 0)
			return error_set(err, ERR_INVALID, "PATH_REJECTED",
			    "artifact name \"%.200s\" is reserved for the "
			    "provenance",
			    name);
	}
	return store_names_unique(req, err);
}

static cJSON *
store_json_str(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* metadata.json in the seed's schema, then the event's extra keys. */
static char *
store_metadata_json(const struct store_plan *p,
    const struct store_commit_req *req)
{
	static const char *const core[] = { "workflow_id", "task_id",
		"correlation_id", "prompt_hash", "commit_timestamp",
		"agent_version", "llm_version", "test_metrics", "files" };
	cJSON *m = cJSON_CreateObject(), *files, *it;
	char *text;
	size_t i;

	cJSON_AddItemToObject(m, "workflow_id",
	    cJSON_CreateString(req->workflow_id));
	cJSON_AddItemToObject(m, "task_id", cJSON_CreateString(req->task_id));
	cJSON_AddItemToObject(m, "correlation_id",
	    store_json_str(req->correlation_id));
	cJSON_AddItemToObject(m, "prompt_hash",
	    store_json_str(req->prompt_hash));
	cJSON_AddItemToObject(m, "commit_timestamp",
	    cJSON_CreateString(p->timestamp));
	cJSON_AddItemToObject(m, "agent_version",
	    store_json_str(req->agent_version));
	cJSON_AddItemToObject(m, "llm_version",
	    store_json_str(req->llm_version));
	cJSON_AddItemToObject(m, "test_metrics",
	    req->test_metrics ? cJSON_Duplicate(req->test_metrics, 1)
	                      : cJSON_CreateObject());
	files = cJSON_AddArrayToObject(m, "files");
	for (i = 0; i < p->n; i++)
		cJSON_AddItemToArray(files, cJSON_CreateString(p->paths[i]));
	if (req->extra != NULL && cJSON_IsObject(req->extra)) {
		cJSON_ArrayForEach(it, req->extra) {
			bool reserved = false;

			for (i = 0; i < sizeof(core) / sizeof(core[0]); i++)
				if (strcmp(it->string, core[i]) == 0)
					reserved = true;
			if (!reserved)
				cJSON_AddItemToObject(m, it->string,
				    cJSON_Duplicate(it, 1));
		}
	}
	text = cJSON_Print(m);
	cJSON_Delete(m);
	if (text == NULL)
		abort(); /* cJSON only fails on allocation */
	return text;
}

/* The signed provenance of the files and metadata (all but the last
 * path, which is the envelope's own), into the last slot. */
static int
store_plan_provenance(struct store_plan *p, const struct store *st,
    const struct store_commit_req *req, struct error *err)
{
	struct provenance_in in = { 0 };
	int rc;

	in.event_id = req->event_id;
	in.correlation_id = req->correlation_id;
	in.workflow_id = req->workflow_id;
	in.task_id = req->task_id;
	in.prompt_hash = req->prompt_hash;
	in.agent_version = req->agent_version;
	in.llm_version = req->llm_version;
	in.test_metrics = req->test_metrics;
	in.consumer = st->consumer;
	in.timestamp = p->timestamp;
	in.branch = p->branch_ref + strlen("refs/heads/");
	in.names = p->paths;
	in.data = p->data;
	in.len = p->len;
	in.n = p->n - 1;
	if ((rc = provenance_build(&p->provenance, st->signer, &in, err)) < 0)
		return rc;
	p->data[p->n - 1] = p->provenance;
	p->len[p->n - 1] = strlen(p->provenance);
	return 0;
}

static int
store_plan_build(struct store_plan *p, const struct store *st,
    const struct store_commit_req *req, struct error *err)
{
	struct buf b;
	size_t i, n;
	char *text;
	int rc;

	memset(p, 0, sizeof(*p));
	p->time_ms = util_now_ms();
	util_now_iso8601(p->timestamp, sizeof(p->timestamp));
	p->branch_ref = store_branch_ref(st, req->workflow_id, req->task_id);
	p->task_dir = store_task_dir(st, req->workflow_id, req->task_id);
	p->nfiles = req->nfiles;
	n = req->nfiles + (st->opts.include_metadata ? 1 : 0) +
	    (st->signer != NULL ? 1 : 0);
	p->paths = xcalloc(n, sizeof(*p->paths));
	p->ids = xcalloc(n, sizeof(*p->ids));
	p->data = xcalloc(n, sizeof(*p->data));
	p->len = xcalloc(n, sizeof(*p->len));
	for (i = 0; i < req->nfiles; i++) {
		p->paths[i] = p->task_dir[0] ? xasprintf("%s/%s", p->task_dir,
		                                   req->files[i].name)
		                             : xstrdup(req->files[i].name);
		p->data[i] = (char *)(uintptr_t)req->files[i].data;
		p->len[i] = req->files[i].len;
	}
	p->n = req->nfiles;
	if (st->opts.include_metadata)
		p->paths[p->n++] = p->task_dir[0]
		                       ? xasprintf("%s/%s", p->task_dir,
		                             st->opts.metadata_filename)
		                       : xstrdup(st->opts.metadata_filename);
	/* The envelope's path is known now, so metadata.json lists it. */
	if (st->signer != NULL)
		p->paths[p->n++] =
		    p->task_dir[0]
		        ? xasprintf("%s/%s", p->task_dir, PROVENANCE_FILENAME)
		        : xstrdup(PROVENANCE_FILENAME);
	if (st->opts.include_metadata) {
		text = store_metadata_json(p, req);
		p->metadata = text;
		p->data[p->nfiles] = text;
		p->len[p->nfiles] = strlen(text);
	}
	if (st->signer != NULL &&
	    (rc = store_plan_provenance(p, st, req, err)) < 0)
		return rc;
	/* The ids of metadata and provenance only: they are written after
	 * the duplicate check, since their timestamp makes them new on
	 * every attempt. */
	for (i = p->nfiles; i < p->n; i++)
		git_odb_hash(&p->ids[i], p->data[i], p->len[i],
		    GIT_OBJECT_BLOB);

	buf_init(&b, 4096);
	(void)buf_printf(&b,
	    "artifacts: %s/%s\n\nTested artifacts committed by artifactd.\n\n",
	    req->workflow_id, req->task_id);
	(void)buf_printf(&b, "Event-Id: %s\n", req->event_id);
	if (req->correlation_id)
		(void)buf_printf(&b, "Correlation-Id: %s\n",
		    req->correlation_id);
	(void)buf_printf(&b, "Workflow-Id: %s\nTask-Id: %s\n", req->workflow_id,
	    req->task_id);
	if (req->prompt_hash)
		(void)buf_printf(&b, "Prompt-Hash: %s\n", req->prompt_hash);
	p->message = buf_detach(&b, NULL);

	if (req->correlation_id)
		p->tags[p->ntags++] = store_corr_tag(req->correlation_id);
	if (req->prompt_hash)
		p->tags[p->ntags++] = store_prompt_tag(req->prompt_hash);
	return 0;
}

/* True when commit c holds our event: the same Event-Id, or the same
 * correlation/workflow/task with the same file bytes (metadata.json is
 * left out: its timestamp differs on every attempt). */
static bool
store_commit_matches(git_repository *repo, const git_commit *c,
    const struct store_plan *p, const struct store_commit_req *req)
{
	struct store_trailers t;
	git_tree *tree = NULL;
	git_tree_entry *e = NULL;
	bool same = true;
	size_t i;

	store_trailers_parse(&t, git_commit_message(c));
	if (strcmp(t.event_id, req->event_id) == 0)
		return true;
	if (req->correlation_id == NULL ||
	    strcmp(t.correlation_id, req->correlation_id) != 0 ||
	    strcmp(t.workflow_id, req->workflow_id) != 0 ||
	    strcmp(t.task_id, req->task_id) != 0)
		return false;
	(void)repo;
	if (git_commit_tree(&tree, c) < 0) {
		git_error_clear();
		return false;
	}
	for (i = 0; i < p->nfiles && same; i++) {
		if (git_tree_entry_bypath(&e, tree, p->paths[i]) < 0) {
			git_error_clear();
			same = false;
			break;
		}
		same = git_oid_equal(git_tree_entry_id(e), &p->ids[i]);
		git_tree_entry_free(e);
		e = NULL;
	}
	git_tree_free(tree);
	return same;
}

/*
 * Look for our event among the first STORE_DEDUPE_WALK first-parent
 * commits from `from`, stopping at `stop` (may be NULL). Returns 1 with
 * *found set, 0 when absent, or a negative code.
 */
static int
store_find_event(git_oid *found, git_repository *repo, const git_oid *from,
    const git_oid *stop, const struct store_plan *p,
    const struct store_commit_req *req, struct error *err)
{
	git_commit *c = NULL, *parent = NULL;
	int grc, i, rc = 0;

	if ((grc = STORE_GIT(git_commit_lookup(&c, repo, from))) < 0)
		return store_git_error(err, grc, "read branch tip");
	for (i = 0; i < STORE_DEDUPE_WALK; i++) {
		if (stop != NULL && git_oid_equal(git_commit_id(c), stop))
			break;
		if (store_commit_matches(repo, c, p, req)) {
			git_oid_cpy(found, git_commit_id(c));
			rc = 1;
			break;
		}
		if (git_commit_parentcount(c) == 0)
			break;
		if ((grc = STORE_GIT(git_commit_parent(&parent, c, 0))) < 0) {
			rc = store_git_error(err, grc, "read parent commit");
			break;
		}
		git_commit_free(c);
		c = parent;
		parent = NULL;
	}
	git_commit_free(c);
	return rc;
}

/* A duplicate answers with the original commit's tags (named by its
 * trailers), whatever the redelivered event carried. */
static void
store_plan_tags_from(struct store_plan *p, git_repository *repo,
    const git_oid *cid)
{
	struct store_trailers t;
	git_commit *c = NULL;
	size_t i;

	if (git_commit_lookup(&c, repo, cid) < 0) {
		git_error_clear();
		return;
	}
	store_trailers_parse(&t, git_commit_message(c));
	git_commit_free(c);
	for (i = 0; i < p->ntags; i++)
		free(p->tags[i]);
	p->ntags = 0;
	if (util_id_valid(t.correlation_id))
		p->tags[p->ntags++] = store_corr_tag(t.correlation_id);
	if (util_id_valid(t.prompt_hash))
		p->tags[p->ntags++] = store_prompt_tag(t.prompt_hash);
}

/* Tag `name` on cid with a zero-id compare-and-swap: created, already
 * ours, or another commit's (first wins). Returns 1 when the tag points
 * at cid, 0 when it points elsewhere, or a negative code. */
static int
store_tag(git_repository *repo, const char *name, const git_oid *cid,
    struct error *err)
{
	git_oid zero, cur;
	git_reference *r = NULL;
	char *ref = xasprintf("refs/tags/%s", name);
	int attempt, grc, rc = ERR_TRANSIENT;

	memset(&zero, 0, sizeof(zero));
	for (attempt = 0; attempt < STORE_CAS_ATTEMPTS; attempt++) {
		grc = STORE_GIT(git_reference_create_matching(&r, repo, ref,
		    cid, 1, &zero, "artifactd: tag"));
		git_reference_free(r);
		r = NULL;
		if (grc == 0) {
			rc = 1;
			goto out;
		}
		if (grc == GIT_EMODIFIED || grc == GIT_EEXISTS) {
			git_error_clear();
			rc = store_ref_commit(&cur, repo, ref, err);
			if (rc == ERR_NOTFOUND)
				continue; /* deleted in between: try again */
			if (rc < 0)
				goto out;
			rc = git_oid_equal(&cur, cid) ? 1 : 0;
			goto out;
		}
		if (grc != GIT_ELOCKED) {
			rc = store_git_error(err, grc, "create tag");
			goto out;
		}
		git_error_clear();
		store_lock_check(repo, ref, attempt);
		store_backoff(attempt);
	}
	rc = error_set(err, ERR_TRANSIENT, "GIT",
	    "tag %s stayed locked after %d attempts", name, STORE_CAS_ATTEMPTS);
out:
	free(ref);
	return rc;
}

static void
store_strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* Fill the tags of res for commit cid. Missing tags are created (after a
 * crash between the branch write and the tag write they are ours to
 * finish); tags held by another commit are reported, never moved. */
static int
store_fill_tags(git_repository *repo, const struct store_plan *p,
    const git_oid *cid, struct store_commit_result *res, struct error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < p->ntags; i++) {
		if ((rc = store_tag(repo, p->tags[i], cid, err)) < 0)
			return rc;
		if (rc == 1)
			store_strv_push(&res->tags, &res->ntags, p->tags[i]);
		else {
			store_strv_push(&res->tags_existing,
			    &res->ntags_existing, p->tags[i]);
			log_info("store_tag_exists tag=%s", p->tags[i]);
		}
	}
	return 0;
}

/*
 * Write the event's files as blobs, which also gives their ids (hashing
 * them separately would read every byte twice). Called after the scan;
 * on a duplicate they already exist and are only freshened. The metadata
 * blob is written by store_write_metadata once we know we commit.
 */
static int
store_write_files(git_repository *repo, struct store_plan *p, struct error *err)
{
	size_t i;
	int grc;

	for (i = 0; i < p->nfiles; i++) {
		grc = STORE_GIT(git_blob_create_from_buffer(&p->ids[i], repo,
		    p->data[i] ? p->data[i] : "", p->len[i]));
		if (grc < 0)
			return store_git_error(err, grc, "write blob");
	}
	return 0;
}

static int
store_write_metadata(git_repository *repo, struct store_plan *p,
    struct error *err)
{
	git_oid id;
	size_t i;
	int grc;

	for (i = p->nfiles; i < p->n; i++) {
		grc = STORE_GIT(git_blob_create_from_buffer(&id, repo,
		    p->data[i], p->len[i]));
		if (grc < 0)
			return store_git_error(err, grc, "write metadata blob");
		if (!git_oid_equal(&id, &p->ids[i]))
			return error_set(err, ERR_FAIL, "GIT",
			    "blob id mismatch for %s", p->paths[i]);
	}
	return 0;
}

/* One attempt: build the commit on the current tip and compare-and-swap
 * the branch. Returns 0 (written, *cid set), 1 (lost the race: retry), 2
 * (the ref was locked: retry) or a negative code. */
static int
store_commit_once(git_repository *repo, struct store *st,
    const struct store_plan *p, const git_oid *tip, bool have_tip, git_oid *cid,
    struct error *err)
{
	git_tree_update *upd = NULL;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_reference *r = NULL;
	git_oid tree_id, base_id, zero;
	const git_commit *parents[1];
	char *base_ref = NULL;
	bool have_parent = have_tip;
	int grc, rc = ERR_FAIL;
	size_t i;

	memset(&zero, 0, sizeof(zero));
	if (have_tip) {
		git_oid_cpy(&base_id, tip);
	} else {
		/* A new branch starts from the base branch, or as a root
		 * commit when there is none yet. */
		base_ref = xasprintf("refs/heads/%s", st->opts.base_branch);
		rc = store_ref_commit(&base_id, repo, base_ref, err);
		if (rc == 0)
			have_parent = true;
		else if (rc != ERR_NOTFOUND)
			goto out;
		error_clear(err);
	}
	if (have_parent) {
		if ((grc = STORE_GIT(
		         git_commit_lookup(&parent, repo, &base_id))) < 0 ||
		    (grc = STORE_GIT(git_commit_tree(&base, parent))) < 0) {
			rc = store_git_error(err, grc, "read parent");
			goto out;
		}
	}
	upd = xcalloc(p->n, sizeof(*upd));
	for (i = 0; i < p->n; i++) {
		upd[i].action = GIT_TREE_UPDATE_UPSERT;
		upd[i].filemode = GIT_FILEMODE_BLOB;
		upd[i].path = p->paths[i];
		git_oid_cpy(&upd[i].id, &p->ids[i]);
	}
	if ((grc = STORE_GIT(git_tree_create_updated(&tree_id, repo, base, p->n,
	         upd))) < 0 ||
	    (grc = STORE_GIT(git_tree_lookup(&tree, repo, &tree_id))) < 0) {
		rc = store_git_error(err, grc, "build tree");
		goto out;
	}
	if ((grc = STORE_GIT(git_signature_new(&sig, st->opts.author_name,
	         st->opts.author_email, (git_time_t)(p->time_ms / 1000), 0))) <
	    0) {
		rc = store_git_error(err, grc, "author signature");
		goto out;
	}
	parents[0] = parent;
	if ((rc = store_commit_write(cid, repo, st, sig, sig, NULL, p->message,
	         tree, have_parent ? 1 : 0, parents, err)) < 0)
		goto out;
	grc = STORE_GIT(git_reference_create_matching(&r, repo, p->branch_ref,
	    cid, 1, have_tip ? tip : &zero, "artifactd: commit"));
	if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED) {
		git_error_clear();
		rc = grc == GIT_ELOCKED ? 2 : 1;
		goto out;
	}
	if (grc < 0) {
		rc = store_git_error(err, grc, "update branch");
		goto out;
	}
	rc = 0;
out:
	git_reference_free(r);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	free(upd);
	free(base_ref);
	return rc;
}

static int
store_scan(struct store *st, const struct store_plan *p, struct error *err)
{
	struct scan_hit hit;
	size_t i;
	int rc;

	if (!st->opts.scan_for_secrets || st->opts.scanner == NULL)
		return 0;
	/* The provenance envelope is ours: base64 of the metadata already
	 * scanned here and of a signature, which entropy rules would flag. */
	for (i = 0; i < p->n - (p->provenance != NULL ? 1 : 0); i++) {
		rc = scanner_scan(st->opts.scanner, p->paths[i],
		    p->data[i] ? p->data[i] : "", p->len[i], &hit, err);
		if (rc < 0) {
			log_warnx("store_secret_detected rule=%s file=\"%s\" "
			          "line=%u fingerprint=%s",
			    hit.rule, p->paths[i], hit.line, hit.fingerprint);
			return rc;
		}
	}
	/* The trailers carry the event's ids (Event-Id, Correlation-Id,
	 * ...), which no file holds: a secret used as an id would land in
	 * git unscanned. */
	rc = scanner_scan(st->opts.scanner, "commit message", p->message,
	    strlen(p->message), &hit, err);
	if (rc < 0)
		log_warnx("store_secret_detected rule=%s file=\"commit "
		          "message\" line=%u fingerprint=%s",
		    hit.rule, hit.line, hit.fingerprint);
	return rc;
}

static void
store_result_fill(struct store_commit_result *res, const struct store *st,
    const struct store_plan *p, const git_oid *cid)
{
	char hex[GIT_OID_HEXSZ + 1];
	size_t i;

	res->branch = xstrdup(p->branch_ref + strlen("refs/heads/"));
	git_oid_tostr(hex, sizeof(hex), cid);
	res->commit_sha = xstrdup(hex);
	for (i = 0; i < p->n; i++)
		store_strv_push(&res->files, &res->nfiles, p->paths[i]);
	(void)st;
}

int
store_commit(struct store *st, const struct store_commit_req *req,
    struct store_commit_result *res, struct error *err)
{
	struct store_plan p;
	git_repository *repo = NULL;
	git_oid tip, seen, cid, tagged, newtip, found;
	bool have_tip, have_seen = false, dup = false;
	int attempt, locked = 0, rc;

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	if ((rc = store_validate(st, req, err)) < 0)
		return rc;
	if ((rc = store_plan_build(&p, st, req, err)) < 0)
		goto out;
	/* Nothing is written before every byte was scanned. */
	if ((rc = store_scan(st, &p, err)) < 0)
		goto out;
	if ((rc = store_repo_acquire(st, &repo, err)) < 0)
		goto out;
	if ((rc = store_write_files(repo, &p, err)) < 0)
		goto out;

	/* Idempotency, from git alone: first the commit behind our corr_
	 * tag (one exact lookup), then the recent history of the branch. */
	if (p.ntags > 0 && req->correlation_id != NULL) {
		char *ref = xasprintf("refs/tags/%s", p.tags[0]);
		git_commit *c = NULL;

		if (store_ref_commit(&tagged, repo, ref, NULL) == 0 &&
		    git_commit_lookup(&c, repo, &tagged) == 0 &&
		    store_commit_matches(repo, c, &p, req)) {
			git_oid_cpy(&cid, &tagged);
			dup = true;
		}
		git_error_clear();
		git_commit_free(c);
		free(ref);
	}

	for (attempt = 0; !dup && attempt < STORE_CAS_ATTEMPTS; attempt++) {
		rc = store_ref_commit(&tip, repo, p.branch_ref, err);
		if (rc < 0 && rc != ERR_NOTFOUND)
			goto out;
		have_tip = rc == 0;
		error_clear(err);
		if (have_tip && (!have_seen || !git_oid_equal(&tip, &seen))) {
			rc = store_find_event(&cid, repo, &tip,
			    have_seen ? &seen : NULL, &p, req, err);
			if (rc < 0)
				goto out;
			if (rc == 1) {
				dup = true;
				break;
			}
			git_oid_cpy(&seen, &tip);
			have_seen = true;
		}
		if (attempt == 0 &&
		    (rc = store_write_metadata(repo, &p, err)) < 0)
			goto out;
		rc = store_commit_once(repo, st, &p, &tip, have_tip, &cid, err);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		if (rc == 2)
			store_lock_check(repo, p.branch_ref, ++locked);
		store_backoff(attempt);
	}
	if (!dup && attempt == STORE_CAS_ATTEMPTS) {
		rc = error_set(err, ERR_TRANSIENT, "GIT",
		    "branch %s kept moving: gave up after %d attempts",
		    p.branch_ref, STORE_CAS_ATTEMPTS);
		goto out;
	}
	if (dup)
		store_plan_tags_from(&p, repo, &cid);
	if ((rc = store_fill_tags(repo, &p, &cid, res, err)) < 0)
		goto out;
	store_result_fill(res, st, &p, &cid);
	res->duplicate = dup;
	if (st->opts.auto_push && st->push_url != NULL) {
		struct error perr;

		error_clear(&perr);
		if (store_push_branch(st, repo, p.branch_ref, res->tags,
		        res->ntags, &newtip, &perr) == 0) {
			res->pushed = true;
			/* When the remote had moved, our commit was rebuilt
			 * (or found there already): report the commit that
			 * now carries our event. The tip itself may be a
			 * later commit of another thread. */
			if (!git_oid_equal(&newtip, &cid) &&
			    store_find_event(&found, repo, &newtip, NULL, &p,
			        req, &perr) == 1) {
				char hex[GIT_OID_HEXSZ + 1];

				git_oid_tostr(hex, sizeof(hex), &found);
				free(res->commit_sha);
				res->commit_sha = xstrdup(hex);
			}
		} else {
			log_warnx("store_push_deferred branch=%s error=\"%s\"",
			    res->branch, perr.msg);
		}
	}
	log_info("store_commit branch=%s sha=%s duplicate=%s pushed=%s "
	         "event_id=%s",
	    res->branch, res->commit_sha, log_bool(dup), log_bool(res->pushed),
	    req->event_id);
	rc = 0;
out:
	if (rc < 0)
		store_commit_result_dispose(res);
	store_repo_release(st, repo);
	store_plan_dispose(&p);
	return rc;
}

static void
store_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
store_commit_result_dispose(struct store_commit_result *res)
{
	if (res == NULL)
		return;
	free(res->branch);
	free(res->commit_sha);
	store_strv_free(res->tags, res->ntags);
	store_strv_free(res->tags_existing, res->ntags_existing);
	store_strv_free(res->files, res->nfiles);
	memset(res, 0, sizeof(*res));
}
