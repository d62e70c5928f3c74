/* app.c - the application context's registries. */
#include "dbp/app.h"
#include "dbp/config.h"
#include "dbp/log.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

void dbp_app_add_exporter(struct dbp_app *app, dbp_exporter_fn fn, void *cls)
{
    if (app->nexporters >= DBP_MAX_EXPORTERS) {
        DBP_ERROR("app", "too many exporters; raise DBP_MAX_EXPORTERS");
        return;
    }
    app->exporters[app->nexporters].fn = fn;
    app->exporters[app->nexporters].cls = cls;
    app->nexporters++;
}

void dbp_app_add_service(struct dbp_app *app, const char *name, dbp_service_state_fn fn,
                         void *cls)
{
    if (app->nservices >= DBP_MAX_SERVICES) {
        DBP_ERROR("app", "too many services; raise DBP_MAX_SERVICES");
        return;
    }
    app->services[app->nservices].name = name;
    app->services[app->nservices].fn = fn;
    app->services[app->nservices].cls = cls;
    app->nservices++;
}

struct dbp_config *dbp_app_config(struct dbp_app *app)
{
    (void)app;
    return dbp_config_acquire();
}
