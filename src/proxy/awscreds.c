/* awscreds.c -- where the proxy's AWS keys come from (environment, shared files and
 * credential_process, container agent, EC2 instance role through IMDSv2) and the thread that
 * replaces temporary keys before they expire, so the event loop never waits on any of it. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "awscreds.h"
#include "log.h"

typedef enum {
    FROM_ENV,
    FROM_SHARED_FILE,
    FROM_PROCESS,
    FROM_CONTAINER,
    FROM_IMDS,
} awscreds_from_t;

static const char *const from_names[] = {"env", "shared-file", "credential-process", "container",
                                         "imds"};

struct awscreds_provider {
    awscreds_options_t opt;
    char profile[256];
    char imds_endpoint[256];
    char process_command[AWSCREDS_VALUE_MAX + 1]; /* FROM_PROCESS: what to run again */
    char region[64];
    awscreds_from_t from;
    pthread_mutex_t mu;
    pthread_cond_t cond;                  /* wakes the refresh thread early: stop */
    awscreds_t keys;                      /* under mu */
    int stop;                             /* under mu */
    uint64_t refreshes, refresh_failures; /* under mu */
    int has_thread;
    pthread_t thread;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a whole small file (at most AWSCREDS_FILE_MAX bytes) into a fresh NUL-terminated
 * buffer the caller frees. Returns NULL with errno set (EFBIG when too large). */
static char *read_small_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = malloc(AWSCREDS_FILE_MAX + 1);
    size_t used = 0;
    if (!buf) goto fail;
    for (;;) {
        ssize_t n = read(fd, buf + used, AWSCREDS_FILE_MAX + 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) goto fail;
        if (n == 0) break;
        used += (size_t)n;
        if (used > AWSCREDS_FILE_MAX) {
            errno = EFBIG;
            goto fail;
        }
    }
    close(fd);
    buf[used] = 0;
    *len = used;
    return buf;
fail : {
    int saved = errno;
    close(fd);
    free(buf);
    errno = saved;
    return NULL;
}
}

static void free_secret_text(char *text, size_t len)
{
    if (!text) return;
    explicit_bzero(text, len);
    free(text);
}

/* ---- HTTP (IMDS, container agent): small bounded bodies, blocking, with a timeout ---- */

typedef struct {
    char *out;
    size_t cap, used;
    int overflow;
} body_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t len = size * n;
    if (b->used + len + 1 > b->cap) {
        b->overflow = 1;
        return 0; /* aborts the transfer: a body over the bound is an error, not truncated */
    }
    memcpy(b->out + b->used, p, len);
    b->used += len;
    b->out[b->used] = 0;
    return len;
}

/* One request; returns the HTTP status (200...) or -1 with a reason in err. */
static long http_fetch(const char *method, const char *url, const char *header1,
                       const char *header2, int64_t timeout_ms, char *out, size_t cap, size_t *len,
                       char *err, size_t errlen)
{
    body_t b = {out, cap, 0, 0};
    out[0] = 0;
    CURL *e = curl_easy_init();
    if (!e) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *headers = NULL;
    if (header1) headers = curl_slist_append(headers, header1);
    if (header2) headers = curl_slist_append(headers, header2);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "PUT")) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    long status = -1;
    CURLcode rc = curl_easy_perform(e);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        *len = b.used;
    } else if (b.overflow) {
        snprintf(err, errlen, "%s %s: body over %zu bytes", method, url, cap - 1);
    } else {
        snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(rc));
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(e);
    return status;
}

void awscreds_imds_endpoint(const char *configured, char *out, size_t cap)
{
    const char *env = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    const char *ep = configured && configured[0] ? configured
                     : env && env[0]             ? env
                                                 : "http://169.254.169.254";
    snprintf(out, cap, "%s", ep);
    size_t n = strlen(out);
    while (n && out[n - 1] == '/')
        out[--n] = 0;
}

static void trim_in_place(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    size_t lead = strspn(s, " \t\r\n");
    if (lead) memmove(s, s + lead, n - lead + 1);
}

