/*
 * dist.c - Python distribution names, PEP 440 versions and metadata.
 *
 * The checks mirror what Warehouse does on upload (publishers.md 1.4), so
 * a file PyPI would refuse is refused here, before any target sees it.
 * The PEP 440 parser is written by hand after the grammar of PEP 440's
 * appendix (no regex library in this module): it accepts the spellings
 * packaging accepts and prints packaging's normalized form.
 */
#include "publishers/dist.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/version.h"
#include "common/xalloc.h"

static bool
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

static void
copy_n(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
dist_normalize_name(char *out, size_t n, const char *name)
{
	size_t j = 0;
	bool sep = false;

	for (; *name != '\0' && j + 1 < n; name++) {
		if (*name == '-' || *name == '_' || *name == '.') {
			sep = true;
			continue;
		}
		if (sep && j + 2 < n)
			out[j++] = '-';
		sep = false;
		out[j++] = (char)tolower((unsigned char)*name);
	}
	out[j] = '\0';
}

bool
dist_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= DIST_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		bool alnum = ch < 0x80 && isalnum(ch);

		if (!alnum && ch != '.' && ch != '_' && ch != '-')
			return false;
		if (!alnum && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* One normaliser for the whole daemon: common/version.c's (the release
 * tags use it too); the "+local" part is reported for the metadata
 * check. */
int
dist_version_normalize(char *out, size_t n, const char *v, bool *has_local)
{
	char norm[VERSION_MAX];

	if (has_local != NULL)
		*has_local = false;
	if (pep440_normalize(norm, sizeof(norm), v, NULL) < 0 ||
	    strlen(norm) >= n)
		return ERR_INVALID;
	if (has_local != NULL)
		*has_local = strchr(norm, '+') != NULL;
	snprintf(out, n, "%s", norm);
	return 0;
}

/* PEP 440 equality of two normalized versions: trailing zeros of the
 * release segment do not count ("1.2.3.0" == "1.2.3"). */
static bool
version_equal(const char *a, const char *b)
{
	char x[256], y[256];
	char *v[2] = { x, y };
	int k;

	snprintf(x, sizeof(x), "%s", a);
	snprintf(y, sizeof(y), "%s", b);
	for (k = 0; k < 2; k++) {
		char *start = strchr(v[k], '!') ? strchr(v[k], '!') + 1 : v[k];
		char *end = start;

		while (isdigit((unsigned char)*end) ||
		       (*end == '.' && isdigit((unsigned char)end[1])))
			end++;
		while (end - start > 2 && end[-1] == '0' && end[-2] == '.') {
			memmove(end - 2, end, strlen(end) + 1);
			end -= 2;
		}
	}
	return strcmp(x, y) == 0;
}

static bool
filename_chars_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\')
			return false;
	}
	return true;
}

/*
 * An sdist is "<name>-<PEP 440 version>.tar.gz": copy the name without
 * ".tar.gz" into stem and return its last '-' (where the version starts),
 * or NULL when filename is not shaped so. The version is what tells an
 * sdist from a plain tarball ("docs.tar.gz", "tool-1.2-linux-amd64.tar.gz").
 */
static char *
sdist_split(char *stem, size_t n, const char *filename)
{
	char norm[256], *dash;
	size_t sl;

	if (!has_suffix(filename, ".tar.gz") ||
	    (sl = strlen(filename) - 7) >= n)
		return NULL;
	copy_n(stem, n, filename, sl);
	if ((dash = strrchr(stem, '-')) == NULL || dash == stem ||
	    dist_version_normalize(norm, sizeof(norm), dash + 1, NULL) < 0)
		return NULL;
	return dash;
}

int
dist_parse_filename(struct dist_filename *out, const char *filename,
    struct error *err)
{
	struct dist_filename fn;
	char stem[1024], *parts[7], *p;
	size_t np = 0, sl;

