/* cmd_compare.c: placeholder until its issue lands. */
#include <string.h>

#include "cli.h"

int cmd_compare(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: pipelab compare ...\n\nNot implemented yet.\n");
    return 0;
  }
  return cli_fail(PL_ENOTSUP, "'pipelab compare' is not implemented yet");
}
