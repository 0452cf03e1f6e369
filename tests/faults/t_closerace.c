/*
 * t_closerace.c - iodev_close() and iodev_close_by() from a foreign thread
 * racing readiness of the same fd, up to 10^5 times per backend (bounded
 * in time: it stops early and says how many ran).  Per batch of socket
 * pairs a writer thread makes each device readable while a closer thread
 * closes it, then pokes it once more.  include/epump.h promises: no
 * handler of the device starts after the close returned, its id stops
 * naming it at once, its fd gets closed.  Checked: a handler that sees
 * its device closed at entry may have been claimed just before the close
 * (one per device); a second one, or one called with another device than
 * its own (a stale event for a reused slot), is a bug; every peer sees
 * its end closed; the old id is ENOENT for close_by, by_id and post; the
 * process ends with the fds it had.
 */
#include "faultutil.h"

#define BATCH 64
#define GOAL  100000  /* iterations per backend, over two core shapes */

struct slot {
	iodev_t *dev;
	uint64_t id;
	int peer;
	atomic_int closed;  /* the close returned */
	atomic_int calls;   /* handler entries */
	atomic_int late;    /* entries that saw closed */
};

struct race {
	epcore_t *core;
	struct slot *s;     /* this batch */
	int n;
	int by_id;          /* close by id (else by pointer) this batch */
	atomic_int quit;
	atomic_long close_fail, poke_fail;
	pthread_barrier_t start, done;
};

static atomic_long stale;

static int race_handler(void *cbpara, void *obj, int event, int fdtype)
{
	struct slot *s = cbpara;
	char buf[256];
	uint64_t id;

	(void)event;
	(void)fdtype;
	atomic_fetch_add(&s->calls, 1);
	if (atomic_load(&s->closed))
		atomic_fetch_add(&s->late, 1);
	/* The id reads 0 once a close has begun (the close may come while
	 * this runs); another id is a newer device in the same memory. */
	id = iodev_id(obj);
	if (obj != s->dev || (id != s->id && id != 0)) {
		atomic_fetch_add(&stale, 1);
		return 0;
	}
	while (read(iodev_fd(obj), buf, sizeof(buf)) > 0)
		;
	return 0;
}

/* Makes the peer's device readable; its fd may be closed already. */
static void poke(struct race *r, int peer, char c)
{
	if (write(peer, &c, 1) != 1 && errno != EPIPE && errno != ECONNRESET)
		atomic_fetch_add(&r->poke_fail, 1);
}

static void *writer_main(void *arg)
{
	struct race *r = arg;
	int i;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (atomic_load(&r->quit))
			return NULL;
		for (i = 0; i < r->n; i++)
			poke(r, r->s[i].peer, 'w');
		pthread_barrier_wait(&r->done);
	}
}

static void *closer_main(void *arg)
{
	struct race *r = arg;
	int i;

	for (;;) {
		pthread_barrier_wait(&r->start);
		if (atomic_load(&r->quit))
			return NULL;
		for (i = 0; i < r->n; i++) {
			struct slot *s = &r->s[i];

			if (r->by_id) {
				if (iodev_close_by(r->core, s->id) != 0)
					atomic_fetch_add(&r->close_fail, 1);
			} else {
				iodev_close(s->dev);
			}
			atomic_store(&s->closed, 1);
			/* Readable again after the close: a device still
			 * polled would start its handler once more. */
			poke(r, s->peer, 'c');
		}
		pthread_barrier_wait(&r->done);
	}
}

static int noop(void *cbpara, void *obj, int event, int fdtype)
{
	(void)cbpara;
	(void)obj;
	(void)event;
	(void)fdtype;
	return 0;
}

/* Runs batches on a core with 2 epumps and `workers' workers until goal
 * iterations or ms pass. */
