/*
 * net_unix.c - unix domain stream sockets: listen (replacing a stale
 * socket file, removing it when the device closes), accept and connect
 * with the same events as TCP.  Any thread may call these.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * The address of path.  A relative path is made absolute when it fits, so
 * that the socket's own name (getsockname) still finds the file to remove
 * at close if the working directory changed meanwhile.
 */
static int usock_addr(const char *path, struct sockaddr_un *sun,
                      socklen_t *len)
{
	char cwd[sizeof(sun->sun_path)];

	if (path == NULL || *path == '\0') {
		errno = EINVAL;
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL &&
	    strlen(cwd) + 1 + strlen(path) < sizeof(sun->sun_path)) {
		strlcpy(sun->sun_path, cwd, sizeof(sun->sun_path));
		strlcat(sun->sun_path, "/", sizeof(sun->sun_path));
		strlcat(sun->sun_path, path, sizeof(sun->sun_path));
	} else if (strlcpy(sun->sun_path, path, sizeof(sun->sun_path)) >=
	           sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	*len = (socklen_t)sizeof(*sun);
	return 0;
}

/* Removes the socket file a bound unix socket names. */
void ep__unlink_bound(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	if (getsockname(fd, (struct sockaddr *)&sun, &len) == 0 &&
	    sun.sun_family == AF_UNIX && sun.sun_path[0] != '\0')
		(void)unlink(sun.sun_path);
}

/* Is somebody listening on the socket file at sun? */
static int usock_live(const struct sockaddr_un *sun, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

	if (fd < 0)
		return 1; /* cannot tell: do not remove it */
	live = connect(fd, (const struct sockaddr *)sun, len) == 0 ||
	       errno != ECONNREFUSED;
	close(fd);
	return live;
}

iodev_t *epusock_listen(epcore_t *core, const char *path, void *para,
                        IOHandler *handler, void *cbpara, int bindtype,
                        int epump)
{
	struct sockaddr_un sun;
	socklen_t len;
	struct stat st;
	iodev_t *dev;
	int fd, e;

	if (core == NULL || handler == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (usock_addr(path, &sun, &len) < 0)
		return NULL;
	fd = ep__socket(AF_UNIX, SOCK_STREAM);
	if (fd < 0)
		return NULL;
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		/* A socket file nobody listens on is a leftover: replace it;
		 * anything else at path stays. */
		if (errno != EADDRINUSE || lstat(sun.sun_path, &st) < 0 ||
		    !S_ISSOCK(st.st_mode) || usock_live(&sun, len)) {
			e = errno == EADDRINUSE ? EADDRINUSE : errno;
			close(fd);
			errno = e;
			return NULL;
		}
		(void)unlink(sun.sun_path);
		if (bind(fd, (struct sockaddr *)&sun, len) < 0)
			goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0)
		goto fail_unlink;
	/* The socket remembers its path (getsockname): unlinked at close. */
	dev = ep__dev_make(core, fd, FDT_USOCK_LISTEN, PF_SOCKET | PF_UNLINK,
	                   para, handler, cbpara);
	if (dev == NULL)
		goto fail_unlink;
	return ep__dev_bound(dev, bindtype, epump);
fail_unlink:
	e = errno;
	(void)unlink(sun.sun_path);
	errno = e;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

iodev_t *epusock_accept(epcore_t *core, iodev_t *listendev, void *para,
                        IOHandler *handler, void *cbpara, int bindtype,
                        int epump)
{
	return ep__accept(core, listendev, para, handler, cbpara, bindtype,
	                  epump);
}

iodev_t *epusock_connect(epcore_t *core, const char *path, void *para,
                         IOHandler *handler, void *cbpara, int timeout_ms)
{
	struct sockaddr_un sun;
	socklen_t len;

	if (core == NULL || handler == NULL || timeout_ms < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (usock_addr(path, &sun, &len) < 0)
		return NULL;
	return ep__connect(core, (struct sockaddr *)&sun, len,
	                   FDT_USOCK_CONNECTED, para, handler, cbpara,
	                   timeout_ms);
}
