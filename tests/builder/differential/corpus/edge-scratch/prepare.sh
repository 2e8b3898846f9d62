set -e
echo a > a.txt; ln a.txt a-hard.txt; mkdir -p d; echo x > d/x; ln d/x d/x-hard
