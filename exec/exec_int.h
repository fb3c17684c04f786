/* exec_int.h: what the executor's files share inside the library. */
#ifndef PL_EXEC_INT_H
#define PL_EXEC_INT_H

#include <stddef.h>

/* Online cores (sysconf), 0 when unknown. */
int pl__online_cores(void);
/* 1 and the reason ("oversubscribed: 4 ranks on 2 cores") in why when
 * threads busy ranks outnumber the cores (known, > 0), else 0: their
 * timings then include waiting for a core. */
int pl__oversubscribed(int threads, int cores, char *why, size_t len);

#endif
