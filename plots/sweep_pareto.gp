# sweep_pareto.gp: a model-priced sweep as throughput against peak memory per
# GPU, one colour per schedule, the Pareto front as a line and the memory
# limit as a vertical line. Filled in by plots/compare.c; data: sweep.dat,
# one block per schedule ("gib tokens fits" lines), then a block with the
# front ("gib tokens", ascending memory).
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set xlabel 'peak memory per GPU (GiB)'
set ylabel 'throughput (tokens/s)'
set xrange [0:@XMAX@]
set yrange [0:@YMAX@]
set xtics out nomirror
set ytics out nomirror
set border 3
set grid lc rgb '#dddddd'
set key outside right top vertical
@LIMIT@
plot @PLOTS@
