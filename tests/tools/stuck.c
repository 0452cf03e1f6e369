/*
 * stuck.c - a libepump test server whose threads can all be made stuck,
 * for tests/epstat.bats.  It serves the stats socket (epcore_stats_enable,
 * or EPUMP_STATS=1 in its environment), listens on 127.0.0.1 (a device
 * for `epstat PID fds') and keeps a timer pending (for `timers').  On
 * SIGUSR1 it posts to every epump and worker thread a user event whose
 * handler blocks -- it sleeps up to -s seconds, or until SIGTERM -- so
 * that every thread of the core is stuck and only the stats thread runs.
 *
 *   stuck [-t EPUMP_THREADS] [-w WORKERS] [-s SECONDS]
 *
 * Prints "stuck: ready PID" once the socket is up, "stuck: blocked N"
 * when all N threads are in the blocking handler.  SIGTERM or SIGINT
 * stops it (status 0).  The signals are taken by the main thread with
 * sigwait(): epcore_post() may not be called from a signal handler.
 */
#include <epump.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define PROG     "stuck"
#define EV_BLOCK (IOE_USER_DEFINED + 1)

static atomic_int quit;         /* set on SIGTERM: blocked handlers return */
static atomic_int blocked;      /* handlers blocking now */
static int nthreads;            /* epump + worker threads */
static int block_secs = 30;

/* The stuck handler: sleeps in short steps so SIGTERM ends it quickly. */
static int on_block(void *cbpara, void *obj, int event, int fdtype)
{
	struct timespec step = { 0, 10 * 1000 * 1000 };
	long i, steps = block_secs * 100L;

	if (atomic_fetch_add(&blocked, 1) + 1 == nthreads) {
		printf(PROG ": blocked %d\n", nthreads);
		fflush(stdout);
	}
	for (i = 0; i < steps && !atomic_load(&quit); i++)
		nanosleep(&step, NULL);
	atomic_fetch_sub(&blocked, 1);
	return 0;
}

static int on_accept(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev;

	if (event != IOE_ACCEPT)
		return 0;
	/* nobody connects in the tests; close whatever comes */
	while ((dev = eptcp_accept(iodev_core(obj), obj, NULL, on_accept,
	    NULL, BIND_CURRENT_EPUMP, 0)) != NULL)
		iodev_close(dev);
	return 0;
}

static int on_timer(void *cbpara, void *obj, int event, int fdtype)
{
	return 0;
}

static void block_all(epcore_t *core)
{
	int i, n;

	n = epcore_epump_count(core);
	for (i = 0; i < n; i++)
		if (epcore_post(core, EPT_EPUMP, i, EV_BLOCK, NULL, on_block,
		    NULL) == -1)
			fprintf(stderr, PROG ": epcore_post epump %d: %s\n", i,
			    strerror(errno));
	n = epcore_worker_count(core);
	for (i = 0; i < n; i++)
		if (epcore_post(core, EPT_WORKER, i, EV_BLOCK, NULL, on_block,
		    NULL) == -1)
			fprintf(stderr, PROG ": epcore_post worker %d: %s\n", i,
			    strerror(errno));
}

static int number(const char *s, int min, int max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, PROG ": bad %s '%s' (%d..%d)\n", what, s, min,
		    max);
		exit(EX_USAGE);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	epcore_t *core;
	sigset_t set;
	int c, sig, nepump = 2, nworker = 2;

	while ((c = getopt(argc, argv, "t:w:s:h")) != -1) {
		switch (c) {
		case 't':
			nepump = number(optarg, 1, 64, "epump thread count");
			break;
		case 'w':
			nworker = number(optarg, 0, 64, "worker count");
			break;
		case 's':
			block_secs = number(optarg, 1, 3600, "seconds");
			break;
		case 'h':
			printf("usage: " PROG " [-t EPUMP_THREADS] [-w WORKERS] "
			    "[-s SECONDS]\n");
			return EX_OK;
		default:
			return EX_USAGE;
		}
	}

	/* Every thread the core starts inherits this mask: the signals
	 * come to sigwait() below only. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	core = epcore_new(0);
	if (core == NULL) {
		fprintf(stderr, PROG ": epcore_new: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (epcore_stats_enable(core, NULL) == -1 && errno != EALREADY) {
		fprintf(stderr, PROG ": epcore_stats_enable: %s\n",
		    strerror(errno));
		epcore_free(core);
		return EX_UNAVAILABLE;
	}
	if (epcore_start_epump(core, nepump) != nepump ||
	    (nworker > 0 && epcore_start_worker(core, nworker) != nworker)) {
		fprintf(stderr, PROG ": starting threads: %s\n",
		    strerror(errno));
		epcore_free(core);
		return EX_OSERR;
	}
	nthreads = nepump + nworker;
	if (eptcp_listen(core, "127.0.0.1", 0, NULL, on_accept, NULL,
	    BIND_ONE_EPUMP, 0) == NULL)
		fprintf(stderr, PROG ": eptcp_listen: %s\n", strerror(errno));
	if (iotimer_start(core, 3600 * 1000, 1, NULL, on_timer, NULL) == 0)
		fprintf(stderr, PROG ": iotimer_start: %s\n", strerror(errno));

	printf(PROG ": ready %ld\n", (long)getpid());
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig != SIGUSR1)
			break;
		block_all(core);
	}
	atomic_store(&quit, 1);
	epcore_stop(core);
	epcore_free(core);
	return EX_OK;
}
