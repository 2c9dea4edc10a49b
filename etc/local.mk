# etc: the shipped configuration.
torghutconfdir = $(sysconfdir)/torghut
dist_torghutconf_DATA = etc/torghut.conf etc/torghut-demo.conf
examplesdir = $(docdir)/examples
dist_examples_DATA = etc/examples/kafka-sasl-scram.conf
