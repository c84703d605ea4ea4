/* config.h -- one option table per program drives its flags, config file, --help and sample config. */
#ifndef IC_CONFIG_H
#define IC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    CONF_INT,    /* int64_t, plain integer */
    CONF_BYTES,  /* int64_t, accepts suffixes k/m/g (powers of 1024) */
    CONF_MS,     /* int64_t milliseconds, accepts suffixes ms/s/m/h */
    CONF_BOOL,   /* int, yes/no/true/false/1/0 */
    CONF_STRING, /* char *, owned by the config (strdup) */
} conf_type_t;

typedef struct {
    const char *name; /* "client-port": flag --client-port, file line "client-port 6378" */
    conf_type_t type;
    size_t offset; /* of the field inside the program's config struct */
    int64_t min, max;
    const char *def; /* default, in the same text form as a file value */
    const char *help;
    unsigned flags; /* CONF_F_* */
} conf_option_t;

/* CONF_F_RUNTIME: safe to change while the program runs (icproxy's CONFIG SET): the program reads
 * the value where it uses it instead of having built state from it at start. */
enum { CONF_F_RUNTIME = 1 << 0 };

#define CONF_END                                                                                   \
    {                                                                                              \
        NULL, 0, 0, 0, 0, NULL, NULL, 0                                                            \
    }

/* Decimal options are CONF_STRING text parsed with this: only digits, a point, an exponent and
 * signs (strtod alone would also take leading blanks, hexadecimal, "nan" and "inf"), the whole
 * text, at most CONF_DECIMAL_TEXT_MAX characters, a finite value within [lo, hi]. 0, or -EINVAL
 * (not such a number) / -ERANGE (out of range). */
#define CONF_DECIMAL_TEXT_MAX 32
int conf_parse_decimal(const char *text, double lo, double hi, double *out);

/* Sets every option to its default. */
int conf_defaults(const conf_option_t *table, void *cfg, char *err, size_t errlen);
/* Sets one option from text. 0, or -1 with a message in err. */
int conf_set(const conf_option_t *table, void *cfg, const char *name, const char *value, char *err,
             size_t errlen);
/* Reads "name value" lines ('#' comments, blank lines ignored). */
int conf_load_file(const conf_option_t *table, void *cfg, const char *path, char *err, size_t errlen);
/* Applies defaults, then --config FILE (if any), then every --name value / --name=value flag.
 * Returns 0, 1 if --help was asked (help already printed), or -1 with err set. */
int conf_parse_args(const conf_option_t *table, void *cfg, int argc, char **argv, const char *usage,
                    char *err, size_t errlen);
void conf_print_help(const conf_option_t *table, FILE *out, const char *usage);
/* Writes a commented sample config with every option at its default. */
void conf_print_sample(const conf_option_t *table, FILE *out);
/* The option called name (len bytes, exact case), or NULL. */
const conf_option_t *conf_find(const conf_option_t *table, const char *name, size_t len);
/* An option's current value as text in out (the form a file line takes: sizes in bytes, times in
 * milliseconds, yes/no). Returns the length, truncated to cap - 1. */
size_t conf_format_value(const conf_option_t *o, const void *cfg, char *out, size_t cap);
/* Writes "name value" for every option's current value (used by INFO and logs). */
void conf_print_values(const conf_option_t *table, const void *cfg, FILE *out);

/* Secret tokens (bearer tokens) travel in HTTP headers: text trimmed of surrounding blanks and
 * line ends must then be min..max printable ASCII bytes without blanks. conf_token_check copies
 * the trimmed token into out (cap > max); conf_token_read_file does so with the first line of
 * path. 0, -EINVAL (not such a token), or a negative errno from opening the file. Neither logs or
 * keeps the token; the caller wipes its copies when done. */
int conf_token_check(const char *text, size_t min, size_t max, char *out, size_t cap);
int conf_token_read_file(const char *path, size_t min, size_t max, char *out, size_t cap);

int conf_parse_bytes(const char *s, int64_t *out);
int conf_parse_ms(const char *s, int64_t *out);

#endif
