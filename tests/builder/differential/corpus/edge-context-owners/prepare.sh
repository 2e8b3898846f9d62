set -e
mkdir -p dir/sub private; echo f > dir/f; echo s > dir/sub/s; echo p > private/p
chown -R 1000:1000 .; chown 1234:5678 dir/f; chmod 700 private; chmod 600 private/p; chmod 2775 dir/sub
ln dir/f dir/sub/f-hard
