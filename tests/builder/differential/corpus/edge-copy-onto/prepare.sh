set -e
echo a > a.txt; echo b > b.txt
mkdir -p dir/sub; echo f > dir/sub/file; echo top > dir/top; chmod 0750 dir/sub
