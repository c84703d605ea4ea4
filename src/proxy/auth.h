/* auth.h -- who may use the client port: the default user's password (requirepass) and the users
 * of an ACL file, checked in constant time. Pure: no I/O except auth_load reading the file. */
#ifndef IC_PROXY_AUTH_H
#define IC_PROXY_AUTH_H

#include <stddef.h>

#define AUTH_NAME_MAX 64        /* longest user name */
#define AUTH_PASSWORDS_MAX 16   /* most passwords (">pass" or "#sha256") per user */
#define AUTH_USERS_MAX 1024     /* most users in an ACL file */
#define AUTH_LINE_MAX 4096      /* longest ACL file line */
#define AUTH_FILE_MAX (1 << 20) /* largest ACL file */
#define AUTH_DIGEST_LEN 32      /* SHA-256 */

typedef struct {
    char name[AUTH_NAME_MAX + 1];
    int enabled; /* "on"; "off" users can never authenticate */
    int nopass;  /* any password (or none) authenticates */
    int npass;
    unsigned char pass[AUTH_PASSWORDS_MAX][AUTH_DIGEST_LEN]; /* SHA-256 of each password */
} auth_user_t;

typedef struct {
    auth_user_t *users; /* users[0] is always "default" */
    int nusers;
} auth_t;

/* Parses one ACL file line into *u. Returns 1 for a user line, 0 for a blank or comment line,
 * or -EINVAL with a message in err. Accepted: "user NAME rule..." with the rules on, off,
 * >password, #sha256hex, nopass, resetpass, ~* / allkeys, +@all / allcommands, reset. Every user
 * may run every command on every key, so an enabled user must be granted ~* and +@all: a rule
 * that would grant less on Redis is refused rather than silently widened. */
int auth_parse_line(const char *line, size_t len, auth_user_t *u, char *err, size_t errlen);

/* Builds the user table: requirepass (may be "" for none) is the default user's password; aclfile
 * ("" for none) defines users, and a file that does not define "default" leaves it "on nopass" as
 * Redis does. Giving both is refused (Redis would silently drop requirepass). 0, or -1 with err. */
int auth_load(auth_t *a, const char *requirepass, const char *aclfile, char *err, size_t errlen);
void auth_free(auth_t *a);

/* CONFIG SET requirepass: the default user's password becomes pass ("" : none), in place, so
 * clients already authenticated stay so, as on Redis. */
void auth_set_default_password(auth_t *a, const char *pass);

/* The user a new connection starts as: the default user if it is on and needs no password,
 * else NULL (the client must authenticate). */
const auth_user_t *auth_initial_user(const auth_t *a);
/* 1 if some enabled user needs a password (protected mode then stays out of the way). */
int auth_has_password(const auth_t *a);
/* The default user needs no password: a one-argument AUTH is a configuration mistake. */
int auth_default_nopass(const auth_t *a);

/* Checks a user name and password. The password is hashed and compared with every stored digest
 * in constant time; the user name is not secret. Returns the user, or NULL (unknown user, wrong
 * password, or disabled user: the caller answers all three alike). */
const auth_user_t *auth_check(const auth_t *a, const char *user, size_t userlen, const char *pass,
                              size_t passlen);

/* Protected mode (as Redis): with it on and a default user that needs no password, clients from
 * other hosts are refused when the proxy listens beyond loopback. bind is the listening address,
 * peer the client's (AF_INET, AF_INET6 or AF_UNIX). 1: refuse. */
struct sockaddr;
int auth_protected_refuses(int protected_mode, const auth_t *a, const char *bind,
                           const struct sockaddr *peer);

/* The reply a refused client gets before the connection closes. */
#define AUTH_DENIED_REPLY                                                                          \
    "-DENIED icproxy is running in protected mode because protected mode is enabled and no "       \
    "password is set for the default user. In this mode connections are only accepted from the "   \
    "loopback interface. If you want to connect from external computers you may adopt one of "     \
    "the following solutions: 1) Set up an authentication password for the default user "          \
    "(--requirepass PASSWORD, or a 'user default on >PASSWORD ~* +@all' line in the --aclfile). "  \
    "2) If you started the proxy manually just for testing, restart it with the "                  \
    "'--protected-mode no' option, however MAKE SURE it is not publicly accessible from the "      \
    "internet if you do so. NOTE: You only need to do one of the above things in order for the "   \
    "server to start accepting connections from the outside.\r\n"

#endif
