/*
 * verify_pypi.c - read a PyPI simple index (PEP 503 HTML, PEP 691 JSON)
 * for the sha256 of one file (see verify_pypi.h).
 */
#include "publishers/verify_pypi.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "publishers/dist.h"
#include "publishers/http.h"

#define SIMPLE_JSON "application/vnd.pypi.simple.v1+json"

char *
verify_pypi_simple_url(const char *json_url)
{
	size_t n = json_url ? strlen(json_url) : 0;

	while (n > 0 && json_url[n - 1] == '/')
		n--;
	if (n < 5 || strncmp(json_url + n - 5, "/pypi", 5) != 0)
		return NULL;
	return xasprintf("%.*s/simple", (int)(n - 5), json_url);
}

static bool
hex64(const char *p, char out[65])
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return false;
		out[i] = (char)tolower((unsigned char)p[i]);
	}
	out[64] = '\0';
	return !isxdigit((unsigned char)p[64]);
}

static int
parse_json(const char *body, size_t len, const char *filename, char served[65])
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *files, *f;
	int rc = ERR_NOTFOUND;

	files = cJSON_GetObjectItemCaseSensitive(root, "files");
	cJSON_ArrayForEach(f, files) {
		const cJSON *fn =
		    cJSON_GetObjectItemCaseSensitive(f, "filename");
		const cJSON *hs = cJSON_GetObjectItemCaseSensitive(f, "hashes");
		const cJSON *sh =
		    cJSON_GetObjectItemCaseSensitive(hs, "sha256");

		if (!cJSON_IsString(fn) ||
		    strcmp(fn->valuestring, filename) != 0)
			continue;
		if (cJSON_IsString(sh) && strlen(sh->valuestring) == 64 &&
		    hex64(sh->valuestring, served))
			rc = 0;
		break;
	}
	cJSON_Delete(root);
	return rc;
}

/* HTML: each "#sha256=<hex>" belongs to the URL that ends at it; the URL
 * starts after the quote before it. Its last path segment must be
 * filename. The body is bounded by HTTP_BODY_MAX and NUL-terminated. */
static int
parse_html(const char *body, const char *filename, char served[65])
{
	const char *p = body, *frag, *start;
	size_t fl = strlen(filename);

	while ((frag = strstr(p, "#sha256=")) != NULL) {
		p = frag + 8;
		start = frag;
		while (start > body && start[-1] != '"' && start[-1] != '\'' &&
		       start[-1] != '/' && start[-1] != '=' && start[-1] != '>')
			start--;
		if ((size_t)(frag - start) == fl &&
		    strncmp(start, filename, fl) == 0 && hex64(p, served))
			return 0;
	}
	return ERR_NOTFOUND;
}

int
verify_pypi_simple_parse(const char *body, size_t len, bool json,
    const char *filename, char served[65])
{
	if (body == NULL || len == 0)
		return ERR_NOTFOUND;
	return json ? parse_json(body, len, filename, served)
	            : parse_html(body, filename, served);
}

int
verify_pypi_simple(const char *simple_url, const char *name,
    const char *filename, const char *what, char served[65], struct error *err)
{
	static const char *const hdrs[] = { "Accept: " SIMPLE_JSON
		                            ", text/html;q=0.1",
		NULL };
	struct http_request req = { 0 };
	struct http_response resp;
	char norm[DIST_NAME_MAX], *url, *ctype = NULL;
	int rc;

	http_response_init(&resp);
	dist_normalize_name(norm, sizeof(norm), name);
	url = xasprintf("%s/%s/", simple_url, norm);
	req.method = "GET";
	req.url = url;
	req.headers = hdrs;
	req.what = what;
	if ((rc = http_request(&resp, &req, err)) < 0)
		goto out;
	if (resp.status == 404) {
		rc = ERR_NOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		rc = http_status_error(&resp, what, err);
		goto out;
	}
	ctype = http_response_header(&resp, "Content-Type");
	rc = verify_pypi_simple_parse(resp.body.data, resp.body.len,
	    ctype != NULL && strstr(ctype, "json") != NULL, filename, served);
out:
	http_response_dispose(&resp);
	free(url);
	free(ctype);
	return rc;
}
