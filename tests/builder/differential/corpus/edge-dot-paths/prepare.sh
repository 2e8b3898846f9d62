set -e
mkdir -p dir/sub; echo a > a.txt; echo f > dir/f; echo s > dir/sub/s
