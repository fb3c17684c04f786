/* cmd_schedules.c: `pipelab schedules`: list the built-in generators. */
#include <string.h>

#include "pipelab/traces.h"
#include "cli.h"

int cmd_schedules(int argc, char **argv)
{
  static const struct option longopts[] = {
    {"format", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};
  enum cli_format fmt = CLI_FMT_TABLE;
  int opt, rc;
  while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
    if (opt == 'h') {
      printf("usage: pipelab schedules [--format (table|json|csv)]\n\n"
             "Lists the built-in schedules with their default chunks per rank "
             "and placement.\n\n"
             "examples:\n"
             "  pipelab schedules\n"
             "  pipelab schedules --format json\n");
      return 0;
    }
    if (opt == 'f') {
      if ((rc = cli_format("schedules", optarg, 7, &fmt)))
        return rc;
      continue;
    }
    return cli_bad_option("schedules", argv);
  }
  if ((rc = cli_no_positionals("schedules", argc, argv)))
    return rc;
  const pl_gen_info *g;
  if (fmt == CLI_FMT_JSON) {
    json_t *a = json_array();
    for (g = pl_gen_list(); g->name; g++) {
      json_t *o = json_object();
      json_object_set_new(o, "name", json_string(g->name));
      json_object_set_new(o, "chunks", json_integer(g->default_chunks));
      json_object_set_new(o, "placement",
                          json_string(pl_placement_name(g->placement)));
      json_object_set_new(o, "summary", json_string(g->summary));
      json_array_append_new(a, o);
    }
    json_dumpf(a, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(a);
  } else if (fmt == CLI_FMT_CSV) {
    printf("name,chunks,placement,summary\n");
    for (g = pl_gen_list(); g->name; g++)
      printf("%s,%d,%s,\"%s\"\n", g->name, g->default_chunks,
             pl_placement_name(g->placement), g->summary);
  } else {
    int nw = 12;
    for (g = pl_gen_list(); g->name; g++)
      if ((int)strlen(g->name) > nw)
        nw = (int)strlen(g->name);
    printf("%-*s %6s %-9s %s\n", nw, "name", "chunks", "placement",
           "summary");
    for (g = pl_gen_list(); g->name; g++)
      printf("%-*s %6d %-9s %s\n", nw, g->name, g->default_chunks,
             pl_placement_name(g->placement), g->summary);
  }
  return 0;
}
