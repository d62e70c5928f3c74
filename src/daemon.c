/*
 * daemon.c - wires modules into struct dbp_app and owns their lifecycle.
 *
 * Start order: jobs -> service modules -> HTTP (so no request can reach a
 * module that is not ready).  Stop order is the reverse, HTTP first, so
 * in-flight requests finish against live modules.
 */
#define _GNU_SOURCE
#include "dbp/daemon.h"
#include "dbp/anomaly.h"
#include "dbp/app.h"
#include "dbp/catalog.h"
#include "dbp/collector.h"
#include "dbp/config.h"
#include "dbp/jobs.h"
#include "dbp/log.h"
#include "dbp/experiment.h"
#include "dbp/ml.h"
#include "dbp/recorder.h"
#include "dbp/util.h"
#include "dbp/workload.h"

#include <mysql.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

struct dbp_daemon {
    struct dbp_app app;
    struct dbp_router *router;
    /* The address the socket is bound to: listen/port changes need a
     * restart, so a reload is judged against these, not the new file's. */
    char bound_listen[256];
    int bound_port;
};

int dbp_daemon_global_init(struct dbp_err *err)
{
    if (mysql_library_init(0, NULL, NULL))
        return dbp_err_set(err, DBP_EINTERNAL, "mysql_library_init failed");
    return 0;
}

void dbp_daemon_global_cleanup(void)
{
    mysql_library_end();
}

int dbp_daemon_start(const char *version, struct dbp_daemon **out, struct dbp_err *err)
{
    struct dbp_daemon *d = dbp_xcalloc(1, sizeof(*d));
    struct dbp_config *cfg = dbp_config_acquire();
    const struct dbp_route *const *tables;
    const size_t *counts;
    int rc;

    *out = d;
    d->app.version = version;
    d->app.started_at = dbp_wall_s();
    if (!cfg) {
        rc = dbp_err_set(err, DBP_EINTERNAL, "no configuration published");
        goto out;
    }

    int ntables = dbp_app_routes(&tables, &counts);
    rc = dbp_router_new(tables, counts, ntables, &d->router, err);
    if (rc)
        goto out;

    d->app.jobs = dbp_jobs_new(4, 256);
    rc = dbp_jobs_start(d->app.jobs);
    if (rc) {
        dbp_err_set(err, rc, "cannot start job workers");
        goto out;
    }

    /* --- collector (issue: metrics pipeline) --- */
    if (cfg->nnodes > 0 || cfg->discover) {
        struct dbp_catalog *cat = NULL;
        rc = dbp_catalog_load(cfg->catalog_dir, cfg->catalog, &cat, err);
        if (rc)
            goto out;
        rc = dbp_collector_new(cfg, cat, &d->app.collector, err);
        if (rc)
            goto out;
        rc = dbp_collector_start(d->app.collector, cfg->collector_autostart, err);
        if (rc)
            goto out;
        dbp_app_add_exporter(&d->app, dbp_collector_render_prom, d->app.collector);
        dbp_app_add_service(&d->app, "collector", dbp_collector_state, d->app.collector);
    } else {
        DBP_WARN("main", "no database nodes configured: the collector is off");
    }
    /* --- end collector --- */

    /* --- fault registry (issue: fault injection): loads the journal; its
     * worker reverts what a crashed run left before applying anything new --- */
    rc = dbp_anomalies_new(cfg, d->app.collector, &d->app.anomalies, err);
    if (rc)
        goto out;
    rc = dbp_anomalies_start(d->app.anomalies, err);
    if (rc)
        goto out;
    dbp_app_add_exporter(&d->app, dbp_anomalies_render_prom, d->app.anomalies);
    dbp_app_add_service(&d->app, "anomaly", dbp_anomalies_state, d->app.anomalies);
    /* --- end fault registry --- */

    /* --- diagnosis (issue: diagnosis); after the collector it reads --- */
    rc = dbp_ml_new(cfg, d->app.collector, d->app.jobs, &d->app.ml, err);
    if (rc || (rc = dbp_ml_start(d->app.ml, err)))
        goto out;
    dbp_app_add_exporter(&d->app, dbp_ml_render_prom, d->app.ml);
    dbp_app_add_service(&d->app, "diagnosis", dbp_ml_state, d->app.ml);
    /* --- end diagnosis --- */

    /* --- workloads (issue: workloads) --- */
    d->app.workloads = dbp_workloads_new(d->app.jobs);
    rc = dbp_workloads_start(d->app.workloads, err);
    if (rc)
        goto out;
    dbp_app_add_exporter(&d->app, dbp_workloads_render_metrics, d->app.workloads);
    dbp_app_add_service(&d->app, "workloads", dbp_workloads_health, d->app.workloads);
    /* --- end workloads --- */

    /* --- training recorder and campaigns (issue: diagnosis); after the
     * modules they listen to and drive --- */
    rc = dbp_recorder_new(cfg, d->app.collector, d->app.anomalies, &d->app.recorder, err);
    if (rc || (rc = dbp_recorder_start(d->app.recorder, err)))
        goto out;
    {
        struct dbp_exp_deps deps = {d->app.jobs,      d->app.recorder, d->app.anomalies,
                                    d->app.workloads, d->app.ml,       d->app.collector};
        rc = dbp_experiments_new(cfg, &deps, &d->app.experiments, err);
        if (rc)
            goto out;
    }
    /* --- end training recorder and campaigns --- */

    struct dbp_server_opts so = {
        .listen = cfg->listen,
        .port = cfg->port,
        .threads = cfg->threads,
        .conn_timeout_s = cfg->conn_timeout_s,
        .conn_limit = cfg->conn_limit,
        .max_body = (size_t)cfg->max_body,
        .token = cfg->token,
        .cors = (const char(*)[256])cfg->cors,
        .ncors = cfg->ncors,
    };
    rc = dbp_server_new(&d->app, d->router, &so, &d->app.http, err);
    if (rc)
        goto out;
    rc = dbp_server_start(d->app.http, err);
    dbp_strlcpy(d->bound_listen, cfg->listen, sizeof(d->bound_listen));
    d->bound_port = cfg->port;
out:
    dbp_config_unref(cfg);
    return rc;
}

