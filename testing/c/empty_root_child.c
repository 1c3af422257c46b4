/*
 * The child of dumb-init as PID 1 in an otherwise empty root (tests/test_release.py):
 * a static program, since that root has no shared libraries, no shell and no /proc.
 *
 * Prints "pid P ppid Q ready" (as this PID namespace numbers them), then waits for a
 * signal with every signal at its default action, as dumb-init leaves them: SIGTERM
 * forwarded by dumb-init kills it, and dumb-init then exits with 128 + 15.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("pid %d ppid %d ready\n", (int)getpid(), (int)getppid());
    if (fflush(stdout) != 0) {
        return 1;
    }
    for (;;) {
        pause();
    }
}
