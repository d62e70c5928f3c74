/*
 * chaosmesh.h - extras of the chaosmesh executor (src/anomaly/exec_chaosmesh.c)
 * beyond the fault.h contract: a constructor with client options (tests use
 * short timeouts and a fake service-account dir) and a leftover cleaner.
 *
 * What the executor creates, per type and severity, is in docs/chaosmesh.md.
 */
#ifndef DBP_CHAOSMESH_H
#define DBP_CHAOSMESH_H

#include "dbp/err.h"
#include "dbp/fault.h"
#include "dbp/k8s.h"

struct dbp_config;

struct dbp_chaosmesh_opts {
    struct dbp_k8s_opts k8s;
    int conflict_budget_ms; /* total backoff while a same-named object "is being deleted"; 0 = 10000 */
    int max_names;          /* names tried on AlreadyExists (suffix -1, -2, ...); 0 = 8 */
};

/* dbp_exec_chaosmesh_new() with options (NULL = defaults). */
int dbp_exec_chaosmesh_new_opts(const struct dbp_config *cfg, const struct dbp_chaosmesh_opts *opts,
                                struct dbp_executor *out, struct dbp_err *err);

/**
 * Delete every StressChaos, NetworkChaos and IOChaos in the namespace that
 * carries app.kubernetes.io/managed-by=dbpecker (leftovers of a crash whose
 * journal was lost).  Returns the number deleted (>= 0) or a negative
 * DBP_E*; objects already gone count as deleted by someone else, not as
 * errors.  opts may be NULL.
 */
int dbp_chaosmesh_cleanup_all(const struct dbp_config *cfg, struct dbp_err *err);
int dbp_chaosmesh_cleanup_all_opts(const struct dbp_config *cfg,
                                   const struct dbp_chaosmesh_opts *opts, struct dbp_err *err);

#endif
