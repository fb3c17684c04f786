# compare.gp: predicted against real iteration time per schedule, two bars
# per schedule, the error (real - predicted) / predicted above each pair
# (pl_error_pct, as `pipelab compare` prints it). Filled in by
# plots/compare.c; data: cmp.dat "name predicted real err% label", times in
# the axis unit.
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set style data histogram
set style histogram clustered gap 1
set style fill solid 1.0 border lc rgb '#303030'
set boxwidth 0.9
set ylabel 'iteration time (@UNIT@)'
set yrange [0:@YMAX@]
set xrange [-0.6:@XMAX@]
set xtics nomirror scale 0 rotate by @XROT@ @XALIGN@
set ytics out nomirror
set border 3
set grid ytics lc rgb '#dddddd'
set key above horizontal center reverse Left samplen 2 width 2
plot 'cmp.dat' using 2:xtic(1) title 'predicted' lc rgb '#7FA8DC', \
     '' using 3 title 'real' lc rgb '#F4A261', \
     '' using 0:(($2 > $3 ? $2 : $3)):(stringcolumn(5)) \
       with labels offset 0,0.8 font ',9' notitle
