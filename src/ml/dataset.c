/*
 * dataset.c - case directories (label.json + metrics.json in the original's
 * format) and the training matrix built from them.  Formats: dataset.h.
 */
#define _GNU_SOURCE
#include "dbp/dataset.h"
#include "dbp/catalog.h"
#include "dbp/features.h"
#include "dbp/rank.h"
#include "dbp/util.h"
#include "durable.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

/* ---- labels ------------------------------------------------------------- */

static bool name_ok(const char *s, const char *extra)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= DBP_LABEL_STR_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == ':' || ch == '-' || (extra && strchr(extra, ch))))
            return false;
    }
    return true;
}

bool dbp_label_type_ok(const char *type)
{
    return name_ok(type, NULL);
}

static bool node_ok(const char *node)
{
    return (node && !strcmp(node, "*")) || name_ok(node, "@/");
}

void dbp_case_label_add(struct dbp_case_label *l, const char *type, const char *node)
{
    for (int i = 0; i < l->nfaults; i++)
        if (!strcmp(l->faults[i].type, type) && !strcmp(l->faults[i].node, node))
            return;
    l->faults = dbp_xrealloc(l->faults, (size_t)(l->nfaults + 1) * sizeof(*l->faults));
    struct dbp_case_fault *f = &l->faults[l->nfaults++];
    dbp_strlcpy(f->type, type, sizeof(f->type));
    dbp_strlcpy(f->node, node, sizeof(f->node));
}

void dbp_case_label_release(struct dbp_case_label *l)
{
    if (!l)
        return;
    free(l->faults);
    cJSON_Delete(l->extra);
    memset(l, 0, sizeof(*l));
    l->start_time = l->end_time = NAN;
    l->metrics_count = -1;
}

static int opt_time(const cJSON *o, const char *k, double *out, struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *out = NAN;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v) || dbp_parse_time(v->valuestring, out))
        return dbp_err_set(err, DBP_ESCHEMA, "label field '%s' must be an ISO-8601 time", k);
    return 0;
}

static int str_field(const cJSON *o, const char *k, bool node, char *out, size_t outsz,
                     struct dbp_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    out[0] = '\0';
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !(node ? node_ok(v->valuestring) : name_ok(v->valuestring, NULL)))
        return dbp_err_set(err, DBP_ESCHEMA,
                           "label field '%s' must be a name of 1..63 characters [A-Za-z0-9_.:-]",
                           k);
    dbp_strlcpy(out, v->valuestring, outsz);
    return 0;
}

int dbp_case_label_parse(const cJSON *o, struct dbp_case_label *l, struct dbp_err *err)
{
    const cJSON *sc, *sp, *mc, *an;
    int rc;
    memset(l, 0, sizeof(*l));
    l->start_time = l->end_time = NAN;
    l->metrics_count = -1;
    if (!cJSON_IsObject(o))
        return dbp_err_set(err, DBP_ESCHEMA, "label.json must be an object");
    if ((rc = str_field(o, "type", false, l->type, sizeof(l->type), err)))
        goto fail;
    if (!l->type[0]) {
        rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'type' is required");
        goto fail;
    }
    /* A free-text scenario is kept only when it is a plain name. */
    sc = cJSON_GetObjectItemCaseSensitive(o, "scenario");
    if (cJSON_IsString(sc) && name_ok(sc->valuestring, NULL))
        dbp_strlcpy(l->scenario, sc->valuestring, sizeof(l->scenario));
    sp = cJSON_GetObjectItemCaseSensitive(o, "split");
    if (sp && !cJSON_IsNull(sp)) {
        if (!cJSON_IsString(sp) ||
            (strcmp(sp->valuestring, "train") && strcmp(sp->valuestring, "test"))) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'split' must be \"train\" or \"test\"");
            goto fail;
        }
        dbp_strlcpy(l->split, sp->valuestring, sizeof(l->split));
    }
    if ((rc = str_field(o, "node", true, l->node, sizeof(l->node), err)) ||
        (rc = opt_time(o, "start_time", &l->start_time, err)) ||
        (rc = opt_time(o, "end_time", &l->end_time, err)))
        goto fail;
    mc = cJSON_GetObjectItemCaseSensitive(o, "metrics_count");
    if (cJSON_IsNumber(mc))
        l->metrics_count = (long)mc->valuedouble;

    an = cJSON_GetObjectItemCaseSensitive(o, "anomalies");
    if (an && !cJSON_IsNull(an)) {
        if (!cJSON_IsArray(an)) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'anomalies' must be an array");
            goto fail;
        }
        int i = 0;
        const cJSON *a;
        cJSON_ArrayForEach (a, an) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "node");
            if (!cJSON_IsString(t) || !dbp_label_type_ok(t->valuestring) || !cJSON_IsString(n) ||
                !node_ok(n->valuestring)) {
                rc = dbp_err_set(err, DBP_ESCHEMA,
                                 "label field 'anomalies[%d]' needs a valid 'type' and 'node'", i);
                goto fail;
            }
            dbp_case_label_add(l, t->valuestring, n->valuestring);
            i++;
        }
        return 0;
    }
    if (!strcmp(l->type, "normal"))
        return 0;
    if (!strcmp(l->type, "compound")) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "subtypes");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(o, "nodes");
        if (!cJSON_IsArray(st) || cJSON_GetArraySize(st) < 1) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "compound label needs a 'subtypes' array");
            goto fail;
        }
        if (ns && !cJSON_IsArray(ns)) {
            rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'nodes' must be an array");
            goto fail;
        }
        const cJSON *t, *n;
        cJSON_ArrayForEach (t, st) {
            if (!cJSON_IsString(t) || !dbp_label_type_ok(t->valuestring)) {
                rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'subtypes' has a bad type");
                goto fail;
            }
            if (ns && cJSON_GetArraySize(ns) > 0) {
                cJSON_ArrayForEach (n, ns) {
                    if (!cJSON_IsString(n) || !node_ok(n->valuestring)) {
                        rc = dbp_err_set(err, DBP_ESCHEMA, "label field 'nodes' has a bad node");
                        goto fail;
                    }
                    dbp_case_label_add(l, t->valuestring, n->valuestring);
                }
            } else {
                dbp_case_label_add(l, t->valuestring, l->node[0] ? l->node : "*");
            }
        }
        return 0;
    }
    dbp_case_label_add(l, l->type, l->node[0] ? l->node : "*");
    return 0;
fail:
    dbp_case_label_release(l);
    return rc;
}

