/*
 * epump.h - the public interface of libepump, an event pump for servers.
 *
 * libepump watches non-blocking file descriptors and millisecond timers on
 * "epump" threads (epoll, poll or select), turns readiness into events and
 * runs the application's handlers, either on the epump thread that saw the
 * event or on "worker" threads fed from FIFO queues.  See epump(7).
 *
 * This is the only installed header.  Every exported symbol is declared
 * here, carries EPUMP_API and is described in a man page.  Functions that
 * fail return -1 (or NULL, or 0 for an id) and set errno; the library never
 * prints, exits or aborts on bad input.
 */
#ifndef EPUMP_H
#define EPUMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EPUMP_BUILDING) && defined(__GNUC__)
#define EPUMP_API __attribute__((visibility("default")))
#else
#define EPUMP_API
#endif

#define EPUMP_VERSION_MAJOR 1
#define EPUMP_VERSION_MINOR 0
#define EPUMP_VERSION_PATCH 0

/* Event codes passed to handlers (values kept from the original ePump). */
#define IOE_CONNECTED       1     /* a non-blocking connect completed */
#define IOE_CONNFAIL        2     /* a non-blocking connect failed */
#define IOE_ACCEPT          3     /* a listening socket has connections */
#define IOE_READ            4     /* the fd is readable (edge: drain it) */
#define IOE_WRITE           5     /* the fd is writable (one-shot) */
#define IOE_INVALID_DEV     6     /* the fd is no longer usable */
#define IOE_TIMEOUT         100   /* a timer expired */
#define IOE_USER_DEFINED    10000 /* first code for user events */

/* Device (fd) types, with the original ePump's values. */
#define FDT_LISTEN          0x01
#define FDT_CONNECTED       0x02
#define FDT_ACCEPTED        0x04
#define FDT_UDPSRV          0x08
#define FDT_UDPCLI          0x10
#define FDT_USOCK_LISTEN    0x20
#define FDT_USOCK_CONNECTED 0x40
#define FDT_USOCK_ACCEPTED  0x80
#define FDT_RAWSOCK         0x100
#define FDT_FILEDEV         0x200
#define FDT_TIMER           0x10000
#define FDT_USERCMD         0x20000
#define FDT_LINGER_CLOSE    0x40000
#define FDT_STDIN           0x100000
#define FDT_STDOUT          0x200000

/* OR into iodev_new()'s fdtype when the fd is already non-blocking (made
 * with SOCK_NONBLOCK, accept4(), O_NONBLOCK): iodev_new() then makes no
 * system call for it.  Not a device type: iodev_fdtype() never has it. */
#define IODEV_NONBLOCK      0x40000000

/* Interest flags for iodev_add_notify() and iodev_del_notify(). */
#define RWF_READ            0x02
#define RWF_WRITE           0x04

/* How a device is bound to epump threads (iodev_bind_epump()). */
#define BIND_NONE           0  /* not polled */
#define BIND_ONE_EPUMP      1  /* the epump with the fewest devices+timers */
#define BIND_GIVEN_EPUMP    2  /* the epump with the given index */
#define BIND_ALL_EPUMP      3  /* every epump, also those started later */
#define BIND_CURRENT_EPUMP  5  /* the caller's epump (see iodev_bind_epump) */

/* Thread kinds for epcore_post(). */
#define EPT_EPUMP           1
#define EPT_WORKER          2

typedef struct epcore epcore_t;   /* the process-wide core */
typedef struct iodev iodev_t;     /* a device: one fd and its handler */
typedef struct iotimer iotimer_t; /* a one-shot millisecond timer */

/*
 * The handler of devices, timers and user events.  obj is the iodev_t *
 * for device events, the iotimer_t * for IOE_TIMEOUT, and the para given
 * to epcore_post() or iodev_post() for user events (fdtype FDT_USERCMD).
 * The return value is ignored; return 0.
 */
typedef int IOHandler(void *cbpara, void *obj, int event, int fdtype);

/* ---- the core and its threads: epcore(3) ---- */

/*
 * Create a core.  maxfd > 0 raises the soft RLIMIT_NOFILE to maxfd (capped
 * at the hard limit); maxfd <= 0 raises it to the hard limit.  The poller
 * backend is EPUMP_BACKEND from the environment (epoll, poll or select),
 * else the best available.  NULL with errno EINVAL (unknown backend),
 * ENOMEM.
 */
