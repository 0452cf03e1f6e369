/*
 * t_stats.c - the statistics socket (epump-stats(7)) from a client's side:
 * greeting, replies framed by an empty line, thread states including a
 * stuck handler, errors for bad commands, long lines, garbage, idle and
 * surplus clients; modes of the directory and socket; removal at free.
 * And what the loop counts show: an epump whose workers are all busy
 * does not poll for every packet.  The server keeps an fd table of its
 * own: an fd the program closes is closed, and show fds still reads a
 * device's addresses.
 */
#include <epump.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static char dir[64];

static int st_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads until `until` appears (or EOF / ms pass) into buf; returns len. */
static size_t st_read(int fd, char *buf, size_t cap, const char *until,
                      unsigned ms)
{
	uint64_t end = tu_now_ms() + ms;
	size_t len = 0;

	buf[0] = '\0';
	while (len + 1 < cap) {
		struct pollfd p = { fd, POLLIN, 0 };
		uint64_t now = tu_now_ms();
		ssize_t n;

		if (until != NULL && strstr(buf, until) != NULL)
			break;
		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			break;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return len;
}

static void st_send(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		tap_diag("write: %s", strerror(errno));
}

/* Is every line of a reply (up to its empty line) NAME\tTYPE\tLABELS\tV? */
static int well_formed(const char *reply)
{
	const char *p = reply;

	while (*p != '\0' && *p != '\n') {
		const char *nl = strchr(p, '\n');
		int tabs = 0;
		const char *q;

		if (nl == NULL)
			return 0;
		for (q = p; q < nl; q++)
			tabs += *q == '\t';
		if (tabs != 3 || strncmp(p, "epump_", 6) != 0)
			return 0;
		p = nl + 1;
	}
	return *p == '\n';
}

static int blocker(void *cbpara, void *para, int event, int fdtype)
{
	atomic_int *release = cbpara;
	uint64_t end = tu_now_ms() + 5000;

	while (!atomic_load(release) && tu_now_ms() < end)
		tu_sleep_ms(5);
	return 0;
}

static void protocol(void)
{
	epcore_t *core = epcore_new(0);
	char path[128], buf[65536];
	atomic_int release = 0;
	int fd, fds[17], i, refused = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/t.sock", dir);
	epcore_start_epump(core, 2);
	epcore_start_worker(core, 1);
	TAP_OK(epcore_stats_enable(core, path) == 0, "stats socket at %s",
	       path);
	TAP_OK(epcore_stats_enable(core, path) == -1 && errno == EALREADY,
	       "enabling twice: EALREADY");
	TAP_OK(strcmp(epcore_stats_path(core), path) == 0,
	       "epcore_stats_path says where");
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	       "the socket is mode 0600");

	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	TAP_OK(strncmp(buf, "EPUMP-STATS/1 pid=", 18) == 0 &&
	       strstr(buf, " version=1.0.0\n") != NULL, "greeting: %.*s",
	       (int)strcspn(buf, "\n"), buf);

	st_send(fd, "show info\n");
	st_read(fd, buf, sizeof(buf), "\n\n", 2000);
	TAP_OK(well_formed(buf), "show info: typed lines ended by an empty "
	       "line");
	TAP_OK(strstr(buf, "epump_threads\tgauge\tkind=epump\t2\n") != NULL &&
	       strstr(buf, "epump_threads\tgauge\tkind=worker\t1\n") != NULL,
	       "it counts 2 epumps and 1 worker");

	/* Every thread stuck in a handler: the socket still answers. */
	epcore_post(core, EPT_EPUMP, 0, IOE_USER_DEFINED + 1, NULL, blocker,
	            &release);
	epcore_post(core, EPT_EPUMP, 1, IOE_USER_DEFINED + 2, NULL, blocker,
	            &release);
	epcore_post(core, EPT_WORKER, 0, IOE_USER_DEFINED + 3, NULL, blocker,
	            &release);
	tu_sleep_ms(300);
	st_send(fd, "show threads\n");
	st_read(fd, buf, sizeof(buf), "\n\n", 2000);
	TAP_OK(well_formed(buf), "show threads answers while every thread "
	       "is stuck");
	TAP_OK(strstr(buf, "epump_thread_state\tinfo\tthread=epump/0,"
	              "user=10001\thandler") != NULL &&
	       strstr(buf, "epump_thread_state\tinfo\tthread=worker/0,"
	              "user=10003\thandler") != NULL,
	       "and names what each is stuck in");
	{
		const char *p = strstr(buf, "epump_thread_state_seconds\tgauge\t"
		                        "thread=worker/0\t");
		double secs = p ? atof(p + strlen("epump_thread_state_seconds"
		                                   "\tgauge\tthread=worker/0\t"))
		                : -1;

		TAP_OK(secs >= 0.2 && secs < 10, "for how long (%.3f s)", secs);
		/* An epump's first handler after a wait is stamped with the
		 * time the wait ended. */
		p = strstr(buf, "epump_thread_state_seconds\tgauge\t"
		                "thread=epump/0\t");
		secs = p ? atof(p + strlen("epump_thread_state_seconds"
		                           "\tgauge\tthread=epump/0\t"))
		         : -1;
		TAP_OK(secs >= 0.2 && secs < 10, "an epump's too (%.3f s)",
		       secs);
	}
	atomic_store(&release, 1);

	st_send(fd, "show queues\nshow timers\nshow fds\n");
	st_read(fd, buf, sizeof(buf), "epump_timers_pending", 2000);
	TAP_OK(strstr(buf, "epump_queue_depth\tgauge\tthread=worker/0\t") !=
	       NULL, "show queues");
	st_send(fd, "bogus command\n");
	st_read(fd, buf, sizeof(buf), "ERR", 2000);
	TAP_OK(strstr(buf, "ERR 400 ") != NULL, "unknown command: ERR 400");
	st_send(fd, "help\n");
	st_read(fd, buf, sizeof(buf), "quit\n\n", 2000);
	TAP_OK(strstr(buf, "help\tinfo\t-\tshow all\n") != NULL, "help");
	st_send(fd, "quit\n");
	TAP_OK(st_read(fd, buf, sizeof(buf), NULL, 2000) == 0,
	       "quit: the server closes");
	close(fd);

	/* A line over 1 KiB: ERR 413 and a close. */
	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	memset(buf, 'x', 2048);
	if (write(fd, buf, 2048) < 0)
		tap_diag("write");
	st_read(fd, buf, sizeof(buf), NULL, 2000);
	TAP_OK(strstr(buf, "ERR 413 ") != NULL, "a 2 KiB line: ERR 413, "
	       "closed");
	close(fd);

	/* Binary garbage: ERR 400 and a close. */
	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	if (write(fd, "\x01\x02\xff\xfe garbage\n", 13) < 0)
		tap_diag("write");
	st_read(fd, buf, sizeof(buf), NULL, 2000);
	TAP_OK(strstr(buf, "ERR 400 ") != NULL, "garbage: ERR 400, closed");
	close(fd);

	/* 17 clients at once: the 17th is refused. */
	for (i = 0; i < 17; i++) {
		fds[i] = st_connect(path);
		st_read(fds[i], buf, sizeof(buf), "\n", 2000);
		if (strstr(buf, "ERR 503 ") != NULL)
			refused++;
	}
	TAP_IS(refused, 1, "17 clients at once: one gets ERR 503");
	for (i = 0; i < 17; i++)
		close(fds[i]);

	/* Still serving afterwards. */
	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	TAP_OK(strncmp(buf, "EPUMP-STATS/1", 13) == 0, "and it keeps serving");
	close(fd);

	TAP_OK(epcore_free(core) == 0, "epcore_free");
	TAP_OK(access(path, F_OK) == -1 && errno == ENOENT,
	       "epcore_free removed the socket");
}

