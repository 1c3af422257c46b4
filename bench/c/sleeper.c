/* A child that sleeps forever without touching its signal state (used for memory, idle and
 * signal-state measurements, where /proc/PID/status of the child must show what it inherited). */
#include <unistd.h>

int main(void) {
    for (;;) pause();
}
