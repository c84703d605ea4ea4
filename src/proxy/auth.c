/* auth.c -- the client port's users: requirepass and ACL-file lines parsed with hard limits, and
 * passwords kept only as SHA-256 digests and compared in constant time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "net.h"

#include "auth.h"

static void digest(const char *p, size_t n, unsigned char out[AUTH_DIGEST_LEN])
{
    SHA256((const unsigned char *)p, n, out);
}

static int tok_is(const char *t, size_t n, const char *s)
{
    return strlen(s) == n && strncasecmp(t, s, n) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* User names: printable ASCII without blanks, as they must survive a log line and an AUTH. */
static int name_ok(const char *t, size_t n)
{
    if (n == 0 || n > AUTH_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~') return 0;
    return 1;
}

int auth_parse_line(const char *line, size_t len, auth_user_t *u, char *err, size_t errlen)
{
    if (len > AUTH_LINE_MAX) {
        snprintf(err, errlen, "line longer than %d bytes", AUTH_LINE_MAX);
        return -EINVAL;
    }
    const char *p = line, *end = line + len;
    const char *tok[3 + AUTH_PASSWORDS_MAX * 4];
    size_t tl[sizeof tok / sizeof *tok];
    int nt = 0;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p >= end) break;
        if (nt == 0 && *p == '#') return 0; /* a comment line */
        const char *s = p;
        while (p < end && !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (nt == (int)(sizeof tok / sizeof *tok)) {
            snprintf(err, errlen, "too many rules");
            return -EINVAL;
        }
        tok[nt] = s;
        tl[nt++] = (size_t)(p - s);
    }
    if (nt == 0) return 0;
    if (!tok_is(tok[0], tl[0], "user")) {
        snprintf(err, errlen, "expected 'user NAME rules...', got '%.*s'",
                 (int)(tl[0] < 32 ? tl[0] : 32), tok[0]);
        return -EINVAL;
    }
    if (nt < 2 || !name_ok(tok[1], tl[1])) {
        snprintf(err, errlen,
                 "a user name (1 to %d printable characters, no blanks) must follow "
                 "'user'",
                 AUTH_NAME_MAX);
        return -EINVAL;
    }
    memset(u, 0, sizeof *u);
    memcpy(u->name, tok[1], tl[1]);
    int allkeys = 0, allcommands = 0;
    for (int i = 2; i < nt; i++) {
        const char *t = tok[i];
        size_t n = tl[i];
        if (tok_is(t, n, "on")) {
            u->enabled = 1;
        } else if (tok_is(t, n, "off")) {
            u->enabled = 0;
        } else if (tok_is(t, n, "nopass")) {
            u->nopass = 1;
            u->npass = 0;
        } else if (tok_is(t, n, "resetpass")) {
            u->nopass = 0;
            u->npass = 0;
        } else if (tok_is(t, n, "reset")) {
            u->enabled = u->nopass = u->npass = allkeys = allcommands = 0;
        } else if (tok_is(t, n, "~*") || tok_is(t, n, "allkeys")) {
            allkeys = 1;
        } else if (tok_is(t, n, "+@all") || tok_is(t, n, "allcommands")) {
            allcommands = 1;
        } else if (n >= 1 && (t[0] == '>' || t[0] == '#')) {
            unsigned char d[AUTH_DIGEST_LEN];
            if (t[0] == '>') {
                digest(t + 1, n - 1, d);
            } else {
                if (n != 1 + 2 * AUTH_DIGEST_LEN) {
                    snprintf(err, errlen, "'#' must be followed by 64 hex digits (a SHA-256)");
                    return -EINVAL;
                }
                for (int k = 0; k < AUTH_DIGEST_LEN; k++) {
                    int hi = hexval(t[1 + 2 * k]), lo = hexval(t[2 + 2 * k]);
                    if (hi < 0 || lo < 0) {
                        snprintf(err, errlen, "'#' must be followed by 64 hex digits (a SHA-256)");
                        return -EINVAL;
                    }
                    d[k] = (unsigned char)(hi << 4 | lo);
                }
            }
            if (u->npass == AUTH_PASSWORDS_MAX) {
                snprintf(err, errlen, "more than %d passwords for user '%s'", AUTH_PASSWORDS_MAX,
                         u->name);
                return -EINVAL;
            }
            memcpy(u->pass[u->npass++], d, AUTH_DIGEST_LEN);
            u->nopass = 0;
        } else {
            /* Never echo a rule that may be a mistyped password. */
            snprintf(err, errlen,
                     "unsupported rule #%d for user '%s' (supported: on off >password "
                     "#sha256 nopass resetpass reset ~* allkeys +@all allcommands)",
                     i - 1, u->name);
            return -EINVAL;
        }
    }
    if (u->enabled && (!allkeys || !allcommands)) {
        snprintf(err, errlen,
                 "user '%s' is on but not granted ~* and +@all: this server has no "
                 "per-key or per-command permissions, so it grants every user all of them",
                 u->name);
        return -EINVAL;
    }
    return 1;
}

