/* util.c - allocation, bounded buffers, time, files. */
#define _GNU_SOURCE
#include "dbp/util.h"
#include "dbp/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

static void oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "dbpecker: out of memory (%zu bytes)\n", n);
    if (len > 0) {
        ssize_t w = write(STDERR_FILENO, msg, (size_t)len);
        (void)w;
    }
    abort();
}

void *dbp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *dbp_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *dbp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *dbp_xstrdup(const char *s)
{
    return dbp_xstrndup(s, strlen(s));
}

char *dbp_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = dbp_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *dbp_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return out;
}

void dbp_buf_init(struct dbp_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX - 1;
    b->err = 0;
}

void dbp_buf_release(struct dbp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = 0;
}

void dbp_buf_reset(struct dbp_buf *b)
{
    b->len = 0;
    b->err = 0;
    if (b->data)
        b->data[0] = '\0';
}

int dbp_buf_status(const struct dbp_buf *b)
{
    return b->err;
}

/* Drop the data and remember why; later appends fail the same way. */
static int buf_fail(struct dbp_buf *b, int code)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->err = code;
    return code;
}

int dbp_buf_append(struct dbp_buf *b, const void *p, size_t n)
{
    if (b->err)
        return b->err;
    if (n > b->max - b->len)
        return buf_fail(b, DBP_ETOOBIG);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = realloc(b->data, cap);
        if (!q)
            return buf_fail(b, DBP_ENOMEM);
        b->data = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int dbp_buf_puts(struct dbp_buf *b, const char *s)
{
    return dbp_buf_append(b, s, strlen(s));
}

int dbp_buf_vprintf(struct dbp_buf *b, const char *fmt, va_list ap)
{
    if (b->err)
        return b->err;
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return DBP_EINVAL;
    if ((size_t)n < sizeof(small))
        return dbp_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big)
        return buf_fail(b, DBP_ENOMEM);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    int rc = dbp_buf_append(b, big, (size_t)n);
    free(big);
    return rc;
}

int dbp_buf_printf(struct dbp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = dbp_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *dbp_buf_detach(struct dbp_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = dbp_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    b->err = 0;
    return p;
}

uint64_t dbp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double dbp_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void dbp_iso8601(double wall_s, char *out, size_t outsz)
{
    time_t t = (time_t)floor(wall_s);
    int ms = (int)((wall_s - (double)t) * 1000.0);
    struct tm tm;
    if (ms < 0)
        ms = 0;
    if (ms > 999)
        ms = 999;
    gmtime_r(&t, &tm);
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int dbp_parse_time(const char *s, double *out)
{
    if (!s || !*s)
        return DBP_EINVAL;
    if (dbp_parse_double(s, out) == 0)
        return 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10)
        return DBP_EINVAL;
    const char *p = s + used;
    double frac = 0;
    if (*p == 'T' || *p == ' ') {
        int u2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &u2) != 3 || u2 != 8)
            return DBP_EINVAL;
        p += 1 + u2;
        if (*p == '.') {
            char *end;
            frac = strtod(p, &end);
            p = end;
        }
    }
    int off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, u3 = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &u3) != 2 || u3 != 5)
            return DBP_EINVAL;
        off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 1 + u3;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return DBP_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out = (double)t + frac - off;
    return 0;
}

size_t dbp_strlcpy(char *dst, const char *src, size_t dstsz)
{
    size_t n = strlen(src);
    if (dstsz) {
        size_t c = n < dstsz - 1 ? n : dstsz - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int dbp_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s)
        return DBP_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max)
        return DBP_EINVAL;
    *out = v;
    return 0;
}

int dbp_parse_double(const char *s, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return DBP_EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || end == s || !isfinite(v))
        return DBP_EINVAL;
    *out = v;
    return 0;
}

void dbp_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t need = (n + 1) / 2;
    if (need > sizeof(raw))
        need = sizeof(raw);
    if (getrandom(raw, need, 0) != (ssize_t)need) {
        /* getrandom cannot fail for <= 256 bytes once the pool is ready;
         * fall back to a clock mix rather than abort. */
        uint64_t x = dbp_now_ns() ^ (uint64_t)getpid();
        for (size_t i = 0; i < need; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            raw[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < n && i / 2 < need; i++)
        out[i] = hex[(i & 1) ? (raw[i / 2] & 15) : (raw[i / 2] >> 4)];
    out[n] = '\0';
}

int dbp_mkdir_p(const char *path, int mode)
{
    char tmp[PATH_MAX];
    if (dbp_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
        return DBP_ETOOBIG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

_Atomic int dbp__test_fail_fsync;

static int file_fsync(int fd)
{
    if (atomic_load(&dbp__test_fail_fsync) > 0) {
        atomic_fetch_sub(&dbp__test_fail_fsync, 1);
        errno = EIO;
        return -1;
    }
    return fsync(fd);
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    dbp_strlcpy(dir, path, sizeof(dir));
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        dbp_strlcpy(dir, ".", sizeof(dir));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = file_fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int dbp_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
    char tmp[PATH_MAX];
    char rnd[9];
    dbp_random_hex(rnd, 8);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, rnd) >= sizeof(tmp))
        return DBP_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return -errno;
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    /* close even when fsync failed: the journal retries this call. */
    int rc = file_fsync(fd) != 0 ? -errno : 0;
    if (close(fd) != 0 && !rc)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return fsync_dir_of(path);
}

int dbp_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct dbp_buf b;
    dbp_buf_init(&b, max);
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            dbp_buf_release(&b);
            return e;
        }
        if (r == 0)
            break;
        int rc = dbp_buf_append(&b, chunk, (size_t)r);
        if (rc) {
            close(fd);
            return rc;
        }
    }
    close(fd);
    *out = dbp_buf_detach(&b, len);
    return 0;
}
