/* SPDX-License-Identifier: Apache-2.0 */
/* workqueue.h: a rate-limited work queue of string keys, as client-go's controller queue.
 * Spec: istio-cni.md §5.2 (deduplicated keys; the default controller rate limiter = max of a
 * per-item exponential backoff, 5 ms doubling up to 1000 s, and a global token bucket of 10 qps,
 * burst 100; at most 5 attempts), §5.4 (per-node action rate limit, beyond Istio).
 *
 * A key is in the queue at most once. A key added while it is being processed is queued again
 * when the worker calls workqueue_done (never processed twice at the same time).
 * Threads: every function may be called from any thread. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A token bucket (golang.org/x/time/rate semantics: reservations may go into debt). */
struct workqueue_bucket {
        double qps, tokens;
        unsigned burst;
        uint64_t last_usec;
};
void workqueue_bucket_init(struct workqueue_bucket *b, double qps, unsigned burst, uint64_t now);
/* Reserves one token; returns how long to wait until it is due (0: now). */
uint64_t workqueue_bucket_reserve(struct workqueue_bucket *b, uint64_t now);
/* Takes a token if one is there now (true), else false and *ret_wait until one will be. */
bool workqueue_bucket_take(struct workqueue_bucket *b, uint64_t now, uint64_t *ret_wait);

struct workqueue_options {
        uint64_t base_delay_usec;       /* 0 → 5 ms */
        uint64_t max_delay_usec;        /* 0 → 1000 s */
        double qps;                     /* 0 → 10 */
        unsigned burst;                 /* 0 → 100 */
        unsigned max_attempts;          /* 0 → 5 */
};

struct workqueue;

int workqueue_new(const struct workqueue_options *o, struct workqueue **ret);
struct workqueue *workqueue_free(struct workqueue *q);

/* Adds key now (deduplicated). 0, -ENOMEM, -ESHUTDOWN. */
int workqueue_add(struct workqueue *q, const char *key);
/* Adds key after delay (an earlier pending time wins). */
int workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_usec);
/* After a failure: requeues key after max(its backoff, the global bucket's delay) and counts an
 * attempt. Returns 1 when requeued, 0 when the key had its last attempt (then it is forgotten). */
int workqueue_add_rate_limited(struct workqueue *q, const char *key);
/* Success (or give up): resets key's attempts. */
void workqueue_forget(struct workqueue *q, const char *key);
/* Attempts so far (failures since the last forget). */
unsigned workqueue_requeues(struct workqueue *q, const char *key);

/* Waits up to timeout_usec for a due key. 0 and *ret_key (malloc'ed; call workqueue_done with it),
 * -ETIMEDOUT, -ESHUTDOWN, -ENOMEM. */
int workqueue_get(struct workqueue *q, uint64_t timeout_usec, char **ret_key);
void workqueue_done(struct workqueue *q, const char *key);
/* Keys waiting (due or delayed), not counting those being processed. */
unsigned workqueue_len(struct workqueue *q);
/* Wakes every waiter; later adds fail with -ESHUTDOWN and gets return -ESHUTDOWN. */
void workqueue_shutdown(struct workqueue *q);
