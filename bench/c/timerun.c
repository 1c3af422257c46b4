/* timerun N PROG [ARG...]: runs PROG N times (fork, exec, wait), one wall time in ns per line. */
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    alarm(600);
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) {
        int64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            execv(argv[2], argv + 2);
            _exit(127);
        }
        int st = wait_bounded(pid, 5000);
        int64_t t1 = now_ns();
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "timerun: run %d failed (status %d)\n", i, st);
            return 4;
        }
        printf("%lld\n", (long long)(t1 - t0));
    }
    return 0;
}
