set -e
echo f > file; mkdir -p empty-dir sub; chmod 0 empty-dir
python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('sock'); s2=socket.socket(socket.AF_UNIX); s2.bind('sub/inner.sock')"
chmod 0640 sub/inner.sock
