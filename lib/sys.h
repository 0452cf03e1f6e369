/*
 * sys.h - the system calls the library makes for every event (the poller's
 * wait and registration, iodev_recv(), iodev_send() and its queue's
 * flush), made without the C library's function around them where that
 * is safe.
 *
 * On x86-64 Linux they are made inline: the syscall instruction in the
 * caller, errno set from the result as glibc does.  Two costs go with the
 * function.  First, a function entered before a system call and left
 * after it mispredicts its return on this class of machine (the return
 * stack does not survive the kernel's own calls and mitigations): about
 * 7 ns a frame here (getppid() under five nested frames: 200-213 ns a
 * call, flat 170-178), and every library system call sat under one more
 * frame than its caller, glibc's.  Second, in a process with more than
 * one thread, glibc's read(), write(), send(), sendmsg(), writev() and
 * epoll_wait() are cancellation points: each call switches the thread's
 * cancellation type on and off around the system call, two atomic
 * read-modify-writes and about 45 instructions (129 of the 246 per hop
 * that turning stats on once added to the chain benchmark, callgrind).
 * The library's own I/O is no cancellation point (none of its calls is
 * documented as one, and its threads are not the user's to cancel).
 *
 * Elsewhere the calls go through syscall(2) in a process with a second
 * thread (no cancellation bookkeeping) and through glibc's wrappers in a
 * one-thread process, where they skip it and are the shorter path:
 * __libc_single_threaded (glibc 2.32) picks.  Both paths have the same
 * effect, so a value that is stale for a moment while a thread starts
 * costs a few instructions, nothing more.  Sanitizer builds keep
 * the wrappers: ASan checks buffers and TSan orders threads through them.
 *
 * With EPUMP_LIBC_IO=1 in the environment when the library is loaded
 * (ep__libc_io, epcore.c), every call here goes through the C library's
 * function, so that a library interposed with LD_PRELOAD (a kernel-bypass
 * socket library, a fault injector) sees these calls as it sees the
 * library's others (accept4, connect, recvfrom, ...).
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

#include <errno.h>
#include <stdbool.h>

/* EPUMP_LIBC_IO=1 at load: the C library's functions only (epcore.c). */
extern bool ep__libc_io;

/* EP__SYS_FAST: bypass the C library's function for this call. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define EP__SYS_INLINE 0
#define EP__SYS_FAST 0
#elif defined(__x86_64__) && !defined(__ILP32__) && defined(__linux__)
#define EP__SYS_INLINE 1
#define EP__SYS_FAST __builtin_expect(!ep__libc_io, 1)
#elif defined(HAVE_SYS_SINGLE_THREADED_H)
#include <sys/single_threaded.h>
#define EP__SYS_INLINE 0
#define EP__SYS_FAST (!ep__libc_io && !__libc_single_threaded)
#else
#define EP__SYS_INLINE 0
#define EP__SYS_FAST 0
#endif

#if EP__SYS_INLINE
/* The x86-64 Linux convention: number in rax, arguments in rdi, rsi, rdx,
 * r10, r8, r9; rcx and r11 are lost; -4095..-1 is -errno. */
static inline long ep__syscall6(long nr, long a, long b, long c, long d,
                                long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile ("syscall"
	                  : "=a"(r)
	                  : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10),
	                    "r"(r8), "r"(r9)
	                  : "rcx", "r11", "memory");
	return r;
}

static inline long ep__syscall3(long nr, long a, long b, long c)
{
	long r;

	__asm__ volatile ("syscall"
	                  : "=a"(r)
	                  : "0"(nr), "D"(a), "S"(b), "d"(c)
	                  : "rcx", "r11", "memory");
	return r;
}

static inline long ep__syscall4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long r;

	__asm__ volatile ("syscall"
	                  : "=a"(r)
	                  : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
	                  : "rcx", "r11", "memory");
	return r;
}

/* A result as the C library returns it: -1 with errno set, or the value. */
static inline long ep__sysret(long r)
{
	if ((unsigned long)r > -4096ul) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#define EP__SYS3(nr, a, b, c) \
	ep__sysret(ep__syscall3((nr), (long)(a), (long)(b), (long)(c)))
#define EP__SYS4(nr, a, b, c, d) \
	ep__sysret(ep__syscall4((nr), (long)(a), (long)(b), (long)(c), \
	                        (long)(d)))
#define EP__SYS6(nr, a, b, c, d, e, f) \
	ep__sysret(ep__syscall6((nr), (long)(a), (long)(b), (long)(c), \
	                        (long)(d), (long)(e), (long)(f)))
#else
#define EP__SYS3(nr, a, b, c) syscall((nr), (a), (b), (c))
#define EP__SYS4(nr, a, b, c, d) syscall((nr), (a), (b), (c), (d))
#define EP__SYS6(nr, a, b, c, d, e, f) \
	syscall((nr), (a), (b), (c), (d), (e), (f))
#endif

static inline ssize_t ep__sys_read(int fd, void *buf, size_t len)
{
	if (EP__SYS_FAST)
		return EP__SYS3(SYS_read, fd, buf, len);
	return read(fd, buf, len);
}

static inline ssize_t ep__sys_write(int fd, const void *buf, size_t len)
{
	if (EP__SYS_FAST)
		return EP__SYS3(SYS_write, fd, buf, len);
	return write(fd, buf, len);
}

static inline ssize_t ep__sys_send(int fd, const void *buf, size_t len,
                                   int flags)
{
	if (EP__SYS_FAST)
		return EP__SYS6(SYS_sendto, fd, buf, len, flags, NULL, 0);
	return send(fd, buf, len, flags);
}

static inline ssize_t ep__sys_sendmsg(int fd, const struct msghdr *m,
                                      int flags)
{
	if (EP__SYS_FAST)
		return EP__SYS3(SYS_sendmsg, fd, m, flags);
	return sendmsg(fd, m, flags);
}

static inline ssize_t ep__sys_writev(int fd, const struct iovec *iov,
                                     int n)
{
	if (EP__SYS_FAST)
		return EP__SYS3(SYS_writev, fd, iov, n);
	return writev(fd, iov, n);
}

#ifdef HAVE_SYS_EPOLL_H
/* epoll_pwait with no mask is epoll_wait (which some architectures lack
 * as a system call). */
static inline int ep__sys_epoll_wait(int epfd, struct epoll_event *ev,
                                     int max, int timeout_ms)
{
	if (EP__SYS_FAST)
		return (int)EP__SYS6(SYS_epoll_pwait, epfd, ev, max, timeout_ms,
		                     NULL, (size_t)8);
	return epoll_wait(epfd, ev, max, timeout_ms);
}

/* No cancellation point: only the inline call is worth making. */
static inline int ep__sys_epoll_ctl(int epfd, int op, int fd,
                                    struct epoll_event *ev)
{
#if EP__SYS_INLINE
	if (EP__SYS_FAST)
		return (int)EP__SYS4(SYS_epoll_ctl, epfd, op, fd, ev);
#endif
	return epoll_ctl(epfd, op, fd, ev);
}
#endif

#endif /* EP_SYS_H */
