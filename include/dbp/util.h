/*
 * util.h - allocation that cannot fail, bounded buffers, time helpers.
 *
 * Small internal allocations use dbp_xmalloc() and friends, which log and
 * abort() on out-of-memory: there is no sensible recovery for a 64-byte
 * struct.  Anything whose size comes from outside (bodies, child output,
 * query results) goes through struct dbp_buf, whose maximum is fixed at
 * init and whose append fails with DBP_ETOOBIG instead of growing forever.
 */
#ifndef DBP_UTIL_H
#define DBP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *dbp_xmalloc(size_t n);
void *dbp_xcalloc(size_t n, size_t size);
void *dbp_xrealloc(void *p, size_t n);
char *dbp_xstrdup(const char *s);
char *dbp_xstrndup(const char *s, size_t n);
/* malloc'd printf; aborts on OOM. */
char *dbp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define DBP_FREE(p) do { free(p); (p) = NULL; } while (0)
#define DBP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Bounded, growable byte buffer; always NUL-terminated when len > 0. */
struct dbp_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len; 0 = SIZE_MAX */
    int err;    /* sticky: the first failed append's code, 0 = healthy */
};

void dbp_buf_init(struct dbp_buf *b, size_t max);
/*
 * Append n bytes.  On DBP_ETOOBIG/DBP_ENOMEM the data is freed and the
 * buffer becomes sticky-failed (curl dynbuf style): every later append
 * fails with the same code until dbp_buf_reset()/dbp_buf_release(), so
 * a chain `rc |= dbp_buf_printf(...)` can never yield front-truncated
 * text, and checking only the last call or dbp_buf_status() is enough.
 */
int dbp_buf_append(struct dbp_buf *b, const void *p, size_t n);
int dbp_buf_puts(struct dbp_buf *b, const char *s);
int dbp_buf_printf(struct dbp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int dbp_buf_vprintf(struct dbp_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* 0, or the code of the append that failed the buffer. */
int dbp_buf_status(const struct dbp_buf *b);
void dbp_buf_reset(struct dbp_buf *b);   /* len = 0, keep memory, clear failure */
void dbp_buf_release(struct dbp_buf *b); /* free memory, keep max, clear failure */
/* Hand the data to the caller (free() it); the buffer becomes empty. */
char *dbp_buf_detach(struct dbp_buf *b, size_t *len);

/* Monotonic and wall clocks. */
uint64_t dbp_now_ns(void);    /* CLOCK_MONOTONIC */
double dbp_wall_s(void);      /* CLOCK_REALTIME, seconds with fraction */
/* ISO-8601 UTC with milliseconds ("2026-11-28T03:23:49.123Z") into out. */
void dbp_iso8601(double wall_s, char *out, size_t outsz);
/* Parse ISO-8601 (Z or +hh:mm, optional fraction) or a plain number of
 * unix seconds; returns 0 and sets *out, or DBP_EINVAL. */
int dbp_parse_time(const char *s, double *out);

/* Safe copy that always terminates; returns strlen(src) like strlcpy. */
size_t dbp_strlcpy(char *dst, const char *src, size_t dstsz);

/* Strict number parsing: the whole string must be a number in range. */
int dbp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
int dbp_parse_double(const char *s, double *out);

/* Random id of n hex chars (n < outsz) from /dev/urandom-grade entropy. */
void dbp_random_hex(char *out, size_t n);

/* Write a file atomically: tmp file in the same dir, fsync, rename, fsync
 * dir.  mode is e.g. 0644 or 0600.  Returns 0 or -errno / DBP_E*; on
 * failure the temporary file is removed and no descriptor is left open. */
int dbp_write_file_atomic(const char *path, const void *data, size_t len, int mode);
/*
 * Test hook, not an API: while > 0, each fsync() inside
 * dbp_write_file_atomic fails with EIO and decrements it.  Only the unit
 * tests set it (there is no config key or route that reaches it).
 */
extern _Atomic int dbp__test_fail_fsync;
/* Read a whole file, at most max bytes; caller frees *out. */
int dbp_read_file(const char *path, size_t max, char **out, size_t *len);
/* mkdir -p */
int dbp_mkdir_p(const char *path, int mode);

#endif
