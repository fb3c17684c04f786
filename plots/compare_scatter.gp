# compare_scatter.gp: real against predicted iteration time, one point per
# schedule, with the y = x line (points above it ran slower than predicted).
# Filled in by plots/compare.c; data: cmp.dat "name predicted real err%
# label", times in the axis unit.
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set xlabel 'predicted iteration time (@UNIT@)'
set ylabel 'real iteration time (@UNIT@)'
set xrange [@LO@:@HI@]
set yrange [@LO@:@HI@]
set size ratio -1
set xtics out nomirror
set ytics out nomirror
set border 3
set grid lc rgb '#dddddd'
set key bottom right
plot x with lines dt 2 lc rgb '#808080' title 'y = x', \
     'cmp.dat' using 2:3 with points pt 7 ps 1.4 lc rgb '#3D7CC9' \
       notitle, \
     '' using 2:3:1 with labels offset 1,0.6 left font ',9' notitle
