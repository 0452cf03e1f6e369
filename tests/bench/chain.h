/*
 * chain.h - what the chain benchmark's programs share (tests/bench/chain.c,
 * tests/bench/peers/chain_*.c): the command line, the socketpairs, the
 * token-passing rule, the clocks, the markers and the result line.
 * Header-only, so each program is one translation unit and the peers link
 * nothing of libepump.
 *
 * The benchmark (after libevent's test/bench.c and libev's benchmark):
 * PAIRS socketpairs; the read end of each is watched for readability by
 * the loop under test.  ACTIVE of them, spread evenly, get one byte (a
 * token) at the start.  A read handler reads what its pair holds and
 * passes each byte on to the next pair (i + 1, wrapping), until WRITES
 * bytes have been passed on in all.  The run ends when every byte written
 * (ACTIVE + WRITES) has been read.
 *
 * The handler reads up to CHAIN_BUF bytes per read(2), not one: with
 * ACTIVE > 1 two tokens can meet in one pair, and an edge-triggered loop
 * (libepump, raw epoll) gets one edge for both, so a handler that read one
 * byte would strand the other.  Every implementation runs the same
 * handler, so they do the same reads and writes.  A "hop" is one byte
 * passed on: WRITES hops per run.
 *
 * Each program prints one line:
 *   RESULT impl backend pairs active hops reads setup_wall_ns setup_cpu_ns
 *          proc_wall_ns proc_cpu_ns
 * setup = making the watchers of all PAIRS read ends and registering them
 * with the kernel (one loop pass is included where the library registers
 * lazily, as libev and libuv do); proc = from just before the first token
 * is written until the last byte is read.  cpu = CLOCK_THREAD_CPUTIME_ID
 * of the thread that runs the loop.
 *
 * Markers: close(-1001) right before setup's clock starts and close(-1002)
 * right after it stops; close(-1003) and close(-1004) around the
 * processing.  They fail with EBADF and cost one syscall outside the
 * timed spans; strace shows them, so tests/bench/run-chain.sh counts the
 * system calls of each phase from one strace log.
 */
#ifndef EPUMP_CHAIN_H
#define EPUMP_CHAIN_H

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHAIN_BUF        64         /* bytes per read(2) in a handler */
#define CHAIN_MAX_PAIRS  100000
#define CHAIN_MAX_WRITES 100000000UL
#define CHAIN_LIMIT_S    120        /* SIGALRM ends a run that hangs */

/* How a handler reads pair i; a program may define its own (libepump's
 * reads through iodev_recv(), as its users do). */
#ifndef CHAIN_READ
#define CHAIN_READ(c, i, buf, len) read((c)->rfd[i], (buf), (len))
#endif

enum {
	MARK_SETUP0 = -1001, MARK_SETUP1 = -1002,
	MARK_PROC0 = -1003, MARK_PROC1 = -1004
};

struct chain_stamp {
	uint64_t wall_ns, cpu_ns;
};

static inline uint64_t chain_clock(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline struct chain_stamp chain_now(void)
{
	struct chain_stamp s;

	s.wall_ns = chain_clock(CLOCK_MONOTONIC);
	s.cpu_ns = chain_clock(CLOCK_THREAD_CPUTIME_ID);
	return s;
}

static inline void chain_mark(int m)
{
	(void)close(m); /* EBADF: a marker in strace's log, nothing else */
}

/* The run, shared by the program and its handler. */
struct chain {
	const char *impl;
	int npairs, nactive;
	unsigned long nwrites;
	int *rfd, *wfd;             /* read and write ends, by pair */
	unsigned long left;         /* bytes still to pass on */
	unsigned long expect;       /* bytes to read in all: active + writes */
	unsigned long got;          /* bytes read so far */
	unsigned long reads;        /* read(2) calls that returned data */
	struct chain_stamp s0, s1, p0, p1;
};

static inline void chain_usage(const char *prog, FILE *f)
{
	fprintf(f,
	    "usage: %s [-n PAIRS] [-a ACTIVE] [-w WRITES]\n"
	    "The chain benchmark: PAIRS socketpairs, ACTIVE tokens passed on\n"
	    "from pair to pair by read handlers, WRITES hops in all.\n"
	    "  -n PAIRS   socketpairs (default 1000)\n"
	    "  -a ACTIVE  pairs holding a token at the start (default 1)\n"
	    "  -w WRITES  bytes passed on in all (default 100000)\n"
	    "Prints: RESULT impl backend pairs active hops reads setup_wall_ns\n"
	    "        setup_cpu_ns proc_wall_ns proc_cpu_ns\n", prog);
}

static inline unsigned long chain_num(const char *prog, const char *s,
                                      unsigned long max, int opt)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < 1 ||
	    v > max) {
		fprintf(stderr, "%s: -%c wants 1..%lu, not '%s'\n", prog, opt,
		        max, s);
		exit(2);
	}
	return v;
}

