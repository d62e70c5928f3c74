/* db.c - libmariadb connection wrapper (see db.h). */
#define _GNU_SOURCE
#include "dbp/db.h"
#include "dbp/util.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

struct dbp_db {
    MYSQL *my;
    char *host, *user, *password, *database;
    int port;
    unsigned connect_timeout, read_timeout;
    unsigned last_errno;
};

struct dbp_db *dbp_db_new(const struct dbp_db_opts *o)
{
    struct dbp_db *db = dbp_xcalloc(1, sizeof(*db));
    db->host = dbp_xstrdup(o->host ? o->host : "127.0.0.1");
    db->user = dbp_xstrdup(o->user ? o->user : "");
    db->password = dbp_xstrdup(o->password ? o->password : "");
    db->database = dbp_xstrdup(o->database ? o->database : "");
    db->port = o->port;
    db->connect_timeout = (unsigned)(o->connect_timeout_s > 0 ? o->connect_timeout_s : 3);
    db->read_timeout = (unsigned)(o->read_timeout_s > 0 ? o->read_timeout_s : 5);
    return db;
}

void dbp_db_close(struct dbp_db *db)
{
    if (db && db->my) {
        mysql_close(db->my);
        db->my = NULL;
    }
}

void dbp_db_free(struct dbp_db *db)
{
    if (!db)
        return;
    dbp_db_close(db);
    explicit_bzero(db->password, strlen(db->password));
    free(db->host);
    free(db->user);
    free(db->password);
    free(db->database);
    free(db);
}

bool dbp_db_is_open(const struct dbp_db *db)
{
    return db && db->my;
}

static int fail(struct dbp_db *db, struct dbp_err *err, const char *what)
{
    unsigned e = db->my ? mysql_errno(db->my) : 0;
    db->last_errno = e;
    int rc = dbp_err_set(err, DBP_EDB, "%s on %s:%d: %s (%u)", what, db->host, db->port,
                         db->my ? mysql_error(db->my) : "no connection", e);
    /* Client-side errors mean the connection is unusable: drop it so the
     * next ensure() reconnects instead of failing forever. */
    if (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR)
        dbp_db_close(db);
    return rc;
}

int dbp_db_ensure(struct dbp_db *db, struct dbp_err *err)
{
    if (db->my) {
        if (mysql_ping(db->my) == 0)
            return 0;
        dbp_db_close(db);
    }
    db->my = mysql_init(NULL);
    if (!db->my)
        return dbp_err_set(err, DBP_ENOMEM, "mysql_init failed");
    mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &db->connect_timeout);
    mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &db->read_timeout);
    mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &db->read_timeout);
    mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* No reads of ~/.my.cnf or [client] groups: the config is the truth. */
    if (!mysql_real_connect(db->my, db->host, db->user, db->password,
                            db->database[0] ? db->database : NULL, (unsigned)db->port, NULL,
                            CLIENT_MULTI_RESULTS)) {
        int rc = fail(db, err, "cannot connect");
        dbp_db_close(db);
        return rc;
    }
    db->last_errno = 0;
    return 0;
}

int dbp_db_query(struct dbp_db *db, const char *sql, dbp_db_row_fn cb, void *ud,
                 struct dbp_err *err)
{
    if (!db->my)
        return dbp_err_set(err, DBP_EDB, "not connected to %s:%d", db->host, db->port);
    if (mysql_real_query(db->my, sql, strlen(sql)))
        return fail(db, err, "query failed");
    MYSQL_RES *res = mysql_use_result(db->my);
    if (!res) {
        if (mysql_field_count(db->my) == 0)
            return 0;
        return fail(db, err, "cannot read the result");
    }
    int ncols = (int)mysql_num_fields(res);
    MYSQL_ROW row;
    int stop = 0;
    while ((row = mysql_fetch_row(res))) {
        if (stop)
            continue; /* drain: the protocol needs every row read */
        stop = cb ? cb(ud, ncols, row, mysql_fetch_lengths(res)) : 0;
    }
    int rc = 0;
    if (mysql_errno(db->my))
        rc = fail(db, err, "reading rows failed");
    mysql_free_result(res);
    while (db->my && mysql_next_result(db->my) == 0) {
        MYSQL_RES *extra = mysql_store_result(db->my);
        mysql_free_result(extra);
    }
    return rc;
}

int dbp_db_exec(struct dbp_db *db, const char *sql, unsigned long long *affected,
                struct dbp_err *err)
{
    if (!db->my)
        return dbp_err_set(err, DBP_EDB, "not connected to %s:%d", db->host, db->port);
    if (mysql_real_query(db->my, sql, strlen(sql)))
        return fail(db, err, "statement failed");
    MYSQL_RES *res = mysql_store_result(db->my);
    mysql_free_result(res);
    if (affected)
        *affected = mysql_affected_rows(db->my);
    while (mysql_next_result(db->my) == 0) {
        MYSQL_RES *extra = mysql_store_result(db->my);
        mysql_free_result(extra);
    }
    return 0;
}

struct scalar_ud {
    char *out;
    size_t outsz;
    bool got;
};

static int scalar_cb(void *ud, int ncols, char **vals, unsigned long *lens)
{
    struct scalar_ud *s = ud;
    (void)lens;
    if (ncols > 0)
        dbp_strlcpy(s->out, vals[0] ? vals[0] : "", s->outsz);
    s->got = true;
    return 1;
}

int dbp_db_scalar(struct dbp_db *db, const char *sql, char *out, size_t outsz,
                  struct dbp_err *err)
{
    struct scalar_ud s = {out, outsz, false};
    int rc = dbp_db_query(db, sql, scalar_cb, &s, err);
    if (rc)
        return rc;
    return s.got ? 0 : dbp_err_set(err, DBP_ENOTFOUND, "no row");
}

const char *dbp_db_version(struct dbp_db *db)
{
    return db->my ? mysql_get_server_info(db->my) : "";
}

unsigned dbp_db_errno(const struct dbp_db *db)
{
    return db->last_errno;
}

int dbp_db_quote_ident(const char *name, char *out, size_t outsz)
{
    size_t o = 0;
    if (!*name || outsz < 3)
        return DBP_EINVAL;
    out[o++] = '`';
    for (const char *p = name; *p; p++) {
        if (*p == '\n' || *p == '\r')
            return DBP_EINVAL;
        if (o + 3 >= outsz)
            return DBP_EINVAL;
        if (*p == '`')
            out[o++] = '`';
        out[o++] = *p;
    }
    out[o++] = '`';
    out[o] = '\0';
    return 0;
}

int dbp_db_quote_string(struct dbp_db *db, const char *value, char *out, size_t outsz)
{
    size_t n = strlen(value);
    if (outsz)
        out[0] = '\0'; /* a caller that ignores the code gets "", not garbage */
    if (outsz < 2 * n + 3)
        return DBP_EINVAL;
    /*
     * Without a connection the server's sql_mode is unknown: a backslash
     * escape is wrong under NO_BACKSLASH_ESCAPES and '' alone is wrong
     * without it, so refuse rather than guess.
     */
    if (!db || !db->my)
        return DBP_EUNAVAIL;
    out[0] = '\'';
    unsigned long len = mysql_real_escape_string(db->my, out + 1, value, (unsigned long)n);
    if (len == (unsigned long)-1) {
        out[0] = '\0';
        return DBP_EINVAL;
    }
    out[1 + len] = '\'';
    out[2 + len] = '\0';
    return 0;
}

void dbp_db_thread_init(void)
{
    mysql_thread_init();
}

void dbp_db_thread_end(void)
{
    mysql_thread_end();
}
