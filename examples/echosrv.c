/*
 * echosrv.c - a TCP echo server on libepump: the pattern to copy for a
 * stream protocol.  A connection's handlers run one at a time on the
 * thread that owns it (its epump thread, or its worker with -w), so its
 * state needs no lock.  SIGINT or SIGTERM stops it cleanly.
 *
 *   echosrv [-mD] [-p PORT] [-a ADDR] [-t THREADS] [-w WORKERS] [-b BACKEND]
 *
 * -D (direct) writes each echo with send(2) on the device's fd and gives
 * iodev_send() only what the kernel did not take, as a server on a bare
 * callback loop would: the benchmark (tests/bench/echo-run.sh) uses it to
 * tell the loop's cost from iodev_send()'s.
 */
#include <epump.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#define PROG      "echosrv"
#define BUFSZ     (16 * 1024)  /* one read(2) */
#define SENDQ_MAX (256 * 1024) /* what a slow reader may cost us, per client */
#define LINGER_MS 10000        /* to flush the echo after the client's EOF */

static epcore_t *core;
static volatile sig_atomic_t stop_signal;
static int conn_bind = BIND_ONE_EPUMP; /* where accepted clients are polled */
static int direct;                     /* -D: send(2) first, see send_echo */

static void on_signal(int sig)
{
	stop_signal = sig;
	epcore_stop(core); /* async-signal-safe: epump_main_start() returns */
}

/*
 * Send n bytes or fail (-1).  iodev_send() writes what the kernel takes at
 * once and queues the rest.  With -D the write is ours, a plain send(2),
 * while nothing is queued (bytes must stay in order); what it leaves goes
 * to iodev_send().  The bytes sent this way are not in the stats socket's
 * byte counts.
 */
static int send_echo(iodev_t *dev, const char *buf, size_t n)
{
	ssize_t w = 0;

	if (direct && iodev_sendq_len(dev) == 0) {
		w = send(iodev_fd(dev), buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			return -1;
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return 0;
	}
	buf += w;
	n -= (size_t)w;
	return iodev_send(dev, buf, n) == (ssize_t)n ? 0 : -1;
}

/*
 * Read and echo until the kernel has no more: readiness is edge-triggered,
 * so data left unread makes no new IOE_READ.  The original ePump's sample
 * read 2 KiB once per edge (stalling on the rest) and dropped what send()
 * did not take.  Here nothing is dropped: we read only while the send
 * queue has room for a whole buffer, so iodev_send() takes all of it;
 * when a slow reader fills the queue we stop reading (TCP then slows the
 * sender down) and resume when the queue has drained (IOE_WRITE).
 */
static void echo(iodev_t *dev)
{
	char buf[BUFSZ];
	ssize_t n;

	for (;;) {
		if (iodev_sendq_len(dev) > SENDQ_MAX - BUFSZ) {
			iodev_del_notify(dev, RWF_READ);
			return;
		}
		n = iodev_recv(dev, buf, sizeof(buf)); /* read(2) + stats */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)  /* drained: wait for an edge */
			return;
		if (n < 0) {                   /* ECONNRESET, ...: give up */
			iodev_close(dev);
			return;
		}
		if (n == 0) {                  /* EOF: flush the echo, close */
			if (iodev_sendq_len(dev) == 0)
				iodev_close(dev);
			else
				iodev_linger_close(dev, LINGER_MS);
			return;
		}
		/* All or nothing: a stream that lost bytes must not go on. */
		if (send_echo(dev, buf, (size_t)n) < 0) {
			iodev_close(dev);
			return;
		}
		if (n < (ssize_t)sizeof(buf))  /* short read: no more now */
			return;
	}
}

static int on_client(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	switch (event) {
	case IOE_READ:
		echo(dev);
		break;
	case IOE_WRITE:
		/* The send queue drained.  If echo() paused, resume, and read
		 * at once what arrived meanwhile: it will make no new edge. */
		if (!(iodev_rwflags(dev) & RWF_READ)) {
			iodev_add_notify(dev, RWF_READ);
			echo(dev);
		}
		break;
	case IOE_INVALID_DEV:               /* could not be polled */
		iodev_close(dev);
		break;
	}
	return 0;
}