static void add_time(cJSON *o, const char *k, double t)
{
    if (isnan(t))
        return;
    char iso[40];
    dbp_iso8601(t, iso, sizeof(iso));
    cJSON_AddStringToObject(o, k, iso);
}

cJSON *dbp_case_label_json(const struct dbp_case_label *l)
{
    cJSON *o = cJSON_CreateObject();
    char types[32][DBP_LABEL_STR_MAX], nodes[32][DBP_LABEL_STR_MAX];
    int nt = 0, nn = 0;
    for (int i = 0; i < l->nfaults; i++) {
        bool seen = false;
        for (int k = 0; k < nt; k++)
            seen |= !strcmp(types[k], l->faults[i].type);
        if (!seen && nt < 32)
            dbp_strlcpy(types[nt++], l->faults[i].type, DBP_LABEL_STR_MAX);
        seen = false;
        for (int k = 0; k < nn; k++)
            seen |= !strcmp(nodes[k], l->faults[i].node);
        if (!seen && nn < 32)
            dbp_strlcpy(nodes[nn++], l->faults[i].node, DBP_LABEL_STR_MAX);
    }
    const char *type = l->type[0] ? l->type : nt == 0 ? "normal" : nt == 1 ? types[0] : "compound";
    cJSON_AddStringToObject(o, "type", type);
    if (!strcmp(type, "compound")) {
        cJSON *st = cJSON_AddArrayToObject(o, "subtypes");
        for (int k = 0; k < nt; k++)
            cJSON_AddItemToArray(st, cJSON_CreateString(types[k]));
    }
    /* "node" keeps the original's readers working when there is one node;
     * several nodes go to "nodes" (the original wrote Python list syntax). */
    if (nn == 1)
        cJSON_AddStringToObject(o, "node", nodes[0]);
    else if (l->node[0] && nn == 0)
        cJSON_AddStringToObject(o, "node", l->node);
    if (nn > 1) {
        cJSON *na = cJSON_AddArrayToObject(o, "nodes");
        for (int k = 0; k < nn; k++)
            cJSON_AddItemToArray(na, cJSON_CreateString(nodes[k]));
    }
    if (l->scenario[0])
        cJSON_AddStringToObject(o, "scenario", l->scenario);
    if (l->split[0])
        cJSON_AddStringToObject(o, "split", l->split);
    add_time(o, "start_time", l->start_time);
    add_time(o, "end_time", l->end_time);
    if (l->metrics_count >= 0)
        cJSON_AddNumberToObject(o, "metrics_count", (double)l->metrics_count);
    cJSON *an = cJSON_AddArrayToObject(o, "anomalies");
    for (int i = 0; i < l->nfaults; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "type", l->faults[i].type);
        cJSON_AddStringToObject(a, "node", l->faults[i].node);
        cJSON_AddItemToArray(an, a);
    }
    const cJSON *x;
    cJSON_ArrayForEach (x, l->extra)
        if (x->string && !cJSON_GetObjectItemCaseSensitive(o, x->string))
            cJSON_AddItemToObject(o, x->string, cJSON_Duplicate(x, 1));
    return o;
}

void dbp_case_stratum(const struct dbp_case_label *l, char *out, size_t outsz)
{
    const char *t[64];
    int n = 0;
    for (int i = 0; i < l->nfaults && n < 64; i++) {
        bool seen = false;
        for (int k = 0; k < n; k++)
            seen |= !strcmp(t[k], l->faults[i].type);
        if (!seen)
            t[n++] = l->faults[i].type;
    }
    /* insertion sort: a handful of names */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && strcmp(t[k - 1], t[k]) > 0; k--) {
            const char *x = t[k];
            t[k] = t[k - 1];
            t[k - 1] = x;
        }
    out[0] = '\0';
    if (n == 0) {
        dbp_strlcpy(out, "normal", outsz);
        return;
    }
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + used, outsz - used, "%s%s", i ? "+" : "", t[i]);
        if (w < 0 || (size_t)w >= outsz - used)
            break;
        used += (size_t)w;
    }
}

/* ---- cases in memory ------------------------------------------------------ */

void dbp_case_init(struct dbp_case *c, size_t nmetrics)
{
    memset(c, 0, sizeof(*c));
    c->nmetrics = nmetrics;
    c->label.start_time = c->label.end_time = NAN;
    c->label.metrics_count = -1;
}

void dbp_case_release(struct dbp_case *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nnodes; i++) {
        free(c->ts[i]);
        free(c->vals[i]);
    }
    free(c->ts);
    free(c->vals);
    free(c->nodes);
    free(c->nsamples);
    free(c->cap);
    dbp_case_label_release(&c->label);
    memset(c, 0, sizeof(*c));
}

int dbp_case_node(const struct dbp_case *c, const char *node)
{
    for (int i = 0; i < c->nnodes; i++)
        if (!strcmp(c->nodes[i], node))
            return i;
    return -1;
}

int dbp_case_add_sample(struct dbp_case *c, const char *node, double ts, const double *values)
{
    int i = dbp_case_node(c, node);
    if (i < 0) {
        i = c->nnodes++;
        size_t n = (size_t)c->nnodes;
        c->nodes = dbp_xrealloc(c->nodes, n * sizeof(*c->nodes));
        c->nsamples = dbp_xrealloc(c->nsamples, n * sizeof(int));
        c->cap = dbp_xrealloc(c->cap, n * sizeof(int));
        c->ts = dbp_xrealloc(c->ts, n * sizeof(double *));
        c->vals = dbp_xrealloc(c->vals, n * sizeof(double *));
        dbp_strlcpy(c->nodes[i], node, DBP_LABEL_STR_MAX);
        c->nsamples[i] = c->cap[i] = 0;
        c->ts[i] = c->vals[i] = NULL;
    }
    if (c->nsamples[i] == c->cap[i]) {
        c->cap[i] = c->cap[i] ? c->cap[i] * 2 : 64;
        c->ts[i] = dbp_xrealloc(c->ts[i], (size_t)c->cap[i] * sizeof(double));
        c->vals[i] = dbp_xrealloc(c->vals[i], (size_t)c->cap[i] * c->nmetrics * sizeof(double));
    }
    int s = c->nsamples[i]++;
    c->ts[i][s] = ts;
    memcpy(c->vals[i] + (size_t)s * c->nmetrics, values, c->nmetrics * sizeof(double));
    return i;
}

