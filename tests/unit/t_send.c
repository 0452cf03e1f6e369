/*
 * t_send.c - send buffering: iodev_send() queues what the kernel does not
 * take and drains it in order (from handlers and a foreign thread at once,
 * frames never interleaved), IOE_WRITE once drained, the queue limit
 * (short counts, ENOBUFS), iodev_linger_close(), errors, no SIGPIPE, and
 * no leak when devices with queued data are closed or freed.
 */
#include <epump.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* Waits until cond holds or ms pass; the value of cond at the end. */
#define WAIT_FOR(cond, ms)                                              \
	({                                                              \
		uint64_t end_ = tu_now_ms() + (ms);                     \
		int ok_;                                                \
		while (!(ok_ = !!(cond)) && tu_now_ms() < end_)         \
			tu_sleep_ms(1);                                 \
		ok_;                                                    \
	})

#define SMALLBUF 16384          /* SO_SNDBUF/SO_RCVBUF of test sockets */
#define FRAME_MAX (256 * 1024)  /* the largest iodev_send call */
#define HDR 16

/* The byte at offset x of sender s's stream: a counting pattern that a
 * shift by a multiple of 256 does not fool. */
static inline unsigned char pat(int s, uint64_t x)
{
	return (unsigned char)(x ^ (x >> 8) ^ (x >> 16) ^ (x >> 24) ^
	                       (uint64_t)(s * 0x5b));
}

static void fill_pat(unsigned char *b, size_t n, int s, uint64_t x)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pat(s, x + i);
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A connected pair with small buffers: a (for the device) and b (the
 * peer the test reads with).  TCP over 127.0.0.1, or a unix socketpair. */
static int make_pair(int tcp, int *a, int *b)
{
	int small = SMALLBUF;

	if (!tcp) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -1;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
		           sizeof(small));
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small,
		           sizeof(small));
		*a = sv[0];
		*b = sv[1];
		return 0;
	} else {
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c, s;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (l < 0)
			return -1;
		setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(l, 1) < 0 ||
		    getsockname(l, (struct sockaddr *)&sa, &len) < 0) {
			close(l);
			return -1;
		}
		c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		if (c < 0 || connect(c, (struct sockaddr *)&sa, len) < 0) {
			if (c >= 0)
				close(c);
			close(l);
			return -1;
		}
		s = accept(l, NULL, NULL);
		close(l);
		if (s < 0) {
			close(c);
			return -1;
		}
		*a = c;
		*b = s;
		return 0;
	}
}

/* ---- framed senders ---- */

/*
 * Each iodev_send call carries one frame: a 16-byte header (magic "EP",
 * sender, seq, payload length, stream offset) and a payload from the
 * sender's counting stream.  The reader checks every frame is whole (no
 * other call's bytes inside it), each sender's frames come in order and
 * its stream has no gap.
 */
struct sender {
	int id;
	uint32_t seq;
	uint64_t off;              /* payload bytes sent so far */
	uint64_t taken;            /* bytes taken, headers included */
	uint64_t target;
	uint32_t rng;
	long calls;
	atomic_int done;
	atomic_long bad;           /* calls that did not return len */
	long bad_ret;
	int bad_errno;
	unsigned char *buf;
};

static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void sender_init(struct sender *s, int id, uint32_t seed)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->rng = seed;
	s->buf = malloc(FRAME_MAX);
}

/* One iodev_send call of a random size (at most FRAME_MAX). */
static int send_frame(struct sender *s, iodev_t *dev, size_t size)
{
	size_t plen;
	ssize_t r;

	if (size == 0) {
		uint32_t a = rnd(&s->rng), b = rnd(&s->rng);

		/* Mostly small, now and then up to FRAME_MAX. */
		size = HDR + 1 + (a % 32 == 0 ? b % (FRAME_MAX - HDR)
		                              : b % 4096);
	}
	plen = size - HDR;
	s->buf[0] = 'E';
	s->buf[1] = 'P';
	s->buf[2] = (unsigned char)s->id;
	s->buf[3] = 0;
	put32(s->buf + 4, s->seq);
	put32(s->buf + 8, (uint32_t)plen);
	put32(s->buf + 12, (uint32_t)s->off);
	fill_pat(s->buf + HDR, plen, s->id, s->off);
	r = iodev_send(dev, s->buf, size);
	s->calls++;
	if (r != (ssize_t)size) {
		if (atomic_fetch_add(&s->bad, 1) == 0) {
			s->bad_ret = (long)r;
			s->bad_errno = errno;
		}
		return 0;
	}
	s->seq++;
	s->off += plen;
	s->taken += size;
	return 1;
}

struct parser {
	unsigned char hdr[HDR];
	int hlen, s;
	uint32_t remain;           /* payload bytes left in this frame */
	uint64_t x;                /* stream offset of the next byte of s */
	uint32_t next_seq[4];
	uint64_t next_off[4];
	uint64_t total;
	long frames, switches;     /* switches: a frame of another sender */
	int err;
	char msg[200];
};

