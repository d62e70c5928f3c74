/* test_util.c - bounded buffers, parsing, time, atomic files, errors. */
#define _GNU_SOURCE
#include "cmocka_all.h"

#include "dbp/db.h"
#include "dbp/err.h"
#include "dbp/util.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void buf_bounded(void **state)
{
    (void)state;
    struct dbp_buf b;
    dbp_buf_init(&b, 10);
    assert_int_equal(dbp_buf_puts(&b, "hello"), 0);
    assert_int_equal(dbp_buf_printf(&b, "%d", 1234), 0);
    assert_string_equal(b.data, "hello1234");
    /* Overflow releases the data and fails the buffer: never half data. */
    assert_int_equal(dbp_buf_puts(&b, "xx"), DBP_ETOOBIG);
    assert_int_equal(b.len, 0);
    assert_null(b.data);
    assert_int_equal(dbp_buf_status(&b), DBP_ETOOBIG);
    /* Sticky: a short append after the failure still fails. */
    assert_int_equal(dbp_buf_puts(&b, "ok"), DBP_ETOOBIG);
    assert_int_equal(dbp_buf_printf(&b, "%d", 1), DBP_ETOOBIG);
    assert_null(b.data);
    dbp_buf_reset(&b); /* reset makes it usable again */
    assert_int_equal(dbp_buf_status(&b), 0);
    assert_int_equal(dbp_buf_puts(&b, "again"), 0);
    size_t len;
    char *s = dbp_buf_detach(&b, &len);
    assert_string_equal(s, "again");
    assert_int_equal(len, 5);
    free(s);
    dbp_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(dbp_buf_printf(&b, "%s", "0123456789"), 0);
    assert_int_equal(b.len, 100000);
    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(dbp_buf_printf(&b, "%s", big), 0);
    assert_int_equal(b.len, 100000 + sizeof(big) - 1);
    dbp_buf_release(&b);
}

/*
 * The `rc |= dbp_buf_printf(...)` idiom: an overflow in the middle must not
 * let the later, smaller appends produce the tail alone (front-truncated
 * output that looks valid).
 */
static void buf_chain_never_front_truncated(void **state)
{
    (void)state;
    struct dbp_buf b;
    dbp_buf_init(&b, 16);
    int rc = 0;
    rc |= dbp_buf_puts(&b, "# HELP x\n");
    rc |= dbp_buf_puts(&b, "a line that is far too long\n");
    rc |= dbp_buf_puts(&b, "x 1\n");
    assert_int_not_equal(rc, 0);
    assert_int_equal(dbp_buf_status(&b), DBP_ETOOBIG);
    assert_true(b.data == NULL || strstr(b.data, "x 1") == NULL);
    assert_int_equal(b.len, 0);
    dbp_buf_release(&b);
    assert_int_equal(dbp_buf_status(&b), 0);
}

static int count_fds(void)
{
    int n = 0;
    char p[64];
    for (int fd = 0; fd < 4096; fd++) {
        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        if (access(p, F_OK) == 0)
            n++;
    }
    return n;
}

/* M6: a failing fsync must not leak the descriptor or leave the tmp file. */
static void atomic_write_fsync_fails(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbp-util-XXXXXX";
    char path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/journal.json", dir);
    int before = count_fds();
    for (int i = 0; i < 200; i++) {
        atomic_store(&dbp__test_fail_fsync, 1);
        assert_int_equal(dbp_write_file_atomic(path, "{}", 2, 0600), -EIO);
    }
    atomic_store(&dbp__test_fail_fsync, 0);
    assert_int_equal(count_fds(), before);
    assert_int_equal(access(path, F_OK), -1); /* nothing published */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "ls -A %s | grep -q .", dir);
    assert_int_not_equal(system(cmd), 0); /* no tmp file left behind */
    /* and once fsync works again the same path is written normally */
    assert_int_equal(dbp_write_file_atomic(path, "{}", 2, 0600), 0);
    assert_int_equal(count_fds(), before);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* L8: without a connection the sql_mode is unknown, so quoting refuses. */
static void quote_string_needs_connection(void **state)
{
    (void)state;
    char out[64] = "garbage";
    assert_int_equal(dbp_db_quote_string(NULL, "a'b\\c", out, sizeof(out)), DBP_EUNAVAIL);
    assert_string_equal(out, "");
    struct dbp_db_opts o = {.host = "127.0.0.1", .port = 3306, .user = "u"};
    struct dbp_db *db = dbp_db_new(&o); /* never connected */
    strcpy(out, "garbage");
    assert_int_equal(dbp_db_quote_string(db, "x", out, sizeof(out)), DBP_EUNAVAIL);
    assert_string_equal(out, "");
    dbp_db_free(db);
    char ident[16];
    assert_int_equal(dbp_db_quote_ident("a`b", ident, sizeof(ident)), 0);
    assert_string_equal(ident, "`a``b`");
}

