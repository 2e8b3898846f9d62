set -e
echo f > file; mkfifo fifo; chmod 644 fifo
