/* cmd_convert.c: placeholder until the PyTorch CSV work lands. */
#include <string.h>

#include "cli.h"

int cmd_convert(int argc, char **argv)
{
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: pipelab convert ...\n\nNot implemented yet.\n");
    return 0;
  }
  return cli_fail(PL_ENOTSUP, "'pipelab convert' is not implemented yet");
}
