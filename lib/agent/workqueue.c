/* SPDX-License-Identifier: Apache-2.0 */
/* workqueue.c: client-go's rate-limited controller queue in small (see workqueue.h; spec
 * istio-cni.md §5.2). A node holds a few hundred pods, so the keys live in one array searched
 * linearly (a few µs), which keeps memory exactly proportional to the keys in flight. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/workqueue.h"
#include "base/macro.h"

void workqueue_bucket_init(struct workqueue_bucket *b, double qps, unsigned burst, uint64_t now) {
        *b = (struct workqueue_bucket){ .qps = qps, .burst = burst ? burst : 1, .tokens = burst ? burst : 1,
                                        .last_usec = now };
}

static void bucket_refill(struct workqueue_bucket *b, uint64_t now) {
        if (now > b->last_usec) {
                b->tokens += (double)(now - b->last_usec) * b->qps / 1e6;
                if (b->tokens > b->burst)
                        b->tokens = b->burst;
                b->last_usec = now;
        }
}

uint64_t workqueue_bucket_reserve(struct workqueue_bucket *b, uint64_t now) {
        bucket_refill(b, now);
        b->tokens -= 1.0;
        if (b->tokens >= 0 || b->qps <= 0)
                return 0;
        return (uint64_t)(-b->tokens * 1e6 / b->qps) + 1;
}

bool workqueue_bucket_take(struct workqueue_bucket *b, uint64_t now, uint64_t *ret_wait) {
        bucket_refill(b, now);
        if (b->tokens >= 1.0) {
                b->tokens -= 1.0;
                return true;
        }
        *ret_wait = b->qps > 0 ? (uint64_t)((1.0 - b->tokens) * 1e6 / b->qps) + 1 : UINT64_MAX / 2;
        return false;
}

struct item {
        char *key;
        bool queued, processing, dirty;
        uint64_t due, dirty_due;
        unsigned requeues;
};

struct workqueue {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct workqueue_options o;
        struct workqueue_bucket bucket;
        struct item *it;
        size_t n, cap;
        bool shutdown;
};

int workqueue_new(const struct workqueue_options *o, struct workqueue **ret) {
        struct workqueue *q = calloc(1, sizeof *q);
        pthread_condattr_t ca;

        if (!q)
                return -ENOMEM;
        if (o)
                q->o = *o;
        if (!q->o.base_delay_usec)
                q->o.base_delay_usec = 5000;
        if (!q->o.max_delay_usec)
                q->o.max_delay_usec = 1000ULL * 1000 * 1000;
        if (q->o.qps <= 0)
                q->o.qps = 10;
        if (!q->o.burst)
                q->o.burst = 100;
        if (!q->o.max_attempts)
                q->o.max_attempts = 5;
        workqueue_bucket_init(&q->bucket, q->o.qps, q->o.burst, now_usec());
        pthread_mutex_init(&q->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&q->cond, &ca);
        pthread_condattr_destroy(&ca);
        *ret = q;
        return 0;
}

struct workqueue *workqueue_free(struct workqueue *q) {
        if (!q)
                return NULL;
        for (size_t i = 0; i < q->n; i++)
                free(q->it[i].key);
        free(q->it);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
        return NULL;
}

static struct item *find(struct workqueue *q, const char *key) {
        for (size_t i = 0; i < q->n; i++)
                if (streq(q->it[i].key, key))
                        return &q->it[i];
        return NULL;
}

static struct item *find_or_add(struct workqueue *q, const char *key) {
        struct item *it = find(q, key);
        if (it)
                return it;
        if (q->n == q->cap) {
                size_t cap = q->cap ? q->cap * 2 : 32;
                struct item *n = realloc(q->it, cap * sizeof *n);
                if (!n)
                        return NULL;
                q->it = n;
                q->cap = cap;
        }
        char *k = strdup(key);
        if (!k)
                return NULL;
        q->it[q->n] = (struct item){ .key = k };
        return &q->it[q->n++];
}

/* Drops an item nobody needs any more (not queued, not in work, no attempts to remember). */
static void gc(struct workqueue *q, struct item *it) {
        if (it->queued || it->processing || it->requeues)
                return;
        size_t i = (size_t)(it - q->it);
        free(it->key);
        q->it[i] = q->it[--q->n];
        /* give a drained queue's memory back (500 broken pods at once must not leave it grown) */
        if (q->n == 0 && q->cap > 64) {
                free(q->it);
                q->it = NULL;
                q->cap = 0;
        }
}

