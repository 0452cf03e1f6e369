/*
 * soakclient.c - the client of the soak test (tests/soak/soak.bats): holds
 * thousands of connections to an echo server for a while, with churn, and
 * checks every byte that comes back.  One thread, raw epoll, no libepump,
 * so it tests the server independently of the library.
 *
 *   soakclient -p PORT [-a ADDR] [-c CONNS] [-d SECS] [-W SECS] [-S NSRC]
 *              [-s MAX] [-N TOTAL] [-T SECS] [--think MS] [--rounds N]
 *              [--seed N]
 *
 * CONNS slots each hold one connection at a time.  A connection lives a
 * few rounds: it sends a burst of random size (1 byte to MAX, in random
 * pieces), cut from its own pseudo-random byte stream (named by a seed made
 * from --seed and the connection's serial number), reads the echo back and
 * compares it with the stream, then waits a random think time.  How it
 * ends is chosen when it opens:
 *
 *   close       after its last round is all back, close(2);
 *   half-close  after sending its last burst, shutdown(SHUT_WR); every
 *               byte must still come back, then end of file;
 *   reset       mid-burst, SO_LINGER {1, 0} and close(2): an RST while
 *               the server may still be echoing; its echo is not owed.
 *
 * Independently some connections read slowly (small receive buffer, a
 * small read every few milliseconds), so the server has to queue.  When a
 * connection ends its slot opens a new one (reconnect).  Connections are
 * bound to source addresses 127.0.0.2 .. 127.0.0.(NSRC+1) in turn
 * (IP_BIND_ADDRESS_NO_PORT), so the churn's TIME_WAIT sockets do not use
 * up one address's ephemeral ports.
 *
 * Phases, each announced by a line on stdout (the test reads them):
 *   "soakclient: ramp done ..."     every slot connected, all idle so far
 *                                   (at most 60 s); then the churn starts;
 *   "soakclient: warm-up done ..."  W more seconds of churn;
 *   "soakclient: t=..."             progress every 10 s of the hold;
 *   "soakclient: hold done ..."     D more seconds; then no new
 *                                   connection, each ends after its round;
 *   "soakclient: held=..."          the summary, once all have ended (at
 *                                   most T s after the hold).
 * The summary: held (most connections established at once), min_held
 * (fewest during the hold), made (connections opened), sent / verified
 * (bytes; kept_sent / kept_verified: those of connections that were not
 * reset, equal when nothing was lost), resets, half_closes, slow, errors.
 * It exits 0 only if there was no error (a wrong, missing or extra byte,
 * an early end of file or reset, a failed connect, a connection still
 * open at the deadline) and held reached CONNS.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define PROG         "soakclient"
#define CHUNK        (64 * 1024) /* the most one read or write moves */
#define RAMP_PENDING 512         /* connects in flight at once */
#define RAMP_LIMIT_S 60          /* the ramp must be done by then */
#define SLOW_PIECE   2048        /* slow reader: the most one read takes */
#define SLOW_GAP_MS  10          /* slow reader: between two reads */
#define SLOW_RCVBUF  4096        /* slow reader: SO_RCVBUF */
#define MAX_ERRORS   20          /* error messages printed */
#define PROGRESS_MS  10000
#define GIVE_UP      1000        /* errors: the run is pointless then */

enum state { FREE, CONNECTING, ACTIVE, THINK, SHUT };
enum end { END_CLOSE, END_HALF, END_RESET };
enum phase { RAMP, WARMUP, HOLD, DRAIN };

struct conn {
	int fd;
	enum state state;
	enum end end;
	int slow;                 /* reads slowly */
	int paused;               /* slow: EPOLLIN off until the timer */
	uint32_t events;          /* epoll interest now */
	unsigned gen;             /* names its one valid timer */
	unsigned long long serial;
	uint64_t seed;            /* names its byte stream */
	uint64_t rng;             /* its own choices (sizes, times) */
	uint64_t tx, rx;          /* bytes sent; echoed and verified */
	uint64_t tx_lim;          /* end of the current burst */
	uint64_t reset_at;        /* END_RESET: RST once tx reaches it */
	int round, rounds, reset_round;
	long long t_connect;      /* when connect(2) was called (ms) */
};

