/*
 * t_libcio.c - EPUMP_LIBC_IO: with it set to 1 when the library is loaded,
 * the per-event system calls (iodev_recv()'s read, iodev_send()'s send,
 * the epoll backend's epoll_ctl and epoll_wait) go through the C
 * library's functions, where a library interposed with LD_PRELOAD sees
 * them; without it, on x86-64 Linux, they are made inline (lib/sys.h) and
 * such a library does not.  Either way the device works the same.
 *
 * This program is its own interposer: it defines read, send, epoll_ctl,
 * epoll_wait and epoll_pwait, which the library's calls bind to before
 * the C library's (an executable's definitions come first), counts the
 * calls on the device's fd and forwards them.  Each pass runs one echo
 * through a device here, then runs this program again with
 * EPUMP_LIBC_IO=1 (argument "child"), which prints its counts.
 */
#define _GNU_SOURCE
#include <epump.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"

/* The device's fd, and the calls seen on it (epoll_wait: every call). */
static atomic_int watch_fd = -1;
static atomic_long n_read, n_send, n_ctl, n_wait;

static void *next_fn(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		fprintf(stderr, "t_libcio: no %s after this program\n", name);
		_exit(99);
	}
	return f;
}

/* The functions forwarded to, found before main() runs (and before any
 * thread could race to find them). */
static ssize_t (*next_read)(int, void *, size_t);
static ssize_t (*next_send)(int, const void *, size_t, int);
static int (*next_ctl)(int, int, int, struct epoll_event *);
static int (*next_wait)(int, struct epoll_event *, int, int);
static int (*next_pwait)(int, struct epoll_event *, int, int,
                         const sigset_t *);

static void __attribute__((constructor)) find_next(void)
{
	next_read = (ssize_t (*)(int, void *, size_t))next_fn("read");
	next_send = (ssize_t (*)(int, const void *, size_t, int))
	            next_fn("send");
	next_ctl = (int (*)(int, int, int, struct epoll_event *))
	           next_fn("epoll_ctl");
	next_wait = (int (*)(int, struct epoll_event *, int, int))
	            next_fn("epoll_wait");
	next_pwait = (int (*)(int, struct epoll_event *, int, int,
	                      const sigset_t *))next_fn("epoll_pwait");
}

ssize_t read(int fd, void *buf, size_t len)
{
	if (fd == atomic_load(&watch_fd))
		atomic_fetch_add(&n_read, 1);
	return next_read(fd, buf, len);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (fd == atomic_load(&watch_fd))
		atomic_fetch_add(&n_send, 1);
	return next_send(fd, buf, len, flags);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (fd == atomic_load(&watch_fd))
		atomic_fetch_add(&n_ctl, 1);
	return next_ctl(epfd, op, fd, ev);
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
	atomic_fetch_add(&n_wait, 1);
	return next_wait(epfd, ev, max, ms);
}

int epoll_pwait(int epfd, struct epoll_event *ev, int max, int ms,
                const sigset_t *mask)
{
	atomic_fetch_add(&n_wait, 1);
	return next_pwait(epfd, ev, max, ms, mask);
}

/* One echo: a timer's handler makes a device of sv[0] and binds it; a
 * byte written to sv[1] comes to its handler, which reads it with
 * iodev_recv(), reads again to find nothing (-1, EAGAIN: the inline
 * call's errno) and sends the byte back with iodev_send(). */
static epcore_t *core;
static int sv[2];
static int got_errno;

static int on_read(void *cbpara, void *obj, int event, int fdtype)
{
	char c;

	(void)cbpara;
	(void)fdtype;
	if (event != IOE_READ)
		return 0;
	if (iodev_recv(obj, &c, 1) != 1)
		got_errno = errno ? errno : EIO;
	else if (iodev_recv(obj, &c, 1) != -1 || errno != EAGAIN)
		got_errno = EPROTO; /* not the EAGAIN of an empty socket */
	else if (iodev_send(obj, &c, 1) != 1)
		got_errno = errno ? errno : EIO;
	epcore_stop(core);
	return 0;
}

static int on_start(void *cbpara, void *para, int event, int fdtype)
{
	iodev_t *dev;

	(void)cbpara;
	(void)para;
	(void)event;
	(void)fdtype;
	dev = iodev_new(core, sv[0], FDT_USOCK_CONNECTED, NULL, on_read, NULL);
	if (dev == NULL || iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0) < 0) {
		got_errno = errno;
		epcore_stop(core);
		return 0;
	}
	/* Not through read/write: the counters are the library's calls. */
	if (syscall(SYS_write, sv[1], "e", 1) != 1) {
		got_errno = errno;
		epcore_stop(core);
	}
	return 0;
}