bool dbp_case_truth(const struct dbp_case *c, int node, const char *type)
{
    if (node < 0 || node >= c->nnodes)
        return false;
    for (int i = 0; i < c->label.nfaults; i++) {
        const struct dbp_case_fault *f = &c->label.faults[i];
        if (!strcmp(f->type, type) && (!strcmp(f->node, "*") || !strcmp(f->node, c->nodes[node])))
            return true;
    }
    return false;
}

const char *dbp_case_unmatched_node(const struct dbp_case *c)
{
    for (int i = 0; i < c->label.nfaults; i++) {
        const char *n = c->label.faults[i].node;
        if (strcmp(n, "*") && dbp_case_node(c, n) < 0)
            return n;
    }
    return NULL;
}

static void clean_name(const char *in, char *out, size_t outsz)
{
    size_t j = 0;
    for (const char *p = in; *p && j + 1 < outsz; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
        out[j++] = ok ? ch : '-';
    }
    out[j] = '\0';
}

void dbp_case_dirname(const struct dbp_case_label *l, double ts, char *out, size_t outsz)
{
    char stamp[32], node[DBP_LABEL_STR_MAX] = "", types[128] = "";
    time_t t = (time_t)ts;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
    const char *n0 = NULL;
    bool multi = false;
    for (int i = 0; i < l->nfaults; i++) {
        if (!n0)
            n0 = l->faults[i].node;
        else if (strcmp(n0, l->faults[i].node))
            multi = true;
    }
    if (multi)
        dbp_strlcpy(node, "multi", sizeof(node));
    else if (n0)
        clean_name(strcmp(n0, "*") ? n0 : "cluster", node, sizeof(node));
    char strat[128];
    dbp_case_stratum(l, strat, sizeof(strat));
    if (l->nfaults == 0) {
        snprintf(out, outsz, "case_normal_%s", stamp);
        return;
    }
    /* "+"-joined stratum -> "_plus_"-joined, like the original. */
    size_t j = 0;
    for (const char *p = strat; *p && j + 7 < sizeof(types); p++) {
        if (*p == '+') {
            memcpy(types + j, "_plus_", 6);
            j += 6;
        } else {
            types[j++] = *p;
        }
    }
    types[j] = '\0';
    bool compound = strchr(strat, '+') != NULL;
    snprintf(out, outsz, "case_%s%s_%s_%s", compound ? "compound_" : "", types, node, stamp);
}

/* ---- writing ------------------------------------------------------------- */

static int json_str(struct dbp_buf *b, const char *s)
{
    int rc = dbp_buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        if (*p == '"' || *p == '\\')
            rc = dbp_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            rc = dbp_buf_printf(b, "\\u%04x", *p);
        else
            rc = dbp_buf_append(b, p, 1);
    }
    return rc ? rc : dbp_buf_puts(b, "\"");
}

/* Shortest of %.15g / %.17g that reads back to the same double. */
static int json_num(struct dbp_buf *b, double v)
{
    char s[40];
    snprintf(s, sizeof(s), "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof(s), "%.17g", v);
    return dbp_buf_puts(b, s);
}

static int io_err(struct dbp_err *err, int rc, const char *what, const char *path)
{
    if (rc == DBP_ETOOBIG)
        return dbp_err_set(err, DBP_ETOOBIG, "%s '%s': too large", what, path);
    /* util.c returns -errno, whose values overlap DBP_E* codes: say which. */
    return dbp_err_set(err, DBP_EIO, "%s '%s': %s", what, path, strerror(rc < 0 ? -rc : rc));
}

int dbp_case_write(const char *root, const struct dbp_case *c, const struct dbp_catalog *cat,
                   struct dbp_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct dbp_buf b;
    int rc = 0;
    cJSON *lj = NULL;
    char *ltxt = NULL;
    struct dbp_case_label l; /* the label as written: with its entry count */
    size_t ncat = dbp_catalog_ncategories(cat);
    int *catidx = NULL;

    dbp_buf_init(&b, 1u << 30);
    if (c->nmetrics != cat->nmetrics)
        return dbp_err_set(err, DBP_EINVAL, "case has %zu metrics, catalog '%s' has %zu",
                           c->nmetrics, cat->name, cat->nmetrics);
    if (!c->name[0] || strchr(c->name, '/') || !strcmp(c->name, ".") || !strcmp(c->name, ".."))
        return dbp_err_set(err, DBP_EINVAL, "bad case name '%s'", c->name);
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, c->name) >= sizeof(dir))
        return dbp_err_set(err, DBP_ETOOBIG, "case path too long");
    if ((rc = dbp_mkdir_p(dir, 0755)))
        return io_err(err, rc, "cannot create", dir);
    /* The new directory's entry in root must be on disk before label.json,
     * the case's commit marker, is (each file's own write syncs dir). */
    if ((rc = dbp_ml_fsync_path(root)))
        return io_err(err, rc, "cannot sync", root);
    if ((size_t)snprintf(path, sizeof(path), "%s/label.json", dir) >= sizeof(path))
        return dbp_err_set(err, DBP_ETOOBIG, "case path too long");
    struct stat st;
    if (stat(path, &st) == 0)
        return dbp_err_set(err, DBP_EBUSY, "case '%s' already exists", c->name);

    /* category of each metric as an index into the catalog's categories */
    catidx = dbp_xcalloc(cat->nmetrics ? cat->nmetrics : 1, sizeof(int));
    for (size_t m = 0; m < cat->nmetrics; m++)
        for (size_t k = 0; k < ncat; k++)
            if (!strcmp(cat->metrics[m].category, dbp_catalog_category(cat, k)))
                catidx[m] = (int)k;

    int maxs = 0;
    for (int i = 0; i < c->nnodes; i++)
        maxs = c->nsamples[i] > maxs ? c->nsamples[i] : maxs;
    rc = dbp_buf_puts(&b, "[");
    bool first = true;
    for (int s = 0; s < maxs && !rc; s++)
        for (int i = 0; i < c->nnodes && !rc; i++) {
            if (s >= c->nsamples[i])
                continue;
            const double *v = c->vals[i] + (size_t)s * c->nmetrics;
            char iso[40] = "latest";
            if (isfinite(c->ts[i][s]))
                dbp_iso8601(c->ts[i][s], iso, sizeof(iso));
            rc |=
                dbp_buf_printf(&b, "%s\n{\"timestamp\": \"%s\", \"node\": ", first ? "" : ",", iso);
            first = false;
            rc |= json_str(&b, c->nodes[i]);
            rc |= dbp_buf_puts(&b, ", \"metrics\": {");
            bool firstcat = true;
            for (size_t k = 0; k < ncat && !rc; k++) {
                bool firstm = true;
                for (size_t m = 0; m < cat->nmetrics && !rc; m++) {
                    if (catidx[m] != (int)k || !isfinite(v[m]))
                        continue;
                    if (firstm) {
                        rc |= dbp_buf_puts(&b, firstcat ? "" : ", ");
                        rc |= json_str(&b, dbp_catalog_category(cat, k));
                        rc |= dbp_buf_puts(&b, ": {");
                        firstcat = false;
                    } else {
                        rc |= dbp_buf_puts(&b, ", ");
                    }
                    firstm = false;
                    rc |= json_str(&b, cat->metrics[m].name);
                    rc |= dbp_buf_puts(&b, ": ");
                    rc |= json_num(&b, v[m]);
                }
                if (!firstm)
                    rc |= dbp_buf_puts(&b, "}");
            }
            rc |= dbp_buf_puts(&b, "}}");
        }
    rc |= dbp_buf_puts(&b, "\n]\n");
    if (rc) {
        rc = dbp_err_set(err, DBP_ETOOBIG, "metrics.json of case '%s' is too large", c->name);
        goto out;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/metrics.json", dir) >= sizeof(path)) {
        rc = dbp_err_set(err, DBP_ETOOBIG, "case path too long");
        goto out;
    }
    if ((rc = dbp_write_file_atomic(path, b.data, b.len, 0644))) {
        rc = io_err(err, rc, "cannot write", path);
        goto out;
    }

    l = c->label;
    if (l.metrics_count < 0) {
        long n = 0;
        for (int i = 0; i < c->nnodes; i++)
            n += c->nsamples[i];
        l.metrics_count = n;
    }
    lj = dbp_case_label_json(&l);
    ltxt = cJSON_PrintUnformatted(lj);
    if ((size_t)snprintf(path, sizeof(path), "%s/label.json", dir) >= sizeof(path)) {
        rc = dbp_err_set(err, DBP_ETOOBIG, "case path too long");
        goto out;
    }
    if (!ltxt) {
        rc = dbp_err_set(err, DBP_ENOMEM, "cannot serialise label.json");
        goto out;
    }
    if ((rc = dbp_write_file_atomic(path, ltxt, strlen(ltxt), 0644)))
        rc = io_err(err, rc, "cannot write", path);
