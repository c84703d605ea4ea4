/* fake_proxy_main.c -- runs the fake icproxy as a process for the iccli black-box tests.
 * Usage: fake_icproxy PORT_FILE  (listens on a free loopback port, writes it to PORT_FILE). */
#include <stdio.h>
#include <unistd.h>

#include "fake_proxy.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fake_icproxy PORT_FILE\n");
        return 2;
    }
    fake_proxy_t *f = fake_proxy_start(0);
    if (!f) return 1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
    FILE *out = fopen(tmp, "w");
    if (!out) return 1;
    fprintf(out, "%d\n", f->port);
    fclose(out);
    rename(tmp, argv[1]); /* appears whole, so the test can poll for it */
    for (;;) pause();
}