/* A client that sends nothing for 5 s: ERR 408 and a close. */
static void idle_client(void)
{
	epcore_t *core = epcore_new(0);
	char path[128], buf[4096];
	uint64_t t0;
	int fd;

	snprintf(path, sizeof(path), "%s/idle.sock", dir);
	epcore_stats_enable(core, path);
	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	t0 = tu_now_ms();
	st_read(fd, buf, sizeof(buf), NULL, 8000);
	TAP_OK(strstr(buf, "ERR 408 ") != NULL && tu_now_ms() - t0 >= 4500,
	       "idle for 5 s: ERR 408, closed (%llu ms)",
	       (unsigned long long)(tu_now_ms() - t0));
	close(fd);
	epcore_free(core);
}

static int nop(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara;
	(void)obj;
	(void)event;
	(void)fdtype;
	return 0;
}

/*
 * The threads whose fd table does not hold fd (open in the process's):
 * how many, and whether each has /dev/null as fds 0, 1 and 2.
 */
static int own_tables(int fd, bool *stdio_null)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	struct stat st;
	char p[320], l[64];
	int found = 0, k;

	*stdio_null = true;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/self/task/%s/fd/%d", e->d_name,
		         fd);
		if (lstat(p, &st) == 0)
			continue; /* the process's table */
		found++;
		for (k = 0; k < 3; k++) {
			ssize_t n;

			snprintf(p, sizeof(p), "/proc/self/task/%s/fd/%d",
			         e->d_name, k);
			n = readlink(p, l, sizeof(l) - 1);
			l[n > 0 ? n : 0] = '\0';
			if (strcmp(l, "/dev/null") != 0)
				*stdio_null = false;
		}
	}
	if (d != NULL)
		closedir(d);
	return found;
}

