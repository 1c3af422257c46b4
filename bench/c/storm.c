/* storm N PROG [ARG...]: starts PROG (an init running `sigchild count`) with a pipe on fd 3,
 * sends it N SIGUSR1 as fast as possible, then SIGUSR2 and waits for the child's answer.
 * Prints key=value lines: sent, send_ns, answered, received, cpu_ticks, run_ns, alive. */
#include "common.h"

/* utime+stime (clock ticks) and on-CPU ns of pid; -1 if gone. */
static void cpu_of(pid_t pid, long long *ticks, long long *run_ns) {
    char path[64], buf[1024];
    *ticks = -1;
    *run_ns = -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        char *p = strrchr(buf, ')');
        unsigned long ut, st;
        /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            *ticks = (long long)(ut + st);
    }
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%lld", run_ns) != 1) *run_ns = -1;
        fclose(f);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    alarm(120);
    long n = atol(argv[1]);
    int rfd;
    pid_t pid = spawn_with_pipe(argv + 2, &rfd);
    char c;
    if (read_full(rfd, &c, 1, 5000) < 0 || c != 'R') {
        fprintf(stderr, "storm: child never became ready\n");
        kill(pid, SIGKILL);
        wait_bounded(pid, 5000);
        return 4;
    }
    long long t0k, t0n, t1k, t1n;
    cpu_of(pid, &t0k, &t0n);
    long sent = 0;
    int64_t s0 = now_ns();
    for (; sent < n; sent++)
        if (kill(pid, SIGUSR1) < 0) break;
    int64_t s1 = now_ns();
    usleep(100000);
    uint64_t received = 0;
    int answered = kill(pid, SIGUSR2) == 0 && read_full(rfd, &received, sizeof received, 5000) == 0;
    usleep(100000);
    cpu_of(pid, &t1k, &t1n);
    int st;
    int alive = waitpid(pid, &st, WNOHANG) == 0;
    printf("sent=%ld\nsend_ns=%lld\nanswered=%d\nreceived=%llu\n", sent, (long long)(s1 - s0),
           answered, (unsigned long long)received);
    printf("cpu_ticks=%lld\nrun_ns=%lld\nclk_tck=%ld\nalive=%d\n", t1k - t0k, t1n - t0n,
           sysconf(_SC_CLK_TCK), alive);
    if (alive) {
        kill(pid, SIGTERM);
        if (wait_bounded(pid, 5000) < 0) fprintf(stderr, "storm: had to SIGKILL pid %d\n", pid);
    } else if (WIFSIGNALED(st)) {
        printf("killed_by=%d\n", WTERMSIG(st));
    } else {
        printf("exited=%d\n", WEXITSTATUS(st));
    }
    return 0;
}
