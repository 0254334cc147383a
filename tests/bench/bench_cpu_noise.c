/* bench_cpu_noise: how steady the machine's CPUs are, with nothing of ours
 * running. The benchmarks' p99 figures on a shared VM are set as much by the
 * host as by the code; this is the floor they are read against.
 *
 * One thread at SCHED_IDLE (it never delays anyone) repeats a fixed piece of
 * arithmetic and takes the CPU time each repetition cost itself
 * (CLOCK_THREAD_CPUTIME_ID: time it was not running is not counted, time the
 * hypervisor took from its vCPU, or an interrupt's, is). A slow window is
 * 100 ms in which at least 10 repetitions cost 3 times the median or more:
 * the vCPU ran at a third of its speed or less for a while. Each is printed
 * with its CLOCK_MONOTONIC time, to line up with BENCH_NOTIFY_DUMP.
 *
 *   bench_cpu_noise [--seconds N] [--quiet] */
#include <getopt.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK_ROUNDS 20000
#define WINDOW_NS 100000000LL
#define SLOW_FACTOR 3
#define SLOW_IN_WINDOW 10

static int64_t clock_ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double seconds = 10;
    int quiet = 0;
    static const struct option longopts[] = {{"seconds", 1, 0, 's'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 's')
            seconds = atof(optarg);
        else if (c == 'q')
            quiet = 1;
        else {
            fprintf(stderr, "usage: bench_cpu_noise [--seconds N (10)] [--quiet: the summary only]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (!(seconds > 0 && seconds <= 3600)) {
        fprintf(stderr, "bench_cpu_noise: --seconds must be in (0, 3600]\n");
        return 2;
    }
    struct sched_param sp = {0};
    if (sched_setscheduler(0, SCHED_IDLE, &sp) != 0)
        perror("bench_cpu_noise: SCHED_IDLE (measuring at the normal priority)");

    size_t cap = 1 << 16, n = 0;
    int64_t *cost = malloc(cap * sizeof *cost), *at = malloc(cap * sizeof *at);
    if (!cost || !at) {
        fprintf(stderr, "bench_cpu_noise: out of memory\n");
        return 1;
    }
    volatile uint64_t x = 1;
    int64_t start = clock_ns(CLOCK_MONOTONIC), end = start + (int64_t)(seconds * 1e9);
    for (int64_t now = start; now < end; now = clock_ns(CLOCK_MONOTONIC)) {
        if (n == cap) {
            cap *= 2;
            int64_t *c2 = realloc(cost, cap * sizeof *cost), *a2 = realloc(at, cap * sizeof *at);
            if (!c2 || !a2) {
                fprintf(stderr, "bench_cpu_noise: out of memory\n");
                return 1;
            }
            cost = c2;
            at = a2;
        }
        int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < CHUNK_ROUNDS; i++)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        cost[n] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        at[n++] = now;
    }
    if (n < 100) {
        fprintf(stderr, "bench_cpu_noise: only %zu repetitions ran: no idle CPU time to measure with\n", n);
        return 1;
    }
    int64_t *sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        fprintf(stderr, "bench_cpu_noise: out of memory\n");
        return 1;
    }
    memcpy(sorted, cost, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, by_value);
    int64_t median = sorted[n / 2];

    /* slow windows: runs of slow repetitions, cut into 100 ms windows */
    int windows = 0;
    size_t i = 0;
    while (i < n) {
        int64_t w0 = at[i];
        int slow = 0;
        size_t j = i;
        for (; j < n && at[j] < w0 + WINDOW_NS; j++)
            slow += cost[j] >= SLOW_FACTOR * median;
        if (slow >= SLOW_IN_WINDOW) {
            windows++;
            if (!quiet)
                printf("  slow window at %.3f ms (CLOCK_MONOTONIC): %d repetitions at >= %dx the median\n",
                       (double)w0 / 1e6, slow, SLOW_FACTOR);
        }
        i = j;
    }
    double secs = (double)(at[n - 1] - start) / 1e9;
    printf("cpu noise, nothing else of ours running: %zu repetitions, median %.1f us, p99 %.1f us, max %.1f us; "
           "%d slow windows of 100 ms in %.1f s (%.1f a second)\n",
           n, (double)median / 1e3, (double)sorted[n * 99 / 100] / 1e3, (double)sorted[n - 1] / 1e3, windows, secs,
           secs > 0 ? windows / secs : 0.0);
    free(sorted);
    free(cost);
    free(at);
    return 0;
}
