/* fuzz_result.c: libFuzzer target for the result reader: result files
 * (--save) and pipelab Chrome traces (--trace), read back by compare and
 * plot (traces/result_read.c). Whatever is accepted must be written back
 * and read again into the same result (fuzz/roundtrip.h), and its
 * cross-rank edges (what compare and the trace writer use) listed. */
#include <stdint.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char why[512];
  if (rt_result_text((const char *)data, size, why, sizeof why)) {
    fprintf(stderr, "round trip: %s\n", why);
    abort();
  }
  return 0;
}
