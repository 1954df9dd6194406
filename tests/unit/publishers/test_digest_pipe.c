/*
 * test_digest_pipe.c - SHA-256 on a thread of its own (publishers/digest.h,
 * hash while sending): fed in pieces of every size (smaller than, equal
 * to and larger than a slot, more than all slots at once), the digest
 * equals OpenSSL's one-shot digest of the same bytes; a reset forgets what
 * was fed before it; an empty feed gives the digest of nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "common/util.h"
#include "publishers/digest.h"

/* More than all slots together, and not a multiple of a slot. */
#define DATA_LEN (DIGEST_PIPE_SLOTS * DIGEST_PIPE_SLOT * 2 + 12345)

static unsigned char *
make_data(void)
{
	unsigned char *d = malloc(DATA_LEN);
	uint32_t x = 2463534242u;
	size_t i;

	assert_non_null(d);
	for (i = 0; i < DATA_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (unsigned char)x;
	}
	return d;
}

static void
one_shot(char hex[65], const unsigned char *d, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(d, n, md, &len, EVP_sha256(), NULL), 1);
	util_hex(hex, md, 32);
}

static void
test_pieces_equal_one_shot(void **st)
{
	static const size_t sizes[] = { 1, 7, 4096, DIGEST_PIPE_SLOT,
		DIGEST_PIPE_SLOT + 1, 3 * DIGEST_PIPE_SLOT, 65536 };
	unsigned char *d = make_data();
	struct digest_pipe *p = digest_pipe_new();
	char want[65], got[65];
	size_t off = 0, k = 0;

	(void)st;
	assert_non_null(p);
	while (off < DATA_LEN) {
		size_t n = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];

		if (n > DATA_LEN - off)
			n = DATA_LEN - off;
		digest_pipe_feed(p, d + off, n);
		off += n;
	}
	digest_pipe_final(p, got);
	one_shot(want, d, DATA_LEN);
	assert_string_equal(got, want);
	digest_pipe_free(p);
	free(d);
}

static void
test_reset_forgets(void **st)
{
	unsigned char *d = make_data();
	struct digest_pipe *p = digest_pipe_new();
	char want[65], got[65];

	(void)st;
	assert_non_null(p);
	digest_pipe_feed(p, d, DATA_LEN / 2);
	digest_pipe_reset(p);
	digest_pipe_feed(p, d + 100, 5 * DIGEST_PIPE_SLOT);
	digest_pipe_final(p, got);
	one_shot(want, d + 100, 5 * DIGEST_PIPE_SLOT);
	assert_string_equal(got, want);
	/* Final then reset: a second digest on the same pipe. */
	digest_pipe_reset(p);
	digest_pipe_final(p, got);
	one_shot(want, d, 0);
	assert_string_equal(got, want);
	digest_pipe_free(p);
	free(d);
}

static void
test_free_with_data_in_flight(void **st)
{
	unsigned char *d = make_data();
	struct digest_pipe *p = digest_pipe_new();

	(void)st;
	assert_non_null(p);
	digest_pipe_feed(p, d, DATA_LEN);
	digest_pipe_free(p); /* joins after the slots are hashed */
	digest_pipe_free(NULL);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pieces_equal_one_shot),
		cmocka_unit_test(test_reset_forgets),
		cmocka_unit_test(test_free_with_data_in_flight),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
