/*
 * log.h - one line per happening on stderr, key=value or JSON.
 *
 * The API is OpenBSD's (log_warn appends strerror(errno), fatal exits).
 * Callers write messages as key=value pairs, the first being the event:
 *
 *	log_info("commit_done branch=%s sha=%s", branch, sha);
 *
 * In text mode the line gets a time and level prefix; in JSON mode the
 * pairs become fields of one JSON object (a bare first word becomes "msg",
 * values may be "double quoted"). Never log a secret or a whole event.
 *
 * In JSON, a value is a JSON number when it is exactly one numeric
 * conversion (%d, %lld, %zu, %u, %f, ...) whose text is a JSON number
 * within int64 (or a decimal), and a JSON boolean when it is exactly one
 * %s given log_bool(): "ms=%lld" gives "ms":10, "duplicate=%s" with
 * log_bool(dup) gives "duplicate":false. Everything else - a %s holding
 * digits (event_id="123"), "%03d", "%x", "%lldms", a quoted value - stays
 * a string. The type comes from the call site, never from guessing.
 * Logging is thread-safe: each line is written with one write(2).
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN };

/* Set the minimum level and the format (json=false: key=value text). */
void log_init(enum log_level level, bool json);

/* Parse "debug" / "info" / "warn"; returns -1 if unknown. */
int log_level_parse(const char *s);

bool log_enabled(enum log_level level);

/* "true" or "false", marked as a boolean for JSON logs: pass it to a %s
 * (the pointer is recognised; an equal string literal is not). */
const char *log_bool(bool b);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends err="<strerror(errno)>"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * The trace id (32 lower-case hex) put on every line this thread writes
 * until cleared: a trailing `trace_id=<hex>` pair in text, a "trace_id"
 * field in JSON. The worker sets it around the handling of one event
 * (on the handler thread, and on the loop thread while it logs about
 * that event). The value is copied; NULL, or anything but 32 lower-case
 * hex digits, clears it.
 */
void log_context_set(const char *trace_id);

/* The calling thread's trace id, "" when none (for tests). */
const char *log_context_trace_id(void);

/* Format a line as JSON (exposed for tests): text is the message as the
 * caller wrote it, where the bytes LOG_TYPED_BEGIN and LOG_TYPED_END
 * enclose the text of a typed (number or boolean) conversion; they never
 * come from a value, whose control bytes are escaped. Returns a newly
 * allocated string without newline. */
#define LOG_TYPED_BEGIN '\x01'
#define LOG_TYPED_END '\x02'
char *log_format_json(const char *level, const char *ts, const char *text);

#endif
