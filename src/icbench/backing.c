/* backing.c -- icbench's stand-in for the backing store a cache miss is filled from: one file per
 * object in a local directory (or one object in an S3-compatible bucket), created with the
 * workload's bytes the first time it is needed. */
#include "backing.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "net.h"
#include "workload.h"

#define S3_ERROR_SHOWN 200 /* bytes of an error body quoted in a message */

struct backing {
    char dir[PATH_MAX]; /* local: the directory; s3: the bucket's URL, as a name */
    int s3;
    char userpwd[512];   /* s3: ACCESS_KEY:SECRET */
    char sigv4[128];     /* s3: CURLOPT_AWS_SIGV4 provider string */
    int temporary;          /* created by us: emptied and removed on close */
    atomic_uint_fast64_t n; /* makes temporary file names unique across threads */
};

static void object_path(const backing_t *b, uint64_t key, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%016" PRIx64, b->dir, key);
}

/* Writes a file whole under a temporary name, then renames it over `path`. */
static int replace_file(backing_t *b, const char *path, const void *value, size_t len, char *err,
                        size_t errlen)
{
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s/.tmp.%ld.%" PRIuFAST64, b->dir, (long)getpid(),
             atomic_fetch_add(&b->n, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    if (net_write_all(fd, value, len) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        goto fail;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "backing store: cannot write %s: %s", path, strerror(errno));
    return -1;
}

/* ---- S3-compatible: path-style URLs, SigV4 signing by libcurl, one easy handle per request
 * (handles are not shared between threads; a fetch pays its connection, as a cold S3 GET does) */

typedef struct {
    unsigned char *p;
    size_t cap, len;
    int overflow; /* the body did not fit in cap */
} s3_sink_t;

static size_t s3_write(char *data, size_t size, size_t n, void *arg)
{
    s3_sink_t *sink = arg;
    size_t bytes = size * n;
    if (bytes > sink->cap - sink->len) {
        sink->overflow = 1;
        return 0; /* aborts the transfer */
    }
    memcpy(sink->p + sink->len, data, bytes);
    sink->len += bytes;
    return bytes;
}

/* One GET (body NULL) or PUT of object key. 0 with *status once an HTTP answer came (any
 * status; the body, if it fits, in sink), or -1 with the reason in err. */
static int s3_request(const backing_t *b, uint64_t key, const void *body, size_t body_len,
                      s3_sink_t *sink, long *status, char *err, size_t errlen)
{
    char url[PATH_MAX + 32];
    snprintf(url, sizeof url, "%s/%016" PRIx64, b->dir, key);
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "backing store: out of memory");
        return -1;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:"); /* no 100-continue wait */
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(h, CURLOPT_USERPWD, b->userpwd);
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, b->sigv4);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s3_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    if (body) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && sink->overflow)) {
        snprintf(err, errlen, "backing store: %s %s: %s", body ? "PUT" : "GET", url,
                 curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* An S3 error answer as a message: the status and the start of its XML body. */
static void s3_error(const char *what, uint64_t key, long status, const s3_sink_t *sink,
                     char *err, size_t errlen)
{
    char shown[S3_ERROR_SHOWN + 1];
    size_t n = sink->len < S3_ERROR_SHOWN ? sink->len : S3_ERROR_SHOWN;
    for (size_t i = 0; i < n; i++)
        shown[i] = sink->p[i] >= ' ' && sink->p[i] < 127 ? (char)sink->p[i] : ' ';
    shown[n] = 0;
    snprintf(err, errlen, "backing store: %s %016" PRIx64 ": HTTP %ld %s", what, key, status,
             shown);
}

static int s3_put(const backing_t *b, uint64_t key, const void *value, size_t len, char *err,
                  size_t errlen)
{
    unsigned char reply[S3_ERROR_SHOWN];
    s3_sink_t sink = {reply, sizeof reply, 0, 0};
    long status = 0;
    if (s3_request(b, key, value ? value : "", len, &sink, &status, err, errlen) < 0) return -1;
    if (status != 200) {
        s3_error("PUT", key, status, &sink, err, errlen);
        return -1;
    }
    return 0;
}

/* "s3://BUCKET@http://HOST:PORT" with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
 * AWS_REGION, default us-east-1) from the environment. */
static int s3_open(backing_t *b, const char *spec, char *err, size_t errlen)
{
    const char *bucket = spec + 5, *at = strchr(bucket, '@');
    size_t blen = at ? (size_t)(at - bucket) : 0;
    int bucket_ok = blen >= 3 && blen <= 63;
    for (size_t i = 0; bucket_ok && i < blen; i++)
        bucket_ok = (bucket[i] >= 'a' && bucket[i] <= 'z') || (bucket[i] >= '0' && bucket[i] <= '9') ||
                    bucket[i] == '-' || bucket[i] == '.';
    const char *endpoint = at ? at + 1 : "";
    size_t elen = strlen(endpoint);
    while (elen > 0 && endpoint[elen - 1] == '/')
        elen--;
    if (!bucket_ok || elen > 256 ||
        (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)) {
        snprintf(err, errlen,
                 "backing store '%s': expected s3://BUCKET@http://HOST:PORT (bucket: 3 to 63 of "
                 "a-z 0-9 . -)",
                 spec);
        return -1;
    }
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_REGION");
    if (!id || !*id || !secret || !*secret) {
        snprintf(err, errlen,
                 "backing store %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", spec);
        return -1;
    }
    if (!region || !*region) region = "us-east-1";
    if (strlen(id) + strlen(secret) + 2 > sizeof b->userpwd || strlen(region) > 64 ||
        strchr(id, ':')) {
        snprintf(err, errlen, "backing store %s: credentials or region too long", spec);
        return -1;
    }
    snprintf(b->userpwd, sizeof b->userpwd, "%s:%s", id, secret);
    snprintf(b->sigv4, sizeof b->sigv4, "aws:amz:%s:s3", region);
    snprintf(b->dir, sizeof b->dir, "%.*s/%.*s", (int)elen, endpoint, (int)blen, bucket);
    b->s3 = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        snprintf(err, errlen, "backing store: cannot initialise libcurl");
        return -1;
    }
    /* Reachable, and the credentials accepted: a GET of an object that need not exist. */
    unsigned char reply[S3_ERROR_SHOWN];
    s3_sink_t sink = {reply, sizeof reply, 0, 0};
    long status = 0;
    if (s3_request(b, 0, NULL, 0, &sink, &status, err, errlen) < 0) return -1;
    if (status != 200 && status != 404) {
        s3_error("probe GET", 0, status, &sink, err, errlen);
        return -1;
    }
    return 0;
}

int backing_open(const char *spec, backing_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!strcmp(spec, "none")) return 0;
    backing_t *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(&b->n, 0);
    if (!strncmp(spec, "s3://", 5)) {
        if (s3_open(b, spec, err, errlen) < 0) {
            free(b);
            return -1;
        }
        *out = b;
        return 0;
    }
    if (spec[0] == 0) {
        const char *tmpdir = getenv("TMPDIR");
        snprintf(b->dir, sizeof b->dir, "%s/icbench-backing.XXXXXX",
                 tmpdir && tmpdir[0] ? tmpdir : "/tmp");
        if (!mkdtemp(b->dir)) {
            snprintf(err, errlen, "backing store: cannot create a directory %s: %s", b->dir,
                     strerror(errno));
            free(b);
            return -1;
        }
        b->temporary = 1;
    } else {
        if (strlen(spec) >= sizeof b->dir - 32) {
            snprintf(err, errlen, "backing store: directory name too long");
            free(b);
            return -1;
        }
        snprintf(b->dir, sizeof b->dir, "%s", spec);
        if (mkdir(b->dir, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "backing store: cannot create %s: %s", b->dir, strerror(errno));
            free(b);
            return -1;
        }
    }
    /* A directory we cannot write would fail every miss: find out before the run. */
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof probe, "%s/.probe", b->dir);
    char reason[PATH_MAX + 200];
    if (replace_file(b, probe, "", 0, reason, sizeof reason) < 0 || unlink(probe) < 0) {
        snprintf(err, errlen, "backing store %s is not writable (%s)", b->dir, reason);
        backing_close(b);
        return -1;
    }
    *out = b;
    return 0;
}

