/*
 * faultutil.h - shared parts of the fault tests (tests/faults/t_*.c): an
 * echo server on libepump, blocking loopback clients that verify every
 * echoed byte, an echo load thread, counting the process's open fds, and
 * a watchdog so that no test can hang make check.
 *
 * Threads: the server's handlers run on the core's threads and touch only
 * the atomics of struct fu_srv; a struct fu_load belongs to its own thread
 * except for the atomics the test reads.
 */
#ifndef EP_FAULTUTIL_H
#define EP_FAULTUTIL_H

#include <epump.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* ---- the process ---- */

/* Open fds now.  The directory stream stays open (one fd, counted every
 * time), so counting needs no new fd: it works at RLIMIT_NOFILE too. */
static DIR *fu_fddir;

static inline int fu_nfds(void)
{
	struct dirent *de;
	int n = 0;

	if (fu_fddir == NULL && (fu_fddir = opendir("/proc/self/fd")) == NULL)
		return -1;
	rewinddir(fu_fddir);
	while ((de = readdir(fu_fddir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	return n;
}

/* Waits until the process has want fds open (devices close their fds on
 * their epump thread, shortly after the close); returns the last count. */
static inline int fu_wait_nfds(int want, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	int n;

	while ((n = fu_nfds()) != want && tu_now_ms() < end)
		tu_sleep_ms(2);
	return n;
}

/* Under valgrind everything is ~50 times slower: tests that run for a
 * time budget scale their goals by it. */
static inline int fu_in_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

static inline void fu_on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test hangs\n";
	ssize_t r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);

	(void)sig;
	(void)r;
	_exit(99);
}

/* A test that hangs (a close or free that never returns) fails after secs
 * instead of blocking make check. */
static inline void fu_watchdog(unsigned secs)
{
	signal(SIGALRM, fu_on_alarm);
	alarm(secs);
}

/* ---- the payload: byte off of stream seed, the same on both ends ---- */

static inline uint8_t fu_byte(uint32_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)seed << 17;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(x >> 56);
}

static inline void fu_fill(uint8_t *buf, size_t len, uint32_t seed,
                           uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = fu_byte(seed, off + i);
}

/* ---- the echo server ---- */

struct fu_srv;
/* Called with what a connection read, before it is echoed. */
typedef void fu_data_hook(struct fu_srv *s, iodev_t *dev, const char *buf,
                          size_t n);

struct fu_srv {
	epcore_t *core;
	iodev_t *lis;
	int port;
	fu_data_hook *hook;
	void *arg;                  /* the test's, for the hook */
	int bind;                   /* for accepted connections; 0: the
	                             * listener's epump (BIND_CURRENT_EPUMP) */
	atomic_long accept_calls;   /* IOE_ACCEPT handled */
	atomic_long accepted;
	atomic_long emfile;         /* eptcp_accept(): EMFILE or ENFILE */
	atomic_long handler_calls;  /* every handler of the connections */
	atomic_long closed;         /* connections the server closed */
	atomic_llong echoed;        /* bytes taken by iodev_send() */
};

#define FU_SENDQ_MAX (1 << 20)

static inline void fu_echo(struct fu_srv *s, iodev_t *dev)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		if (iodev_sendq_len(dev) > FU_SENDQ_MAX - sizeof(buf)) {
			iodev_del_notify(dev, RWF_READ); /* IOE_WRITE resumes */
			return;
		}
		n = iodev_recv(dev, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			atomic_fetch_add(&s->closed, 1);
			iodev_close(dev);
			return;
		}
		if (s->hook != NULL)
			s->hook(s, dev, buf, (size_t)n);
		if (iodev_send(dev, buf, (size_t)n) != n) {
			atomic_fetch_add(&s->closed, 1);
			iodev_close(dev);
			return;
		}
		atomic_fetch_add(&s->echoed, n);
		if (n < (ssize_t)sizeof(buf))
			return;
	}
}

static inline int fu_on_conn(void *cbpara, void *obj, int event, int fdtype)
{
	struct fu_srv *s = cbpara;
	iodev_t *dev = obj;

	(void)fdtype;
	atomic_fetch_add(&s->handler_calls, 1);
	switch (event) {
	case IOE_READ:
		fu_echo(s, dev);
		break;
	case IOE_WRITE:
		if (!(iodev_rwflags(dev) & RWF_READ)) {
			iodev_add_notify(dev, RWF_READ);
			fu_echo(s, dev);
		}
		break;
	case IOE_INVALID_DEV:
		atomic_fetch_add(&s->closed, 1);
		iodev_close(dev);
		break;
	}
	return 0;
}

