/* net.h -- TCP socket helpers: listen, connect, non-blocking mode, address parsing. */
#ifndef IC_NET_H
#define IC_NET_H

#include <stddef.h>
#include <sys/uio.h>

/* Parses "host:port" (host may be "[::1]"). 0 or -EINVAL. */
int net_split_hostport(const char *addr, char *host, size_t hostlen, int *port);
/* Listening TCP socket, non-blocking, SO_REUSEADDR. Returns fd or -errno. port 0 picks one. */
int net_listen(const char *host, int port, int backlog);
/* The port a bound socket got. */
int net_local_port(int fd);
/* Blocking connect with a timeout in ms; the socket is returned in blocking mode with
 * TCP_NODELAY. Returns fd or -errno. */
int net_connect(const char *host, int port, int timeout_ms);
struct sockaddr;
/* Starts a connect to an address already resolved (a connection's peer, say: no name lookup,
 * nothing that blocks): the socket, non-blocking and close-on-exec, or -errno. The connect is
 * complete when the socket is writable; net_connect_result() then says how it went. */
int net_connect_start(const struct sockaddr *sa, unsigned addrlen);
/* The outcome of net_connect_start once the socket is writable (or in error): 0 connected (and
 * TCP_NODELAY set), or -errno. */
int net_connect_result(int fd);
/* Accepts one connection, non-blocking, TCP_NODELAY. Returns fd or -errno (-EAGAIN). */
int net_accept(int lfd);
int net_set_nonblock(int fd, int on);
int net_set_nodelay(int fd);
/* Bounds every blocking send and recv on fd by timeout_ms (SO_SNDTIMEO/SO_RCVTIMEO); a call
 * that times out fails with EAGAIN. */
int net_set_io_timeout(int fd, int timeout_ms);
int net_set_bufsizes(int fd, int bytes);
/* 1 if every address host resolves to is a loopback address (127.0.0.0/8, ::1), 0 otherwise
 * (a wildcard such as 0.0.0.0 is not loopback: it accepts from any interface). */
int net_host_is_loopback(const char *host);
/* 1 if sa is a loopback peer: 127.0.0.0/8, ::1, a v4-mapped 127.x, or a Unix socket. */
int net_addr_is_loopback(const struct sockaddr *sa);
/* "host:port" of the socket's peer, for logs ("?" when unknown). Returns out. */
const char *net_peer_name(int fd, char *out, size_t cap);

/* Blocking I/O that moves everything (retrying EINTR and short transfers): for clients, tools
 * and benchmarks, never the event loops. 0, or -1 on an error or end of file. net_writev_all
 * advances the iovec array it is given. */
int net_write_all(int fd, const void *p, size_t n);
int net_writev_all(int fd, struct iovec *iov, int cnt);
int net_read_all(int fd, void *p, size_t n);

#endif
