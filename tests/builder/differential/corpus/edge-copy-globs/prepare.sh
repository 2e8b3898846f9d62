set -e
mkdir -p dir1/sub dir2/sub dir3
echo 1 > dir1/same; echo 2 > dir2/same; echo 3 > dir1/sub/deep.txt; echo 4 > dir2/sub/other
echo 5 > dir1/deep.txt; echo 6 > dfile; echo 7 > top.txt; echo 8 > dir3/deep.txt