int awscreds_imds_get(const char *endpoint, int64_t timeout_ms, const char *path, char *out,
                      size_t cap, char *err, size_t errlen)
{
    char url[512], token[256], header[320];
    size_t len;
    snprintf(url, sizeof url, "%s/latest/api/token", endpoint);
    long status = http_fetch("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL,
                             timeout_ms, token, sizeof token, &len, err, errlen);
    if (status < 0) return -1;
    if (status != 200) {
        snprintf(err, errlen, "PUT %s: HTTP %ld (no IMDSv2 session token)", url, status);
        return -1;
    }
    trim_in_place(token);
    snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", token);
    snprintf(url, sizeof url, "%s%s", endpoint, path);
    status = http_fetch("GET", url, header, NULL, timeout_ms, out, cap, &len, err, errlen);
    explicit_bzero(token, sizeof token);
    explicit_bzero(header, sizeof header);
    if (status < 0) return -1;
    if (status != 200) {
        snprintf(err, errlen, "GET %s: HTTP %ld", url, status);
        return -1;
    }
    trim_in_place(out);
    return 0;
}

/* ---- each source ---- */

static int fetch_imds(awscreds_provider_t *p, awscreds_t *keys, char *err, size_t errlen)
{
    char role[256], path[400], why[300];
    char *body = malloc(AWSCREDS_BODY_MAX + 1);
    int rc = -1;
    if (!body) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (awscreds_imds_get(p->imds_endpoint, p->opt.fetch_timeout_ms,
                          "/latest/meta-data/iam/security-credentials/", role, sizeof role, err,
                          errlen) < 0)
        goto done;
    role[strcspn(role, "\r\n")] = 0; /* the first role listed, as the SDKs take it */
    if (!role[0] || strchr(role, '/')) {
        snprintf(err, errlen, "IMDS names no instance role");
        goto done;
    }
    snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", role);
    if (awscreds_imds_get(p->imds_endpoint, p->opt.fetch_timeout_ms, path, body,
                          AWSCREDS_BODY_MAX + 1, err, errlen) < 0)
        goto done;
    if (awscreds_parse_json(body, strlen(body), keys, why, sizeof why) < 0) {
        snprintf(err, errlen, "IMDS credentials of role %s: %s", role, why);
        goto done;
    }
    rc = 0;
done:
    free_secret_text(body, AWSCREDS_BODY_MAX + 1);
    return rc;
}

static int fetch_container(awscreds_provider_t *p, awscreds_t *keys, char *err, size_t errlen)
{
    const char *relative = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[1024], auth[2048] = "", header[2100] = "", why[300];
    if (relative && relative[0]) {
        snprintf(url, sizeof url, "http://169.254.170.2%s", relative);
    } else if (full && full[0]) {
        if (!awscreds_full_uri_allowed(full)) {
            snprintf(
                err, errlen,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback or the ECS/EKS "
                "agent's address");
            return -1;
        }
        snprintf(url, sizeof url, "%s", full);
    } else {
        snprintf(err, errlen, "no container credentials configured");
        return -1;
    }
    /* The token file wins over the variable: EKS rotates the file under a running process. */
    const char *token_file = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (token_file && token_file[0]) {
        size_t len;
        char *text = read_small_file(token_file, &len);
        if (!text) {
            snprintf(err, errlen, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", token_file,
                     strerror(errno));
            return -1;
        }
        snprintf(auth, sizeof auth, "%s", text);
        free_secret_text(text, len);
        trim_in_place(auth);
    } else if (token && token[0]) {
        snprintf(auth, sizeof auth, "%s", token);
    }
    if (strpbrk(auth, "\r\n")) {
        snprintf(err, errlen, "the container authorization token holds a line break");
        return -1;
    }
    if (auth[0]) snprintf(header, sizeof header, "Authorization: %s", auth);
    char *body = malloc(AWSCREDS_BODY_MAX + 1);
    int rc = -1;
    size_t len = 0;
    if (!body) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    long status = http_fetch("GET", url, header[0] ? header : NULL, NULL, p->opt.fetch_timeout_ms,
                             body, AWSCREDS_BODY_MAX + 1, &len, err, errlen);
    if (status < 0) goto done;
    if (status != 200) {
        snprintf(err, errlen, "container credentials: HTTP %ld", status);
        goto done;
    }
    if (awscreds_parse_json(body, len, keys, why, sizeof why) < 0) {
        snprintf(err, errlen, "container credentials: %s", why);
        goto done;
    }
    rc = 0;
done:
    explicit_bzero(auth, sizeof auth);
    explicit_bzero(header, sizeof header);
    free_secret_text(body, AWSCREDS_BODY_MAX + 1);
    return rc;
}

