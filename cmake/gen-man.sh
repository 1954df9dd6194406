#!/bin/sh
# gen-man.sh - write artifactd(8) from the binary's own --help texts, so
# the man page never says something the program does not: the command list
# of `artifactd --help`, then `artifactd COMMAND --help` for each command,
# then every setting as `artifactd check-config --list` lists it.
# The few fixed sections (signals, files, exit status) describe behaviour
# DESIGN.md fixes. Output: a gzipped roff page (Debian installs man pages
# gzipped).
#
# usage: gen-man.sh ARTIFACTD_BINARY OUTPUT.8.gz VERSION
set -eu
bin=$1
out=$2
version=$3

# A fixed date makes the page reproducible when SOURCE_DATE_EPOCH is set.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
	date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
else
	date=$(date -u +%Y-%m-%d)
fi

# Run the binary with an empty environment (plus HOME and PATH), so the page
# shows built-in defaults and not the settings of the machine that builds it.
# In a sanitizer build, a leak report at exit would fail the build of the
# page; leaks are the test suite's business, not the man page's.
run() {
	env -i HOME=/nonexistent PATH=/usr/bin:/bin \
	    ASAN_OPTIONS=detect_leaks=0 "$bin" "$@"
}

# Roff-escape text shown verbatim: backslashes, then leading dots and
# apostrophes (which roff would take for requests), then hyphens.
esc() {
	sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/" -e 's/-/\\-/g'
}

# Turn one --help text (already escaped) into roff that man(1) fills to the
# reader's width, so no line of the page is wider than the terminal (the
# help texts are written for 100 columns): prose is filled, an indented
# "  TAG  description" line becomes a .TP item (deeper-indented lines
# continue its description), other indented lines stay verbatim. The
# "usage:" line is kept as one source line (the .deb test looks for it).
fmt_help() {
	awk '
	function flush_tp() {
		if (tag != "") {
			printf ".TP\n\\fB%s\\fR\n\\&%s\n", tag, desc
			tag = ""
		}
	}
	/^$/ { flush_tp(); para = 1; next }
	/^ / {
		line = $0
		ind = match(line, /[^ ]/) - 1
		body = substr(line, ind + 1)
		if (tag != "" && ind > tagind && body !~ /  /) {
			desc = desc " " body
			next
		}
		flush_tp()
		if (match(body, /  +/)) {
			tag = substr(body, 1, RSTART - 1)
			desc = substr(body, RSTART + RLENGTH)
			tagind = ind
			if (para) { print ".PP"; para = 0 }
			next
		}
		print ".nf\n" line "\n.fi"
		next
	}
	{
		flush_tp()
		if (para || NR == 1) { print ".PP"; para = 0 }
		print
	}
	END { flush_tp() }'
}

# The settings list (flag, variables, meaning) as ENVIRONMENT items: each
# variable (an alias after a comma), then its flag and meaning.
fmt_settings() {
	awk '{
		flag = $1; vars = $2
		$1 = ""; $2 = ""; sub(/^ +/, "")
		n = split(vars, v, ",")
		printf ".TP\n\\fB%s\\fR", v[1]
		for (i = 2; i <= n; i++) printf " (or \\fB%s\\fR)", v[i]
		printf "\n\\&Flag \\fB%s\\fR: %s\n", flag, $0
	}'
}

tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.page" "$out.tmp"' EXIT