	memset(&fn, 0, sizeof(fn));
	if (!filename_chars_ok(filename) || filename[0] == '\0' ||
	    strlen(filename) >= sizeof(stem))
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "file name '%s' holds a path separator or control "
		    "characters",
		    filename);
	if (has_suffix(filename, ".whl")) {
		sl = strlen(filename) - 4;
		copy_n(stem, sizeof(stem), filename, sl);
		for (p = stem; np < 7;) {
			parts[np++] = p;
			if ((p = strchr(p, '-')) == NULL)
				break;
			*p++ = '\0';
		}
		if ((np != 5 && np != 6) || p != NULL)
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "wheel name '%s' is not "
			    "name-version[-build]-python-abi-platform.whl",
			    filename);
		fn.kind = DIST_WHEEL;
		snprintf(fn.ext, sizeof(fn.ext), ".whl");
		copy_n(fn.name, sizeof(fn.name), parts[0], strlen(parts[0]));
		copy_n(fn.version, sizeof(fn.version), parts[1],
		    strlen(parts[1]));
		if (np == 6) {
			if (!isdigit((unsigned char)parts[2][0]))
				return error_set(err, ERR_INVALID,
				    "INVALID_DIST",
				    "wheel '%s': build tag must start with a "
				    "digit",
				    filename);
			snprintf(fn.build, sizeof(fn.build), "%s", parts[2]);
		}
		snprintf(fn.python_tag, sizeof(fn.python_tag), "%s",
		    parts[np - 3]);
		snprintf(fn.abi_tag, sizeof(fn.abi_tag), "%s", parts[np - 2]);
		snprintf(fn.platform_tag, sizeof(fn.platform_tag), "%s",
		    parts[np - 1]);
		for (size_t i = 0; i < np; i++)
			if (parts[i][0] == '\0')
				return error_set(err, ERR_INVALID,
				    "INVALID_DIST",
				    "wheel name '%s' has an empty part",
				    filename);
	} else if ((p = sdist_split(stem, sizeof(stem), filename)) != NULL) {
		/* An sdist is "<name>-<PEP 440 version>.tar.gz" (legacy
		 * names may hold '-' in the project name: the version
		 * follows the last one). Any other tarball ("docs.tar.gz",
		 * "tool-1.2-linux-amd64.tar.gz") is a plain asset. */
		*p = '\0';
		fn.kind = DIST_SDIST;
		snprintf(fn.ext, sizeof(fn.ext), ".tar.gz");
		copy_n(fn.name, sizeof(fn.name), stem, strlen(stem));
		copy_n(fn.version, sizeof(fn.version), p + 1, strlen(p + 1));
	} else {
		fn.kind = DIST_OTHER;
	}
	*out = fn;
	return 0;
}

void
dist_meta_free(struct dist_meta *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->fields[i].key);
		free(m->fields[i].value);
	}
	free(m->fields);
	free(m->description);
	free(m);
}

const char *
dist_meta_get(const struct dist_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcasecmp(m->fields[i].key, key) == 0)
			return m->fields[i].value;
	return NULL;
}

int
dist_meta_parse(struct dist_meta **out, const char *text, size_t len,
    struct error *err)
{
	struct dist_meta *m = xcalloc(1, sizeof(*m));
	const char *p = text, *end = text + len;
	size_t cap = 0;
	int rc = ERR_INVALID;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end, *colon, *v;
		size_t l;

		if (eol == NULL)
			eol = end;
		l = (size_t)(eol - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0) { /* blank line: the body follows */
			p = next;
			if (p < end)
				m->description = xstrndup(p, (size_t)(end - p));
			break;
		}
		if (p[0] == ' ' || p[0] == '\t') {
			struct dist_field *f;
			char *nv;
			size_t k = 0;

			if (m->n == 0) {
				error_set(err, rc, "INVALID_DIST",
				    "metadata starts with a continuation line");
				goto out;
			}
			/* Folded values are indented by up to 8 blanks
			 * (setuptools writes "        |" for old
			 * Description headers). */
			while (k < l && k < 8 && (p[k] == ' ' || p[k] == '\t'))
				k++;
			f = &m->fields[m->n - 1];
			nv = xasprintf("%s\n%.*s", f->value, (int)(l - k),
			    p + k);
			free(f->value);
			f->value = nv;
			p = next;
			continue;
		}
		if ((colon = memchr(p, ':', l)) == NULL || colon == p) {
			error_set(err, rc, "INVALID_DIST",
			    "metadata line without a header name");
			goto out;
		}
		if (m->n == cap) {
			cap = cap ? cap * 2 : 32;
			m->fields =
			    xrealloc(m->fields, cap * sizeof(*m->fields));
		}
		v = colon + 1;
		while (v < p + l && (*v == ' ' || *v == '\t'))
			v++;
		m->fields[m->n].key = xstrndup(p, (size_t)(colon - p));
		m->fields[m->n].value = xstrndup(v, (size_t)(p + l - v));
		m->n++;
		p = next;
	}
	m->metadata_version = dist_meta_get(m, "Metadata-Version");
	m->name = dist_meta_get(m, "Name");
	m->version = dist_meta_get(m, "Version");
	if (m->metadata_version == NULL || m->name == NULL ||
	    m->version == NULL) {
		error_set(err, rc, "INVALID_DIST",
		    "metadata lacks Metadata-Version, Name or Version");
		goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	dist_meta_free(m);
	return rc;
}

