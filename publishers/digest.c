/*
 * digest.c - one pass over a file for sha256, blake2b-256, sha1 and md5.
 *
 * SHA-256, SHA-1 and MD5 come from OpenSSL's EVP interface; BLAKE2b is
 * written from RFC 7693 (sections 2.5-3.3) because OpenSSL 3.0 cannot
 * produce a 256-bit BLAKE2b (see digest.h).
 */
#include "publishers/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "common/xalloc.h"

static const uint64_t blake2b_iv[8] = { 0x6a09e667f3bcc908ULL,
	0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL,
	0x5be0cd19137e2179ULL };

/* The message schedule of RFC 7693 2.7; rounds 10 and 11 reuse 0, 1. */
static const unsigned char blake2b_sigma[12][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
};

static uint64_t
rotr64(uint64_t x, unsigned n)
{
	return (x >> n) | (x << (64 - n));
}

static uint64_t
load64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
mix(uint64_t *v, int a, int b, int c, int d, uint64_t x, uint64_t y)
{
	v[a] = v[a] + v[b] + x;
	v[d] = rotr64(v[d] ^ v[a], 32);
	v[c] = v[c] + v[d];
	v[b] = rotr64(v[b] ^ v[c], 24);
	v[a] = v[a] + v[b] + y;
	v[d] = rotr64(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = rotr64(v[b] ^ v[c], 63);
}

static void
compress(struct digest_blake2b *s, const unsigned char *block, int last)
{
	uint64_t v[16], m[16];
	int i;

	for (i = 0; i < 8; i++) {
		v[i] = s->h[i];
		v[i + 8] = blake2b_iv[i];
	}
	v[12] ^= s->t[0];
	v[13] ^= s->t[1];
	if (last)
		v[14] = ~v[14];
	for (i = 0; i < 16; i++)
		m[i] = load64(block + 8 * i);
	for (i = 0; i < 12; i++) {
		const unsigned char *sg = blake2b_sigma[i];

		mix(v, 0, 4, 8, 12, m[sg[0]], m[sg[1]]);
		mix(v, 1, 5, 9, 13, m[sg[2]], m[sg[3]]);
		mix(v, 2, 6, 10, 14, m[sg[4]], m[sg[5]]);
		mix(v, 3, 7, 11, 15, m[sg[6]], m[sg[7]]);
		mix(v, 0, 5, 10, 15, m[sg[8]], m[sg[9]]);
		mix(v, 1, 6, 11, 12, m[sg[10]], m[sg[11]]);
		mix(v, 2, 7, 8, 13, m[sg[12]], m[sg[13]]);
		mix(v, 3, 4, 9, 14, m[sg[14]], m[sg[15]]);
	}
	for (i = 0; i < 8; i++)
		s->h[i] ^= v[i] ^ v[i + 8];
}

static void
counter_add(struct digest_blake2b *s, uint64_t n)
{
	s->t[0] += n;
	if (s->t[0] < n)
		s->t[1]++;
}

void
digest_blake2b_init(struct digest_blake2b *s, size_t outlen)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->h, blake2b_iv, sizeof(s->h));
	/* Parameter block word 0: digest length, no key, fanout 1,
	 * depth 1. */
	s->h[0] ^= 0x01010000ULL ^ (uint64_t)outlen;
	s->outlen = outlen;
}

void
digest_blake2b_update(struct digest_blake2b *s, const void *p, size_t n)
{
	const unsigned char *in = p;

	while (n > 0) {
		size_t take;

		/* A full buffer is compressed only once more input shows it
		 * is not the last block, which needs the final flag. */
		if (s->buflen == sizeof(s->buf)) {
			counter_add(s, sizeof(s->buf));
			compress(s, s->buf, 0);
			s->buflen = 0;
		}
		take = sizeof(s->buf) - s->buflen;
		if (take > n)
			take = n;
		memcpy(s->buf + s->buflen, in, take);
		s->buflen += take;
		in += take;
		n -= take;
	}
}

void
digest_blake2b_final(struct digest_blake2b *s, unsigned char *out)
{
	unsigned char full[64];
	size_t i;

	counter_add(s, s->buflen);
	memset(s->buf + s->buflen, 0, sizeof(s->buf) - s->buflen);
	compress(s, s->buf, 1);
	for (i = 0; i < 64; i++)
		full[i] = (unsigned char)(s->h[i / 8] >> (8 * (i % 8)));
	memcpy(out, full, s->outlen);
}

void
digest_blake2b256_hex(char out[65], const void *p, size_t n)
{
	struct digest_blake2b s;
	unsigned char md[32];

	digest_blake2b_init(&s, 32);
	digest_blake2b_update(&s, p, n);
	digest_blake2b_final(&s, md);
	util_hex(out, md, 32);
}

int
digest_file(struct digest_set *out, uint64_t *size, int fd, const char *what,
    struct error *err)
{
	return digest_file_some(out, size, fd, what, DIGEST_ALL, err);
}

int
digest_file_some(struct digest_set *out, uint64_t *size, int fd,
    const char *what, unsigned want, struct error *err)
{
	return digest_file_until(out, size, fd, what, want, NULL, err);
}

int
digest_file_until(struct digest_set *out, uint64_t *size, int fd,
    const char *what, unsigned want, const _Atomic bool *stop,
    struct error *err)
{
	/* 1 MiB reads: fewer system calls on multi-GiB files, still a
	 * constant, small footprint. Heap, not stack, for thread stacks. */
	enum { DIGEST_CHUNK = 1024 * 1024 };
	unsigned char *buf = xmalloc(DIGEST_CHUNK), md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *c256 = EVP_MD_CTX_new(), *c1 = EVP_MD_CTX_new(),
	           *c5 = EVP_MD_CTX_new();
	struct digest_blake2b b2;
	struct digest_set d = { "", "", "", "" };
	unsigned int mdlen;
	uint64_t total = 0;
	ssize_t n;
	int rc = ERR_FAIL;