/* Runs the profile's credential_process through /bin/sh in a process group of its own, reads at
 * most AWSCREDS_BODY_MAX bytes of its output, and kills the group at the timeout. */
static int fetch_process(awscreds_provider_t *p, awscreds_t *keys, char *err, size_t errlen)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "credential_process: pipe: %s", strerror(errno));
        return -1;
    }
    char *body = malloc(AWSCREDS_BODY_MAX + 1);
    if (!body) {
        close(pipefd[0]);
        close(pipefd[1]);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec: the proxy has threads. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL); /* the refresh thread blocks every signal */
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(pipefd[1], 1);
        execl("/bin/sh", "sh", "-c", p->process_command, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    int rc = -1;
    size_t used = 0;
    if (pid < 0) {
        snprintf(err, errlen, "credential_process: fork: %s", strerror(errno));
        close(pipefd[0]);
        free(body);
        return -1;
    }
    int64_t deadline = wall_ms() + p->opt.process_timeout_ms;
    int timed_out = 0, too_big = 0;
    for (;;) {
        int64_t left = deadline - wall_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        ssize_t r = read(pipefd[0], body + used, AWSCREDS_BODY_MAX + 1 - used);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) break;
        used += (size_t)r;
        if (used > AWSCREDS_BODY_MAX) {
            too_big = 1;
            break;
        }
    }
    close(pipefd[0]);
    /* A process that closed its output may still run: it gets until the deadline too. */
    int status = 0;
    pid_t reaped = 0;
    while (!timed_out && !too_big) {
        reaped = waitpid(pid, &status, WNOHANG);
        if (reaped == pid || (reaped < 0 && errno != EINTR)) break;
        if (wall_ms() >= deadline) {
            timed_out = 1;
            break;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (reaped != pid) {
        if (timed_out || too_big) kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    char why[300];
    if (timed_out) {
        snprintf(err, errlen, "credential_process did not finish within %lld ms",
                 (long long)p->opt.process_timeout_ms);
    } else if (too_big) {
        snprintf(err, errlen, "credential_process wrote over %d bytes", AWSCREDS_BODY_MAX);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "credential_process failed (%s %d)",
                 WIFEXITED(status) ? "exit status" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    } else if (awscreds_parse_json(body, used, keys, why, sizeof why) < 0) {
        snprintf(err, errlen, "credential_process output: %s", why);
    } else {
        rc = 0;
    }
    free_secret_text(body, AWSCREDS_BODY_MAX + 1);
    return rc;
}

static int fetch(awscreds_provider_t *p, awscreds_from_t from, awscreds_t *keys, char *err,
                 size_t errlen)
{
    switch (from) {
    case FROM_PROCESS:
        return fetch_process(p, keys, err, errlen);
    case FROM_CONTAINER:
        return fetch_container(p, keys, err, errlen);
    case FROM_IMDS:
        return fetch_imds(p, keys, err, errlen);
    default:
        snprintf(err, errlen, "static keys are not fetched again");
        return -1;
    }
}

/* ---- shared files ---- */

typedef struct {
    char *credentials, *config;
    size_t credentials_len, config_len;
    char config_section[300]; /* "default" or "profile NAME" */
} shared_files_t;

static int load_shared_files(shared_files_t *f, const char *profile, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    const char *home = getenv("HOME");
    char path[2][1024];
    const char *env[2] = {getenv("AWS_SHARED_CREDENTIALS_FILE"), getenv("AWS_CONFIG_FILE")};
    const char *leaf[2] = {"credentials", "config"};
    char **text[2] = {&f->credentials, &f->config};
    size_t *len[2] = {&f->credentials_len, &f->config_len};
    for (int i = 0; i < 2; i++) {
        if (env[i] && env[i][0])
            snprintf(path[i], sizeof path[i], "%s", env[i]);
        else if (home && home[0])
            snprintf(path[i], sizeof path[i], "%s/.aws/%s", home, leaf[i]);
        else
            continue;
        *text[i] = read_small_file(path[i], len[i]);
        if (!*text[i] && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path[i],
                     errno == EFBIG ? "over 256 KiB" : strerror(errno));
            return -1;
        }
    }
    if (!strcmp(profile, "default"))
        snprintf(f->config_section, sizeof f->config_section, "default");
    else
        snprintf(f->config_section, sizeof f->config_section, "profile %s", profile);
    return 0;
}

static void free_shared_files(shared_files_t *f)
{
    free_secret_text(f->credentials, f->credentials_len);
    free_secret_text(f->config, f->config_len);
}

/* KEY of the profile: the credentials file first (as the SDKs read it), then the config file.
 * Returns 1 found, 0 absent, -1 too long (err says which). */
static int profile_value(const shared_files_t *f, const char *profile, const char *key, char *out,
                         size_t cap, char *err, size_t errlen)
{
    int rc = 0;
    if (f->credentials)
        rc = awscreds_ini_lookup(f->credentials, f->credentials_len, profile, key, out, cap);
    if (rc == 0 && f->config)
        rc = awscreds_ini_lookup(f->config, f->config_len, f->config_section, key, out, cap);
    if (rc < 0) {
        snprintf(err, errlen, "profile %s: %s is too long", profile, key);
        return -1;
    }
    return rc;
}

static int profile_exists(const shared_files_t *f, const char *profile)
{
    return (f->credentials &&
            awscreds_ini_has_section(f->credentials, f->credentials_len, profile)) ||
           (f->config && awscreds_ini_has_section(f->config, f->config_len, f->config_section));
}

/* ---- the chain ---- */

static int env_set(const char *name)
{
    const char *v = getenv(name);
    return v && v[0];
}

/* Keys from the environment, held to the same limits and checks as any other source's. */
static int keys_from_env(awscreds_t *keys, char *err, size_t errlen)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    memset(keys, 0, sizeof *keys);
    if (strlen(id) > AWSCREDS_KEY_ID_MAX || strlen(secret) > AWSCREDS_SECRET_MAX ||
        (token && strlen(token) > AWSCREDS_TOKEN_MAX)) {
        snprintf(err, errlen,
                 "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or AWS_SESSION_TOKEN is "
                 "too long");
        return -1;
    }
    snprintf(keys->access_key_id, sizeof keys->access_key_id, "%s", id);
    snprintf(keys->secret_access_key, sizeof keys->secret_access_key, "%s", secret);
    if (token) snprintf(keys->session_token, sizeof keys->session_token, "%s", token);
    char why[200];
    if (awscreds_keys_check(keys, why, sizeof why) < 0) {
        snprintf(err, errlen, "keys in the environment: %s", why);
        return -1;
    }
    return 0;
}