static int on_listener(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev;

	if (event != IOE_ACCEPT)
		return 0;
	/* Accept every waiting connection: one edge may stand for many. */
	while ((dev = eptcp_accept(core, obj, NULL, on_client, NULL,
	                           conn_bind, 0)) != NULL) {
		/* Echo small messages at once.  No iodev_set_sendq_limit():
		 * echo() keeps the queue under SENDQ_MAX by itself, and
		 * setting a limit allocates the queue now, 48 bytes more
		 * for every connection, idle ones too. */
		eptcp_nodelay(dev, 1);
	}
	/* EAGAIN: none left.  EMFILE/ENFILE (out of fds): the library
	 * pauses this listener and retries by itself, so just stop here. */
	if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
		fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-mD] [-p PORT] [-a ADDR] [-t THREADS]\n"
	    "               [-w WORKERS] [-b BACKEND]\n"
	    "A TCP echo server: sends back every byte it receives.\n\n"
	    "  -p, --port=PORT     listen on PORT (default 7000; 0: any)\n"
	    "  -a, --addr=ADDR     listen on ADDR, IPv4 or IPv6 (default\n"
	    "                      127.0.0.1; \"\": every address)\n"
	    "  -t, --threads=N     N epump (event loop) threads, the main one\n"
	    "                      included (default 1; 0: one per CPU)\n"
	    "  -w, --workers=N     N worker threads run the handlers (default\n"
	    "                      0: the epump threads run them)\n"
	    "  -b, --backend=NAME  epoll, poll or select (sets EPUMP_BACKEND;\n"
	    "                      default: the best available)\n"
	    "  -m, --mlisten       a listening socket per epump thread\n"
	    "                      (SO_REUSEPORT), not one shared socket\n"
	    "  -D, --direct        write echoes with send(2), queueing only\n"
	    "                      the rest (default: all via iodev_send)\n"
	    "  -h, --help          show this help and exit\n"
	    "  -V, --version       show the library's version and exit\n\n"
	    "Ready, it prints \"" PROG ": listening on ADDR:PORT (...)\" on\n"
	    "stdout.  SIGINT or SIGTERM stops it, with exit status 0.\n");
}

static int number(const char *s, int max, int opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
		fprintf(stderr, PROG ": -%c: want a number from 0 to %d, "
		        "not '%s'\n", opt, max, s);
		exit(EX_USAGE);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "threads", required_argument, NULL, 't' },
		{ "workers", required_argument, NULL, 'w' },
		{ "backend", required_argument, NULL, 'b' },
		{ "mlisten", no_argument, NULL, 'm' },
		{ "direct", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int port = 7000, threads = 1, workers = 0, mlisten = 0, c;
	const char *addr = "127.0.0.1";
	struct sigaction sa;
	iodev_t *listener;
	char host[64];

	while ((c = getopt_long(argc, argv, "p:a:t:w:b:mDhV", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'p': port = number(optarg, 65535, c); break;
		case 'a': addr = optarg; break;
		case 't': threads = number(optarg, 1024, c); break;
		case 'w': workers = number(optarg, 1024, c); break;
		case 'b': setenv("EPUMP_BACKEND", optarg, 1); break;
		case 'm': mlisten = 1; break;
		case 'D': direct = 1; break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': printf(PROG " (libepump %s)\n", epump_version());
			  return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
		        argv[optind]);
		return EX_USAGE;
	}
	if (threads == 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);

	if ((core = epcore_new(0)) == NULL) {
		c = errno;
		fprintf(stderr, PROG ": %s: %s\n", c == EINVAL ?
		        "bad EPUMP_BACKEND" : "epcore_new", strerror(c));
		return c == EINVAL ? EX_USAGE : EX_OSERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* The main thread will be the last epump thread (epump_main_start). */
	if ((threads > 1 &&
	     epcore_start_epump(core, threads - 1) != threads - 1) ||
	    (workers > 0 && epcore_start_worker(core, workers) != workers)) {
		fprintf(stderr, PROG ": starting threads: %s\n",
		        strerror(errno));
		epcore_free(core);
		return EX_OSERR;
	}
	if (mlisten) {
		/* Each epump accepts on its own socket: keep clients there.
		 * Set before listening: on_listener runs on the epump
		 * threads as soon as the sockets exist. */
		conn_bind = BIND_CURRENT_EPUMP;
		port = eptcp_mlisten(core, addr, port, NULL, on_listener, NULL);
	} else {
		/* One epump accepts; clients go to the least loaded epump. */
		listener = eptcp_listen(core, addr, port, NULL, on_listener,
		                        NULL, BIND_ONE_EPUMP, 0);
		if (listener == NULL ||
		    iodev_local_addr(listener, host, sizeof(host), &port) < 0)
			port = -1;
	}
	if (port < 0) {
		fprintf(stderr, PROG ": listen on %s: %s\n", addr,
		        strerror(errno));
		epcore_free(core);
		return EX_UNAVAILABLE;
	}
	printf(PROG ": listening on %s%s%s:%d (backend %s, %d epump threads, "
	       "%d workers)\n", strchr(addr, ':') ? "[" : "",
	       *addr ? addr : "*", strchr(addr, ':') ? "]" : "", port,
	       epcore_backend(core), threads, epcore_worker_count(core));
	fflush(stdout);

	if (epump_main_start(core) < 0 && errno != ECANCELED) {
		fprintf(stderr, PROG ": epump_main_start: %s\n",
		        strerror(errno));
		epcore_free(core);
		return EX_OSERR;
	}
	if (stop_signal != 0)
		fprintf(stderr, PROG ": %s, stopping\n",
		        strsignal(stop_signal));
	epcore_free(core); /* joins the threads, closes every connection */
	return EX_OK;
}
