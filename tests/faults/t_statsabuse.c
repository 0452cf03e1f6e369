/*
 * t_statsabuse.c - bad clients of the stats socket (epump-stats(7)) while
 * the core serves echo traffic on 16 connections: a client of another
 * uid (root only: a child that setuid()s to nobody), 1 MiB of binary
 * garbage, 1 MiB of text without a newline, 100 idle connections, 16
 * clients in a tight loop.  The bad ones must get what epump-stats(7)
 * says (ERR 403, 400, 413, 503, 408) and be disconnected; the echo
 * traffic must go on through every phase with every byte right; a good
 * client must be served afterwards.  The stats socket is served by a
 * thread of its own and no poller backend is involved, so this runs on
 * one backend only (epoll unless EPUMP_BACKEND says otherwise).
 */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "faultutil.h"

#define NLOAD  16
#define NIDLE  100
#define NSTALL 8     /* clients that never read */
#define NLOOP  16
#define MIB    (1024 * 1024)

static char sock[108];
static unsigned slow = 1; /* times longer under valgrind */

static int us_connect(const char *path)
{
	struct sockaddr_un sun;
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	/* a full backlog blocks connect() at most this long */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Appends what fd (non-blocking: a socket or a pipe) sends to buf
 * (NUL-terminated) until term appears, the peer closes (*closed = 1: EOF
 * or reset) or ms pass; the length. */
static size_t read_until(int fd, char *buf, size_t cap, size_t len,
                         const char *term, unsigned ms, int *closed)
{
	uint64_t end = tu_now_ms() + ms;

	*closed = 0;
	buf[len] = '\0';
	while (len + 1 < cap && (term == NULL || strstr(buf, term) == NULL)) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			*closed = 1;
			break;
		}
		if (!fu_poll_until(fd, POLLIN, end))
			break;
	}
	return len;
}

/* A good client: greeting, show info with our pid, quit, closed.  1 when
 * all of that happened; *reply gets the first line otherwise. */
static int good_client(char *first, size_t firstlen)
{
	char buf[16384], want[64];
	int fd, closed, ok;
	size_t len;

	first[0] = '\0';
	fd = us_connect(sock);
	if (fd < 0) {
		snprintf(first, firstlen, "connect: %s", strerror(errno));
		return 0;
	}
	len = read_until(fd, buf, sizeof(buf), 0, "\n", 5000 * slow, &closed);
	snprintf(first, firstlen, "%.*s", (int)strcspn(buf, "\n"), buf);
	snprintf(want, sizeof(want), "EPUMP-STATS/1 pid=%d ", (int)getpid());
	ok = strncmp(buf, want, strlen(want)) == 0;
	if (ok && fu_send_all(fd, "show info\n", 10, 5000)) {
		len = read_until(fd, buf, sizeof(buf), len, "\n\n",
		                 5000 * slow, &closed);
		snprintf(want, sizeof(want), "\nepump_pid\tgauge\t-\t%d\n",
		         (int)getpid());
		ok = strstr(buf, want) != NULL;
	} else {
		ok = 0;
	}
	if (ok && fu_send_all(fd, "quit\n", 5, 5000)) {
		read_until(fd, buf, sizeof(buf), len, NULL, 5000 * slow,
		           &closed);
		ok = closed;
	}
	close(fd);
	return ok;
}

static void check_good(const char *when)
{
	char first[256];

	TAP_OK(good_client(first, sizeof(first)), "%s: a good client gets "
	       "the greeting, show info, and quit closes (%s)", when, first);
}

/* The echo load moved on since `before'. */
static void check_traffic(struct fu_load *l, long long before,
                          const char *when)
{
	TAP_OK(fu_load_progress(l, before, 10000 * slow) &&
	       atomic_load(&l->mismatched) == 0 &&
	       atomic_load(&l->ended) + atomic_load(&l->failed) == 0,
	       "%s: echo traffic goes on (%lld bytes verified)", when,
	       (long long)atomic_load(&l->verified));
}

/* ---- another uid ---- */