out:
    free(catidx);
    free(ltxt);
    cJSON_Delete(lj);
    dbp_buf_release(&b);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

static int read_json(const char *path, size_t max, cJSON **out, struct dbp_err *err)
{
    char *txt = NULL;
    size_t len = 0;
    int rc = dbp_read_file(path, max, &txt, &len);
    if (rc)
        return io_err(err, rc, "cannot read", path);
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
    free(txt);
    if (!*out)
        return dbp_err_set(err, DBP_ESCHEMA, "'%s' is not valid JSON", path);
    return 0;
}

int dbp_case_read_label(const char *dir, struct dbp_case_label *l, struct dbp_err *err)
{
    char path[PATH_MAX];
    cJSON *o = NULL;
    if ((size_t)snprintf(path, sizeof(path), "%s/label.json", dir) >= sizeof(path))
        return dbp_err_set(err, DBP_ETOOBIG, "path too long");
    int rc = read_json(path, 1u << 20, &o, err);
    if (rc)
        return rc;
    rc = dbp_case_label_parse(o, l, err);
    cJSON_Delete(o);
    return rc;
}

/* Map one {name: value} object into v; counts unknown names. */
static void map_values(const cJSON *obj, const struct dbp_catalog *cat, double *v, size_t *unknown)
{
    const cJSON *it;
    cJSON_ArrayForEach (it, obj) {
        if (!it->string)
            continue;
        double x;
        if (cJSON_IsNumber(it))
            x = it->valuedouble;
        else if (cJSON_IsString(it) && dbp_parse_double(it->valuestring, &x) == 0)
            ;
        else
            continue; /* null, objects (node_relationships), text */
        const struct dbp_cat_metric *m = dbp_catalog_find(cat, it->string);
        if (!m) {
            (*unknown)++;
            continue;
        }
        v[m->index] = x;
    }
}

int dbp_case_read(const char *dir, const struct dbp_catalog *cat, struct dbp_case *c,
                  struct dbp_err *err)
{
    char path[PATH_MAX];
    cJSON *arr = NULL;
    double *v = NULL;
    int idx = 0; /* entry index, for messages */
    int rc;

    dbp_case_init(c, cat->nmetrics);
    const char *base = strrchr(dir, '/');
    dbp_strlcpy(c->name, base ? base + 1 : dir, sizeof(c->name));
    if ((rc = dbp_case_read_label(dir, &c->label, err)))
        goto fail;
    if ((size_t)snprintf(path, sizeof(path), "%s/metrics.json", dir) >= sizeof(path)) {
        rc = dbp_err_set(err, DBP_ETOOBIG, "case path too long");
        goto fail;
    }
    if ((rc = read_json(path, DBP_CASE_MAX_BYTES, &arr, err)))
        goto fail;
    if (!cJSON_IsArray(arr)) {
        rc = dbp_err_set(err, DBP_ESCHEMA, "'%s' must be a JSON array", path);
        goto fail;
    }
    v = dbp_xmalloc((cat->nmetrics ? cat->nmetrics : 1) * sizeof(double));
    const cJSON *e;
    cJSON_ArrayForEach (e, arr) {
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(e, "node");
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(e, "metrics");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "timestamp");
        if (!cJSON_IsString(node) || !node_ok(node->valuestring) || !cJSON_IsObject(ms)) {
            rc = dbp_err_set(err, DBP_ESCHEMA,
                             "'%s' entry %d needs a 'node' name and a 'metrics' object", path, idx);
            goto fail;
        }
        for (size_t m = 0; m < cat->nmetrics; m++)
            v[m] = NAN;
        const cJSON *it;
        cJSON_ArrayForEach (it, ms) {
            if (cJSON_IsObject(it))
                map_values(it, cat, v, &c->unknown_metrics); /* {category: {name: value}} */
        }
        map_values(ms, cat, v, &c->unknown_metrics); /* flat {name: value} */
        double t = NAN;
        if (cJSON_IsString(ts))
            (void)dbp_parse_time(ts->valuestring, &t); /* "latest" stays NaN */
        else if (cJSON_IsNumber(ts))
            t = ts->valuedouble;
        dbp_case_add_sample(c, node->valuestring, t, v);
        idx++;
    }
    free(v);
    cJSON_Delete(arr);
    return 0;
