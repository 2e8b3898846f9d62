head -c 100000 /dev/urandom > big && echo small > small && tar -cf full.tar small big && head -c 20000 full.tar > cut.tar && rm big small full.tar
