/*
 * scan_gate.h - the secret gate of releases: every release file, and
 * every member of the wheels, sdists and ZIPs among them, goes through the
 * secret scanner before any target is contacted.
 *
 * The release core (publishers/release.c) knows nothing of the scanner
 * (publishers may not call store/); it calls the file check that
 * scan_gate_attach installs in its configuration once per file, after the
 * file is open and checked and before any upload. A hit refuses the whole
 * release with SECRET_DETECTED (rule, "<archive>!<member>", line,
 * fingerprint; never the secret). Archives are walked with libarchive
 * under the limits below, so a zip bomb or an archive nested in an
 * archive in an archive is refused, not followed.
 */
#ifndef WORKER_SCAN_GATE_H
#define WORKER_SCAN_GATE_H

#include "common/error.h"
#include "publishers/release.h"
#include "worker/config.h"

struct scanner;

/* Members of one archive (nested ones included). A large wheel (numpy,
 * torch) carries a few thousand files; ten thousand leaves room and
 * bounds the work of an archive of empty entries. */
#define SCAN_GATE_MAX_MEMBERS 10000u
/* Uncompressed bytes scanned for one release file, members included:
 * 2 GiB takes about ten seconds to scan and is above any wheel PyPI
 * accepts by default (100 MiB compressed). */
#define SCAN_GATE_MAX_TOTAL (2ull * 1024 * 1024 * 1024)
/* One member (or a plain file) is held in memory to be scanned: 256 MiB
 * fits the largest shared libraries of common wheels. */
#define SCAN_GATE_MAX_MEMBER (256u * 1024 * 1024)
/* Uncompressed / compressed bytes of an archive: text deflates 3 to 10
 * times, sparse data rarely beyond 100; zip bombs reach 1000 and more.
 * Checked once more than SCAN_GATE_RATIO_FLOOR bytes came out, so a
 * tiny archive of empty files is not refused. */
#define SCAN_GATE_MAX_RATIO 200u
#define SCAN_GATE_RATIO_FLOOR (1u * 1024 * 1024)
/* Archives inside the release file are opened one level deep (a wheel
 * inside a ZIP bundle); an archive inside one of those is refused. */
#define SCAN_GATE_MAX_DEPTH 1

/*
 * The scanner the daemon and the CLI build from the settings:
 * secret-patterns, secret-allow and scan-ignore-file. Returns 0 or
 * ERR_INVALID (INVALID_CONFIG) as scanner_new_opts; *out belongs to the
 * caller (scanner_free).
 */
int scan_gate_scanner_new(struct scanner **out, const struct config *cfg,
    struct error *err);

/* Install the gate in c with the (borrowed, thread-safe) scanner sc; sc
 * NULL installs nothing. sc must outlive every release_run on c. */
void scan_gate_attach(struct release_config *c, struct scanner *sc);

/*
 * Scan one open file named name (archives by their members). Returns 0
 * when clean; ERR_INVALID with SECRET_DETECTED on a hit, SCAN_FAILED when
 * a limit above is exceeded, the archive is damaged or nested too deep,
 * or the scanner gave up. The descriptor's offset is not preserved (the
 * release core reads with pread or seeks first).
 */
int scan_gate_file(struct scanner *sc, int fd, const char *name,
    struct error *err);

#endif
