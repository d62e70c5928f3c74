/*
 * ithelp.h - integration-test harness: start the real daemon in-process on
 * 127.0.0.1:0 from a YAML snippet, call it with libcurl, find the lab.
 */
#ifndef DBP_ITHELP_H
#define DBP_ITHELP_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct dbp_daemon;

struct it_daemon {
    struct dbp_daemon *d;
    int port;
    char base[64];        /* "http://127.0.0.1:PORT" */
    char cfg_path[320];   /* temp config file */
    char dir[256];        /* temp dir (data_dir lives here) */
};

/*
 * Write `yaml` (may be NULL) to a temp config (server.port is forced to 0,
 * data_dir to a temp dir unless the snippet sets it), load it, publish it
 * and start the daemon.  Returns 0 or -1 (and prints why).
 */
int it_start(struct it_daemon *it, const char *yaml);
void it_stop(struct it_daemon *it);

struct it_resp {
    long status;
    char *body;
    size_t len;
    cJSON *json;          /* parsed when the body is JSON, else NULL */
    char headers[8192];   /* raw response headers */
};

/*
 * One request.  headers: NULL-terminated list of "Name: value" or NULL.
 * body may be NULL.  Returns 0 when a response arrived.
 */
int it_req(struct it_daemon *it, const char *method, const char *path, const char *ctype,
           const char *body, size_t len, const char *const *headers, struct it_resp *out);
/* Shorthands that abort the test (cmocka fail) on transport errors. */
struct it_resp it_get(struct it_daemon *it, const char *path);
struct it_resp it_post_json(struct it_daemon *it, const char *path, const char *json);
struct it_resp it_delete(struct it_daemon *it, const char *path);
void it_resp_free(struct it_resp *r);
/* Value of a response header (case-insensitive) into out; false if absent. */
bool it_header(const struct it_resp *r, const char *name, char *out, size_t outsz);

/* Poll GET /api/jobs/{id} until it finishes or timeout_s passes; returns
 * the final job JSON (caller frees) or NULL. */
cJSON *it_wait_job(struct it_daemon *it, const char *job_id, int timeout_s);

/*
 * The lab (scripts/lab.sh).  it_lab_dir() is $DBPECKER_LAB_DIR or
 * <source>/.lab.  it_lab_up() is true when nodes.yaml exists and node 1
 * answers.  it_lab_yaml() returns a config snippet (static buffer) pointing
 * the daemon at the lab: nodes_file, user dbpecker, password_file, catalog
 * mariadb, catalog_dir, lua_dir, prometheus.url, workload credentials.
 */
const char *it_source_dir(void);
const char *it_lab_dir(void);
bool it_lab_up(void);
const char *it_lab_yaml(void);
/* Read a value from $LAB/lab.env ("LAB_NODE1_HOST"...) into out. */
bool it_lab_env(const char *key, char *out, size_t outsz);

/* Run argv (no shell), wait, return the exit status (or -1); output is
 * discarded unless out is given (bounded to outsz). */
int it_run(const char *const argv[], char *out, size_t outsz);

#endif
