/* The "true-like program" of the start-up benchmark: exits 0 at once. */
int main(void) { return 0; }
