/*
 * models.h: cost models (issue 4): the embedded GPU and model catalog, the
 * analytic transformer cost model and the SQLite cost store. Filled by that
 * issue; empty until then.
 */
#ifndef PIPELAB_MODELS_H
#define PIPELAB_MODELS_H
#include "pipelab/pipelab.h"
#endif
