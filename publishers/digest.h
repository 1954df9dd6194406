/*
 * digest.h - every digest a release needs, in one pass over a file.
 *
 * PyPI wants sha256 and blake2b-256 (publishers.md 1.2), Artifactory sha1,
 * md5 and sha256 headers, S3 a Content-MD5. Reading a 2 GiB wheel four
 * times would be wasteful, so the release hashes each file once here.
 * OpenSSL 3.0 only offers BLAKE2b-512 (the digest length became a
 * parameter in 3.2, and BLAKE2b-256 is not a truncated BLAKE2b-512: the
 * length is part of the parameter block), so BLAKE2b is implemented here
 * after RFC 7693.
 */
#ifndef PUBLISHERS_DIGEST_H
#define PUBLISHERS_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct digest_set {
	char sha256[65];
	char blake2_256[65];
	char sha1[41];
	char md5[33];
};

/* BLAKE2b (RFC 7693), unkeyed, outlen 1..64 bytes. */
struct digest_blake2b {
	uint64_t h[8];
	uint64_t t[2];
	unsigned char buf[128];
	size_t buflen;
	size_t outlen;
};

void digest_blake2b_init(struct digest_blake2b *s, size_t outlen);
void digest_blake2b_update(struct digest_blake2b *s, const void *p, size_t n);
void digest_blake2b_final(struct digest_blake2b *s, unsigned char *out);

/* BLAKE2b-256 of a buffer as lower-case hex. */
void digest_blake2b256_hex(char out[65], const void *p, size_t n);

/* Which digests digest_file_some computes (sha256 always). */
enum {
	DIGEST_SHA256 = 1,
	DIGEST_BLAKE2_256 = 2,
	DIGEST_SHA1 = 4,
	DIGEST_MD5 = 8,
	DIGEST_ALL = 15
};

/*
 * Hash an open file (fd, borrowed; read with pread from offset 0, so its
 * position is neither used nor moved): all four digests and its size,
 * streamed in constant memory. `what` names it in messages. Returns 0 or
 * ERR_FAIL (code IO). Files named by producers are opened with
 * path_open_beneath (common/path.h), never by name here.
 */
int digest_file(struct digest_set *out, uint64_t *size, int fd,
    const char *what, struct error *err);

/*
 * The same, computing only the digests in `want` (DIGEST_* bits; sha256
 * is always computed). The others are left "". Hashing dominates the cost
 * of publishing a big file (md5 and the portable BLAKE2b run at under
 * 1 GB/s, sha256 with SHA-NI near 2 GB/s), so a release hashes only what
 * its targets use.
 */
int digest_file_some(struct digest_set *out, uint64_t *size, int fd,
    const char *what, unsigned want, struct error *err);

/*
 * The same, giving up (ERR_FAIL, code CANCELLED) as soon as *stop is
 * true (checked after each read), so that a release that ended does not
 * wait for a multi-GiB file to be hashed on its hasher thread. stop may
 * be NULL.
 */
int digest_file_until(struct digest_set *out, uint64_t *size, int fd,
    const char *what, unsigned want, const _Atomic bool *stop,
    struct error *err);

/*
 * SHA-256 on a thread of its own, fed in order (hash while sending, issue
 * 13): feed copies the bytes into one of DIGEST_PIPE_SLOTS buffers and
 * returns, the thread hashes them, so that the sending thread does not
 * pay for the hash. Memory is bounded by the slots (feed waits while all
 * are full). One producer. digest_pipe_new starts the thread (NULL when
 * it cannot: the caller hashes inline); reset starts a new digest, final
 * writes the hex sha256 of everything fed since; free stops and joins.
 */
/* 4 slots of 512 KiB: two read callbacks' worth (http.h's upload buffer)
 * in flight each way, 2 MiB per transfer being sent. */
#define DIGEST_PIPE_SLOTS 4
#define DIGEST_PIPE_SLOT (512 * 1024)
struct digest_pipe;
struct digest_pipe *digest_pipe_new(void);
void digest_pipe_feed(struct digest_pipe *p, const void *data, size_t n);
void digest_pipe_reset(struct digest_pipe *p);
void digest_pipe_final(struct digest_pipe *p, char hex[65]);
void digest_pipe_free(struct digest_pipe *p);

#endif
