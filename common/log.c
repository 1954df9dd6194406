/*
 * log.c - key=value or JSON lines on stderr.
 *
 * Every line is assembled in memory and written with a single write(2) so
 * lines from handler threads never interleave.
 *
 * Values come from outside (event ids, paths, error texts), so the format
 * is expanded here rather than by vsnprintf: each %s is escaped for the
 * place the format puts it. After `key=` a value with a space, '=', a
 * quote, a backslash, a control character or a byte that is not UTF-8 is
 * written "quoted", with \" \\ and \xNN escapes; after `key="` it is
 * escaped the same way. A value can therefore never end its own quoting,
 * start a new pair or a new line, in text or in JSON mode.
 *
 * In JSON mode the expansion also encloses the text of each numeric
 * conversion and of each log_bool() value in LOG_TYPED_BEGIN/END, so that
 * log_format_json can write exactly those values bare (log.h).
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/xalloc.h"

/* A log line longer than this is cut: one happening never needs more. */
#define LOG_LINE_MAX 4096
/* A single %s value is cut after this many bytes ("..." marks the cut):
 * escaping may quadruple it, and the line must still fit. */
#define LOG_VALUE_MAX 1024

/* The trace id of the event this thread is about (log_context_set):
 * 32 hex digits and the NUL, so the line grows by a fixed few bytes. */
#define LOG_TRACE_ID_SIZE 33
/* Room kept past LOG_LINE_MAX for " trace_id=<32 hex>". */
#define LOG_CONTEXT_MAX 48

static enum log_level log_min = LOG_LEVEL_INFO;
/* initial-exec: the libraries are built as PIC (hardening.cmake), whose
 * default TLS model calls __tls_get_addr and made ld-linux a NEEDED
 * library of the binary (test_deploy_deb); they only ever link into
 * executables, where initial-exec is always valid. */
static _Thread_local char log_trace_id[LOG_TRACE_ID_SIZE]
    __attribute__((tls_model("initial-exec")));
static bool log_json;
/* log_bool's strings: recognised by address. */
static const char log_true[] = "true";
static const char log_false[] = "false";

const char *
log_bool(bool b)
{
	return b ? log_true : log_false;
}

void
log_init(enum log_level level, bool json)
{
	log_min = level;
	log_json = json;
}

void
log_context_set(const char *trace_id)
{
	size_t i;

	log_trace_id[0] = '\0';
	if (trace_id == NULL || strlen(trace_id) != LOG_TRACE_ID_SIZE - 1)
		return;
	/* Only hex is taken: the value is written bare, never escaped. */
	for (i = 0; i < LOG_TRACE_ID_SIZE - 1; i++)
		if (!((trace_id[i] >= '0' && trace_id[i] <= '9') ||
		        (trace_id[i] >= 'a' && trace_id[i] <= 'f')))
			return;
	memcpy(log_trace_id, trace_id, LOG_TRACE_ID_SIZE);
}

const char *
log_context_trace_id(void)
{
	return log_trace_id;
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

/* Append n bytes as a JSON string. With `unescape`, the \" and \\
 * escapes of a quoted log value are undone first; bytes that are not
 * UTF-8 become the text \xNN, so the line stays valid JSON. */
static void
log_json_string(struct buf *b, const char *s, size_t n, bool unescape)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, k;

	buf_puts(b, "\"");
	for (i = 0; i < n; i += k) {
		unsigned char c = p[i];

		k = utf8_seq(p + i, n - i);
		if (c == LOG_TYPED_BEGIN || c == LOG_TYPED_END) {
			k = 1; /* a type marker inside a string: dropped */
			continue;
		}
		if (unescape && c == '\\' && i + 1 < n &&
		    (p[i + 1] == '"' || p[i + 1] == '\\')) {
			c = p[++i];
			k = 1;
		}
		if (k == 0) {
			buf_printf(b, "\\\\x%02x", c);
			k = 1;
		} else if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_append(b, p + i, k);
	}
	buf_puts(b, "\"");
}

/*
 * A typed value: LOG_TYPED_BEGIN, the text of one conversion,
 * LOG_TYPED_END and nothing else. True when that text may be written
 * bare: true, false, or a JSON number (no leading zeros, no '+', an
 * integer within int64).
 */
static bool
log_typed_bare(const char *v, size_t n)
{
	const char *p, *end, *digits;
	size_t nd;

	if (n < 3 || v[0] != LOG_TYPED_BEGIN || v[n - 1] != LOG_TYPED_END ||
	    memchr(v + 1, LOG_TYPED_BEGIN, n - 2) != NULL ||
	    memchr(v + 1, LOG_TYPED_END, n - 2) != NULL)
		return false;
	p = v + 1;
	end = v + n - 1;
	if ((end - p == 4 && memcmp(p, "true", 4) == 0) ||
	    (end - p == 5 && memcmp(p, "false", 5) == 0))
		return true;
	if (p < end && *p == '-')
		p++;
	digits = p;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	nd = (size_t)(p - digits);
	if (nd == 0 || (nd > 1 && digits[0] == '0'))
		return false;
	if (p == end) /* an integer: within int64 */
		return nd < 19 || (nd == 19 && memcmp(digits,
		                                   digits[-1] == '-'
		                                       ? "9223372036854775808"
		                                       : "9223372036854775807",
		                                   19) <= 0);
	if (*p == '.') {
		digits = ++p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return false;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		digits = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == digits)
			return false;
	}
	return p == end;
}

