/* sigchild echo|count: the signalled child. Writes 'R' to fd 3 when its handlers are in place.
 *   echo:  on SIGUSR1 writes one byte to fd 3 (signal-forward latency);
 *   count: counts SIGUSR1; on SIGUSR2 writes the count as a uint64 to fd 3 (signal storm). */
#include "common.h"

static volatile uint64_t received;

static void on_usr1_echo(int sig) {
    (void)sig;
    int saved = errno;
    char c = 'S';
    (void)!write(3, &c, 1);
    errno = saved;
}

static void on_usr1_count(int sig) {
    (void)sig;
    received++;
}

static void on_usr2_report(int sig) {
    (void)sig;
    int saved = errno;
    uint64_t n = received;
    (void)!write(3, &n, sizeof n);
    errno = saved;
}

static void install(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) die("sigaction");
}

int main(int argc, char **argv) {
    int count = argc > 1 && strcmp(argv[1], "count") == 0;
    install(SIGUSR1, count ? on_usr1_count : on_usr1_echo);
    if (count) install(SIGUSR2, on_usr2_report);
    char r = 'R';
    if (write(3, &r, 1) != 1) die("write ready");
    for (;;) pause();
}