EPUMP_API epcore_t *epcore_new(int maxfd);

/*
 * Stop (if running), join every thread the core started, wait until every
 * epump_main_start() has returned, close every device, drop pending events
 * and timers, free everything.  -1 with EDEADLK when called from one of
 * the core's own threads (a handler); -1 with EINVAL for NULL.
 */
EPUMP_API int epcore_free(epcore_t *core);

/* Start n epump threads (n <= 0: one per online CPU); returns the number
 * started (fewer than n if some failed to start), or -1 with errno
 * EINVAL, EAGAIN, ENOMEM or ECANCELED (core stopped) if none started. */
EPUMP_API int epcore_start_epump(epcore_t *core, int n);

/* Start n worker threads (n >= 0; with none, handlers run on the epump
 * thread that saw the event); returns the number started, or -1 with
 * errno EINVAL, EAGAIN, ENOMEM or ECANCELED if n > 0 and none started. */
EPUMP_API int epcore_start_worker(epcore_t *core, int n);

/* The calling thread becomes an epump thread until epcore_stop(); returns
 * 0 then, or -1 (EINVAL, ENOMEM, ECANCELED if the core is stopped). */
EPUMP_API int epump_main_start(epcore_t *core);

/* Ask every thread of the core to stop: async-signal-safe (a SIGINT
 * handler may call it), returns at once, idempotent.  Pending events and
 * timers are dropped; devices stay open until epcore_free(). */
EPUMP_API void epcore_stop(epcore_t *core);

/* The poller backend in use: "epoll", "poll" or "select". */
EPUMP_API const char *epcore_backend(const epcore_t *core);

/* Number of epump threads and of worker threads started so far (threads
 * are not retired one by one: these only grow until epcore_free()). */
EPUMP_API int epcore_epump_count(const epcore_t *core);
EPUMP_API int epcore_worker_count(const epcore_t *core);

/*
 * Serve the statistics socket (epump-stats(7)): at path, or NULL for the
 * default ($XDG_RUNTIME_DIR/epump/PROG.PID.sock, /run/epump/... for root,
 * else /tmp/epump-UID/...), in a directory of mode 0700, socket mode 0600,
 * clients of the same user or root only.  EPUMP_STATS=1 in the environment
 * does this in epcore_new() (EPUMP_STATS_SOCKET=PATH picks the path).  The
 * socket is removed by epcore_free() and at normal exit.  0, or -1 with
 * EALREADY (already serving), EPERM (the directory exists with another
 * owner or a looser mode), EADDRINUSE (a live socket at path), EDEADLK
 * (called from a handler), ENAMETOOLONG, or socket errors.
 */
EPUMP_API int epcore_stats_enable(epcore_t *core, const char *path);

/* The path the statistics socket listens on, or NULL with ENOENT. */
EPUMP_API const char *epcore_stats_path(const epcore_t *core);

/* The library's version as "X.Y.Z". */
EPUMP_API const char *epump_version(void);

/* ---- user events: epcore_post(3) ---- */

/*
 * Run handler(cbpara, para, event, FDT_USERCMD) once on a thread of the
 * core: kind EPT_EPUMP or EPT_WORKER, index 0..count-1, or -1 for the
 * least loaded one.  event >= IOE_USER_DEFINED.  Callable from any
 * thread.  0, or -1 with EINVAL (bad argument), ESRCH (no such thread
 * running), ECANCELED (core stopped), ENOMEM.
 */
EPUMP_API int epcore_post(epcore_t *core, int kind, int index, int event,
                          void *para, IOHandler *handler, void *cbpara);

/*
 * Run handler(cbpara, para, event, FDT_USERCMD) on the thread that runs
 * the device's handlers, in order with the device's own events and never
 * concurrently with them.  If the device is closed before the event runs,
 * the event is dropped.  Callable from any thread.  0, or -1 with EINVAL,
 * ENOENT (no live device has that id), ESRCH, ECANCELED, ENOMEM.
 */
EPUMP_API int iodev_post(epcore_t *core, uint64_t devid, int event,
                         void *para, IOHandler *handler, void *cbpara);

