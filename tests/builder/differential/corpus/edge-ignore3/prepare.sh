set -e
mkdir -p dir/sub dir/other deep/a/b/gone deep/gone sub
echo 1 > top.txt; echo 2 > dir/f; echo 3 > dir/sub/keep; echo 4 > dir/sub/drop-me; echo 5 > dir/other/o
echo 6 > a.md; echo 7 > c.md; echo 8 > 1.tmp; echo 9 > 12.tmp; echo 10 > x; echo 11 > deep/a/b/gone/g
echo 12 > deep/gone/g2; echo 13 > sub/nested.txt; echo 14 > nested.txt; echo 15 > re-keep.log; echo 16 > other.log
echo 17 > sub/top.txt
