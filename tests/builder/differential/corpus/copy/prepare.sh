set -e
echo a > a.txt; echo b > b.txt; echo c > c.md
mkdir -p dir/sub dir/empty; echo f > dir/sub/file; chmod 0700 dir/sub
printf '#!/bin/sh\necho hi\n' > exec.sh; chmod 0755 exec.sh
echo private > private; chmod 0600 private
ln -s a.txt link
ln a.txt hard.txt
ln dir/sub/file dir/sub/file-hard
chmod 0750 dir
