/*
 * secret.c - reading secrets from NAME or NAME_FILE, registering them
 * with the redactor, wiping them on free (see secret.h).
 *
 * The file is opened non-blocking before its type is checked: a FIFO
 * (or a device) put where a secret file should be is refused at once
 * instead of hanging the daemon at start-up until a writer appears.
 */
#include "common/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/redact.h"
#include "common/xalloc.h"

void
secret_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		OPENSSL_cleanse(p, n);
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	redact_secret_release(s);
	secret_wipe(s, strlen(s));
	free(s);
}

void
secret_register(const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	if (strstr(value, "://") != NULL)
		redact_secret_url(value);
	else
		redact_secret_add_owned(value);
}

/* Read the size bytes fstat saw, and one more to notice a file that grew
 * meanwhile (ERR_INVALID); what was read is wiped on every failure. */
static int
secret_read_fd(char **out, size_t *len, int fd, size_t size)
{
	char *data = xmalloc(size + 2);
	size_t got = 0;
	ssize_t n;

	while (got < size + 1) {
		n = read(fd, data + got, size + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		secret_wipe(data, got);
		free(data);
		return got > size ? ERR_INVALID : ERR_FAIL;
	}
	data[got] = '\0';
	*out = data;
	*len = got;
	return 0;
}

static int
secret_file(char **out, const char *path, const char *what, bool reg,
    struct error *err)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int fd, rc = ERR_INVALID;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) <
	    0) {
		rc = errno == ENOENT || errno == ENOTDIR || errno == EACCES ||
		             errno == ELOOP
		         ? ERR_INVALID
		         : ERR_FAIL;
		return error_set(err, rc, rc == ERR_INVALID ? "CONFIG" : "IO",
		    "%s: cannot open %s: %s", what, path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		rc = error_set(err, ERR_FAIL, "IO", "%s: cannot stat %s: %s",
		    what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s: %s is not a regular file", what, path);
		goto out;
	}
	if (st.st_size > SECRET_FILE_MAX) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s: %s is %lld bytes, limit %d", what, path,
		    (long long)st.st_size, SECRET_FILE_MAX);
		goto out;
	}
	if ((rc = secret_read_fd(&data, &len, fd, (size_t)st.st_size)) < 0) {
		error_set(err, rc, rc == ERR_INVALID ? "CONFIG" : "IO",
		    "%s: %s %s", what, path,
		    rc == ERR_INVALID ? "changed while it was read"
		                      : "could not be read");
		goto out;
	}
	if (memchr(data, '\0', len) != NULL) {
		rc = error_set(err, ERR_INVALID, "CONFIG",
		    "%s: %s holds a NUL byte", what, path);
		goto out;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	if (reg)
		secret_register(data);
	*out = data;
	data = NULL;
	rc = 0;
out:
	if (data != NULL) {
		secret_wipe(data, len);
		free(data);
	}
	close(fd);
	return rc;
}

int
secret_read_file(char **out, const char *path, const char *what,
    struct error *err)
{
	return secret_file(out, path, what, true, err);
}

int
secret_read_file_plain(char **out, const char *path, const char *what,
    struct error *err)
{
	return secret_file(out, path, what, false, err);
}

static int
secret_env(char **out, const char *name, bool reg, struct error *err)
{
	char fname[SECRET_NAME_MAX];
	const char *v = getenv(name);
	int n;

	if (v != NULL && v[0] != '\0') {
		*out = xstrdup(v);
		if (reg)
			secret_register(*out);
		return 0;
	}
	n = snprintf(fname, sizeof(fname), "%s_FILE", name);
	if (n < 0 || (size_t)n >= sizeof(fname))
		return error_set(err, ERR_INVALID, "CONFIG",
		    "environment name %.40s... is too long", name);
	if ((v = getenv(fname)) == NULL || v[0] == '\0')
		return ERR_NOTFOUND;
	return secret_file(out, v, fname, reg, err);
}

int
secret_get(char **out, const char *name, struct error *err)
{
	return secret_env(out, name, true, err);
}

int
secret_get_plain(char **out, const char *name, struct error *err)
{
	return secret_env(out, name, false, err);
}
