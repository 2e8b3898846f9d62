: > empty
mkdir emptydir
