/*
 * t_backend.c - choosing the poller: EPUMP_BACKEND names it, an unknown
 * name is refused, select refuses fds it cannot hold instead of writing
 * past its fd_set, and every backend serves a high-numbered fd it can hold.
 */
#include <epump.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

static atomic_long reads;

static int on_read(void *cbpara, void *obj, int event, int fdtype)
{
	char buf[64];

	while (read(iodev_fd(obj), buf, sizeof(buf)) > 0)
		;
	atomic_fetch_add(&reads, 1);
	return 0;
}

static void named(void)
{
	const char *want = getenv("EPUMP_BACKEND");
	epcore_t *core = epcore_new(0);

	TAP_OK(core != NULL, "epcore_new with EPUMP_BACKEND=%s", want);
	TAP_OK(strcmp(epcore_backend(core), want) == 0,
	       "epcore_backend() says %s", epcore_backend(core));
	epcore_free(core);
}

/* A device on fd `where`: refused by select past FD_SETSIZE, else served. */
static void high_fd(int where)
{
	const char *be = getenv("EPUMP_BACKEND");
	epcore_t *core = epcore_new(where + 16);
	int sv[2], fd, r, e;
	iodev_t *dev;

	atomic_store(&reads, 0);
	epcore_start_epump(core, 1);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fd = dup2(sv[0], where);
	close(sv[0]);
	if (fd != where) {
		tap_ok(0, "dup2 to fd %d (raise the fd limit)", where);
		close(sv[1]);
		epcore_free(core);
		return;
	}
	dev = iodev_new(core, fd, FDT_USOCK_CONNECTED, NULL, on_read, NULL);
	errno = 0;
	r = iodev_bind_epump(dev, BIND_ONE_EPUMP, 0);
	e = errno;
	if (strcmp(be, "select") == 0 && where >= FD_SETSIZE) {
		TAP_OK(r == -1 && e == EINVAL,
		       "select refuses fd %d >= FD_SETSIZE: EINVAL", where);
		iodev_close(dev); /* the device still owns and closes it */
		TAP_OK(fcntl(where, F_GETFD) == -1 && errno == EBADF,
		       "closing the refused device closes its fd");
	} else {
		TAP_OK(r == 0, "fd %d is polled", where);
		if (write(sv[1], "x", 1) != 1)
			tap_diag("write");
		TAP_OK(tu_wait_ge(&reads, 1, 2000), "and its reads arrive");
	}
	close(sv[1]);
	epcore_free(core);
}

static void all(void)
{
	named();
	high_fd(FD_SETSIZE - 8);
	high_fd(FD_SETSIZE + 100);
}

int main(void)
{
	epcore_t *core;
	int r;

	setenv("EPUMP_BACKEND", "kqueue-on-linux", 1);
	errno = 0;
	core = epcore_new(0);
	tap_backend = "kqueue-on-linux";
	TAP_OK(core == NULL && errno == EINVAL,
	       "an unknown EPUMP_BACKEND is refused: NULL, EINVAL");
	setenv("EPUMP_BACKEND", "", 1);
	core = epcore_new(0);
	tap_backend = "default";
	TAP_OK(core != NULL && strcmp(epcore_backend(core), "epoll") == 0,
	       "no EPUMP_BACKEND: the best available (epoll)");
	epcore_free(core);
	unsetenv("EPUMP_BACKEND");
	r = tap_backends(all);
	return r;
}
