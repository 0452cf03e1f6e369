/*
 * t_stall.c - a handler that blocks for 2 s.  Connections whose handlers
 * run on other threads must keep being served meanwhile (echo round
 * trips, every byte verified), and tools/epstat, reading the stats
 * socket, must name the blocked thread, the device its handler is for and
 * how long it has been there (epstat(1): "thread worker/N (tid T) stuck
 * in handler dev=ID for S s").  Two shapes, on every backend: 1 epump and
 * 2 workers (the handler blocks a worker), 2 epumps and no worker (it
 * blocks an epump thread).  EPSTAT names another epstat; without one
 * those checks are skipped.
 */
#include <sys/wait.h>

#include <limits.h>
#include <stdio.h>

#include "faultutil.h"

#define NCONN    8
#define STALL_MS 2000

struct stall {
	atomic_uint_least64_t id[NCONN];    /* server device per client */
	atomic_int thread[NCONN];   /* its thread: worker n, epump 100+n */
	atomic_uint_least64_t victim;       /* the blocked device */
	atomic_int sleeping;
	atomic_int released;        /* the test is done: return once 2 s passed */
	int workers;
};

static int thread_of(const struct stall *st, iodev_t *dev)
{
	return st->workers > 0 ? iodev_worker(dev) : 100 + iodev_epump(dev);
}

static void thread_name(const struct stall *st, int t, char *buf, size_t len)
{
	(void)st;
	if (t >= 100)
		snprintf(buf, len, "epump/%d", t - 100);
	else
		snprintf(buf, len, "worker/%d", t);
}

/* "#hello N\n" says which client this is; "#stall\n" blocks the handler
 * (the round trips' bytes are pseudo-random: 7 bytes cannot match). */
static void hook(struct fu_srv *s, iodev_t *dev, const char *buf, size_t n)
{
	struct stall *st = s->arg;

	if (n > 7 && memcmp(buf, "#hello ", 7) == 0) {
		int i = atoi(buf + 7);

		if (i >= 0 && i < NCONN) {
			atomic_store(&st->thread[i], thread_of(st, dev));
			atomic_store(&st->id[i], iodev_id(dev));
		}
	} else if (n >= 7 && memcmp(buf, "#stall\n", 7) == 0) {
		uint64_t t0 = tu_now_ms();

		atomic_store(&st->victim, iodev_id(dev));
		atomic_store(&st->sleeping, 1);
		/* 2 s, longer while the test still looks (15 s at most) */
		while (tu_now_ms() - t0 < 15000 &&
		       (tu_now_ms() - t0 < STALL_MS ||
		        !atomic_load(&st->released)))
			tu_sleep_ms(10);
		atomic_store(&st->sleeping, 0);
	}
}

static const char *epstat_path(void)
{
	static char path[PATH_MAX];
	const char *e = getenv("EPSTAT"), *b = getenv("top_builddir");

	if (e != NULL && *e != '\0')
		return access(e, X_OK) == 0 ? e : NULL;
	snprintf(path, sizeof(path), "%s/tools/epstat",
	         b != NULL && *b != '\0' ? b : ".");
	return access(path, X_OK) == 0 ? path : NULL;
}

/* Runs epstat ARGS; its output (NUL-terminated, truncated to len) and
 * exit status. */
