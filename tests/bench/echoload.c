/*
 * echoload.c - the load client of tests/bench/echo-run.sh: a closed-loop
 * TCP echo client on raw epoll, one thread.
 *
 * C connections each send a SIZE-byte message, wait until the whole echo
 * is back, and send the next.  Every connection first makes one untimed
 * round trip (so the server has accepted them all); then the timed phase
 * runs until -d SECONDS have passed or -n COUNT round trips have been
 * started, whichever comes first.  After that no message is started, the
 * ones in flight are waited for and counted, and the clock stops: so the
 * server did exactly the work of the round trips reported.
 *
 * The echo is checked byte for byte (each message starts at a different
 * offset of a fixed pattern), so a server that loses, repeats or reorders
 * bytes fails the run.
 *
 *   echoload [-a ADDR] -p PORT [-c CONNS] [-s SIZE] [-d SECONDS] [-n COUNT] [-g]
 *
 * -g (gated, for the runner): after the untimed round trips, print
 * "echoload: connected" and wait for a line on stdin before the timed
 * phase; after printing the results, wait for another line (or EOF)
 * before closing the connections.  The runner samples the server between.
 *
 * Output: a summary line, then "round_trips N", "seconds S", "rt_per_s R".
 * Exit status 0, or 1 on any error (connection refused or reset, short or
 * wrong echo, an in-flight message not back within 10 s).
 * Pinning to a CPU is the runner's job (taskset).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG      "echoload"
#define MAX_CONNS 100000
#define MAX_SIZE  (1024 * 1024)
#define DRAIN_MS  10000

struct conn {
	int fd;
	unsigned off;     /* where in pattern[] this message starts */
	size_t sent;      /* bytes of the message written */
	size_t got;       /* bytes of its echo read and checked */
	int busy;         /* a message is in flight */
	int out;          /* EPOLLOUT armed (the kernel took part of it) */
};

static struct conn *conns;
static int nconns = 50, epfd;
static size_t size = 64;
static unsigned char *pattern; /* size + 256 bytes */
static unsigned char *rbuf;
static size_t rbufsz;
static unsigned long started, done; /* round trips started and finished */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int ci)
{
	if (ci >= 0)
		fprintf(stderr, PROG ": connection %d: %s%s%s\n", ci, what,
		        errno ? ": " : "", errno ? strerror(errno) : "");
	else
		fprintf(stderr, PROG ": %s%s%s\n", what, errno ? ": " : "",
		        errno ? strerror(errno) : "");
	exit(1);
}

static void set_out(struct conn *c, int ci, int on)
{
	struct epoll_event e = { 0 };

	e.events = EPOLLIN | (on ? EPOLLOUT : 0);
	e.data.u32 = (uint32_t)ci;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		die("epoll_ctl", ci);
	c->out = on;
}

/* Write what is left of the message; arm EPOLLOUT if the kernel is full. */
static void push(struct conn *c, int ci)
{
	ssize_t w;

	while (c->sent < size) {
		w = write(c->fd, pattern + c->off + c->sent, size - c->sent);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			if (!c->out)
				set_out(c, ci, 1);
			return;
		}
		if (w < 0)
			die("write", ci);
		c->sent += (size_t)w;
	}
	if (c->out)
		set_out(c, ci, 0);
}

static void start(struct conn *c, int ci)
{
	c->off = (unsigned)(started++ & 255);
	c->sent = 0;
	c->got = 0;
	c->busy = 1;
	push(c, ci);
}

