set -e
mkdir -p "dir with space/sub" "ünïcödé" deep/a/b/c/d/e/f/g/h/i/j
echo s > "dir with space/sub/file name.txt"; echo u > "ünïcödé/ファイル.txt"
long=$(printf 'x%.0s' $(seq 1 150)); echo l > "deep/$long.txt"
echo d > deep/a/b/c/d/e/f/g/h/i/j/leaf
: > empty.txt; echo z > mode000; chmod 000 mode000; echo s > suid; chmod 4755 suid
mkdir sticky; chmod 1777 sticky; ln -s missing-target broken-link; ln -s deep dirlink
echo '#!/bin/sh' > script.sh; chmod 0700 script.sh
