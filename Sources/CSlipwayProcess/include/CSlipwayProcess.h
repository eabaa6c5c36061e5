#ifndef CSLIPWAY_PROCESS_H
#define CSLIPWAY_PROCESS_H
#include <spawn.h>

/// glibc's GNU extensions to posix_spawn, which Swift's Glibc module does not import.
int cslipway_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int cslipway_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// POSIX_SPAWN_SETSID: the child leads a new session.
short cslipway_spawn_setsid_flag(void);

/// The most listening sockets one hand-over message carries.
#define CSLIPWAY_MAX_PASSED_FDS 64

/// Sends `length` bytes (at least one) with `count` file descriptors (SCM_RIGHTS) on a
/// Unix stream socket. 0 on success, -1 with errno.
int cslipway_send_fds(int sock, const void *data, size_t length, const int *fds, int count);
/// Receives one message of at most `capacity` bytes and the descriptors that came with it
/// (close-on-exec; those beyond `max` are closed). Returns the byte count (0: the peer
/// closed), -1 with errno.
long cslipway_recv_fds(int sock, void *data, size_t capacity, int *fds, int max, int *count);
#endif