struct timer {
	long long at;
	int slot;
	unsigned gen;
};

static struct conn *conns;
static int nconns = 9000, hold_s = 60, warm_s = 10, nsrc = 16;
static int maxsize = 64 * 1024, drain_s = 60, think_ms = 3000;
static int rounds_max = 20;
static unsigned long long max_total = 1000000;
static uint64_t seed = 1;
static int ep;
static struct sockaddr_in server = { .sin_family = AF_INET };
static enum phase phase = RAMP;

static int *freelist, nfree;      /* slots waiting for a connection */
static struct timer *heap;
static size_t nheap, heapcap;

static int pending, held, held_peak, held_min = -1, errors;
static unsigned long long made, resets, half_closes, closes, slow_conns;
static unsigned long long slow_connects;  /* took a second or more */
static long long connect_max_ms;
static unsigned long long sent, verified, kept_sent, kept_verified;
static unsigned char txbuf[CHUNK], rxbuf[CHUNK], want[CHUNK];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* splitmix64: a good 64-bit mixer, and a generator over a state. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(struct conn *c, uint64_t n) /* 0 .. n-1 */
{
	c->rng += 0x9e3779b97f4a7c15ULL;
	return n ? mix(c->rng) % n : 0;
}

/* Bytes [off, off + n) of the stream named by s: computable at any
 * offset, so the sender and the checker need no copy of what was sent. */
static void stream(uint64_t s, uint64_t off, unsigned char *p, size_t n)
{
	uint64_t w = mix(s ^ (off >> 3));
	size_t i = 0;
	int j;

	for (; i < n && (off & 7) != 0; i++, off++)
		p[i] = (unsigned char)(w >> ((off & 7) * 8));
	for (; i + 8 <= n; i += 8, off += 8) {  /* whole words */
		w = mix(s ^ (off >> 3));
		for (j = 0; j < 8; j++)
			p[i + (size_t)j] = (unsigned char)(w >> (j * 8));
	}
	if (i < n)
		w = mix(s ^ (off >> 3));
	for (; i < n; i++, off++)
		p[i] = (unsigned char)(w >> ((off & 7) * 8));
}

/* 1 to maxsize bytes, spread over the orders of magnitude: tiny, odd and
 * large bursts all come up. */
static uint64_t burst_size(struct conn *c)
{
	int bits = 0;

	while ((1 << bits) < maxsize)
		bits++;
	return 1 + rnd(c, (uint64_t)1 << rnd(c, (uint64_t)bits + 1)) %
	       (uint64_t)maxsize;
}

/* ---- timers: a binary min-heap; a stale entry (gen moved on) is skipped */

static void timer_add(struct conn *c, long long at)
{
	struct timer t = { at, (int)(c - conns), ++c->gen }, tmp;
	size_t i, p;

	if (nheap == heapcap) {
		heapcap = heapcap ? heapcap * 2 : 4096;
		if ((heap = realloc(heap, heapcap * sizeof(*heap))) == NULL) {
			perror(PROG);
			exit(EX_OSERR);
		}
	}
	heap[i = nheap++] = t;
	while (i > 0 && heap[p = (i - 1) / 2].at > heap[i].at) {
		tmp = heap[p]; heap[p] = heap[i]; heap[i] = tmp;
		i = p;
	}
}

static struct timer timer_pop(void)
{
	struct timer top = heap[0], tmp;
	size_t i = 0, l, m;

	heap[0] = heap[--nheap];
	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < nheap && heap[l].at < heap[m].at)
			m = l;
		if (l + 1 < nheap && heap[l + 1].at < heap[m].at)
			m = l + 1;
		if (m == i)
			break;
		tmp = heap[m]; heap[m] = heap[i]; heap[i] = tmp;
		i = m;
	}
	return top;
}

/* ---- connections */

