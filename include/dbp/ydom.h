/*
 * ydom.h - a small YAML DOM with line numbers, for error messages that say
 * "file:line:col".  Aliases are refused; depth and node count are bounded.
 */
#ifndef DBP_YDOM_H
#define DBP_YDOM_H

#include <stddef.h>

#include "dbp/err.h"

enum dbp_ynode_type { DBP_Y_SCALAR, DBP_Y_SEQ, DBP_Y_MAP };

struct dbp_ynode {
    enum dbp_ynode_type type;
    int line, col;
    char *value;              /* scalar text ("" for null) */
    struct dbp_ynode **items; /* seq: items; map: key, value, key, value, ... */
    size_t nitems;
};

/* Parse one YAML document; *root is NULL for an empty document.  name is
 * used in messages.  Caller frees with dbp_ynode_free. */
int dbp_ydom_parse(const char *name, const unsigned char *text, size_t len,
                   struct dbp_ynode **root, struct dbp_err *err);
void dbp_ynode_free(struct dbp_ynode *n);
/* Value of key in a mapping (borrowed) or NULL. */
const struct dbp_ynode *dbp_ymap_get(const struct dbp_ynode *map, const char *key);

#endif