static int add_user(auth_t *a, const auth_user_t *u)
{
    auth_user_t *n = realloc(a->users, (size_t)(a->nusers + 1) * sizeof *n);
    if (!n) return -ENOMEM;
    a->users = n;
    a->users[a->nusers++] = *u;
    return 0;
}

static auth_user_t *find_user(const auth_t *a, const char *name, size_t len)
{
    for (int i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].name) == len && memcmp(a->users[i].name, name, len) == 0)
            return &a->users[i];
    return NULL;
}

static int load_file(auth_t *a, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "aclfile %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = malloc(AUTH_LINE_MAX + 2);
    size_t total = 0;
    int lineno = 0, rc = 0, default_seen = 0;
    char why[256];
    while (line && fgets(line, AUTH_LINE_MAX + 2, f)) {
        lineno++;
        size_t n = strlen(line);
        total += n;
        if (total > AUTH_FILE_MAX) {
            snprintf(err, errlen, "aclfile %s: larger than %d bytes", path, AUTH_FILE_MAX);
            rc = -1;
            break;
        }
        if (n > AUTH_LINE_MAX && line[n - 1] != '\n') {
            snprintf(err, errlen, "aclfile %s line %d: longer than %d bytes", path, lineno,
                     AUTH_LINE_MAX);
            rc = -1;
            break;
        }
        auth_user_t u;
        int r = auth_parse_line(line, n, &u, why, sizeof why);
        if (r < 0) {
            snprintf(err, errlen, "aclfile %s line %d: %s", path, lineno, why);
            rc = -1;
            break;
        }
        if (r == 0) continue;
        auth_user_t *old = find_user(a, u.name, strlen(u.name));
        int is_default = old == &a->users[0];
        if (old && (!is_default || default_seen)) {
            snprintf(err, errlen, "aclfile %s line %d: user '%s' is defined twice", path, lineno,
                     u.name);
            rc = -1;
            break;
        }
        if (!old && a->nusers >= AUTH_USERS_MAX) {
            snprintf(err, errlen, "aclfile %s line %d: more than %d users", path, lineno,
                     AUTH_USERS_MAX);
            rc = -1;
            break;
        }
        if (is_default) {
            *old = u; /* the file's "default" replaces the built-in one */
            default_seen = 1;
        } else if (add_user(a, &u) < 0)
            line = NULL;
    }
    if (!line) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "aclfile %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int auth_load(auth_t *a, const char *requirepass, const char *aclfile, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    auth_user_t def = {.name = "default", .enabled = 1, .nopass = 1};
    if (requirepass[0] && aclfile[0]) {
        snprintf(err, errlen,
                 "requirepass and aclfile cannot be used together: give the default "
                 "user its password in the ACL file (user default on >PASSWORD ~* +@all)");
        return -1;
    }
    if (requirepass[0]) {
        def.nopass = 0;
        def.npass = 1;
        digest(requirepass, strlen(requirepass), def.pass[0]);
    }
    if (add_user(a, &def) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (aclfile[0] && load_file(a, aclfile, err, errlen) < 0) {
        auth_free(a);
        return -1;
    }
    return 0;
}

void auth_free(auth_t *a)
{
    if (a->users) OPENSSL_cleanse(a->users, (size_t)a->nusers * sizeof *a->users);
    free(a->users);
    a->users = NULL;
    a->nusers = 0;
}

void auth_set_default_password(auth_t *a, const char *pass)
{
    auth_user_t *d = &a->users[0];
    OPENSSL_cleanse(d->pass, sizeof d->pass);
    d->nopass = pass[0] == 0;
    d->npass = d->nopass ? 0 : 1;
    if (!d->nopass) digest(pass, strlen(pass), d->pass[0]);
}

const auth_user_t *auth_initial_user(const auth_t *a)
{
    const auth_user_t *d = &a->users[0];
    return d->enabled && d->nopass ? d : NULL;
}

int auth_has_password(const auth_t *a)
{
    for (int i = 0; i < a->nusers; i++)
        if (a->users[i].enabled && !a->users[i].nopass && a->users[i].npass) return 1;
    return 0;
}

int auth_default_nopass(const auth_t *a)
{
    return a->users[0].nopass;
}

const auth_user_t *auth_check(const auth_t *a, const char *user, size_t userlen, const char *pass,
                              size_t passlen)
{
    unsigned char d[AUTH_DIGEST_LEN];
    digest(pass, passlen, d);
    const auth_user_t *u = find_user(a, user, userlen);
    if (!u || !u->enabled) return NULL;
    if (u->nopass) return u;
    /* Every stored digest is compared, so the time does not tell which one matched. */
    int match = 0;
    for (int i = 0; i < u->npass; i++)
        match |= CRYPTO_memcmp(d, u->pass[i], AUTH_DIGEST_LEN) == 0;
    OPENSSL_cleanse(d, sizeof d);
    return match ? u : NULL;
}

int auth_protected_refuses(int protected_mode, const auth_t *a, const char *bind,
                           const struct sockaddr *peer)
{
    if (!protected_mode || !a->users[0].nopass || !a->users[0].enabled) return 0;
    if (net_host_is_loopback(bind)) return 0;
    return !net_addr_is_loopback(peer);
}
