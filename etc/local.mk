# etc: the shipped configuration.
torghutconfdir = $(sysconfdir)/torghut
dist_torghutconf_DATA = etc/torghut.conf etc/torghut-demo.conf