/* Parses the command line; exits on a bad one. */
static inline void chain_args(struct chain *c, const char *impl, int argc,
                              char **argv)
{
	int o;

	memset(c, 0, sizeof(*c));
	c->impl = impl;
	c->npairs = 1000;
	c->nactive = 1;
	c->nwrites = 100000;
	while ((o = getopt(argc, argv, "n:a:w:h")) != -1) {
		switch (o) {
		case 'n':
			c->npairs = (int)chain_num(argv[0], optarg,
			                           CHAIN_MAX_PAIRS, o);
			break;
		case 'a':
			c->nactive = (int)chain_num(argv[0], optarg,
			                            CHAIN_MAX_PAIRS, o);
			break;
		case 'w':
			c->nwrites = chain_num(argv[0], optarg,
			                       CHAIN_MAX_WRITES, o);
			break;
		case 'h':
			chain_usage(argv[0], stdout);
			exit(0);
		default:
			chain_usage(argv[0], stderr);
			exit(2);
		}
	}
	if (optind < argc || c->nactive > c->npairs) {
		if (c->nactive > c->npairs)
			fprintf(stderr, "%s: -a ACTIVE must not exceed -n "
			        "PAIRS\n", argv[0]);
		chain_usage(argv[0], stderr);
		exit(2);
	}
	c->left = c->nwrites;
	c->expect = (unsigned long)c->nactive + c->nwrites;
	alarm(CHAIN_LIMIT_S); /* bounded in time, whatever happens */
}

static inline void chain_die(const struct chain *c, const char *what)
{
	fprintf(stderr, "chain %s: %s: %s\n", c->impl, what, strerror(errno));
	exit(1);
}

/*
 * Raises the soft fd limit to the hard one, then makes the socketpairs
 * (non-blocking, so no library has to change them).
 */
static inline void chain_pairs(struct chain *c)
{
	struct rlimit rl;
	int i, sv[2];

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	c->rfd = calloc((size_t)c->npairs, sizeof(int));
	c->wfd = calloc((size_t)c->npairs, sizeof(int));
	if (c->rfd == NULL || c->wfd == NULL)
		chain_die(c, "calloc");
	for (i = 0; i < c->npairs; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
		               SOCK_CLOEXEC, 0, sv) < 0)
			chain_die(c, "socketpair (raise ulimit -n?)");
		c->rfd[i] = sv[0];
		c->wfd[i] = sv[1];
	}
}

/* Writes the ACTIVE tokens, spread evenly over the pairs. */
static inline void chain_start(struct chain *c)
{
	int i, space = c->npairs / c->nactive;

	for (i = 0; i < c->nactive; i++)
		if (write(c->wfd[i * space], "e", 1) != 1)
			chain_die(c, "write (first tokens)");
}

/*
 * The handler's work for pair i: read what the pair holds, pass each byte
 * on to pair i + 1 while WRITES allow.  Reads until a short read (the
 * pair is drained: no edge is lost) or EAGAIN.  Returns 1 when the run is
 * over (every byte read), else 0.
 */
static inline int chain_hop(struct chain *c, int i)
{
	char buf[CHAIN_BUF];
	int next = i + 1 == c->npairs ? 0 : i + 1;
	ssize_t n;

	for (;;) {
		n = CHAIN_READ(c, i, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			chain_die(c, n == 0 ? "read: end of file" : "read");
		c->reads++;
		c->got += (unsigned long)n;
		if (c->left > 0) {
			size_t k = (unsigned long)n < c->left ?
			           (size_t)n : (size_t)c->left;

			if (write(c->wfd[next], buf, k) != (ssize_t)k)
				chain_die(c, "write");
			c->left -= k;
		}
		if ((size_t)n < sizeof(buf))
			break;
	}
	return c->got == c->expect;
}

static inline void chain_report(const struct chain *c, const char *backend)
{
	if (c->got != c->expect) {
		fprintf(stderr, "chain %s: read %lu bytes, want %lu\n",
		        c->impl, c->got, c->expect);
		exit(1);
	}
	printf("RESULT %s %s %d %d %lu %lu %llu %llu %llu %llu\n", c->impl,
	       backend, c->npairs, c->nactive, c->nwrites, c->reads,
	       (unsigned long long)(c->s1.wall_ns - c->s0.wall_ns),
	       (unsigned long long)(c->s1.cpu_ns - c->s0.cpu_ns),
	       (unsigned long long)(c->p1.wall_ns - c->p0.wall_ns),
	       (unsigned long long)(c->p1.cpu_ns - c->p0.cpu_ns));
	fflush(stdout);
}

#endif /* EPUMP_CHAIN_H */
