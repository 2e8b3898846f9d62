set -e
echo f > file; mkdir -p empty-dir; chmod 0 empty-dir
