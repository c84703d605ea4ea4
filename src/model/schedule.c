/* schedule.c -- warm-up and backup decisions, shared by icproxy's lifecycle and the simulator. */
#include "schedule.h"

const char *sched_wake_command(int backup_only)
{
    return backup_only ? "backup" : "activate";
}

int sched_backup_source_ok(int known, int reconciled, int waking)
{
    return known && reconciled && !waking;
}

int sched_warmup_wanted(int serving_or_waking)
{
    return !serving_or_waking;
}

sched_backup_t sched_backup_check(uint64_t *last_backup_ms, int idle, uint64_t chunks, int eligible,
                                  uint64_t now_ms, uint64_t interval_ms, uint64_t rnd)
{
    if (!idle || chunks == 0) return SCHED_BACKUP_NOT_DUE;
    if (!*last_backup_ms) {
        /* The clock starts when the node first holds data: a backup of an empty store is
         * useless, and spreading the first ones avoids a stampede. */
        uint64_t back = rnd % (interval_ms / 2 + 1);
        *last_backup_ms = now_ms > back ? now_ms - back : 1;
        return SCHED_BACKUP_ARMED;
    }
    if (now_ms - *last_backup_ms < interval_ms) return SCHED_BACKUP_NOT_DUE;
    return eligible ? SCHED_BACKUP_START : SCHED_BACKUP_NOT_DUE;
}

uint64_t sched_backup_tick_ms(uint64_t interval_ms)
{
    uint64_t next = interval_ms / 20;
    return next < 10 ? 10 : next > 1000 ? 1000 : next;
}