static inline int fu_on_listen(void *cbpara, void *obj, int event, int fdtype)
{
	struct fu_srv *s = cbpara;
	iodev_t *dev;

	(void)fdtype;
	if (event != IOE_ACCEPT)
		return 0;
	atomic_fetch_add(&s->accept_calls, 1);
	while ((dev = eptcp_accept(s->core, obj, NULL, fu_on_conn, s,
	                           s->bind ? s->bind : BIND_CURRENT_EPUMP,
	                           0)) != NULL) {
		atomic_fetch_add(&s->accepted, 1);
		eptcp_nodelay(dev, 1);
	}
	if (errno == EMFILE || errno == ENFILE)
		atomic_fetch_add(&s->emfile, 1);
	return 0;
}

/* Listens on 127.0.0.1 (a free port, in s->port); 0 or -1. */
static inline int fu_srv_start(struct fu_srv *s, epcore_t *core)
{
	char ip[64];

	s->core = core;
	s->lis = eptcp_listen(core, "127.0.0.1", 0, NULL, fu_on_listen, s,
	                      BIND_ONE_EPUMP, 0);
	if (s->lis == NULL ||
	    iodev_local_addr(s->lis, ip, sizeof(ip), &s->port) != 0)
		return -1;
	return 0;
}

/* ---- blocking clients ---- */

/* A TCP connection to 127.0.0.1:port (TCP_NODELAY), or -1. */
static inline int fu_connect(int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Waits for events on fd until the deadline (ms since the epoch of
 * tu_now_ms); whether they came. */
static inline int fu_poll_until(int fd, short events, uint64_t end)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		uint64_t now = tu_now_ms();
		int r;

		if (now >= end)
			return 0;
		r = poll(&p, 1, (int)(end - now));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* Writes all of buf within ms (fd may be non-blocking); whether it did. */
static inline int fu_send_all(int fd, const void *buf, size_t len,
                              unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, (const char *)buf + off, len - off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
		if (!fu_poll_until(fd, POLLOUT, end))
			return 0;
	}
	return 1;
}

/* Reads len bytes within ms; the number read (< len: EOF, error or
 * timeout). */
static inline size_t fu_recv_all(int fd, void *buf, size_t len, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, (char *)buf + off, len - off,
		                 MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		if (!fu_poll_until(fd, POLLIN, end))
			break;
	}
	return off;
}

/* One echo round trip of len bytes of stream seed from offset off: 1 when
 * every byte came back right within ms. */
static inline int fu_roundtrip(int fd, size_t len, uint32_t seed,
                               uint64_t off, unsigned ms)
{
	uint8_t out[4096], in[4096];

	if (len > sizeof(out))
		len = sizeof(out);
	fu_fill(out, len, seed, off);
	if (!fu_send_all(fd, out, len, ms))
		return 0;
	return fu_recv_all(fd, in, len, ms) == len &&
	       memcmp(in, out, len) == 0;
}

/* Did the peer close (EOF or reset) within ms?  Reads and drops data. */
static inline int fu_sees_close(int fd, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
		if (n < 0 && !fu_poll_until(fd, POLLIN, end))
			return 0;
	}
}

/* ---- an echo load: a thread keeping nconn connections busy ---- */

#define FU_LOAD_MAX    256
#define FU_LOAD_WINDOW 32768   /* bytes in flight per connection */

struct fu_load {
	int port, nconn;
	unsigned max_ms;            /* the thread stops by itself after this */
	long long rate;             /* bytes/s sent at most; 0: no limit */
	uint32_t seed;
	pthread_t thread;
	atomic_int stop;
	atomic_int running;
	atomic_llong verified;      /* echoed bytes that came back right */
	atomic_llong sent;
	atomic_long mismatched;     /* bytes that came back wrong */
	atomic_long ended;          /* connections the server closed/reset */
	atomic_long failed;         /* connections that failed otherwise */
	int fd[FU_LOAD_MAX];        /* the thread's */
	uint64_t soff[FU_LOAD_MAX], roff[FU_LOAD_MAX];
};

static inline void fu_load_end(struct fu_load *l, int i, int server_closed)
{
	close(l->fd[i]);
	l->fd[i] = -1;
	atomic_fetch_add(server_closed ? &l->ended : &l->failed, 1);
}