static void update(struct conn *c)
{
	struct epoll_event e;
	uint32_t ev = 0;

	if (c->state == CONNECTING)
		ev = EPOLLOUT;
	else if (c->state != FREE) {
		if (!c->paused)
			ev |= EPOLLIN;
		if (c->state == ACTIVE && c->tx < c->tx_lim)
			ev |= EPOLLOUT;
	}
	if (ev == c->events)
		return;
	e.events = ev;
	e.data.u32 = (uint32_t)(c - conns);
	if (epoll_ctl(ep, ev == 0 ? EPOLL_CTL_DEL : c->events == 0 ?
	              EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e) < 0) {
		perror(PROG ": epoll_ctl");
		exit(EX_OSERR);
	}
	c->events = ev;
}

/* The connection is over (its fd closed or to be closed by the caller):
 * its slot waits for the next one. */
static void release(struct conn *c)
{
	if (c->state != CONNECTING)
		held--;
	else
		pending--;
	if (c->end != END_RESET || c->reset_at == 0 || c->tx < c->reset_at) {
		kept_sent += c->tx;
		kept_verified += c->rx;
	}
	c->state = FREE;
	c->events = 0;
	c->gen++;                       /* its timer, if any, is stale */
	freelist[nfree++] = (int)(c - conns);
}

__attribute__((format(printf, 2, 3)))
static void fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (errors++ < MAX_ERRORS) {
		fprintf(stderr, PROG ": connection %llu (seed %llu, %s%s, "
		        "round %d of %d): ", c->serial,
		        (unsigned long long)c->seed,
		        c->end == END_HALF ? "half-close" :
		        c->end == END_RESET ? "reset" : "close",
		        c->slow ? ", slow" : "", c->round + 1, c->rounds);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, " (sent %llu, verified %llu)\n",
		        (unsigned long long)c->tx, (unsigned long long)c->rx);
	}
	/* Counted as not kept: the error is reported, not the bytes. */
	c->end = END_RESET;
	c->reset_at = 1;
	close(c->fd);
	release(c);
}

static void start_round(struct conn *c)
{
	uint64_t b = burst_size(c);

	c->state = ACTIVE;
	c->tx_lim = c->tx + b;
	if (c->end == END_RESET && c->round == c->reset_round)
		c->reset_at = c->tx + 1 + rnd(c, b);   /* 1 .. b bytes in */
}

static int last_round(const struct conn *c)
{
	return c->round + 1 >= c->rounds || phase == DRAIN;
}

/* Every byte of c is back: close(2), or SHUT_WR and wait for the EOF. */
static void finish(struct conn *c)
{
	if (c->end == END_HALF) {
		if (c->state != SHUT && shutdown(c->fd, SHUT_WR) < 0) {
			fail(c, "shutdown: %s", strerror(errno));
			return;
		}
		c->state = SHUT;
		update(c);
		return;
	}
	closes++;
	close(c->fd);
	release(c);
}

static void send_some(struct conn *c)
{
	struct linger l = { 1, 0 };
	uint64_t lim;
	ssize_t n;
	int k;

	for (k = 0; k < 4 && c->state == ACTIVE && c->tx < c->tx_lim; k++) {
		lim = c->tx_lim;
		if (c->reset_at && lim > c->reset_at)
			lim = c->reset_at;
		n = (ssize_t)(1 + rnd(c, lim - c->tx < CHUNK ? lim - c->tx :
		                      CHUNK));
		stream(c->seed, c->tx, txbuf, (size_t)n);
		n = send(c->fd, txbuf, (size_t)n, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(c, "send: %s", strerror(errno));
			return;
		}
		c->tx += (uint64_t)n;
		sent += (unsigned long long)n;
		if (c->reset_at && c->tx >= c->reset_at) {
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			close(c->fd);     /* RST, with echo on its way */
			resets++;
			release(c);
			return;
		}
	}
	if (c->state == ACTIVE && c->tx == c->tx_lim && c->end == END_HALF &&
	    last_round(c)) {
		if (shutdown(c->fd, SHUT_WR) < 0) {
			fail(c, "shutdown: %s", strerror(errno));
			return;
		}
		c->state = SHUT;        /* read the rest back, then EOF */
	}
	update(c);
}