static void numbers(void **state)
{
    (void)state;
    int64_t v;
    double d;
    assert_int_equal(dbp_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(dbp_parse_i64("101", 0, 100, &v), DBP_EINVAL);
    assert_int_equal(dbp_parse_i64("4x", 0, 100, &v), DBP_EINVAL);
    assert_int_equal(dbp_parse_i64("", 0, 100, &v), DBP_EINVAL);
    assert_int_equal(dbp_parse_i64("99999999999999999999", 0, INT64_MAX, &v), DBP_EINVAL);
    assert_int_equal(dbp_parse_double("2.5", &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(dbp_parse_double("nan", &d), DBP_EINVAL);
    assert_int_equal(dbp_parse_double("inf", &d), DBP_EINVAL);
    assert_int_equal(dbp_parse_double("1e999", &d), DBP_EINVAL);
}

static void times(void **state)
{
    (void)state;
    double t;
    char s[40];
    assert_int_equal(dbp_parse_time("2025-03-30T16:20:00Z", &t), 0);
    assert_true(t == 1743351600.0);
    assert_int_equal(dbp_parse_time("2025-03-30T18:20:00+02:00", &t), 0);
    assert_true(t == 1743351600.0);
    assert_int_equal(dbp_parse_time("2025-03-30T16:20:00.5Z", &t), 0);
    assert_true(t == 1743351600.5);
    assert_int_equal(dbp_parse_time("1743351600", &t), 0);
    assert_int_equal(dbp_parse_time("2025-13-30T16:20:00Z", &t), DBP_EINVAL);
    assert_int_equal(dbp_parse_time("yesterday", &t), DBP_EINVAL);
    assert_int_equal(dbp_parse_time("2025-03-30T16:20Z", &t), DBP_EINVAL);
    dbp_iso8601(1743351600.25, s, sizeof(s));
    assert_string_equal(s, "2025-03-30T16:20:00.250Z");
}

static void atomic_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/dbp-util-XXXXXX";
    char path[256], sub[128];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
    assert_int_equal(dbp_mkdir_p(sub, 0755), 0);
    assert_int_equal(dbp_mkdir_p(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/f.json", sub);
    assert_int_equal(dbp_write_file_atomic(path, "{\"a\":1}", 7, 0600), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *data;
    size_t len;
    assert_int_equal(dbp_read_file(path, 100, &data, &len), 0);
    assert_string_equal(data, "{\"a\":1}");
    free(data);
    assert_int_equal(dbp_read_file(path, 3, &data, &len), DBP_ETOOBIG);
    assert_true(dbp_read_file("/nonexistent", 3, &data, &len) < 0);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void errors_map(void **state)
{
    (void)state;
    assert_int_equal(dbp_err_http_status(DBP_EINVAL), 400);
    assert_int_equal(dbp_err_http_status(DBP_ESCHEMA), 422);
    assert_int_equal(dbp_err_http_status(DBP_ENOTFOUND), 404);
    assert_int_equal(dbp_err_http_status(DBP_EBUSY), 409);
    assert_int_equal(dbp_err_http_status(DBP_ETOOBIG), 413);
    assert_int_equal(dbp_err_http_status(DBP_EUNAVAIL), 503);
    assert_int_equal(dbp_err_http_status(DBP_EUPSTREAM), 502);
    assert_int_equal(dbp_err_http_status(DBP_EAUTH), 401);
    assert_int_equal(dbp_err_http_status(-9999), 500);
    assert_string_equal(dbp_errname(DBP_ESCHEMA), "validation_error");
    struct dbp_err e;
    assert_int_equal(dbp_err_set(&e, DBP_EBUSY, "run '%s' exists", "x"), DBP_EBUSY);
    assert_string_equal(e.msg, "run 'x' exists");
    assert_int_equal(dbp_err_set(NULL, DBP_EBUSY, "ignored"), DBP_EBUSY);
    char rnd[17];
    dbp_random_hex(rnd, 16);
    assert_int_equal(strlen(rnd), 16);
    assert_int_equal(strspn(rnd, "0123456789abcdef"), 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_bounded), cmocka_unit_test(numbers), cmocka_unit_test(times),
        cmocka_unit_test(atomic_files), cmocka_unit_test(errors_map),
        cmocka_unit_test(buf_chain_never_front_truncated),
        cmocka_unit_test(atomic_write_fsync_fails),
        cmocka_unit_test(quote_string_needs_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
