/*
 * durable.h - flush what src/ml writes (model boosters, case and model
 * directories) to stable storage before it is published.  Private to
 * src/ml.
 */
#ifndef DBP_ML_DURABLE_H
#define DBP_ML_DURABLE_H

/* fsync the file or directory at path: 0 or -errno. */
int dbp_ml_fsync_path(const char *path);
/* fsync every regular file directly inside dir, then dir itself. */
int dbp_ml_fsync_tree(const char *dir);
/* fsync the directory holding path (after creating or renaming path). */
int dbp_ml_fsync_parent(const char *path);

#endif