fail:
    free(v);
    cJSON_Delete(arr);
    dbp_case_release(c);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int dbp_cases_list(const char *root, char ***names, size_t *n, struct dbp_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(root);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return dbp_err_set(err, DBP_EIO, "cannot open '%s': %s", root, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= DBP_CASE_NAME_MAX)
            continue;
        char p[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(p, sizeof(p), "%s/%s/label.json", root, de->d_name) >= sizeof(p) ||
            stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *names = dbp_xrealloc(*names, cap * sizeof(char *));
        }
        (*names)[(*n)++] = dbp_xstrdup(de->d_name);
    }
    closedir(d);
    if (*n > 1)
        qsort(*names, *n, sizeof(char *), cmp_str);
    return 0;
}

void dbp_cases_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int dbp_dataset_stats(const char *root, cJSON **out, struct dbp_err *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = dbp_cases_list(root, &names, &n, err);
    if (rc)
        return rc;
    long normal = 0, anomaly = 0, cases = 0, bad = 0;
    cJSON *o = cJSON_CreateObject();
    cJSON *types = cJSON_CreateObject(), *bycase = cJSON_CreateObject(),
          *faults = cJSON_CreateObject(), *bynode = cJSON_CreateObject();
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX], path[PATH_MAX];
        struct dbp_case_label l;
        snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
        if (dbp_case_read_label(dir, &l, NULL)) {
            bad++;
            continue;
        }
        /* The entry count: label.json carries it (dbp_case_write and the
         * recorder write it); only an old case without it costs a parse of
         * its whole metrics.json. */
        long entries = l.metrics_count;
        if (entries < 0) {
            cJSON *arr = NULL;
            entries = 0;
            if ((size_t)snprintf(path, sizeof(path), "%s/metrics.json", dir) < sizeof(path) &&
                read_json(path, DBP_CASE_MAX_BYTES, &arr, NULL) == 0 && cJSON_IsArray(arr))
                entries = cJSON_GetArraySize(arr);
            cJSON_Delete(arr);
        }
        cases++;
        char strat[128];
        dbp_case_stratum(&l, strat, sizeof(strat));
        cJSON *cc = cJSON_GetObjectItemCaseSensitive(bycase, strat);
        if (cc)
            cJSON_SetNumberValue(cc, cc->valuedouble + 1);
        else
            cJSON_AddNumberToObject(bycase, strat, 1);
        if (l.nfaults == 0) {
            normal += entries;
        } else {
            anomaly += entries;
            const char *key =
                !strcmp(l.type, "compound") || strchr(strat, '+') ? "compound" : strat;
            cJSON *t = cJSON_GetObjectItemCaseSensitive(types, key);
            if (t)
                cJSON_SetNumberValue(t, t->valuedouble + (double)entries);
            else
                cJSON_AddNumberToObject(types, key, (double)entries);
            for (int f = 0; f < l.nfaults; f++) {
                cJSON *ft = cJSON_GetObjectItemCaseSensitive(faults, l.faults[f].type);
                if (ft)
                    cJSON_SetNumberValue(ft, ft->valuedouble + 1);
                else
                    cJSON_AddNumberToObject(faults, l.faults[f].type, 1);
                cJSON *bn = cJSON_GetObjectItemCaseSensitive(bynode, l.faults[f].type);
                if (!bn)
                    bn = cJSON_AddObjectToObject(bynode, l.faults[f].type);
                cJSON *nn = cJSON_GetObjectItemCaseSensitive(bn, l.faults[f].node);
                if (nn)
                    cJSON_SetNumberValue(nn, nn->valuedouble + 1);
                else
                    cJSON_AddNumberToObject(bn, l.faults[f].node, 1);
            }
        }
        dbp_case_label_release(&l);
    }
    dbp_cases_list_free(names, n);
    long total = normal + anomaly;
    double nr = total ? (double)normal / (double)total : 0,
           ar = total ? (double)anomaly / (double)total : 0;
    cJSON_AddNumberToObject(o, "normal", (double)normal);
    cJSON_AddNumberToObject(o, "anomaly", (double)anomaly);
    cJSON_AddItemToObject(o, "anomaly_types", types);
    cJSON_AddNumberToObject(o, "total_samples", (double)total);
    cJSON_AddNumberToObject(o, "normal_ratio", nr);
    cJSON_AddNumberToObject(o, "anomaly_ratio", ar);
    cJSON_AddBoolToObject(o, "is_balanced", total > 0 && fmin(nr, ar) >= 0.3);
    cJSON_AddNumberToObject(o, "cases", (double)cases);
    cJSON_AddItemToObject(o, "cases_by_type", bycase);
    cJSON_AddItemToObject(o, "fault_types", faults);
    cJSON_AddItemToObject(o, "fault_types_by_node", bynode);
    cJSON_AddNumberToObject(o, "unreadable_cases", (double)bad);
    *out = o;
    return 0;
}

/* ---- the dataset -------------------------------------------------------- */

void dbp_dataset_init(struct dbp_dataset *ds, size_t dim, const char *const *classes, int nclasses,
                      size_t max_rows)
{
    memset(ds, 0, sizeof(*ds));
    ds->dim = dim;
    ds->nclasses = nclasses;
    ds->max_rows = max_rows ? max_rows : 1000000;
    ds->classes = dbp_xcalloc((size_t)(nclasses > 0 ? nclasses : 1), sizeof(*ds->classes));
    for (int i = 0; i < nclasses; i++)
        dbp_strlcpy(ds->classes[i], classes[i], DBP_LABEL_STR_MAX);
}

void dbp_dataset_release(struct dbp_dataset *ds)
{
    if (!ds)
        return;
    free(ds->classes);
    free(ds->X);
    free(ds->Y);
    free(ds->group);
    free(ds->inst);
    free(ds->rule_type);
    free(ds->rule_score);
    for (size_t i = 0; i < ds->ninst; i++)
        free(ds->insts[i].w);
    free(ds->insts);
    free(ds->group_names);
    free(ds->group_scenario);
    free(ds->group_test);
    memset(ds, 0, sizeof(*ds));
}

int dbp_dataset_add_group(struct dbp_dataset *ds, const char *name, const char *scenario, bool test)
{
    int g = ds->ngroups++;
    size_t n = (size_t)ds->ngroups;
    ds->group_names = dbp_xrealloc(ds->group_names, n * sizeof(*ds->group_names));
    ds->group_scenario = dbp_xrealloc(ds->group_scenario, n * sizeof(*ds->group_scenario));
    ds->group_test = dbp_xrealloc(ds->group_test, n * sizeof(bool));
    dbp_strlcpy(ds->group_names[g], name ? name : "", DBP_CASE_NAME_MAX);
    dbp_strlcpy(ds->group_scenario[g], scenario ? scenario : "", DBP_LABEL_STR_MAX);
    ds->group_test[g] = test;
    return g;
}

