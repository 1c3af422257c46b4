/* exitlat N PROG [ARG...]: N times starts PROG (an init running `exiter`, or exiter itself)
 * with a pipe on fd 3 and prints, in ns, the time from the exiter's last instant (written to
 * the pipe) to the moment PROG's exit wakes us up. */
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    alarm(600);
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) {
        int rfd;
        pid_t pid = spawn_with_pipe(argv + 2, &rfd);
        int st = wait_bounded(pid, 5000);
        int64_t t1 = now_ns();
        int64_t t0;
        if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
            read_full(rfd, &t0, sizeof t0, 1000) < 0) {
            fprintf(stderr, "exitlat: run %d failed (status %d)\n", i, st);
            return 4;
        }
        close(rfd);
        printf("%lld\n", (long long)(t1 - t0));
    }
    return 0;
}