const char *backing_name(const backing_t *b)
{
    return b ? b->dir : "none";
}

void backing_close(backing_t *b)
{
    if (!b) return;
    if (b->s3) curl_global_cleanup();
    if (b->temporary) {
        DIR *d = opendir(b->dir);
        if (d) {
            struct dirent *e;
            char path[PATH_MAX + 300];
            while ((e = readdir(d)) != NULL) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                snprintf(path, sizeof path, "%s/%s", b->dir, e->d_name);
                unlink(path);
            }
            closedir(d);
        }
        rmdir(b->dir);
    }
    free(b);
}

int backing_store(backing_t *b, uint64_t key, const void *value, size_t len, char *err,
                  size_t errlen)
{
    if (b->s3) return s3_put(b, key, value, len, err, errlen);
    char path[PATH_MAX + 32];
    object_path(b, key, path, sizeof path);
    return replace_file(b, path, value, len, err, errlen);
}

static int grow(unsigned char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    unsigned char *p = realloc(*buf, need);
    if (!p) return -1;
    *buf = p;
    *cap = need;
    return 0;
}

/* GET, timed; if the object is missing or of another size, PUT the workload's bytes (untimed)
 * and GET again. */
static int s3_fetch(backing_t *b, uint64_t key, uint64_t size, uint32_t version, unsigned char *buf,
                    size_t cap, size_t *len, uint64_t *fetch_ns, char *err, size_t errlen)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        s3_sink_t sink = {buf, cap, 0, 0};
        long status = 0;
        uint64_t t0 = clock_mono_ns();
        if (s3_request(b, key, NULL, 0, &sink, &status, err, errlen) < 0) return -1;
        *fetch_ns = clock_mono_ns() - t0;
        if (status == 200 && !sink.overflow && sink.len == size) {
            *len = sink.len;
            return 0;
        }
        if (status != 200 && status != 404) {
            s3_error("GET", key, status, &sink, err, errlen);
            return -1;
        }
        if (attempt == 1) break;
        workload_object_fill(buf, (size_t)size, key, version);
        if (s3_put(b, key, buf, (size_t)size, err, errlen) < 0) return -1;
    }
    snprintf(err, errlen, "backing store: object %016" PRIx64 " is not %" PRIu64 " bytes after a PUT",
             key, size);
    return -1;
}