static void parse(struct parser *p, const unsigned char *b, size_t n)
{
	p->total += n;
	while (n > 0 && !p->err) {
		if (p->remain == 0) {
			size_t take = HDR - (size_t)p->hlen;
			uint32_t seq, len, off;
			int s;

			if (take > n)
				take = n;
			memcpy(p->hdr + p->hlen, b, take);
			p->hlen += (int)take;
			b += take;
			n -= take;
			if (p->hlen < HDR)
				break;
			p->hlen = 0;
			s = p->hdr[2];
			seq = get32(p->hdr + 4);
			len = get32(p->hdr + 8);
			off = get32(p->hdr + 12);
			if (p->hdr[0] != 'E' || p->hdr[1] != 'P' || s < 1 ||
			    s > 3 || len == 0 || len > FRAME_MAX - HDR) {
				p->err = 1;
				snprintf(p->msg, sizeof(p->msg), "no frame "
				         "header where frame %ld should start "
				         "(bytes %02x %02x %02x): bytes of two "
				         "calls interleaved, or lost",
				         p->frames, p->hdr[0], p->hdr[1],
				         p->hdr[2]);
				break;
			}
			if (seq != p->next_seq[s] ||
			    off != (uint32_t)p->next_off[s]) {
				p->err = 1;
				snprintf(p->msg, sizeof(p->msg), "sender %d: "
				         "frame %u (offset %u) where frame %u "
				         "(offset %u) was due", s, seq, off,
				         p->next_seq[s],
				         (uint32_t)p->next_off[s]);
				break;
			}
			if (p->frames > 0 && s != p->s)
				p->switches++;
			p->s = s;
			p->remain = len;
			p->x = p->next_off[s];
			p->next_seq[s]++;
			p->frames++;
			continue;
		}
		{
			size_t take = p->remain < n ? p->remain : n, i;

			for (i = 0; i < take; i++) {
				if (b[i] != pat(p->s, p->x + i)) {
					p->err = 1;
					snprintf(p->msg, sizeof(p->msg),
					         "sender %d frame %u: byte %llu "
					         "of its stream is wrong", p->s,
					         p->next_seq[p->s] - 1,
					         (unsigned long long)(p->x + i));
					return;
				}
			}
			p->x += take;
			p->remain -= (uint32_t)take;
			b += take;
			n -= take;
			if (p->remain == 0)
				p->next_off[p->s] = p->x;
		}
	}
}

/* Reads what is there (up to max bytes, one read), waiting up to ms. */
static ssize_t read_some(int fd, unsigned char *buf, size_t max, int ms)
{
	struct pollfd pf = { fd, POLLIN, 0 };

	if (poll(&pf, 1, ms) <= 0)
		return -1;
	return read(fd, buf, max);
}

/* ---- the device and its senders ---- */

struct sctx {
	epcore_t *core;
	iodev_t *dev;
	uint64_t id;
	struct sender fs, hs, ms;  /* foreign thread, handler chain, main */
	atomic_int post_err;
	atomic_long chain_calls;   /* frames the handler chain has sent */
	atomic_long writes, reads, other;
	atomic_long writes_phase;  /* IOE_WRITE calls once phase is set */
	atomic_long sq_at_write;   /* iodev_sendq_len() in the last of them */
	atomic_int phase;
	atomic_int lingering;
	atomic_long after_linger;
	atomic_int linger_ret, linger_errno, linger_done;
};

static int dev_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct sctx *x = cbpara;
	char buf[4096];
	int k;

	if (atomic_load(&x->lingering))
		atomic_fetch_add(&x->after_linger, 1);
	switch (event) {
	case IOE_WRITE:
		if (atomic_load(&x->phase)) {
			atomic_store(&x->sq_at_write,
			             (long)iodev_sendq_len(obj));
			atomic_fetch_add(&x->writes_phase, 1);
		}
		atomic_fetch_add(&x->writes, 1);
		break;
	case IOE_READ:
		for (k = 0; k < 10000; k++)
			if (read(iodev_fd(obj), buf, sizeof(buf)) <= 0)
				break;
		atomic_fetch_add(&x->reads, 1);
		break;
	default:
		atomic_fetch_add(&x->other, 1);
		break;
	}
	return 0;
}

static void *foreign_main(void *arg)
{
	struct sctx *x = arg;
	struct sender *s = &x->fs;
	uint64_t end = tu_now_ms() + 15000;

	while (s->taken < s->target && tu_now_ms() < end) {
		int spins = 0;

		if (!send_frame(s, x->dev, 0))
			break;
		/* Keep pace with the chain (bounded), so the two senders'
		 * calls really alternate and overlap. */
		while (s->calls > atomic_load(&x->chain_calls) + 3 &&
		       !atomic_load(&x->hs.done) && spins++ < 2000)
			sched_yield();
	}
	atomic_store(&s->done, 1);
	return NULL;
}

/* On the device's thread: one frame per call, then posts itself again. */
static int chain(void *cbpara, void *para, int event, int fdtype)
{
	struct sctx *x = cbpara;
	struct sender *s = &x->hs;
	iodev_t *dev = iodev_by_id(x->core, x->id);

	if (dev != NULL && s->taken < s->target && send_frame(s, dev, 0) &&
	    atomic_fetch_add(&x->chain_calls, 1) >= 0 &&
	    s->taken < s->target) {
		if (iodev_post(x->core, x->id, IOE_USER_DEFINED, NULL, chain,
		               x) == 0)
			return 0;
		atomic_store(&x->post_err, errno);
	}
	atomic_store(&s->done, 1);
	return 0;
}

static int start_senders(struct sctx *x, pthread_t *t)
{
	atomic_store(&x->fs.done, 0);
	atomic_store(&x->hs.done, 0);
	if (pthread_create(t, NULL, foreign_main, x) != 0)
		return 0;
	if (iodev_post(x->core, x->id, IOE_USER_DEFINED, NULL, chain, x) < 0) {
		atomic_store(&x->hs.done, 1);
		return 0;
	}
	return 1;
}

static int senders_done(struct sctx *x)
{
	return atomic_load(&x->fs.done) && atomic_load(&x->hs.done);
}