/*
 * The server thread moves to an fd table of its own (so that the
 * program's system calls do not pay for a shared one).  What the program
 * relies on: an fd it opened before the server started and then closes
 * is closed (the peer reads end of file), and show fds still gives a
 * device's local and remote address.  And the server's fds 0, 1 and 2
 * are /dev/null, so a client's socket never takes stderr's number there.
 */
static void fd_table(void)
{
	epcore_t *core = epcore_new(0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char path[128], buf[65536], want[160], c;
	int sv[2], lfd, cfd, afd, fd, lport, cport;
	iodev_t *dev;

	snprintf(path, sizeof(path), "%s/fdt.sock", dir);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    lfd < 0 || cfd < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) < 0 ||
	    connect(cfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (afd = accept(lfd, NULL, NULL)) < 0) {
		TAP_OK(0, "fd_table: sockets: %s", strerror(errno));
		epcore_free(core);
		return;
	}
	lport = ntohs(sin.sin_port);
	sl = sizeof(sin);
	getsockname(cfd, (struct sockaddr *)&sin, &sl);
	cport = ntohs(sin.sin_port);
	dev = iodev_new(core, afd, FDT_ACCEPTED, NULL, nop, NULL);
	TAP_OK(dev != NULL && epcore_stats_enable(core, path) == 0,
	       "a device, then the stats socket");

	fd = st_connect(path);
	st_read(fd, buf, sizeof(buf), "\n", 2000); /* the server runs */
	st_send(fd, "show fds\n");
	st_read(fd, buf, sizeof(buf), "\n\n", 2000);
	snprintf(want, sizeof(want), "fd=%d type=accepted "
	         "local=127.0.0.1:%d remote=127.0.0.1:%d ", afd, lport, cport);
	TAP_OK(strstr(buf, want) != NULL, "show fds: %s", want);
	{
		bool null3;
		int n = own_tables(afd, &null3);

		if (n == 0)
			TAP_OK(1, "the server's own fd table # SKIP it shares "
			       "the process's (a TSan build, valgrind, or a "
			       "kernel that refuses)");
		else
			TAP_OK(n == 1 && null3, "the server's own fd table "
			       "has /dev/null as 0, 1 and 2, not a client's "
			       "socket (%d such thread)", n);
	}

	close(sv[0]);
	TAP_OK(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0 &&
	       read(sv[1], &c, 1) == 0,
	       "an fd opened before the server and closed since is closed "
	       "(its peer reads end of file)");
	close(sv[1]);
	close(fd);
	close(cfd);
	close(lfd);
	epcore_free(core);
}

/* The default directory must be ours and closed to others. */
static void directory(void)
{
	char xdg[128], sock[160];
	epcore_t *core;
	struct stat st;

	snprintf(xdg, sizeof(xdg), "%s/xdg", dir);
	mkdir(xdg, 0700);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	core = epcore_new(0);
	TAP_OK(epcore_stats_enable(core, NULL) == 0,
	       "default path under $XDG_RUNTIME_DIR");
	snprintf(sock, sizeof(sock), "%s/epump", xdg);
	TAP_OK(stat(sock, &st) == 0 && (st.st_mode & 0777) == 0700,
	       "its directory %s is mode 0700", sock);
	TAP_OK(strncmp(epcore_stats_path(core), sock, strlen(sock)) == 0 &&
	       strstr(epcore_stats_path(core), ".sock") != NULL,
	       "named PROG.PID.sock: %s", epcore_stats_path(core));
	epcore_free(core);
	chmod(sock, 0755);
	core = epcore_new(0);
	TAP_OK(epcore_stats_enable(core, NULL) == -1 && errno == EPERM,
	       "a directory open to others is refused: EPERM");
	epcore_free(core);
	rmdir(sock);
	rmdir(xdg);
	unsetenv("XDG_RUNTIME_DIR");
}

