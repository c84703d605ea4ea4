/* platform_child.h -- the embedded icplatform the proxy starts and stops (platform_child.c). */
#ifndef IC_PROXY_PLATFORM_CHILD_H
#define IC_PROXY_PLATFORM_CHILD_H

#include <stddef.h>

#include "proxy_config.h"

/* ---- local platform child ---- */
typedef struct {
    int pid;
    int port;
} platform_child_t;
/* The platform's admin API token: 16 to 512 printable bytes (icplatform's bounds). */
#define PLATFORM_TOKEN_MIN 16
#define PLATFORM_TOKEN_MAX 512
/* Chooses the token the proxy reads the platform's /admin/stats with, into out (cap >
 * PLATFORM_TOKEN_MAX): the first line of --platform-admin-token-file if given; else, for the
 * embedded platform, a fresh random one (32 bytes, hex); else "" (an external platform's stats
 * are not read). 0, or -1 with err set. */
int platform_admin_token(const proxy_config_t *cfg, char *out, size_t cap, char *err,
                         size_t errlen);
/* Starts icplatform with admin_token as its admin API token (IC_PLATFORM_ADMIN_TOKEN, which the
 * platform removes from its environment before starting any instance). */
int platform_child_start(const proxy_config_t *cfg, const char *self_dir, const char *admin_token,
                         platform_child_t *out, char *err, size_t errlen);
void platform_child_stop(platform_child_t *pc);

#endif
