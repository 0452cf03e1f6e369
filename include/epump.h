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
 * Make a device of an open fd (made non-blocking; the device owns it and
 * closes it).  The device is not polled until iodev_bind_epump(); its
 * interest starts as RWF_READ.  NULL with EINVAL (NULL core or handler,
 * negative fd, fdtype not a device type), EBADF (fd not open), ECANCELED
 * (core stopped), ENOMEM.
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

/* Accessors.  The id is never 0 and never reused by another device. */
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

/* Accessors for the timer a handler receives (valid during the call). */
EPUMP_API uint64_t iotimer_id(const iotimer_t *t);
EPUMP_API int iotimer_cmdid(const iotimer_t *t);
EPUMP_API void *iotimer_para(const iotimer_t *t);

#ifdef __cplusplus
}
#endif

#endif /* EPUMP_H */
