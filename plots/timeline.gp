# timeline.gp: the pipeline timeline as drawn in the zero-bubble paper.
# One row per rank (rank 0 at the top), one box per op from its start to its
# end, coloured by kind, labelled with the microbatch when wide enough.
# Filled in by plots/timeline.c; data: ops.dat (see pl_plot_timeline_data).
@TERMINAL@
set output '@OUTPUT@'
set title '@TITLE@' font ',12'
set lmargin at screen @LM@
set rmargin at screen @RM@
set tmargin at screen @TM@
set bmargin at screen @BM@
set xrange [@XMIN@:@XMAX@]
set yrange [@YMAX@:-0.5]
set ytics (@YTICS@) scale 0
set xtics out nomirror
set format x '%.10g'
set mxtics
set xlabel 'time (@UNIT@)'
set border 1
unset grid
set style fill solid 1.0 @BORDER@
set key below horizontal center reverse Left samplen 1.5 spacing 1.2 width 3
@ROWS@
plot 'ops.dat' using (($2+$3)/2):1:(($3-$2)/2):(@BARH@):7 \
       with boxxyerror lc rgb variable notitle, \
     '' using (($2+$3)/2):1:(column(9) > 0 ? stringcolumn(8) : '') \
       with labels font ',@LABELFONT@' tc rgb '#000000' notitle@HYPER@@KEYS@
