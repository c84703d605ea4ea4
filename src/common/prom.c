/* prom.c -- the Prometheus text exposition format 0.0.4: histograms and the sample writer. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "prom.h"

int prom_hist_init(prom_hist_t *h, const uint64_t *bounds, int nbounds)
{
    if (nbounds < 0 || nbounds > PROM_HIST_MAX_BOUNDS) return -EINVAL;
    for (int i = 1; i < nbounds; i++)
        if (bounds[i] <= bounds[i - 1]) return -EINVAL;
    memset(h, 0, sizeof *h);
    h->bounds = bounds;
    h->nbounds = nbounds;
    return 0;
}

void prom_hist_observe(prom_hist_t *h, uint64_t value)
{
    int i = 0;
    while (i < h->nbounds && value > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += value;
    h->count++;
}

void prom_escape_label_value(buf_t *b, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_append(b, "\\\\", 2);
        else if (*p == '"')
            buf_append(b, "\\\"", 2);
        else if (*p == '\n')
            buf_append(b, "\\n", 2);
        else
            buf_append(b, p, 1);
    }
}

/* HELP text escapes backslash and newline only (the format's rule for docstrings). */
static void escape_help(buf_t *b, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            buf_append(b, "\\\\", 2);
        else if (*p == '\n')
            buf_append(b, "\\n", 2);
        else
            buf_append(b, p, 1);
    }
}

void prom_family(buf_t *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s ", name);
    escape_help(b, help);
    buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

/* name{a="x",b="y"} with either label absent (name NULL); the braces only when there is one. */
static void sample_head(buf_t *b, const char *name, const char *suffix, const prom_label_t *l1,
                        const prom_label_t *l2)
{
    const prom_label_t *ls[2] = {l1 && l1->name ? l1 : NULL, l2 && l2->name ? l2 : NULL};
    buf_printf(b, "%s%s", name, suffix);
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (!ls[i]) continue;
        buf_printf(b, "%s%s=\"", n++ ? "," : "{", ls[i]->name);
        prom_escape_label_value(b, ls[i]->value);
        buf_append(b, "\"", 1);
    }
    if (n) buf_append(b, "}", 1);
}

static void write_double(buf_t *b, double v)
{
    if (isnan(v))
        buf_printf(b, "NaN");
    else if (isinf(v))
        buf_printf(b, "%sInf", v > 0 ? "+" : "-");
    else
        buf_printf(b, "%.15g", v);
}

void prom_sample_u64(buf_t *b, const char *name, const prom_label_t *label, uint64_t value)
{
    sample_head(b, name, "", label, NULL);
    buf_printf(b, " %" PRIu64 "\n", value);
}

void prom_sample_double(buf_t *b, const char *name, const prom_label_t *label, double value)
{
    sample_head(b, name, "", label, NULL);
    buf_append(b, " ", 1);
    write_double(b, value);
    buf_append(b, "\n", 1);
}

void prom_hist_write(buf_t *b, const char *name, const prom_label_t *label,
                     const prom_label_t *label2, const prom_hist_t *h, double scale)
{
    /* The le label goes last, after the caller's, as client libraries write it. */
    const prom_label_t *user[2] = {label && label->name ? label : NULL,
                                   label2 && label2->name ? label2 : NULL};
    uint64_t cumulative = 0;
    for (int i = 0; i <= h->nbounds; i++) {
        cumulative += h->counts[i];
        char le[48];
        if (i < h->nbounds)
            snprintf(le, sizeof le, "%.15g", (double)h->bounds[i] * scale);
        else
            snprintf(le, sizeof le, "+Inf");
        buf_printf(b, "%s_bucket{", name);
        for (int k = 0; k < 2; k++) {
            if (!user[k]) continue;
            buf_printf(b, "%s=\"", user[k]->name);
            prom_escape_label_value(b, user[k]->value);
            buf_append(b, "\",", 2);
        }
        buf_printf(b, "le=\"%s\"} %" PRIu64 "\n", le, cumulative);
    }
    sample_head(b, name, "_sum", user[0], user[1]);
    buf_append(b, " ", 1);
    write_double(b, (double)h->sum * scale);
    buf_append(b, "\n", 1);
    sample_head(b, name, "_count", user[0], user[1]);
    buf_printf(b, " %" PRIu64 "\n", h->count);
}
