/* fuzz_kineto.c: libFuzzer target for the PyTorch profiler (Kineto) import
 * (traces/kineto.c). A NUL byte, which JSON text cannot hold, splits the
 * input into up to four rank files, so that clock alignment across files is
 * fuzzed too. An accepted import must survive the result-file round trip
 * (fuzz/roundtrip.h). */
#include <stdint.h>

#include "roundtrip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *docs[4];
  size_t n = 0, at = 0;
  while (at <= size && n < 4) {
    const uint8_t *nul = memchr(data + at, 0, size - at);
    size_t end = nul ? (size_t)(nul - data) : size;
    json_t *j = json_loadb((const char *)data + at, end - at, 0, NULL);
    if (!j)
      break;
    docs[n++] = j;
    at = end + 1;
  }
  char why[512];
  int rc = n ? rt_kineto(docs, n, why, sizeof why) : 0;
  for (size_t i = 0; i < n; i++)
    json_decref(docs[i]);
  if (rc) {
    fprintf(stderr, "round trip: %s\n", why);
    abort();
  }
  return 0;
}
