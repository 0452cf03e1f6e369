/*
 * http_evhttp.c - the libevent peer of examples/httpsrv for the HTTP
 * benchmark (tests/bench/run-http.sh): one thread, one event_base, an
 * evhttp server that answers GET or HEAD / with the same body and, as far
 * as evhttp lets it, the same headers as httpsrv:
 *
 *   HTTP/1.1 200 OK
 *   Server: httpsrv          (the same length as httpsrv's)
 *   Content-Type: text/plain
 *   Date: ...                (evhttp adds it)
 *   Content-Length: 20       (evhttp adds it)
 *
 *   Hello from libepump
 *
 * Other paths are 404, other methods 405 (evhttp's own answers for those
 * carry an HTML body; the benchmark only asks for /).
 *
 *   http_evhttp [-p PORT] [-a ADDR]
 *
 * Ready, it prints "http_evhttp: listening on ADDR:PORT" on stdout, as
 * httpsrv does.  SIGINT or SIGTERM stops it with exit status 0.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "http_evhttp"

static const char hello[] = "Hello from libepump\n";

static void on_request(struct evhttp_request *req, void *arg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_request_get_uri(req);
	struct evbuffer *body;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(out, "Allow", "GET, HEAD");
		evhttp_send_error(req, 405, "Method Not Allowed");
		return;
	}
	if (path == NULL || (strcmp(path, "/") != 0 &&
	                     strncmp(path, "/?", 2) != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	evhttp_add_header(out, "Server", "httpsrv");
	evhttp_add_header(out, "Content-Type", "text/plain");
	body = evhttp_request_get_output_buffer(req);
	/* A reference to the static body: no copy per request. */
	if (evbuffer_add_reference(body, hello, sizeof(hello) - 1, NULL,
	                           NULL) < 0) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
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
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *sigint, *sigterm;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *addr = "127.0.0.1";
	char host[64];
	int port = 8080, c;

	while ((c = getopt(argc, argv, "p:a:h")) != -1) {
		switch (c) {
		case 'p': port = number(optarg, 65535, c); break;
		case 'a': addr = optarg; break;
		case 'h':
			printf("usage: " PROG " [-p PORT] [-a ADDR]\n");
			return 0;
		default:
			fprintf(stderr, "usage: " PROG " [-p PORT] [-a ADDR]\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: " PROG " [-p PORT] [-a ADDR]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, PROG ": cannot make an event_base\n");
		return 1;
	}
	/* Only GET and HEAD reach on_request's 200; others get 405 there. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(http, on_request, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, addr,
	                                            (ev_uint16_t)port)) == NULL ||
	    getsockname(evhttp_bound_socket_get_fd(bound),
	                (struct sockaddr *)&ss, &sl) < 0 ||
	    evutil_inet_ntop(ss.ss_family, ss.ss_family == AF_INET ?
	        (void *)&((struct sockaddr_in *)&ss)->sin_addr :
	        (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr,
	        host, sizeof(host)) == NULL) {
		fprintf(stderr, PROG ": listen on %s:%d: %s\n", addr, port,
		        strerror(errno));
		return 1;
	}
	port = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) < 0 ||
	    evsignal_add(sigterm, NULL) < 0) {
		fprintf(stderr, PROG ": cannot catch signals\n");
		return 1;
	}
	printf(PROG ": listening on %s%s%s:%d (libevent %s, %s)\n",
	       ss.ss_family == AF_INET6 ? "[" : "", host,
	       ss.ss_family == AF_INET6 ? "]" : "", port, event_get_version(),
	       event_base_get_method(base));
	fflush(stdout);

	event_base_dispatch(base);

	event_free(sigint);
	event_free(sigterm);
	evhttp_free(http);
	event_base_free(base);
	return 0;
}