/* 0 and the echoed byte back, or an errno value. */
static int echo_once(void)
{
	char c = 0;

	got_errno = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return errno;
	atomic_store(&watch_fd, sv[0]);
	core = epcore_new(0);
	if (core == NULL)
		return errno;
	if (iotimer_start(core, 0, 0, NULL, on_start, NULL) == 0 ||
	    epump_main_start(core) < 0)
		got_errno = errno;
	if (got_errno == 0 &&
	    (syscall(SYS_read, sv[1], &c, 1) != 1 || c != 'e'))
		got_errno = EIO;
	atomic_store(&watch_fd, -1);
	(void)epcore_free(core); /* closes sv[0] */
	close(sv[1]);
	return got_errno;
}

static int is_epoll(void)
{
	const char *b = getenv("EPUMP_BACKEND");

	return b == NULL || *b == '\0' || strcmp(b, "epoll") == 0;
}

/* Runs this program with EPUMP_LIBC_IO=1; its counts in c[4], or -1. */
static int run_child(const char *self, long c[4])
{
	int p[2], st;
	pid_t pid;
	char line[256];
	ssize_t n;
	size_t have = 0;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		static char child[] = "child";
		char *argv[] = { (char *)self, child, NULL };

		dup2(p[1], STDOUT_FILENO);
		close(p[0]);
		close(p[1]);
		setenv("EPUMP_LIBC_IO", "1", 1);
		execv(self, argv);
		_exit(127);
	}
	close(p[1]);
	while (have < sizeof(line) - 1 &&
	       (n = syscall(SYS_read, p[0], line + have,
	                    sizeof(line) - 1 - have)) > 0)
		have += (size_t)n;
	line[have] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return sscanf(line, "%ld %ld %ld %ld", &c[0], &c[1], &c[2],
	              &c[3]) == 4 ? 0 : -1;
}

static const char *self_path;

static void pass(void)
{
	long c[4];
	int e;

	atomic_store(&n_read, 0);
	atomic_store(&n_send, 0);
	atomic_store(&n_ctl, 0);
	atomic_store(&n_wait, 0);
	e = echo_once();
	TAP_IS(e, 0, "default: the byte comes back through the device, and "
	       "a read of nothing fails with EAGAIN");
#if defined(__x86_64__) && !defined(__ILP32__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* The inline calls: nothing of the library's reaches the C library. */
	TAP_IS(atomic_load(&n_read), 0, "default: iodev_recv() made no read()");
	TAP_IS(atomic_load(&n_send), 0, "default: iodev_send() made no send()");
	if (is_epoll()) {
		TAP_IS(atomic_load(&n_ctl), 0,
		       "default: the bind made no epoll_ctl() call");
		TAP_IS(atomic_load(&n_wait), 0,
		       "default: the loop made no epoll_wait() call");
	}
#endif
	if (!TAP_OK(run_child(self_path, c) == 0,
	            "EPUMP_LIBC_IO=1: the echo runs and reports its calls"))
		return;
	TAP_OK(c[0] >= 1, "EPUMP_LIBC_IO=1: iodev_recv() calls read() (%ld)",
	       c[0]);
	TAP_OK(c[1] >= 1, "EPUMP_LIBC_IO=1: iodev_send() calls send() (%ld)",
	       c[1]);
	if (is_epoll()) {
		TAP_OK(c[2] >= 1,
		       "EPUMP_LIBC_IO=1: the bind calls epoll_ctl() (%ld)", c[2]);
		TAP_OK(c[3] >= 1,
		       "EPUMP_LIBC_IO=1: the loop calls epoll_wait() (%ld)",
		       c[3]);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "child") == 0) {
		int e = echo_once();

		if (e != 0) {
			fprintf(stderr, "t_libcio child: %s\n", strerror(e));
			return 1;
		}
		printf("%ld %ld %ld %ld\n", atomic_load(&n_read),
		       atomic_load(&n_send), atomic_load(&n_ctl),
		       atomic_load(&n_wait));
		return 0;
	}
	self_path = argv[0];
	return tap_backends(pass);
}
