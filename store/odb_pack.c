/*
 * odb_pack.c - the packs group commit writes, and keeping their number
 * bounded.
 *
 * store_pack_write writes objects as one pack, undeltified (each object
 * zlib-compressed, pack format v2, SHA-1 trailer), and hands the bytes
 * to libgit2's indexer through git_odb_write_pack, which checks every
 * object, writes the .idx, and with GIT_OPT_ENABLE_FSYNC_GITDIR fsyncs
 * the .idx, the .pack and the pack directory before it returns (libgit2
 * 1.5 indexer.c git_indexer_commit). No delta search: the objects are
 * small and the write is on every event's path.
 *
 * store_pack_fold folds the small packs together once there are more
 * than STORE_PACK_FOLD of them: their objects are read (from any pack)
 * and written as one new pack the same way; only once that pack and
 * its index are durable are the old ones removed, index first. Another
 * process that still holds an old pack open keeps reading it (an
 * unlinked file stays readable); one that had not opened it yet misses,
 * and libgit2 rescans the pack directory on every miss (odb.c,
 * git_odb_refresh) and finds the new pack. Folding is serialised
 * between processes by flock on a lock file in objects/pack.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "store/group.h"
#include "store/store_int.h"

/* Objects in one pack: a group is a few events of ~11 objects, a fold
 * at most STORE_PACK_FOLD_MAX packs of STORE_PACK_SMALL bytes; 4 M is
 * far beyond both and below the pack format's 32-bit count. */
#define PACK_MAX_OBJECTS (4u * 1024 * 1024)

/* A pack under this size is "small" and gets folded; bigger ones (the
 * result of many folds) stay. 1 MiB is about 500 events of the bench's
 * shape, so a fold reads at most STORE_PACK_FOLD_MAX MiB. */
#define STORE_PACK_SMALL (1024 * 1024)

/* Fold when more than this many small packs exist: libgit2 looks an
 * object up pack after pack, so the count bounds every read's cost. */
#define STORE_PACK_FOLD 32

/* Packs folded in one go (so one fold's memory is bounded). */
#define STORE_PACK_FOLD_MAX 256

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

/* Pack bytes, hashed as they go to the indexer. */
struct pack_out {
	git_odb_writepack *wp;
	git_indexer_progress stats;
	EVP_MD_CTX *sha;
};

static int
pack_put(struct pack_out *pk, const void *p, size_t n)
{
	if (EVP_DigestUpdate(pk->sha, p, n) != 1)
		return GIT_ERROR;
	return STORE_GIT(pk->wp->append(pk->wp, p, n, &pk->stats));
}

/* One undeltified entry: the type and size header (pack format: 3 type
 * bits and 4 size bits, then 7 size bits a byte), then zlib data. */
static int
pack_entry(struct pack_out *pk, const struct store_odb_obj *o)
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
	if ((grc = pack_put(pk, hdr, n)) >= 0)
		grc = pack_put(pk, z, zlen);
	free(z);
	return grc;
}

