set -e
echo a > a.txt; echo b > b.txt; echo c > c.txt
mkdir -p dir/sub; echo x > dir/x; echo s > dir/sub/s