/* Is path the metadata file of its kind? "x.dist-info/METADATA" or
 * "top/PKG-INFO": exactly one directory level. */
static bool
meta_path_match(const char *path, enum dist_kind kind)
{
	const char *slash = strchr(path, '/');

	if (slash == NULL || strchr(slash + 1, '/') != NULL)
		return false;
	if (kind == DIST_WHEEL)
		return strcmp(slash + 1, "METADATA") == 0 &&
		       (size_t)(slash - path) > 10 &&
		       strncmp(slash - 10, ".dist-info", 10) == 0;
	return strcmp(slash + 1, "PKG-INFO") == 0;
}

int
dist_meta_read(struct dist_meta **out, int fd, const char *path,
    enum dist_kind kind, struct error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct buf text;
	char top[512] = "";
	int found = 0, rc = ERR_INVALID, r;

	buf_init(&text, DIST_META_MAX);
	if (kind == DIST_WHEEL) {
		archive_read_support_format_zip(a);
	} else {
		archive_read_support_format_tar(a);
		archive_read_support_format_zip(a);
		archive_read_support_filter_gzip(a);
	}
	/* The descriptor the release opened beneath the root: libarchive
	 * reads (and, for zip, seeks) it from the start; it is not closed. */
	if (lseek(fd, 0, SEEK_SET) < 0 ||
	    archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		error_set(err, rc, "INVALID_DIST",
		    "%s is not a readable %s: %s", path,
		    kind == DIST_WHEEL ? "wheel" : "sdist",
		    archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		const char *slash;
		char chunk[16384];
		la_ssize_t n;

		if (name == NULL)
			continue;
		if (strncmp(name, "./", 2) == 0)
			name += 2;
		if (kind == DIST_SDIST && name[0] != '\0') {
			size_t tl = (slash = strchr(name, '/'))
			                ? (size_t)(slash - name)
			                : strlen(name);

			if (top[0] == '\0' && tl < sizeof(top)) {
				copy_n(top, sizeof(top), name, tl);
			} else if (strlen(top) != tl ||
			           strncmp(top, name, tl) != 0) {
				error_set(err, rc, "INVALID_DIST",
				    "sdist %s has more than one top-level "
				    "directory",
				    path);
				goto out;
			}
		}
		if (!meta_path_match(name, kind))
			continue;
		if (++found > 1) {
			error_set(err, rc, "INVALID_DIST",
			    "%s holds more than one %s", path,
			    kind == DIST_WHEEL ? "*.dist-info/METADATA"
			                       : "PKG-INFO");
			goto out;
		}
		while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
			if (buf_append(&text, chunk, (size_t)n) < 0) {
				error_set(err, rc, "INVALID_DIST",
				    "metadata of %s is larger than %u bytes",
				    path, DIST_META_MAX);
				goto out;
			}
		}
		if (n < 0) {
			error_set(err, rc, "INVALID_DIST",
			    "cannot read metadata of %s: %s", path,
			    archive_error_string(a));
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		error_set(err, rc, "INVALID_DIST", "%s is damaged: %s", path,
		    archive_error_string(a));
		goto out;
	}
	if (found == 0) {
		error_set(err, rc, "INVALID_DIST", "%s has no %s", path,
		    kind == DIST_WHEEL ? "*.dist-info/METADATA"
		                       : "top-level PKG-INFO");
		goto out;
	}
	rc = dist_meta_parse(out, text.data ? text.data : "", text.len, err);
out:
	archive_read_free(a);
	buf_dispose(&text);
	return rc;
}

/* Warehouse's platform tag rule (publishers.md 1.4): plain linux_x86_64
 * and friends are refused, only portable tags are accepted. */
static bool
platform_ok(const char *tags)
{
	static const char *const prefixes[] = { "any", "win32", "win_",
		"manylinux", "musllinux_", "macosx_", "ios_", "android_",
		"pyodide_", "emscripten_", "linux_armv6l", "linux_armv7l",
		NULL };
	char buf[DIST_NAME_MAX], *tok, *save = NULL;
	int i;

	snprintf(buf, sizeof(buf), "%s", tags);
	for (tok = strtok_r(buf, ".", &save); tok != NULL;
	     tok = strtok_r(NULL, ".", &save)) {
		bool ok = false;

		for (i = 0; prefixes[i] != NULL && !ok; i++)
			ok =
			    strncmp(tok, prefixes[i], strlen(prefixes[i])) == 0;
		if (!ok)
			return false;
	}
	return true;
}

static bool
metadata_version_supported(const char *v)
{
	static const char *const ok[] = { "1.0", "1.1", "1.2", "2.1", "2.2",
		"2.3", "2.4", "2.5", NULL };
	int i;

	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(v, ok[i]) == 0)
			return true;
	return false;
}