/* ---- devices: iodev(3) ---- */

/*
 * Make a device of an open fd (made non-blocking, unless fdtype has
 * IODEV_NONBLOCK; the device owns it and closes it).  The device is not
 * polled until iodev_bind_epump(); its interest starts as RWF_READ.
 * fdtype is taken at its word for sockets: FDT_LISTEN, FDT_CONNECTED,
 * FDT_ACCEPTED and FDT_USOCK_* are stream sockets, FDT_UDPSRV and
 * FDT_UDPCLI datagram sockets (iodev_send never queues part of a
 * datagram); for the other types the fd is asked.  NULL with EINVAL (NULL
 * core or handler, negative fd, fdtype not a device type), EBADF (fd not
 * open; with IODEV_NONBLOCK and a socket type, the fd is first used, and
 * found bad, by iodev_bind_epump), ECANCELED (core stopped), ENOMEM.
 */
EPUMP_API iodev_t *iodev_new(epcore_t *core, int fd, int fdtype,
                             void *para, IOHandler *handler, void *cbpara);

/*
 * Start polling the device on epump threads chosen by bindtype
 * (BIND_ONE_EPUMP, BIND_GIVEN_EPUMP with epump index, BIND_ALL_EPUMP,
 * BIND_CURRENT_EPUMP: the caller's epump, or the epump that produced the
 * event a worker is handling, else as BIND_ONE_EPUMP).  Before any epump
 * runs, the device is parked and the first epump (all, for BIND_ALL_EPUMP)
 * adopts it.  0, or -1 with EINVAL, EALREADY (already bound), ENOENT
 * (closed), ESRCH (no epump with that index), ECANCELED (core stopped),
 * ENOMEM, and the poller's errno
 * (EEXIST: the fd is polled by another device there; select: EINVAL for
 * fd >= FD_SETSIZE).
 */
EPUMP_API int iodev_bind_epump(iodev_t *dev, int bindtype, int epump);

/*
 * Add or remove interest in readiness (RWF_READ, RWF_WRITE).  Readiness
 * is edge-triggered: after IOE_READ, read until EAGAIN, end of file, or a
 * short read on a stream socket (when end of file or an error comes with
 * the data, IOE_READ is delivered once more after the handler returns, so
 * a handler that stopped at a short read still sees it).  IOE_WRITE is
 * one-shot: re-arm it with iodev_add_notify(dev, RWF_WRITE).  Safe from
 * any thread.  0, or -1 with EINVAL, ENOENT (closed).
 */
EPUMP_API int iodev_add_notify(iodev_t *dev, int rwflags);
EPUMP_API int iodev_del_notify(iodev_t *dev, int rwflags);

/*
 * Close the device: no handler of it starts after this returns, its id
 * stops naming it at once, and its fd is closed by the epump that polls
 * it: when a handler of the device that is running (this one, or one on
 * another thread, which is not waited for) returns, else shortly.  Safe
 * from any thread; from a thread other than the device's own, use
 * iodev_close_by() with the id: a pointer kept past the device's close may
 * name a newer device in the same memory.  Closing a closed device does
 * nothing.
 */
EPUMP_API void iodev_close(iodev_t *dev);

/* Close the device named by id: 0, or -1 with ENOENT (no live device has
 * that id: closed before, or never existed) or EINVAL. */
EPUMP_API int iodev_close_by(epcore_t *core, uint64_t id);

/* The device named by id, or NULL with ENOENT.  The pointer may be used
 * on the device's own thread (in its handler) until it is closed. */
EPUMP_API iodev_t *iodev_by_id(epcore_t *core, uint64_t id);

/* Accessors.  The id is never 0 and never reused by another device;
 * iodev_id() returns 0 once the device's close has begun (also inside a
 * handler still running on it), so keep the id from before the close. */
EPUMP_API uint64_t iodev_id(const iodev_t *dev);
EPUMP_API int iodev_fd(const iodev_t *dev);
EPUMP_API int iodev_fdtype(const iodev_t *dev);
EPUMP_API void *iodev_para(const iodev_t *dev);
EPUMP_API void iodev_set_para(iodev_t *dev, void *para);
EPUMP_API int iodev_rwflags(const iodev_t *dev);
EPUMP_API epcore_t *iodev_core(const iodev_t *dev);
/* Index of the epump polling the device (-1: none yet or BIND_ALL_EPUMP)
 * and of the worker that runs its handlers (-1: none assigned). */
