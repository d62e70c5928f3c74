/*
 * log.h - one line per event on stderr: "ts level module [req] message".
 *
 * dbp_log() checks the level before its arguments are evaluated, so a
 * disabled DEBUG line costs one comparison.  Thread-safe (one write(2) per
 * line).  Never call from a signal handler.
 */
#ifndef DBP_LOG_H
#define DBP_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

enum dbp_log_level { DBP_LOG_ERROR = 0, DBP_LOG_WARN, DBP_LOG_INFO, DBP_LOG_DEBUG };

/* Written by SIGHUP reloads while every thread reads it: atomic (a relaxed
 * load costs what a plain one does on the machines we run on). */
extern _Atomic int dbp_log_threshold;

void dbp_log_set_level(int level);
/* "error", "warn", "info", "debug" -> level, or -1. */
int dbp_log_level_from_name(const char *name);
void dbp_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define dbp_log(level, module, ...)                                  \
    do {                                                             \
        if ((level) <= atomic_load_explicit(&dbp_log_threshold,      \
                                            memory_order_relaxed))   \
            dbp_log_write((level), (module), __VA_ARGS__);           \
    } while (0)

#define DBP_ERROR(mod, ...) dbp_log(DBP_LOG_ERROR, mod, __VA_ARGS__)
#define DBP_WARN(mod, ...) dbp_log(DBP_LOG_WARN, mod, __VA_ARGS__)
#define DBP_INFO(mod, ...) dbp_log(DBP_LOG_INFO, mod, __VA_ARGS__)
#define DBP_DEBUG(mod, ...) dbp_log(DBP_LOG_DEBUG, mod, __VA_ARGS__)

/*
 * Rate-limited complaint for a failure that repeats (a dead database):
 * logs the first failure, then at most once per backoff period (doubling up
 * to 10 min), and logs "recovered" once when dbp_complain_clear() is called
 * after a failure.
 */
struct dbp_complain {
    double last_s;
    double interval_s;
    unsigned suppressed;
    bool active;
};
void dbp_complain(struct dbp_complain *c, int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void dbp_complain_clear(struct dbp_complain *c, const char *module, const char *what);

#endif
