/*
 * echo_peer.h - what the echo peers on libevent, libuv and libev
 * (tests/bench/peers/echo_*.c) share, so that each file holds only its
 * library's loop: the options, the listening socket, and the direct write
 * with its leftover for the callback tier.  Plain POSIX, no library.
 */
#ifndef ECHO_PEER_H
#define ECHO_PEER_H

#include <stddef.h>

#define PEER_BUFSZ (16 * 1024)  /* one read(2), as examples/echosrv */
#define PEER_SENDQ (256 * 1024) /* queued bytes before reading pauses */

/*
 * Parses [-p PORT] [-a ADDR] [-B] [-h]; raises RLIMIT_NOFILE to its hard
 * limit; ignores SIGPIPE; opens a non-blocking listening TCP socket and
 * prints "PROG: listening on ADDR:PORT" on stdout.  *buffered is set by
 * -B (NULL: -B is refused).  Returns the socket; exits on a bad option
 * (status 2) or when it cannot listen (status 1).
 */
int peer_listen(const char *prog, int argc, char **argv, int *buffered);

/* accept4() one connection, non-blocking, with TCP_NODELAY: fd or -1. */
int peer_accept(int lfd);

/* What a short write left behind (NULL: nothing, the usual case). */
struct peer_pend {
	size_t len, off;
	char data[];
};

/*
 * write(2) n bytes at once; what the kernel does not take is copied to a
 * new *pend.  0: all written, 1: some left in *pend, -1: error (errno).
 */
int peer_write(int fd, const char *buf, size_t n, struct peer_pend **pend);

/* Write *pend out: 0 all gone (freed, NULL), 1 some left, -1 error. */
int peer_flush(int fd, struct peer_pend **pend);

#endif