EPUMP_API int iodev_epump(const iodev_t *dev);
EPUMP_API int iodev_worker(const iodev_t *dev);

/* ---- timers: iotimer(3) ---- */

/*
 * Start a one-shot timer that fires in ms milliseconds (0: on the next
 * loop iteration) and runs handler(cbpara, timer, IOE_TIMEOUT, FDT_TIMER)
 * once: on the worker that started it, else on a worker if the core has
 * workers, else on the epump thread that holds it.  Callable from any
 * thread.  Returns the timer's id (never 0, never reused), or 0 with
 * errno EINVAL (NULL core or handler, ms < 0), ECANCELED, ENOMEM.
 */
EPUMP_API uint64_t iotimer_start(epcore_t *core, int ms, int cmdid,
                                 void *para, IOHandler *handler,
                                 void *cbpara);

/*
 * Stop a timer: 0 and it never fires afterwards; -1 with ENOENT if it has
 * already fired (its handler started), was stopped, or never existed.
 * Callable from any thread, also from the timer's own handler (ENOENT).
 */
EPUMP_API int iotimer_stop(epcore_t *core, uint64_t id);

/*
 * Restart a pending timer: it fires ms milliseconds from now instead of
 * at its old deadline, keeping its id (the idle-timeout idiom: restart on
 * every read; moving a deadline later costs one store).  0, or -1 with
 * EINVAL (NULL core, ms < 0) or ENOENT (it has fired or is firing, was
 * stopped, or never existed).  Callable from any thread; from a thread
 * other than the timer's epump the restart travels as a message, and if
 * the old deadline comes before the epump serves it, the timer fires
 * then (once) and the restart is dropped.
 */
EPUMP_API int iotimer_restart(epcore_t *core, uint64_t id, int ms);

/* Accessors for the timer a handler receives (valid during the call). */
EPUMP_API uint64_t iotimer_id(const iotimer_t *t);
EPUMP_API int iotimer_cmdid(const iotimer_t *t);
EPUMP_API void *iotimer_para(const iotimer_t *t);

/* ---- sending: iodev_send(3) ---- */

/*
 * Send on a device's fd: writes what the kernel takes now and queues the
 * rest, arming write readiness itself; the queue drains as the fd becomes
 * writable, in order, and the handler gets IOE_WRITE once it has drained.
 * Safe from any thread (one call's bytes are never interleaved with
 * another's).  Returns the number of bytes taken (written or queued): len,
 * or fewer when the queue reached its limit (iodev_set_sendq_limit;
 * IOE_WRITE tells when there is room).  -1 with ENOBUFS (queue full:
 * nothing taken), ENOENT (closed), ENOMEM, EINVAL, or the error of
 * send(2) (EPIPE, ECONNRESET, ...).  SIGPIPE is never raised on sockets.
 * On a datagram socket it sends one datagram and never queues: -1 with
 * EAGAIN when the kernel has no room.
 */
EPUMP_API ssize_t iodev_send(iodev_t *dev, const void *buf, size_t len);

/*
 * read(2) on the device's fd, counted for the stats socket (bytes in):
 * the same return values and errno, and -1 with EINVAL (NULL dev, NULL
 * buf, len > SSIZE_MAX) or ENOENT (closed).  From the device's own thread.
 */
EPUMP_API ssize_t iodev_recv(iodev_t *dev, void *buf, size_t len);

/* Bytes queued and not yet written (0 with EINVAL for NULL). */
EPUMP_API size_t iodev_sendq_len(const iodev_t *dev);

/* The most a device may queue (default 4 MiB; 0 queues nothing).  0, or
 * -1 with EINVAL, ENOENT (closed), ENOMEM. */
EPUMP_API int iodev_set_sendq_limit(iodev_t *dev, size_t bytes);

