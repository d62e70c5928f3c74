/* api_int.h - route tables shared between src/api files (private). */
#ifndef DBP_API_INT_H
#define DBP_API_INT_H

#include "dbp/http.h"

extern const struct dbp_route dbp_api_core_routes[];
extern const size_t dbp_api_core_nroutes;
extern const struct dbp_route dbp_api_metrics_routes[];
extern const size_t dbp_api_metrics_nroutes;
extern const struct dbp_route dbp_api_anomaly_routes[];
extern const size_t dbp_api_anomaly_nroutes;
extern const struct dbp_route dbp_api_models_routes[];
extern const size_t dbp_api_models_nroutes;
extern const struct dbp_route dbp_api_workload_routes[];
extern const size_t dbp_api_workload_nroutes;
extern const struct dbp_route dbp_api_training_routes[];
extern const size_t dbp_api_training_nroutes;
extern const struct dbp_route dbp_api_ui_routes[];
extern const size_t dbp_api_ui_nroutes;

/* OpenAPI document for the given router (caller owns). */
cJSON *dbp_openapi_build(const struct dbp_router *r, const char *version);
/* The interactive API page (static, NUL-terminated). */
extern const char dbp_docs_html[];

#endif
