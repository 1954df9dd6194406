/* Construction scaffolding: weak fallbacks so the binary links while the
 * modules land. Removed before the first landing. */
#include <stdio.h>
#include "store/scan.h"
#include "worker/cmd.h"
#include "worker/handler.h"
#define SCAFFOLD(name) \
	__attribute__((weak)) int name(int argc, char **argv, struct config *cfg) \
	{ (void)argc; (void)argv; (void)cfg; fprintf(stderr, #name " not built yet\n"); return 2; }
SCAFFOLD(cmd_run)
SCAFFOLD(cmd_publish)
SCAFFOLD(cmd_list)
SCAFFOLD(cmd_show)
SCAFFOLD(cmd_revert)
SCAFFOLD(cmd_scan)
SCAFFOLD(cmd_replay)
SCAFFOLD(cmd_dlq)
SCAFFOLD(cmd_bridge)
__attribute__((weak)) void handler_release(const struct handler_ctx *c, const struct envelope *e, struct handler_result *r) { (void)c; (void)e; r->action = HANDLER_SKIP; }
__attribute__((weak)) int scanner_new(struct scanner **out, const char *const *a, size_t b, const char *const *c, size_t d, struct error *err) { (void)a;(void)b;(void)c;(void)d;(void)err; *out = NULL; return 0; }
__attribute__((weak)) void scanner_free(struct scanner *sc) { (void)sc; }
__attribute__((weak)) int scanner_scan(struct scanner *sc, const char *name, const char *data, size_t len, struct scan_hit *hit, struct error *err) { (void)sc;(void)name;(void)data;(void)len;(void)hit;(void)err; return 0; }
