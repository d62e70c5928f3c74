/*
 * fault.h - the contract between the fault registry (src/anomaly/anomaly.c)
 * and the executors that apply and revert one fault: chaosmesh
 * (src/anomaly/exec_chaosmesh.c), local (exec_local.c), sql (exec_sql.c).
 *
 * The registry journals a fault (fsync) BEFORE asking an executor to apply
 * it, and journals the executor's revert state right after; after a crash
 * it hands every journaled state back to the same executor's revert().  So:
 *   - apply() must describe, in *state, everything revert() needs, as JSON
 *     that survives a restart (names of created objects, pids are NOT
 *     enough on their own: also record what identifies them, e.g. the
 *     cgroup or a unique marker in argv);
 *   - revert() must be idempotent and must succeed when the fault is
 *     already gone (object deleted, process exited, rule absent);
 *   - revert() must work from state alone, in a fresh process.
 * Executors never log secrets, never use a shell, quote SQL identifiers.
 */
#ifndef DBP_FAULT_H
#define DBP_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "dbp/err.h"

struct dbp_config;
struct dbp_node_cfg;
struct dbp_app;

/* One fault on one node (a compound injection is several of these). */
struct dbp_fault_spec {
    const char *id;        /* registry id of the injection */
    const char *type;      /* cpu_stress, io_bottleneck, ... */
    const char *severity;  /* low | medium | high */
    int duration_s;        /* the registry also expires it; executors may use it as a safety net */
    const struct dbp_node_cfg *node; /* target node (from the config) */
    const cJSON *params;   /* the severity table row for this type, resolved by the registry */
    /* Set by the registry when the injection is stopped or the daemon shuts
     * down while apply() runs (may be NULL: never).  A long apply (many
     * statements) checks it between steps, undoes what it made and fails. */
    const atomic_bool *stop;
};

struct dbp_executor {
    const char *name;      /* "chaosmesh", "local", "sql" */
    void *ctx;
    /* Can this executor run `type` on `node` here?  why = the reason when not. */
    bool (*supports)(void *ctx, const char *type, const struct dbp_node_cfg *node, char *why,
                     size_t whysz);
    /* Apply; on success *state (caller owns) holds what revert() needs. */
    int (*apply)(void *ctx, const struct dbp_fault_spec *spec, cJSON **state,
                 struct dbp_err *err);
    /* Undo from state alone; idempotent. */
    int (*revert)(void *ctx, const cJSON *state, struct dbp_err *err);
    /* Measured evidence that the fault took effect (cgroup throttled time,
     * AllInjected condition, counter moved ...) as a JSON object (caller
     * owns) or NULL when nothing can be measured.  May be NULL. */
    cJSON *(*evidence)(void *ctx, const cJSON *state);
    void (*free_ctx)(void *ctx);
};

/* Constructors: each reads what it needs from the config (copied). */
int dbp_exec_chaosmesh_new(const struct dbp_config *cfg, struct dbp_executor *out,
                           struct dbp_err *err);
int dbp_exec_local_new(const struct dbp_config *cfg, struct dbp_executor *out,
                       struct dbp_err *err);
int dbp_exec_sql_new(const struct dbp_config *cfg, struct dbp_executor *out, struct dbp_err *err);

#endif
