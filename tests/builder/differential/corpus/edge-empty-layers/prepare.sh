mkdir -p emptydir