static void big_send(int tcp, int workers)
{
	struct sctx *x = calloc(1, sizeof(*x));
	struct parser *p = calloc(1, sizeof(*p));
	unsigned char *rb = malloc(65536);
	const char *kind = tcp ? "tcp" : "unix";
	pthread_t t;
	uint64_t end, want;
	int a, b, nslow = 0, ok, i;
	size_t q;

	if (make_pair(tcp, &a, &b) < 0) {
		TAP_OK(0, "%s: a connected pair", kind);
		goto out_free;
	}
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	x->core = epcore_new(0);
	epcore_start_epump(x->core, 2);
	epcore_start_worker(x->core, workers);
	x->dev = iodev_new(x->core, a, tcp ? FDT_CONNECTED : FDT_USOCK_CONNECTED,
	                   NULL, dev_handler, x);
	if (x->dev == NULL || iodev_bind_epump(x->dev, BIND_ONE_EPUMP, 0) < 0) {
		TAP_OK(0, "%s: a device", kind);
		epcore_free(x->core);
		close(b);
		goto out_free;
	}
	x->id = iodev_id(x->dev);
	sender_init(&x->fs, 1, 0x1234567u + (unsigned)workers);
	sender_init(&x->hs, 2, 0x89abcdeu + (unsigned)tcp);
	sender_init(&x->ms, 3, 0x2468aceu);

	/* Round 1: the peer does not read.  Everything must be taken. */
	x->fs.target = x->hs.target = 768 * 1024;
	ok = start_senders(x, &t);
	TAP_OK(ok, "%s, %d workers: a foreign thread and a handler chain "
	       "send at once", kind, workers);
	WAIT_FOR(senders_done(x), 15000);
	pthread_join(t, NULL);
	TAP_OK(senders_done(x), "both senders finished (%ld and %ld calls)",
	       x->fs.calls, x->hs.calls);
	TAP_OK(atomic_load(&x->fs.bad) == 0 && atomic_load(&x->hs.bad) == 0,
	       "every iodev_send returned len while the peer did not read "
	       "(bad: %ld (ret %ld errno %d), %ld (ret %ld errno %d))",
	       atomic_load(&x->fs.bad), x->fs.bad_ret, x->fs.bad_errno,
	       atomic_load(&x->hs.bad), x->hs.bad_ret, x->hs.bad_errno);
	q = iodev_sendq_len(x->dev);
	TAP_OK(q > 0 && q <= x->fs.taken + x->hs.taken,
	       "the kernel filled and the rest is queued (%zu of %llu bytes)",
	       q, (unsigned long long)(x->fs.taken + x->hs.taken));
	TAP_IS(atomic_load(&x->writes), 0,
	       "no IOE_WRITE while the queue could not drain");
	TAP_IS(atomic_load(&x->post_err), 0, "iodev_post kept the chain going");

	/* Round 2: more from both while the peer reads, slowly at first. */
	x->fs.target += 512 * 1024;
	x->hs.target += 512 * 1024;
	ok = start_senders(x, &t);
	end = tu_now_ms() + 20000;
	while (!p->err && tu_now_ms() < end) {
		size_t max = nslow < 200 ? 1 + (size_t)(nslow * 37) % 512 : 65536;
		ssize_t n;

		if (senders_done(x) && p->total >= x->fs.taken + x->hs.taken)
			break;
		n = read_some(b, rb, max, 20);
		if (n > 0)
			parse(p, rb, (size_t)n);
		else if (n == 0)
			break;
		if (nslow < 200) {
			nslow++;
			tu_sleep_ms(1);
		}
	}
	WAIT_FOR(senders_done(x), 5000);
	pthread_join(t, NULL);
	want = x->fs.taken + x->hs.taken;
	TAP_OK(ok && senders_done(x), "round 2: both senders finished");
	TAP_OK(atomic_load(&x->fs.bad) == 0 && atomic_load(&x->hs.bad) == 0,
	       "every iodev_send returned len while the peer read slowly");
	if (p->err)
		tap_diag("%s", p->msg);
	TAP_OK(!p->err, "frames are whole and in order per sender");
	TAP_OK(p->total == want, "the peer received every byte (%llu of %llu)",
	       (unsigned long long)p->total, (unsigned long long)want);
	tap_diag("%ld frames, the sender changed %ld times in the stream",
	         p->frames, p->switches);
	TAP_OK(p->next_seq[1] == x->fs.seq && p->next_seq[2] == x->hs.seq &&
	       p->next_off[1] == x->fs.off && p->next_off[2] == x->hs.off,
	       "all %u + %u frames of the two senders, no gap",
	       x->fs.seq, x->hs.seq);

	/* Round 3: queue from this thread, then drain: IOE_WRITE comes. */
	ok = 1;
	for (i = 0; i < 3; i++)
		ok &= send_frame(&x->ms, x->dev, FRAME_MAX - 4096);
	q = iodev_sendq_len(x->dev);
	TAP_OK(ok && q > 0, "3 more calls of %d bytes: %zu bytes queued",
	       FRAME_MAX - 4096, q);
	atomic_store(&x->phase, 1); /* the queue is not empty now */
	want += x->ms.taken;
	end = tu_now_ms() + 10000;
	while (!p->err && p->total < want && tu_now_ms() < end) {
		ssize_t n = read_some(b, rb, 65536, 20);

		if (n > 0)
			parse(p, rb, (size_t)n);
		else if (n == 0)
			break;
	}
	TAP_OK(!p->err && p->total == want && p->next_seq[3] == 3,
	       "the peer received them whole (%llu of %llu)",
	       (unsigned long long)p->total, (unsigned long long)want);
	TAP_OK(WAIT_FOR(atomic_load(&x->writes_phase) >= 1, 2000),
	       "once the queue drained the handler got IOE_WRITE");
	TAP_IS(atomic_load(&x->sq_at_write), 0,
	       "iodev_sendq_len() was 0 in that IOE_WRITE");
	TAP_IS(iodev_sendq_len(x->dev), 0, "and is 0 now");
	TAP_IS(atomic_load(&x->other) + atomic_load(&x->reads), 0,
	       "no other event");
	iodev_close(x->dev);
	epcore_free(x->core);
	close(b);
out_free:
	free(x->fs.buf);
	free(x->hs.buf);
	free(x->ms.buf);
	free(x);
	free(p);
	free(rb);
}