/* The echo of c's burst is all back. */
static void round_done(struct conn *c)
{
	if (last_round(c)) {
		finish(c);
		return;
	}
	c->round++;
	c->state = THINK;
	c->paused = 0;
	timer_add(c, now_ms() + (long long)rnd(c, (uint64_t)think_ms + 1));
	update(c);
}

static void recv_some(struct conn *c)
{
	size_t cap = c->slow ? 1 + rnd(c, SLOW_PIECE) : CHUNK;
	ssize_t n, i;

	n = recv(c->fd, rxbuf, cap, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		fail(c, "recv: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		if (c->state == SHUT && c->rx == c->tx) {
			half_closes++;
			close(c->fd);
			release(c);
		} else
			fail(c, "end of file before all the echo");
		return;
	}
	if (c->rx + (uint64_t)n > c->tx) {
		fail(c, "%zd bytes back, more than was sent", n);
		return;
	}
	stream(c->seed, c->rx, want, (size_t)n);
	if (memcmp(rxbuf, want, (size_t)n) != 0) {
		for (i = 0; rxbuf[i] == want[i]; i++)
			;
		fail(c, "wrong byte at offset %llu: 0x%02x, want 0x%02x",
		     (unsigned long long)(c->rx + (uint64_t)i), rxbuf[i],
		     want[i]);
		return;
	}
	c->rx += (uint64_t)n;
	verified += (unsigned long long)n;
	if (c->slow) {          /* the next read in a while */
		c->paused = 1;
		timer_add(c, now_ms() + SLOW_GAP_MS);
	}
	if (c->state == ACTIVE && c->rx == c->tx_lim)
		round_done(c);
	else
		update(c);      /* SHUT and all back: the EOF is next */
}

static void connect_slot(int slot)
{
	struct conn *c = &conns[slot];
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1, buf = SLOW_RCVBUF;
	unsigned gen = c->gen;  /* keeps the slot's old timers stale */

	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->serial = made++;
	c->seed = mix(seed * 0x100000001b3ULL + c->serial);
	c->rng = mix(c->seed);
	c->rounds = 1 + (int)rnd(c, (uint64_t)rounds_max);
	switch (rnd(c, 10)) {
	case 0: case 1: c->end = END_RESET; break;
	case 2: case 3: case 4: c->end = END_HALF; break;
	default: c->end = END_CLOSE; break;
	}
	c->reset_round = (int)rnd(c, (uint64_t)c->rounds);
	c->slow = rnd(c, 100) < 15;
	slow_conns += (unsigned long long)c->slow;
	c->state = CONNECTING;
	c->t_connect = now_ms();
	pending++;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		exit(EX_OSERR);
	}
	if (c->slow)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (nsrc > 0) {
		/* The port is picked at connect(2), for the whole 4-tuple. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		           sizeof(one));
		src.sin_addr.s_addr = htonl(0x7f000002 +
		                            (uint32_t)(c->serial % (unsigned)nsrc));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			fail(c, "bind: %s", strerror(errno));
			return;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) < 0 &&
	    errno != EINPROGRESS) {
		fail(c, "connect: %s", strerror(errno));
		return;
	}
	update(c);
}

static void on_event(struct conn *c, uint32_t ev)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (c->state == CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			fail(c, "connect: %s", strerror(err));
			return;
		}
		pending--;
		/* A second or more: the SYN was dropped and sent again,
		 * the server's listen queue was full. */
		if (now_ms() - c->t_connect > connect_max_ms)
			connect_max_ms = now_ms() - c->t_connect;
		if (now_ms() - c->t_connect >= 1000)
			slow_connects++;
		if (++held > held_peak)
			held_peak = held;
		if (phase == RAMP) {    /* idle until all are open */
			c->state = THINK;
			update(c);
			return;
		}
		start_round(c);
		send_some(c);
		return;
	}
	if (c->state == THINK && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
		recv_some(c);   /* nothing is owed: a byte or EOF is wrong */
		return;
	}
	if ((ev & EPOLLOUT) && c->state == ACTIVE)
		send_some(c);
	if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !c->paused &&
	    (c->state == ACTIVE || c->state == SHUT))
		recv_some(c);
}

