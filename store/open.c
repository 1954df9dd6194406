/*
 * open.c - opening a store and closing it: the options copied, the remote
 * URL checked against what libgit2 1.5 can reach, libgit2's process-wide
 * options, the repository created bare (or brought back from the remote
 * when the directory is missing or empty), the signing key loaded and the
 * push helper process started (push_child.c) while the caller has no
 * libgit2 threads yet.
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

#include "common/log.h"
#include "common/redact.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/xalloc.h"
#include "store/sign.h"
#include "store/store_int.h"

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

/* Pack files libgit2 keeps open, process-wide: the packs of a folded
 * repository (at most STORE_PACK_FOLD small ones plus the big ones)
 * many times over, far below the descriptor limit. */
#define STORE_GIT_PACK_FILES 256

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
	/* Group commit writes many packs (store/group.c): libgit2 keeps
	 * each pack it read open, by default without limit; past this it
	 * closes the least recently used. */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT,
	    (size_t)STORE_GIT_PACK_FILES);

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
	st->group = store_group_get(st->opts.repo_path);
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
	store_push_batch_free(st);
	store_opts_free(&st->opts);
	free(st->push_url);
	sign_key_free(st->signer);
	free(st->consumer);
	store_group_put(st->group);
	free(st);
	git_libgit2_shutdown();
}