/* ---- the queue limit ---- */

/* Reads from fd until have reaches want, checking stream 0's pattern. */
static int read_pattern(int fd, uint64_t *have, uint64_t want, unsigned ms)
{
	unsigned char buf[16384];
	uint64_t end = tu_now_ms() + ms;
	int same = 1;

	while (*have < want && tu_now_ms() < end) {
		ssize_t n = read_some(fd, buf, sizeof(buf), 20), i;

		if (n == 0)
			break;
		for (i = 0; i < n; i++)
			if (buf[i] != pat(0, *have + (uint64_t)i))
				same = 0;
		if (n > 0)
			*have += (uint64_t)n;
	}
	return same && *have == want;
}

static void sendq_limit(int workers)
{
	enum { LIMIT = 65536, CH = 4096 };
	struct sctx x;
	unsigned char *buf = malloc(LIMIT + CH);
	uint64_t off = 0, have = 0;
	ssize_t r;
	size_t room;
	int a, b, i, bad = 0, e, zero_queued = 1;
	long w0;

	memset(&x, 0, sizeof(x));
	if (make_pair(0, &a, &b) < 0) {
		TAP_OK(0, "socketpair");
		free(buf);
		return;
	}
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	x.core = epcore_new(0);
	epcore_start_epump(x.core, 1);
	epcore_start_worker(x.core, workers);
	x.dev = iodev_new(x.core, a, FDT_USOCK_CONNECTED, NULL, dev_handler,
	                  &x);
	iodev_bind_epump(x.dev, BIND_ONE_EPUMP, 0);
	TAP_OK(iodev_set_sendq_limit(x.dev, LIMIT) == 0,
	       "%d workers: iodev_set_sendq_limit(%d)", workers, LIMIT);
	for (i = 0; i < 10000 && iodev_sendq_len(x.dev) == 0; i++) {
		fill_pat(buf, CH, 0, off);
		r = iodev_send(x.dev, buf, CH);
		if (r != CH)
			bad++;
		if (r > 0)
			off += (uint64_t)r;
	}
	TAP_OK(bad == 0 && iodev_sendq_len(x.dev) > 0,
	       "the kernel filled after %d sends of %d, then queueing began "
	       "(%zu queued)", i, CH, iodev_sendq_len(x.dev));
	room = LIMIT - iodev_sendq_len(x.dev);
	fill_pat(buf, room + 1000, 0, off);
	r = iodev_send(x.dev, buf, room + 1000);
	TAP_IS(r, room, "a send bigger than the room left returns a short "
	       "count: the room");
	if (r > 0)
		off += (uint64_t)r;
	TAP_IS(iodev_sendq_len(x.dev), LIMIT, "the queue holds the limit");
	errno = 0;
	r = iodev_send(x.dev, buf, 100);
	e = errno;
	TAP_OK(r == -1 && e == ENOBUFS, "a send to a full queue: -1, ENOBUFS "
	       "(got %zd, errno %d)", r, e);
	TAP_IS(iodev_sendq_len(x.dev), LIMIT, "nothing of it was taken");
	TAP_OK(read_pattern(b, &have, off, 5000),
	       "the peer read all %llu bytes, in order",
	       (unsigned long long)off);
	TAP_OK(WAIT_FOR(atomic_load(&x.writes) >= 1, 2000),
	       "IOE_WRITE once the queue drained");
	TAP_IS(iodev_sendq_len(x.dev), 0, "the queue is empty");
	fill_pat(buf, 1000, 0, off);
	r = iodev_send(x.dev, buf, 1000);
	TAP_IS(r, 1000, "sends take everything again");
	if (r > 0)
		off += (uint64_t)r;
	TAP_OK(read_pattern(b, &have, off, 2000), "and it arrives");

	/* Limit 0: nothing is ever queued.  Count IOE_WRITE from the first
	 * send on: the short send arms it, and on loopback the kernel may
	 * free room (and deliver it) before the peer reads a byte. */
	TAP_OK(iodev_set_sendq_limit(x.dev, 0) == 0, "iodev_set_sendq_limit(0)");
	w0 = atomic_load(&x.writes);
	for (i = 0; i < 10000; i++) {
		fill_pat(buf, CH, 0, off);
		r = iodev_send(x.dev, buf, CH);
		zero_queued &= iodev_sendq_len(x.dev) == 0;
		if (r > 0)
			off += (uint64_t)r;
		if (r != CH)
			break;
	}
	e = errno;
	TAP_OK(r >= -1 && r < CH && (r >= 0 || e == ENOBUFS),
	       "limit 0: once the kernel is full a send returns what it "
	       "wrote (%zd, errno %d)", r, r < 0 ? e : 0);
	errno = 0;
	r = iodev_send(x.dev, buf, 100);
	e = errno;
	TAP_OK(r == -1 && e == ENOBUFS, "then -1, ENOBUFS (got %zd, errno %d)",
	       r, e);
	TAP_OK(zero_queued && iodev_sendq_len(x.dev) == 0, "nothing queued");
	TAP_OK(read_pattern(b, &have, off, 5000),
	       "the peer read all %llu bytes, in order",
	       (unsigned long long)off);
	e = WAIT_FOR(atomic_load(&x.writes) > w0, 1000);
	TAP_OK(e, "limit 0: IOE_WRITE tells when there is room again (%ld "
	       "calls)", atomic_load(&x.writes) - w0);
	iodev_close(x.dev);
	epcore_free(x.core);
	close(b);
	free(buf);
}