/*
 * Close after the queued data is written: the handler is not called again;
 * the queue drains, the write side is shut (sockets: FIN), the peer's data
 * is read and dropped until it closes too (if it closed first, as soon as
 * the queue has drained), then the device closes; at the latest after
 * timeout_ms (<= 0: 10 s).  Safe from any thread (from
 * another thread it takes effect on the device's thread, in order with
 * its events).  0, or -1 with ENOENT, EINVAL, ENOMEM.
 */
EPUMP_API int iodev_linger_close(iodev_t *dev, int timeout_ms);

/* The error that ended a connect (IOE_CONNFAIL: a socket error such as
 * ECONNREFUSED, or ETIMEDOUT), or 0. */
EPUMP_API int iodev_error(const iodev_t *dev);

/* The local or peer address of a socket device as text (IPv4/IPv6 literal,
 * or the unix socket's path) and port (0 for unix sockets).  0, or -1 with
 * EINVAL, ENOENT (closed), ENOTCONN, ENOSPC (buf too small) and
 * getsockname/getpeername's errors. */
EPUMP_API int iodev_local_addr(const iodev_t *dev, char *buf, size_t len,
                               int *port);
EPUMP_API int iodev_peer_addr(const iodev_t *dev, char *buf, size_t len,
                              int *port);

/* ---- addresses: epaddr(3) ---- */

/* Fill *ss with ip (an IPv4 or IPv6 literal, "[::1]" too; NULL or "": the
 * IPv6 wildcard ::) and port; 0, or -1 with EINVAL. */
EPUMP_API int epaddr_parse(const char *ip, int port,
                           struct sockaddr_storage *ss, socklen_t *len);
/* Write sa's address as text into buf and its port into *port (NULL: not
 * wanted); 0, or -1 with EAFNOSUPPORT or ENOSPC. */
EPUMP_API int epaddr_format(const struct sockaddr *sa, char *buf, size_t len,
                            int *port);

/* ---- TCP: eptcp(3) ---- */

/*
 * A listening device (FDT_LISTEN) on ip:port: an IPv4 or IPv6 literal, or
 * NULL/"" for every address (one dual-stack IPv6 socket, or IPv4 where
 * the kernel has no IPv6).  port 0 picks a free port (iodev_local_addr()
 * tells it).  Bound with bindtype/epump as by iodev_bind_epump().  Its
 * handler gets IOE_ACCEPT: call eptcp_accept() until it returns NULL.
 * NULL with errno EINVAL, or the errno of socket/bind/listen.
 */
EPUMP_API iodev_t *eptcp_listen(epcore_t *core, const char *ip, int port,
                                void *para, IOHandler *handler,
                                void *cbpara, int bindtype, int epump);

/*
 * Listen on ip:port with one socket per epump thread, also for epump
 * threads started later (SO_REUSEPORT: the kernel spreads connections);
 * where the kernel refuses SO_REUSEPORT, one socket that every epump
 * polls.  Returns the port (the one picked, for port 0), or -1 with errno
 * (EADDRINUSE also when the core already listens so on that port).
 * eptcp_mlisten_close() closes all of them: 0, or -1 with ENOENT.
 */
EPUMP_API int eptcp_mlisten(epcore_t *core, const char *ip, int port,
                            void *para, IOHandler *handler, void *cbpara);
EPUMP_API int eptcp_mlisten_close(epcore_t *core, int port);

/*
 * Accept one pending connection of a listening device (TCP or unix) as a
 * new device (FDT_ACCEPTED or FDT_USOCK_ACCEPTED), bound with
 * bindtype/epump (BIND_CURRENT_EPUMP: the listener's epump).  Call it
 * until it returns NULL: errno EAGAIN when none is left; EMFILE or ENFILE
 * when the process is out of fds: the listener then stops accepting for
 * 100 ms and gets IOE_ACCEPT again by itself, the connections waiting in
 * the backlog meanwhile (no busy loop).  Also EINVAL, ENOENT.
 */
EPUMP_API iodev_t *eptcp_accept(epcore_t *core, iodev_t *listendev,
                                void *para, IOHandler *handler,
                                void *cbpara, int bindtype, int epump);

