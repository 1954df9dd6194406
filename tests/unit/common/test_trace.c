/*
 * test_trace.c - W3C traceparent: the strict check (version 00, lower-case
 * hex, no all-zero id, exact length), the derived ids of an event without
 * one, our traceparent, and the trace id on every log line of a thread
 * while the log context is set (text and JSON), on no other thread's.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "common/trace.h"

#define GOOD "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TID "4bf92f3577b34da6a3ce929d0e0e4736"

static bool
parse(struct trace *t, const char *s)
{
	memset(t, 0, sizeof(*t));
	return trace_parse(t, s, strlen(s));
}

static void
test_parse_valid(void **state)
{
	struct trace t;

	(void)state;
	assert_true(parse(&t, GOOD));
	assert_string_equal(t.trace_id, TID);
	assert_string_equal(t.parent_id, "00f067aa0ba902b7");
	assert_string_equal(t.flags, "01");
	assert_true(parse(&t,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
	assert_string_equal(t.flags, "00");
}

static void
test_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"garbage",
		/* version ff and other versions */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* all-zero trace id, all-zero parent id */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		/* upper case */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		/* wrong lengths, separators, trailing bytes */
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
		" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* not hex */
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
	};
	struct trace t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(parse(&t, bad[i]));
		assert_string_equal(t.trace_id, ""); /* untouched */
	}
	/* A NUL inside: the length says 55, the bytes are not hex. */
	memset(&t, 0, sizeof(t));
	assert_false(trace_parse(&t,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736\0"
	    "00f067aa0ba902b7-01",
	    55));
	assert_false(trace_parse(&t, NULL, 0));
}

static void
test_start_and_format(void **state)
{
	struct trace a, b, c;
	char tp[TRACE_PARENT_SIZE];

	(void)state;
	/* With an incoming context: its trace id, flags and parent kept,
	 * our own span id. */
	assert_true(parse(&a, GOOD));
	trace_start(&a, "ev-1");
	assert_string_equal(a.trace_id, TID);
	assert_string_equal(a.parent_id, "00f067aa0ba902b7");
	assert_string_not_equal(a.span_id, "00f067aa0ba902b7");
	trace_format(&a, tp);
	assert_int_equal(strlen(tp), TRACE_PARENT_LEN);
	assert_true(strncmp(tp, "00-" TID "-", 36) == 0);
	assert_string_equal(tp + 52, "-01");
	memset(&c, 0, sizeof(c));
	assert_true(trace_parse(&c, tp, strlen(tp))); /* ours is valid */

	/* Without: a trace id of its own, the same for the same event. */
	memset(&b, 0, sizeof(b));
	trace_start(&b, "ev-1");
	assert_true(trace_id_ok(b.trace_id, strlen(b.trace_id)));
	assert_string_equal(b.parent_id, "");
	assert_string_equal(b.flags, "00");
	memset(&c, 0, sizeof(c));
	trace_start(&c, "ev-1");
	assert_string_equal(b.trace_id, c.trace_id);
	assert_string_equal(b.span_id, c.span_id);
	memset(&c, 0, sizeof(c));
	trace_start(&c, "ev-2");
	assert_string_not_equal(b.trace_id, c.trace_id);
	assert_false(trace_id_ok("00000000000000000000000000000000", 32));
}

/* ----------------------------------------------------------- log context */

static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/artifactd-trace-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *text = calloc(1, 65536);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && text != NULL);
	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, text, 65535);
	assert_true(n >= 0);
	close(fd);
	return text;
}

static void *
other_thread(void *arg)
{
	(void)arg;
	log_info("other_thread k=v");
	return NULL;
}

static void
log_lines(void)
{
	pthread_t th;

	log_info("before k=v");
	log_context_set(TID);
	log_info("during k=%d", 1);
	/* Another thread has a context of its own (none). */
	assert_int_equal(pthread_create(&th, NULL, other_thread, NULL), 0);
	pthread_join(th, NULL);
	log_context_set(NULL);
	log_info("after k=v");
	log_context_set("not-hex-at-all-not-hex-at-all-xx"); /* refused */
	log_info("refused k=v");
	log_context_set(NULL);
}

static const char *
line_of(const char *text, const char *word)
{
	const char *p = strstr(text, word);

	assert_non_null(p);
	return p;
}

static size_t
line_has(const char *line, const char *what)
{
	const char *nl = strchr(line, '\n'), *p = strstr(line, what);

	return p != NULL && (nl == NULL || p < nl);
}

static void
test_log_context_text(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_lines);
	assert_false(line_has(line_of(t, "before"), "trace_id="));
	assert_true(line_has(line_of(t, "during"), " trace_id=" TID));
	assert_false(line_has(line_of(t, "other_thread"), "trace_id="));
	assert_false(line_has(line_of(t, "after"), "trace_id="));
	assert_false(line_has(line_of(t, "refused"), "trace_id="));
	assert_string_equal(log_context_trace_id(), "");
	free(t);
}

static void
test_log_context_json(void **state)
{
	char *t;

	(void)state;
	log_init(LOG_LEVEL_INFO, true);
	t = capture(log_lines);
	assert_true(line_has(line_of(t, "\"during\""),
	    "\"k\":1,\"trace_id\":\"" TID "\"}"));
	assert_false(line_has(line_of(t, "\"before\""), "trace_id"));
	assert_false(line_has(line_of(t, "\"other_thread\""), "trace_id"));
	log_init(LOG_LEVEL_INFO, false);
	free(t);
}

/* A line cut at its cap still ends with the trace id. */
static void
log_long(void)
{
	static char big[8192];

	memset(big, 'a', sizeof(big) - 1);
	log_context_set(TID);
	log_info("long a=%s b=%s c=%s d=%s e=%s", big, big, big, big, big);
	log_context_set(NULL);
}

static void
test_log_context_long_line(void **state)
{
	char *t;
	size_t n;

	(void)state;
	log_init(LOG_LEVEL_INFO, false);
	t = capture(log_long);
	n = strlen(t);
	assert_true(n > 40);
	assert_string_equal(t + n - strlen(" trace_id=" TID "\n"),
	    " trace_id=" TID "\n");
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_start_and_format),
		cmocka_unit_test(test_log_context_text),
		cmocka_unit_test(test_log_context_json),
		cmocka_unit_test(test_log_context_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
