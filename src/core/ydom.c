/*
 * ydom.c - libyaml events -> a tiny DOM that keeps line:col for every node
 * (the idea of h2o's yoml), shared by the config and catalog loaders.
 */
#include "dbp/ydom.h"
#include "dbp/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

void dbp_ynode_free(struct dbp_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nitems; i++)
        dbp_ynode_free(n->items[i]);
    free(n->items);
    free(n->value);
    free(n);
}

static void ynode_push(struct dbp_ynode *parent, struct dbp_ynode *child)
{
    parent->items = dbp_xrealloc(parent->items, (parent->nitems + 1) * sizeof(*parent->items));
    parent->items[parent->nitems++] = child;
}

#define YAML_MAX_DEPTH 32
#define YAML_MAX_NODES 100000

int dbp_ydom_parse(const char *name, const unsigned char *text, size_t len,
                      struct dbp_ynode **root, struct dbp_err *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct dbp_ynode *stack[YAML_MAX_DEPTH];
    int depth = 0;
    size_t count = 0;
    int rc = 0;
    bool done = false;

    *root = NULL;
    if (!yaml_parser_initialize(&p))
        return dbp_err_set(err, DBP_ENOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&p, text, len);

    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            rc = dbp_err_set(err, DBP_EINVAL, "%s:%zu:%zu: %s", name, p.problem_mark.line + 1,
                             p.problem_mark.column + 1, p.problem ? p.problem : "YAML error");
            break;
        }
        struct dbp_ynode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            rc = dbp_err_set(err, DBP_EINVAL, "%s:%zu:%zu: YAML aliases are not supported", name,
                             ev.start_mark.line + 1, ev.start_mark.column + 1);
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++count > YAML_MAX_NODES) {
                rc = dbp_err_set(err, DBP_ETOOBIG, "%s: too many YAML nodes", name);
                break;
            }
            n = dbp_xcalloc(1, sizeof(*n));
            n->line = (int)ev.start_mark.line + 1;
            n->col = (int)ev.start_mark.column + 1;
            if (ev.type == YAML_SCALAR_EVENT) {
                n->type = DBP_Y_SCALAR;
                n->value = dbp_xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
                /* An empty plain scalar (`key:`) means null; keep it "" */
            } else {
                n->type = ev.type == YAML_SEQUENCE_START_EVENT ? DBP_Y_SEQ : DBP_Y_MAP;
            }
            if (depth > 0)
                ynode_push(stack[depth - 1], n);
            else if (!*root)
                *root = n;
            else {
                dbp_ynode_free(n);
                rc = dbp_err_set(err, DBP_EINVAL, "%s: more than one YAML document", name);
                break;
            }
            if (n->type != DBP_Y_SCALAR) {
                if (depth >= YAML_MAX_DEPTH) {
                    rc = dbp_err_set(err, DBP_EINVAL, "%s:%d:%d: nesting too deep", name, n->line,
                                     n->col);
                    break;
                }
                stack[depth++] = n;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc)
            break;
    }
    yaml_parser_delete(&p);
    if (rc) {
        dbp_ynode_free(*root);
        *root = NULL;
    }
    return rc;
}


const struct dbp_ynode *dbp_ymap_get(const struct dbp_ynode *map, const char *key)
{
    if (!map || map->type != DBP_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->nitems; i += 2)
        if (map->items[i]->type == DBP_Y_SCALAR && strcmp(map->items[i]->value, key) == 0)
            return map->items[i + 1];
    return NULL;
}
