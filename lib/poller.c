/*
 * poller.c - choosing a backend by name (EPUMP_BACKEND) or by preference.
 */
#include "config.h"

#include <string.h>

#include "poller.h"

static const struct ep__poller_ops *const backends[] = {
#ifdef HAVE_SYS_EPOLL_H
	&ep__poller_epoll,
#endif
	&ep__poller_poll,
	&ep__poller_select,
};

const struct ep__poller_ops *ep__poller_find(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0')
		return backends[0];
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