/* ---- busy workers: the epump waits for one instead of polling ---- */

#define BW_PAIRS 40

static atomic_long bw_reads;
static atomic_int bw_in, bw_release;

static int bw_handler(void *cbpara, void *obj, int event, int fdtype)
{
	char buf[64];

	if (event != IOE_READ)
		return 0;
	while (iodev_recv(obj, buf, sizeof(buf)) > 0)
		;
	if (cbpara != NULL) { /* the first device holds the only worker */
		atomic_store(&bw_in, 1);
		blocker(&bw_release, NULL, 0, 0);
	}
	atomic_fetch_add(&bw_reads, 1);
	return 0;
}

/* A figure of epump/0 from "show threads" (key: "NAME\tTYPE\t"), or 0 if
 * it is not there. */
static unsigned long long epump0_figure(const char *path, const char *name)
{
	char buf[16384], key[128];
	const char *p;
	int fd = st_connect(path);

	snprintf(key, sizeof(key), "%sthread=epump/0\t", name);

	if (fd < 0)
		return 0;
	st_read(fd, buf, sizeof(buf), "\n", 2000);
	st_send(fd, "show threads\n");
	st_read(fd, buf, sizeof(buf), "\n\n", 2000);
	close(fd);
	p = strstr(buf, key);
	return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* ---- devices per epump, as show threads counts them ---- */

#define DC_OWN 10
#define DC_OTHER 5

static epcore_t *dc_core;
static int dc_fds[DC_OWN + DC_OTHER][2];
static atomic_int dc_bound, dc_done;

/* On epump 0: DC_OWN devices bound to epump 0 itself (the path that takes
 * no lock and counts apart), the first 3 closed again. */
static int dc_bind_own(void *cbpara, void *para, int event, int fdtype)
{
	iodev_t *d[DC_OWN];
	int i;

	for (i = 0; i < DC_OWN; i++) {
		d[i] = iodev_new(dc_core, dc_fds[i][0], FDT_USOCK_CONNECTED,
		                 NULL, nop, NULL);
		if (d[i] != NULL &&
		    iodev_bind_epump(d[i], BIND_GIVEN_EPUMP, 0) == 0)
			atomic_fetch_add(&dc_bound, 1);
	}
	for (i = 0; i < 3; i++)
		iodev_close(d[i]);
	atomic_store(&dc_done, 1);
	return 0;
}

/* epump/0's device count once it is want, or what it is after 5 s (a
 * close from another thread finishes on the epump). */
static long long dc_count(const char *path, long long want)
{
	static const char key[] = "epump_thread_devices\tgauge\t";
	long long n = -1;
	int i;

	for (i = 0; i < 500; i++) {
		n = (long long)epump0_figure(path, key);
		if (n == want)
			break;
		tu_sleep_ms(10);
	}
	return n;
}

static void device_counts(void)
{
	iodev_t *other[DC_OTHER];
	char path[128];
	int i, ok = 1;

	dc_core = epcore_new(0);
	atomic_store(&dc_bound, 0);
	atomic_store(&dc_done, 0);
	snprintf(path, sizeof(path), "%s/dc.sock", dir);
	for (i = 0; i < DC_OWN + DC_OTHER; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		               dc_fds[i]) < 0)
			ok = 0;
	epcore_start_epump(dc_core, 1);
	TAP_OK(ok && epcore_stats_enable(dc_core, path) == 0,
	       "device counts: stats on, one epump");
	for (i = 0; i < DC_OTHER; i++) {
		other[i] = iodev_new(dc_core, dc_fds[DC_OWN + i][0],
		                     FDT_USOCK_CONNECTED, NULL, nop, NULL);
		if (other[i] == NULL ||
		    iodev_bind_epump(other[i], BIND_GIVEN_EPUMP, 0) < 0)
			ok = 0;
	}
	epcore_post(dc_core, EPT_EPUMP, 0, IOE_USER_DEFINED + 1, NULL,
	            dc_bind_own, NULL);
	for (i = 0; i < 500 && !atomic_load(&dc_done); i++)
		tu_sleep_ms(10);
	TAP_OK(ok && atomic_load(&dc_bound) == DC_OWN,
	       "%d bound from the main thread, %d by epump 0 itself, 3 of "
	       "those closed", DC_OTHER, DC_OWN);
	TAP_IS(dc_count(path, DC_OWN + DC_OTHER - 3), DC_OWN + DC_OTHER - 3,
	       "show threads counts the devices epump 0 holds");
	for (i = 0; i < DC_OTHER; i++)
		iodev_close(other[i]);
	TAP_IS(dc_count(path, DC_OWN - 3), DC_OWN - 3,
	       "and counts those closed from another thread off");
	epcore_free(dc_core); /* closes the rest */
	for (i = 0; i < DC_OWN + DC_OTHER; i++)
		close(dc_fds[i][1]);
}

