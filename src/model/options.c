/* options.c -- the shared option groups as tables of their own (see options.h), and the billing
 * option's parser. */
#include "options.h"

#include <string.h>

#define NO_FIELD(f) 0

static const conf_option_t pool[] = {MODEL_OPTIONS_POOL(NO_FIELD), CONF_END};
static const conf_option_t platform[] = {MODEL_OPTIONS_PLATFORM(NO_FIELD), CONF_END};
static const conf_option_t node_policy[] = {MODEL_OPTIONS_NODE_POLICY(NO_FIELD), CONF_END};
static const conf_option_t lifecycle[] = {MODEL_OPTIONS_LIFECYCLE(NO_FIELD), CONF_END};
static const conf_option_t workload[] = {MODEL_OPTIONS_WORKLOAD(NO_FIELD), CONF_END};
static const conf_option_t trace[] = {MODEL_OPTIONS_TRACE(NO_FIELD), CONF_END};
static const conf_option_t prices[] = {MODEL_OPTIONS_PRICES(NO_FIELD), CONF_END};

const model_option_group_t model_option_groups[] = {
    {"pool", pool},           {"platform", platform}, {"node-policy", node_policy},
    {"lifecycle", lifecycle}, {"workload", workload}, {"trace", trace},
    {"prices", prices},       {NULL, NULL},
};

int model_billing_parse(const char *text, int64_t *billing_ms)
{
    if (!strcmp(text, "1ms"))
        *billing_ms = 1;
    else if (!strcmp(text, "100ms"))
        *billing_ms = 100;
    else
        return -1;
    return 0;
}
