chmod 0644 a.txt docs/* sub/deep/*; chmod 0755 sub sub/deep docs
