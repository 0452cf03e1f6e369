/*
 * epdemo.c - a tour of libepump's core: timers, user events and a device,
 * on two epump threads and two workers, with the main thread joining in as
 * a third epump until a timer stops the core.
 *
 *   cc epdemo.c $(pkg-config --cflags --libs libepump)
 */
#include <epump.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CMD_TICK 1
#define CMD_STOP 2
#define CMD_NEVER 3
#define EV_HELLO (IOE_USER_DEFINED + 1)

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec t0;
static epcore_t *core;
static int ticks;
static char s_main[] = "main", s_hello[] = "hello", s_hi[] = "hi";
static char s_onep[] = "on an epump", s_up[] = "400 ms are up";

static void say(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (ts.tv_sec - t0.tv_sec) * 1000 + (ts.tv_nsec - t0.tv_nsec) / 1000000;
	pthread_mutex_lock(&out_lock);
	printf("%5ld ms  ", ms);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static int on_timer(void *cbpara, void *obj, int event, int fdtype)
{
	iotimer_t *t = obj;

	switch (iotimer_cmdid(t)) {
	case CMD_TICK:
		say("timer: tick %d (a periodic timer restarts itself)", ++ticks);
		if (ticks < 5)
			iotimer_start(core, 50, CMD_TICK, NULL, on_timer, NULL);
		break;
	case CMD_STOP:
		say("timer: %s, stopping the core", (char *)iotimer_para(t));
		epcore_stop(core);
		break;
	default:
		say("timer: cmdid %d fired: this should not happen", iotimer_cmdid(t));
		break;
	}
	return 0;
}

static int on_user(void *cbpara, void *para, int event, int fdtype)
{
	say("user event %d from %s, para \"%s\"", event - IOE_USER_DEFINED,
	    (char *)cbpara, (char *)para);
	return 0;
}

static int on_pipe(void *cbpara, void *obj, int event, int fdtype)
{
	iodev_t *dev = obj;
	char buf[256];
	ssize_t n;

	if (event != IOE_READ)
		return 0;
	/* Edge-triggered: read until the kernel has nothing more. */
	while ((n = read(iodev_fd(dev), buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		say("device %llu (fd %d) on worker %d read %zd bytes: \"%s\"",
		    (unsigned long long)iodev_id(dev), iodev_fd(dev),
		    iodev_worker(dev), n, buf);
	}
	if (n == 0) {
		say("device: peer closed, closing the device");
		iodev_close(dev);
	}
	return 0;
}

int main(void)
{
	uint64_t never;
	iodev_t *dev;
	int sv[2];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	core = epcore_new(0);
	if (core == NULL) {
		perror("epdemo: epcore_new");
		return 1;
	}
	if (epcore_start_epump(core, 2) != 2 ||
	    epcore_start_worker(core, 2) != 2) {
		perror("epdemo: starting threads");
		return 1;
	}
	say("core up: backend %s, %d epump threads, %d workers",
	    epcore_backend(core), epcore_epump_count(core),
	    epcore_worker_count(core));

	iotimer_start(core, 50, CMD_TICK, NULL, on_timer, NULL);
	iotimer_start(core, 400, CMD_STOP, s_up, on_timer, NULL);
	never = iotimer_start(core, 200, CMD_NEVER, NULL, on_timer, NULL);
	if (iotimer_stop(core, never) == 0)
		say("timer %llu stopped before its deadline: it never fires",
		    (unsigned long long)never);
	if (iotimer_stop(core, never) < 0 && errno == ENOENT)
		say("stopping it again: ENOENT, as documented");

	epcore_post(core, EPT_WORKER, 0, EV_HELLO, s_hello, on_user, s_main);
	epcore_post(core, EPT_WORKER, 1, EV_HELLO + 1, s_hi, on_user, s_main);
	epcore_post(core, EPT_EPUMP, 0, EV_HELLO + 2, s_onep, on_user, s_main);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("epdemo: socketpair");
		return 1;
	}
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, on_pipe, NULL);
	if (dev == NULL || iodev_bind_epump(dev, BIND_ONE_EPUMP, 0) < 0) {
		perror("epdemo: device");
		return 1;
	}
	if (write(sv[1], "ping", 4) != 4)
		perror("epdemo: write");
	close(sv[1]);

	say("main thread becomes an epump until the core stops");
	epump_main_start(core);
	say("main thread back; freeing the core (joins every thread)");
	if (epcore_free(core) < 0) {
		perror("epdemo: epcore_free");
		return 1;
	}
	say("done");
	return 0;
}
