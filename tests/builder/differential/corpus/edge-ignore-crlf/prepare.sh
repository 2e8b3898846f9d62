set -e
mkdir -p build sub; echo 1 > a.log; echo 2 > keep.log; echo 3 > build/out; echo 4 > other.txt; echo 5 > sub/other.txt; echo 6 > main.c
