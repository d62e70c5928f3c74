/*
 * bench_series.c - cost of dbp_series_push() (rate + window statistics +
 * fluctuation rule + ring update) and memory per series.
 *
 * Usage: bench_series [series [samples [history]]]  (defaults 1500 10000 720)
 *
 * Samples are pushed cycle by cycle across all series, as the collector
 * does, so the working set (all rings) is realistic rather than one hot
 * series in L1.  Two thirds of the series are counters (random increments,
 * a reset now and then, an occasional gap), one third gauges (noise with
 * spikes).  Input generation is a table lookup, measured separately and
 * subtracted.  Plain C, no cmocka; prints "name: value" lines.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dbp/series.h"

#define TABLE 4096

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static long parse_arg(int argc, char **argv, int i, long def)
{
    long v;

    if (argc <= i)
        return def;
    v = strtol(argv[i], NULL, 10);
    return v > 0 ? v : def;
}

int main(int argc, char **argv)
{
    size_t nseries = (size_t)parse_arg(argc, argv, 1, 1500);
    size_t nsamples = (size_t)parse_arg(argc, argv, 2, 10000);
    size_t history = (size_t)parse_arg(argc, argv, 3, 720);
    struct dbp_series *s = calloc(nseries, sizeof(*s));
    double *raw = calloc(nseries, sizeof(*raw));
    double inc[TABLE], noise[TABLE];
    unsigned char event[TABLE];
    uint64_t seed = 12345;
    size_t flags = 0, valid = 0, mem = 0;
    double sink = 0.0, t0, t_push, t_gen;

    if (!s || !raw) {
        fprintf(stderr, "bench_series: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < TABLE; i++) {
        double u = unif(&seed);

        inc[i] = 1000.0 * unif(&seed) * (u < 0.02 ? 20.0 : 1.0);
        noise[i] = 500.0 + 10.0 * (unif(&seed) - 0.5) + (u < 0.02 ? 200.0 : 0.0);
        /* 1 = counter reset, 2 = gap */
        event[i] = u > 0.9995 ? 1 : (u < 0.0003 ? 2 : 0);
    }
    for (size_t i = 0; i < nseries; i++) {
        enum dbp_metric_kind kind = i % 3 == 2 ? DBP_METRIC_GAUGE : DBP_METRIC_COUNTER;
        int rc = dbp_series_init(&s[i], kind, history, NULL);

        if (rc) {
            fprintf(stderr, "bench_series: dbp_series_init: %d\n", rc);
            return 1;
        }
        raw[i] = 1e9 * unif(&seed);
        mem += dbp_series_mem_bytes(&s[i]);
    }

    /* the measured loop */
    t0 = now_s();
    for (size_t j = 0; j < nsamples; j++) {
        double ts = 5.0 * (double)(j + 1);

        for (size_t i = 0; i < nseries; i++) {
            size_t k = (i * 7919u + j * 104729u) & (TABLE - 1);
            struct dbp_sample out;
            double v;

            if (s[i].kind == DBP_METRIC_COUNTER) {
                if (event[k] == 1)
                    raw[i] = 0.0;
                else if (event[k] == 2)
                    dbp_series_mark_gap(&s[i]);
                raw[i] += inc[k];
                v = raw[i];
            } else {
                v = noise[k];
            }
            dbp_series_push(&s[i], ts, v, &out);
            flags += out.fluctuation;
            valid += out.valid;
        }
    }
    t_push = now_s() - t0;

    /* the same input generation without the push */
    t0 = now_s();
    for (size_t j = 0; j < nsamples; j++) {
        for (size_t i = 0; i < nseries; i++) {
            size_t k = (i * 7919u + j * 104729u) & (TABLE - 1);

            if (i % 3 != 2) {
                if (event[k] == 1)
                    raw[i] = 0.0;
                raw[i] += inc[k];
                sink += raw[i];
            } else {
                sink += noise[k];
            }
        }
        __asm__ volatile("" : : "g"(&sink) : "memory");
    }
    t_gen = now_s() - t0;

    {
        double n = (double)nseries * (double)nsamples;
        double ns = (t_push - t_gen) / n * 1e9;

        printf("series_count: %zu\n", nseries);
        printf("series_samples_per_series: %zu\n", nsamples);
        printf("series_history: %zu\n", history);
        printf("series_push_ns_per_sample: %.1f\n", ns);
        printf("series_push_ns_per_sample_incl_input: %.1f\n", t_push / n * 1e9);
        printf("series_pushes_per_second: %.3g\n", n / (t_push - t_gen));
        printf("series_struct_bytes: %zu\n", sizeof(struct dbp_series));
        printf("series_mem_bytes_per_series: %zu\n", mem / nseries);
        printf("series_mem_total_mib: %.2f\n", (double)mem / (1024.0 * 1024.0));
        printf("series_valid_points: %zu\n", valid);
        printf("series_fluctuations: %zu\n", flags);
        if (sink == 42.0)
            printf("\n");
    }
    for (size_t i = 0; i < nseries; i++)
        dbp_series_release(&s[i]);
    free(s);
    free(raw);
    return 0;
}
