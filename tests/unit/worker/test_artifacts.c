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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