/* A caller's key that would collide with a field of our own. */
static bool
log_reserved_key(const char *k, size_t n)
{
	return (n == 2 && memcmp(k, "ts", 2) == 0) ||
	       (n == 3 && memcmp(k, "msg", 3) == 0) ||
	       (n == 5 && memcmp(k, "level", 5) == 0);
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
	log_json_string(&b, ts, strlen(ts), false);
	buf_puts(&b, ",\"level\":");
	log_json_string(&b, level, strlen(level), false);
	while (*p != '\0') {
		const char *k, *v;
		size_t klen, vlen;
		bool quoted;

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
			log_json_string(&b, k, klen, false);
			first_word = false;
			continue;
		}
		first_word = false;
		p++; /* the '=' */
		quoted = *p == '"';
		if (quoted) {
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
		if (log_reserved_key(k, klen)) {
			/* "msg=..." from a caller: kept, under another key. */
			buf_puts(&b, "\"");
			buf_append(&b, k, klen);
			buf_puts(&b, "_\"");
		} else {
			log_json_string(&b, k, klen, false);
		}
		buf_puts(&b, ":");
		if (!quoted && log_typed_bare(v, vlen))
			buf_append(&b, v + 1, vlen - 2);
		else
			log_json_string(&b, v, vlen, quoted);
	}
	buf_puts(&b, "}");
	return buf_detach(&b, NULL);
}

/*
 * Append the n bytes of a %s value. `quoted`: the format already opened
 * a quote. Otherwise the value is quoted when it is empty or holds
 * anything that would end it early or fake another pair.
 */
static void
log_put_value(struct buf *b, const char *s, size_t n, bool quoted)
{
	const unsigned char *p = (const unsigned char *)s;
	bool quote = !quoted && n == 0, cut = n > LOG_VALUE_MAX;
	size_t i, k;

	if (cut)
		n = LOG_VALUE_MAX;
	for (i = 0; i < n && !quoted && !quote; i += k) {
		k = utf8_seq(p + i, n - i);
		quote = k == 0 || p[i] <= ' ' || p[i] == '=' || p[i] == '"' ||
		        p[i] == '\\' || p[i] == 0x7f;
		if (k == 0)
			k = 1;
	}
	if (quote)
		buf_puts(b, "\"");
	for (i = 0; i < n; i += k) {
		k = utf8_seq(p + i, n - i);
		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			buf_printf(b, "\\x%02x", p[i]);
			k = 1;
		} else if (p[i] == '"' || p[i] == '\\') {
			buf_printf(b, "\\%c", p[i]);
		} else {
			buf_append(b, p + i, k);
		}
	}
	if (cut)
		buf_puts(b, "...");
	if (quote)
		buf_puts(b, "\"");
}

/* Length modifiers of a printf conversion. */
enum log_len {
	LOG_LEN_NONE,
	LOG_LEN_L,
	LOG_LEN_LL,
	LOG_LEN_Z,
	LOG_LEN_J,
	LOG_LEN_T,
	LOG_LEN_BIG_L
};

/*
 * One conversion other than %s, with its flags, width and precision
 * (already without '*') in spec, and the argument read by its real type.
 * The format strings are ours (checked by the printf attribute), so an
 * unknown conversion is a programming error.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void
log_put_number(struct buf *b, char *spec, size_t sl, enum log_len len,
    char conv, va_list *ap)
{
	spec[sl + 1] = '\0';
	spec[sl] = conv;
	switch (conv) {
	case 'd':
	case 'i':
		spec[sl] = 'j';
		spec[sl + 1] = conv;
		spec[sl + 2] = '\0';
		buf_printf(b, spec,
		    len == LOG_LEN_L    ? (intmax_t)va_arg(*ap, long)
		    : len == LOG_LEN_LL ? (intmax_t)va_arg(*ap, long long)
		    : len == LOG_LEN_Z  ? (intmax_t)va_arg(*ap, ssize_t)
		    : len == LOG_LEN_J  ? va_arg(*ap, intmax_t)
		    : len == LOG_LEN_T  ? (intmax_t)va_arg(*ap, ptrdiff_t)
		                        : (intmax_t)va_arg(*ap, int));
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		spec[sl] = 'j';
		spec[sl + 1] = conv;
		spec[sl + 2] = '\0';
		buf_printf(b, spec,
		    len == LOG_LEN_L ? (uintmax_t)va_arg(*ap, unsigned long)
		    : len == LOG_LEN_LL
		        ? (uintmax_t)va_arg(*ap, unsigned long long)
		    : len == LOG_LEN_Z ? (uintmax_t)va_arg(*ap, size_t)
		    : len == LOG_LEN_J ? va_arg(*ap, uintmax_t)
		    : len == LOG_LEN_T ? (uintmax_t)va_arg(*ap, size_t)
		                       : (uintmax_t)va_arg(*ap, unsigned));
		break;
	case 'c':
		buf_printf(b, spec, va_arg(*ap, int));
		break;
	case 'p':
		buf_printf(b, spec, va_arg(*ap, void *));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		if (len == LOG_LEN_BIG_L)
			buf_printf(b, spec, (double)va_arg(*ap, long double));
		else
			buf_printf(b, spec, va_arg(*ap, double));
		break;
	default:
		abort();
	}
}
#pragma GCC diagnostic pop

/* Expand fmt into b like vsnprintf, escaping every %s (see the top);
 * with mark, typed values are enclosed in LOG_TYPED_BEGIN/END. */
