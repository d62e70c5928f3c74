/* err.c - error codes, names and their HTTP mapping (one table, one owner). */
#include "dbp/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static const struct {
    int code;
    const char *name;
    const char *text;
    int http;
} errtab[] = {
    {DBP_OK, "ok", "success", 200},
    {DBP_EINVAL, "bad_request", "invalid request", 400},
    {DBP_ESCHEMA, "validation_error", "a field is invalid", 422},
    {DBP_ENOMEM, "out_of_memory", "out of memory", 500},
    {DBP_ENOTFOUND, "not_found", "not found", 404},
    {DBP_EBUSY, "conflict", "conflicting state", 409},
    {DBP_ETOOBIG, "payload_too_large", "too large", 413},
    {DBP_EDB, "database_error", "database error", 502},
    {DBP_ESPAWN, "spawn_failed", "could not start a process", 500},
    {DBP_ETIMEOUT, "timeout", "timed out", 504},
    {DBP_EXGB, "model_error", "model error", 500},
    {DBP_EUPSTREAM, "bad_gateway", "a dependency answered badly", 502},
    {DBP_EUNAVAIL, "unavailable", "a dependency is unavailable", 503},
    {DBP_EAUTH, "unauthorized", "missing or invalid bearer token", 401},
    {DBP_EIO, "io_error", "file system error", 500},
    {DBP_EMETHOD, "method_not_allowed", "method not allowed", 405},
    {DBP_EMEDIA, "unsupported_media_type", "unsupported content type", 415},
    {DBP_EINTERNAL, "internal", "internal error", 500},
    {DBP_EFORBIDDEN, "forbidden", "forbidden", 403},
};

static int find(int code)
{
    for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
        if (errtab[i].code == code)
            return (int)i;
    return -1;
}

int dbp_err_set(struct dbp_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void dbp_err_clear(struct dbp_err *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}

const char *dbp_errname(int code)
{
    int i = find(code);
    return i < 0 ? (code < 0 ? "system_error" : "unknown") : errtab[i].name;
}

const char *dbp_strerror(int code)
{
    int i = find(code);
    if (i >= 0)
        return errtab[i].text;
    /* System failures are passed as -errno. */
    return code < 0 ? strerror(-code) : "unknown error";
}

int dbp_err_http_status(int code)
{
    int i = find(code);
    return i < 0 ? 500 : errtab[i].http;
}
