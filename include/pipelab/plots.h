/*
 * plots.h: gnuplot figures (issue 6). Empty until that issue.
 */
#ifndef PIPELAB_PLOTS_H
#define PIPELAB_PLOTS_H
#include "pipelab/pipelab.h"
#endif
