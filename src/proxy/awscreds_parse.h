/* awscreds_parse.h -- the pure half of the AWS credential provider: shared config/credentials
 * files, credential_process output, IMDS and container credential documents, ISO 8601 expiry.
 * No I/O here, so every parser is unit-tested and fuzzed. */
#ifndef AWSCREDS_PARSE_H
#define AWSCREDS_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Hard limits on what the provider reads from anywhere. */
#define AWSCREDS_FILE_MAX (256 * 1024) /* a shared credentials or config file */
#define AWSCREDS_BODY_MAX (64 * 1024)  /* a JSON document (process output, IMDS, container) */
#define AWSCREDS_KEY_ID_MAX 128
#define AWSCREDS_SECRET_MAX 128
#define AWSCREDS_TOKEN_MAX 4096 /* session tokens of assumed roles run to ~1-2 KiB */
#define AWSCREDS_VALUE_MAX 1024 /* any other value in a file (region, credential_process) */

/* One set of keys. expires_ms is Unix time in ms; 0: they do not expire (static keys). */
typedef struct {
    char access_key_id[AWSCREDS_KEY_ID_MAX + 1];
    char secret_access_key[AWSCREDS_SECRET_MAX + 1];
    char session_token[AWSCREDS_TOKEN_MAX + 1];
    int64_t expires_ms;
} awscreds_t;

/* Looks KEY up in [SECTION] of an INI text as the AWS shared files write it: `key = value`
 * lines, `#` and `;` comments, names compared without case for keys and exactly for sections
 * (after trimming blanks). Indented lines (sub-properties such as `s3 =` blocks) are skipped.
 * Returns 1 and copies the trimmed value into out, 0 when the section or key is absent,
 * -E2BIG when the value does not fit in cap, -EINVAL for input over AWSCREDS_FILE_MAX.
 * awscreds_ini_has_section tells whether [SECTION] exists at all. */
int awscreds_ini_lookup(const char *text, size_t len, const char *section, const char *key,
                        char *out, size_t cap);
int awscreds_ini_has_section(const char *text, size_t len, const char *section);

/* Parses credential JSON: credential_process output (`Version` 1, `AccessKeyId`,
 * `SecretAccessKey`, optional `SessionToken`, optional `Expiration`), or an IMDS / container
 * credentials document (`Token` instead of `SessionToken`; an IMDS `Code` other than `Success`
 * is an error). Returns 0 or -EINVAL with a reason in err (never a key's value). */
int awscreds_parse_json(const char *text, size_t len, awscreds_t *out, char *err, size_t errlen);

/* Whether keys can go into "ID:SECRET" and an HTTP header as they are: both present, the id
 * letters and digits, the secret and the token printable without blanks. Every source's keys
 * pass this. Returns 0 or -EINVAL with the reason (never a value) in err. */
int awscreds_keys_check(const awscreds_t *keys, char *err, size_t errlen);

/* Parses an ISO 8601 UTC time as AWS writes it: 2026-12-05T03:00:00Z, with optional fractional
 * seconds and a `Z`, `+00:00` or other offset. Returns 0 with Unix ms in *ms, or -EINVAL. */
int awscreds_parse_time(const char *s, int64_t *ms);

/* Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be fetched: https anywhere, plain http only to
 * loopback hosts and the ECS/EKS link-local agents (169.254.170.2, 169.254.170.23). */
int awscreds_full_uri_allowed(const char *uri);

/* Whether s is a plain dotted-quad IPv4 address (what IMDS local-ipv4 answers). */
int awscreds_is_ipv4(const char *s);

/* Whether s looks like a region name (lowercase letters, digits and '-', 1..63 bytes): a
 * region goes into the signing scope and a host name, so nothing else is accepted. */
int awscreds_region_valid(const char *s);

#endif
