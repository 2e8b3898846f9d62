chmod 0750 sub/deeper