/* ---- linger close ---- */

static int linger_from_handler(void *cbpara, void *para, int event,
                               int fdtype)
{
	struct sctx *x = cbpara;
	iodev_t *dev = iodev_by_id(x->core, x->id);

	atomic_store(&x->lingering, 1);
	errno = 0;
	atomic_store(&x->linger_ret, iodev_linger_close(dev, 5000));
	atomic_store(&x->linger_errno, errno);
	atomic_store(&x->linger_done, 1);
	return 0;
}

/* Reads fd until end of file (checking stream 0 up to want), or ms. */
static int read_to_eof(int fd, uint64_t want, unsigned ms, uint64_t *got)
{
	unsigned char buf[16384];
	uint64_t end = tu_now_ms() + ms;
	int same = 1;

	*got = 0;
	while (tu_now_ms() < end) {
		ssize_t n = read_some(fd, buf, sizeof(buf), 20), i;

		if (n == 0)
			return same && *got == want;
		for (i = 0; i < n; i++)
			if (*got + (uint64_t)i >= want ||
			    buf[i] != pat(0, *got + (uint64_t)i))
				same = 0;
		if (n > 0)
			*got += (uint64_t)n;
		else if (errno != EAGAIN && errno != EINTR)
			return 0;
	}
	return 0;
}

static void linger_queued(int workers, int in_handler)
{
	enum { LEN = 512 * 1024 };
	struct sctx x;
	unsigned char *buf = malloc(LEN);
	uint64_t got = 0;
	int a, b, r;
	size_t q;

	memset(&x, 0, sizeof(x));
	make_pair(0, &a, &b);
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	x.core = epcore_new(0);
	epcore_start_epump(x.core, 1);
	epcore_start_worker(x.core, workers);
	x.dev = iodev_new(x.core, a, FDT_USOCK_CONNECTED, NULL, dev_handler,
	                  &x);
	iodev_bind_epump(x.dev, BIND_ONE_EPUMP, 0);
	x.id = iodev_id(x.dev);
	fill_pat(buf, LEN, 0, 0);
	TAP_OK(iodev_send(x.dev, buf, LEN) == LEN,
	       "linger from %s, %d workers: send",
	       in_handler ? "the device's thread" : "another thread",
	       workers);
	q = iodev_sendq_len(x.dev);
	TAP_OK(q > 0, "%zu bytes queued", q);
	if (in_handler) {
		iodev_post(x.core, x.id, IOE_USER_DEFINED, NULL,
		           linger_from_handler, &x);
		r = WAIT_FOR(atomic_load(&x.linger_done), 2000)
		    ? atomic_load(&x.linger_ret) : -2;
	} else {
		atomic_store(&x.lingering, 1);
		r = iodev_linger_close(x.dev, 5000);
	}
	TAP_IS(r, 0, "iodev_linger_close returned 0");
	TAP_OK(read_to_eof(b, LEN, 5000, &got),
	       "the peer received all %d bytes, then end of file (got %llu)",
	       LEN, (unsigned long long)got);
	/* The peer still talks: read and dropped, never handled. */
	if (write(b, "noise", 5) != 5)
		tap_diag("write");
	tu_sleep_ms(50);
	TAP_OK(iodev_by_id(x.core, x.id) != NULL,
	       "the device waits for the peer to close");
	close(b);
	TAP_OK(WAIT_FOR(iodev_by_id(x.core, x.id) == NULL, 2000),
	       "once the peer closed, the device closed (its id is gone)");
	errno = 0;
	TAP_OK(iodev_by_id(x.core, x.id) == NULL && errno == ENOENT,
	       "iodev_by_id: ENOENT");
	errno = 0;
	TAP_OK(iodev_close_by(x.core, x.id) == -1 && errno == ENOENT,
	       "iodev_close_by: ENOENT");
	TAP_IS(atomic_load(&x.after_linger), 0,
	       "the handler was not called after iodev_linger_close");
	epcore_free(x.core);
	free(buf);
}

static void linger_timeout(int workers)
{
	enum { LEN = 64 * 1024, TMO = 300 };
	struct sctx x;
	unsigned char *buf = malloc(LEN);
	uint64_t got = 0, t0, took;
	int a, b, live, closed;

	memset(&x, 0, sizeof(x));
	make_pair(0, &a, &b);
	fcntl(b, F_SETFL, fcntl(b, F_GETFL) | O_NONBLOCK);
	x.core = epcore_new(0);
	epcore_start_epump(x.core, 1);
	epcore_start_worker(x.core, workers);
	x.dev = iodev_new(x.core, a, FDT_USOCK_CONNECTED, NULL, dev_handler,
	                  &x);
	iodev_bind_epump(x.dev, BIND_ONE_EPUMP, 0);
	x.id = iodev_id(x.dev);
	fill_pat(buf, LEN, 0, 0);
	TAP_OK(iodev_send(x.dev, buf, LEN) == LEN,
	       "linger timeout, %d workers: send", workers);
	atomic_store(&x.lingering, 1);
	t0 = tu_now_ms();
	TAP_IS(iodev_linger_close(x.dev, TMO), 0, "iodev_linger_close(300)");
	TAP_OK(read_to_eof(b, LEN, 3000, &got), "the peer received all %d "
	       "bytes, then end of file (got %llu)", LEN,
	       (unsigned long long)got);
	if (tu_now_ms() - t0 < TMO / 3) {
		live = iodev_by_id(x.core, x.id) != NULL;
		TAP_OK(live, "the device waits while the peer stays open");
	} else {
		tap_diag("reading took %llu ms: liveness not checked",
		         (unsigned long long)(tu_now_ms() - t0));
	}
	closed = WAIT_FOR(iodev_by_id(x.core, x.id) == NULL, 3000);
	took = tu_now_ms() - t0;
	TAP_OK(closed, "the device closed after the timeout (%llu ms)",
	       (unsigned long long)took);
	TAP_OK(took >= TMO, "not before %d ms", TMO);
	TAP_OK(WAIT_FOR(write(b, "x", 1) < 0 &&
	                (errno == EPIPE || errno == ECONNRESET), 2000),
	       "its fd is closed: the peer's write fails");
	TAP_IS(atomic_load(&x.after_linger), 0,
	       "the handler was not called after iodev_linger_close");
	close(b);
	epcore_free(x.core);
	free(buf);
}

