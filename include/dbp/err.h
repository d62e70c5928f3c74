/*
 * err.h - the project's error model.
 *
 * Action functions return 0 on success or a negative DBP_E* code.  A
 * human-readable detail goes into a caller-supplied struct dbp_err (which may
 * be NULL).  Library text (mysql_error, XGBGetLastError, curl_easy_strerror)
 * is copied in at the failure site because those strings do not outlive the
 * next library call.
 *
 * The HTTP layer, not handlers, maps codes to statuses (see http.h).
 */
#ifndef DBP_ERR_H
#define DBP_ERR_H

#include <stddef.h>

/* Values start at -1001 so they never collide with -errno, which system
 * failures return directly (-ENOENT, -EACCES ...). */
enum dbp_errc {
    DBP_OK = 0,
    DBP_EINVAL = -1001,     /* malformed input (400) */
    DBP_ESCHEMA = -1002,    /* well-formed but a field is wrong (422) */
    DBP_ENOMEM = -1003,     /* allocation failed */
    DBP_ENOTFOUND = -1004,  /* unknown id / node / route (404) */
    DBP_EBUSY = -1005,      /* conflicting state (409) */
    DBP_ETOOBIG = -1006,    /* a bound was exceeded (413) */
    DBP_EDB = -1007,        /* database error (502) */
    DBP_ESPAWN = -1008,     /* could not start a child process (500) */
    DBP_ETIMEOUT = -1009,   /* deadline passed (504) */
    DBP_EXGB = -1010,      /* XGBoost error (500) */
    DBP_EUPSTREAM = -1011, /* a dependency answered badly (502) */
    DBP_EUNAVAIL = -1012,  /* a dependency or tool is not available (503) */
    DBP_EAUTH = -1013,     /* missing or wrong bearer token (401) */
    DBP_EIO = -1014,       /* file system error (500) */
    DBP_EMETHOD = -1015,   /* wrong method for a known path (405) */
    DBP_EMEDIA = -1016,    /* unsupported content type (415) */
    DBP_EINTERNAL = -1017, /* a bug (500) */
    DBP_EFORBIDDEN = -1018 /* refused by policy (403) */
};

#define DBP_ERR_MSG_MAX 256

/* Caller-supplied detail.  code mirrors the return value. */
struct dbp_err {
    int code;
    char msg[DBP_ERR_MSG_MAX];
};

/* Fill err (if not NULL) and return code, so callers can write
 * `return dbp_err_set(err, DBP_EINVAL, "bad '%s'", name);`. */
int dbp_err_set(struct dbp_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to "no error". */
void dbp_err_clear(struct dbp_err *err);

/* Short stable name of a code ("not_found", "conflict", ...), never NULL. */
const char *dbp_errname(int code);

/* Generic English text for a code, never NULL. */
const char *dbp_strerror(int code);

/* HTTP status a code maps to. */
int dbp_err_http_status(int code);

#endif
