/*
 * progress.h - progress of long uploads: redrawn on a terminal by
 * `artifactd publish`, a log line every few seconds in the daemon.
 *
 * The mode is process-wide (set once at start by the command); the name
 * of the file and target being uploaded is per thread (the release core
 * sets it around each upload, so parallel uploads each report their
 * own). http.c attaches a struct progress to every request that sends a
 * body while a name is set; nothing else in publishers/ knows about it.
 */
#ifndef PUBLISHERS_PROGRESS_H
#define PUBLISHERS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

enum progress_mode {
	PROGRESS_LOG, /* default: a progress log line every PROGRESS_LOG_MS */
	PROGRESS_TTY, /* redraw one line on stderr with \r, <= 4 per second */
	PROGRESS_OFF
};

/* Choose the mode for the whole process (before any upload starts). */
void progress_mode_set(enum progress_mode mode);

/* The file and target this thread uploads next (copied, cut to fit);
 * NULL file clears: requests without a name report nothing. */
void progress_name_set(const char *target, const char *file);

struct progress {
	bool on;
	char target[64];
	char file[160];
	int64_t start_ms, last_ms;
	uint64_t total, sent;
	bool drawn;
};

/* Make the transfer c report to p when this thread has a name set and
 * the mode is not off; total is the body's size. Returns p->on. */
bool progress_attach(struct progress *p, CURL *c, uint64_t total);

/* The transfer ended: a terminal line is finished (a last redraw and a
 * newline). */
void progress_done(struct progress *p);

/* curl_easy_perform(c) with progress reported when this thread has a
 * name set, the mode is not off and a body of total bytes is sent
 * (total 0: none); what http.c calls. */
CURLcode progress_perform(CURL *c, uint64_t total);

/* The line drawn or logged, for tests: "file -> target  1.0 MiB / 2.0
 * MiB  512.0 KiB/s  0:02 left" (rate and time left as far as known). */
void progress_format(char *out, size_t n, const struct progress *p,
    int64_t now_ms);

#endif
