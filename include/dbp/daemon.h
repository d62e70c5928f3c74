/*
 * daemon.h - building, starting, reloading and stopping the whole daemon.
 *
 * Shared by main() and the integration tests, which start the real daemon
 * in-process on port 0 and drive it with libcurl.
 */
#ifndef DBP_DAEMON_H
#define DBP_DAEMON_H

#include <stdio.h>

#include "dbp/err.h"

struct dbp_daemon;
struct dbp_config;
struct dbp_app;

/* Once per process, before threads: mysql_library_init and friends. */
int dbp_daemon_global_init(struct dbp_err *err);
void dbp_daemon_global_cleanup(void);

/* Build modules from the published config and start them, HTTP last.  On
 * failure *out may be non-NULL: pass it to dbp_daemon_stop(). */
int dbp_daemon_start(const char *version, struct dbp_daemon **out, struct dbp_err *err);
/* Stop HTTP first, then modules in reverse order; frees d.  NULL is fine. */
void dbp_daemon_stop(struct dbp_daemon *d);
/* Apply a validated new config (consumed, also on failure): publish it and
 * push the reloadable parts (log level, token, CORS, collector settings) to
 * the modules; keys that need a restart (listen, port) are logged and the
 * bound values kept in the published snapshot.  DBP_EINVAL (the old config
 * stays) when the new one has no token while the bound address is not
 * loopback. */
int dbp_daemon_reload(struct dbp_daemon *d, struct dbp_config *ncfg, struct dbp_err *err);

int dbp_daemon_port(const struct dbp_daemon *d);
struct dbp_app *dbp_daemon_app(struct dbp_daemon *d);

/* Markdown table of every route (README and --dump-routes). */
int dbp_daemon_dump_routes(FILE *out);

#endif
