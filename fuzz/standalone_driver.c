/*
 * standalone_driver.c - replay fuzz inputs without libFuzzer.
 *
 * gcc has no libFuzzer, yet every build should at least run each fuzz
 * target over its seeds (and, in the sanitizer build, under ASan/UBSan).
 * This main() takes files and directories, and hands every regular file
 * to LLVMFuzzerTestOneInput in a buffer of exactly its size, so reading
 * past the end is caught by the sanitizers as it would be by libFuzzer.
 * Entries of a directory are replayed in name order, so a failure is
 * reproducible. It fails when no input at all was found: an empty or
 * misnamed corpus must not pass silently.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "common/xalloc.h"
#include "fuzz/fuzzer.h"

/* libFuzzer's default -max_len is 4 KiB; seeds are small. 16 MiB leaves
 * room for an envelope at its 8 MiB limit plus escaping. */
#define DRIVER_MAX_INPUT (16u * 1024 * 1024)

static int
driver_run_file(const char *path, size_t *count)
{
	struct error err = { 0 };
	char *data = NULL;
	uint8_t *copy;
	size_t len;

	if (util_read_file(&data, &len, path, DRIVER_MAX_INPUT, &err) < 0) {
		fprintf(stderr, "driver: %s\n", err.msg);
		return -1;
	}
	/* Exactly len bytes: no NUL after the input to lean on. */
	copy = xmalloc(len > 0 ? len : 1);
	memcpy(copy, data, len);
	free(data);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	(*count)++;
	return 0;
}

static int
driver_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
driver_run_dir(const char *path, size_t *count)
{
	struct dirent *de;
	char **names = NULL, *full;
	size_t n = 0, i;
	struct stat st;
	int rc = 0;
	DIR *dir;

	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "driver: cannot open %s\n", path);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof(*names), driver_name_cmp);
	for (i = 0; i < n; i++) {
		full = xasprintf("%s/%s", path, names[i]);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    driver_run_file(full, count) < 0)
			rc = -1;
		free(full);
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t count = 0;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue; /* libFuzzer flags: meaningless here */
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "driver: %s does not exist\n", argv[i]);
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (driver_run_dir(argv[i], &count) < 0)
				rc = 1;
		} else if (driver_run_file(argv[i], &count) < 0) {
			rc = 1;
		}
	}
	printf("driver: replayed %zu input(s)\n", count);
	if (count == 0) {
		fprintf(stderr, "driver: no input found\n");
		rc = 1;
	}
	return rc;
}
