/*
 * log.c - key=value or JSON lines on stderr.
 *
 * Every line is assembled in memory and written with a single write(2) so
 * lines from handler threads never interleave.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* A log line longer than this is cut: one happening never needs more. */
#define LOG_LINE_MAX 4096

static enum log_level log_min = LOG_LEVEL_INFO;
static bool log_json;

void
log_init(enum log_level level, bool json)
{
	log_min = level;
	log_json = json;
}

int
log_level_parse(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return LOG_LEVEL_DEBUG;
	if (strcmp(s, "info") == 0)
		return LOG_LEVEL_INFO;
	if (strcmp(s, "warn") == 0)
		return LOG_LEVEL_WARN;
	return -1;
}

bool
log_enabled(enum log_level level)
{
	return level >= log_min;
}

static void
log_json_string(struct buf *b, const char *s, size_t n)
{
	size_t i;

	buf_puts(b, "\"");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, &s[i], 1);
	}
	buf_puts(b, "\"");
}

/* Split "word k=v k2=\"v v\"" into JSON fields. */
char *
log_format_json(const char *level, const char *ts, const char *text)
{
	const char *p = text;
	struct buf b;
	bool first_word = true;

	buf_init(&b, LOG_LINE_MAX * 2);
	buf_puts(&b, "{\"ts\":");
	log_json_string(&b, ts, strlen(ts));
	buf_puts(&b, ",\"level\":");
	log_json_string(&b, level, strlen(level));
	while (*p != '\0') {
		const char *k, *v;
		size_t klen, vlen;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		k = p;
		while (*p != '\0' && *p != ' ' && *p != '=')
			p++;
		klen = (size_t)(p - k);
		if (*p != '=') {
			buf_puts(&b, first_word ? ",\"msg\":" : ",\"word\":");
			log_json_string(&b, k, klen);
			first_word = false;
			continue;
		}
		first_word = false;
		p++; /* the '=' */
		if (*p == '"') {
			v = ++p;
			while (*p != '\0' && *p != '"') {
				if (*p == '\\' && p[1] != '\0')
					p++;
				p++;
			}
			vlen = (size_t)(p - v);
			if (*p == '"')
				p++;
		} else {
			v = p;
			while (*p != '\0' && *p != ' ')
				p++;
			vlen = (size_t)(p - v);
		}
		buf_puts(&b, ",");
		log_json_string(&b, k, klen);
		buf_puts(&b, ":");
		log_json_string(&b, v, vlen);
	}
	buf_puts(&b, "}");
	return buf_detach(&b, NULL);
}

static void
log_emit(enum log_level level, const char *fmt, va_list ap, const char *errstr)
{
	static const char *names[] = { "debug", "info", "warn" };
	char text[LOG_LINE_MAX], ts[64];
	struct timespec now;
	struct tm tm;
	struct buf line;
	int n;

	if (!log_enabled(level))
		return;
	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		return;
	if (errstr != NULL) {
		size_t len = strlen(text);

		snprintf(text + len, sizeof(text) - len, " err=\"%s\"", errstr);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, now.tv_nsec / 1000000);
	buf_init(&line, LOG_LINE_MAX * 2 + 64);
	if (log_json) {
		char *j = log_format_json(names[level], ts, text);

		buf_puts(&line, j);
		free(j);
	} else {
		buf_printf(&line, "ts=%s level=%s %s", ts, names[level], text);
	}
	buf_puts(&line, "\n");
	if (write(STDERR_FILENO, line.data, line.len) < 0) {
		/* Nowhere left to report it. */
	}
	buf_dispose(&line);
}

#define LOG_BODY(level, errstr)                   \
	do {                                      \
		va_list ap;                       \
		va_start(ap, fmt);                \
		log_emit(level, fmt, ap, errstr); \
		va_end(ap);                       \
	} while (0)

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
	exit(1);
}
