/*
 * chain_conns.c - the client of the idle-connection memory benchmark
 * (tests/bench/run-mem.sh): opens COUNT TCP connections to a loopback echo
 * server, makes one round trip of one byte on each (so every connection
 * is accepted, registered and has run its handler once), says "ready",
 * and then holds them idle until SIGTERM or SIGINT, at most HOLD seconds.
 * Then it closes them with an RST (SO_LINGER 0: no TIME_WAIT left behind,
 * so runs can follow each other) and exits.
 *
 *   chain_conns -p PORT [-a ADDR] [-c COUNT] [-t HOLD_S]
 *
 * Prints "ready COUNT" on stdout once all round trips are done.  Exit
 * status 0, or 1 (with a message) if a connection failed or the setup took
 * longer than 60 s.  Raw epoll, one thread; links nothing of libepump.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define PROG      "chain_conns"
#define INFLIGHT  256  /* connections being set up at once */
#define SETUP_S   60   /* bound on connecting and the round trips */

enum { C_NONE, C_CONNECTING, C_WAITING, C_DONE };

static void die(const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " -p PORT [-a ADDR] [-c COUNT] [-t HOLD_S]\n"
	        "Opens COUNT connections (default 9000) to ADDR:PORT (default\n"
	        "127.0.0.1), one 1-byte round trip on each, prints \"ready\n"
	        "COUNT\", holds them until SIGTERM/SIGINT or HOLD_S seconds\n"
	        "(default 120), then resets them.\n");
}

static long num(const char *s, long min, long max, int opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, PROG ": -%c wants %ld..%ld\n", opt, min, max);
		exit(2);
	}
	return v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { 0 };
	struct epoll_event evs[256];
	struct rlimit rl;
	const char *addr = "127.0.0.1";
	int port = -1, count = 9000, hold = 120, o, i, n, epfd;
	int started = 0, inflight = 0, done = 0, *fds;
	unsigned char *state;
	double deadline;
	sigset_t ss;
	struct timespec hts;

	while ((o = getopt(argc, argv, "p:a:c:t:h")) != -1) {
		switch (o) {
		case 'p': port = (int)num(optarg, 1, 65535, o); break;
		case 'a': addr = optarg; break;
		case 'c': count = (int)num(optarg, 1, 1000000, o); break;
		case 't': hold = (int)num(optarg, 1, 3600, o); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (port < 0 || optind < argc) {
		usage(stderr);
		return 2;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, PROG ": -a wants an IPv4 loopback address\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* SIGTERM and SIGINT end the hold (sigtimedwait), not the process. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);

	fds = calloc((size_t)count, sizeof(*fds));
	state = calloc((size_t)count, 1);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (fds == NULL || state == NULL || epfd < 0)
		die("setup");
	deadline = now_s() + SETUP_S;
	while (done < count) {
		while (started < count && inflight < INFLIGHT) {
			struct epoll_event e = { 0 };
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			                SOCK_CLOEXEC, 0);

			if (fd < 0)
				die("socket (raise ulimit -n?)");
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
			    errno != EINPROGRESS)
				die("connect");
			e.events = EPOLLOUT | EPOLLIN;
			e.data.u32 = (uint32_t)started;
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
				die("epoll_ctl");
			fds[started] = fd;
			state[started++] = C_CONNECTING;
			inflight++;
		}
		if (now_s() > deadline) {
			fprintf(stderr, PROG ": %d of %d connections done after "
			        "%d s\n", done, count, SETUP_S);
			return 1;
		}
		n = epoll_wait(epfd, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			uint32_t k = evs[i].data.u32;
			int fd = fds[k], err = 0;
			socklen_t len = sizeof(err);
			char b;

			if (state[k] == C_CONNECTING) {
				if (!(evs[i].events & (EPOLLOUT | EPOLLERR |
				                       EPOLLHUP)))
					continue;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				               &len) < 0 || err != 0) {
					errno = err ? err : errno;
					die("connect");
				}
				if (write(fd, "x", 1) != 1)
					die("write");
				evs[i].events = EPOLLIN; /* the echo, only */
				if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd,
				              &evs[i]) < 0)
					die("epoll_ctl");
				state[k] = C_WAITING;
				continue;
			}
			if (state[k] != C_WAITING)
				continue;
			ssize_t r = read(fd, &b, 1);

			if (r < 0 && errno == EAGAIN)
				continue;
			if (r != 1 || b != 'x') {
				if (r == 0)
					errno = ECONNRESET;
				die("read (the echo)");
			}
			state[k] = C_DONE;
			(void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			inflight--;
			done++;
		}
	}
	printf("ready %d\n", count);
	fflush(stdout);

	hts.tv_sec = hold;
	hts.tv_nsec = 0;
	while (sigtimedwait(&ss, NULL, &hts) < 0 && errno == EINTR)
		;
	for (i = 0; i < count; i++) {
		struct linger lg = { 1, 0 };

		(void)setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg,
		                 sizeof(lg));
		close(fds[i]);
	}
	return 0;
}