/*
 * Connect to host:port without blocking.  The device (FDT_CONNECTED),
 * bound as BIND_CURRENT_EPUMP, then gets exactly one IOE_CONNECTED or
 * IOE_CONNFAIL (iodev_error() says why), the latter also when
 * timeout_ms > 0 passes first.  host is an IP literal, or a host name:
 * the device is returned at once, unbound and with a placeholder fd,
 * while dns_query() resolves the name; its addresses are then tried one
 * after the other (IPv6 and IPv4 alternating, IPv6 first) until one
 * connects, and the connected socket becomes the device's fd.  A name
 * that does not resolve gives IOE_CONNFAIL with ENOENT (no such name or
 * no address), EAGAIN (server failure or refusal) or ETIMEDOUT; all
 * addresses failing gives the last address's error.  timeout_ms covers
 * resolution and every attempt.  Until IOE_CONNECTED, only
 * iodev_close() is useful on such a device.  NULL with errno EINVAL, or
 * the errno of socket(2)/connect(2) when a literal fails at once.
 */
EPUMP_API iodev_t *eptcp_connect(epcore_t *core, const char *host, int port,
                                 void *para, IOHandler *handler,
                                 void *cbpara, int timeout_ms);

/* TCP_NODELAY and TCP_CORK on a TCP device; 0, or -1 with EINVAL,
 * ENOENT (closed), or setsockopt's errno. */
EPUMP_API int eptcp_nodelay(iodev_t *dev, int on);
EPUMP_API int eptcp_cork(iodev_t *dev, int on);

/* ---- UDP: epudp(3) ---- */

/* A UDP server device (FDT_UDPSRV) bound to ip:port (as eptcp_listen). */
EPUMP_API iodev_t *epudp_listen(epcore_t *core, const char *ip, int port,
                                void *para, IOHandler *handler,
                                void *cbpara, int bindtype, int epump);

/* A UDP client device (FDT_UDPCLI) connected to host:port (an IP
 * literal): send with iodev_send() or epudp_sendto(); only that peer's
 * datagrams arrive.  Bound as BIND_CURRENT_EPUMP. */
EPUMP_API iodev_t *epudp_client(epcore_t *core, const char *host, int port,
                                void *para, IOHandler *handler,
                                void *cbpara);

/* One datagram: its length, or -1 with errno (EAGAIN: none left; EINVAL:
 * NULL dev or buf, len > SSIZE_MAX; ENOENT: closed); from and fromlen
 * (may be NULL) receive the sender's address. */
EPUMP_API ssize_t epudp_recvfrom(iodev_t *dev, void *buf, size_t len,
                                 struct sockaddr_storage *from,
                                 socklen_t *fromlen);
/* Send one datagram to an address (NULL: the connected peer); its length,
 * or -1 with errno (EAGAIN: the kernel's buffer is full, nothing sent;
 * EINVAL: NULL dev or buf, len > SSIZE_MAX; ENOENT: closed). */
EPUMP_API ssize_t epudp_sendto(iodev_t *dev, const void *buf, size_t len,
                               const struct sockaddr *to, socklen_t tolen);

/* ---- unix domain sockets: epusock(3) ---- */

/* A listening stream socket (FDT_USOCK_LISTEN) at path; a stale socket
 * file there (nobody listening) is replaced, a live one is EADDRINUSE.
 * The file is removed when the device closes. */
EPUMP_API iodev_t *epusock_listen(epcore_t *core, const char *path,
                                  void *para, IOHandler *handler,
                                  void *cbpara, int bindtype, int epump);
/* Accept as eptcp_accept(). */
EPUMP_API iodev_t *epusock_accept(epcore_t *core, iodev_t *listendev,
                                  void *para, IOHandler *handler,
                                  void *cbpara, int bindtype, int epump);
/* Connect to path without blocking: exactly one IOE_CONNECTED or
 * IOE_CONNFAIL follows, as for eptcp_connect(). */
EPUMP_API iodev_t *epusock_connect(epcore_t *core, const char *path,
                                   void *para, IOHandler *handler,
                                   void *cbpara, int timeout_ms);

/* ---- files and stdin: epfile(3) ---- */

/*
 * A device (FDT_FILEDEV) for a readable fd: a pipe, a tty, a character
 * device, or a regular file (which no poller watches: it gets IOE_READ
 * once, and reads until end of file).  The device owns the fd.  Bound as
 * BIND_CURRENT_EPUMP.  NULL with EINVAL, EBADF.
 */
