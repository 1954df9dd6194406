/*
 * version.c - the Redis client library's name and version.
 */
#include "events/version.h"

#include <hiredis/hiredis.h>

#define VERSION_STR(x) #x
#define VERSION_XSTR(x) VERSION_STR(x)

const char *
events_version(const char **library)
{
	/* The version compiled against: hiredis 0.14 has no run-time
	 * query, and it is linked with the exact soname it was built for. */
	static const char version[] =
	    VERSION_XSTR(HIREDIS_MAJOR) "." VERSION_XSTR(
	        HIREDIS_MINOR) "." VERSION_XSTR(HIREDIS_PATCH);

	if (library != NULL)
		*library = "hiredis";
	return version;
}
