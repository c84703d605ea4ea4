/* invoke_curl.c -- the Invoke API through libcurl, loaded on first use: HTTPS and SigV4 request
 * signing for a node that invokes its own function on AWS (see invoke.h). */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "invoke.h"

/* libcurl is not linked: with its TLS and compression libraries it would add ~6 MiB to the RSS
 * of every idle instance (measured: 1.1 -> 7.3 MiB for a program that only links it), and only
 * an instance that starts a backup on a signed endpoint needs it. */
static struct {
    int tried;
    void *lib;
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static int load_curl(char *err, size_t errlen)
{
    if (curl.lib) return 0;
    if (curl.tried) {
        snprintf(err, errlen, "libcurl is not available to sign or encrypt the invocation");
        return -ENOSYS;
    }
    curl.tried = 1;
    curl.lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!curl.lib) {
        snprintf(err, errlen, "cannot load libcurl.so.4 (%s)", dlerror());
        return -ENOSYS;
    }
    int ok = 1;
#define SYM(field, name) ok &= (*(void **)&curl.field = dlsym(curl.lib, name)) != NULL
    SYM(easy_init, "curl_easy_init");
    SYM(easy_setopt, "curl_easy_setopt");
    SYM(easy_perform, "curl_easy_perform");
    SYM(easy_getinfo, "curl_easy_getinfo");
    SYM(easy_cleanup, "curl_easy_cleanup");
    SYM(easy_strerror, "curl_easy_strerror");
    SYM(slist_append, "curl_slist_append");
    SYM(slist_free_all, "curl_slist_free_all");
#undef SYM
    if (!ok) {
        dlclose(curl.lib);
        curl.lib = NULL;
        snprintf(err, errlen, "libcurl.so.4 lacks the functions needed");
        return -ENOSYS;
    }
    return 0;
}

/* The CA bundle to verify HTTPS endpoints with. A libcurl from the Lambda zip (built on Debian)
 * looks for Debian's /etc/ssl/certs/ca-certificates.crt, which Amazon Linux 2023 does not have:
 * there the bundle is /etc/pki/tls/certs/ca-bundle.crt. SSL_CERT_FILE (OpenSSL's variable) wins;
 * NULL leaves libcurl's own default. */
static const char *ca_bundle(void)
{
    static const char *const known[] = {
        "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu */
        "/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux, Fedora, RHEL */
    };
    const char *env = getenv("SSL_CERT_FILE");
    if (env && env[0]) return env;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (access(known[i], R_OK) == 0) return known[i];
    return NULL;
}

static size_t discard_body(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

int invoke_event_curl(const char *url, const char *sigv4, const char *payload, size_t payload_len,
                      int timeout_ms, char *err, size_t errlen)
{
    int rc = load_curl(err, errlen);
    if (rc < 0) return rc;
    char userpwd[512] = "", token_header[2048] = "";
    if (sigv4 && sigv4[0]) {
        /* A Lambda function's environment carries its role's temporary credentials. */
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");
        if (!id || !id[0] || !secret || !secret[0]) {
            snprintf(err, errlen, "signing (%s) needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                     sigv4);
            return -EINVAL;
        }
        if ((size_t)snprintf(userpwd, sizeof userpwd, "%s:%s", id, secret) >= sizeof userpwd ||
            (token && token[0] &&
             (size_t)snprintf(token_header, sizeof token_header, "X-Amz-Security-Token: %s",
                              token) >= sizeof token_header)) {
            snprintf(err, errlen, "AWS credentials too long");
            return -EINVAL;
        }
    }
    CURL *e = curl.easy_init();
    if (!e) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -ENOMEM;
    }
    struct curl_slist *h = curl.slist_append(NULL, "X-Amz-Invocation-Type: Event");
    if (h) h = curl.slist_append(h, "Content-Type: application/json");
    if (h && token_header[0]) h = curl.slist_append(h, token_header);
    if (!h) {
        curl.easy_cleanup(e);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    curl.easy_setopt(e, CURLOPT_URL, url);
    curl.easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl.easy_setopt(e, CURLOPT_POSTFIELDS, payload);
    curl.easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)payload_len);
    curl.easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    const char *ca = ca_bundle();
    if (ca) curl.easy_setopt(e, CURLOPT_CAINFO, ca);
    if (userpwd[0]) {
        curl.easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
        curl.easy_setopt(e, CURLOPT_USERPWD, userpwd);
    }
    CURLcode cc = curl.easy_perform(e);
    long status = 0;
    if (cc == CURLE_OK) curl.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl.easy_cleanup(e);
    curl.slist_free_all(h);
    memset(userpwd, 0, sizeof userpwd);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "invoke %s: %s", url, curl.easy_strerror(cc));
        return cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    if (status != 202) {
        snprintf(err, errlen, "invoke %s: HTTP status %ld", url, status);
        return -EPROTO;
    }
    return 0;
}
