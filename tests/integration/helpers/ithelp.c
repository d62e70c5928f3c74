/* ithelp.c - see ithelp.h. */
#define _GNU_SOURCE
#include "ithelp.h"

#include "dbp/config.h"
#include "dbp/daemon.h"
#include "dbp/util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static bool global_done;

int it_start(struct it_daemon *it, const char *yaml)
{
    struct dbp_err err = {0};
    memset(it, 0, sizeof(*it));
    if (!global_done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        if (dbp_daemon_global_init(&err)) {
            fprintf(stderr, "global init: %s\n", err.msg);
            return -1;
        }
        global_done = true;
    }
    snprintf(it->dir, sizeof(it->dir), "/tmp/dbp-it-XXXXXX");
    if (!mkdtemp(it->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(it->cfg_path, sizeof(it->cfg_path), "%s/dbpecker.yaml", it->dir);
    FILE *f = fopen(it->cfg_path, "w");
    if (!f)
        return -1;
    if (!yaml || !strstr(yaml, "data_dir:"))
        fprintf(f, "data_dir: %s/data\n", it->dir);
    if (yaml)
        fputs(yaml, f);
    fclose(f);
    setenv("DBPECKER_SERVER_PORT", "0", 1);
    struct dbp_config *cfg = NULL;
    if (dbp_config_load(it->cfg_path, &cfg, &err)) {
        fprintf(stderr, "config: %s\n", err.msg);
        return -1;
    }
    dbp_config_publish(cfg);
    if (dbp_daemon_start("test", &it->d, &err)) {
        fprintf(stderr, "daemon start: %s\n", err.msg);
        dbp_daemon_stop(it->d);
        it->d = NULL;
        return -1;
    }
    it->port = dbp_daemon_port(it->d);
    snprintf(it->base, sizeof(it->base), "http://127.0.0.1:%d", it->port);
    return 0;
}

void it_stop(struct it_daemon *it)
{
    if (it->d)
        dbp_daemon_stop(it->d);
    it->d = NULL;
    dbp_config_publish(NULL);
    if (it->dir[0]) {
        const char *argv[] = {"rm", "-rf", it->dir, NULL};
        it_run(argv, NULL, 0);
    }
}

struct sink {
    struct dbp_buf *b;
};

static size_t write_cb(char *p, size_t sz, size_t n, void *ud)
{
    struct dbp_buf *b = ud;
    if (dbp_buf_append(b, p, sz * n))
        return 0;
    return sz * n;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *ud)
{
    struct it_resp *r = ud;
    size_t have = strlen(r->headers), add = sz * n;
    if (have + add + 1 < sizeof(r->headers)) {
        memcpy(r->headers + have, p, add);
        r->headers[have + add] = '\0';
    }
    return sz * n;
}

int it_req(struct it_daemon *it, const char *method, const char *path, const char *ctype,
           const char *body, size_t len, const char *const *headers, struct it_resp *out)
{
    char url[4096];
    struct dbp_buf b;
    struct curl_slist *hl = NULL;
    CURL *c = curl_easy_init();
    memset(out, 0, sizeof(*out));
    if (!c)
        return -1;
    snprintf(url, sizeof(url), "%s%s", it->base, path);
    dbp_buf_init(&b, 256u << 20);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (ctype) {
        char h[256];
        snprintf(h, sizeof(h), "Content-Type: %s", ctype);
        hl = curl_slist_append(hl, h);
    }
    for (const char *const *h = headers; h && *h; h++)
        hl = curl_slist_append(hl, *h);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = dbp_buf_detach(&b, &out->len);
    if (cc != CURLE_OK && !out->status) {
        fprintf(stderr, "%s %s: %s\n", method, path, curl_easy_strerror(cc));
        return -1;
    }
    if (out->len)
        out->json = cJSON_ParseWithLength(out->body, out->len);
    return 0;
}

struct it_resp it_get(struct it_daemon *it, const char *path)
{
    struct it_resp r;
    if (it_req(it, "GET", path, NULL, NULL, 0, NULL, &r))
        fail_msg("GET %s: no response", path);
    return r;
}

struct it_resp it_post_json(struct it_daemon *it, const char *path, const char *json)
{
    struct it_resp r;
    /* Always JSON, even without a body: mutating POSTs must carry it (the
     * cross-site guard, server.c). */
    if (it_req(it, "POST", path, "application/json", json, json ? strlen(json) : 0, NULL, &r))
        fail_msg("POST %s: no response", path);
    return r;
}

struct it_resp it_delete(struct it_daemon *it, const char *path)
{
    struct it_resp r;
    if (it_req(it, "DELETE", path, NULL, NULL, 0, NULL, &r))
        fail_msg("DELETE %s: no response", path);
    return r;
}

void it_resp_free(struct it_resp *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    r->body = NULL;
    r->json = NULL;
}

bool it_header(const struct it_resp *r, const char *name, char *out, size_t outsz)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol)
            break;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t len = (size_t)(eol - v);
            if (len >= outsz)
                len = outsz - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
        p = eol + 2;
    }
    return false;
}