/* Grow the row arrays; the matrix size comes from outside, so a failed
 * allocation is an error, not an abort. */
static int grow_rows(struct dbp_dataset *ds)
{
    if (ds->rows < ds->cap)
        return 0;
    if (ds->rows >= ds->max_rows)
        return DBP_ETOOBIG;
    size_t nc = ds->cap ? ds->cap * 2 : 256;
    if (nc > ds->max_rows)
        nc = ds->max_rows;
    size_t L = (size_t)(ds->nclasses > 0 ? ds->nclasses : 1);
    float *X = realloc(ds->X, nc * ds->dim * sizeof(float));
    if (!X)
        return DBP_ENOMEM;
    ds->X = X;
    unsigned char *Y = realloc(ds->Y, nc * L);
    if (!Y)
        return DBP_ENOMEM;
    ds->Y = Y;
    int *g = realloc(ds->group, nc * sizeof(int));
    if (!g)
        return DBP_ENOMEM;
    ds->group = g;
    int *in = realloc(ds->inst, nc * sizeof(int));
    if (!in)
        return DBP_ENOMEM;
    ds->inst = in;
    int *rt = realloc(ds->rule_type, nc * sizeof(int));
    if (!rt)
        return DBP_ENOMEM;
    ds->rule_type = rt;
    double *rs = realloc(ds->rule_score, nc * sizeof(double));
    if (!rs)
        return DBP_ENOMEM;
    ds->rule_score = rs;
    ds->cap = nc;
    return 0;
}

int dbp_dataset_add_row(struct dbp_dataset *ds, int group, int inst, const float *x,
                        const unsigned char *y, int rule_type, double rule_score)
{
    int rc = grow_rows(ds);
    if (rc)
        return rc;
    size_t r = ds->rows++;
    size_t L = (size_t)ds->nclasses;
    memcpy(ds->X + r * ds->dim, x, ds->dim * sizeof(float));
    memcpy(ds->Y + r * L, y, L);
    ds->group[r] = group;
    ds->inst[r] = inst;
    ds->rule_type[r] = rule_type;
    ds->rule_score[r] = rule_score;
    return 0;
}

int dbp_dataset_add_instance(struct dbp_dataset *ds, int group, int nnodes, const double *w)
{
    if (ds->ninst == ds->icap) {
        ds->icap = ds->icap ? ds->icap * 2 : 64;
        ds->insts = dbp_xrealloc(ds->insts, ds->icap * sizeof(*ds->insts));
    }
    struct dbp_ds_instance *in = &ds->insts[ds->ninst];
    in->group = group;
    in->nnodes = nnodes;
    in->first_row = ds->rows;
    size_t nn = (size_t)nnodes * (size_t)nnodes;
    in->w = dbp_xmalloc((nn ? nn : 1) * sizeof(double));
    if (nn)
        memcpy(in->w, w, nn * sizeof(double));
    return (int)ds->ninst++;
}

