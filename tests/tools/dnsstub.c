/*
 * dnsstub.c - a tiny DNS responder for the tests (tests/unit/t_dns.c):
 * UDP and TCP on 127.0.0.1, one port (picked by the kernel unless -p),
 * printed on stdout as the first line.  Plain sockets, one thread, no
 * libepump.  Answers from the table on its command line:
 *
 *   NAME=a:IP[/TTL]     an A record (TTL default 60 s)
 *   NAME=aaaa:IP[/TTL]  an AAAA record
 *   NAME=nx              NXDOMAIN        NAME=servfail   SERVFAIL
 *   NAME=refused         REFUSED         NAME=drop       no answer at all
 *   NAME=tc:IP[/TTL]     over UDP a truncated reply (TC set, no answer);
 *                        over TCP the A record
 *   NAME=slow:MS:IP      the A record, MS milliseconds late
 *
 * NAME may be "*.suffix" (any name ending so).  A name with no rule is
 * NXDOMAIN; a name without a record of the asked type gets an empty
 * NOERROR answer.  Control datagrams (UDP, text, each "!ctl " and a
 * command): "!count NAME" -> the
 * number of queries that matched NAME's rule, "!total", "!tcp" (queries
 * over TCP), "!reset", "!quit".  It exits on "!quit", SIGTERM, or when
 * its parent dies.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { R_A, R_AAAA, R_NX, R_SERVFAIL, R_REFUSED, R_DROP, R_TC, R_SLOW };

struct rule {
	char name[256];
	int kind;
	unsigned char addr[16];
	uint32_t ttl;
	int delay_ms;
	long count;
};

#define MAXRULES 256
#define MAXTCP   64
#define MAXLATE  4096

static struct rule rules[MAXRULES];
static int nrules;
static long total, tcpq;

struct late {
	uint64_t due;
	struct sockaddr_in to;
	unsigned char buf[512];
	int len;
};

static struct late late[MAXLATE];
static int nlate;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_rule(const char *arg)
{
	struct rule *r = &rules[nrules];
	const char *eq = strchr(arg, '=');
	char kind[32], rest[128] = "", *slash, *colon;
	size_t nl;

	if (eq == NULL || nrules >= MAXRULES)
		return -1;
	nl = (size_t)(eq - arg);
	if (nl == 0 || nl >= sizeof(r->name))
		return -1;
	memcpy(r->name, arg, nl);
	r->name[nl] = '\0';
	r->ttl = 60;
	if (sscanf(eq + 1, "%31[^:]:%127s", kind, rest) < 1)
		return -1;
	slash = strchr(rest, '/');
	if (slash != NULL) {
		*slash = '\0';
		r->ttl = (uint32_t)strtoul(slash + 1, NULL, 10);
	}
	if (strcmp(kind, "a") == 0 || strcmp(kind, "tc") == 0) {
		r->kind = kind[0] == 'a' ? R_A : R_TC;
		if (inet_pton(AF_INET, rest, r->addr) != 1)
			return -1;
	} else if (strcmp(kind, "aaaa") == 0) {
		r->kind = R_AAAA;
		if (inet_pton(AF_INET6, rest, r->addr) != 1)
			return -1;
	} else if (strcmp(kind, "nx") == 0) {
		r->kind = R_NX;
	} else if (strcmp(kind, "servfail") == 0) {
		r->kind = R_SERVFAIL;
	} else if (strcmp(kind, "refused") == 0) {
		r->kind = R_REFUSED;
	} else if (strcmp(kind, "drop") == 0) {
		r->kind = R_DROP;
	} else if (strcmp(kind, "slow") == 0) {
		r->kind = R_SLOW;
		r->delay_ms = atoi(rest);
		colon = strchr(rest, ':');
		if (colon == NULL || inet_pton(AF_INET, colon + 1, r->addr) != 1)
			return -1;
	} else {
		return -1;
	}
	nrules++;
	return 0;
}

static int name_match(const char *pat, const char *name)
{
	if (pat[0] == '*' && pat[1] == '.') {
		size_t lp = strlen(pat + 1), ln = strlen(name);

		return ln > lp && strcasecmp(name + ln - lp, pat + 1) == 0;
	}
	return strcasecmp(pat, name) == 0;
}

/*
 * Builds the reply to query q (len bytes) into out; returns its length,
 * 0 for no reply, and *delay the ms to hold it.
 */