top=$(run --help)
cmds=$(printf '%s\n' "$top" |
    awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
if [ -z "$cmds" ]; then
	echo "gen-man.sh: no commands found in '$bin --help'" >&2
	exit 1
fi

{
	printf '.TH ARTIFACTD 8 "%s" "artifactd %s" "System Administration"\n' \
	    "$date" "$version"
	printf '.SH NAME\nartifactd \\- commit and publish artifacts from Redis bus events\n'
	# Left-adjusted, unhyphenated: option names and paths must not be
	# split or stretched.
	printf '.ad l\n.nh\n'
	printf '.SH SYNOPSIS\n'
	printf '%s\n' "$top" | sed -n 's/^usage: //p' | esc
	printf '.SH DESCRIPTION\n'
	printf '%s\n' \
	    'artifactd listens on Redis Streams for TEST_PASSED and release-tag' \
	    'events, commits the tested artifacts into a git repository, publishes' \
	    'release files to package repositories, and answers on the bus with' \
	    'ARTIFACT_COMMITTED, PACKAGE_PUBLISHED or a failure event.' \
	    'Settings come from built\-in defaults, the YAML config file' \
	    '(\fB\-\-config\fR or \fBARTIFACTD_CONFIG\fR), the environment and' \
	    'flags, in that order of precedence.'
	printf '.SH COMMANDS\n'
	printf '%s\n' "$top" |
	    awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on' |
	    esc | fmt_help
	for c in $cmds; do
		printf '.SS %s\n' "$c"
		# A command whose --help fails is reported, not fatal: the
		# page is part of every build, and one unfinished command must
		# not break the build of all others. The .deb test checks
		# that the page holds every command's help. Only stdout is
		# the help: stderr may carry log lines (the descriptor limit).
		if run "$c" --help >"$tmp" 2>/dev/null; then
			esc <"$tmp" | fmt_help
		else
			echo "gen-man.sh: warning: '$c --help' failed" >&2
			echo "(no help text: 'artifactd $c --help' failed when this page was built)" | esc
		fi
	done
	printf '.SH ENVIRONMENT\n'
	printf '%s\n' \
	    'Each setting is a flag of every command, an environment variable and' \
	    'a key of the config file; \fBartifactd check\-config\fR prints the' \
	    'effective values. Secrets (marked below) can also come from a file' \
	    'named by the variable with \fB_FILE\fR appended.' \
	    '.TP' '.B ARTIFACTD_CONFIG' \
	    'The YAML config file (flag \fB\-\-config\fR).'
	if run check-config --list >"$tmp" 2>/dev/null; then
		esc <"$tmp" | fmt_settings
	else
		echo '(artifactd check-config --list failed when this page was built)' | esc
	fi
	printf '%s\n' \
	    '.PP' \
	    'Publishing credentials use the names of the tools they come from' \
	    '(\fBPYPI_API_TOKEN\fR, \fBTWINE_PASSWORD\fR, \fBGITHUB_TOKEN\fR,' \
	    '\fBAWS_ACCESS_KEY_ID\fR, \fBAWS_PROFILE\fR, ...); the config' \
	    "file's targets name them."
	printf '.SH EXAMPLES\n'
	printf '%s\n' \
	    'Check the settings the service will run with (secrets masked):' \
	    '.PP' '.RS 4' '.nf' \
	    'set \-a; . /etc/artifactd/artifactd.env; set +a' \
	    'artifactd check\-config' \
	    '.fi' '.RE' '.PP' \
	    'Enable and start the service once the environment file names a' \
	    'Redis, a remote and the artifacts root, then follow its log:' \
	    '.PP' '.RS 4' '.nf' \
	    'systemctl enable \-\-now artifactd' \
	    'journalctl \-u artifactd \-f' \
	    '.fi' '.RE' '.PP' \
	    'Send a TEST_PASSED event for two files as a producer would and' \
	    'wait for the answer:' \
	    '.PP' '.RS 4' '.nf' \
	    'artifactd emit \-\-workflow wf\-1 \-\-task train \e' \
	    '    /srv/artifacts/wf\-1/model.bin /srv/artifacts/wf\-1/report.xml' \
	    '.fi' '.RE' '.PP' \
	    'Check a release without sending anything, then list and redrive' \
	    'the dead letters of the test stream:' \
	    '.PP' '.RS 4' '.nf' \
	    'artifactd publish \-\-tag v1.2.3 \-\-dry\-run dist/*.whl' \
	    'artifactd dlq list' \
	    'artifactd dlq redrive \-\-all' \
	    '.fi' '.RE'
	printf '.SH SIGNALS\n'
	printf '%s\n' \
	    '.TP' '.B SIGTERM, SIGINT' \
	    'Drain: stop reading the bus, finish the events in hand within' \
	    '\fBARTIFACTD_DRAIN_TIMEOUT_MS\fR (those not finished stay pending' \
	    'for another worker), then exit 0.'
	printf '.SH HEALTH\n'
	printf '%s\n' \
	    '\fBartifactd run\fR serves \fB/healthz\fR (alive),' \
	    '\fB/readyz\fR (connected to Redis and consuming) and \fB/metrics\fR' \
	    '(Prometheus text format) on \fBARTIFACTD_HTTP_ADDR\fR.'
	printf '.SH EXIT STATUS\n'
	printf '%s\n' '0 on success, 1 on a failure the user caused or a failed' \
	    'operation, 2 on bad usage.'
	printf '.SH FILES\n'
	printf '%s\n' \
	    '.TP' '.I /etc/artifactd/artifactd.env' \
	    'Environment of the systemd service.' \
	    '.TP' '.I /var/lib/artifactd' \
	    'State directory of the service; holds the git repository.'
	printf '.SH SEE ALSO\n'
	printf '%s\n' '\fBgit\fR(1), \fBredis\-server\fR(1), \fBsystemd.exec\fR(5)'
} >"$tmp.page"
gzip -9n <"$tmp.page" >"$out.tmp"
rm -f "$tmp.page"
mv "$out.tmp" "$out"