static void race_run(int workers, int goal, unsigned ms)
{
	struct race r;
	struct slot *slots = calloc((size_t)goal, sizeof(*slots));
	pthread_t tw, tc;
	int fds0, fds1, i, done = 0, setup_fail = 0, not_closed = 0;
	int still_named = 0, twice = 0, once = 0, ran = 0;
	uint64_t t0, end;

	memset(&r, 0, sizeof(r));
	atomic_store(&stale, 0);
	fds0 = fu_nfds();
	r.core = epcore_new(0);
	epcore_start_epump(r.core, 2);
	epcore_start_worker(r.core, workers);
	fds1 = fu_nfds();
	pthread_barrier_init(&r.start, NULL, 3);
	pthread_barrier_init(&r.done, NULL, 3);
	pthread_create(&tw, NULL, writer_main, &r);
	pthread_create(&tc, NULL, closer_main, &r);

	t0 = tu_now_ms();
	end = t0 + ms;
	while (done < goal && tu_now_ms() < end) {
		int n = goal - done < BATCH ? goal - done : BATCH;

		r.s = &slots[done];
		r.n = n;
		r.by_id = (done / BATCH) % 2;
		for (i = 0; i < n; i++) {
			struct slot *s = &r.s[i];
			int sv[2];

			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			               sv) < 0) {
				setup_fail++;
				s->peer = -1;
				continue;
			}
			s->peer = sv[1];
			s->dev = iodev_new(r.core, sv[0], FDT_USOCK_CONNECTED,
			                   NULL, race_handler, s);
			if (s->dev == NULL) {
				setup_fail++;
				close(sv[0]);
				continue;
			}
			s->id = iodev_id(s->dev);
			if (iodev_bind_epump(s->dev, BIND_ONE_EPUMP, 0) != 0)
				setup_fail++;
		}
		if (setup_fail > 0)
			break;
		pthread_barrier_wait(&r.start);
		pthread_barrier_wait(&r.done);
		for (i = 0; i < n; i++) {
			struct slot *s = &r.s[i];

			if (!fu_sees_close(s->peer, 3000))
				not_closed++;
			close(s->peer);
			errno = 0;
			if (iodev_close_by(r.core, s->id) != -1 ||
			    errno != ENOENT)
				still_named++;
			if (iodev_by_id(r.core, s->id) != NULL)
				still_named++;
			if (iodev_post(r.core, s->id, IOE_USER_DEFINED, NULL,
			               noop, NULL) != -1 || errno != ENOENT)
				still_named++;
		}
		done += n;
	}
	atomic_store(&r.quit, 1);
	pthread_barrier_wait(&r.start);
	pthread_join(tw, NULL);
	pthread_join(tc, NULL);

	TAP_OK(done >= 1000 && setup_fail == 0,
	       "%d workers: %d foreign closes raced readiness in %llu ms "
	       "(goal %d; %d setup failures)", workers, done,
	       (unsigned long long)(tu_now_ms() - t0), goal, setup_fail);
	TAP_IS(atomic_load(&r.close_fail), 0, "every iodev_close_by returned 0");
	TAP_IS(atomic_load(&r.poke_fail), 0, "every write to a peer went in (or met its closed end)");
	TAP_IS(not_closed, 0, "every device's fd was closed (its peer saw it)");
	TAP_IS(still_named, 0, "a closed id names nothing: close_by, by_id, "
	       "post give ENOENT");
	TAP_IS(fu_wait_nfds(fds1, 3000), fds1, "no fd leaked");
	TAP_IS(epcore_free(r.core), 0, "epcore_free");
	TAP_IS(fu_nfds(), fds0, "no fd left after epcore_free");
	for (i = 0; i < done; i++) {
		int late = atomic_load(&slots[i].late);

		once += late == 1;
		twice += late > 1;
		ran += atomic_load(&slots[i].calls) > 0;
	}
	TAP_IS(twice, 0, "no handler started after its device's close returned");
	TAP_IS(atomic_load(&stale), 0, "no event delivered for a stale device");
	tap_diag("%d of %d devices ran a handler before their close; %d "
	         "entered one claimed just before the close returned", ran,
	         done, once);
	pthread_barrier_destroy(&r.start);
	pthread_barrier_destroy(&r.done);
	free(slots);
}

static int one_backend; /* EPUMP_BACKEND was set: only that one runs */

static void all(void)
{
	/* 20 s for the whole test: a third per backend when all three run
	 * (under valgrind only epoll runs, slowly). */
	unsigned per = one_backend || fu_in_valgrind() ? 10000 : 3300;

	race_run(0, GOAL / 2, per);
	race_run(2, GOAL / 2, per);
}

int main(void)
{
	const char *b = getenv("EPUMP_BACKEND");

	one_backend = b != NULL && *b != '\0';
	fu_watchdog(300);
	return tap_backends(all);
}