int
dist_check(const struct dist_filename *fn, const struct dist_meta *m,
    const char *package, const char *version, const struct dist_rules *rules,
    struct error *err)
{
	char nfile[DIST_NAME_MAX], nmeta[DIST_NAME_MAX], npkg[DIST_NAME_MAX];
	char vfile[256], vmeta[256], vtag[256], want[DIST_NAME_MAX * 2 + 16];
	bool local = false;
	size_t i;

	if (fn->kind == DIST_OTHER)
		return 0;
	if (!dist_name_valid(m->name))
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "metadata Name '%s' is not a valid project name", m->name);
	dist_normalize_name(nfile, sizeof(nfile), fn->name);
	dist_normalize_name(nmeta, sizeof(nmeta), m->name);
	if (strcmp(nfile, nmeta) != 0)
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "file name says project '%s' but its metadata says '%s'",
		    fn->name, m->name);
	if (package != NULL) {
		dist_normalize_name(npkg, sizeof(npkg), package);
		if (strcmp(npkg, nmeta) != 0)
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "file is project '%s', the release is for '%s'",
			    m->name, package);
	}
	if (dist_version_normalize(vfile, sizeof(vfile), fn->version, NULL) < 0)
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "version '%s' in the file name is not a PEP 440 version",
		    fn->version);
	if (dist_version_normalize(vmeta, sizeof(vmeta), m->version, &local) <
	    0)
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "metadata Version '%s' is not a PEP 440 version",
		    m->version);
	if (!version_equal(vfile, vmeta))
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "file name says version %s but its metadata says %s",
		    fn->version, m->version);
	if (version != NULL) {
		if (dist_version_normalize(vtag, sizeof(vtag), version, NULL) <
		    0)
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "the tag's version '%s' is not a PEP 440 version",
			    version);
		if (!version_equal(vtag, vmeta))
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "file is version %s but the tag is for %s",
			    m->version, version);
	}
	if (rules == NULL)
		return 0;
	if (rules->refuse_local && local)
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "local version '%s' is not allowed on this index (PyPI "
		    "refuses '+...' versions)",
		    m->version);
	if (!rules->pypi_filenames)
		return 0;
	if (!metadata_version_supported(m->metadata_version))
		return error_set(err, ERR_INVALID, "INVALID_DIST",
		    "Metadata-Version %s is not accepted by PyPI",
		    m->metadata_version);
	/* The file's prefix must be the normalized name with '_' (PEP 625,
	 * and Warehouse's wheel rule). */
	for (i = 0; nmeta[i] != '\0'; i++)
		if (nmeta[i] == '-')
			nmeta[i] = '_';
	if (fn->kind == DIST_SDIST) {
		char got[DIST_NAME_MAX * 2 + 8];

		snprintf(want, sizeof(want), "%s-%s.tar.gz", nmeta, vmeta);
		snprintf(got, sizeof(got), "%s-%s%s", fn->name, fn->version,
		    fn->ext);
		if (strcmp(got, want) != 0)
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "sdist file name '%s' is invalid, should be '%s' "
			    "(PEP 625)",
			    got, want);
	} else {
		if (strcmp(fn->name, nmeta) != 0)
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "wheel file name should start with the normalized "
			    "project name '%s', not '%s'",
			    nmeta, fn->name);
		if (!platform_ok(fn->platform_tag))
			return error_set(err, ERR_INVALID, "INVALID_DIST",
			    "wheel platform tag '%s' is not accepted by PyPI "
			    "(use manylinux/musllinux)",
			    fn->platform_tag);
	}
	return 0;
}
