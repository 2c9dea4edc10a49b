#include "config.h"

#include "ctl/access.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

enum ctl_access ctl_access_decide(const struct ctl_peer *p, uid_t daemon_uid, gid_t socket_gid)
{
	if (p->uid == 0 || p->uid == daemon_uid)
		return CTL_ACCESS_ALL;
	if (p->gid == socket_gid)
		return CTL_ACCESS_READ;
	for (size_t i = 0; i < p->ngroups; i++)
		if (p->groups[i] == socket_gid)
			return CTL_ACCESS_READ;
	return CTL_ACCESS_NONE;
}

int ctl_access_peer(int fd, struct ctl_peer *p)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -errno;
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
#ifdef SO_PEERGROUPS
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
		p->ngroups = len / sizeof(gid_t);
	/* ERANGE (more than 64 groups): keep the primary group only. */
#endif
	return 0;
}

const char *ctl_access_name(enum ctl_access a)
{
	return a == CTL_ACCESS_ALL ? "all" : a == CTL_ACCESS_READ ? "read-only" : "none";
}
