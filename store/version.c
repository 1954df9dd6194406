/*
 * version.c - the git library's name and version, asked at run time.
 */
#include "store/version.h"

#include <git2.h>
#include <pthread.h>
#include <stdio.h>

/* "major.minor.rev" of three ints fits. */
static char version_text[40];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void
version_init(void)
{
	int major = 0, minor = 0, rev = 0;

	git_libgit2_version(&major, &minor, &rev);
	snprintf(version_text, sizeof(version_text), "%d.%d.%d", major, minor,
	    rev);
}

const char *
store_version(const char **library)
{
	/* Once, so the metrics thread and the main thread never race. */
	pthread_once(&version_once, version_init);
	if (library != NULL)
		*library = "libgit2";
	return version_text;
}
