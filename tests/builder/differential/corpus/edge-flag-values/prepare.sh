set -e
echo a > a.txt; mkdir -p dir/sub; echo f > dir/f; echo s > dir/sub/s
