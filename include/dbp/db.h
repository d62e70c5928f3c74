/*
 * db.h - one MySQL-protocol connection (libmariadb), owned by one thread.
 *
 * Connect/read/write timeouts always set; dbp_db_ensure() pings an open
 * connection and reconnects when the ping fails (collectd's getconnection
 * pattern).  Errors copy mysql_error() into struct dbp_err at the failure
 * site.  The password is kept in memory only and never logged.
 * Not thread-safe: one struct dbp_db per thread (or per lock holder).
 */
#ifndef DBP_DB_H
#define DBP_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "dbp/err.h"

struct dbp_db;

struct dbp_db_opts {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *database;   /* may be NULL or "" */
    int connect_timeout_s;
    int read_timeout_s;
};

/* Copies the options. */
struct dbp_db *dbp_db_new(const struct dbp_db_opts *opts);
void dbp_db_free(struct dbp_db *db);

/* Make sure the connection is usable: ping, reconnect if needed. */
int dbp_db_ensure(struct dbp_db *db, struct dbp_err *err);
void dbp_db_close(struct dbp_db *db);
bool dbp_db_is_open(const struct dbp_db *db);

/* Row callback: vals[i] is NULL for SQL NULL; return non-zero to stop. */
typedef int (*dbp_db_row_fn)(void *ud, int ncols, char **vals, unsigned long *lens);

/* Run a statement that returns rows; cb is called per row.  DBP_EDB with
 * the server's message on failure (the connection is closed when the error
 * means it is gone, so the next ensure() reconnects). */
int dbp_db_query(struct dbp_db *db, const char *sql, dbp_db_row_fn cb, void *ud,
                 struct dbp_err *err);
/* Run a statement without rows (DDL, SET, ...); *affected may be NULL. */
int dbp_db_exec(struct dbp_db *db, const char *sql, unsigned long long *affected,
                struct dbp_err *err);
/* First column of the first row into out ("" for NULL); DBP_ENOTFOUND if no row. */
int dbp_db_scalar(struct dbp_db *db, const char *sql, char *out, size_t outsz,
                  struct dbp_err *err);

/* Server version string of the open connection ("" when closed). */
const char *dbp_db_version(struct dbp_db *db);
/* The MySQL server error number of the last failure (0 if none). */
unsigned dbp_db_errno(const struct dbp_db *db);

/* `name` with backticks doubled, in out; DBP_EINVAL if it does not fit or
 * holds a NUL/newline.  For identifiers that cannot be bound. */
int dbp_db_quote_ident(const char *name, char *out, size_t outsz);
/* 'value' escaped for a string literal with the connection's charset and
 * sql_mode rules.  Needs an open connection: without one DBP_EUNAVAIL (the
 * NO_BACKSLASH_ESCAPES mode is unknown).  DBP_EINVAL if it does not fit.
 * On failure out is "". */
int dbp_db_quote_string(struct dbp_db *db, const char *value, char *out, size_t outsz);

/* Thread hooks for libmariadb: call in every thread that uses dbp_db. */
void dbp_db_thread_init(void);
void dbp_db_thread_end(void);

#endif
