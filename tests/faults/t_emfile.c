/*
 * t_emfile.c - out of fds during a connect storm (eptcp_accept(3): on
 * EMFILE the listener pauses 100 ms and retries by itself).  The test
 * process lowers its own RLIMIT_NOFILE so that the echo server can take
 * K of the C connections of a storm; the rest wait in the backlog.  The
 * server must keep serving those it took, must not spin on the listener
 * meanwhile, must take and serve every waiting connection as clients
 * close, and must end with the fds it started with.
 */
#include <sys/resource.h>

#include "faultutil.h"

#define MSG 64

static void storm(int nconn, int room)
{
	struct fu_srv srv;
	struct rlimit old, low;
	epcore_t *core;
	int *cfd = calloc((size_t)nconn, sizeof(int));
	size_t *got = calloc((size_t)nconn, sizeof(size_t));
	uint8_t (*in)[MSG] = calloc((size_t)nconn, MSG);
	int fds0, fds1, i, served = 0, bad = 0, left;
	long calls0, calls1, accepted_first = 0;
	long long verified = 0;
	uint64_t end;
	unsigned budget = fu_in_valgrind() ? 120000 : 20000;
	struct sockaddr_in sin;

	memset(&srv, 0, sizeof(srv));
	for (i = 0; i < nconn; i++)
		cfd[i] = -1;
	fds0 = fu_nfds();
	core = epcore_new(0);
	epcore_start_epump(core, 1);
	epcore_start_worker(core, 2);
	if (!TAP_OK(fu_srv_start(&srv, core) == 0, "echo server listening")) {
		epcore_free(core);
		goto out;
	}
	fds1 = fu_nfds();

	/* The clients' sockets exist before the limit drops: their connects
	 * take no fd, so only the server runs out. */
	for (i = 0; i < nconn; i++)
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		                SOCK_CLOEXEC, 0);
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	if (fu_in_valgrind())
		room = nconn + 64; /* see below */
	low.rlim_cur = (rlim_t)(fu_nfds() + room);
	TAP_OK(setrlimit(RLIMIT_NOFILE, &low) == 0,
	       "RLIMIT_NOFILE lowered to %d: room for %d accepted fds",
	       (int)low.rlim_cur, room);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)srv.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < nconn; i++) {
		uint8_t msg[MSG];

		if (connect(cfd[i], (struct sockaddr *)&sin, sizeof(sin)) < 0 &&
		    errno != EINPROGRESS)
			bad++;
		fu_fill(msg, MSG, (uint32_t)i, 0);
		if (!fu_send_all(cfd[i], msg, MSG, 5000))
			bad++;
	}
	TAP_IS(bad, 0, "a storm of connections, each sends 64 bytes");

	if (fu_in_valgrind()) {
		/* valgrind keeps fds of its own under the limit and closes
		 * an accepted socket beyond its idea of it (a reset, where
		 * the kernel would have said EMFILE): no fault to inject.
		 * The storm still runs, for leaks. */
		TAP_OK(1, "out of fds # SKIP under valgrind");
	} else {
		TAP_OK(tu_wait_ge(&srv.emfile, 1, 5000),
		       "the server ran out of fds (eptcp_accept: EMFILE)");
		tu_sleep_ms(100);
		accepted_first = atomic_load(&srv.accepted);
		TAP_OK(accepted_first > 0 && accepted_first < nconn,
		       "it took some connections (%ld of %d), the rest wait",
		       accepted_first, nconn);

		/* Out of fds for 500 ms: the listener retries every 100 ms;
		 * one that spins would be called thousands of times. */
		calls0 = atomic_load(&srv.accept_calls);
		tu_sleep_ms(500);
		calls1 = atomic_load(&srv.accept_calls);
		TAP_OK(calls1 - calls0 <= 50, "no busy loop on the listener: "
		       "%ld IOE_ACCEPT in 500 ms out of fds", calls1 - calls0);
	}

	/* Collect echoes; a client whose echo is back closes, which gives
	 * the server an fd for a waiting connection. */
	end = tu_now_ms() + budget;
	left = nconn;
	while (left > 0 && tu_now_ms() < end) {
		int progress = 0;

		for (i = 0; i < nconn; i++) {
			ssize_t n;

			if (cfd[i] < 0)
				continue;
			n = recv(cfd[i], in[i] + got[i], MSG - got[i],
			         MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			               errno != EINTR)) {
				bad++; /* the server dropped it */
				tap_diag("client %d: %s after %zu bytes", i,
				         n == 0 ? "EOF" : strerror(errno),
				         got[i]);
				close(cfd[i]);
				cfd[i] = -1;
				left--;
				continue;
			}
			if (n < 0)
				continue;
			got[i] += (size_t)n;
			if (got[i] < MSG)
				continue;
			{
				uint8_t want[MSG];

				fu_fill(want, MSG, (uint32_t)i, 0);
				if (memcmp(want, in[i], MSG) == 0) {
					verified += MSG;
					served++;
				} else {
					bad++;
				}
			}
			close(cfd[i]);
			cfd[i] = -1;
			left--;
			progress = 1;
		}
		if (!progress)
			tu_sleep_ms(5);
	}
	TAP_IS(served, nconn, "every connection of the storm was served "
	       "once fds came free");
	TAP_IS(verified, (long long)nconn * MSG, "bytes echoed and verified");
	TAP_IS(bad, 0, "no connection dropped, no byte wrong");
	tap_diag("storm: %d connections, %ld taken before the first EMFILE "
	         "pause, %ld EMFILE returns, %ld IOE_ACCEPT in all, %ld "
	         "accepted, %ld closed by the server", nconn,
	         accepted_first, atomic_load(&srv.emfile),
	         atomic_load(&srv.accept_calls), atomic_load(&srv.accepted),
	         atomic_load(&srv.closed));

	setrlimit(RLIMIT_NOFILE, &old);
	{
		int fd = fu_connect(srv.port);

		TAP_OK(fd >= 0 && fu_roundtrip(fd, 4096, 7, 0, 5000),
		       "afterwards a new connection is served");
		if (fd >= 0)
			close(fd);
	}
	TAP_IS(fu_wait_nfds(fds1, 5000), fds1,
	       "the server is back to the fds it had before the storm");
	TAP_IS(epcore_free(core), 0, "epcore_free");
	TAP_IS(fu_nfds(), fds0, "no fd left after epcore_free");
out:
	for (i = 0; i < nconn; i++)
		if (cfd[i] >= 0)
			close(cfd[i]);
	free(cfd);
	free(got);
	free(in);
}

static void all(void)
{
	storm(300, 40);
}

int main(void)
{
	fu_watchdog(300);
	return tap_backends(all);
}
