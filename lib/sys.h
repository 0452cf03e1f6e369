/*
 * sys.h - the system calls the library makes for every event (the poller's
 * wait, iodev_recv(), iodev_send() and its queue's flush), made without
 * glibc's cancellation bookkeeping once the process has a second thread.
 *
 * In a process with more than one thread, glibc's read(), write(),
 * send(), sendmsg(), writev() and epoll_wait() are cancellation points:
 * each call switches the thread's cancellation type on and off around the
 * system call, two atomic read-modify-writes and about 45 instructions.
 * With the stats thread or workers, that was 129 of the 246 instructions
 * per hop that turning stats on added to the chain benchmark (callgrind).
 * The library's own I/O is no cancellation point (none of its calls is
 * documented as one, and its threads are not the user's to cancel), so
 * it makes these calls through syscall(2), which has no such wrapper.
 *
 * In a one-thread process glibc's wrappers skip the bookkeeping and are
 * the shorter path: __libc_single_threaded (glibc 2.32) picks.  Both
 * paths make the same system call, so a value that is stale for a moment
 * while a thread starts costs a few instructions, nothing more.
 * Sanitizer builds keep the wrappers: ASan checks buffers and TSan orders
 * threads through them.
 */
#ifndef EP_SYS_H
#define EP_SYS_H

#include "config.h"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef HAVE_SYS_EPOLL_H
#include <sys/epoll.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EP__SYS_DIRECT 0
#elif defined(HAVE_SYS_SINGLE_THREADED_H)
#include <sys/single_threaded.h>
#define EP__SYS_DIRECT (!__libc_single_threaded)
#else
#define EP__SYS_DIRECT 0
#endif

static inline ssize_t ep__sys_read(int fd, void *buf, size_t len)
{
	if (EP__SYS_DIRECT)
		return syscall(SYS_read, fd, buf, len);
	return read(fd, buf, len);
}

static inline ssize_t ep__sys_write(int fd, const void *buf, size_t len)
{
	if (EP__SYS_DIRECT)
		return syscall(SYS_write, fd, buf, len);
	return write(fd, buf, len);
}

static inline ssize_t ep__sys_send(int fd, const void *buf, size_t len,
                                   int flags)
{
	if (EP__SYS_DIRECT)
		return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
	return send(fd, buf, len, flags);
}

static inline ssize_t ep__sys_sendmsg(int fd, const struct msghdr *m,
                                      int flags)
{
	if (EP__SYS_DIRECT)
		return syscall(SYS_sendmsg, fd, m, flags);
	return sendmsg(fd, m, flags);
}

static inline ssize_t ep__sys_writev(int fd, const struct iovec *iov,
                                     int n)
{
	if (EP__SYS_DIRECT)
		return syscall(SYS_writev, fd, iov, n);
	return writev(fd, iov, n);
}

#ifdef HAVE_SYS_EPOLL_H
/* epoll_pwait with no mask is epoll_wait (which some architectures lack
 * as a system call). */
static inline int ep__sys_epoll_wait(int epfd, struct epoll_event *ev,
                                     int max, int timeout_ms)
{
	if (EP__SYS_DIRECT)
		return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout_ms,
		                    NULL, (size_t)8);
	return epoll_wait(epfd, ev, max, timeout_ms);
}
#endif

#endif /* EP_SYS_H */
