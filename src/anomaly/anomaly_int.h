/*
 * anomaly_int.h - private to src/anomaly: the registry's record types,
 * shared by the registry (anomaly.c) and the journal codec (journal.c).
 * Nothing outside src/anomaly includes it.
 */
#ifndef DBP_ANOMALY_INT_H
#define DBP_ANOMALY_INT_H

#include <stdatomic.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "dbp/anomaly.h"
#include "dbp/config.h"
#include "dbp/err.h"

/* Injection status (API "status") and part status. */
enum ist { IST_PENDING, IST_ACTIVE, IST_REVERTING, IST_REVERTED, IST_FAILED, IST_N };

enum pst {
    PST_PENDING,
    PST_APPLYING,
    PST_APPLIED,
    PST_REVERTING,
    PST_REVERTED,
    PST_FAILED,        /* apply failed: nothing in place */
    PST_REVERT_FAILED, /* may still be in place: retried, and at the next start */
    PST_N
};

enum { EX_CHAOSMESH, EX_LOCAL, EX_SQL, EX_N };

extern const char *const dbp_anom_ist_names[IST_N];
extern const char *const dbp_anom_pst_names[PST_N];
extern const char *const dbp_anom_ex_names[EX_N];

/* Index of s in names[0..n), or -1 (s may be NULL). */
int dbp_anom_name_index(const char *const *names, int n, const char *s);

struct part {
    char type[32];
    int tidx;                  /* -1 when a journal names a type this build lacks */
    char node[DBP_NAME_MAX];
    char severity[8];
    int exec;                  /* EX_*, -1 when a journal names an unknown executor */
    char exec_name[16];
    cJSON *params;             /* immutable once the record is queued */
    cJSON *state;              /* the executor's revert state (worker only) */
    enum pst st;
    char error[DBP_ERR_MSG_MAX];
    double applied_at, reverted_at;
    cJSON *evidence;
    int took_effect;           /* -1 unknown, 0 no, 1 yes */
};

struct inj {
    struct inj *next;
    char id[DBP_ANOMALY_ID_LEN];
    char name[DBP_ANOMALY_NAME_MAX];
    char severity[8];
    int duration_s;
    double created, start, end, ended; /* wall seconds; 0 = not yet */
    enum ist st;
    int err_code;
    char error[DBP_ERR_MSG_MAX];
    bool stop_req, recovered, collect, save_post;
    bool busy;        /* a lane is applying or reverting it (one lane at a time) */
    bool shut_tried;  /* the shutdown revert was tried */
    atomic_bool cancel; /* handed to apply() as spec.stop: stop or shutdown */
    int attempts;
    double next_try, evidence_at;
    int nparts;
    struct part parts[DBP_ANOMALY_MAX_PARTS];
};

/* ---- the journal (journal.c) ---------------------------------------------- */

#define DBP_JOURNAL_VERSION 2

/* j's journal document, schema version DBP_JOURNAL_VERSION (docs/faults.md).
 * Caller owns.  Under the registry lock (reads j). */
cJSON *dbp_journal_encode(const struct inj *j);
/* A journal document (version 2, or version 1: the API record of earlier
 * releases) -> a new record, or NULL when it is not one of ours; *version
 * gets the version read (may be NULL). */
struct inj *dbp_journal_decode(const cJSON *o, int *version);

#endif
