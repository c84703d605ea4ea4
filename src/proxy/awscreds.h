/* awscreds.h -- the proxy's AWS credentials and region, from the sources the AWS SDKs read and
 * in their order, kept fresh on a thread of their own; and the EC2 instance metadata (IMDSv2)
 * client that --node-advertise auto also uses. */
#ifndef AWSCREDS_H
#define AWSCREDS_H

#include <stddef.h>
#include <stdint.h>

#include "awscreds_parse.h"

typedef struct awscreds_provider awscreds_provider_t;

typedef struct {
    const char *profile;        /* --aws-profile; "": AWS_PROFILE, then "default" */
    const char *region;         /* --aws-region; "": the chain's */
    const char *imds_endpoint;  /* --imds-endpoint; "": AWS_EC2_METADATA_SERVICE_ENDPOINT, then
                                   http://169.254.169.254 */
    int64_t refresh_margin_ms;  /* temporary keys are replaced this long before they expire */
    int64_t fetch_timeout_ms;   /* each HTTP fetch (IMDS, container agent) */
    int64_t process_timeout_ms; /* a credential_process run */
    int need_region;            /* fail when no source names a region */
} awscreds_options_t;

/* Finds credentials (and the region) now, blocking: it runs at start, before the event loop.
 * Order: environment; shared credentials/config files (keys or credential_process); container
 * credentials; EC2 instance role through IMDSv2. Temporary keys are then refreshed by a thread
 * of the provider's own. Returns 0 with *out (the caller owns it; awscreds_close frees it), or
 * -1 with a reason in err that names what was tried and never holds a secret. */
int awscreds_open(const awscreds_options_t *opt, awscreds_provider_t **out, char *err,
                  size_t errlen);

/* The region found ("" when none and need_region was 0), and where the keys came from (env,
 * shared-file, credential-process, container, imds). Both live as long as the provider. */
const char *awscreds_region(const awscreds_provider_t *p);
const char *awscreds_source(const awscreds_provider_t *p);

/* The keys to sign the next request with, as libcurl takes them: "ID:SECRET" in userpwd and,
 * for temporary keys, "X-Amz-Security-Token: TOKEN" in token_header ("" otherwise). Safe from
 * any thread; the caller wipes its copies when done. */
void awscreds_current(awscreds_provider_t *p, char *userpwd, size_t userpwd_cap, char *token_header,
                      size_t token_cap);

/* What INFO shows: never a secret. expires_in_s is -1 for keys that do not expire. */
typedef struct {
    const char *source;
    const char *region;
    char key_id_hint[16]; /* "...WXYZ": the access key id's last four characters */
    int64_t expires_in_s;
    uint64_t refreshes, refresh_failures;
} awscreds_status_t;
void awscreds_status(awscreds_provider_t *p, awscreds_status_t *out);

/* Stops the refresh thread, wipes the keys and frees the provider. NULL is fine. */
void awscreds_close(awscreds_provider_t *p);

/* The IMDS endpoint to use: configured if not "", else AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 * the link-local default. Copied into out without a trailing '/'. */
void awscreds_imds_endpoint(const char *configured, char *out, size_t cap);

/* GETs PATH (e.g. /latest/meta-data/local-ipv4) from IMDS with an IMDSv2 session token: a PUT
 * for the token first, then the GET carrying it. The body (at most cap-1 bytes, trimmed) goes
 * into out. Returns 0, or -1 with a reason in err. Blocking; for start and the refresh thread. */
int awscreds_imds_get(const char *endpoint, int64_t timeout_ms, const char *path, char *out,
                      size_t cap, char *err, size_t errlen);

#endif
