/*
 * echoclient.c - a load and verification client for an echo server.  It
 * uses raw epoll, not libepump, so it tests the server independently.
 *
 *   echoclient -p PORT [-a ADDR] [-c CONNS] [-n MSGS] [-s MAX] [-T SECS]
 *              [--slow-reader] [--reset] [--half-close] [--hold SECS]
 *              [--seed N]
 *
 * Each connection sends MSGS messages of random sizes (1 to MAX bytes),
 * cut from its own pseudo-random byte stream, and checks every byte of the
 * echo against that stream.  By default it sends one message, waits for
 * all of its echo, then sends the next.  Modes:
 *
 *   --slow-reader  send every message at once (no waiting), with a small
 *                  receive buffer, and read the echo in small pieces (a
 *                  few of up to 2 KiB every millisecond): once more is
 *                  sent than the kernel buffers hold, the server must
 *                  queue its sends.
 *   --reset        every fourth connection sets SO_LINGER {1, 0} and closes
 *                  (RST) at a random point of its stream, mid-send.
 *   --half-close   after the last message, shutdown(SHUT_WR); expect every
 *                  byte back, then end of file, and nothing more.
 *   --hold SECS    keep each finished connection open (idle) SECS seconds
 *                  before closing it.
 *
 * After -T seconds (default 60) it gives up.  It prints one line,
 * "echoclient: conns=N ok=N failed=N bytes=N" (bytes: echoed bytes
 * verified; with --reset, " reset=N" follows), and exits 0 only if every
 * connection that was not reset on purpose got every byte back in order.
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
#include <time.h>
#include <unistd.h>

#define PROG       "echoclient"
#define CHUNK      (64 * 1024)  /* one read or write */
#define SLOW_PIECE 2048         /* --slow-reader: the most one read takes */
#define SLOW_READS 4            /* --slow-reader: reads per millisecond */
#define SLOW_RCVBUF 4096        /* --slow-reader: SO_RCVBUF */
#define MAX_ERRORS 10           /* failure messages printed */

enum state { CONNECTING, RUNNING, HOLDING, DONE };

struct conn {
	int fd, id;
	enum state state;
	uint32_t events;            /* epoll interest now (0: not in epoll) */
	uint64_t seed;              /* names this connection's byte stream */
	int msgs;                   /* messages released for sending */
	uint64_t tx_off, tx_lim;    /* bytes sent; may send up to tx_lim */
	uint64_t rx_off;            /* bytes echoed and verified */
	uint64_t total;             /* bytes of all messages */
	uint64_t reset_at;          /* --reset: RST after this many; 0: no */
	int shut;                   /* --half-close: SHUT_WR done */
	long long hold_until;       /* --hold: close then (ms) */
};

static struct conn *conns;
static int nconns = 1, nmsgs = 4, maxsize = 256 * 1024, timeout_s = 60;
static int slow, reset, halfclose, hold_s, ep;
static int n_ok, n_failed, n_reset, n_errors, live;
static unsigned long long bytes_ok;
static uint64_t seed = 1;
static unsigned char txbuf[CHUNK], rxbuf[CHUNK], want[CHUNK];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* splitmix64's finalizer: a good 64-bit hash. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Bytes [off, off + n) of the stream named by s. */
static void pattern(uint64_t s, uint64_t off, unsigned char *p, size_t n)
{
	uint64_t w = mix(s ^ (off >> 3));
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if ((off & 7) == 0)
			w = mix(s ^ (off >> 3));
		p[i] = (unsigned char)(w >> ((off & 7) * 8));
	}
}

/* The size of message i of c, 1 to maxsize: half of them uniform in that
 * range, half in a range shrunk by a random power of two, so that tiny,
 * odd and large messages all come up. */
static uint64_t msg_size(const struct conn *c, int i)
{
	uint64_t r = mix(c->seed + 0x51ed + (uint64_t)i);
	uint64_t range = (uint64_t)maxsize >> (r & 1 ? 0 : (r >> 1) % 19);

	return 1 + (mix(r) % (range ? range : 1));
}

__attribute__((format(printf, 2, 3)))
static void fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (n_errors++ < MAX_ERRORS) {
		fprintf(stderr, PROG ": conn %d: ", c->id);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, " (sent %llu, echoed %llu of %llu)\n",
		        (unsigned long long)c->tx_off,
		        (unsigned long long)c->rx_off,
		        (unsigned long long)c->total);
	}
	close(c->fd);
	c->state = DONE;
	n_failed++;
	live--;
}

