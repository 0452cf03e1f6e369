/*
 * httpsrv.c - a small HTTP/1.1 server on libepump: keep-alive and
 * pipelining; GET or HEAD / says hello, other paths are 404.  It shows how
 * to keep per-connection state (a request buffer in iodev_para) and how to
 * close without losing the last response (iodev_linger_close).
 * A connection's handlers run one at a time on the thread that owns it, so
 * its state needs no lock.  SIGINT or SIGTERM stops it cleanly.
 *
 *   httpsrv [-m] [-p PORT] [-a ADDR] [-t THREADS] [-w WORKERS] [-b BACKEND]
 */
#include <epump.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "httpreq.h"

#define PROG       "httpsrv"
#define HEAD_MAX   8192        /* request line and headers; larger: 431 */
#define SENDQ_HIGH (64 * 1024) /* stop reading requests above this backlog */
#define LINGER_MS  5000        /* to deliver the last response */

static const char hello[] = "Hello from libepump\n";

/* Per connection, in iodev_para().  Made and freed on the connection's own
 * thread; the list, which lets main() free what is left at exit (closing
 * devices does not call handlers), is the only shared part. */
struct conn {
	struct conn *prev, *next;  /* the list, under conns_lock */
	size_t len;                /* bytes in buf */
	char buf[HEAD_MAX];        /* received, not yet answered */
};

static epcore_t *core;
static volatile sig_atomic_t stop_signal;
static int conn_bind = BIND_ONE_EPUMP;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;

static void on_signal(int sig)
{
	stop_signal = sig;
	epcore_stop(core); /* async-signal-safe: epump_main_start() returns */
}

static struct conn *conn_new(void)
{
	struct conn *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	c->len = 0;
	c->prev = NULL;
	pthread_mutex_lock(&conns_lock);
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	pthread_mutex_unlock(&conns_lock);
	return c;
}

static void conn_free(struct conn *c)
{
	pthread_mutex_lock(&conns_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&conns_lock);
	free(c);
}

/* Close a connection and free its state; linger: deliver what is queued
 * (the last response) first.  No handler of it runs afterwards. */
static void conn_close(iodev_t *dev, int linger)
{
	struct conn *c = iodev_para(dev);

	iodev_set_para(dev, NULL);
	if (c != NULL)
		conn_free(c);
	if (!linger || iodev_linger_close(dev, LINGER_MS) < 0)
		iodev_close(dev);
}

/* The Date header's value, formatted once a second per thread (as busy
 * servers do: formatting it per response costs more than the rest of
 * the response). */
static const char *http_date(void)
{
	static _Thread_local time_t when = -1;
	static _Thread_local char date[40];
	time_t now = time(NULL);
	struct tm tm;

	if (now != when) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
		         gmtime_r(&now, &tm));
		when = now;
	}
	return date;
}

/* Queue the answer to r: 0, or -1 if the connection cannot take it. */
static int respond(iodev_t *dev, const struct req *r)
{
	const char *reason = "Bad Request", *body = "Bad request\n";
	char out[512];
	int n;

	switch (r->status) {
	case 200: reason = "OK"; body = hello; break;
	case 404: reason = "Not Found"; body = "Not found\n"; break;
	case 405: reason = "Method Not Allowed"; body = "Only GET and HEAD\n";
		  break;
	case 431: reason = "Request Header Fields Too Large";
		  body = "Request header fields too large\n"; break;
	case 505: reason = "HTTP Version Not Supported";
		  body = "HTTP/1.x only\n"; break;
	}
	n = snprintf(out, sizeof(out),
	    "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: " PROG "\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n%s",
	    r->status, reason, http_date(), strlen(body),
	    r->status == 405 ? "Allow: GET, HEAD\r\n" : "",
	    !r->keep_alive ? "Connection: close\r\n" :
	    r->http10 ? "Connection: keep-alive\r\n" : "",
	    r->head_only ? "" : body);
	/* All or nothing: half a response would break the stream. */
	return iodev_send(dev, out, (size_t)n) == n ? 0 : -1;
}

/* Answer every complete request in the buffer, in order (pipelining).
 * 0, or -1 when the connection was closed. */
