set -e
echo a > a.txt; echo b > b.txt
mkdir -p dir/sub emptydir; echo f > dir/sub/file; echo top > dir/top.txt
mkdir -p dor/sub; echo g > dor/sub/g
ln -s sub dir/sublink