static void
log_vformat(struct buf *b, const char *fmt, va_list *ap, bool mark)
{
	const char *p = fmt;

	while (*p != '\0') {
		const char *pct = strchr(p, '%'), *start;
		/* "%" flags width "." precision "j" conv: the widths are
		 * ours, a few digits each. */
		char spec[48];
		size_t sl = 0;
		int prec = -1;
		enum log_len len = LOG_LEN_NONE;

		if (pct == NULL) {
			buf_puts(b, p);
			break;
		}
		buf_append(b, p, (size_t)(pct - p));
		start = pct;
		p = pct + 1;
		if (*p == '%') {
			buf_puts(b, "%");
			p++;
			continue;
		}
		spec[sl++] = '%';
		while (*p != '\0' && strchr("-+ #0", *p) != NULL && sl < 8)
			spec[sl++] = *p++;
		if (*p == '*') {
			sl += (size_t)snprintf(spec + sl, 12, "%d",
			    va_arg(*ap, int));
			p++;
		}
		while (*p >= '0' && *p <= '9' && sl < 20)
			spec[sl++] = *p++;
		if (*p == '.') {
			spec[sl++] = *p++;
			if (*p == '*') {
				prec = va_arg(*ap, int);
				sl +=
				    (size_t)snprintf(spec + sl, 12, "%d", prec);
				p++;
			} else {
				prec = 0;
				while (*p >= '0' && *p <= '9' && sl < 32) {
					prec = prec * 10 + (*p - '0');
					spec[sl++] = *p++;
				}
			}
		}
		if (*p == 'h') {
			p += p[1] == 'h' ? 2 : 1; /* promoted to int */
		} else if (*p == 'l') {
			len = p[1] == 'l' ? LOG_LEN_LL : LOG_LEN_L;
			p += len == LOG_LEN_LL ? 2 : 1;
		} else if (*p == 'z' || *p == 'j' || *p == 't' || *p == 'L') {
			len = *p == 'z'   ? LOG_LEN_Z
			      : *p == 'j' ? LOG_LEN_J
			      : *p == 't' ? LOG_LEN_T
			                  : LOG_LEN_BIG_L;
			p++;
		}
		if (*p == 's') {
			const char *v = va_arg(*ap, const char *);
			bool typed = mark && (v == log_true || v == log_false);

			if (v == NULL)
				v = "(null)";
			if (typed)
				buf_printf(b, "%c", LOG_TYPED_BEGIN);
			log_put_value(b, v,
			    prec >= 0 ? strnlen(v, (size_t)prec) : strlen(v),
			    start > fmt && start[-1] == '"');
			if (typed)
				buf_printf(b, "%c", LOG_TYPED_END);
		} else if (*p != '\0') {
			/* Decimal conversions only: %x, %o, %c, %p are
			 * text (an id in hex is not a number). */
			bool typed = mark && strchr("diufFeEgG", *p) != NULL;

			if (typed)
				buf_printf(b, "%c", LOG_TYPED_BEGIN);
			log_put_number(b, spec, sl, len, *p, ap);
			if (typed)
				buf_printf(b, "%c", LOG_TYPED_END);
		} else {
			break;
		}
		p++;
	}
}

static void
log_emit(enum log_level level, const char *fmt, va_list ap, const char *errstr)
{
	static const char *names[] = { "debug", "info", "warn" };
	char ts[64];
	const char *text;
	struct timespec now;
	struct tm tm;
	struct buf line, tb;
	va_list cp;

	if (!log_enabled(level))
		return;
	/* An append past the maximum is dropped, so a line never grows
	 * past it however long the values. */
	buf_init(&tb, LOG_LINE_MAX);
	va_copy(cp, ap);
	log_vformat(&tb, fmt, &cp, log_json);
	va_end(cp);
	if (errstr != NULL) {
		buf_puts(&tb, " err=\"");
		log_put_value(&tb, errstr, strlen(errstr), true);
		buf_puts(&tb, "\"");
	}
	if (log_trace_id[0] != '\0') {
		/* Past the line's cap if need be: a cut line keeps it. */
		tb.max = LOG_LINE_MAX + LOG_CONTEXT_MAX;
		buf_printf(&tb, " trace_id=%s", log_trace_id);
	}
	text = tb.data != NULL ? tb.data : "";
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, now.tv_nsec / 1000000);
	buf_init(&line, LOG_LINE_MAX * 3 + 64);
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
	buf_dispose(&tb);
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
