/*
 * net_file.c - files, pipes, ttys and standard input as devices.  A
 * regular file is always readable and no poller watches one: its device
 * gets IOE_READ once and reads to end of file.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static iodev_t *file_dev(epcore_t *core, int fd, int fdtype, uint32_t extra,
                         void *para, IOHandler *handler, void *cbpara)
{
	struct stat st;
	iodev_t *dev;
	int fl;

	if (core == NULL || handler == NULL || fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		return NULL; /* EBADF */
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		extra |= PF_REGFILE;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 ||
	    (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return NULL;
	if (S_ISSOCK(st.st_mode))
		extra |= PF_SOCKET;
	dev = ep__dev_make(core, fd, fdtype, extra, para, handler, cbpara);
	if (dev == NULL)
		return NULL;
	if (iodev_bind_epump(dev, BIND_CURRENT_EPUMP, 0) < 0) {
		int e = errno;

		/* On failure the fd stays the caller's. */
		atomic_fetch_or(&dev->pflags, PF_NOCLOSE);
		iodev_close(dev);
		errno = e;
		return NULL;
	}
	return dev;
}

iodev_t *epfile_bind_fd(epcore_t *core, int fd, void *para,
                        IOHandler *handler, void *cbpara)
{
	return file_dev(core, fd, FDT_FILEDEV, 0, para, handler, cbpara);
}

iodev_t *epfile_bind_stdin(epcore_t *core, void *para, IOHandler *handler,
                           void *cbpara)
{
	return file_dev(core, STDIN_FILENO, FDT_STDIN, PF_NOCLOSE, para,
	                handler, cbpara);
}
