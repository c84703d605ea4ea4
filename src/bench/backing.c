/* backing.c -- icbench's stand-in for the backing store a cache miss is filled from: one file per
 * object in a local directory, created with the workload's bytes the first time it is needed. */
#include "backing.h"

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
#include <time.h>
#include <unistd.h>

#include "workload.h"

struct backing {
    char dir[PATH_MAX];
    int temporary;          /* created by us: emptied and removed on close */
    atomic_uint_fast64_t n; /* makes temporary file names unique across threads */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *at = p;
    while (n > 0) {
        ssize_t w = write(fd, at, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        at += w;
        n -= (size_t)w;
    }
    return 0;
}

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
    if (write_all(fd, value, len) < 0) {
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

int backing_open(const char *spec, backing_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!strcmp(spec, "none")) return 0;
    if (!strncmp(spec, "s3://", 5)) {
        snprintf(err, errlen, "backing store '%s': S3 is not supported yet (use a directory)",
                 spec);
        return -1;
    }
    backing_t *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    atomic_init(&b->n, 0);
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

int backing_fetch(backing_t *b, uint64_t key, uint64_t size, uint32_t version, unsigned char **buf,
                  size_t *cap, size_t *len, uint64_t *fetch_ns, char *err, size_t errlen)
{
    char path[PATH_MAX + 32];
    object_path(b, key, path, sizeof path);
    if (size >= SIZE_MAX || grow(buf, cap, (size_t)size + 1) < 0) { /* +1: room to see EOF */
        snprintf(err, errlen, "backing store: out of memory for %" PRIu64 " bytes", size);
        return -1;
    }
    struct stat st;
    if (stat(path, &st) < 0 || (uint64_t)st.st_size != size) {
        /* Not there yet, or the workload now wants another size (a trace's object changed):
         * the store gets the object the workload asks for, outside the timed read. */
        workload_object_fill(*buf, (size_t)size, key, version);
        if (replace_file(b, path, *buf, (size_t)size, err, errlen) < 0) return -1;
    }
    uint64_t t0 = now_ns();
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
    *fetch_ns = now_ns() - t0;
    *len = got;
    return 0;
}