static int add_locked(struct workqueue *q, const char *key, uint64_t due) {
        if (q->shutdown)
                return -ESHUTDOWN;
        struct item *it = find_or_add(q, key);
        if (!it)
                return -ENOMEM;
        if (it->processing) {
                if (!it->dirty || due < it->dirty_due)
                        it->dirty_due = due;
                it->dirty = true;
        } else if (!it->queued || due < it->due) {
                it->queued = true;
                it->due = due;
        }
        pthread_cond_broadcast(&q->cond);
        return 0;
}

int workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_usec) {
        pthread_mutex_lock(&q->lock);
        int r = add_locked(q, key, now_usec() + delay_usec);
        pthread_mutex_unlock(&q->lock);
        return r;
}

int workqueue_add(struct workqueue *q, const char *key) {
        return workqueue_add_after(q, key, 0);
}

int workqueue_add_rate_limited(struct workqueue *q, const char *key) {
        int r;
        pthread_mutex_lock(&q->lock);
        struct item *it = find_or_add(q, key);
        if (!it) {
                pthread_mutex_unlock(&q->lock);
                return -ENOMEM;
        }
        /* client-go: requeue while numRequeues + 1 < maxAttempts, else forget */
        if (it->requeues + 1 >= q->o.max_attempts) {
                it->requeues = 0;
                gc(q, it);
                pthread_mutex_unlock(&q->lock);
                return 0;
        }
        uint64_t now = now_usec(), backoff = q->o.base_delay_usec;
        for (unsigned i = 0; i < it->requeues && backoff < q->o.max_delay_usec; i++)
                backoff *= 2;
        if (backoff > q->o.max_delay_usec)
                backoff = q->o.max_delay_usec;
        it->requeues++;
        uint64_t wait = workqueue_bucket_reserve(&q->bucket, now);
        r = add_locked(q, key, now + (wait > backoff ? wait : backoff));
        pthread_mutex_unlock(&q->lock);
        return r < 0 ? r : 1;
}

void workqueue_forget(struct workqueue *q, const char *key) {
        pthread_mutex_lock(&q->lock);
        struct item *it = find(q, key);
        if (it) {
                it->requeues = 0;
                gc(q, it);
        }
        pthread_mutex_unlock(&q->lock);
}

unsigned workqueue_requeues(struct workqueue *q, const char *key) {
        pthread_mutex_lock(&q->lock);
        struct item *it = find(q, key);
        unsigned n = it ? it->requeues : 0;
        pthread_mutex_unlock(&q->lock);
        return n;
}

int workqueue_get(struct workqueue *q, uint64_t timeout_usec, char **ret_key) {
        uint64_t deadline = now_usec() + timeout_usec;
        int r;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                if (q->shutdown) {
                        r = -ESHUTDOWN;
                        break;
                }
                uint64_t now = now_usec(), next = deadline;
                struct item *best = NULL;
                for (size_t i = 0; i < q->n; i++)
                        if (q->it[i].queued && !q->it[i].processing && (!best || q->it[i].due < best->due))
                                best = &q->it[i];
                if (best && best->due <= now) {
                        char *k = strdup(best->key);
                        if (!k) {
                                r = -ENOMEM;
                                break;
                        }
                        best->queued = false;
                        best->processing = true;
                        *ret_key = k;
                        r = 0;
                        break;
                }
                if (now >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (best && best->due < next)
                        next = best->due;
                struct timespec ts = { .tv_sec = (time_t)(next / 1000000), .tv_nsec = (long)(next % 1000000) * 1000 };
                pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
        pthread_mutex_unlock(&q->lock);
        return r;
}

void workqueue_done(struct workqueue *q, const char *key) {
        pthread_mutex_lock(&q->lock);
        struct item *it = find(q, key);
        if (it) {
                it->processing = false;
                if (it->dirty && !q->shutdown) {
                        it->dirty = false;
                        if (!it->queued || it->dirty_due < it->due)
                                it->due = it->dirty_due;
                        it->queued = true;
                        pthread_cond_broadcast(&q->cond);
                }
                gc(q, it);
        }
        pthread_mutex_unlock(&q->lock);
}

unsigned workqueue_len(struct workqueue *q) {
        unsigned n = 0;
        pthread_mutex_lock(&q->lock);
        for (size_t i = 0; i < q->n; i++)
                n += q->it[i].queued;
        pthread_mutex_unlock(&q->lock);
        return n;
}

void workqueue_shutdown(struct workqueue *q) {
        pthread_mutex_lock(&q->lock);
        q->shutdown = true;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
}