static int serve(iodev_t *dev, struct conn *c)
{
	size_t off = 0, hlen;
	struct req r;

	for (;;) {
		/* Empty lines before a request are to be ignored (RFC 9112). */
		while (off < c->len &&
		       (c->buf[off] == '\r' || c->buf[off] == '\n'))
			off++;
		if ((hlen = http_head_len(c->buf + off, c->len - off)) == 0)
			break;
		http_parse_request(c->buf + off, hlen, &r);
		off += hlen;
		if (respond(dev, &r) < 0) {
			conn_close(dev, 0);
			return -1;
		}
		if (!r.keep_alive) {   /* the rest of the buffer is dropped */
			conn_close(dev, 1);
			return -1;
		}
	}
	memmove(c->buf, c->buf + off, c->len - off);
	c->len -= off;
	if (c->len == sizeof(c->buf)) { /* a head that does not fit */
		memset(&r, 0, sizeof(r));
		r.status = 431;
		conn_close(dev, respond(dev, &r) == 0);
		return -1;
	}
	return 0;
}

/* Read and answer requests until the kernel has no more (edge-triggered),
 * or until the client has a backlog of answers it does not read: then
 * stop reading until that has drained (IOE_WRITE). */
static void on_readable(iodev_t *dev)
{
	struct conn *c = iodev_para(dev);
	size_t room;
	ssize_t n;

	if (c == NULL) {               /* first data on this connection */
		if ((c = conn_new()) == NULL) {
			iodev_close(dev);
			return;
		}
		iodev_set_para(dev, c);
	}
	for (;;) {
		if (iodev_sendq_len(dev) > SENDQ_HIGH) {
			iodev_del_notify(dev, RWF_READ);
			return;
		}
		room = sizeof(c->buf) - c->len;  /* > 0: serve() saw to it */
		n = iodev_recv(dev, c->buf + c->len, room); /* read(2) */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)  /* drained: wait for an edge */
			return;
		if (n <= 0) {   /* EOF (deliver queued answers) or error */
			conn_close(dev, n == 0 && iodev_sendq_len(dev) > 0);
			return;
		}
		c->len += (size_t)n;
		if (serve(dev, c) < 0)
			return;
		if ((size_t)n < room)          /* short read: no more now */
			return;
	}
}

static int on_client(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;

	switch (event) {
	case IOE_READ:
		on_readable(dev);
		break;
	case IOE_WRITE:
		/* The answers drained.  If on_readable() paused, resume, and
		 * read at once what arrived meanwhile: it makes no new edge. */
		if (!(iodev_rwflags(dev) & RWF_READ)) {
			iodev_add_notify(dev, RWF_READ);
			on_readable(dev);
		}
		break;
	case IOE_INVALID_DEV:              /* could not be polled */
		conn_close(dev, 0);
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
	                           conn_bind, 0)) != NULL)
		eptcp_nodelay(dev, 1);      /* answers go out at once */
	/* EAGAIN: none left.  EMFILE/ENFILE (out of fds): the library
	 * pauses this listener and retries by itself, so just stop here. */
	if (errno != EAGAIN && errno != EMFILE && errno != ENFILE)
		fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-m] [-p PORT] [-a ADDR] [-t THREADS]\n"
	    "               [-w WORKERS] [-b BACKEND]\n"
	    "A small HTTP/1.1 server (keep-alive, pipelining): GET or HEAD /\n"
	    "answers \"Hello from libepump\", other paths 404.\n\n"
	    "  -p, --port=PORT     listen on PORT (default 8080; 0: any)\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int port = 8080, threads = 1, workers = 0, mlisten = 0, c;
	const char *addr = "127.0.0.1";
	struct sigaction sa;
	iodev_t *listener;
	struct conn *left;
	char host[64];

	while ((c = getopt_long(argc, argv, "p:a:t:w:b:mhV", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'p': port = number(optarg, 65535, c); break;
		case 'a': addr = optarg; break;
		case 't': threads = number(optarg, 1024, c); break;
		case 'w': workers = number(optarg, 1024, c); break;
		case 'b': setenv("EPUMP_BACKEND", optarg, 1); break;
		case 'm': mlisten = 1; break;
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
	while ((left = conns) != NULL)  /* the state of those connections */
		conn_free(left);
	return EX_OK;
}
