/* iccli.c -- command-line client for InfiniCache: set/get/del/exists/info through libinfinicache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "infinicache.h"
#include "net.h"

#define MAX_PROXIES 64

/* --pass, copied before its argument is blanked; static so an early exit does not leak it. */
static char *pass_copy;

static const char usage[] =
    "usage: iccli [options] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  set KEY [FILE|-]   store FILE (or stdin) under KEY\n"
    "  get KEY [FILE|-]   write the value of KEY to FILE (or stdout)\n"
    "  get --range START-END KEY [FILE|-]\n"
    "                     write bytes START to END of the value, both included, as Redis\n"
    "                     GETRANGE (non-negative offsets; clamped to the value's size); only\n"
    "                     the chunk pieces that hold them are read from the cache nodes\n"
    "  del KEY            delete KEY\n"
    "  exists KEY         test whether KEY exists\n"
    "  info               print INFO of every proxy\n"
    "\n"
    "Options:\n"
    "  --proxy HOST:PORT  an icproxy to use; repeat for several (default 127.0.0.1:6378).\n"
    "                     Keys go by Redis Cluster slot: one proxy of a cluster is enough\n"
    "                     (its CLUSTER SLOTS gives the rest); proxies that are not a cluster\n"
    "                     share the slots in the order given (give them in the same order)\n"
    "  --d N              data chunks per object (default 10)\n"
    "  --p N              parity chunks per object (default 2, 0 allowed)\n"
    "  --small-max BYTES  objects up to this size are replicated, not coded (default 65536)\n"
    "  --timeout MS       per-operation timeout (default 10000)\n"
    "  --chunk-deadline MS  longest silence tolerated inside a reply (default 2000)\n"
    "  --first-d 0|1      1: a GET returns once d chunks are in (default); 0: it waits for\n"
    "                     all d+p chunks (or the chunk deadline), the baseline\n"
    "  --user NAME        authenticate as this ACL user (default: the default user)\n"
    "  --pass PASSWORD    password sent with AUTH on every connection; without it, the\n"
    "                     environment's IC_PASSWORD, else REDISCLI_AUTH, is used\n"
    "  --tls              speak TLS to the proxies (their tls-port), as redis-cli --tls\n"
    "  --cacert FILE      CA bundle the proxies' certificates are verified against\n"
    "  --cert FILE        client certificate (PEM) to present\n"
    "  --key FILE         its private key (PEM)\n"
    "  --help             this help\n"
    "\n"
    "Exit status: 0 ok or hit, 1 miss, 2 error (message on stderr).\n";

static int die(const char *what, int rc, const ic_client_t *c)
{
    const char *detail = c ? ic_last_error(c) : "";
    fprintf(stderr, "iccli: %s: %s%s%s\n", what, ic_strerror(rc), detail[0] ? ": " : "", detail);
    return 2;
}

/* Parses a decimal option value from 0 to max, or exits with status 2 (a value past max would
 * otherwise wrap when narrowed to the option's type and pass for another number). */
static long parse_num(const char *flag, const char *s, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max) {
        fprintf(stderr, "iccli: %s: bad number '%s' (0 to %ld)\n", flag, s, max);
        exit(2);
    }
    return v;
}

/* Reads all of stdin into a malloc'd buffer the caller frees, bounded by max. */
static char *read_stdin(size_t max, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) return NULL;
        if (n == cap) {
            if (cap > max) {
                free(b);
                errno = EFBIG;
                return NULL;
            }
            char *nb = realloc(b, cap * 2);
            if (!nb) free(b);
            b = nb;
            cap *= 2;
            continue;
        }
        ssize_t r = read(0, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(b);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *len = n;
    return b;
}

