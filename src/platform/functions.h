/* functions.h -- a function's definition as the Lambda control plane sees it: request
 * validation, configuration JSON, zip checks and unpacking, and the state directory (no HTTP,
 * no processes). */
#ifndef IC_PLATFORM_FUNCTIONS_H
#define IC_PLATFORM_FUNCTIONS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Lambda's limits. A direct upload is a base64 ZipFile in a JSON body: 50 MiB of zip is
 * 69905067 bytes of request, Lambda's own figure in its RequestEntityTooLargeException. */
#define FN_MAX_ZIP (50 * 1024 * 1024)
#define FN_MAX_REQUEST 69905067
#define FN_MAX_UNZIPPED (250 * 1024 * 1024)
#define FN_MAX_ZIP_ENTRIES 10000
#define FN_MAX_ENV_BYTES 4096 /* Lambda: 4 KB of environment variables */
#define FN_MAX_TAGS 50
#define FN_MEMORY_MIN 128
#define FN_MEMORY_MAX 10240
#define FN_TIMEOUT_MAX 900
#define FN_NAME_MAX 64

/* One function's definition. Strings are bounded; env and tags are cJSON objects of strings,
 * owned by the definition (fn_def_clear frees them). */
typedef struct {
    char name[FN_NAME_MAX + 1];
    char runtime[32];
    char arch[8]; /* "x86_64" or "arm64" */
    char handler[128];
    char role[256];
    char description[256];
    int64_t memory_mb;
    int64_t timeout_s;
    cJSON *env;  /* {"NAME":"value",...}, never NULL after fn_def_init */
    cJSON *tags; /* the same */
    char code_sha256[48]; /* base64 SHA-256 of the zip */
    int64_t code_size;
    uint64_t code_version; /* the code-N directory under the function's state dir */
    uint64_t generation;   /* moves on with every change: instances of an older one retire */
    char revision_id[40];
    char last_modified[40]; /* 2024-01-02T03:04:05.678+0000 */
    int64_t ready_at_ms;    /* wall clock: Pending / InProgress until then */
    int updating;           /* the last change was an update (LastUpdateStatus InProgress) */
    int64_t reserved_concurrency; /* -1: none */
    int64_t max_retry_attempts;   /* -1: Lambda's default (2) */
    int64_t max_event_age_s;      /* -1: Lambda's default (21600) */
    int preconfigured;            /* made by --function-count, not by CreateFunction */
} fn_def_t;

/* An error for the caller: HTTP status, Lambda error type and message. */
typedef struct {
    int status;
    const char *type;
    char message[512];
} fn_error_t;

void fn_def_init(fn_def_t *d);
void fn_def_clear(fn_def_t *d);
/* Deep copy (env and tags duplicated). 0 or -ENOMEM. */
int fn_def_copy(fn_def_t *dst, const fn_def_t *src);

/* Whether name is a valid function name (1-64 of [A-Za-z0-9_-]). */
int fn_name_ok(const char *name, size_t len);

/* Parses a CreateFunction body into d (fn_def_init'ed) and, when present, its zip: *zip
 * (malloc'd, decoded from base64; caller frees) and *zip_len. 0, or -1 with err filled. */
int fn_parse_create(const char *body, size_t len, fn_def_t *d, unsigned char **zip,
                    size_t *zip_len, fn_error_t *err);
/* Applies an UpdateFunctionConfiguration body to d. 0, or -1 with err (d untouched then). */
int fn_parse_update_config(const char *body, size_t len, fn_def_t *d, fn_error_t *err);
/* Parses an UpdateFunctionCode body: its zip (as above) and Architectures, if any, into arch
 * (left as is when absent). 0, or -1 with err. */
int fn_parse_update_code(const char *body, size_t len, unsigned char **zip, size_t *zip_len,
                         char arch[8], fn_error_t *err);

/* Checks a zip as a provided.* function needs it: it opens, holds at most FN_MAX_ZIP_ENTRIES
 * entries of at most FN_MAX_UNZIPPED bytes together, no entry leaves the directory (absolute
 * paths, ".."), and `bootstrap` is there as an executable file (its Unix mode in the external
 * attributes). 0, or -1 with err in Lambda's words. */
int fn_zip_check(const unsigned char *zip, size_t len, fn_error_t *err);
/* Unpacks a zip that passed fn_zip_check into the directory dir (created, must not exist),
 * keeping the executable bits. 0 or a negative errno. */
int fn_zip_unpack(const unsigned char *zip, size_t len, const char *dir);
/* The base64 SHA-256 of the zip into out (45 bytes at least). */
void fn_code_sha256(const unsigned char *zip, size_t len, char *out, size_t cap);

/* Marks d changed now: new RevisionId and LastModified, ready after delay_ms. */
void fn_def_touch(fn_def_t *d, int64_t now_ms, int64_t delay_ms, int updating);

/* Lambda's FunctionConfiguration document for d at wall time now_ms (State, LastUpdateStatus
 * computed from ready_at_ms). region and account make the ARN. NULL on ENOMEM. */
cJSON *fn_config_json(const fn_def_t *d, const char *region, const char *account, int64_t now_ms);
/* 1 while d is Pending (created, not yet active) or InProgress (updated, not yet done). */
int fn_def_busy(const fn_def_t *d, int64_t now_ms);

/* The state file: d as JSON (everything, env and tags included) and back. */
char *fn_def_save_json(const fn_def_t *d);
int fn_def_load_json(const char *text, size_t len, fn_def_t *d);

/* Base64 decode (standard alphabet, padding required, no line breaks); the output is malloc'd.
 * 0, -EINVAL for malformed input, -ENOMEM. */
int fn_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

#endif