/*
 * One worker, held by a handler; packets arrive on 40 other devices, 2 ms
 * apart.  The epump must not wake for each of them (it would only queue
 * them behind the busy worker): it waits for the worker, then takes them
 * all in one poll.  None may be lost.
 */
static void busy_workers(void)
{
	epcore_t *core = epcore_new(0);
	char path[128];
	int sv[BW_PAIRS + 1][2], i, ok = 1;
	unsigned long long l0, l1;

	atomic_store(&bw_reads, 0);
	atomic_store(&bw_in, 0);
	atomic_store(&bw_release, 0);
	snprintf(path, sizeof(path), "%s/bw.sock", dir);
	epcore_start_worker(core, 1);
	epcore_start_epump(core, 1);
	TAP_OK(epcore_stats_enable(core, path) == 0, "busy workers: stats on");
	for (i = 0; i <= BW_PAIRS; i++) {
		iodev_t *dev;

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) < 0) {
			ok = 0;
			break;
		}
		dev = iodev_new(core, sv[i][0], FDT_USOCK_CONNECTED, NULL,
		                bw_handler, i == 0 ? &bw_in : NULL);
		if (dev == NULL || iodev_bind_epump(dev, BIND_ONE_EPUMP, 0) < 0)
			ok = 0;
	}
	TAP_OK(ok, "%d devices on one epump, one worker", BW_PAIRS + 1);
	if (write(sv[0][1], "x", 1) != 1)
		tap_diag("write: %s", strerror(errno));
	for (i = 0; i < 200 && !atomic_load(&bw_in); i++)
		tu_sleep_ms(5);
	TAP_OK(atomic_load(&bw_in), "a handler holds the worker");
	tu_sleep_ms(20);
	l0 = epump0_figure(path, "epump_thread_loops_total\tcounter\t");
	for (i = 1; i <= BW_PAIRS; i++) {
		if (write(sv[i][1], "x", 1) != 1)
			tap_diag("write: %s", strerror(errno));
		tu_sleep_ms(2);
	}
	tu_sleep_ms(20);
	l1 = epump0_figure(path, "epump_thread_loops_total\tcounter\t");
	TAP_OK(l0 > 0 && l1 - l0 <= 5, "worker busy: %d packets woke the "
	       "epump %llu times, not once each", BW_PAIRS, l1 - l0);
	TAP_IS(atomic_load(&bw_reads), 0, "nothing ran meanwhile");
	atomic_store(&bw_release, 1);
	TAP_OK(tu_wait_ge(&bw_reads, BW_PAIRS + 1, 5000), "worker free: all "
	       "%d READ events arrive", BW_PAIRS + 1);
	/* Idle again: the next packet is polled and handled at once. */
	if (write(sv[1][1], "y", 1) != 1)
		tap_diag("write: %s", strerror(errno));
	TAP_OK(tu_wait_ge(&bw_reads, BW_PAIRS + 2, 2000),
	       "worker idle: a new packet is handled");
	epcore_free(core); /* closes the read ends */
	for (i = 0; i <= BW_PAIRS; i++)
		close(sv[i][1]);
}

static void all(void)
{
	static int once;

	protocol();
	busy_workers();
	device_counts();
	if (!once++) {
		/* Backend-free cases: once. */
		idle_client();
		directory();
		fd_table();
	}
}

int main(void)
{
	int r;

	strcpy(dir, "/tmp/t_stats.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	r = tap_backends(all);
	rmdir(dir);
	return r;
}
