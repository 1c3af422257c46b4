/* Fast helpers for tests/test_hardening_signals.py and tests/test_races.py, where Python is too
 * slow: floods of signals, thousands of orphans, a child that dies together with its children.
 * testing/hardening.py compiles it with gcc at test time.
 *
 *   hardening_tool flood PID COUNT SIG...   send COUNT signals to PID, cycling through SIG...
 *                                           (COUNT 0: until killed); prints "started" after the
 *                                           first, then, at the end, "SIG ACCEPTED REFUSED" for
 *                                           each SIG
 *   hardening_tool flood-thread PID COUNT SIG...
 *                                           the same, directed at PID's main thread (tgkill(2)):
 *                                           the kernel hands out a thread's own pending signals
 *                                           before those sent to the whole process
 *   hardening_tool orphans COUNT            make COUNT orphans (each exits at once); "made COUNT"
 *   hardening_tool burst COUNT STATUS       fork COUNT children blocked on a pipe, let them all go
 *                                           and _exit(STATUS) in the same instant
 *
 * Signals below 32 are sent with kill(2): a standard signal that is already pending merges, and
 * kill(2) never reports it. Signals from 32 up are real-time for the kernel (glibc keeps 32 and
 * 33 for itself, but the kernel queues them like any other) and go through rt_sigqueueinfo(2),
 * which, unlike kill(2), fails with EAGAIN when the receiver's queue is full instead of
 * silently dropping the signal's queue entry: so ACCEPTED counts exactly the instances queued.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SIGNALS 64

static void die(const char *what) {
    perror(what);
    exit(1);
}

static long number(const char *text) {
    char *end;
    long n = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || n < 0) {
        fprintf(stderr, "not a number: %s\n", text);
        exit(2);
    }
    return n;
}

static int send_one(pid_t pid, int sig, int to_thread) {
    if (sig < 32)
        return to_thread ? (int)syscall(SYS_tgkill, pid, pid, sig) : kill(pid, sig);
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE; /* the kernel refuses positive codes from another process */
    info.si_pid = getpid();
    info.si_uid = getuid();
    if (to_thread)
        return (int)syscall(SYS_rt_tgsigqueueinfo, pid, pid, sig, &info);
    return (int)syscall(SYS_rt_sigqueueinfo, pid, sig, &info);
}

static int flood(pid_t pid, long count, int nsig, const int *sigs, int to_thread) {
    long accepted[MAX_SIGNALS] = {0}, refused[MAX_SIGNALS] = {0};
    int started = 0;
    for (long i = 0; count == 0 || i < count; i++) {
        int k = (int)(i % nsig);
        if (send_one(pid, sigs[k], to_thread) == 0) {
            accepted[k]++;
            if (!started) {
                started = 1;
                printf("started\n");
                fflush(stdout);
            }
        } else if (errno == EAGAIN) {
            refused[k]++;
        } else {
            die("sending a signal");
        }
    }
    for (int k = 0; k < nsig; k++)
        printf("%d %ld %ld\n", sigs[k], accepted[k], refused[k]);
    return 0;
}

static int orphans(long count) {
    for (long i = 0; i < count; i++) {
        pid_t middle = fork();
        if (middle < 0)
            die("fork");
        if (middle == 0) {
            /* The orphan exits at once; its parent is gone by then, or about to be. */
            if (fork() < 0)
                _exit(1);
            _exit(0);
        }
        int status;
        if (waitpid(middle, &status, 0) < 0 || status != 0)
            die("the intermediate process");
    }
    printf("made %ld\n", count);
    return 0;
}

static int burst(long count, int status) {
    int gate[2];
    if (pipe(gate) < 0)
        die("pipe");
    for (long i = 0; i < count; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            char byte;
            close(gate[1]);
            /* Blocks until the parent's write end closes, which _exit below does. */
            while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {
            }
            _exit(0);
        }
    }
    close(gate[0]);
    /* Closing the last write end wakes every child at once: they exit in the same instant as
     * this process, so their SIGCHLDs and its own reach the init together and merge. */
    _exit(status);
}

int main(int argc, char **argv) {
    int to_thread = argc >= 2 && strcmp(argv[1], "flood-thread") == 0;
    if (argc >= 5 && (to_thread || strcmp(argv[1], "flood") == 0) && argc - 4 <= MAX_SIGNALS) {
        int sigs[MAX_SIGNALS];
        for (int k = 0; k < argc - 4; k++)
            sigs[k] = (int)number(argv[4 + k]);
        return flood((pid_t)number(argv[2]), number(argv[3]), argc - 4, sigs, to_thread);
    }
    if (argc == 3 && strcmp(argv[1], "orphans") == 0)
        return orphans(number(argv[2]));
    if (argc == 4 && strcmp(argv[1], "burst") == 0)
        return burst(number(argv[2]), (int)number(argv[3]));
    fprintf(stderr, "usage: see the comment at the top of hardening_tool.c\n");
    return 2;
}
