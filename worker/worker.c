/* worker/worker.c: TEMPORARY stub until the real worker lands. */

#include <signal.h>
#include <unistd.h>

#include "common/ipc.h"
#include "worker/worker.h"

int
am_worker_main(am_conf_t *conf, int slot, int ipc_fd)
{
    sigset_t set;
    int sig;

    (void)conf;
    (void)slot;
    am_ipc_send(ipc_fd, AM_IPC_READY, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigwait(&set, &sig);
    return 0;
}
