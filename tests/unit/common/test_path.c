/*
 * test_path.c - files named by producers open beneath the root or not at
 * all: escapes by "..", absolute paths and symlinks are refused, symlinks
 * inside the root are followed, FIFOs are refused without blocking,
 * sizes are checked before and while reading. Both the openat2 path and
 * the fallback walk are driven.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/path.h"
#include "common/path_int.h"

static char root[64], outside[64];

static void
put(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
link_in(const char *target, const char *name)
{
	char link[256];

	snprintf(link, sizeof(link), "%s/%s", root, name);
	assert_int_equal(symlink(target, link), 0);
}

static int
setup(void **state)
{
	char p[256];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/artifactd-path-XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/artifactd-pout-XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_non_null(mkdtemp(outside));
	put(root, "a.txt", "hello\n");
	snprintf(p, sizeof(p), "%s/sub", root);
	assert_int_equal(mkdir(p, 0755), 0);
	put(root, "sub/b.txt", "bee\n");
	put(outside, "secret.txt", "nope\n");
	snprintf(p, sizeof(p), "%s/secret.txt", outside);
	link_in(p, "escape.txt");       /* absolute, outside */
	link_in("../", "updir");        /* relative, outside */
	link_in("sub/b.txt", "inside"); /* relative, inside */
	link_in("sub", "subdir");       /* a directory inside */
	link_in("nothing", "dangling");
	snprintf(p, sizeof(p), "%s/a.txt", root);
	link_in(p, "abs_inside"); /* absolute, pointing inside */
	snprintf(p, sizeof(p), "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0600), 0);
	/* A FIFO open that blocks would hang the suite: fail instead. */
	alarm(20);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	alarm(0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, outside);
	return system(cmd);
}

/* Open through path_open_beneath; returns rc, err.code in code. */
static int
try_open(const char *path, uint64_t max, char *code, size_t n)
{
	struct path_root r;
	struct error err = { 0 };
	int fd = -1, rc;

	assert_int_equal(path_root_open(&r, root, &err), 0);
	rc = path_open_beneath(&fd, NULL, &r, path, max, &err);
	snprintf(code, n, "%s", rc < 0 ? err.code : "");
	if (rc == 0) {
		assert_true(fd >= 0);
		assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	path_root_close(&r);
	return rc;
}

struct want {
	const char *path;
	const char *code; /* "" for success */
};

static void
check_cases(const struct want *w, size_t n)
{
	char code[32], abs[256];
	size_t i;

	for (i = 0; i < n; i++) {
		const char *p = w[i].path;

		if (p[0] == '@') { /* "@x": root + "/x" */
			snprintf(abs, sizeof(abs), "%s/%s", root, p + 1);
			p = abs;
		}
		(void)try_open(p, 1024, code, sizeof(code));
		if (strcmp(code, w[i].code) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", p, code,
			    w[i].code);
	}
}

static void
test_beneath(void **state)
{
	static const struct want cases[] = {
		{ "a.txt", "" },
		{ "sub/b.txt", "" },
		{ "./sub//b.txt", "" },
		{ "sub/../a.txt", "" },
		{ "inside", "" },
		{ "subdir/b.txt", "" },
		{ "@a.txt", "" },
		{ "@sub/b.txt", "" },
		{ "../a.txt", "PATH_REJECTED" },
		{ "sub/../../etc/passwd", "PATH_REJECTED" },
		{ "/etc/hostname", "PATH_REJECTED" },
		{ "@../etc/hostname", "PATH_REJECTED" },
		{ "escape.txt", "PATH_REJECTED" },
		{ "updir/etc/hostname", "PATH_REJECTED" },
		{ "abs_inside", "PATH_REJECTED" },
		{ "sub", "PATH_REJECTED" },
		{ "subdir", "PATH_REJECTED" },
		{ "fifo", "PATH_REJECTED" },
		{ "", "PATH_REJECTED" },
		{ "@", "PATH_REJECTED" },
		{ "missing", "FILE_NOT_FOUND" },
		{ "a.txt/x", "FILE_NOT_FOUND" },
		{ "dangling", "FILE_NOT_FOUND" },
	};

	(void)state;
	check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void
test_too_big(void **state)
{
	struct path_root r;
	struct error err = { 0 };
	char code[32], *data = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	assert_int_equal(try_open("a.txt", 5, code, sizeof(code)), ERR_INVALID);
	assert_string_equal(code, "TOO_LARGE");
	assert_int_equal(try_open("a.txt", 6, code, sizeof(code)), 0);
	/* The file grows after the check: reading stops at the ceiling. */
	assert_int_equal(path_root_open(&r, root, &err), 0);
	assert_int_equal(path_open_beneath(&fd, NULL, &r, "a.txt", 6, &err), 0);
	assert_int_equal(path_read_fd(&data, &len, fd, 6, "a.txt", &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);
	data = NULL;
	put(root, "a.txt", "hello world\n");
	assert_int_equal(path_read_fd(&data, &len, fd, 6, "a.txt", &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "TOO_LARGE");
	assert_null(data);
	assert_int_equal(path_read_fd(&data, &len, fd, 100, "a.txt", &err), 0);
	assert_int_equal(len, 12);
	free(data);
	put(root, "a.txt", "hello\n");
	close(fd);
	path_root_close(&r);
}

/* The fallback refuses every symlink and every "..", follows nothing. */
static void
test_walk(void **state)
{
	static const struct {
		const char *rel;
		const char *code;
	} cases[] = {
		{ "a.txt", "" },
		{ "sub/b.txt", "" },
		{ "./sub//b.txt", "" },
		{ "inside", "PATH_REJECTED" },
		{ "subdir/b.txt", "PATH_REJECTED" },
		{ "escape.txt", "PATH_REJECTED" },
		{ "updir/etc/hostname", "PATH_REJECTED" },
		{ "sub/../a.txt", "PATH_REJECTED" },
		{ "../a.txt", "PATH_REJECTED" },
		{ "sub/", "PATH_REJECTED" },
		{ "missing", "FILE_NOT_FOUND" },
		{ "nodir/x", "FILE_NOT_FOUND" },
		{ "dangling", "PATH_REJECTED" },
	};
	struct path_root r;
	struct error err;
	size_t i;
	int fd, rc;

	(void)state;
	assert_int_equal(path_root_open(&r, root, &err), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		fd = -1;
		rc =
		    path_open_walk(&fd, r.fd, cases[i].rel, cases[i].rel, &err);
		if (strcmp(rc < 0 ? err.code : "", cases[i].code) != 0)
			fail_msg("walk %s: got \"%s\", want \"%s\"",
			    cases[i].rel, rc < 0 ? err.code : "",
			    cases[i].code);
		if (rc == 0)
			close(fd);
	}
	/* The FIFO is opened without blocking (the fstat refuses it). */
	assert_int_equal(path_open_walk(&fd, r.fd, "fifo", "fifo", &err), 0);
	close(fd);
	path_root_close(&r);
}

static void
test_root_missing(void **state)
{
	struct path_root r;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(path_root_open(&r, "/nonexistent/root", &err),
	    ERR_FAIL);
	assert_string_equal(err.code, "CONFIG");
	memset(&r, 0, sizeof(r));
	path_root_close(&r); /* a zeroed root is safe to close */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beneath),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_root_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