static int answer(const unsigned char *q, int len, int tcp,
                  unsigned char *out, int *delay)
{
	char name[256];
	int pos = 12, nlen = 0, i, first = -1, an = 0, rcode = 0, tc = 0;
	int qend, o;
	uint16_t qtype;

	*delay = 0;
	if (len < 12 || (q[2] & 0x80) || ((q[4] << 8) | q[5]) != 1)
		return 0;
	while (pos < len && q[pos] != 0) {
		int l = q[pos];

		if ((l & 0xc0) || pos + 1 + l > len || nlen + l + 1 >= 255)
			return 0;
		if (nlen)
			name[nlen++] = '.';
		memcpy(name + nlen, q + pos + 1, (size_t)l);
		nlen += l;
		pos += 1 + l;
	}
	name[nlen] = '\0';
	if (pos + 5 > len)
		return 0;
	qtype = (uint16_t)((q[pos + 1] << 8) | q[pos + 2]);
	qend = pos + 5;
	total++;
	if (tcp)
		tcpq++;
	for (i = 0; i < nrules; i++)
		if (name_match(rules[i].name, name)) {
			first = i;
			break;
		}
	if (first >= 0)
		rules[first].count++;
	memcpy(out, q, (size_t)qend);
	o = qend;
	if (first < 0) {
		rcode = 3;
	} else {
		for (i = first; i < nrules; i++) {
			struct rule *r = &rules[i];
			int is6;

			if (strcmp(r->name, rules[first].name) != 0)
				continue;
			switch (r->kind) {
			case R_NX: rcode = 3; break;
			case R_SERVFAIL: rcode = 2; break;
			case R_REFUSED: rcode = 5; break;
			case R_DROP: return 0;
			default: break;
			}
			if (r->kind == R_TC && !tcp) {
				tc = 1;
				continue;
			}
			if (r->kind == R_SLOW)
				*delay = r->delay_ms;
			is6 = r->kind == R_AAAA;
			if (r->kind > R_AAAA && r->kind != R_TC &&
			    r->kind != R_SLOW)
				continue;
			if (qtype != (is6 ? 28 : 1))
				continue;
			out[o++] = 0xc0; out[o++] = 12;       /* the qname */
			out[o++] = 0; out[o++] = is6 ? 28 : 1;
			out[o++] = 0; out[o++] = 1;           /* IN */
			out[o++] = (unsigned char)(r->ttl >> 24);
			out[o++] = (unsigned char)(r->ttl >> 16);
			out[o++] = (unsigned char)(r->ttl >> 8);
			out[o++] = (unsigned char)r->ttl;
			out[o++] = 0; out[o++] = is6 ? 16 : 4;
			memcpy(out + o, r->addr, is6 ? 16 : 4);
			o += is6 ? 16 : 4;
			an++;
		}
	}
	if (rcode || tc)
		an = 0, o = qend;
	out[2] = (unsigned char)(0x84 | (q[2] & 0x79) | (tc ? 0x02 : 0));
	out[3] = (unsigned char)(0x80 | rcode);
	out[6] = 0; out[7] = (unsigned char)an;
	out[8] = out[9] = out[10] = out[11] = 0;
	return o;
}

static void control(int fd, const char *msg, size_t len,
                    struct sockaddr_in *from, socklen_t flen)
{
	char buf[300], out[64];
	long v = -1;
	int i;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	if (strncmp(buf, "!count ", 7) == 0) {
		v = 0;
		for (i = 0; i < nrules; i++)
			if (strcmp(rules[i].name, buf + 7) == 0) {
				v = rules[i].count;
				break;
			}
	} else if (strcmp(buf, "!total") == 0) {
		v = total;
	} else if (strcmp(buf, "!tcp") == 0) {
		v = tcpq;
	} else if (strcmp(buf, "!reset") == 0) {
		for (i = 0; i < nrules; i++)
			rules[i].count = 0;
		total = tcpq = 0;
		v = 0;
	} else if (strcmp(buf, "!quit") == 0) {
		exit(0);
	}
	snprintf(out, sizeof(out), "%ld", v);
	(void)sendto(fd, out, strlen(out), 0, (struct sockaddr *)from, flen);
}