/* Make the epoll interest of c what its state asks for. */
static void update(struct conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if (c->state == CONNECTING)
		ev = EPOLLOUT;
	else if (c->state == RUNNING) {
		if (!slow)
			ev |= EPOLLIN;
		if (c->tx_off < c->tx_lim)
			ev |= EPOLLOUT;
	}
	if (ev == c->events || c->state == DONE)
		return;
	e.events = ev;
	e.data.u32 = (uint32_t)c->id;
	if (epoll_ctl(ep, ev == 0 ? EPOLL_CTL_DEL : c->events == 0 ?
	              EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e) < 0) {
		perror(PROG ": epoll_ctl");
		exit(2);
	}
	c->events = ev;
}

/* c got all it should: close it now or after --hold. */
static void finish(struct conn *c)
{
	n_ok++;
	if (hold_s > 0) {
		c->state = HOLDING;
		c->hold_until = now_ms() + hold_s * 1000LL;
		update(c);
		return;
	}
	close(c->fd);
	c->state = DONE;
	live--;
}

static void send_some(struct conn *c)
{
	uint64_t lim;
	ssize_t n;

	while (c->state == RUNNING && c->tx_off < c->tx_lim) {
		lim = c->tx_lim;
		if (c->reset_at && lim > c->reset_at)
			lim = c->reset_at;
		n = (ssize_t)(lim - c->tx_off < CHUNK ? lim - c->tx_off : CHUNK);
		pattern(c->seed, c->tx_off, txbuf, (size_t)n);
		n = send(c->fd, txbuf, (size_t)n, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			fail(c, "send: %s", strerror(errno));
			return;
		}
		c->tx_off += (uint64_t)n;
		if (c->reset_at && c->tx_off >= c->reset_at) {
			struct linger l = { 1, 0 };

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			close(c->fd);  /* RST, with echo still on its way */
			c->state = DONE;
			n_reset++;
			live--;
			return;
		}
	}
	if (halfclose && !c->shut && c->tx_off == c->total) {
		if (shutdown(c->fd, SHUT_WR) < 0) {
			fail(c, "shutdown: %s", strerror(errno));
			return;
		}
		c->shut = 1;
	}
	update(c);
}

/* One read of at most cap bytes: verify it, move on. */
static void recv_some(struct conn *c, size_t cap)
{
	ssize_t n, i;

	n = recv(c->fd, rxbuf, cap, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) {
		fail(c, "recv: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		if (halfclose && c->shut && c->rx_off == c->total)
			finish(c);
		else
			fail(c, "unexpected end of file");
		return;
	}
	if (c->rx_off + (uint64_t)n > c->tx_off) {
		fail(c, "%zd bytes back, more than was sent", n);
		return;
	}
	pattern(c->seed, c->rx_off, want, (size_t)n);
	if (memcmp(rxbuf, want, (size_t)n) != 0) {
		for (i = 0; rxbuf[i] == want[i]; i++)
			;
		fail(c, "wrong byte at offset %llu: got 0x%02x, want 0x%02x",
		     (unsigned long long)(c->rx_off + (uint64_t)i), rxbuf[i],
		     want[i]);
		return;
	}
	c->rx_off += (uint64_t)n;
	bytes_ok += (unsigned long long)n;
	if (c->rx_off == c->tx_lim && c->msgs < nmsgs)
		c->tx_lim += msg_size(c, c->msgs++);  /* next message */
	if (c->rx_off == c->total && !halfclose) {
		finish(c);
		return;
	}
	send_some(c);
}

static void on_event(struct conn *c, uint32_t ev)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->state == CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			fail(c, "connect: %s", strerror(err));
			return;
		}
		c->state = RUNNING;
		send_some(c);
		return;
	}
	if (c->state != RUNNING)
		return;
	if (slow && (ev & (EPOLLERR | EPOLLHUP))) {
		/* Leave it to the slow reads, or epoll would repeat this. */
		c->events = 0;
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		return;
	}
	if ((ev & EPOLLOUT) && c->tx_off < c->tx_lim)
		send_some(c);
	if (!slow && c->state == RUNNING && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		recv_some(c, CHUNK);
}

