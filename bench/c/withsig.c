/* withsig ign|ignblk PROG [ARG...]: start PROG with a clean signal state except SIGINT
 * ignored (ign), or SIGINT ignored and SIGTERM and SIGUSR2 blocked (ignblk). */
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    reset_signals();
    signal(SIGINT, SIG_IGN);
    if (strcmp(argv[1], "ignblk") == 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR2);
        sigprocmask(SIG_BLOCK, &set, NULL);
    }
    execv(argv[2], argv + 2);
    die("execv");
}
