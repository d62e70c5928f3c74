/*
 * durable.c - fsync helpers for the model and case writers (durable.h).
 *
 * A rename or mkdir is only durable once the parent directory is synced,
 * and a file written by a library (XGBoosterSaveModel) only once the file
 * itself is; a crash otherwise leaves a published directory with empty or
 * truncated contents.
 */
#define _GNU_SOURCE
#include "durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

int dbp_ml_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int dbp_ml_fsync_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char p[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= sizeof(p)) {
            rc = -ENAMETOOLONG;
            continue;
        }
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int r = dbp_ml_fsync_path(p);
        if (r && !rc)
            rc = r;
    }
    closedir(d);
    int r = dbp_ml_fsync_path(dir);
    return rc ? rc : r;
}

int dbp_ml_fsync_parent(const char *path)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof(p), "%s", path) >= sizeof(p))
        return -ENAMETOOLONG;
    char *slash = strrchr(p, '/');
    if (!slash)
        return dbp_ml_fsync_path(".");
    if (slash == p)
        slash[1] = '\0';
    else
        *slash = '\0';
    return dbp_ml_fsync_path(p);
}
