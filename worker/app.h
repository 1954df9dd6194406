/*
 * app.h - what every subcommand that touches the store needs: open the
 * store and the scanner from the settings, and set up logging once the
 * flags are known.
 */
#ifndef WORKER_APP_H
#define WORKER_APP_H

#include "common/error.h"
#include "worker/config.h"
#include "worker/handler.h"

struct repos;
struct store;

/* Re-initialise logging from cfg (after a command applied its flags). */
void app_log_init(const struct config *cfg);

/* Open the store from the settings (without a scanner). ERR_INVALID
 * when repo is a template: use app_open_repos. */
int app_open_store(struct store **out, const struct config *cfg,
    struct error *err);

/* Every repository of the settings (repos.h), without a scanner. */
int app_open_repos(struct repos **out, const struct config *cfg,
    struct error *err);

/*
 * Build the handler context: the scanner (when scanning is on) and the
 * store. Returns 0, or a negative code with err filled; on failure
 * nothing needs disposing.
 */
int app_init(struct handler_ctx *ctx, const struct config *cfg,
    struct error *err);

void app_dispose(struct handler_ctx *ctx);

/* The expiry job (expire-after): store_expire with the settings, unless
 * another process holds the repository's expiry lock. Returns 0 or
 * store_expire's error. */
int app_expire(const struct handler_ctx *ctx, struct error *err);

/* Push what the remote lacks (a no-op without a remote). Blocking: run it
 * on a handler thread. Returns 0 or ERR_TRANSIENT. */
int app_push_pending(const struct handler_ctx *ctx, struct error *err);

#endif
