/* siglat N GAP_US PROG [ARG...]: starts PROG (an init running `sigchild echo`, or sigchild
 * itself) with a pipe on fd 3, waits for 'R', then N times: sleep GAP_US, kill(PROG, SIGUSR1),
 * wait for the child's byte. Prints one latency in ns per line. */
#include "common.h"

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    alarm(600);
    int n = atoi(argv[1]);
    int gap = atoi(argv[2]);
    int rfd;
    pid_t pid = spawn_with_pipe(argv + 3, &rfd);
    char c;
    int rc = 0;
    if (read_full(rfd, &c, 1, 5000) < 0 || c != 'R') {
        fprintf(stderr, "siglat: child never became ready\n");
        rc = 4;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        usleep((useconds_t)gap);
        int64_t t0 = now_ns();
        if (kill(pid, SIGUSR1) < 0) die("kill");
        if (read_full(rfd, &c, 1, 2000) < 0) {
            fprintf(stderr, "siglat: no answer to signal %d within 2 s\n", i);
            rc = 4;
            break;
        }
        int64_t t1 = now_ns();
        printf("%lld\n", (long long)(t1 - t0));
    }
    kill(pid, SIGTERM);
    if (wait_bounded(pid, 5000) < 0) fprintf(stderr, "siglat: had to SIGKILL pid %d\n", pid);
    return rc;
}