static int keys_from_profile(awscreds_provider_t *p, const shared_files_t *f, awscreds_t *keys,
                             int *found, char *err, size_t errlen)
{
    *found = 0;
    memset(keys, 0, sizeof *keys);
    int has_id = profile_value(f, p->profile, "aws_access_key_id", keys->access_key_id,
                               sizeof keys->access_key_id, err, errlen);
    int has_secret = profile_value(f, p->profile, "aws_secret_access_key", keys->secret_access_key,
                                   sizeof keys->secret_access_key, err, errlen);
    int has_token = profile_value(f, p->profile, "aws_session_token", keys->session_token,
                                  sizeof keys->session_token, err, errlen);
    if (has_id < 0 || has_secret < 0 || has_token < 0) return -1;
    if (has_id && has_secret) {
        *found = 1;
        p->from = FROM_SHARED_FILE;
        char why[200];
        if (awscreds_keys_check(keys, why, sizeof why) < 0) {
            snprintf(err, errlen, "keys of profile %s: %s", p->profile, why);
            return -1;
        }
        return 0;
    }
    if (has_id || has_secret) {
        snprintf(err, errlen,
                 "profile %s has only one of aws_access_key_id and "
                 "aws_secret_access_key",
                 p->profile);
        return -1;
    }
    int has_process = profile_value(f, p->profile, "credential_process", p->process_command,
                                    sizeof p->process_command, err, errlen);
    if (has_process < 0) return -1;
    if (has_process && p->process_command[0]) {
        *found = 1;
        p->from = FROM_PROCESS;
        return fetch_process(p, keys, err, errlen);
    }
    return 0;
}

static int imds_disabled(void)
{
    const char *v = getenv("AWS_EC2_METADATA_DISABLED");
    return v && !strcasecmp(v, "true");
}

