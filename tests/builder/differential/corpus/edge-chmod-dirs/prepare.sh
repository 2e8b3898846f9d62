mkdir -p dir/sub
printf f > dir/sub/f
printf x > dir/x
chmod 751 dir/sub
printf a > a.txt
