mkdir -p d
printf one > f1
ln f1 f2
ln f1 d/f3
printf two > d/g
ln d/g d/g2