static int run_epstat(const char *args, char *out, size_t len)
{
	char cmd[PATH_MAX * 2 + 64];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "timeout 10 '%s' %s 2>&1", epstat_path(),
	         args);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (n + 1 < len) {
		size_t r = fread(out + n, 1, len - n - 1, p);

		if (r == 0)
			break;
		n += r;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Counts epstat's "stuck in handler" lines; fills in the first. */
static int stuck_lines(const char *out, char *thr, size_t thrlen,
                       unsigned long long *dev, double *secs)
{
	const char *p = out;
	int n = 0;

	while ((p = strstr(p, "thread ")) != NULL) {
		char t[32];
		unsigned long long d;
		double s;
		int tid;

		if (sscanf(p, "thread %31s (tid %d) stuck in handler dev=%llu "
		           "for %lf s", t, &tid, &d, &s) == 4) {
			if (n++ == 0) {
				snprintf(thr, thrlen, "%s", t);
				*dev = d;
				*secs = s;
			}
		}
		p += 7;
	}
	return n;
}

static void stall(int epumps, int workers)
{
	struct stall st;
	struct fu_srv srv;
	epcore_t *core;
	char dir[] = "/tmp/epump-faults.XXXXXX", sock[64], args[128];
	char vname[32];
	static char out[65536];
	int fd[NCONN], i, vt = -1, others = 0, rounds = 0, bad = 0, fds0;
	long long verified = 0;
	uint64_t t0, end, off = 0;
	const char *epstat = epstat_path();

	memset(&st, 0, sizeof(st));
	memset(&srv, 0, sizeof(srv));
	st.workers = workers;
	srv.hook = hook;
	srv.arg = &st;
	srv.bind = BIND_ONE_EPUMP; /* spread over the epumps */
	for (i = 0; i < NCONN; i++)
		fd[i] = -1;
	fds0 = fu_nfds();
	core = epcore_new(0);
	epcore_start_epump(core, epumps);
	epcore_start_worker(core, workers);
	if (mkdtemp(dir) == NULL)
		dir[0] = '\0';
	snprintf(sock, sizeof(sock), "%s/stats.sock", dir);
	TAP_OK(dir[0] != '\0' && epcore_stats_enable(core, sock) == 0,
	       "%d epumps, %d workers: stats socket at %s", epumps, workers,
	       sock);
	if (!TAP_OK(fu_srv_start(&srv, core) == 0, "echo server listening"))
		goto out;

	for (i = 0; i < NCONN; i++) {
		char hello[16], back[16];
		int len = snprintf(hello, sizeof(hello), "#hello %d\n", i);

		fd[i] = fu_connect(srv.port);
		if (fd[i] < 0 || !fu_send_all(fd[i], hello, (size_t)len, 5000) ||
		    fu_recv_all(fd[i], back, (size_t)len, 5000) != (size_t)len)
			bad++;
	}
	TAP_IS(bad, 0, "8 clients connected and echoed");
	vt = atomic_load(&st.thread[0]);
	thread_name(&st, vt, vname, sizeof(vname));
	for (i = 1; i < NCONN; i++)
		others += atomic_load(&st.thread[i]) != vt;
	if (!TAP_OK(others > 0, "%d of the other clients are on another "
	            "thread than client 0 (%s)", others, vname))
		goto out;

	/* Client 0's handler blocks. */
	t0 = tu_now_ms();
	if (!fu_send_all(fd[0], "#stall\n", 7, 5000))
		bad++;
	while (!atomic_load(&st.sleeping) && tu_now_ms() < t0 + 5000)
		tu_sleep_ms(1);
	if (!TAP_OK(atomic_load(&st.sleeping), "client 0's handler blocks"))
		goto out;

	/* Meanwhile, round trips on the other threads' connections. */
	end = tu_now_ms() + 800;
	while (tu_now_ms() < end) {
		for (i = 1; i < NCONN; i++) {
			if (atomic_load(&st.thread[i]) == vt)
				continue;
			if (fu_roundtrip(fd[i], 512, (uint32_t)i, off, 3000)) {
				verified += 512;
				rounds++;
			} else {
				bad++;
			}
		}
		off += 512;
	}
	TAP_OK(rounds > 0 && bad == 0 && atomic_load(&st.sleeping),
	       "%d round trips (%lld bytes verified) on other threads while "
	       "the handler blocked, %d failed", rounds, verified, bad);

	if (epstat == NULL) {
		TAP_OK(1, "epstat names the blocked thread # SKIP no "
		       "tools/epstat (set EPSTAT or top_builddir)");
	} else {
		char thr[32] = "";
		unsigned long long dev = 0;
		double secs = 0;
		int n, rc;

		snprintf(args, sizeof(args), "--stall-ms 300 -s '%s'", sock);
		rc = run_epstat(args, out, sizeof(out));
		n = stuck_lines(out, thr, sizeof(thr), &dev, &secs);
		if (!TAP_OK(rc == 0 && n == 1, "epstat: exactly one stuck thread "
		            "(status %d, %d stuck)", rc, n))
			tap_diag("%s", out);
		TAP_OK(strcmp(thr, vname) == 0, "epstat names %s (%s)", vname,
		       thr);
		TAP_IS(dev, atomic_load(&st.victim), "epstat names the blocked "
		       "handler's device");
		TAP_OK(secs >= 0.3 && secs < 15, "epstat: in the handler for "
		       "%.1f s", secs);
		snprintf(args, sizeof(args), "--stall-ms 300 -s '%s' threads",
		         sock);
		rc = run_epstat(args, out, sizeof(out));
		{
			char *l = strstr(out, vname), *nl;

			if (l != NULL && (nl = strchr(l, '\n')) != NULL)
				*nl = '\0';
			snprintf(args, sizeof(args), "handler dev=%llu",
			         (unsigned long long)atomic_load(&st.victim));
			TAP_OK(rc == 0 && l != NULL && strstr(l, args) != NULL &&
			       strstr(l, "STALLED") != NULL,
			       "epstat threads: %s", l != NULL ? l : out);
		}
	}
	TAP_OK(atomic_load(&st.sleeping), "all that while the handler blocked");

	/* Let it go: client 0 gets its echo, epstat sees nothing stuck. */
	atomic_store(&st.released, 1);
	{
		char back[7];
		int ok = fu_recv_all(fd[0], back, 7, 20000) == 7 &&
		         memcmp(back, "#stall\n", 7) == 0;

		TAP_OK(ok, "the blocked client is answered when its handler "
		       "returns, after %llu ms",
		       (unsigned long long)(tu_now_ms() - t0));
	}
	TAP_OK(fu_roundtrip(fd[0], 512, 99, 0, 5000) &&
	       fu_roundtrip(fd[1], 512, 1, off, 5000),
	       "every client is served again");
	if (epstat != NULL) {
		char thr[32];
		unsigned long long dev;
		double secs;
		int rc;

		snprintf(args, sizeof(args), "--stall-ms 300 -s '%s'", sock);
		rc = run_epstat(args, out, sizeof(out));
		TAP_OK(rc == 0 && stuck_lines(out, thr, sizeof(thr), &dev,
		                              &secs) == 0,
		       "then epstat shows no stuck thread");
	}
out:
	atomic_store(&st.released, 1);
	for (i = 0; i < NCONN; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	TAP_IS(epcore_free(core), 0, "epcore_free");
	TAP_OK(access(sock, F_OK) != 0, "the stats socket is gone");
	if (dir[0] != '\0')
		rmdir(dir);
	TAP_IS(fu_nfds(), fds0, "no fd left");
}

static void all(void)
{
	stall(1, 2);
	stall(2, 0);
}

int main(void)
{
	fu_watchdog(300);
	return tap_backends(all);
}