static int find_keys(awscreds_provider_t *p, const shared_files_t *f, int profile_named,
                     awscreds_t *keys, char *err, size_t errlen)
{
    if (env_set("AWS_ACCESS_KEY_ID") && env_set("AWS_SECRET_ACCESS_KEY")) {
        p->from = FROM_ENV;
        return keys_from_env(keys, err, errlen);
    }
    int found;
    if (keys_from_profile(p, f, keys, &found, err, errlen) < 0) return -1;
    if (found) return 0;
    if (profile_named && !profile_exists(f, p->profile)) {
        snprintf(err, errlen, "profile %s is in neither the shared credentials nor the config file",
                 p->profile);
        return -1;
    }
    if (env_set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
        p->from = FROM_CONTAINER;
        return fetch_container(p, keys, err, errlen);
    }
    if (imds_disabled()) {
        snprintf(err, errlen,
                 "no AWS credentials: none in the environment, none in profile %s, "
                 "no container credentials, and IMDS is disabled "
                 "(AWS_EC2_METADATA_DISABLED)",
                 p->profile);
        return -1;
    }
    p->from = FROM_IMDS;
    char why[400];
    if (fetch_imds(p, keys, why, sizeof why) < 0) {
        snprintf(err, errlen,
                 "no AWS credentials: none in the environment, none in profile %s, "
                 "no container credentials, and no instance role from IMDS (%s)",
                 p->profile, why);
        return -1;
    }
    return 0;
}

static int find_region(awscreds_provider_t *p, const shared_files_t *f, char *err, size_t errlen)
{
    const char *candidates[] = {p->opt.region, getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION")};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (candidates[i] && candidates[i][0]) {
            snprintf(p->region, sizeof p->region, "%s", candidates[i]);
            goto check;
        }
    }
    if (f->config && awscreds_ini_lookup(f->config, f->config_len, f->config_section, "region",
                                         p->region, sizeof p->region) == 1)
        goto check;
    if (!p->opt.need_region) return 0;
    char why[400] = "IMDS is disabled (AWS_EC2_METADATA_DISABLED)";
    if (!imds_disabled() && awscreds_imds_get(p->imds_endpoint, p->opt.fetch_timeout_ms,
                                              "/latest/meta-data/placement/region", p->region,
                                              sizeof p->region, why, sizeof why) == 0)
        goto check;
    snprintf(err, errlen,
             "no AWS region: set --aws-region, AWS_REGION or the profile's region (%s)", why);
    return -1;
check:
    if (!awscreds_region_valid(p->region)) {
        snprintf(err, errlen, "AWS region '%.64s' is not a region name", p->region);
        return -1;
    }
    return 0;
}

/* ---- refresh ---- */

/* When to try next: refresh_margin before expiry; with keys that live less than twice the
 * margin (short-lived test keys), halfway through what is left; after a failure, again soon. */
static int64_t next_refresh_ms(const awscreds_provider_t *p, int64_t expires_ms, int failed)
{
    int64_t now = wall_ms(), left = expires_ms - now;
    if (failed) return now + (left > 120000 ? 30000 : left > 4000 ? left / 4 : 1000);
    int64_t due = expires_ms - p->opt.refresh_margin_ms;
    if (due - now < p->opt.refresh_margin_ms) due = now + (left > 0 ? left / 2 : 0);
    if (due < now + 500) due = now + 500;
    return due;
}

static void key_hint(const char *id, char *out, size_t cap)
{
    size_t n = strlen(id);
    snprintf(out, cap, "...%.4s", n > 4 ? id + n - 4 : id);
}