/* The peer never reads nor closes: the timeout ends it, queue and all. */
static void linger_stuck(void)
{
	enum { LEN = 1024 * 1024 };
	struct sctx x;
	unsigned char *buf = calloc(1, LEN);
	int a, b;

	memset(&x, 0, sizeof(x));
	make_pair(1, &a, &b);
	x.core = epcore_new(0);
	epcore_start_epump(x.core, 1);
	x.dev = iodev_new(x.core, a, FDT_CONNECTED, NULL, dev_handler, &x);
	iodev_bind_epump(x.dev, BIND_ONE_EPUMP, 0);
	x.id = iodev_id(x.dev);
	TAP_IS(iodev_send(x.dev, buf, LEN), LEN, "linger, stuck peer: send");
	TAP_OK(iodev_sendq_len(x.dev) > 0, "data queued");
	TAP_IS(iodev_linger_close(x.dev, 200), 0, "iodev_linger_close(200)");
	TAP_OK(WAIT_FOR(iodev_by_id(x.core, x.id) == NULL, 3000),
	       "the device closed with its queue undrained");
	close(b);
	epcore_free(x.core);
	free(buf);
}

/* ---- errors ---- */

static void send_errors(void)
{
	struct sctx x;
	int a, b, e;
	ssize_t r;
	char c;

	memset(&x, 0, sizeof(x));
	make_pair(0, &a, &b);
	x.core = epcore_new(0);
	epcore_start_epump(x.core, 1);
	x.dev = iodev_new(x.core, a, FDT_USOCK_CONNECTED, NULL, dev_handler,
	                  &x);
	iodev_bind_epump(x.dev, BIND_ONE_EPUMP, 0);
	TAP_IS(iodev_send(x.dev, "abc", 0), 0, "iodev_send of 0 bytes: 0");
	errno = 0;
	r = iodev_send(x.dev, NULL, 5);
	e = errno;
	TAP_OK(r == -1 && e == EINVAL, "NULL buf, len 5: -1, EINVAL (%zd, %d)",
	       r, e);
	errno = 0;
	r = iodev_send(NULL, "x", 1);
	e = errno;
	TAP_OK(r == -1 && e == EINVAL, "NULL device: -1, EINVAL (%zd, %d)", r,
	       e);
	errno = 0;
	e = iodev_set_sendq_limit(NULL, 10);
	TAP_OK(e == -1 && errno == EINVAL, "iodev_set_sendq_limit(NULL): "
	       "EINVAL");
	errno = 0;
	e = iodev_linger_close(NULL, 10);
	TAP_OK(e == -1 && errno == EINVAL, "iodev_linger_close(NULL): EINVAL");
	TAP_IS(iodev_send(x.dev, "ok", 2), 2, "a send while open");
	TAP_OK(WAIT_FOR(read(b, &c, 1) == 1, 1000), "arrives");
	iodev_close(x.dev);
	errno = 0;
	r = iodev_send(x.dev, "x", 1);
	e = errno;
	TAP_OK(r == -1 && e == ENOENT, "iodev_send after close: -1, ENOENT "
	       "(%zd, %d)", r, e);
	errno = 0;
	e = iodev_linger_close(x.dev, 10);
	TAP_OK(e == -1 && errno == ENOENT, "iodev_linger_close after close: "
	       "ENOENT");
	TAP_IS(atomic_load(&x.other), 0, "no unexpected event");
	epcore_free(x.core);
	close(b);
}

/* In a child with SIGPIPE at its default: a send to a closed peer and a
 * queue drained into a closed peer fail with an error, not a signal. */
static atomic_int pipe_err;

static int pipe_handler(void *cbpara, void *obj, int event, int fdtype)
{
	if (event == IOE_WRITE && iodev_send(obj, "y", 1) < 0)
		atomic_store(&pipe_err, errno);
	return 0;
}

