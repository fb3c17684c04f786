# sweep.gp: throughput against configuration, one colour per schedule;
# configurations that do not fit in memory are open circles.
# Filled in by plots/compare.c; data: sweep.dat, one block per schedule
# (index = schedule), "x y fits" lines.
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set ylabel '@YLABEL@'
set xlabel 'configuration (p = stages, m = microbatches, b = microbatch size, v = chunks)'
set xrange [-0.5:@XMAX@]
set yrange [0:@YMAX@]
set xtics (@XTICS@) rotate by -40 left nomirror scale 0 font ',9'
set ytics out nomirror
set border 3
set grid lc rgb '#dddddd'
set bmargin @BMARGIN@
set key outside right top vertical
plot @PLOTS@
