/*
 * main.c - arguments, configuration, start/stop order, signals.
 *
 * Order (collectd/libuv discipline): parse args -> load + validate config
 * (exit here for --check-config) -> library global inits -> block signals
 * in every thread -> create and start modules -> start HTTP -> sigwait for
 * TERM/INT/HUP in main -> stop HTTP first (in-flight requests finish) ->
 * stop modules in reverse order -> join -> global cleanups.
 */
#define _GNU_SOURCE
#include "dbp/app.h"
#include "dbp/config.h"
#include "dbp/daemon.h"
#include "dbp/log.h"
#include "dbp/util.h"

#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

#ifndef DBP_VERSION
#define DBP_VERSION "0.0.0"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: dbpecker [--config FILE] [--port N] [--listen ADDR]\n"
            "       dbpecker --check-config FILE\n"
            "       dbpecker --dump-routes | --dump-keys | --version\n"
            "\n"
            "  -c, --config FILE     configuration (default: none, built-in defaults)\n"
            "  -p, --port N          override server.port\n"
            "  -l, --listen ADDR     override server.listen\n"
            "      --check-config F  validate F (and the environment) and exit\n"
            "      --dump-routes     print the route table as Markdown and exit\n"
            "      --dump-keys       print every configuration key and exit\n"
            "  -V, --version         print the version and exit\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"check-config", required_argument, NULL, 'C'},
        {"dump-routes", no_argument, NULL, 'R'},
        {"dump-keys", no_argument, NULL, 'K'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    const char *port = NULL, *listen = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "c:p:l:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'C': {
            struct dbp_config *cfg = NULL;
            struct dbp_err err = {0};
            if (dbp_config_load(optarg, &cfg, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            printf("%s: ok (%d nodes, catalog %s, listen %s:%d)\n", optarg, cfg->nnodes,
                   cfg->catalog, cfg->listen, cfg->port);
            dbp_config_unref(cfg);
            return 0;
        }
        case 'R':
            return dbp_daemon_dump_routes(stdout) ? 1 : 0;
        case 'K':
            dbp_config_dump_keys();
            return 0;
        case 'V':
            printf("dbpecker %s\n", DBP_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    /* Command-line overrides go through the environment so that they are
     * validated by the same key table as everything else. */
    if (port)
        setenv("DBPECKER_SERVER_PORT", port, 1);
    if (listen)
        setenv("DBPECKER_SERVER_LISTEN", listen, 1);

    struct dbp_config *cfg = NULL;
    struct dbp_err err = {0};
    if (dbp_config_load(config_path, &cfg, &err)) {
        fprintf(stderr, "dbpecker: %s\n", err.msg);
        return 1;
    }
    dbp_log_set_level(dbp_log_level_from_name(cfg->log_level));
    dbp_config_publish(cfg);

    /* Global library state before any thread exists. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "dbpecker: curl_global_init failed\n");
        return 1;
    }
    if (dbp_daemon_global_init(&err)) {
        fprintf(stderr, "dbpecker: %s\n", err.msg);
        return 1;
    }

    /* Every thread created from here on inherits the blocked mask, so the
     * signals reach only sigwait() below. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct dbp_daemon *d = NULL;
    if (dbp_daemon_start(DBP_VERSION, &d, &err)) {
        DBP_ERROR("main", "cannot start: %s", err.msg);
        dbp_daemon_stop(d);
        dbp_config_publish(NULL);
        dbp_daemon_global_cleanup();
        curl_global_cleanup();
        return 1;
    }
    DBP_INFO("main", "dbpecker %s listening on http://%s:%d (pid %d)", DBP_VERSION,
             cfg->listen, dbp_daemon_port(d), (int)getpid());

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            struct dbp_config *ncfg = NULL;
            struct dbp_err rerr = {0};
            if (dbp_config_load(config_path, &ncfg, &rerr)) {
                DBP_ERROR("main", "reload refused, keeping the old configuration: %s", rerr.msg);
                continue;
            }
            if (dbp_daemon_reload(d, ncfg, &rerr))
                DBP_ERROR("main", "reload refused: %s", rerr.msg);
            continue;
        }
        DBP_INFO("main", "%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    dbp_daemon_stop(d);
    dbp_config_publish(NULL);
    dbp_daemon_global_cleanup();
    curl_global_cleanup();
    DBP_INFO("main", "stopped");
    return 0;
}