static void other_uid(const char *dir)
{
	struct passwd *pw = getpwnam("nobody");
	int p[2], st = 0, closed = 0;
	char buf[256];
	size_t len = 0;
	pid_t pid;
	uint64_t end;

	if (geteuid() != 0 || pw == NULL) {
		TAP_OK(1, "a client of another uid gets ERR 403 # SKIP %s",
		       pw == NULL ? "no user nobody" : "needs root to setuid");
		return;
	}
	/* Open the way for nobody, so that it is the server that says no
	 * (SO_PEERCRED), not the directory's mode. */
	chmod(dir, 0711);
	chmod(sock, 0666);
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		/* Only system calls from here: the parent has threads.  The
		 * outcome goes up the pipe, a letter then what the server
		 * sent; the child then becomes true(1), so that no atexit
		 * handler and no leak checker (valgrind) sees the parent's
		 * memory in it. */
		char res[256];
		int fd;

		close(p[0]);
		res[0] = '0';
		len = 0;
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0 || getuid() == 0) {
			res[0] = 'u'; /* still root */
		} else if ((fd = us_connect(sock)) < 0) {
			res[0] = 'c'; /* connect failed */
		} else {
			len = read_until(fd, res + 1, sizeof(res) - 1, 0,
			                 NULL, 5000, &closed);
			if (!closed)
				res[0] = 'o'; /* left open */
		}
		if (write(p[1], res, len + 1) < 0)
			res[0] = 'w';
		execl("/bin/true", "true", (char *)NULL);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	buf[0] = '\0';
	if (pid > 0) {
		len = read_until(p[0], buf, sizeof(buf), 0, NULL, 10000 * slow,
		                 &closed);
		end = tu_now_ms() + 5000;
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (tu_now_ms() > end) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				break;
			}
			tu_sleep_ms(5);
		}
	}
	close(p[0]);
	chmod(sock, 0600);
	chmod(dir, 0700);
	if (buf[0] == 'u') {
		TAP_OK(1, "a client of another uid gets ERR 403 # SKIP "
		       "setuid(nobody) failed here");
		return;
	}
	TAP_OK(pid > 0 && buf[0] == '0' &&
	       strcmp(buf + 1, "ERR 403 forbidden\n\n") == 0,
	       "a client of uid %d gets ERR 403 and is disconnected (%s, "
	       "got '%.*s')", (int)pw->pw_uid,
	       buf[0] == '0' ? "closed" : buf[0] == 'u' ? "setuid failed" :
	       buf[0] == 'c' ? "connect failed" : buf[0] == 'o' ?
	       "not closed" : "no answer from the child",
	       buf[0] ? (int)strcspn(buf + 1, "\n") : 0, buf[0] ? buf + 1 : "");
}

/* ---- 1 MiB of garbage ---- */

