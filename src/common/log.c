/* log.c -- leveled logging to stderr, one write(2) per line so lines never interleave. */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static log_level_t g_level = LOG_LEVEL_INFO;
static char g_component[48] = "ic";

void log_set_level(log_level_t level)
{
    g_level = level;
}

void log_set_component(const char *component)
{
    snprintf(g_component, sizeof g_component, "%s", component);
}

int log_level_parse(const char *name, log_level_t *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(log_level_t level)
{
    return level >= g_level;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    static const char tag[] = "DIWE";
    if (level < g_level) return;
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %c %s: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)tv.tv_usec / 1000, tag[level], g_component);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n +
                 (m < 0 ? 0
                        : ((size_t)m < sizeof line - (size_t)n - 1 ? (size_t)m
                                                                   : sizeof line - (size_t)n - 2));
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
