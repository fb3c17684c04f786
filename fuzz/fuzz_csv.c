/* fuzz_csv.c: libFuzzer target for the PyTorch schedule CSV reader
 * (sim/csv.c) and what the commands do with what it accepts: convert's
 * lowering and unit-time dry run (sim/lower.c), the schedule that validate
 * and simulate use, its validation (counts, order, deadlock check) and the
 * round trip through the CSV writer (fuzz/roundtrip.h). The input is the
 * file's bytes. */
#include <stdint.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  struct pl_errbuf eb = PL_ERRBUF_INIT;
  pl_pt_sched *t = NULL;
  /* The table that convert writes and lowers; rt_sched_csv then reads the
   * schedule that validate and simulate use, and validates it. */
  if (pl_pt_read_csv(text, size, PL_DIALECT_AUTO, &t, NULL, &eb) == PL_OK) {
    /* convert --to comms and --unit-time: lowering and the dry run. */
    pl_pt_sched *low = NULL;
    int steps;
    if (pl_pt_lower(t, &low, &eb) == PL_OK) {
      pl_pt_unit_time(low, NULL, &steps, &eb);
      pl_pt_destroy(low);
    }
    pl_pt_destroy(t);
  } else if (!eb.msg[0]) {
    fprintf(stderr, "refused without a message\n");
    abort();
  }
  char why[512];
  if (rt_sched_csv(text, size, why, sizeof why)) {
    fprintf(stderr, "round trip: %s\n", why);
    abort();
  }
  return 0;
}