/* Sends buf after the greeting until the server closes; the reply. */
static void garbage(const uint8_t *data, size_t len, const char *what,
                    const char *want1, const char *want2)
{
	char buf[4096];
	size_t off = 0;
	int fd, closed = 0;
	uint64_t end;

	fd = us_connect(sock);
	if (!TAP_OK(fd >= 0, "%s: connected", what))
		return;
	read_until(fd, buf, sizeof(buf), 0, "\n", 5000 * slow, &closed);
	TAP_OK(strncmp(buf, "EPUMP-STATS/1 ", 14) == 0, "%s: greeted", what);
	end = tu_now_ms() + 10000 * slow;
	while (off < len && tu_now_ms() < end) {
		ssize_t n = send(fd, data + off, len - off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break; /* EPIPE, ECONNRESET: dropped, as it should */
		else
			fu_poll_until(fd, POLLOUT, tu_now_ms() + 20);
	}
	read_until(fd, buf, sizeof(buf), 0, NULL, 10000 * slow, &closed);
	close(fd);
	TAP_OK(closed && (strncmp(buf, want1, strlen(want1)) == 0 ||
	                  (want2 != NULL &&
	                   strncmp(buf, want2, strlen(want2)) == 0)),
	       "%s: '%.*s' and disconnected after %zu of %zu bytes sent",
	       what, (int)strcspn(buf, "\n"), buf, off, len);
}

/* ---- clients that never read their replies ---- */

/* Sends n "show info" commands; 1 when all went in within ms. */
static int send_infos(int fd, long n, unsigned ms)
{
	static const char cmd[] = "show info\n";
	char chunk[100 * 10];
	long i;
	uint64_t end = tu_now_ms() + ms;

	for (i = 0; i < 100; i++)
		memcpy(chunk + i * 10, cmd, 10);
	for (i = 0; i < n; i += 100) {
		size_t len = (size_t)((n - i < 100 ? n - i : 100) * 10);
		size_t off = 0;

		while (off < len) {
			ssize_t k = send(fd, chunk + off, len - off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (k > 0)
				off += (size_t)k;
			else if (k < 0 && errno != EAGAIN && errno != EINTR)
				return 0;
			else if (!fu_poll_until(fd, POLLOUT, end))
				return 0;
		}
	}
	return 1;
}

/* Did the server close its end within ms?  (A unix socket reports
 * POLLHUP then, with our receive queue still unread.) */
static int hung_up(int fd, unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;

	for (;;) {
		struct pollfd p = { fd, 0, 0 };
		uint64_t now = tu_now_ms();

		if (poll(&p, 1, now >= end ? 0 : (int)(end - now)) > 0 &&
		    (p.revents & POLLHUP))
			return 1;
		if (tu_now_ms() >= end)
			return 0;
	}
}

/*
 * What a client that sent only "show info" commands got: the greeting,
 * then replies, each one whole (the same lines as the first, epump_pid
 * among them, an empty line after it), the last one maybe cut short.  A
 * server that drops a client's pending output must not go on to send the
 * rest of a reply it dropped the start of.  Reads all that is left; the
 * number of whole replies, or -1.
 */
static long info_stream(int fd)
{
	size_t cap = 16 << 20, len;
	char *buf = malloc(cap), *p, *q;
	long replies = 0, lines0 = -1;
	int closed;

	if (buf == NULL)
		return -1;
	len = read_until(fd, buf, cap, 0, NULL, 10000 * slow, &closed);
	if (strncmp(buf, "EPUMP-STATS/1 ", 14) != 0 ||
	    (p = strchr(buf, '\n')) == NULL) {
		free(buf);
		return -1;
	}
	for (p++; (q = strstr(p, "\n\n")) != NULL; p = q + 2) {
		long lines = 1;
		char *l;

		*q = '\0';
		for (l = p; (l = strchr(l, '\n')) != NULL; l++)
			lines++;
		if (lines0 < 0)
			lines0 = lines;
		if (lines != lines0 || (strncmp(p, "epump_pid\t", 10) != 0 &&
		                        strstr(p, "\nepump_pid\t") == NULL)) {
			tap_diag("reply %ld: %ld lines, not %ld: '%.200s'",
			         replies, lines, lines0, p);
			free(buf);
			return -1;
		}
		replies++;
	}
	(void)len;
	free(buf);
	return replies;
}

/* 1 MiB of "show info": ~40 MiB of replies, none read.  The server keeps
 * 8 MiB at most for a client, then drops it. */
static void flood_unread(void)
{
	int fd = us_connect(sock);
	long replies;

	if (!TAP_OK(fd >= 0, "a client that never reads: connected"))
		return;
	send_infos(fd, MIB / 10, 10000 * slow); /* EPIPE once dropped */
	TAP_OK(hung_up(fd, 10000 * slow), "1 MiB of show info, no reply "
	       "read: the server disconnects the client");
	replies = info_stream(fd);
	TAP_OK(replies >= 0, "what it got is the greeting and whole replies "
	       "(%ld), the last maybe cut short", replies);
	close(fd);
}

/* ---- 100 idle connections ---- */

static void idle_clients(struct fu_load *load)
{
	static int fd[NIDLE];
	int nr[NSTALL];
	char buf[512], first[256];
	int i, closed, greeted = 0, refused = 0, other = 0, timedout = 0;
	int connected = 0, stalled = 0, hup = 0, whole = 0;
	long long v;

	/* First the clients that send commands and never read: each has
	 * ~400 KiB of replies, more than its socket takes. */
	for (i = 0; i < NSTALL; i++) {
		nr[i] = us_connect(sock);
		stalled += nr[i] >= 0 && send_infos(nr[i], 1000, 5000 * slow);
	}
	TAP_IS(stalled, NSTALL, "8 clients sent 1000 show info each and "
	       "read nothing");
	for (i = 0; i < NIDLE; i++)
		if ((fd[i] = us_connect(sock)) >= 0)
			connected++;
	TAP_IS(connected, NIDLE, "100 idle clients connected");
	for (i = 0; i < NIDLE; i++) {
		if (fd[i] < 0)
			continue;
		read_until(fd[i], buf, sizeof(buf), 0, "\n", 5000 * slow,
		           &closed);
		if (strncmp(buf, "EPUMP-STATS/1 ", 14) == 0 && !closed) {
			greeted++;
			continue;
		}
		if (strcmp(buf, "ERR 503 too many clients\n\n") == 0)
			read_until(fd[i], buf, sizeof(buf), strlen(buf), NULL,
			           5000 * slow, &closed);
		if (strcmp(buf, "ERR 503 too many clients\n\n") == 0 && closed)
			refused++;
		else
			other++;
		close(fd[i]);
		fd[i] = -1;
	}
	TAP_OK(greeted > 0 && greeted <= 16 - NSTALL &&
	       refused + greeted == NIDLE && other == 0,
	       "idle clients: %d greeted (the %d free places at most), %d "
	       "got ERR 503 and were disconnected, %d other", greeted,
	       16 - NSTALL, refused, other);
	if (greeted == 16 - NSTALL) {
		good_client(first, sizeof(first));
		TAP_OK(strcmp(first, "ERR 503 too many clients") == 0,
		       "with 16 held, a good client is refused with ERR 503 "
		       "too (%s)", first);
	}
	v = atomic_load(&load->verified);
	check_traffic(load, v, "16 stats clients held");
	/* epump-stats(7): no complete command within 5 s: ERR 408 */
	for (i = 0; i < NIDLE; i++) {
		if (fd[i] < 0)
			continue;
		buf[0] = '\0';
		read_until(fd[i], buf, sizeof(buf), 0, NULL, 10000 * slow,
		           &closed);
		if (closed && strcmp(buf, "ERR 408 idle too long\n\n") == 0)
			timedout++;
		else
			tap_diag("idle client %d: '%s'%s", i, buf,
			         closed ? "" : ", not closed");
		close(fd[i]);
	}
	TAP_IS(timedout, greeted, "after 5 s every idle client got ERR 408 "
	       "and was disconnected");
	/* A client that takes none of its replies for 5 s is dropped too:
	 * else 16 of them would hold the socket for good. */
	for (i = 0; i < NSTALL; i++) {
		if (nr[i] < 0)
			continue;
		if (hung_up(nr[i], 10000 * slow)) {
			hup++;
			whole += info_stream(nr[i]) >= 0;
		}
		close(nr[i]);
	}
	TAP_IS(hup, NSTALL, "the clients that read nothing were disconnected");
	TAP_IS(whole, NSTALL, "what they got is whole replies, the last maybe "
	       "cut short");
}

/* ---- 16 clients in a tight loop ---- */

struct looper {
	pthread_t th;
	uint64_t end;
	long served, refused, bad;
	char last_bad[128];
};

static void *loop_main(void *arg)
{
	struct looper *lp = arg;
	static _Thread_local char buf[65536];
	char want[64];
	int n;

	snprintf(want, sizeof(want), "\nepump_pid\tgauge\t-\t%d\n",
	         (int)getpid());
	for (n = 0; n < 100000 && tu_now_ms() < lp->end; n++) {
		int fd = us_connect(sock), closed;
		size_t len;

		if (fd < 0) {
			lp->bad++;
			snprintf(lp->last_bad, sizeof(lp->last_bad),
			         "connect: %s", strerror(errno));
			continue;
		}
		len = read_until(fd, buf, sizeof(buf), 0, "\n", 5000 * slow,
		                 &closed);
		if (strncmp(buf, "ERR 503 ", 8) == 0) {
			lp->refused++;
			close(fd);
			continue;
		}
		if (strncmp(buf, "EPUMP-STATS/1 ", 14) != 0 ||
		    !fu_send_all(fd, "show all\nquit\n", 14, 5000)) {
			lp->bad++;
			snprintf(lp->last_bad, sizeof(lp->last_bad), "%.60s",
			         buf);
			close(fd);
			continue;
		}
		len = read_until(fd, buf, sizeof(buf), len, NULL, 5000 * slow,
		                 &closed);
		if (closed && strstr(buf, want) != NULL &&
		    strstr(buf, "epump_fd_info") != NULL &&
		    len > 2 && strcmp(buf + len - 2, "\n\n") == 0) {
			lp->served++;
		} else {
			lp->bad++;
			snprintf(lp->last_bad, sizeof(lp->last_bad),
			         "%zu bytes, %s", len,
			         closed ? "closed" : "not closed");
		}
		close(fd);
	}
	return NULL;
}

static void tight_loop(void)
{
	struct looper lp[NLOOP];
	long served = 0, refused = 0, bad = 0;
	uint64_t end = tu_now_ms() + 2000 * slow;
	int i;

	memset(lp, 0, sizeof(lp));
	for (i = 0; i < NLOOP; i++) {
		lp[i].end = end;
		pthread_create(&lp[i].th, NULL, loop_main, &lp[i]);
	}
	for (i = 0; i < NLOOP; i++) {
		pthread_join(lp[i].th, NULL);
		served += lp[i].served;
		refused += lp[i].refused;
		bad += lp[i].bad;
		if (lp[i].bad)
			tap_diag("looper %d: %ld bad, last: %s", i, lp[i].bad,
			         lp[i].last_bad);
	}
	TAP_OK(served > 0 && bad == 0, "16 clients in a tight loop for 2 s: "
	       "%ld 'show all' served, %ld ERR 503, %ld otherwise", served,
	       refused, bad);
}

static void abuse(void)
{
	char dir[] = "/tmp/epump-faults.XXXXXX";
	struct fu_srv srv;
	struct fu_load load;
	epcore_t *core;
	uint8_t *junk;
	long long v;
	int fds0, open;

	if (fu_in_valgrind())
		slow = 10;
	memset(&srv, 0, sizeof(srv));
	fds0 = fu_nfds();
	core = epcore_new(0);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, 2);
	if (mkdtemp(dir) == NULL)
		dir[0] = '\0';
	snprintf(sock, sizeof(sock), "%s/stats.sock", dir);
	if (!TAP_OK(dir[0] != '\0' && epcore_stats_enable(core, sock) == 0,
	            "stats socket at %s", sock) ||
	    !TAP_OK(fu_srv_start(&srv, core) == 0 &&
	            fu_load_start(&load, srv.port, NLOAD, 120000, 4242,
	                          32 << 20) == 0,
	            "echo server and load on %d connections (32 MiB/s)",
	            NLOAD)) {
		epcore_free(core);
		return;
	}
	check_traffic(&load, 0, "start");
	check_good("start");

	v = atomic_load(&load.verified);
	other_uid(dir);
	check_traffic(&load, v, "other uid");

	junk = malloc(MIB);
	v = atomic_load(&load.verified);
	fu_fill(junk, MIB, 1, 0);
	garbage(junk, MIB, "1 MiB of binary garbage", "ERR 400 ",
	        "ERR 413 ");
	memset(junk, 'x', MIB);
	garbage(junk, MIB, "1 MiB of text without a newline", "ERR 413 ",
	        NULL);
	free(junk);
	flood_unread();
	check_traffic(&load, v, "garbage");
	check_good("after garbage");

	idle_clients(&load);
	check_good("after idle clients");

	v = atomic_load(&load.verified);
	tight_loop();
	check_traffic(&load, v, "tight loop");
	check_good("after the tight loop");

	open = fu_load_stop(&load);
	TAP_IS(open, NLOAD, "every echo connection lived through it all");
	TAP_IS(atomic_load(&load.mismatched), 0, "no echoed byte was wrong");
	tap_diag("echo: %lld bytes sent, %lld verified",
	         (long long)atomic_load(&load.sent),
	         (long long)atomic_load(&load.verified));
	TAP_IS(epcore_free(core), 0, "epcore_free");
	TAP_OK(access(sock, F_OK) != 0, "the stats socket is gone");
	rmdir(dir);
	TAP_IS(fu_nfds(), fds0, "no fd left");
}

int main(void)
{
	const char *b = getenv("EPUMP_BACKEND");

	if (b == NULL || *b == '\0')
		setenv("EPUMP_BACKEND", "epoll", 1);
	fu_watchdog(300);
	return tap_backends(abuse);
}
