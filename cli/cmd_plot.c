/* cmd_plot.c: placeholder until its issue lands. */
#include <string.h>

#include "cli.h"

int cmd_plot(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: pipelab plot ...\n\nNot implemented yet.\n");
    return 0;
  }
  return cli_fail(PL_ENOTSUP, "'pipelab plot' is not implemented yet");
}
