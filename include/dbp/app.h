/*
 * app.h - the application context passed to every handler (req->app).
 *
 * It is built in main() (or by a test harness) and holds the modules.  No
 * module reaches another through globals: they are wired here, explicitly.
 * Module pointers may be NULL when a module is not built or not started;
 * handlers answer 503 in that case.
 */
#ifndef DBP_APP_H
#define DBP_APP_H

#include <stdbool.h>
#include <stddef.h>

#include "dbp/http.h"
#include "dbp/util.h"

struct dbp_config;
struct dbp_jobs;
struct dbp_server;

/* Something that contributes Prometheus text to GET /metrics.  It must be
 * thread-safe and must not touch a database (copy from a snapshot). */
typedef int (*dbp_exporter_fn)(void *cls, struct dbp_buf *out);

#define DBP_MAX_EXPORTERS 16
#define DBP_MAX_SERVICES 16

/* A service reported by GET /health. */
typedef const char *(*dbp_service_state_fn)(void *cls, char *detail, size_t detailsz);

struct dbp_app {
    const char *version;
    double started_at;                 /* wall seconds */
    struct dbp_jobs *jobs;
    struct dbp_server *http;

    /* Service modules (filled by later issues; NULL when absent). */
    struct dbp_collector *collector;
    struct dbp_workloads *workloads;
    struct dbp_anomalies *anomalies;
    struct dbp_ml *ml;
    struct dbp_recorder *recorder;       /* training cases (recorder.h) */
    struct dbp_experiments *experiments; /* campaigns (experiment.h) */

    struct {
        dbp_exporter_fn fn;
        void *cls;
    } exporters[DBP_MAX_EXPORTERS];
    int nexporters;

    struct {
        const char *name;
        dbp_service_state_fn fn;
        void *cls;
    } services[DBP_MAX_SERVICES];
    int nservices;
};

/* Registration happens before the HTTP server starts (single-threaded). */
void dbp_app_add_exporter(struct dbp_app *app, dbp_exporter_fn fn, void *cls);
void dbp_app_add_service(struct dbp_app *app, const char *name, dbp_service_state_fn fn,
                         void *cls);

/* The current config snapshot with a reference (release with
 * dbp_config_unref).  Thread-safe. */
struct dbp_config *dbp_app_config(struct dbp_app *app);

/* All routes of the daemon (joined from every API module). */
int dbp_app_routes(const struct dbp_route *const **tables, const size_t **counts);

#endif