static void start(struct conn *c, int i, const struct sockaddr_in *sa)
{
	int buf = SLOW_RCVBUF, m;

	memset(c, 0, sizeof(*c));
	c->id = i;
	c->seed = mix(seed * 1000003 + (uint64_t)i);
	for (m = 0; m < nmsgs; m++)
		c->total += msg_size(c, m);
	c->msgs = slow ? nmsgs : 1;
	c->tx_lim = slow ? c->total : msg_size(c, 0);
	if (reset && i % 4 == 3)
		c->reset_at = 1 + mix(c->seed + 7) % c->total;  /* may be all */
	live++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		exit(2);
	}
	if (slow)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	c->state = CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		on_event(c, EPOLLOUT);
	else if (errno == EINPROGRESS)
		update(c);
	else
		fail(c, "connect: %s", strerror(errno));
}

/* Slow reads, and the end of --hold: every millisecond or so. */
static void tick(long long now)
{
	int i, k;

	for (i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->state == HOLDING && now >= c->hold_until) {
			close(c->fd);
			c->state = DONE;
			live--;
		} else if (slow) {
			for (k = 0; k < SLOW_READS && c->state == RUNNING; k++)
				recv_some(c, 1 + mix(c->seed ^ c->rx_off) % SLOW_PIECE);
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " -p PORT [-a ADDR] [-c CONNS] [-n MSGS]"
	        " [-s MAX] [-T SECS]\n"
	        "       [--slow-reader] [--reset] [--half-close] [--hold SECS]"
	        " [--seed N]\n");
}

static int number(const char *s, int min, int max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, PROG ": want a number from %d to %d, not '%s'\n",
		        min, max, s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "slow-reader", no_argument, NULL, 'S' },
		{ "reset", no_argument, NULL, 'R' },
		{ "half-close", no_argument, NULL, 'H' },
		{ "hold", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct epoll_event evs[256];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *addr = "127.0.0.1";
	long long deadline, next_tick = 0, now;
	struct rlimit rl;
	int port = -1, opt, i, n, wait_ms;

	while ((opt = getopt_long(argc, argv, "a:p:c:n:s:T:h", longopts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = number(optarg, 1, 65535); break;
		case 'c': nconns = number(optarg, 1, 1000000); break;
		case 'n': nmsgs = number(optarg, 1, 1000000); break;
		case 's': maxsize = number(optarg, 1, 1 << 30); break;
		case 'T': timeout_s = number(optarg, 1, 86400); break;
		case 'S': slow = 1; break;
		case 'R': reset = 1; break;
		case 'H': halfclose = 1; break;
		case 'o': hold_s = number(optarg, 0, 3600); break;
		case 'e': seed = (uint64_t)number(optarg, 0, 1 << 30); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (port < 0 || optind < argc || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		usage(stderr);
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);

	/* One fd per connection, plus a few. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (conns = calloc((size_t)nconns, sizeof(*conns))) == NULL) {
		perror(PROG);
		return 2;
	}
	deadline = now_ms() + timeout_s * 1000LL;
	for (i = 0; i < nconns; i++)
		start(&conns[i], i, &sa);

	while (live > 0) {
		now = now_ms();
		if (now >= deadline)
			break;
		if (now >= next_tick) {
			tick(now);
			next_tick = now + 1;
		}
		wait_ms = slow || hold_s ? 1 : 100;
		if (deadline - now < wait_ms)
			wait_ms = (int)(deadline - now);
		n = epoll_wait(ep, evs, 256, wait_ms);
		if (n < 0 && errno != EINTR) {
			perror(PROG ": epoll_wait");
			return 2;
		}
		for (i = 0; i < n; i++)
			on_event(&conns[evs[i].data.u32], evs[i].events);
	}
	for (i = n = 0; i < nconns; i++)
		if (conns[i].state == CONNECTING || conns[i].state == RUNNING)
			n++;
	if (n > 0)
		fprintf(stderr, PROG ": gave up after %d s with %d connections"
		        " unfinished\n", timeout_s, n);
	for (i = 0; i < nconns; i++)
		if (conns[i].state == CONNECTING || conns[i].state == RUNNING)
			fail(&conns[i], "timed out");
	printf(PROG ": conns=%d ok=%d failed=%d bytes=%llu", nconns, n_ok,
	       n_failed, bytes_ok);
	if (reset)
		printf(" reset=%d", n_reset);
	printf("\n");
	return n_failed == 0 && n_ok + n_reset == nconns ? 0 : 1;
}