static int cmd_set(ic_client_t *c, const char *key, const char *file, size_t max)
{
    void *val = NULL;
    size_t len = 0;
    int mapped = 0;
    if (file && strcmp(file, "-") != 0) {
        /* mmap: the library reads the value in place, so a large file is never copied. */
        int fd = open(file, O_RDONLY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "iccli: %s: %s\n", file, strerror(errno));
            if (fd >= 0) close(fd);
            return 2;
        }
        len = (size_t)st.st_size;
        if (len > 0) {
            val = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (val == MAP_FAILED) {
                fprintf(stderr, "iccli: mmap %s: %s\n", file, strerror(errno));
                close(fd);
                return 2;
            }
            mapped = 1;
        }
        close(fd);
    } else {
        val = read_stdin(max, &len);
        if (!val) {
            fprintf(stderr, "iccli: reading stdin: %s\n", strerror(errno));
            return 2;
        }
    }
    int rc = ic_set(c, key, strlen(key), val, len);
    if (mapped) munmap(val, len);
    else free(val);
    if (rc < 0) return die("set", rc, c);
    return 0;
}

/* "START-END" (decimal, START <= END, both below 2^63) into an offset and a length. */
static int parse_range(const char *s, uint64_t *offset, size_t *length)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return -1;
    unsigned long long a = strtoull(s, &end, 10);
    if (errno || *end != '-' || end[1] < '0' || end[1] > '9') return -1;
    unsigned long long b = strtoull(end + 1, &end, 10);
    if (errno || *end || a > b || b >= (1ull << 63) || b - a >= SIZE_MAX) return -1;
    *offset = a;
    *length = (size_t)(b - a + 1);
    return 0;
}

static int cmd_get(ic_client_t *c, const char *key, const char *file, const char *range)
{
    void *val = NULL;
    size_t len = 0;
    uint64_t offset;
    size_t length;
    int rc;
    if (range && parse_range(range, &offset, &length) < 0) {
        fprintf(stderr, "iccli: get: bad --range '%s' (START-END, e.g. 0-1048575)\n", range);
        return 2;
    }
    if (range)
        rc = ic_get_range(c, key, strlen(key), offset, length, &val, &len);
    else
        rc = ic_get(c, key, strlen(key), &val, &len);
    if (rc < 0) return die("get", rc, c);
    if (rc == IC_MISS) {
        fprintf(stderr, "iccli: get: %s: not found\n", key);
        return 1;
    }
    int fd = 1;
    if (file && strcmp(file, "-") != 0) {
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            fprintf(stderr, "iccli: %s: %s\n", file, strerror(errno));
            ic_free(val);
            return 2;
        }
    }
    int bad = net_write_all(fd, val, len) < 0;
    if (bad) fprintf(stderr, "iccli: write: %s\n", strerror(errno));
    if (fd != 1 && close(fd) < 0 && !bad) {
        fprintf(stderr, "iccli: close %s: %s\n", file, strerror(errno));
        bad = 1;
    }
    ic_free(val);
    return bad ? 2 : 0;
}

