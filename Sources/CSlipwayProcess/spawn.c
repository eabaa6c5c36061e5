#define _GNU_SOURCE
#include <spawn.h>
#include "CSlipwayProcess.h"

int cslipway_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int cslipway_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

short cslipway_spawn_setsid_flag(void) {
    return POSIX_SPAWN_SETSID;
}
