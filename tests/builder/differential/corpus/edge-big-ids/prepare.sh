set -e
echo a > a.txt; echo br > '[br]'; echo b > b; echo r > r
