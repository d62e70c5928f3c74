/*
 * poller.c - a worker thread per watched node that runs the node's poll
 * when kicked (see poller.h).  The MySQL client library needs
 * mysql_thread_init/end on every thread that uses a connection: the
 * poller brackets its life with them and is the only user of its node's
 * connection.
 */
#define _GNU_SOURCE
#include "poller.h"

#include "dbp/db.h"
#include "dbp/util.h"

#include <stdlib.h>
#include <string.h>
#include "dbp/banned.h" /* last: poisons what no file may use */

struct dbp_poller {
    pthread_t thread;
    pthread_mutex_t *lock;
    pthread_cond_t *done; /* the owner's: broadcast when a job returns */
    pthread_cond_t wake;  /* ours: a kick or stop */
    void (*job)(void *arg, uint64_t token);
    void (*fini)(void *arg);
    void *arg;
    enum dbp_poller_state state;
    bool kicked, stop;
    uint64_t token, since;
};

static void *poller_main(void *v)
{
    struct dbp_poller *p = v;
    dbp_db_thread_init();
    pthread_mutex_lock(p->lock);
    for (;;) {
        while (!p->kicked && !p->stop)
            pthread_cond_wait(&p->wake, p->lock);
        if (p->stop)
            break;
        p->kicked = false;
        uint64_t token = p->token;
        pthread_mutex_unlock(p->lock);
        p->job(p->arg, token);
        pthread_mutex_lock(p->lock);
        p->state = DBP_POLLER_DONE;
        p->since = 0;
        pthread_cond_broadcast(p->done);
    }
    pthread_mutex_unlock(p->lock);
    if (p->fini)
        p->fini(p->arg);
    dbp_db_thread_end();
    return NULL;
}

struct dbp_poller *dbp_poller_start(const char *name, void (*job)(void *arg, uint64_t token),
                                    void (*fini)(void *arg), void *arg, pthread_mutex_t *lock,
                                    pthread_cond_t *done)
{
    struct dbp_poller *p = dbp_xcalloc(1, sizeof(*p));
    p->lock = lock;
    p->done = done;
    p->job = job;
    p->fini = fini;
    p->arg = arg;
    p->state = DBP_POLLER_IDLE;
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    char tn[16];
    dbp_strlcpy(tn, name, sizeof(tn)); /* the kernel keeps 15 characters */
    pthread_setname_np(p->thread, tn);
    return p;
}

void dbp_poller_stop(struct dbp_poller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->wake);
    free(p);
}

enum dbp_poller_state dbp_poller_state(const struct dbp_poller *p)
{
    return p->state;
}

uint64_t dbp_poller_busy_since(const struct dbp_poller *p)
{
    return p->state == DBP_POLLER_BUSY ? p->since : 0;
}

bool dbp_poller_kick(struct dbp_poller *p, uint64_t token)
{
    if (p->state == DBP_POLLER_BUSY)
        return false;
    p->state = DBP_POLLER_BUSY;
    p->since = dbp_now_ns();
    p->token = token;
    p->kicked = true;
    pthread_cond_signal(&p->wake);
    return true;
}

void dbp_poller_consume(struct dbp_poller *p)
{
    if (p->state == DBP_POLLER_DONE)
        p->state = DBP_POLLER_IDLE;
}
