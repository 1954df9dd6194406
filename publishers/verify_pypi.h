/*
 * verify_pypi.h - what a PyPI-compatible simple index serves (issue 13).
 *
 * Every index a pip user installs from has the simple repository API
 * (PEP 503 HTML, PEP 691 JSON); many private ones (pypiserver, devpi in
 * some modes, plain directories behind nginx) have no JSON API. pypi.c's
 * verification reads the JSON API first and this index when the JSON API
 * does not list the file.
 */
#ifndef PUBLISHERS_VERIFY_PYPI_H
#define PUBLISHERS_VERIFY_PYPI_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* The simple index beside a JSON API base: "<origin>/pypi" ->
 * "<origin>/simple" (https://pypi.org/pypi -> https://pypi.org/simple),
 * or NULL. Caller frees. */
char *verify_pypi_simple_url(const char *json_url);

/*
 * The sha256 a project page lists for filename: PEP 691 JSON (json
 * true: files[].filename and hashes.sha256) or PEP 503 HTML (an anchor
 * whose URL's last path segment is filename, with a #sha256=<hex>
 * fragment). Returns 0 with served (65 bytes, lower-case), ERR_NOTFOUND
 * when the file is not listed with a sha256.
 */
int verify_pypi_simple_parse(const char *body, size_t len, bool json,
    const char *filename, char served[65]);

/*
 * GET <simple_url>/<normalized name>/ (PEP 691 JSON preferred, HTML
 * accepted) and parse it for filename. Anonymous, as pip reads a public
 * index. Returns 0 with served, ERR_NOTFOUND (page or file not listed),
 * or the request's error. `what` labels logs and messages.
 */
int verify_pypi_simple(const char *simple_url, const char *name,
    const char *filename, const char *what, char served[65], struct error *err);

#endif