cJSON *it_wait_job(struct it_daemon *it, const char *job_id, int timeout_s)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/jobs/%s", job_id);
    for (int i = 0; i < timeout_s * 5; i++) {
        struct it_resp r = it_get(it, path);
        if (r.status == 200 && r.json) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(r.json, "status");
            if (cJSON_IsString(st) && strcmp(st->valuestring, "queued") != 0 &&
                strcmp(st->valuestring, "running") != 0) {
                cJSON *j = r.json;
                r.json = NULL;
                it_resp_free(&r);
                return j;
            }
        }
        it_resp_free(&r);
        usleep(200 * 1000);
    }
    return NULL;
}

const char *it_source_dir(void)
{
    const char *s = getenv("DBP_SOURCE_DIR");
#ifdef DBP_SOURCE_DIR
    if (!s)
        s = DBP_SOURCE_DIR;
#endif
    return s ? s : ".";
}

const char *it_lab_dir(void)
{
    static char buf[512];
    const char *d = getenv("DBPECKER_LAB_DIR");
    if (d)
        return d;
    snprintf(buf, sizeof(buf), "%s/.lab", it_source_dir());
    return buf;
}

bool it_lab_env(const char *key, char *out, size_t outsz)
{
    char path[600], line[1024];
    size_t n = strlen(key);
    snprintf(path, sizeof(path), "%s/lab.env", it_lab_dir());
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, n) == 0 && line[n] == '=') {
            char *v = line + n + 1;
            v[strcspn(v, "\r\n")] = '\0';
            if (*v == '"' || *v == '\'') {
                v++;
                size_t l = strlen(v);
                if (l)
                    v[l - 1] = '\0';
            }
            dbp_strlcpy(out, v, outsz);
            found = true;
            break;
        }
    }
    fclose(f);
    return found;
}

bool it_lab_up(void)
{
    char path[600], host[128], port[16];
    snprintf(path, sizeof(path), "%s/nodes.yaml", it_lab_dir());
    if (access(path, R_OK) != 0 || !it_lab_env("LAB_NODE1_HOST", host, sizeof(host)) ||
        !it_lab_env("LAB_NODE1_PORT", port, sizeof(port)))
        return false;
    char cnf[600], hostarg[160], portarg[32];
    snprintf(cnf, sizeof(cnf), "--defaults-extra-file=%s/secrets/client.cnf", it_lab_dir());
    snprintf(hostarg, sizeof(hostarg), "--host=%s", host);
    snprintf(portarg, sizeof(portarg), "--port=%s", port);
    const char *argv[] = {"mysql", cnf, hostarg, portarg, "--connect-timeout=3", "-e", "SELECT 1",
                          NULL};
    return it_run(argv, NULL, 0) == 0;
}

const char *it_lab_yaml(void)
{
    static char buf[4096];
    char prom[256] = "";
    const char *lab = it_lab_dir(), *src = it_source_dir();
    it_lab_env("LAB_PROM_URL", prom, sizeof(prom));
    snprintf(buf, sizeof(buf),
             "database:\n"
             "  catalog: mariadb\n"
             "  catalog_dir: %s/config/catalog\n"
             "  user: dbpecker\n"
             "  password_file: %s/secrets/dbpecker.password\n"
             "  nodes_file: %s/nodes.yaml\n"
             "workload:\n"
             "  lua_dir: %s/scripts/lua\n"
             "  user: bench\n"
             "  password_file: %s/secrets/bench.password\n"
             "prometheus:\n"
             "  url: \"%s\"\n",
             src, lab, lab, src, lab, prom);
    return buf;
}

int it_run(const char *const argv[], char *out, size_t outsz)
{
    int pfd[2] = {-1, -1};
    if (out && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0);
        dup2(out ? pfd[1] : nul, 1);
        dup2(out ? pfd[1] : nul, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (out) {
        close(pfd[1]);
        size_t o = 0;
        ssize_t r;
        char tmp[4096];
        while ((r = read(pfd[0], tmp, sizeof(tmp))) > 0) {
            size_t c = (size_t)r;
            if (o + c >= outsz)
                c = outsz - 1 - o;
            memcpy(out + o, tmp, c);
            o += c;
        }
        out[o] = '\0';
        close(pfd[0]);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
