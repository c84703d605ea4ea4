/* control.h -- the Lambda control plane of the local platform: the registry of created
 * functions, their code under the state directory, and the answers to the control API. */
#ifndef IC_PLATFORM_CONTROL_H
#define IC_PLATFORM_CONTROL_H

#include <stddef.h>

#include "platform.h"
#include "route.h"

typedef struct control control_t;

/* Opens the state directory (cfg->state_dir, or a temporary one removed by control_destroy),
 * loads the functions saved there and hands them to p. cfg and p must outlive the control.
 * 0 or a negative errno. */
int control_create(platform_t *p, const platform_config_t *cfg, control_t **out);
void control_destroy(control_t *c);

/* One answer: status, Lambda's error type (NULL on success), a malloc'd body (may be NULL). */
typedef struct {
    int status;
    const char *error_type;
    char *body;
} control_reply_t;

/* The request parts the control API reads; name is NUL-terminated (empty when the route has
 * none), query values are NULL when absent. */
typedef struct {
    route_kind_t kind;
    const char *name;
    const char *marker;    /* ListFunctions ?Marker= */
    const char *max_items; /* ListFunctions ?MaxItems= */
    const char *const *tag_keys; /* UntagResource: every ?tagKeys=, NULL-terminated */
    const char *body;
    size_t len;
} control_request_t;

/* Answers one control-plane request (called from HTTP threads; the control's own lock). */
void control_handle(control_t *c, const control_request_t *rq, control_reply_t *out);

#endif
