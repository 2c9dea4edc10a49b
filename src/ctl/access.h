/* access.h - who may run which control command.
 *
 * root and the daemon's own user may run every command; members of the
 * socket's group may run read-only commands; anyone else is refused. The
 * socket file's mode (0660) is the first gate; this is the second, so a
 * permissive directory or mode mistake does not hand out control. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

enum ctl_access { CTL_ACCESS_NONE = 0, CTL_ACCESS_READ, CTL_ACCESS_ALL };

struct ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* supplementary groups (SO_PEERGROUPS) */
	size_t ngroups;
};

enum ctl_access ctl_access_decide(const struct ctl_peer *p, uid_t daemon_uid, gid_t socket_gid);

/* Reads the peer's credentials from a connected Unix socket: 0 or -errno. */
int ctl_access_peer(int fd, struct ctl_peer *p);

const char *ctl_access_name(enum ctl_access a);
