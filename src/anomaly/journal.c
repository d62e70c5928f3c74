/*
 * journal.c - the fault journal's on-disk schema: one JSON document per
 * injection, encoded and decoded here and nowhere else, so that the API's
 * record shape (record_json in anomaly.c) can change without touching
 * crash recovery.  The registry writes the document atomically with fsync
 * (before each apply, after it, after each revert); see docs/faults.md for
 * the schema.
 *
 * Version 2 (written): {"journal_version": 2, "id", "name", "severity",
 * "duration_s", "status", "created", "start", "planned_end", "ended"
 * (unix seconds, 0 = not yet), "error", "err_code", "recovered",
 * "stop_requested", "revert_attempts", "collect_training_data",
 * "save_post_data", "parts": [{"type", "node", "severity", "executor",
 * "status", "error", "params", "state", "applied", "reverted"}]}.
 *
 * Version 1 (read only): the API record of earlier releases plus
 * "journal_version": 1 (times in *_ts keys, "duration", parts with
 * "applied_ts"/"reverted_ts"/"effective").
 */
#include "anomaly_int.h"

#include <string.h>

#include "dbp/util.h"
#include "dbp/banned.h" /* last: poisons what no file may use */

const char *const dbp_anom_ist_names[IST_N] = {"pending", "active", "reverting", "reverted",
                                               "failed"};
const char *const dbp_anom_pst_names[PST_N] = {"pending",  "applying", "applied",      "reverting",
                                               "reverted", "failed",   "revert_failed"};
const char *const dbp_anom_ex_names[EX_N] = {"chaosmesh", "local", "sql"};