/* Read and check the echo; 1 when the whole message is back. */
static int pull(struct conn *c, int ci)
{
	ssize_t n;

	for (;;) {
		n = read(c->fd, rbuf, rbufsz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			die("read", ci);
		if (n == 0) {
			errno = 0;
			die("closed by the server", ci);
		}
		if (!c->busy || c->got + (size_t)n > c->sent ||
		    memcmp(rbuf, pattern + c->off + c->got, (size_t)n) != 0) {
			errno = 0;
			die("the echo is not what was sent", ci);
		}
		c->got += (size_t)n;
		if (c->got == size) {
			c->busy = 0;
			done++;
			return 1;
		}
	}
}

/*
 * Run until `stop` says no more messages are to be started and none is
 * in flight.  With limit/deadline_ms 0 they do not apply.
 */
static void run(unsigned long limit, uint64_t deadline_ms)
{
	static struct epoll_event ev[1024];
	unsigned long inflight = 0;
	uint64_t drain_end = 0, t;
	int i, n, ci, stopping = 0, timeout;

	for (ci = 0; ci < nconns; ci++) {
		if (limit && started >= limit)
			break;
		start(&conns[ci], ci);
		inflight++;
	}
	while (inflight > 0) {
		if (!stopping && deadline_ms && now_ms() >= deadline_ms)
			stopping = 1;
		if (stopping && drain_end == 0)
			drain_end = now_ms() + DRAIN_MS;
		timeout = -1;
		if (drain_end) {
			t = now_ms();
			if (t >= drain_end) {
				errno = 0;
				die("round trips still in flight after 10 s", -1);
			}
			timeout = (int)(drain_end - t);
		} else if (deadline_ms) {
			t = now_ms();
			timeout = deadline_ms > t ? (int)(deadline_ms - t) : 0;
		}
		n = epoll_wait(epfd, ev, 1024, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait", -1);
		for (i = 0; i < n; i++) {
			struct conn *c;

			ci = (int)ev[i].data.u32;
			c = &conns[ci];
			if (ev[i].events & EPOLLOUT && c->busy && c->sent < size)
				push(c, ci);
			if (!(ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			if (!pull(c, ci))
				continue;
			inflight--;
			if (limit && started >= limit)
				stopping = 1;
			if (!stopping) {
				start(c, ci);
				inflight++;
			}
		}
	}
}

static void wait_line(void)
{
	char line[64];

	if (fgets(line, sizeof(line), stdin) == NULL && ferror(stdin))
		die("reading stdin", -1);
}

static unsigned long number(const char *s, unsigned long max, int opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || *s == '-') {
		fprintf(stderr, PROG ": -%c wants a number up to %lu, not '%s'\n",
		        opt, max, s);
		exit(2);
	}
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-a ADDR] -p PORT [-c CONNS] [-s SIZE] [-d SECONDS]"
	    " [-n COUNT] [-g]\n"
	    "  -a ADDR     server address (default 127.0.0.1)\n"
	    "  -p PORT     server port\n"
	    "  -c CONNS    connections (default 50)\n"
	    "  -s SIZE     message size in bytes (default 64)\n"
	    "  -d SECONDS  timed phase length (default 5; with -n only: no limit)\n"
	    "  -n COUNT    total round trips of the timed phase\n"
	    "  -g          gated: wait for a stdin line before and after the"
	    " timed phase\n");
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	struct epoll_event e = { 0 };
	struct rlimit rl;
	unsigned long limit = 0, secs = 5, i;
	int port = -1, gated = 0, dset = 0, opt, one = 1, ci;
	double t0, t1;

	while ((opt = getopt(argc, argv, "a:p:c:s:d:n:gh")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = (int)number(optarg, 65535, opt); break;
		case 'c': nconns = (int)number(optarg, MAX_CONNS, opt); break;
		case 's': size = number(optarg, MAX_SIZE, opt); break;
		case 'd': secs = number(optarg, 86400, opt); dset = 1; break;
		case 'n': limit = number(optarg, 1UL << 40, opt); break;
		case 'g': gated = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (port <= 0 || nconns < 1 || size < 1 || optind < argc ||
	    (limit == 0 && secs == 0)) {
		usage(stderr);
		return 2;
	}
	if (limit && !dset)
		secs = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		fprintf(stderr, PROG ": -a wants a numeric address, not '%s'\n", addr);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)nconns + 16) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);

	pattern = malloc(size + 256);
	rbufsz = size < 65536 ? 65536 : size;
	rbuf = malloc(rbufsz);
	conns = calloc((size_t)nconns, sizeof(*conns));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (pattern == NULL || rbuf == NULL || conns == NULL || epfd < 0)
		die("setting up", -1);
	for (i = 0; i < size + 256; i++)
		pattern[i] = (unsigned char)(i * 7 + 3 + (i >> 8));

	/* Blocking connects (loopback: quick), then non-blocking I/O. */
	for (ci = 0; ci < nconns; ci++) {
		struct conn *c = &conns[ci];

		c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			die("socket", ci);
		if (connect(c->fd, (struct sockaddr *)&ss, sl) < 0)
			die("connect", ci);
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
			die("fcntl", ci);
		e.events = EPOLLIN;
		e.data.u32 = (uint32_t)ci;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0)
			die("epoll_ctl", ci);
	}

	/* One untimed round trip each: every connection is accepted. */
	run((unsigned long)nconns, 0);
	started = done = 0;

	if (gated) {
		printf(PROG ": connected\n");
		fflush(stdout);
		wait_line();
	}
	t0 = now_s();
	run(limit, secs ? now_ms() + secs * 1000 : 0);
	t1 = now_s();

	printf(PROG ": %d connections x %zu bytes: %lu round trips in %.3f s,"
	       " %.0f rt/s\n", nconns, size, done, t1 - t0,
	       t1 > t0 ? (double)done / (t1 - t0) : 0.0);
	printf("round_trips %lu\nseconds %.6f\nrt_per_s %.1f\n", done, t1 - t0,
	       t1 > t0 ? (double)done / (t1 - t0) : 0.0);
	fflush(stdout);
	if (gated)
		wait_line();
	for (ci = 0; ci < nconns; ci++)
		close(conns[ci].fd);
	return 0;
}
