set -e
mkdir -p real/sub; echo f > real/sub/f.txt; ln -s real linkdir