	EVP_DigestInit_ex(c256, EVP_sha256(), NULL);
	EVP_DigestInit_ex(c1, EVP_sha1(), NULL);
	EVP_DigestInit_ex(c5, EVP_md5(), NULL);
	digest_blake2b_init(&b2, 32);
	/* pread from 0: the descriptor's offset is not ours to rely on (the
	 * metadata reader moves it). */
	while ((n = pread(fd, buf, DIGEST_CHUNK, (off_t)total)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		if (n < 0)
			continue;
		if (stop != NULL && atomic_load(stop)) {
			error_set(err, ERR_FAIL, "CANCELLED",
			    "hashing %s stopped: the release ended", what);
			goto out;
		}
		EVP_DigestUpdate(c256, buf, (size_t)n);
		if (want & DIGEST_SHA1)
			EVP_DigestUpdate(c1, buf, (size_t)n);
		if (want & DIGEST_MD5)
			EVP_DigestUpdate(c5, buf, (size_t)n);
		if (want & DIGEST_BLAKE2_256)
			digest_blake2b_update(&b2, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0) {
		error_set(err, ERR_FAIL, "IO", "cannot read %s: %s", what,
		    strerror(errno));
		goto out;
	}
	EVP_DigestFinal_ex(c256, md, &mdlen);
	util_hex(d.sha256, md, 32);
	if (want & DIGEST_SHA1) {
		EVP_DigestFinal_ex(c1, md, &mdlen);
		util_hex(d.sha1, md, 20);
	}
	if (want & DIGEST_MD5) {
		EVP_DigestFinal_ex(c5, md, &mdlen);
		util_hex(d.md5, md, 16);
	}
	if (want & DIGEST_BLAKE2_256) {
		digest_blake2b_final(&b2, md);
		util_hex(d.blake2_256, md, 32);
	}
	*out = d;
	*size = total;
	rc = 0;
out:
	EVP_MD_CTX_free(c256);
	EVP_MD_CTX_free(c1);
	EVP_MD_CTX_free(c5);
	free(buf);
	return rc;
}

struct digest_pipe {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot filled, freed, or quit */
	unsigned char *slot[DIGEST_PIPE_SLOTS];
	size_t len[DIGEST_PIPE_SLOTS];
	size_t head, filled; /* next slot to fill; slots waiting or hashed */
	bool quit;
	EVP_MD_CTX *ctx; /* used by the thread, or by the producer once
	                    the slots are drained */
};

static void *
digest_pipe_main(void *arg)
{
	struct digest_pipe *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		size_t tail;

		while (p->filled == 0 && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->filled == 0)
			break;
		tail = (p->head + DIGEST_PIPE_SLOTS - p->filled) %
		       DIGEST_PIPE_SLOTS;
		pthread_mutex_unlock(&p->mu);
		/* The slot is the thread's until filled drops. */
		EVP_DigestUpdate(p->ctx, p->slot[tail], p->len[tail]);
		pthread_mutex_lock(&p->mu);
		p->filled--;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct digest_pipe *
digest_pipe_new(void)
{
	struct digest_pipe *p = xcalloc(1, sizeof(*p));
	size_t i;

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(p->ctx, EVP_sha256(), NULL);
	for (i = 0; i < DIGEST_PIPE_SLOTS; i++)
		p->slot[i] = xmalloc(DIGEST_PIPE_SLOT);
	if (pthread_create(&p->thread, NULL, digest_pipe_main, p) != 0) {
		p->quit = true; /* nothing to join */
		digest_pipe_free(p);
		return NULL;
	}
	return p;
}

void
digest_pipe_feed(struct digest_pipe *p, const void *data, size_t n)
{
	const unsigned char *in = data;

	while (n > 0) {
		size_t take = n < DIGEST_PIPE_SLOT ? n : DIGEST_PIPE_SLOT;
		size_t h;

		pthread_mutex_lock(&p->mu);
		while (p->filled == DIGEST_PIPE_SLOTS)
			pthread_cond_wait(&p->cv, &p->mu);
		h = p->head;
		pthread_mutex_unlock(&p->mu);
		/* A free slot is the producer's until it is counted. */
		memcpy(p->slot[h], in, take);
		p->len[h] = take;
		pthread_mutex_lock(&p->mu);
		p->head = (h + 1) % DIGEST_PIPE_SLOTS;
		p->filled++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		in += take;
		n -= take;
	}
}

/* Wait until the thread has hashed everything fed. */
static void
digest_pipe_drain(struct digest_pipe *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->filled > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void
digest_pipe_reset(struct digest_pipe *p)
{
	digest_pipe_drain(p);
	EVP_DigestInit_ex(p->ctx, EVP_sha256(), NULL);
}

void
digest_pipe_final(struct digest_pipe *p, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	digest_pipe_drain(p);
	EVP_DigestFinal_ex(p->ctx, md, &mdlen);
	util_hex(hex, md, 32);
}

void
digest_pipe_free(struct digest_pipe *p)
{
	size_t i;
	bool join;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	join = !p->quit;
	p->quit = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (join)
		pthread_join(p->thread, NULL);
	for (i = 0; i < DIGEST_PIPE_SLOTS; i++)
		free(p->slot[i]);
	EVP_MD_CTX_free(p->ctx);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