static inline void fu_load_io(struct fu_load *l, int i, short re, uint8_t *buf,
                       size_t bufsz)
{
	uint32_t seed = l->seed + (uint32_t)i;
	ssize_t n;

	if (re & (POLLIN | POLLERR | POLLHUP)) {
		n = recv(l->fd[i], buf, bufsz, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && (errno == ECONNRESET ||
		                         errno == EPIPE))) {
			fu_load_end(l, i, 1);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fu_load_end(l, i, 0);
			return;
		}
		if (n > 0) {
			long bad = 0;
			ssize_t k;

			for (k = 0; k < n; k++)
				bad += buf[k] != fu_byte(seed, l->roff[i] + k);
			l->roff[i] += (uint64_t)n;
			atomic_fetch_add(&l->verified, n - bad);
			if (bad)
				atomic_fetch_add(&l->mismatched, bad);
		}
	}
	if ((re & POLLOUT) &&
	    l->soff[i] - l->roff[i] < FU_LOAD_WINDOW) {
		/* sizes vary so that reads and writes split differently */
		size_t len = 1 + (l->soff[i] * 7919u + (unsigned)i) %
		                 (FU_LOAD_WINDOW / 2);

		if (len > FU_LOAD_WINDOW - (l->soff[i] - l->roff[i]))
			len = FU_LOAD_WINDOW - (l->soff[i] - l->roff[i]);
		if (len > bufsz)
			len = bufsz;
		fu_fill(buf, len, seed, l->soff[i]);
		n = send(l->fd[i], buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			l->soff[i] += (uint64_t)n;
			atomic_fetch_add(&l->sent, n);
		} else if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			fu_load_end(l, i, 1);
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fu_load_end(l, i, 0);
		}
	}
}

static inline void *fu_load_main(void *arg)
{
	struct fu_load *l = arg;
	struct pollfd pfd[FU_LOAD_MAX];
	int map[FU_LOAD_MAX];
	uint64_t end = tu_now_ms() + l->max_ms;
	uint8_t buf[FU_LOAD_WINDOW];

	uint64_t t0 = tu_now_ms();

	while (!atomic_load(&l->stop) && tu_now_ms() < end) {
		int i, n = 0, r;

		/* a paced load leaves the shared machine's CPUs to others */
		if (l->rate > 0 && atomic_load(&l->sent) >
		    l->rate * (long long)(tu_now_ms() - t0 + 1) / 1000) {
			tu_sleep_ms(1);
			continue;
		}
		for (i = 0; i < l->nconn; i++) {
			if (l->fd[i] < 0)
				continue;
			pfd[n].fd = l->fd[i];
			pfd[n].events = POLLIN;
			if (l->soff[i] - l->roff[i] < FU_LOAD_WINDOW)
				pfd[n].events |= POLLOUT;
			pfd[n].revents = 0;
			map[n++] = i;
		}
		if (n == 0)
			break;
		r = poll(pfd, (nfds_t)n, 20);
		for (i = 0; i < n && r > 0; i++)
			if (pfd[i].revents)
				fu_load_io(l, map[i], pfd[i].revents, buf,
				           sizeof(buf));
	}
	atomic_store(&l->running, 0);
	return NULL;
}

/* Connects nconn clients and starts the thread, sending at most rate
 * bytes/s (0: as fast as it goes); 0, or -1 (nothing left open). */
static inline int fu_load_start(struct fu_load *l, int port, int nconn,
                                unsigned max_ms, uint32_t seed,
                                long long rate)
{
	int i;

	memset(l, 0, sizeof(*l));
	l->rate = rate;
	l->port = port;
	l->nconn = nconn > FU_LOAD_MAX ? FU_LOAD_MAX : nconn;
	l->max_ms = max_ms;
	l->seed = seed;
	for (i = 0; i < l->nconn; i++)
		l->fd[i] = -1;
	for (i = 0; i < l->nconn; i++) {
		l->fd[i] = fu_connect(port);
		if (l->fd[i] < 0)
			goto fail;
	}
	atomic_store(&l->running, 1);
	if (pthread_create(&l->thread, NULL, fu_load_main, l) != 0)
		goto fail;
	return 0;
fail:
	for (i = 0; i < l->nconn; i++)
		if (l->fd[i] >= 0)
			close(l->fd[i]);
	return -1;
}

/* Stops the thread and closes what is still open; the number of
 * connections still open (neither ended nor failed) at the stop. */
static inline int fu_load_stop(struct fu_load *l)
{
	int i, open = 0;

	atomic_store(&l->stop, 1);
	pthread_join(l->thread, NULL);
	for (i = 0; i < l->nconn; i++)
		if (l->fd[i] >= 0) {
			close(l->fd[i]);
			l->fd[i] = -1;
			open++;
		}
	return open;
}

/* Waits until the load verified more than `than' bytes; whether it did. */
static inline int fu_load_progress(struct fu_load *l, long long than,
                                   unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;

	while (atomic_load(&l->verified) <= than) {
		if (tu_now_ms() >= end)
			return 0;
		tu_sleep_ms(2);
	}
	return 1;
}

#endif /* EP_FAULTUTIL_H */
