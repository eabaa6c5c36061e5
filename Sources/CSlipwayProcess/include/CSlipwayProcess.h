#ifndef CSLIPWAY_PROCESS_H
#define CSLIPWAY_PROCESS_H
#include <spawn.h>

/// glibc's GNU extensions to posix_spawn, which Swift's Glibc module does not import.
int cslipway_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);
int cslipway_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);
/// POSIX_SPAWN_SETSID: the child leads a new session.
short cslipway_spawn_setsid_flag(void);
#endif