EPUMP_API iodev_t *epfile_bind_fd(epcore_t *core, int fd, void *para,
                                  IOHandler *handler, void *cbpara);
/* Standard input as a device (FDT_STDIN); closing it leaves fd 0 open. */
EPUMP_API iodev_t *epfile_bind_stdin(epcore_t *core, void *para,
                                     IOHandler *handler, void *cbpara);

/* ---- asynchronous DNS: dns_query(3) ---- */

/* dns_result_t.status: why a query ended. */
#define DNS_OK          0   /* addrs[0..naddrs-1] hold the answer */
#define DNS_ENONAME     1   /* the name does not exist (NXDOMAIN) */
#define DNS_ENODATA     2   /* the name exists but has no A or AAAA */
#define DNS_ESERVFAIL   3   /* the server failed (SERVFAIL) */
#define DNS_ETIMEOUT    4   /* no answer within the timeouts and tries */
#define DNS_EREFUSED    5   /* the server refused (REFUSED) */
#define DNS_ECANCELED   6   /* the core was freed first */
#define DNS_EFAIL       7   /* anything else: a malformed answer, no memory,
                             * no usable server */

/* One address of an answer.  family is AF_INET (addr[0..3] hold the
 * address in network order) or AF_INET6 (addr[0..15]); ttl is the
 * seconds it may still be used (UINT32_MAX for an IP literal). */
typedef struct dns_addr {
	int family;
	uint32_t ttl;
	uint8_t addr[16];
} dns_addr_t;

/* What a DnsCB receives; valid only during the call (copy what you
 * keep).  name is the name as asked.  IPv6 addresses come first, then
 * IPv4, each in the order of the answer. */
typedef struct dns_result {
	int status;                 /* DNS_OK or DNS_E* */
	const char *name;
	int naddrs;                 /* 0 unless status is DNS_OK */
	const dns_addr_t *addrs;
	int from_cache;             /* 1: answered from the cache or a literal */
} dns_result_t;

/* The callback of dns_query(): runs exactly once per accepted query. */
typedef void DnsCB(void *cbobj, const dns_result_t *res);

/*
 * Resolve name (A and AAAA) without blocking; cb(cbobj, res) runs later,
 * exactly once: on the epump or worker thread that called dns_query(),
 * or, when called from a thread that is not one of the core's, where a
 * timer started there would fire (a worker if the core has any, else an
 * epump thread).  It always runs after dns_query() has returned, also
 * for an IP literal (answered without a query) and for a cached answer
 * (kept for its TTL; at most 1024 names, least recently used dropped
 * first).  Concurrent queries for one name share one lookup.  The
 * resolver is c-ares, driven by the core's epump threads (its sockets
 * are devices): /etc/hosts, then the name servers of /etc/resolv.conf,
 * or those given with epcore_dnsrv_add().  If epcore_free() comes first,
 * every callback still pending runs from epcore_free(), on its thread,
 * with DNS_ECANCELED.  0, or -1 with EINVAL (NULL argument, a name that
 * is not a host name), ECANCELED (core stopped), ENOMEM, EIO (c-ares
 * could not start).
 */
EPUMP_API int dns_query(epcore_t *core, const char *name, DnsCB *cb,
                        void *cbobj);

/*
 * Use the name server at ip (an IPv4 or IPv6 literal) and port (0: 53).
 * The first call replaces /etc/resolv.conf, which is then not read at
 * all (no search domains either); later calls add servers, tried in
 * order.  0, or -1 with EINVAL, ENOMEM, EBUSY (queries are in flight:
 * configure before the first query, or when none is pending).
 */
EPUMP_API int epcore_dnsrv_add(epcore_t *core, const char *ip, int port);

/*
 * How long to wait for a server's answer (timeout_ms > 0; c-ares's
 * default 5000, doubled on each round) and how many rounds over the
 * servers (tries > 0; default 4); <= 0 keeps the value.  0, or -1 with
 * EINVAL, EBUSY (queries in flight).
 */
EPUMP_API int epcore_dns_config(epcore_t *core, int timeout_ms, int tries);

#ifdef __cplusplus
}
#endif

#endif /* EPUMP_H */