static void on_timer(struct conn *c)
{
	if (c->state == THINK) {
		if (phase == DRAIN) {
			finish(c);
			return;
		}
		start_round(c);
		send_some(c);
	} else if (c->paused) {
		c->paused = 0;
		update(c);
	}
}

static void report(const char *what, long long t0, long long now)
{
	printf(PROG ": %s t=%llds held=%d made=%llu sent=%llu verified=%llu "
	       "resets=%llu half_closes=%llu errors=%d\n", what,
	       (now - t0) / 1000, held, made, sent, verified, resets,
	       half_closes, errors);
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " -p PORT [-a ADDR] [-c CONNS] [-d SECS] [-W SECS]"
	    " [-S NSRC]\n"
	    "                  [-s MAX] [-N TOTAL] [-T SECS] [--think MS]"
	    " [--rounds N]\n"
	    "                  [--seed N]\n"
	    "  -c CONNS    connections held at once (default 9000)\n"
	    "  -d SECS     the hold, after the warm-up (default 60)\n"
	    "  -W SECS     the warm-up, after the ramp (default 10)\n"
	    "  -S NSRC     source addresses 127.0.0.2 on (default 16; 0: any)\n"
	    "  -s MAX      largest burst, bytes (default 65536)\n"
	    "  -N TOTAL    connections opened at most (default 1000000)\n"
	    "  -T SECS     the drain after the hold, at most (default 60)\n"
	    "  --think MS  longest pause between two bursts (default 3000)\n"
	    "  --rounds N  most bursts of one connection (default 20)\n");
}

