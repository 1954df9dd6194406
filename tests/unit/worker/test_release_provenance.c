/*
 * test_release_provenance.c - the release provenance's bookkeeping: no
 * key adds nothing; after the run, a file the release core hashed to
 * another digest than the statement's is PROVENANCE_MISMATCH (the file
 * changed between the two reads); files outside the subjects (checksum
 * files, the provenance itself) are not compared; a release of
 * RELEASE_MAX_FILES files has no room left for its provenance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "worker/release_provenance.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
prov_one(struct release_prov *p, const char *name, const char *sha)
{
	memset(p, 0, sizeof(*p));
	p->n = 1;
	p->names = xcalloc(1, sizeof(*p->names));
	p->sha256 = xcalloc(1, sizeof(*p->sha256));
	p->names[0] = xstrdup(name);
	memcpy(p->sha256[0], sha, 65);
}

static void
item(struct release_result *rr, const char *file, const char *sha)
{
	struct release_item *it;

	rr->items = xrealloc(rr->items, (rr->n + 1) * sizeof(*rr->items));
	it = &rr->items[rr->n++];
	memset(it, 0, sizeof(*it));
	it->target = xstrdup("gh");
	it->file = xstrdup(file);
	memcpy(it->sha256, sha, strlen(sha) + 1);
}

static void
test_check(void **state)
{
	struct release_prov p;
	struct release_result rr;
	struct error err;

	(void)state;
	release_result_init(&rr);
	prov_one(&p, "pkg-1.0-py3-none-any.whl", SHA_A);
	item(&rr, "pkg-1.0-py3-none-any.whl", SHA_A);
	item(&rr, "SHA256SUMS", SHA_B); /* not a subject */
	item(&rr, "", "");              /* a target-wide failure */
	error_clear(&err);
	assert_int_equal(release_provenance_check(&p, &rr, &err), 0);
	/* The core read other bytes than the statement's. */
	item(&rr, "pkg-1.0-py3-none-any.whl", SHA_B);
	assert_int_equal(release_provenance_check(&p, &rr, &err), ERR_FAIL);
	assert_string_equal(err.code, "PROVENANCE_MISMATCH");
	assert_non_null(strstr(err.msg, "pkg-1.0-py3-none-any.whl"));
	release_provenance_dispose(&p);
	/* Disposed (zeroed): nothing to compare. */
	assert_int_equal(release_provenance_check(&p, &rr, &err), 0);
	release_provenance_dispose(&p);
	release_result_dispose(&rr);
}

static void
test_no_key(void **state)
{
	struct config cfg;
	struct release_config c;
	struct release_request req = { 0 };
	struct release_prov p;
	struct release_prov_in in = { "evt-1", NULL, NULL };
	const char *files[] = { "dist/pkg-1.0-py3-none-any.whl" };
	struct error err;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	release_config_init(&c);
	req.tag = "v1.0";
	req.files = files;
	req.nfiles = 1;
	error_clear(&err);
	assert_int_equal(release_provenance_add(&p, &cfg, &c, &req, &in, &err),
	    0);
	assert_ptr_equal(req.files, files);
	assert_int_equal(req.nfiles, 1);
	assert_null(p.path);
	release_provenance_dispose(&p);
	release_config_dispose(&c);
}

/* RELEASE_MAX_FILES files leave no room for the provenance: refused
 * before the key is even read, never published without it. */
static void
test_full_release(void **state)
{
	struct config cfg;
	struct release_config c;
	struct release_request req = { 0 };
	struct release_prov p;
	struct release_prov_in in = { "evt-1", NULL, NULL };
	const char **files = xcalloc(RELEASE_MAX_FILES, sizeof(*files));
	struct error err;
	char keypath[] = "/nonexistent/key";
	size_t i;

	(void)state;
	for (i = 0; i < RELEASE_MAX_FILES; i++)
		files[i] = "dist/x.zip";
	memset(&cfg, 0, sizeof(cfg));
	cfg.signing_key = keypath;
	release_config_init(&c);
	req.tag = "v1.0";
	req.files = files;
	req.nfiles = RELEASE_MAX_FILES;
	error_clear(&err);
	assert_int_equal(release_provenance_add(&p, &cfg, &c, &req, &in, &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "INVALID_EVENT");
	assert_int_equal(req.nfiles, RELEASE_MAX_FILES);
	release_provenance_dispose(&p);
	release_config_dispose(&c);
	free(files);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_no_key),
		cmocka_unit_test(test_full_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