int dbp_anom_name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static const char *jstr(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static bool jtrue(const cJSON *o, const char *k)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static bool valid_id(const char *s)
{
    if (!s || strlen(s) != DBP_ANOMALY_ID_LEN - 1)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static cJSON *dup_or_null(const cJSON *v)
{
    return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

cJSON *dbp_journal_encode(const struct inj *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "journal_version", DBP_JOURNAL_VERSION);
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "name", j->name);
    cJSON_AddStringToObject(o, "severity", j->severity);
    cJSON_AddNumberToObject(o, "duration_s", j->duration_s);
    cJSON_AddStringToObject(o, "status", dbp_anom_ist_names[j->st]);
    cJSON_AddNumberToObject(o, "created", j->created);
    cJSON_AddNumberToObject(o, "start", j->start);
    cJSON_AddNumberToObject(o, "planned_end", j->end);
    cJSON_AddNumberToObject(o, "ended", j->ended);
    cJSON_AddStringToObject(o, "error", j->error);
    cJSON_AddNumberToObject(o, "err_code", j->err_code);
    cJSON_AddBoolToObject(o, "recovered", j->recovered);
    cJSON_AddBoolToObject(o, "stop_requested", j->stop_req);
    cJSON_AddNumberToObject(o, "revert_attempts", j->attempts);
    cJSON_AddBoolToObject(o, "collect_training_data", j->collect);
    cJSON_AddBoolToObject(o, "save_post_data", j->save_post);
    cJSON *pl = cJSON_AddArrayToObject(o, "parts");
    for (int i = 0; i < j->nparts; i++) {
        const struct part *p = &j->parts[i];
        cJSON *po = cJSON_CreateObject();
        cJSON_AddStringToObject(po, "type", p->type);
        cJSON_AddStringToObject(po, "node", p->node);
        cJSON_AddStringToObject(po, "severity", p->severity);
        cJSON_AddStringToObject(po, "executor", p->exec_name);
        cJSON_AddStringToObject(po, "status", dbp_anom_pst_names[p->st]);
        cJSON_AddStringToObject(po, "error", p->error);
        cJSON_AddItemToObject(po, "params", dup_or_null(p->params));
        cJSON_AddItemToObject(po, "state", dup_or_null(p->state));
        cJSON_AddNumberToObject(po, "applied", p->applied_at);
        cJSON_AddNumberToObject(po, "reverted", p->reverted_at);
        cJSON_AddItemToArray(pl, po);
    }
    return o;
}

/* The keys that differ between the versions. */
struct keys {
    const char *duration, *created, *start, *end, *ended, *applied, *reverted;
};
static const struct keys keys_v1 = {"duration", "created_ts", "start_ts", "planned_end_ts",
                                    "ended_ts", "applied_ts", "reverted_ts"};
static const struct keys keys_v2 = {"duration_s", "created", "start", "planned_end",
                                    "ended", "applied", "reverted"};

struct inj *dbp_journal_decode(const cJSON *o, int *version)
{
    int ver = (int)jnum(o, "journal_version", 1);
    if (version)
        *version = ver;
    if (ver != 1 && ver != 2)
        return NULL; /* a newer release's journal: not ours to guess at */
    const struct keys *k = ver == 1 ? &keys_v1 : &keys_v2;
    const char *id = jstr(o, "id", NULL);
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(o, "parts");
    int st = dbp_anom_name_index(dbp_anom_ist_names, IST_N, jstr(o, "status", ""));
    if (!valid_id(id) || !cJSON_IsArray(parts) || st < 0)
        return NULL;
    int np = cJSON_GetArraySize(parts);
    if (np < 1 || np > DBP_ANOMALY_MAX_PARTS)
        return NULL;
    struct inj *j = dbp_xcalloc(1, sizeof(*j));
    dbp_strlcpy(j->id, id, sizeof(j->id));
    dbp_strlcpy(j->name, jstr(o, "name", id), sizeof(j->name));
    dbp_strlcpy(j->severity, jstr(o, "severity", "medium"), sizeof(j->severity));
    dbp_strlcpy(j->error, jstr(o, "error", ""), sizeof(j->error));
    j->duration_s = (int)jnum(o, k->duration, 0);
    j->created = jnum(o, k->created, 0);
    j->start = jnum(o, k->start, 0);
    j->end = jnum(o, k->end, 0);
    j->ended = jnum(o, k->ended, 0);
    j->attempts = (int)jnum(o, "revert_attempts", 0);
    j->err_code = (int)jnum(o, "err_code", 0);
    j->st = (enum ist)st;
    j->recovered = jtrue(o, "recovered");
    j->stop_req = ver >= 2 && jtrue(o, "stop_requested");
    j->collect = jtrue(o, "collect_training_data");
    j->save_post = jtrue(o, "save_post_data");
    const cJSON *po;
    cJSON_ArrayForEach(po, parts)
    {
        struct part *p = &j->parts[j->nparts++];
        int ps = dbp_anom_name_index(dbp_anom_pst_names, PST_N, jstr(po, "status", ""));
        dbp_strlcpy(p->type, jstr(po, "type", "?"), sizeof(p->type));
        p->tidx = dbp_anomaly_type_index(p->type);
        dbp_strlcpy(p->node, jstr(po, "node", "?"), sizeof(p->node));
        dbp_strlcpy(p->severity, jstr(po, "severity", j->severity), sizeof(p->severity));
        dbp_strlcpy(p->exec_name, jstr(po, "executor", "?"), sizeof(p->exec_name));
        p->exec = dbp_anom_name_index(dbp_anom_ex_names, EX_N, p->exec_name);
        /* An unreadable part status is treated as "maybe in place". */
        p->st = ps < 0 ? PST_APPLYING : (enum pst)ps;
        dbp_strlcpy(p->error, jstr(po, "error", ""), sizeof(p->error));
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(po, "params");
        p->params = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : NULL;
        v = cJSON_GetObjectItemCaseSensitive(po, "state");
        p->state = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : NULL;
        p->took_effect = -1; /* evidence is measured again, never journaled (v2) */
        p->applied_at = jnum(po, k->applied, 0);
        p->reverted_at = jnum(po, k->reverted, 0);
    }
    return j;
}