static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, PROG ": want a number from %ld to %ld, not "
		        "'%s'\n", min, max, s);
		exit(EX_USAGE);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "think", required_argument, NULL, 'k' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct epoll_event evs[1024];
	const char *addr = "127.0.0.1";
	long long t0, now, phase_end, next_progress, wait;
	struct rlimit rl;
	struct timer t;
	int port = -1, opt, i, n;

	while ((opt = getopt_long(argc, argv, "a:p:c:d:W:S:s:N:T:h", longopts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = (int)number(optarg, 1, 65535); break;
		case 'c': nconns = (int)number(optarg, 1, 1000000); break;
		case 'd': hold_s = (int)number(optarg, 0, 86400); break;
		case 'W': warm_s = (int)number(optarg, 0, 3600); break;
		case 'S': nsrc = (int)number(optarg, 0, 250); break;
		case 's': maxsize = (int)number(optarg, 1, 1 << 24); break;
		case 'N': max_total = (unsigned long long)
			  number(optarg, 1, 1L << 40); break;
		case 'T': drain_s = (int)number(optarg, 1, 3600); break;
		case 'k': think_ms = (int)number(optarg, 0, 600000); break;
		case 'r': rounds_max = (int)number(optarg, 1, 1000000); break;
		case 'e': seed = (uint64_t)number(optarg, 0, 1L << 40); break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (port < 0 || optind < argc ||
	    inet_pton(AF_INET, addr, &server.sin_addr) != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	server.sin_port = htons((uint16_t)port);

	/* One fd per connection, plus a few. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)nconns + 16) {
		fprintf(stderr, PROG ": %d connections need %d fds; the limit "
		        "is %llu\n", nconns, nconns + 16,
		        (unsigned long long)rl.rlim_cur);
		return EX_CONFIG;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (conns = calloc((size_t)nconns, sizeof(*conns))) == NULL ||
	    (freelist = calloc((size_t)nconns, sizeof(*freelist))) == NULL) {
		perror(PROG);
		return EX_OSERR;
	}
	for (i = nconns - 1; i >= 0; i--)
		freelist[nfree++] = i;

	t0 = now_ms();
	phase_end = t0 + RAMP_LIMIT_S * 1000LL;
	next_progress = 0;
	for (;;) {
		now = now_ms();
		/* Fill free slots, a bounded number of connects at once. */
		while (phase != DRAIN && nfree > 0 && pending < RAMP_PENDING &&
		       made < max_total)
			connect_slot(freelist[--nfree]);

		if (phase == RAMP && held == nconns) {
			report("ramp done", t0, now);
			phase = WARMUP;
			phase_end = now + warm_s * 1000LL;
			/* The first bursts, spread over one think time. */
			for (i = 0; i < nconns; i++)
				timer_add(&conns[i], now +
				          (long long)rnd(&conns[i],
				                         (uint64_t)think_ms + 1));
		} else if (phase == RAMP && now >= phase_end) {
			fprintf(stderr, PROG ": the ramp did not reach %d "
			        "connections in %d s (held %d)\n", nconns,
			        RAMP_LIMIT_S, held);
			errors++;
			break;
		}
		if (phase == WARMUP && now >= phase_end) {
			report("warm-up done", t0, now);
			phase = HOLD;
			phase_end = now + hold_s * 1000LL;
			next_progress = now + PROGRESS_MS;
			held_min = held;
		}
		if (phase == HOLD) {
			if (held < held_min)
				held_min = held;
			if (now >= next_progress) {
				report("progress", t0, now);
				next_progress += PROGRESS_MS;
			}
			if (now >= phase_end) {
				report("hold done", t0, now);
				phase = DRAIN;
				phase_end = now + drain_s * 1000LL;
				/* No more bursts: those between two end now. */
				for (i = 0; i < nconns; i++)
					if (conns[i].state == THINK)
						finish(&conns[i]);
			}
		}
		if (phase == DRAIN && nfree == nconns)
			break;
		if (errors >= GIVE_UP) {
			fprintf(stderr, PROG ": %d errors, giving up\n", errors);
			break;
		}
		if (phase == DRAIN && now >= phase_end) {
			fprintf(stderr, PROG ": %d connections still open %d s "
			        "after the hold\n", nconns - nfree, drain_s);
			for (i = 0; i < nconns; i++)
				if (conns[i].state != FREE)
					fail(&conns[i], "still open (%s)",
					     conns[i].state == SHUT ?
					     "waiting for EOF" :
					     conns[i].state == CONNECTING ?
					     "connecting" : conns[i].state == THINK ?
					     "between bursts" : "waiting for echo");
			break;
		}

		while (nheap > 0 && heap[0].at <= now) {
			t = timer_pop();
			if (conns[t.slot].gen == t.gen &&
			    conns[t.slot].state != FREE)
				on_timer(&conns[t.slot]);
		}
		wait = 100;
		if (nheap > 0 && heap[0].at - now < wait)
			wait = heap[0].at - now > 0 ? heap[0].at - now : 0;
		n = epoll_wait(ep, evs, 1024, (int)wait);
		if (n < 0 && errno != EINTR) {
			perror(PROG ": epoll_wait");
			return EX_OSERR;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = &conns[evs[i].data.u32];

			if (c->state != FREE)
				on_event(c, evs[i].events);
		}
	}
	/* Whatever the ramp left open on the way out. */
	for (i = 0; i < nconns; i++)
		if (conns[i].state != FREE) {
			close(conns[i].fd);
			release(&conns[i]);
		}
	printf(PROG ": held=%d min_held=%d made=%llu sent=%llu verified=%llu "
	       "kept_sent=%llu kept_verified=%llu resets=%llu "
	       "half_closes=%llu closes=%llu slow=%llu slow_connects=%llu "
	       "connect_max_ms=%lld errors=%d\n",
	       held_peak, held_min, made, sent, verified, kept_sent,
	       kept_verified, resets, half_closes, closes, slow_conns,
	       slow_connects, connect_max_ms, errors);
	return errors == 0 && held_peak == nconns &&
	       kept_sent == kept_verified ? EX_OK : 1;
}