int
store_pack_write(git_repository *repo, struct store_odb_obj **objs, size_t n,
    struct error *err)
{
	struct pack_out pk = { 0 };
	unsigned char head[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int sumlen = 0;
	git_odb *odb = NULL;
	size_t i;
	int grc = 0, rc = ERR_FAIL;

	if (n == 0)
		return 0;
	if (n > PACK_MAX_OBJECTS)
		return error_set(err, ERR_FAIL, "GIT",
		    "pack of %zu objects, limit %u", n, PACK_MAX_OBJECTS);
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
	    (grc = pack_put(&pk, head, sizeof(head))) < 0)
		goto fail;
	for (i = 0; i < n && grc >= 0; i++) {
		grc = pack_entry(&pk, objs[i]);
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
	return rc;
}

/* Folding ------------------------------------------------------------------ */

struct pack_list {
	char **names; /* "pack-<sha>" of the small packs */
	size_t n;
};

static void
pack_list_free(struct pack_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

/* The small packs of dir (those with an .idx and a .pack). */
static void
pack_list_small(struct pack_list *l, const char *dir)
{
	DIR *d;
	struct dirent *de;
	struct stat sb;
	char *path;
	size_t len;

	memset(l, 0, sizeof(*l));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && l->n < STORE_PACK_FOLD_MAX) {
		len = strlen(de->d_name);
		if (strncmp(de->d_name, "pack-", 5) != 0 || len < 10 ||
		    strcmp(de->d_name + len - 5, ".pack") != 0)
			continue;
		path =
		    xasprintf("%s/%.*s.idx", dir, (int)(len - 5), de->d_name);
		if (access(path, F_OK) == 0 &&
		    fstatat(dirfd(d), de->d_name, &sb, 0) == 0 &&
		    sb.st_size < STORE_PACK_SMALL) {
			l->names =
			    xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
			l->names[l->n++] = xstrndup(de->d_name, len - 5);
		}
		free(path);
	}
	closedir(d);
}

/* Append the object names of index file `path` (version 2: magic,
 * version, 256 fanout words, then the names) to *ids. */
static int
pack_idx_names(git_oid **ids, size_t *n, const char *path, struct error *err)
{
	unsigned char hdr[8 + 256 * 4];
	FILE *f = fopen(path, "rbe");
	size_t count, i;
	int rc = ERR_FAIL;

	if (f == NULL)
		return error_set(err, ERR_FAIL, "GIT", "open %s", path);
	if (fread(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
	    memcmp(hdr, "\377tOc\0\0\0\2", 8) != 0) {
		error_set(err, ERR_FAIL, "GIT", "%s: not a v2 pack index",
		    path);
		goto out;
	}
	count = (size_t)hdr[8 + 255 * 4] << 24 |
	        (size_t)hdr[8 + 255 * 4 + 1] << 16 |
	        (size_t)hdr[8 + 255 * 4 + 2] << 8 | hdr[8 + 255 * 4 + 3];
	if (count > PACK_MAX_OBJECTS || *n + count > PACK_MAX_OBJECTS) {
		error_set(err, ERR_FAIL, "GIT", "%s: too many objects", path);
		goto out;
	}
	*ids = xrealloc(*ids, (*n + count + 1) * sizeof(**ids));
	for (i = 0; i < count; i++, (*n)++)
		if (fread((*ids)[*n].id, 1, GIT_OID_RAWSZ, f) !=
		    GIT_OID_RAWSZ) {
			error_set(err, ERR_FAIL, "GIT", "%s: truncated", path);
			goto out;
		}
	rc = 0;
out:
	fclose(f);
	return rc;
}

static int
pack_oid_cmp(const void *a, const void *b)
{
	return git_oid_cmp(a, b);
}

/* Read the objects of the listed packs and write them as one pack. */
static int
pack_fold_write(git_repository *repo, const char *dir,
    const struct pack_list *l, struct error *err)
{
	git_oid *ids = NULL;
	git_odb *odb = NULL;
	git_odb_object **held = NULL;
	struct store_odb_obj *objs = NULL, **ptrs = NULL;
	size_t i, k, n = 0;
	char *path;
	int grc, rc = 0;

	for (i = 0; i < l->n && rc == 0; i++) {
		path = xasprintf("%s/%s.idx", dir, l->names[i]);
		rc = pack_idx_names(&ids, &n, path, err);
		free(path);
	}
	if (rc < 0)
		goto out;
	/* Two processes may have packed the same object: once here. */
	qsort(ids, n, sizeof(*ids), pack_oid_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || !git_oid_equal(&ids[k - 1], &ids[i]))
			git_oid_cpy(&ids[k++], &ids[i]);
	n = k;
	if ((grc = STORE_GIT(git_repository_odb(&odb, repo))) < 0) {
		rc = store_git_error(err, grc, "open object database");
		goto out;
	}
	held = xcalloc(n + 1, sizeof(*held));
	objs = xcalloc(n + 1, sizeof(*objs));
	ptrs = xcalloc(n + 1, sizeof(*ptrs));
	for (i = 0; i < n; i++) {
		if ((grc = STORE_GIT(git_odb_read(&held[i], odb, &ids[i]))) <
		    0) {
			rc = store_git_error(err, grc, "read object to fold");
			goto out;
		}
		git_oid_cpy(&objs[i].id, &ids[i]);
		objs[i].type = git_odb_object_type(held[i]);
		objs[i].len = git_odb_object_size(held[i]);
		objs[i].data =
		    (unsigned char *)(uintptr_t)git_odb_object_data(held[i]);
		ptrs[i] = &objs[i];
	}
	rc = store_pack_write(repo, ptrs, n, err);
out:
	for (i = 0; held != NULL && i < n; i++)
		git_odb_object_free(held[i]);
	free(held);
	free(objs);
	free(ptrs);
	free(ids);
	git_odb_free(odb);
	return rc;
}

int
store_pack_fold(git_repository *repo, struct error *err)
{
	struct pack_list l;
	char *dir = xasprintf("%s/objects/pack", git_repository_path(repo));
	char *lock = xasprintf("%s/artifactd-fold.lock", dir), *path;
	size_t i;
	int fd, rc = 0;

	memset(&l, 0, sizeof(l));
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		goto out;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		goto out; /* another process is folding */
	pack_list_small(&l, dir);
	if (l.n <= STORE_PACK_FOLD)
		goto out;
	if ((rc = pack_fold_write(repo, dir, &l, err)) < 0)
		goto out;
	/* The new pack and its index are durable: the old ones go,
	 * index first so that no scan finds an index without its pack. */
	for (i = 0; i < l.n; i++) {
		path = xasprintf("%s/%s.idx", dir, l.names[i]);
		(void)unlink(path);
		free(path);
		path = xasprintf("%s/%s.pack", dir, l.names[i]);
		(void)unlink(path);
		free(path);
	}
	log_info("store_pack_fold packs=%zu", l.n);
out:
	if (fd >= 0)
		close(fd); /* releases the flock */
	pack_list_free(&l);
	free(lock);
	free(dir);
	return rc;
}
