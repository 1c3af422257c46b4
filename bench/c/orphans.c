/* orphans N: run as the direct child of an init that is PID 1 of a fresh PID namespace.
 * A helper process forks N children that exit at once (zombies of the helper), then the
 * helper exits: the N zombies are re-parented to the init, which must reap them.
 * Prints made=, reaped_ns= (helper's exit to the last zombie gone) and left= (not reaped). */
#include "common.h"

#include <sys/mman.h>

struct shared {
    volatile int made;
    volatile int64_t t0;
    pid_t pids[];
};

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    alarm(120);
    int n = atoi(argv[1]);
    struct shared *sh = mmap(NULL, sizeof *sh + (size_t)n * sizeof(pid_t),
                             PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) die("mmap");
    pid_t helper = fork();
    if (helper < 0) die("fork");
    if (helper == 0) {
        int made = 0;
        for (; made < n; made++) {
            pid_t p = fork();
            if (p < 0) break;
            if (p == 0) _exit(0);
            sh->pids[made] = p;
        }
        /* Wait (without reaping) until every child is a zombie. */
        for (int i = 0; i < made; i++) {
            siginfo_t si;
            while (waitid(P_PID, (id_t)sh->pids[i], &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
            }
        }
        sh->made = made;
        sh->t0 = now_ns();
        _exit(0);
    }
    if (wait_bounded(helper, 60000) < 0) {
        fprintf(stderr, "orphans: helper did not finish\n");
        return 4;
    }
    int made = sh->made;
    int left = made;
    int64_t deadline = now_ns() + 60LL * 1000000000LL;
    while (left > 0 && now_ns() < deadline) {
        int k = 0;
        for (int i = 0; i < left; i++) {
            if (kill(sh->pids[i], 0) == 0 || errno != ESRCH) sh->pids[k++] = sh->pids[i];
        }
        left = k;
    }
    int64_t t1 = now_ns();
    printf("made=%d\nreaped_ns=%lld\nleft=%d\n", made, (long long)(t1 - sh->t0), left);
    return 0;
}
