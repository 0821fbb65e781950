/*
 * pwr_watch.c - the sysfs change watcher (see pwr_watch.h for the contract).
 *
 * One thread per watch. It sleeps on a condition variable (CLOCK_MONOTONIC)
 * until the first path is due or pwr_watch_free asks it to stop, reads every
 * due path (open, one read(2) of at most PWR_WATCH_TEXT bytes, close: a
 * sysfs attribute hands its whole text to the first read at offset 0),
 * compares with that path's previous outcome and, if any changed, adds 1 to
 * the eventfd. The mutex is held except while sleeping, so
 * pwr_watch_confirmed and pwr_watch_rounds see a finished round, and
 * pwr_watch_free waits for at most one round of reads.
 */
#define _POSIX_C_SOURCE 200809L

#include "pwr_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NEVER INT32_MIN /* an outcome no read gives: the first read differs */

struct ent {
    const char *path;
    double period, due, confirmed;
    int32_t len; /* >= 0: bytes of text; < 0: -errno of the failed read */
    char text[PWR_WATCH_TEXT];
};

struct pwr_watch {
    int32_t n;
    struct ent *e;
    char *paths; /* the copied path strings, one block */
    int efd;
    int stop;
    uint64_t rounds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timespec at(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* bytes read into buf (at most PWR_WATCH_TEXT), or -errno */
static int32_t read_text(const char *path, char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno > 0 ? -errno : -EIO;
    ssize_t r;
    do
        r = read(fd, buf, PWR_WATCH_TEXT);
    while (r < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (r < 0)
        return e > 0 ? -e : -EIO;
    return (int32_t)r;
}

/* read the due paths; 1 if an outcome changed */
static int round_of_reads(pwr_watch *w, double now)
{
    char buf[PWR_WATCH_TEXT];
    int changed = 0;
    for (int32_t i = 0; i < w->n; i++) {
        struct ent *e = &w->e[i];
        if (e->due > now)
            continue;
        int32_t len = read_text(e->path, buf);
        if (len != e->len || (len > 0 && memcmp(buf, e->text, (size_t)len) != 0)) {
            changed = 1;
            e->len = len;
            if (len > 0)
                memcpy(e->text, buf, (size_t)len);
        } else {
            e->confirmed = now;
        }
        e->due += e->period;
        if (e->due <= now) /* a late round skips what it missed */
            e->due = now + e->period;
    }
    return changed;
}

static void *run(void *arg)
{
    pwr_watch *w = arg;
    const uint64_t one = 1;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        double next = w->e[0].due;
        for (int32_t i = 1; i < w->n; i++)
            if (w->e[i].due < next)
                next = w->e[i].due;
        double now = mono();
        if (next > now) {
            struct timespec ts = at(next);
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            continue; /* woken early, by stop or spuriously: look again */
        }
        if (round_of_reads(w, now)) {
            ssize_t r;
            do
                r = write(w->efd, &one, sizeof one);
            while (r < 0 && errno == EINTR);
            /* EAGAIN: the counter is already non-zero, the caller will read */
        }
        w->rounds++;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

pwr_watch *pwr_watch_new(int32_t n, const char *const *paths,
                         const double *periods, int efd, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    *err = PWR_WATCH_EINVAL;
    if (n <= 0 || !paths || !periods || efd < 0)
        return NULL;
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        if (!paths[i] || !(periods[i] * 1e6 >= PWR_WATCH_MIN_PERIOD_US) || periods[i] > 1e9)
            return NULL;
        size_t l = strlen(paths[i]);
        if (l == 0 || l >= PATH_MAX)
            return NULL;
        total += l + 1;
    }
    *err = PWR_WATCH_ENOMEM;
    pwr_watch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->e = calloc((size_t)n, sizeof *w->e);
    w->paths = malloc(total);
    if (!w->e || !w->paths) {
        free(w->e);
        free(w->paths);
        free(w);
        return NULL;
    }
    w->n = n;
    w->efd = efd;
    char *p = w->paths;
    double now = mono();
    for (int32_t i = 0; i < n; i++) {
        size_t l = strlen(paths[i]) + 1;
        memcpy(p, paths[i], l);
        w->e[i].path = p;
        p += l;
        w->e[i].period = periods[i];
        w->e[i].due = now;
        w->e[i].confirmed = -1.0;
        w->e[i].len = NEVER;
    }
    *err = PWR_WATCH_ETHREAD;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    ok = ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0;
    ok = ok && pthread_cond_init(&w->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (ok && pthread_mutex_init(&w->mu, NULL) != 0) {
        pthread_cond_destroy(&w->cv);
        ok = 0;
    }
    if (ok && pthread_create(&w->th, NULL, run, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        ok = 0;
    }
    if (!ok) {
        free(w->e);
        free(w->paths);
        free(w);
        return NULL;
    }
    *err = PWR_WATCH_OK;
    return w;
}

void pwr_watch_free(pwr_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->e);
    free(w->paths);
    free(w);
}

uint64_t pwr_watch_rounds(pwr_watch *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t r = w->rounds;
    pthread_mutex_unlock(&w->mu);
    return r;
}

double pwr_watch_confirmed(pwr_watch *w, int32_t i)
{
    if (i < 0 || i >= w->n)
        return -1.0;
    pthread_mutex_lock(&w->mu);
    double t = w->e[i].confirmed;
    pthread_mutex_unlock(&w->mu);
    return t;
}
