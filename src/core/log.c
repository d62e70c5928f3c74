/* log.c - stderr logging, one write(2) per line so threads never interleave. */
#include "dbp/log.h"
#include "dbp/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

_Atomic int dbp_log_threshold = DBP_LOG_INFO;

static const char *names[] = {"error", "warn", "info", "debug"};

void dbp_log_set_level(int level)
{
    if (level >= DBP_LOG_ERROR && level <= DBP_LOG_DEBUG)
        atomic_store_explicit(&dbp_log_threshold, level, memory_order_relaxed);
}

int dbp_log_level_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 3, 0))) static void vlog(int level, const char *module,
                                                    const char *fmt, va_list ap)
{
    char line[2048];
    char ts[40];
    int n;

    dbp_iso8601(dbp_wall_s(), ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "%s %-5s %s: ", ts, names[level], module);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    /* Control characters from outside (paths, SQL errors) must not forge
     * extra log lines. */
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = ' ';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void dbp_log_write(int level, const char *module, const char *fmt, ...)
{
    va_list ap;
    if (level < DBP_LOG_ERROR || level > DBP_LOG_DEBUG)
        level = DBP_LOG_ERROR;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
}

void dbp_complain(struct dbp_complain *c, int level, const char *module, const char *fmt, ...)
{
    double now = dbp_wall_s();
    va_list ap;

    if (c->active && now - c->last_s < c->interval_s) {
        c->suppressed++;
        return;
    }
    if (!c->active) {
        c->active = true;
        c->interval_s = 10;
    } else if (c->interval_s < 600) {
        c->interval_s *= 2;
    }
    c->last_s = now;
    if (level > dbp_log_threshold)
        return;
    va_start(ap, fmt);
    vlog(level, module, fmt, ap);
    va_end(ap);
    if (c->suppressed)
        dbp_log_write(level, module, "(%u similar messages suppressed)", c->suppressed);
    c->suppressed = 0;
}

void dbp_complain_clear(struct dbp_complain *c, const char *module, const char *what)
{
    if (c->active) {
        dbp_log(DBP_LOG_INFO, module, "%s: recovered", what);
        memset(c, 0, sizeof(*c));
    }
}
