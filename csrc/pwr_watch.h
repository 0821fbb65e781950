/*
 * pwr_watch.h - a thread that polls small sysfs attribute files (hwmon
 * power*_input) and signals an eventfd only when one's text changed.
 *
 * Plain C99 + POSIX threads, no Python.h.
 *
 * Why: a sysfs attribute gives no notification of a new value (poll(2) on
 * it wakes only for attributes a driver sysfs_notify()s, which hwmon
 * readings are not: Documentation/hwmon/sysfs-interface), so a sensor is
 * polled. Each poll from the agent's event loop cost ~0.5 ms of CPU on the
 * lab VM (an asyncio wake-up ~0.23 ms, six reads ~0.09 ms, the loop's own
 * work); this thread's wake-up and six reads cost ~0.14 ms, and the agent
 * wakes only when a text changed (issue 10: agent CPU at rest <= 0.3 %).
 *
 * Invariants:
 *  - Paths are copied at pwr_watch_new; nothing is allocated afterwards.
 *  - A read takes at most PWR_WATCH_TEXT bytes into the watch's own buffer;
 *    a file is opened and closed on every read (a file replaced whole, a
 *    fake's rename or a driver rebound, is read as it is now).
 *  - Path i is read every periods[i] s (>= PWR_WATCH_MIN_PERIOD_US us) on
 *    CLOCK_MONOTONIC; its first read always counts as a change (the caller
 *    reads after it, so no change between the caller's first read and the
 *    thread's can be missed), and so does a change of the read's outcome
 *    (an error number instead of text, or back).
 *  - After a round with a change the thread adds 1 to the eventfd (write
 *    of a uint64_t); the fd is the caller's and is never closed here.
 *  - pwr_watch_free stops and joins the thread before freeing.
 */
#ifndef PWR_WATCH_H
#define PWR_WATCH_H

#include <stdint.h>

#define PWR_WATCH_OK 0
#define PWR_WATCH_EINVAL -1
#define PWR_WATCH_ENOMEM -2
#define PWR_WATCH_ETHREAD -3
#define PWR_WATCH_TEXT 65 /* a sysfs integer attribute is a few bytes */
#define PWR_WATCH_MIN_PERIOD_US 1000 /* the shortest period, microseconds */

typedef struct pwr_watch pwr_watch;

/* n paths, each read every periods[i] s; efd: an eventfd to signal.
 * NULL on error, *err says which. */
pwr_watch *pwr_watch_new(int32_t n, const char *const *paths,
                         const double *periods, int efd, int *err);
void pwr_watch_free(pwr_watch *w);
/* rounds done so far (for tests and status) */
uint64_t pwr_watch_rounds(pwr_watch *w);
/* CLOCK_MONOTONIC s of path i's last read whose text equalled the read
 * before it (-1 before any such read, or for a bad i) */
double pwr_watch_confirmed(pwr_watch *w, int32_t i);

#endif
