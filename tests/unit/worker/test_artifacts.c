/*
 * test_artifacts.c - artifact paths stay inside the root; inline files
 * decode; limits hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "worker/artifacts.h"

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

static int
setup(void **state)
{
	char link[256], target[256];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/artifactd-root-XXXXXX");
	snprintf(outside, sizeof(outside), "/tmp/artifactd-out-XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_non_null(mkdtemp(outside));
	put(root, "strategy.py", "print('hi')\n");
	put(root, "trades.csv", "a,b\n1,2\n");
	put(outside, "secret.txt", "nope\n");
	snprintf(link, sizeof(link), "%s/escape.txt", root);
	snprintf(target, sizeof(target), "%s/secret.txt", outside);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/sub", root);
	assert_int_equal(mkdir(link, 0755), 0);
	alarm(60); /* a FIFO open that blocks fails the test, not CI */
	return 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", root, outside);
	return system(cmd);
}

static int
collect(struct artifact_set *set, const char *json, size_t max_file,
    size_t max_total, struct error *err)
{
	cJSON *data = cJSON_Parse(json);
	int rc;

	assert_non_null(data);
	rc = artifacts_collect(set, data, root, max_file, max_total, err);
	cJSON_Delete(data);
	return rc;
}

static void
test_collects_paths_and_inline(void **state)
{
	struct artifact_set set;
	struct error err = { 0 };
	char json[512];

	(void)state;
	snprintf(json, sizeof(json),
	    "{\"artifacts\":{\"s\":\"strategy.py\"},\"files\":[\"%s/"
	    "trades.csv\",{\"name\":\"report.json\",\"content\":\"e30=\","
	    "\"encoding\":\"base64\"},{\"name\":\"logs/events.log\","
	    "\"content\":\"line\\n\"}]}",
	    root);
	assert_int_equal(collect(&set, json, 1024, 4096, &err), 0);
	assert_int_equal(set.nfiles, 4);
	assert_string_equal(set.files[0].name, "strategy.py");
	assert_memory_equal(set.files[0].data, "print('hi')\n", 12);
	assert_string_equal(set.files[1].name, "trades.csv");
	assert_string_equal(set.files[2].name, "report.json");
	assert_int_equal(set.files[2].len, 2);
	assert_memory_equal(set.files[2].data, "{}", 2);
	assert_string_equal(set.files[3].name, "logs/events.log");
	artifacts_dispose(&set);
}

struct reject {
	const char *json;
	const char *code;
};

static void
test_rejections(void **state)
{
	char json[512];
	static const struct reject cases[] = {
		{ "{\"files\":[\"../../etc/passwd\"]}", "PATH_REJECTED" },
		{ "{\"files\":[\"/etc/hostname\"]}", "PATH_REJECTED" },
		{ "{\"files\":[\"escape.txt\"]}", "PATH_REJECTED" },
		{ "{\"files\":[\"sub\"]}", "PATH_REJECTED" },
		{ "{\"files\":[\"missing.py\"]}", "FILE_NOT_FOUND" },
		{ "{\"files\":[{\"name\":\"../x\",\"content\":\"a\"}]}",
		    "PATH_REJECTED" },
		{ "{\"files\":[{\"name\":\"/abs\",\"content\":\"a\"}]}",
		    "PATH_REJECTED" },
		{ "{\"files\":[{\"name\":\".git/config\",\"content\":\"a\"}]}",
		    "PATH_REJECTED" },
		{ "{\"files\":[{\"name\":\"a//b\",\"content\":\"a\"}]}",
		    "PATH_REJECTED" },
		{ "{\"files\":[{\"name\":\"x\",\"content\":\"%%%\","
		  "\"encoding\":\"base64\"}]}",
		    "INVALID_EVENT" },
		{ "{\"files\":[\"strategy.py\",{\"name\":\"strategy.py\","
		  "\"content\":\"a\"}]}",
		    "INVALID_EVENT" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct artifact_set set;
		struct error err = { 0 };

		snprintf(json, sizeof(json), "%s", cases[i].json);
		assert_int_equal(collect(&set, json, 1024, 4096, &err),
		    ERR_INVALID);
		if (strcmp(err.code, cases[i].code) != 0)
			fail_msg("case %zu: code %s, want %s (%s)", i, err.code,
			    cases[i].code, err.msg);
		assert_int_equal(set.nfiles, 0);
	}
}

static void
test_limits(void **state)
{
	struct artifact_set set;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(collect(&set, "{\"files\":[\"strategy.py\"]}", 4, 4096,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "TOO_LARGE");
	assert_int_equal(collect(&set,
	                     "{\"files\":[\"strategy.py\",\"trades.csv\"]}",
	                     1024, 14, &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "TOO_LARGE");
}

/* A FIFO must be refused, not waited on (the alarm of setup turns a
 * hang into a failure); a symlink inside the root is followed and the
 * file is committed under the name the event gave. */
static void
test_fifo_and_inside_link(void **state)
{
	struct artifact_set set;
	struct error err = { 0 };
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/pipe", root);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(collect(&set, "{\"files\":[\"pipe\"]}", 1024, 4096,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "PATH_REJECTED");
	snprintf(p, sizeof(p), "%s/link.py", root);
	assert_int_equal(symlink("strategy.py", p), 0);
	assert_int_equal(collect(&set, "{\"files\":[\"link.py\"]}", 1024, 4096,
	                     &err),
	    0);
	assert_int_equal(set.nfiles, 1);
	assert_string_equal(set.files[0].name, "link.py");
	assert_memory_equal(set.files[0].data, "print('hi')\n", 12);
	artifacts_dispose(&set);
}

/* 20,000 names in one event: the duplicate check used to compare each
 * name with every earlier one (80,000 files took 39 s). No timing is
 * asserted; a quadratic check makes this test crawl. The last name
 * repeats an early one and must still be caught. */
static void
test_many_names(void **state)
{
	enum { MANY = 20000 };
	struct artifact_set set;
	struct error err = { 0 };
	cJSON *data = cJSON_CreateObject(), *files, *f;
	char name[64];
	int i;

	(void)state;
	files = cJSON_AddArrayToObject(data, "files");
	for (i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "d%02d/f%05d.txt", i % 50, i);
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "name", name);
		cJSON_AddStringToObject(f, "content", "x");
		cJSON_AddItemToArray(files, f);
	}
	assert_int_equal(artifacts_collect(&set, data, root, 1024, MANY, &err),
	    0);
	assert_int_equal(set.nfiles, MANY);
	artifacts_dispose(&set);
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "name", "d07/f00007.txt");
	cJSON_AddStringToObject(f, "content", "y");
	cJSON_AddItemToArray(files, f);
	assert_int_equal(artifacts_collect(&set, data, root, 1024, MANY + 1,
	                     &err),
	    ERR_INVALID);
	assert_string_equal(err.code, "INVALID_EVENT");
	assert_int_equal(set.nfiles, 0);
	cJSON_Delete(data);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(artifacts_name_ok("a.py"));
	assert_true(artifacts_name_ok("dir/a.py"));
	assert_false(artifacts_name_ok(""));
	assert_false(artifacts_name_ok("./a"));
	assert_false(artifacts_name_ok("a/../b"));
	assert_false(artifacts_name_ok("a/"));
	assert_false(artifacts_name_ok("x\ny"));
	assert_false(artifacts_name_ok("a\\b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collects_paths_and_inline),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_fifo_and_inside_link),
		cmocka_unit_test(test_many_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
