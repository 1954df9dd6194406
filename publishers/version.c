/*
 * version.c - the HTTP library's name and version, asked at run time.
 */
#include "publishers/version.h"

#include <curl/curl.h>

const char *
publishers_version(const char **library)
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	if (library != NULL)
		*library = "libcurl";
	return cv->version;
}
