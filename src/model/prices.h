/* prices.h -- price sets as data: loads and checks a JSON price file (data/prices/NAME.json) with,
 * for each price, its value, unit, the date it was recorded, its source and how it was checked.
 * The cost model (cost.h) computes with what this loads. */
#ifndef IC_MODEL_PRICES_H
#define IC_MODEL_PRICES_H

#include <stddef.h>

/* Hard limits of a price file: anything larger is refused, not truncated. */
#define PRICES_FILE_MAX (256 * 1024)
#define PRICES_NODES_MAX 128
#define PRICES_INSTANCES_MAX 128
#define PRICES_NAME_MAX 64    /* set, node and instance names, with the terminating 0 */
#define PRICES_SOURCE_MAX 300 /* a source URL */
#define PRICES_NOTES_MAX 1000

/* How a price was checked when it was written down (the file's "checked"). */
typedef enum {
    PRICE_CHECKED_STORED_PAGE = 0,    /* against a stored copy of the provider's own page */
    PRICE_CHECKED_STORED_THIRD_PARTY, /* against a stored third-party page quoting it */
    PRICE_CHECKED_KNOWLEDGE,          /* written from knowledge, not checked */
    PRICE_CHECKED_DERIVED,            /* computed from other entries (its notes say how) */
    PRICE_CHECKED_PAPER,              /* the value a paper used */
    PRICE_CHECKED_COUNT
} price_checked_t;

const char *price_checked_name(price_checked_t c);

/* One price: its value in the unit its key requires (the loader checks the file's unit). */
typedef struct {
    double value;
    char recorded[11]; /* YYYY-MM-DD */
    price_checked_t checked;
} price_t;

enum { PRICE_ARCH_X86_64, PRICE_ARCH_ARM64, PRICE_ARCHS };
enum { PRICE_ENGINE_REDIS, PRICE_ENGINE_VALKEY, PRICE_ENGINES };
const char *price_arch_name(int arch);      /* "x86_64", "arm64" */
const char *price_engine_name(int engine);  /* "redis", "valkey" (the file's words) */
const char *price_engine_title(int engine); /* "Redis OSS", "Valkey" (for reports) */
int price_arch_parse(const char *s);        /* PRICE_ARCH_*, or -1 */

/* One ElastiCache on-demand node type. */
typedef struct {
    char type[PRICES_NAME_MAX];
    int engine; /* PRICE_ENGINE_* */
    double memory_gib;
    price_t usd_per_hour;
} price_node_t;

/* One EC2 instance type for the proxy: network bandwidth as AWS states it, "up to" burst_gbps
 * with baseline_gbps sustained (equal when the bandwidth is not burstable). */
typedef struct {
    char type[PRICES_NAME_MAX];
    int arch; /* PRICE_ARCH_* */
    double baseline_gbps, burst_gbps;
    price_t usd_per_hour;
} price_instance_t;

typedef struct {
    int present;
    price_t usd_per_gb_second, usd_per_million_requests;
} price_lambda_t;

typedef struct {
    int present;
    price_t storage_usd_per_gb_month, put_usd_per_thousand, get_usd_per_thousand;
} price_s3_standard_t;

typedef struct {
    int present;
    price_t storage_usd_per_gb_month, put_usd_per_thousand, get_usd_per_thousand;
    price_t upload_usd_per_gb, retrieval_usd_per_gb; /* on every byte moved */
} price_s3_express_t;

typedef struct {
    int present;
    price_t data_usd_per_gb_hour, usd_per_million_ecpu;
    price_t minimum_gb, maximum_gb; /* what is metered at least; what one cache holds at most */
} price_serverless_t;

/* A whole price set. Plain data (no pointers): copy it freely. Sections a set does not have are
 * present 0 (the 2020 set has no arm64 Lambda, no Serverless and no S3 Express One Zone). */
typedef struct {
    char name[PRICES_NAME_MAX];
    char region[PRICES_NAME_MAX];
    char recorded[11];
    price_t lambda_billing_ms;
    price_lambda_t lambda[PRICE_ARCHS];
    price_s3_standard_t s3_standard;
    price_s3_express_t s3_express;
    price_serverless_t serverless[PRICE_ENGINES];
    price_node_t nodes[PRICES_NODES_MAX];
    size_t nnodes;
    price_instance_t instances[PRICES_INSTANCES_MAX];
    size_t ninstances;
} price_set_t;

/* Parses and checks a price file's text (len bytes, no terminating 0 needed). origin names the
 * file in messages. Strict: an unknown or repeated key, a missing required price, a unit other
 * than the key's, a value outside the key's range, a malformed date or source is an error naming
 * the file and the key ("current.json: lambda.x86_64.gb_second.unit: ..."). Required: format,
 * name, region, currency USD, recorded, lambda.billing_ms, lambda.x86_64, at least one ElastiCache
 * node and one EC2 instance; optional sections (lambda.arm64, s3_standard, s3_express_one_zone,
 * elasticache_serverless.redis/valkey) are complete when present. 0, or -1 with err. */
int prices_parse(const char *text, size_t len, const char *origin, price_set_t *out, char *err,
                 size_t errlen);

/* Reads and parses the file at path (at most PRICES_FILE_MAX bytes). 0, or -1 with err. */
int prices_load_file(const char *path, price_set_t *out, char *err, size_t errlen);

/* Where a price set comes from: spec is a file path (it has a '/' or ends in ".json") or the
 * name of a shipped set ([a-z0-9_-], e.g. "current", "2020"), looked up as NAME.json in
 * $IC_PRICES_DIR if set, else next to the binaries (<bin>/../share/infinicache/prices, where
 * `cmake --install` puts them), else in the source tree's data/prices. 0 with the path, or -1
 * with err listing where it looked. */
int prices_resolve(const char *spec, char *path, size_t pathlen, char *err, size_t errlen);

/* prices_resolve then prices_load_file. */
int prices_load(const char *spec, price_set_t *out, char *err, size_t errlen);

#endif