/* splitmix64: tiny, seedable, good enough to shuffle case lists. */
static unsigned long long splitmix64(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static unsigned long long hash_str(const char *s)
{
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void dbp_split_groups(const char *const *keys, int ngroups, double test_fraction,
                      unsigned long long seed, bool *is_test)
{
    int *idx = dbp_xcalloc((size_t)(ngroups > 0 ? ngroups : 1), sizeof(int));
    bool *done = dbp_xcalloc((size_t)(ngroups > 0 ? ngroups : 1), sizeof(bool));
    for (int g = 0; g < ngroups; g++)
        is_test[g] = false;
    for (int g = 0; g < ngroups; g++) {
        if (done[g])
            continue;
        int n = 0;
        for (int h = g; h < ngroups; h++)
            if (!done[h] && !strcmp(keys[h], keys[g])) {
                idx[n++] = h;
                done[h] = true;
            }
        /* One stream per stratum, seeded by its key: adding cases of a new
         * type does not reshuffle the others. */
        unsigned long long st = seed ^ hash_str(keys[g]);
        for (int i = n - 1; i > 0; i--) {
            int j = (int)((splitmix64(&st) >> 11) * (1.0 / 9007199254740992.0) * (i + 1));
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        int nt = (int)lround(test_fraction * n);
        if (n >= 2) {
            if (nt < 1 && test_fraction > 0)
                nt = 1;
            if (nt > n - 1)
                nt = n - 1;
        } else {
            nt = 0;
        }
        for (int i = 0; i < nt; i++)
            is_test[idx[i]] = true;
    }
    free(idx);
    free(done);
}

int dbp_dataset_partition(struct dbp_dataset *ds)
{
    size_t R = ds->rows, L = (size_t)ds->nclasses, D = ds->dim;
    size_t *order = dbp_xmalloc((R ? R : 1) * sizeof(size_t));
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t r = 0; r < R; r++)
            if (ds->group_test[ds->group[r]] == (pass == 1))
                order[k++] = r;
    size_t ntrain = 0;
    for (size_t r = 0; r < R; r++)
        ntrain += !ds->group_test[ds->group[r]];
    bool identity = true;
    for (size_t r = 0; r < R && identity; r++)
        identity = order[r] == r;
    if (!identity) {
        float *X = malloc((R ? R : 1) * D * sizeof(float));
        unsigned char *Y = malloc((R ? R : 1) * (L ? L : 1));
        if (!X || !Y) {
            free(X);
            free(Y);
            free(order);
            return DBP_ENOMEM;
        }
        int *g = dbp_xmalloc((R ? R : 1) * sizeof(int)),
            *in = dbp_xmalloc((R ? R : 1) * sizeof(int));
        int *rt = dbp_xmalloc((R ? R : 1) * sizeof(int));
        double *rs = dbp_xmalloc((R ? R : 1) * sizeof(double));
        size_t *newpos = dbp_xmalloc((R ? R : 1) * sizeof(size_t));
        for (size_t r = 0; r < R; r++) {
            size_t o = order[r];
            memcpy(X + r * D, ds->X + o * D, D * sizeof(float));
            memcpy(Y + r * L, ds->Y + o * L, L);
            g[r] = ds->group[o];
            in[r] = ds->inst[o];
            rt[r] = ds->rule_type[o];
            rs[r] = ds->rule_score[o];
            newpos[o] = r;
        }
        /* instance rows stay contiguous: they share a group */
        for (size_t i = 0; i < ds->ninst; i++)
            if (ds->insts[i].nnodes > 0)
                ds->insts[i].first_row = newpos[ds->insts[i].first_row];
        free(ds->X);
        free(ds->Y);
        free(ds->group);
        free(ds->inst);
        free(ds->rule_type);
        free(ds->rule_score);
        ds->X = X;
        ds->Y = Y;
        ds->group = g;
        ds->inst = in;
        ds->rule_type = rt;
        ds->rule_score = rs;
        ds->cap = R;
        free(newpos);
    }
    ds->ntrain = ntrain;
    free(order);
    return 0;
}

/*
 * Is the fault active in node i's window of W samples from `first`?  Yes
 * when at least half of its samples fall within the label's
 * [start_time, end_time] (an absent bound is open; samples without a time,
 * like the original's "latest", count as inside).  So samples recorded
 * before the injection, or after its revert, make negative windows, and
 * the rule baseline sees a normal past.
 */
static bool fault_active(const struct dbp_case *c, int i, int first, int W)
{
    double a = c->label.start_time, b = c->label.end_time;
    int in = 0;
    for (int k = first; k < first + W; k++) {
        double t = c->ts[i][k];
        in += !isfinite(t) || ((isnan(a) || t >= a - 1e-3) && (isnan(b) || t <= b + 1e-3));
    }
    return 2 * in >= W;
}

int dbp_dataset_add_case(struct dbp_dataset *ds, const struct dbp_case *c,
                         const char *const *categories, int group, int window, int stride,
                         int rule_history)
{
    int N = c->nnodes, W = window, M = (int)c->nmetrics, L = ds->nclasses;
    if (N < 1 || W < 2)
        return 0;
    if (stride < 1)
        stride = W;
    if (rule_history < W)
        rule_history = W;
    int S = c->nsamples[0];
    for (int i = 1; i < N; i++)
        S = c->nsamples[i] < S ? c->nsamples[i] : S;
    if (S < W)
        return 0;
    size_t per_node = (size_t)M * (size_t)W;
    double *win = dbp_xmalloc((size_t)N * per_node * sizeof(double));
    double *w = dbp_xmalloc((size_t)N * (size_t)N * sizeof(double));
    double *hist = dbp_xmalloc((size_t)rule_history * sizeof(double));
    double *z = dbp_xmalloc((size_t)(M ? M : 1) * sizeof(double));
    float *x = dbp_xmalloc((ds->dim ? ds->dim : 1) * sizeof(float));
    unsigned char *y = dbp_xmalloc((size_t)(L ? L : 1));
    const char **cls = dbp_xmalloc((size_t)(L ? L : 1) * sizeof(char *));
    for (int l = 0; l < L; l++)
        cls[l] = ds->classes[l];
    int rc = 0, added = 0;

    for (int s0 = 0; s0 + W <= S && !rc; s0 += stride) {
        /* Align the nodes' samples from the end of the case: a node that
         * missed the first cycle still lines up in time with the others. */
        for (int i = 0; i < N; i++) {
            int off = c->nsamples[i] - S;
            for (int m = 0; m < M; m++)
                for (int k = 0; k < W; k++)
                    win[(size_t)i * per_node + (size_t)m * (size_t)W + (size_t)k] =
                        c->vals[i][(size_t)(off + s0 + k) * c->nmetrics + (size_t)m];
        }
        dbp_rank_edge_weights(win, N, M, W, w, NULL);
        int inst = dbp_dataset_add_instance(ds, group, N, w);
        for (int i = 0; i < N && !rc; i++) {
            dbp_features_node(win + (size_t)i * per_node, (size_t)M, W, x);
            int off = c->nsamples[i] - S, end = off + s0 + W;
            bool active = fault_active(c, i, end - W, W);
            for (int l = 0; l < L; l++)
                y[l] = active && dbp_case_truth(c, i, ds->classes[l]) ? 1 : 0;
            int h0 = end - rule_history < 0 ? 0 : end - rule_history;
            for (int m = 0; m < M; m++) {
                int n = 0;
                for (int s = h0; s < end; s++)
                    hist[n++] = c->vals[i][(size_t)s * c->nmetrics + (size_t)m];
                z[m] = dbp_rule_zscore(hist, n);
            }
            double rs = 0;
            int rt = dbp_rule_node(z, categories, M, cls, L, &rs);
            rc = dbp_dataset_add_row(ds, group, inst, x, y, rt, rs);
            added++;
        }
    }
    free(win);
    free(w);
    free(hist);
    free(z);
    free(x);
    free(y);
    free(cls);
    return rc ? rc : added;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int dbp_dataset_build(const char *root, const struct dbp_catalog *cat,
                      const struct dbp_build_opts *o, struct dbp_dataset *ds,
                      struct dbp_build_report *rep, struct dbp_err *err)
{
    char **names = NULL;
    size_t n = 0;
    struct dbp_case_label *labels = NULL;
    bool *ok = NULL, *is_test = NULL;
    char(*keys)[128] = NULL;
    const char **keyp = NULL;
    char(*cls)[DBP_LABEL_STR_MAX] = NULL;
    const char **clsp = NULL;
    const char **cats = NULL;
    size_t done = 0, todo = 0; /* cases read, for the progress */
    int ncls = 0, rc;

    memset(ds, 0, sizeof(*ds));
    memset(rep, 0, sizeof(*rep));
    rep->skipped = cJSON_CreateArray();
    if (o->window < 2 || o->window > DBP_FEAT_MAX_WINDOW)
        return dbp_err_set(err, DBP_EINVAL, "window must be 2..%d", DBP_FEAT_MAX_WINDOW);
    if ((rc = dbp_cases_list(root, &names, &n, err)))
        return rc;
    rep->cases_total = (int)n;
    labels = dbp_xcalloc(n ? n : 1, sizeof(*labels));
    ok = dbp_xcalloc(n ? n : 1, sizeof(bool));

#define SKIP(i, ...)                                                                               \
    do {                                                                                           \
        char why_[320];                                                                            \
        snprintf(why_, sizeof(why_), __VA_ARGS__);                                                 \
        cJSON *s_ = cJSON_CreateObject();                                                          \
        cJSON_AddStringToObject(s_, "case", names[i]);                                             \
        cJSON_AddStringToObject(s_, "reason", why_);                                               \
        cJSON_AddItemToArray(rep->skipped, s_);                                                    \
        rep->cases_skipped++;                                                                      \
        ok[i] = false;                                                                             \
    } while (0)

    /* 1. labels (cheap) -> classes and strata */
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX];
        struct dbp_err e = {0};
        snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
        ok[i] = true;
        if (dbp_case_read_label(dir, &labels[i], &e)) {
            dbp_case_label_release(&labels[i]);
            SKIP(i, "label.json: %s", e.msg);
        }
    }
    if (o->classes && o->nclasses > 0) {
        ncls = o->nclasses;
        cls = dbp_xcalloc((size_t)ncls, sizeof(*cls));
        for (int l = 0; l < ncls; l++)
            dbp_strlcpy(cls[l], o->classes[l], DBP_LABEL_STR_MAX);
    } else {
        for (size_t i = 0; i < n; i++)
            for (int f = 0; ok[i] && f < labels[i].nfaults; f++) {
                bool seen = false;
                for (int l = 0; l < ncls; l++)
                    seen |= !strcmp(cls[l], labels[i].faults[f].type);
                if (!seen) {
                    cls = dbp_xrealloc(cls, (size_t)(ncls + 1) * sizeof(*cls));
                    dbp_strlcpy(cls[ncls++], labels[i].faults[f].type, DBP_LABEL_STR_MAX);
                }
            }
        if (ncls > 1)
            qsort(cls, (size_t)ncls, sizeof(*cls), cmp_cstr);
    }
    if (ncls == 0) {
        rc = dbp_err_set(err, DBP_EINVAL,
                         "no anomaly cases in '%s' (%zu case directories): nothing to learn", root,
                         n);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        for (int f = 0; ok[i] && f < labels[i].nfaults; f++) {
            bool known = false;
            for (int l = 0; l < ncls; l++)
                known |= !strcmp(cls[l], labels[i].faults[f].type);
            /* Its windows would teach "this pattern is normal". */
            if (!known)
                SKIP(i, "fault type '%s' is not one of the classes", labels[i].faults[f].type);
        }

    keys = dbp_xcalloc(n ? n : 1, sizeof(*keys));
    keyp = dbp_xcalloc(n ? n : 1, sizeof(char *));
    is_test = dbp_xcalloc(n ? n : 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        dbp_case_stratum(&labels[i], keys[i], sizeof(keys[i]));
        keyp[i] = keys[i];
    }
    /* Split over the usable cases only, so skipped ones do not take test
     * slots: compact, split, scatter back. */
    {
        int m = 0;
        const char **kk = dbp_xcalloc(n ? n : 1, sizeof(char *));
        bool *tt = dbp_xcalloc(n ? n : 1, sizeof(bool));
        for (size_t i = 0; i < n; i++)
            if (ok[i])
                kk[m++] = keyp[i];
        dbp_split_groups(kk, m, o->test_fraction, o->seed, tt);
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (ok[i])
                is_test[i] = tt[m++];
        /* A label that names its side wins (campaigns hold out whole
         * repetitions; see the label's "split"). */
        for (size_t i = 0; i < n; i++)
            if (labels[i].split[0])
                is_test[i] = !strcmp(labels[i].split, "test");
        free(kk);
        free(tt);
    }

    clsp = dbp_xcalloc((size_t)ncls, sizeof(char *));
    for (int l = 0; l < ncls; l++)
        clsp[l] = cls[l];
    dbp_dataset_init(ds, dbp_features_dim(cat->nmetrics), clsp, ncls, o->max_rows);
    cats = dbp_xcalloc(cat->nmetrics ? cat->nmetrics : 1, sizeof(char *));
    for (size_t m = 0; m < cat->nmetrics; m++)
        cats[m] = cat->metrics[m].category;

    /* 2. read and window: train cases first, then test cases */
    for (size_t i = 0; i < n; i++)
        todo += ok[i];
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if (!ok[i] || is_test[i] != (pass == 1))
                continue;
            char dir[PATH_MAX];
            struct dbp_case c;
            struct dbp_err e = {0};
            snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
            if (o->progress) {
                char msg[256];
                snprintf(msg, sizeof(msg), "Loading case %zu of %zu: %s", done + 1, todo, names[i]);
                if (o->progress(o->cls, 100.0 * (double)done / (double)(todo ? todo : 1), msg)) {
                    rc = dbp_err_set(err, DBP_EBUSY, "cancelled");
                    goto out;
                }
            }
            done++;
            if (dbp_case_read(dir, cat, &c, &e)) {
                SKIP(i, "%s", e.msg);
                continue;
            }
            const char *um = dbp_case_unmatched_node(&c);
            int minS = c.nnodes ? c.nsamples[0] : 0;
            for (int k = 1; k < c.nnodes; k++)
                minS = c.nsamples[k] < minS ? c.nsamples[k] : minS;
            if (um) {
                SKIP(i, "label node '%s' matches no node in metrics.json", um);
            } else if (c.nnodes == 0 || minS < o->window) {
                SKIP(i, "fewer than %d samples per node", o->window);
            } else {
                int g = dbp_dataset_add_group(ds, names[i], c.label.scenario, is_test[i]);
                int added = dbp_dataset_add_case(ds, &c, cats, g, o->window,
                                                 o->stride > 0 ? o->stride : o->window,
                                                 o->rule_history > 0 ? o->rule_history : 60);
                if (added < 0) {
                    rc = added == DBP_ETOOBIG
                             ? dbp_err_set(err, DBP_ETOOBIG,
                                           "more than %zu windows: raise the limit or use fewer "
                                           "cases",
                                           ds->max_rows)
                             : dbp_err_set(err, added, "cannot build the training matrix");
                    dbp_case_release(&c);
                    goto out;
                }
                rep->cases_used++;
            }
            dbp_case_release(&c);
        }
#undef SKIP
    rc = dbp_dataset_partition(ds);
    if (rc)
        dbp_err_set(err, rc, "out of memory partitioning the dataset");
    else if (ds->rows == 0)
        rc = dbp_err_set(err, DBP_EINVAL, "no usable windows in '%s' (%d cases skipped)", root,
                         rep->cases_skipped);
out:
    if (rc)
        dbp_dataset_release(ds);
    for (size_t i = 0; i < n; i++)
        dbp_case_label_release(&labels[i]);
    free(labels);
    free(ok);
    free(keys);
    free(keyp);
    free(is_test);
    free(cls);
    free(clsp);
    free(cats);
    dbp_cases_list_free(names, n);
    return rc;
}