static void *refresh_main(void *arg)
{
    awscreds_provider_t *p = arg;
    int failed = 0;
    awscreds_t fresh;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int64_t due = next_refresh_ms(p, p->keys.expires_ms, failed);
        struct timespec ts = {(time_t)(due / 1000), (long)(due % 1000) * 1000000};
        while (!p->stop && wall_ms() < due)
            pthread_cond_timedwait(&p->cond, &p->mu, &ts);
        if (p->stop) break;
        pthread_mutex_unlock(&p->mu);
        char err[600];
        int rc = fetch(p, p->from, &fresh, err, sizeof err);
        pthread_mutex_lock(&p->mu);
        char hint[16];
        if (rc == 0 && fresh.expires_ms != 0 && fresh.expires_ms <= wall_ms()) {
            rc = -1;
            snprintf(err, sizeof err, "the new keys have already expired");
        }
        if (rc == 0) {
            p->keys = fresh;
            p->refreshes++;
            failed = 0;
            key_hint(p->keys.access_key_id, hint, sizeof hint);
            log_info("event=aws_credentials_refreshed source=%s key_id=%s expires_in_s=%lld",
                     from_names[p->from], hint,
                     (long long)((p->keys.expires_ms - wall_ms()) / 1000));
        } else {
            /* The old keys stay in use: they may still be good for a while. */
            failed = 1;
            p->refresh_failures++;
            log_error("event=aws_credentials_refresh_failed source=%s expires_in_s=%lld "
                      "error=\"%s\"",
                      from_names[p->from], (long long)((p->keys.expires_ms - wall_ms()) / 1000),
                      err);
        }
        explicit_bzero(&fresh, sizeof fresh);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- public ---- */

int awscreds_open(const awscreds_options_t *opt, awscreds_provider_t **out, char *err,
                  size_t errlen)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    awscreds_provider_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->opt = *opt;
    p->opt.profile = p->opt.region = p->opt.imds_endpoint = NULL; /* copied below */
    const char *env_profile = getenv("AWS_PROFILE");
    int profile_named = 1;
    if (opt->profile && opt->profile[0])
        snprintf(p->profile, sizeof p->profile, "%s", opt->profile);
    else if (env_profile && env_profile[0])
        snprintf(p->profile, sizeof p->profile, "%s", env_profile);
    else {
        snprintf(p->profile, sizeof p->profile, "default");
        profile_named = 0;
    }
    char region_opt[64];
    snprintf(region_opt, sizeof region_opt, "%s", opt->region ? opt->region : "");
    p->opt.region = region_opt; /* only during open */
    awscreds_imds_endpoint(opt->imds_endpoint, p->imds_endpoint, sizeof p->imds_endpoint);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    shared_files_t files;
    int rc = -1;
    if (load_shared_files(&files, p->profile, err, errlen) < 0) goto fail;
    if (find_keys(p, &files, profile_named, &p->keys, err, errlen) < 0 ||
        find_region(p, &files, err, errlen) < 0)
        goto fail;
    p->opt.region = NULL;
    if (p->keys.expires_ms != 0) {
        /* The thread takes no signals: the proxy reads SIGTERM and SIGINT through a signalfd,
         * which works only while every thread has them blocked. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int started = pthread_create(&p->thread, NULL, refresh_main, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (started != 0) {
            snprintf(err, errlen, "cannot start the credential refresh thread");
            goto fail;
        }
        p->has_thread = 1;
    }
    char hint[16];
    key_hint(p->keys.access_key_id, hint, sizeof hint);
    log_info("event=aws_credentials source=%s profile=%s region=%s key_id=%s expires_in_s=%lld",
             from_names[p->from], p->profile, p->region[0] ? p->region : "-", hint,
             p->keys.expires_ms ? (long long)((p->keys.expires_ms - wall_ms()) / 1000) : -1LL);
    rc = 0;
fail:
    free_shared_files(&files);
    if (rc < 0) {
        awscreds_close(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

const char *awscreds_region(const awscreds_provider_t *p)
{
    return p->region;
}

const char *awscreds_source(const awscreds_provider_t *p)
{
    return from_names[p->from];
}

void awscreds_current(awscreds_provider_t *p, char *userpwd, size_t userpwd_cap, char *token_header,
                      size_t token_cap)
{
    pthread_mutex_lock(&p->mu);
    snprintf(userpwd, userpwd_cap, "%s:%s", p->keys.access_key_id, p->keys.secret_access_key);
    if (p->keys.session_token[0])
        snprintf(token_header, token_cap, "X-Amz-Security-Token: %s", p->keys.session_token);
    else
        token_header[0] = 0;
    pthread_mutex_unlock(&p->mu);
}

void awscreds_status(awscreds_provider_t *p, awscreds_status_t *out)
{
    pthread_mutex_lock(&p->mu);
    out->source = from_names[p->from];
    out->region = p->region;
    key_hint(p->keys.access_key_id, out->key_id_hint, sizeof out->key_id_hint);
    out->expires_in_s = p->keys.expires_ms ? (p->keys.expires_ms - wall_ms()) / 1000 : -1;
    out->refreshes = p->refreshes;
    out->refresh_failures = p->refresh_failures;
    pthread_mutex_unlock(&p->mu);
}

void awscreds_close(awscreds_provider_t *p)
{
    if (!p) return;
    if (p->has_thread) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    explicit_bzero(p, sizeof *p);
    free(p);
}
