/*
 * progress.c - libcurl's transfer-info callback turned into a redrawn
 * terminal line or a periodic log line (progress.h).
 */
#include "publishers/progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

/* A terminal is redrawn at most this often: four times a second reads as
 * live without flooding a slow terminal (or a log capturing it). */
#define PROGRESS_TTY_MS 250
/* The daemon logs a long upload's progress this often; shorter uploads
 * log nothing but their result. */
#define PROGRESS_LOG_MS 5000

static enum progress_mode progress_mode = PROGRESS_LOG;
/* initial-exec: see log.c's log_trace_id. */
static _Thread_local char progress_target[64]
    __attribute__((tls_model("initial-exec")));
static _Thread_local char progress_file[160]
    __attribute__((tls_model("initial-exec")));

void
progress_mode_set(enum progress_mode mode)
{
	progress_mode = mode;
}

static void
progress_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

void
progress_name_set(const char *target, const char *file)
{
	progress_file[0] = progress_target[0] = '\0';
	if (file == NULL)
		return;
	snprintf(progress_file, sizeof(progress_file), "%s", file);
	snprintf(progress_target, sizeof(progress_target), "%s",
	    target != NULL ? target : "-");
	/* The terminal line is written raw: a control byte in a name
	 * (an escape sequence) is shown as '?', never interpreted. */
	progress_printable(progress_file);
	progress_printable(progress_target);
}

/* n bytes as "12.3 MiB" into out. */
static void
progress_bytes(char *out, size_t n, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024.0;
		u++;
	}
	snprintf(out, n, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

void
progress_format(char *out, size_t n, const struct progress *p, int64_t now_ms)
{
	char sent[32], total[32], rate[32], left[32] = "";
	double secs = (double)(now_ms - p->start_ms) / 1000.0;
	double bps = secs > 0 ? (double)p->sent / secs : 0;

	progress_bytes(sent, sizeof(sent), (double)p->sent);
	progress_bytes(total, sizeof(total), (double)p->total);
	progress_bytes(rate, sizeof(rate), bps);
	if (bps > 0 && p->total >= p->sent) {
		long long s = (long long)((double)(p->total - p->sent) / bps);

		snprintf(left, sizeof(left), "  %lld:%02lld left", s / 60,
		    s % 60);
	}
	snprintf(out, n, "%s -> %s  %s / %s  %s/s%s", p->file, p->target, sent,
	    total, rate, left);
}

/* Redraw the terminal line: one write(2), cleared to the end. */
static void
progress_draw(struct progress *p, int64_t now)
{
	char line[512], out[600];
	int len;

	progress_format(line, sizeof(line), p, now);
	len = snprintf(out, sizeof(out), "\r%s\033[K", line);
	if (len > 0 && write(STDERR_FILENO, out,
	                   (size_t)len < sizeof(out) ? (size_t)len
	                                             : sizeof(out) - 1) < 0) {
		/* A closed terminal: nothing to draw on. */
	}
	p->drawn = true;
}

static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct progress *p = arg;
	int64_t now = util_mono_ms();
	double secs;

	(void)dltotal;
	(void)dlnow;
	if (ulnow >= 0)
		p->sent = (uint64_t)ulnow;
	if (ultotal > 0)
		p->total = (uint64_t)ultotal;
	if (progress_mode == PROGRESS_TTY) {
		if (now - p->last_ms >= PROGRESS_TTY_MS) {
			p->last_ms = now;
			progress_draw(p, now);
		}
		return 0;
	}
	if (now - p->last_ms < PROGRESS_LOG_MS)
		return 0;
	p->last_ms = now;
	secs = (double)(now - p->start_ms) / 1000.0;
	log_info("upload_progress target=%s file=%s sent=%llu total=%llu "
	         "bytes_per_s=%.0f elapsed_ms=%lld",
	    p->target, p->file, (unsigned long long)p->sent,
	    (unsigned long long)p->total, secs > 0 ? (double)p->sent / secs : 0,
	    (long long)(now - p->start_ms));
	return 0;
}

bool
progress_attach(struct progress *p, CURL *c, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	if (progress_mode == PROGRESS_OFF || progress_file[0] == '\0')
		return false;
	p->on = true;
	memcpy(p->target, progress_target, sizeof(p->target));
	memcpy(p->file, progress_file, sizeof(p->file));
	p->total = total;
	p->start_ms = p->last_ms = util_mono_ms();
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	return true;
}

void
progress_done(struct progress *p)
{
	char nl = '\n';

	if (!p->on || progress_mode != PROGRESS_TTY)
		return;
	progress_draw(p, util_mono_ms());
	if (write(STDERR_FILENO, &nl, 1) < 0) {
		/* as above */
	}
	p->on = false;
}

CURLcode
progress_perform(CURL *c, uint64_t total)
{
	struct progress p = { 0 };
	CURLcode cc;

	if (total > 0)
		(void)progress_attach(&p, c, total);
	cc = curl_easy_perform(c);
	progress_done(&p);
	return cc;
}
