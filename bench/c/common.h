/* Shared bits of the benchmark's C helpers: clocks, signal reset, bounded waits. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Monotonic clock in nanoseconds. */
static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Every signal to its default action, empty mask: no state leaks from whoever started us. */
static inline void reset_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
    }
}

static inline void die(const char *what) {
    fprintf(stderr, "bench helper: %s: %s\n", what, strerror(errno));
    exit(3);
}

/* Read exactly n bytes from fd, waiting at most timeout_ms in total; 0 on success, -1 otherwise. */
static inline int read_full(int fd, void *buf, size_t n, int timeout_ms) {
    size_t got = 0;
    int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
    while (got < n) {
        int64_t left = (deadline - now_ns()) / 1000000LL;
        if (left < 0) return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        got += (size_t)k;
    }
    return 0;
}

/* Wait for pid for at most timeout_ms (blocking on a pidfd, so the wake-up is immediate);
 * on time-out SIGKILL it and reap. Returns the wait status, or -1 on time-out or error. */
static inline int wait_bounded(pid_t pid, int timeout_ms) {
    int status;
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd >= 0) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000LL;
        int r;
        do {
            int64_t left = (deadline - now_ns()) / 1000000LL;
            r = poll(&p, 1, left < 0 ? 0 : (int)left);
        } while (r < 0 && errno == EINTR);
        close(pfd);
        if (r <= 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
    }
    /* Exited (or no pidfd support): reaping cannot block for long now. */
    if (pfd < 0) alarm((unsigned)(timeout_ms / 1000 + 1));
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (pfd < 0) alarm(0);
    return r == pid ? status : -1;
}

/* fork + exec argv with the write end of a pipe as fd 3; returns pid, *rfd gets the read end. */
static inline pid_t spawn_with_pipe(char **argv, int *rfd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        if (p[1] == 3) {
            fcntl(3, F_SETFD, 0);
        } else if (dup2(p[1], 3) < 0) { /* dup2 clears O_CLOEXEC on the copy */
            _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

#endif
