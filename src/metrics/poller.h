/*
 * poller.h - one worker thread per watched node: it runs the node's poll
 * when the collector kicks it, so a node that hangs (killed, partitioned:
 * connect/read timeouts) delays nobody but itself.
 *
 * The poller's state lives under a lock the caller owns (the collector's
 * store lock) so that "which nodes finished this cycle" and the values
 * they staged are read in one critical section (atomic publication).
 * Every call except dbp_poller_start/_stop is made with that lock held;
 * the job runs without it.
 */
#ifndef DBP_METRICS_POLLER_H
#define DBP_METRICS_POLLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum dbp_poller_state {
    DBP_POLLER_IDLE, /* nothing staged; may be kicked */
    DBP_POLLER_BUSY, /* the job is running: its staging is the poller's */
    DBP_POLLER_DONE, /* the job returned; staging ready to publish */
};

struct dbp_poller;

/* job(arg, token) runs on the poller's thread for each kick; fini(arg) runs
 * there once before it exits (close the connection it owns).  done is
 * broadcast (under lock) when a job returns. */
struct dbp_poller *dbp_poller_start(const char *name, void (*job)(void *arg, uint64_t token),
                                    void (*fini)(void *arg), void *arg, pthread_mutex_t *lock,
                                    pthread_cond_t *done);
/* Stop and join (waits for a job in flight); lock NOT held. */
void dbp_poller_stop(struct dbp_poller *p);

enum dbp_poller_state dbp_poller_state(const struct dbp_poller *p);
/* Monotonic ns when the running job started (BUSY), else 0. */
uint64_t dbp_poller_busy_since(const struct dbp_poller *p);
/* Start a job unless one is running; false when busy. */
bool dbp_poller_kick(struct dbp_poller *p, uint64_t token);
/* The staging was published: DONE -> IDLE. */
void dbp_poller_consume(struct dbp_poller *p);

#endif
