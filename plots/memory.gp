# memory.gp: activation memory per rank over time (step lines), with an
# optional limit line. Filled in by plots/timeline.c; data: mem.dat, one
# block per rank (index = rank), "t value" lines.
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set xlabel 'time (@UNIT@)'
set ylabel 'activation memory (@MUNIT@)'
set xrange [@XMIN@:@XMAX@]
set yrange [0:@YMAX@]
set xtics out nomirror
set format x '%.10g'
set ytics out nomirror
set border 3
set grid ytics lc rgb '#dddddd' dt 1
@KEY@
@LIMIT@
plot @PLOTS@