static int sigpipe_child(void)
{
	enum { LEN = 256 * 1024 };
	unsigned char *buf = calloc(1, LEN);
	epcore_t *core;
	iodev_t *dev, *dev2;
	int a, b, a2, b2, rc = 0;
	ssize_t r;

	signal(SIGPIPE, SIG_DFL);
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	make_pair(1, &a, &b);
	dev = iodev_new(core, a, FDT_CONNECTED, NULL, pipe_handler, NULL);
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	close(b);
	tu_sleep_ms(20);
	r = iodev_send(dev, "x", 1);
	if (r >= 0) /* TCP: the first may pass, the reset comes after */
		WAIT_FOR((r = iodev_send(dev, "x", 1)) < 0, 1000);
	if (r >= 0 || (errno != EPIPE && errno != ECONNRESET))
		rc |= 1;
	make_pair(0, &a2, &b2);
	dev2 = iodev_new(core, a2, FDT_USOCK_CONNECTED, NULL, pipe_handler,
	                 NULL);
	iodev_bind_epump(dev2, BIND_ONE_EPUMP, 0);
	if (iodev_send(dev2, buf, LEN) != LEN || iodev_sendq_len(dev2) == 0)
		rc |= 2;
	close(b2); /* the queue now drains into a closed socket */
	if (!WAIT_FOR(atomic_load(&pipe_err) != 0, 2000) ||
	    (atomic_load(&pipe_err) != EPIPE &&
	     atomic_load(&pipe_err) != ECONNRESET))
		rc |= 4;
	epcore_free(core);
	free(buf);
	return rc;
}

static void no_sigpipe(void)
{
	pid_t pid;
	int st = 0;
	uint64_t end;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		TAP_OK(0, "fork");
		return;
	}
	if (pid == 0)
		_exit(sigpipe_child());
	end = tu_now_ms() + 10000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (tu_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		tu_sleep_ms(5);
	}
	if (WIFSIGNALED(st))
		tap_diag("the child died of signal %d", WTERMSIG(st));
	TAP_OK(!WIFSIGNALED(st), "SIGPIPE at its default: no signal from "
	       "iodev_send or its queue on a closed peer");
	TAP_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "the sends failed with EPIPE/ECONNRESET (child status 0x%x: "
	       "1 direct send, 2 queueing, 4 queued send)", st);
}

/* ---- memory: queued data freed by close and by epcore_free ---- */

static void queued_then_freed(int workers)
{
	enum { N = 8, LEN = 200 * 1024 };
	epcore_t *core = epcore_new(0);
	unsigned char *buf = calloc(1, LEN);
	int peers[N], i, queued = 0, eofs = 0;
	uint64_t ids[N];

	epcore_start_epump(core, 2);
	epcore_start_worker(core, workers);
	for (i = 0; i < N; i++) {
		int a;
		iodev_t *dev;

		make_pair(i % 2, &a, &peers[i]);
		dev = iodev_new(core, a, i % 2 ? FDT_CONNECTED
		                               : FDT_USOCK_CONNECTED,
		                NULL, dev_handler, NULL);
		iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
		if (i == 0)
			iodev_set_sendq_limit(dev, 1 << 20);
		ids[i] = iodev_id(dev);
		if (iodev_send(dev, buf, LEN) == LEN &&
		    iodev_sendq_len(dev) > 0)
			queued++;
	}
	TAP_IS(queued, N, "memory: data queued on every device");
	/* Half closed now, half left to epcore_free. */
	for (i = 0; i < N; i += 2)
		iodev_close_by(core, ids[i]);
	for (i = 0; i < N; i += 2) {
		char tmp[4096];
		uint64_t end = tu_now_ms() + 2000;
		ssize_t n;

		fcntl(peers[i], F_SETFL, O_NONBLOCK);
		while (tu_now_ms() < end) {
			n = read_some(peers[i], (unsigned char *)tmp,
			              sizeof(tmp), 20);
			if (n == 0 || (n < 0 && errno == ECONNRESET)) {
				eofs++;
				break;
			}
		}
	}
	TAP_IS(eofs, N / 2, "the closed devices' peers see the end");
	TAP_IS(epcore_free(core), 0, "epcore_free with data still queued");
	for (i = 0; i < N; i++)
		close(peers[i]);
	free(buf);
}

/* ---- linger close after the peer half-closed, with data queued ---- */

#define HC_LEN (4 << 20)

struct hc {
	epcore_t *core;
	unsigned char *data;
	atomic_int sent, lingered;
};

static int hc_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct hc *h = cbpara;
	char buf[4096];
	ssize_t n;

	if (event != IOE_READ)
		return 0;
	while ((n = read(iodev_fd(obj), buf, sizeof(buf))) > 0)
		;
	if (n == 0 && !atomic_exchange(&h->lingered, 1)) {
		/* The peer is done sending: answer it all, then close. */
		if (iodev_send(obj, h->data, HC_LEN) == HC_LEN)
			atomic_store(&h->sent, 1);
		iodev_linger_close(obj, 10000);
	}
	return 0;
}

static void linger_after_peer_eof(int workers)
{
	struct hc h = { 0 };
	int sv[2], i, ok = 1;
	iodev_t *dev;
	uint64_t got = 0, end;
	unsigned char buf[16384];

	h.core = epcore_new(0);
	h.data = malloc(HC_LEN);
	for (i = 0; i < HC_LEN; i++)
		h.data[i] = (unsigned char)(i * 7);
	epcore_start_epump(h.core, 1);
	epcore_start_worker(h.core, workers);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	dev = iodev_new(h.core, sv[0], FDT_USOCK_CONNECTED, NULL, hc_handler,
	                &h);
	iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	shutdown(sv[1], SHUT_WR); /* end of file, before reading anything */
	end = tu_now_ms() + 20000;
	while (tu_now_ms() < end) {
		ssize_t n = read(sv[1], buf, sizeof(buf)), k;

		if (n <= 0)
			break;
		for (k = 0; k < n; k++)
			if (buf[k] != (unsigned char)((got + (uint64_t)k) * 7))
				ok = 0;
		got += (uint64_t)n;
	}
	TAP_OK(atomic_load(&h.sent), "%d workers: the reply was taken whole "
	       "after the peer's end of file", workers);
	TAP_OK(got == HC_LEN && ok, "linger close after the peer half-closed "
	       "delivers every queued byte, then end of file (%llu of %d)",
	       (unsigned long long)got, HC_LEN);
	close(sv[1]);
	epcore_free(h.core);
	free(h.data);
}

