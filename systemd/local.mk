# systemd build fragment