int main(int argc, char **argv)
{
    const char *proxies[MAX_PROXIES];
    size_t nproxies = 0;
    ic_options_t opt;
    ic_options_init(&opt);
    int i = 1;
    /* Options are parsed by hand, not with conf_*: --proxy repeats and commands are positional. */
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--tls")) {
            opt.tls = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "iccli: %s needs a value\n%s", a, usage);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--proxy")) {
            if (nproxies == MAX_PROXIES) {
                fprintf(stderr, "iccli: at most %d proxies\n", MAX_PROXIES);
                return 2;
            }
            proxies[nproxies++] = v;
        } else if (!strcmp(a, "--d")) opt.d = (int)parse_num(a, v, INT_MAX);
        else if (!strcmp(a, "--p")) opt.p = (int)parse_num(a, v, INT_MAX);
        else if (!strcmp(a, "--small-max")) opt.small_max = (size_t)parse_num(a, v, LONG_MAX);
        else if (!strcmp(a, "--timeout")) opt.op_timeout_ms = (int)parse_num(a, v, INT_MAX);
        else if (!strcmp(a, "--chunk-deadline"))
            opt.chunk_deadline_ms = (int)parse_num(a, v, INT_MAX);
        else if (!strcmp(a, "--first-d")) opt.first_d = (int)parse_num(a, v, INT_MAX);
        else if (!strcmp(a, "--cacert")) opt.tls_ca_file = v;
        else if (!strcmp(a, "--cert")) opt.tls_cert_file = v;
        else if (!strcmp(a, "--key")) opt.tls_key_file = v;
        else if (!strcmp(a, "--user")) opt.user = v;
        else if (!strcmp(a, "--pass")) {
            /* Keep a copy and blank the argument, so ps shows it no longer than needed. */
            free(pass_copy);
            opt.password = pass_copy = strdup(v);
            if (!pass_copy) return die("--pass", IC_ENOMEM, NULL);
            memset(argv[i], '*', strlen(argv[i]));
        } else {
            fprintf(stderr, "iccli: unknown option %s\n%s", a, usage);
            return 2;
        }
    }
    if (!opt.password) opt.password = getenv("IC_PASSWORD");
    if (!opt.password) opt.password = getenv("REDISCLI_AUTH");
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[i++];
    const char *range = NULL;
    if (!strcmp(cmd, "get") && i < argc && !strcmp(argv[i], "--range")) {
        if (i + 1 >= argc) {
            fprintf(stderr, "iccli: --range needs a value\n%s", usage);
            return 2;
        }
        range = argv[i + 1];
        i += 2;
    }
    int nargs = argc - i;
    struct {
        const char *name;
        int min, max;
    } cmds[] = {{"set", 1, 2}, {"get", 1, 2}, {"del", 1, 1}, {"exists", 1, 1}, {"info", 0, 0}};
    int known = 0;
    for (size_t j = 0; j < sizeof cmds / sizeof cmds[0]; j++)
        if (!strcmp(cmd, cmds[j].name)) {
            known = 1;
            if (nargs < cmds[j].min || nargs > cmds[j].max) {
                fprintf(stderr, "iccli: wrong number of arguments for %s\n%s", cmd, usage);
                return 2;
            }
        }
    if (!known) {
        fprintf(stderr, "iccli: unknown command '%s'\n%s", cmd, usage);
        return 2;
    }
    opt.proxies = proxies;
    opt.nproxies = nproxies;
    int err = 0;
    ic_client_t *c = ic_client_new(&opt, &err);
    if (!c) return die("bad options (check --proxy, --d, --p)", err, NULL);
    int rc;
    const char *key = nargs > 0 ? argv[i] : NULL, *file = nargs > 1 ? argv[i + 1] : NULL;
    if (!strcmp(cmd, "set")) rc = cmd_set(c, key, file, (size_t)opt.max_object_size);
    else if (!strcmp(cmd, "get")) rc = cmd_get(c, key, file, range);
    else if (!strcmp(cmd, "del") || !strcmp(cmd, "exists")) {
        int r = cmd[0] == 'd' ? ic_del(c, key, strlen(key)) : ic_exists(c, key, strlen(key));
        rc = r < 0 ? die(cmd, r, c) : r == IC_HIT ? 0 : 1;
        if (r >= 0) printf("%d\n", r);
    } else {
        rc = 0;
        for (size_t p = 0; p < ic_proxy_count(c); p++) {
            char *text;
            size_t len;
            int r = ic_info(c, p, &text, &len);
            if (r < 0) {
                rc = die("info", r, c);
                continue;
            }
            if (ic_proxy_count(c) > 1) printf("# proxy %zu\n", p);
            fwrite(text, 1, len, stdout);
            if (len && text[len - 1] != '\n') putchar('\n');
            ic_free(text);
        }
    }
    ic_client_free(c);
    free(pass_copy);
    return rc;
}