void dbp_daemon_stop(struct dbp_daemon *d)
{
    if (!d)
        return;
    /* A short grace: handlers bound their own waits, SSE streams end at
     * once, and the fault reverts below must fit in systemd's
     * TimeoutStopSec (config/dbpecker.service). */
    if (d->app.http)
        dbp_server_stop(d->app.http, 5000);
    /* --- campaigns: cancel the one running (it reverts its fault) while the
     * registry still works; then save the open training case --- */
    dbp_experiments_stop(d->app.experiments);
    dbp_recorder_stop(d->app.recorder);
    /* --- end campaigns --- */
    /* --- fault registry: revert every fault while the rest still runs --- */
    dbp_anomalies_stop(d->app.anomalies);
    /* --- end fault registry --- */
    /* diagnosis: its thread stops before the collector it reads; freed after
     * the job queue, which may still be running a training on it */
    dbp_ml_stop(d->app.ml);
    /* workloads: children stopped before the jobs waiting on them; freed
     * after the job queue, which may still release a prepare job's state. */
    dbp_workloads_stop(d->app.workloads);
    dbp_collector_stop(d->app.collector);
    if (d->app.jobs)
        dbp_jobs_stop(d->app.jobs);
    dbp_server_free(d->app.http);
    dbp_anomalies_free(d->app.anomalies);
    dbp_collector_free(d->app.collector);
    dbp_jobs_free(d->app.jobs);
    dbp_ml_free(d->app.ml);
    dbp_workloads_free(d->app.workloads);
    dbp_experiments_free(d->app.experiments);
    dbp_recorder_free(d->app.recorder);
    dbp_router_free(d->router);
    free(d);
}

int dbp_daemon_reload(struct dbp_daemon *d, struct dbp_config *ncfg, struct dbp_err *err)
{
    /* The new file was validated against its own server.listen; what
     * matters is the address we are bound to (H1 of the 2026-12 review: a
     * reload to "listen: 127.0.0.1" without a token used to drop
     * authentication on a socket still bound to 0.0.0.0). */
    struct dbp_config bound = {0};
    dbp_strlcpy(bound.listen, d->bound_listen, sizeof(bound.listen));
    if (!dbp_config_is_loopback(&bound) && !ncfg->token[0]) {
        dbp_config_unref(ncfg);
        return dbp_err_set(err, DBP_EINVAL,
                           "the daemon is bound to %s (not loopback; a listen change needs a "
                           "restart) and the new configuration has no server.token: refused, "
                           "the old configuration stays",
                           d->bound_listen);
    }
    if (strcmp(d->bound_listen, ncfg->listen) != 0 || d->bound_port != ncfg->port) {
        DBP_WARN("main", "server.listen/server.port changes need a restart; keeping %s:%d",
                 d->bound_listen, dbp_daemon_port(d));
        /* The published snapshot says what is in force. */
        dbp_strlcpy(ncfg->listen, d->bound_listen, sizeof(ncfg->listen));
        ncfg->port = d->bound_port;
    }
    struct dbp_config *old = dbp_config_acquire();
    dbp_log_set_level(dbp_log_level_from_name(ncfg->log_level));
    dbp_server_set_security(d->app.http, ncfg->token, (const char(*)[256])ncfg->cors,
                            ncfg->ncors);
    if (d->app.collector)
        dbp_collector_reload(d->app.collector, ncfg);
    if (d->app.ml)
        dbp_ml_reload(d->app.ml, ncfg);
    if (d->app.recorder)
        dbp_recorder_reload(d->app.recorder, ncfg);
    if (d->app.experiments)
        dbp_experiments_reload(d->app.experiments, ncfg);
    dbp_config_unref(old);
    dbp_config_publish(ncfg);
    DBP_INFO("main", "configuration reloaded from %s", ncfg->path[0] ? ncfg->path : "defaults");
    return 0;
}

int dbp_daemon_port(const struct dbp_daemon *d)
{
    return d && d->app.http ? dbp_server_port(d->app.http) : 0;
}

struct dbp_app *dbp_daemon_app(struct dbp_daemon *d)
{
    return &d->app;
}

int dbp_daemon_dump_routes(FILE *out)
{
    const struct dbp_route *const *tables;
    const size_t *counts;
    struct dbp_router *r = NULL;
    struct dbp_err err = {0};
    int ntables = dbp_app_routes(&tables, &counts);
    if (dbp_router_new(tables, counts, ntables, &r, &err)) {
        fprintf(stderr, "route table invalid: %s\n", err.msg);
        return -1;
    }
    fprintf(out, "| Method | Path | Token | Summary |\n|---|---|---|---|\n");
    /* Declaration order reads better than specificity order. */
    for (int t = 0; t < ntables; t++)
        for (size_t i = 0; i < counts[t]; i++) {
            const struct dbp_route *rt = &tables[t][i];
            fprintf(out, "| %s | `%s` | %s | %s%s |\n", dbp_method_name(rt->method), rt->pattern,
                    (rt->flags & DBP_R_MUTATES) ? "yes" : "", rt->summary,
                    (rt->flags & DBP_R_ASYNC) ? " (202 + job)" : "");
        }
    dbp_router_free(r);
    return 0;
}
