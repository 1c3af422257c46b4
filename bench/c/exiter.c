/* exiter SLEEP_US: sleeps, then writes its CLOCK_MONOTONIC time (int64 ns) to fd 3 and exits 0. */
#include "common.h"

int main(int argc, char **argv) {
    if (argc > 1) usleep((useconds_t)atoi(argv[1]));
    int64_t t = now_ns();
    if (write(3, &t, sizeof t) != sizeof t) _exit(3);
    _exit(0);
}
