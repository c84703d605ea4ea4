/* schedule.h -- the lifecycle's decisions (which nodes a warm-up invokes, which nodes are due a
 * backup), pure and clock-injected: icproxy's timers (lifecycle.c) and the simulator (src/sim)
 * both ask these functions. */
#ifndef IC_MODEL_SCHEDULE_H
#define IC_MODEL_SCHEDULE_H

#include <stdint.h>

#define SCHED_WARMUP_GRACE_MS 50  /* a warm-up invocation takes ~20 ms on the local platform */
/* Backups at once by default (option backup-concurrency): each one doubles a function's
 * instances, which a laptop feels; a pool of hundreds on AWS wants more (docs/EVALUATION.md). */
#define SCHED_BACKUP_CONCURRENCY 2

/* A warm-up tick invokes a node unless it is serving or being woken already (warm anyway). */
int sched_warmup_wanted(int serving_or_waking);

/* The command a sleeping node is invoked with when requests wait for it: "backup" when the only
 * one is a backup (its invocation bills as backup), "activate" otherwise. */
const char *sched_wake_command(int backup_only);

/* Whether a node's instance may be a backup's source: the proxy knows it (`known`: connected, or
 * asleep after it said HELLO), has reconciled what it holds with the object table
 * (`reconciled`), and is not waking it (`waking`: invoking, or down). A sync makes the peer a
 * mirror of the source, so an instance that came up empty must never overwrite a peer that still
 * holds the data. */
int sched_backup_source_ok(int known, int reconciled, int waking);

typedef enum {
    SCHED_BACKUP_NOT_DUE = 0, /* nothing to do for this node now */
    SCHED_BACKUP_ARMED,       /* first data seen: *last_backup_ms was set to spread the first */
    SCHED_BACKUP_START,       /* start a backup now */
} sched_backup_t;

/* One node at a backup tick. `idle`: no backup running on it; `chunks`: chunks placed on it;
 * `eligible`: its instance is known, reconciled and reachable (only such an instance may be the
 * source, so an empty newcomer never overwrites a peer that holds the data); `*last_backup_ms`:
 * when its last backup ended, 0 before the first; `rnd`: a random number, used to put the first
 * backup between half an interval and an interval after the node first holds data. */
sched_backup_t sched_backup_check(uint64_t *last_backup_ms, int idle, uint64_t chunks, int eligible,
                                  uint64_t now_ms, uint64_t interval_ms, uint64_t rnd);

/* How often the backup tick runs for an interval: a twentieth of it, within 10 ms..1 s. */
uint64_t sched_backup_tick_ms(uint64_t interval_ms);

#endif