static int read_full(int fd, unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int u, t = -1, i, port = 0, on = 1, tries;
	struct pollfd pf[2 + MAXTCP];
	int ntcp = 0;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
			port = atoi(argv[++i]);
			continue;
		}
		if (parse_rule(argv[i]) < 0) {
			fprintf(stderr, "dnsstub: bad rule %s\n", argv[i]);
			return 2;
		}
	}
	for (tries = 0; tries < 50 && t < 0; tries++) {
		u = socket(AF_INET, SOCK_DGRAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sa.sin_port = htons((uint16_t)port);
		if (bind(u, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("dnsstub: bind");
			return 1;
		}
		sl = sizeof(sa);
		getsockname(u, (struct sockaddr *)&sa, &sl);
		t = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(t, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(t, 64) < 0) {
			close(t);
			close(u);
			t = -1;
			if (port)
				break;
		}
	}
	if (t < 0) {
		fprintf(stderr, "dnsstub: no port for UDP and TCP\n");
		return 1;
	}
	{
		int big = 4 << 20;

		/* Room for a burst of 2,000 queries: beyond rmem_max if
		 * allowed (CAP_NET_ADMIN), else as much as it gives. */
		if (setsockopt(u, SOL_SOCKET, SO_RCVBUFFORCE, &big,
		               sizeof(big)) < 0)
			setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);

	for (;;) {
		int timeout = -1, n;
		uint64_t now = now_ms();

		for (i = 0; i < nlate; i++) {
			int left = late[i].due > now ? (int)(late[i].due - now) : 0;

			if (timeout < 0 || left < timeout)
				timeout = left;
		}
		pf[0].fd = u; pf[0].events = POLLIN;
		pf[1].fd = t; pf[1].events = POLLIN;
		n = poll(pf, (nfds_t)(2 + ntcp), timeout);
		if (n < 0 && errno != EINTR)
			return 1;
		now = now_ms();
		for (i = 0; i < nlate;) {
			if (late[i].due <= now) {
				(void)sendto(u, late[i].buf, (size_t)late[i].len, 0,
				             (struct sockaddr *)&late[i].to,
				             sizeof(late[i].to));
				late[i] = late[--nlate];
			} else {
				i++;
			}
		}
		if (n <= 0)
			continue;
		if (pf[0].revents & POLLIN) {
			for (;;) {
				unsigned char q[1500], out[1500];
				struct sockaddr_in from;
				socklen_t fl = sizeof(from);
				ssize_t r = recvfrom(u, q, sizeof(q), MSG_DONTWAIT,
				                     (struct sockaddr *)&from, &fl);
				int delay, ol;

				if (r <= 0)
					break;
				/* "!ctl ": its third byte makes the DNS opcode 14,
				 * which no resolver sends. */
				if (r >= 5 && memcmp(q, "!ctl ", 5) == 0) {
					control(u, (char *)q + 5, (size_t)r - 5,
					        &from, fl);
					continue;
				}
				ol = answer(q, (int)r, 0, out, &delay);
				if (ol <= 0)
					continue;
				if (delay > 0 && nlate < MAXLATE && ol <= 512) {
					late[nlate].due = now_ms() + (uint64_t)delay;
					late[nlate].to = from;
					memcpy(late[nlate].buf, out, (size_t)ol);
					late[nlate].len = ol;
					nlate++;
				} else if (delay <= 0) {
					(void)sendto(u, out, (size_t)ol, 0,
					             (struct sockaddr *)&from, fl);
				}
			}
		}
		if ((pf[1].revents & POLLIN) && ntcp < MAXTCP) {
			int c = accept(t, NULL, NULL);

			if (c >= 0) {
				pf[2 + ntcp].fd = c;
				pf[2 + ntcp].events = POLLIN;
				pf[2 + ntcp].revents = 0;
				ntcp++;
			}
		}
		for (i = 0; i < ntcp; i++) {
			unsigned char hdr[2], q[65536], out[1500 + 2];
			int c = pf[2 + i].fd, ql, ol, delay;

			if (!(pf[2 + i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (read_full(c, hdr, 2) < 0 ||
			    (ql = (hdr[0] << 8) | hdr[1]) == 0 ||
			    read_full(c, q, (size_t)ql) < 0) {
				close(c);
				pf[2 + i] = pf[2 + --ntcp];
				i--;
				continue;
			}
			ol = answer(q, ql, 1, out + 2, &delay);
			if (ol > 0) {
				out[0] = (unsigned char)(ol >> 8);
				out[1] = (unsigned char)ol;
				(void)write(c, out, (size_t)ol + 2);
			}
		}
	}
}
