/*
 * routes.c - joins every API module's route table into the daemon's one
 * table.  Adding a module = one line in each of the two lists below.
 */
#include "dbp/app.h"
#include "api_int.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

int dbp_app_routes(const struct dbp_route *const **t, const size_t **c)
{
    static const struct dbp_route *tables[16];
    static size_t counts[16];
    int n = 0;

    tables[n] = dbp_api_core_routes, counts[n++] = dbp_api_core_nroutes;
    tables[n] = dbp_api_metrics_routes, counts[n++] = dbp_api_metrics_nroutes;
    tables[n] = dbp_api_anomaly_routes, counts[n++] = dbp_api_anomaly_nroutes;
    tables[n] = dbp_api_models_routes, counts[n++] = dbp_api_models_nroutes;
    tables[n] = dbp_api_workload_routes, counts[n++] = dbp_api_workload_nroutes;
    tables[n] = dbp_api_training_routes, counts[n++] = dbp_api_training_nroutes;
    tables[n] = dbp_api_ui_routes, counts[n++] = dbp_api_ui_nroutes;

    *t = tables;
    *c = counts;
    return n;
}
