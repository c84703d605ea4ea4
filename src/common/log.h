/* log.h -- leveled, one-line-per-event logging with key=value fields. */
#ifndef IC_LOG_H
#define IC_LOG_H

#include <stdarg.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level_t;

/* Global settings; set once at start-up, before threads exist. */
void log_set_level(log_level_t level);
int log_level_parse(const char *name, log_level_t *out);
void log_set_component(const char *component); /* e.g. "proxy", "node[3]" */

/* Writes "TIME LEVEL component: message" to stderr. Thread-safe (one write per line). */
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_enabled(log_level_t level);

#define log_debug(...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