/* iodev_new takes a socket fdtype at its word: a pipe made a device as
 * FDT_CONNECTED still sends (the send learns it is no socket and writes),
 * and a datagram socket made FDT_UDPCLI never has a datagram queued. */
static int fdtype_h(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara; (void)obj; (void)event; (void)fdtype;
	return 0;
}

static void fdtype_word(void)
{
	epcore_t *core = epcore_new(0);
	int p[2] = { -1, -1 }, u[2] = { -1, -1 }, wfd;
	iodev_t *dev;
	char buf[64], big[100000];
	ssize_t n, r;

	if (core == NULL || pipe(p) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, u) < 0) {
		tap_ok(0, "fdtype: setup: %s", strerror(errno));
		goto out;
	}
	wfd = p[1];
	dev = iodev_new(core, p[1], FDT_CONNECTED, NULL, fdtype_h, NULL);
	TAP_OK(dev != NULL, "fdtype: a pipe made a device as FDT_CONNECTED");
	if (dev != NULL) {
		p[1] = -1; /* the device's now */
		TAP_OK(fcntl(wfd, F_GETFL) & O_NONBLOCK,
		       "fdtype: iodev_new made it non-blocking");
		n = iodev_send(dev, "through a pipe", 14);
		r = read(p[0], buf, sizeof(buf));
		TAP_OK(n == 14 && r == 14 && memcmp(buf, "through a pipe", 14) == 0,
		       "fdtype: iodev_send on it wrote the bytes (sent %zd, read "
		       "%zd, errno %d)", n, r, errno);
		n = iodev_send(dev, "again", 5);
		r = read(p[0], buf, sizeof(buf));
		TAP_OK(n == 5 && r == 5, "fdtype: and again (sent %zd, read %zd)",
		       n, r);
		iodev_close(dev);
	}
	{
		/* IODEV_NONBLOCK: the caller's word that the fd is
		 * non-blocking; iodev_new leaves its flags alone and the
		 * device's type is the type alone. */
		int sp[2], fl;
		iodev_t *d2;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == 0) {
			d2 = iodev_new(core, sp[0],
			               FDT_USOCK_CONNECTED | IODEV_NONBLOCK,
			               NULL, fdtype_h, NULL);
			fl = fcntl(sp[0], F_GETFL);
			TAP_OK(d2 != NULL && !(fl & O_NONBLOCK),
			       "fdtype: with IODEV_NONBLOCK the fd's flags are "
			       "left alone");
			TAP_OK(d2 != NULL &&
			       iodev_fdtype(d2) == FDT_USOCK_CONNECTED,
			       "fdtype: and the device's type is the type alone "
			       "(%#x)", d2 != NULL ? iodev_fdtype(d2) : -1);
			if (d2 != NULL) {
				n = iodev_send(d2, "nb", 2);
				r = read(sp[1], buf, sizeof(buf));
				TAP_OK(n == 2 && r == 2, "fdtype: it sends "
				       "(%zd, %zd)", n, r);
				iodev_close(d2);
			} else {
				close(sp[0]);
			}
			close(sp[1]);
		}
		errno = 0;
		d2 = iodev_new(core, 0, FDT_CONNECTED | FDT_ACCEPTED |
		               IODEV_NONBLOCK, NULL, fdtype_h, NULL);
		TAP_OK(d2 == NULL && errno == EINVAL, "fdtype: two types with "
		       "IODEV_NONBLOCK: EINVAL (errno %d)", errno);
		errno = 0;
		d2 = iodev_new(core, 0, IODEV_NONBLOCK, NULL, fdtype_h, NULL);
		TAP_OK(d2 == NULL && errno == EINVAL, "fdtype: IODEV_NONBLOCK "
		       "alone is no type: EINVAL (errno %d)", errno);
	}
	dev = iodev_new(core, u[0], FDT_UDPCLI, NULL, fdtype_h, NULL);
	TAP_OK(dev != NULL, "fdtype: a datagram socket made FDT_UDPCLI");
	if (dev != NULL) {
		int sndbuf = 4096;

		u[0] = -1;
		(void)setsockopt(iodev_fd(dev), SOL_SOCKET, SO_SNDBUF, &sndbuf,
		                 sizeof(sndbuf));
		memset(big, 'x', sizeof(big));
		errno = 0;
		n = iodev_send(dev, big, sizeof(big));
		TAP_OK(n < 0 && iodev_sendq_len(dev) == 0,
		       "fdtype: a datagram too big for the socket fails whole, "
		       "nothing queued (got %zd, errno %d, queued %zu)", n, errno,
		       iodev_sendq_len(dev));
		iodev_close(dev);
	}
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (u[0] >= 0)
		close(u[0]);
	if (u[1] >= 0)
		close(u[1]);
	if (core != NULL)
		epcore_free(core);
}

static void all(void)
{
	linger_after_peer_eof(0);
	linger_after_peer_eof(2);
	big_send(0, 0);
	big_send(1, 2);
	big_send(1, 0);
	big_send(0, 2);
	sendq_limit(0);
	sendq_limit(2);
	linger_queued(0, 0);
	linger_queued(2, 0);
	linger_queued(0, 1);
	linger_queued(2, 1);
	linger_timeout(0);
	linger_timeout(2);
	linger_stuck();
	send_errors();
	no_sigpipe();
	queued_then_freed(0);
	queued_then_freed(2);
	fdtype_word();
}

int main(void)
{
	return tap_backends(all);
}