int backing_fetch(backing_t *b, uint64_t key, uint64_t size, uint32_t version, unsigned char **buf,
                  size_t *cap, size_t *len, uint64_t *fetch_ns, char *err, size_t errlen)
{
    if (size >= SIZE_MAX || grow(buf, cap, (size_t)size + 1) < 0) { /* +1: room to see EOF */
        snprintf(err, errlen, "backing store: out of memory for %" PRIu64 " bytes", size);
        return -1;
    }
    if (b->s3) return s3_fetch(b, key, size, version, *buf, *cap, len, fetch_ns, err, errlen);
    char path[PATH_MAX + 32];
    object_path(b, key, path, sizeof path);
    struct stat st;
    if (stat(path, &st) < 0 || (uint64_t)st.st_size != size) {
        /* Not there yet, or the workload now wants another size (a trace's object changed):
         * the store gets the object the workload asks for, outside the timed read. */
        workload_object_fill(*buf, (size_t)size, key, version);
        if (replace_file(b, path, *buf, (size_t)size, err, errlen) < 0) return -1;
    }
    uint64_t t0 = clock_mono_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "backing store: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t got = 0;
    for (;;) { /* read until end of file: a file that grew meanwhile is read whole */
        if (got == *cap && grow(buf, cap, *cap * 2) < 0) {
            close(fd);
            snprintf(err, errlen, "backing store: out of memory reading %s", path);
            return -1;
        }
        ssize_t r = read(fd, *buf + got, *cap - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "backing store: cannot read %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    close(fd);
    *fetch_ns = clock_mono_ns() - t0;
    *len = got;
    return 0;
}
