set -e
mkdir -p a/b/c keep/deep/er x/y z
echo 1 > a/b/c/f.txt; echo 2 > a/b/g.md; echo 3 > keep/deep/er/h.txt; echo 4 > x/y/i.txt; echo 5 > top.txt
echo 6 > z/j.tmp; echo 7 > z/k.txt; echo 8 > 'sp ace.txt'; echo 9 > '#hash.txt'
