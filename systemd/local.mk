# systemd: the unit (paths from configure), sysusers.d and tmpfiles.d files.
systemdsystemunit_DATA = systemd/torghutd.service
sysusersdir = $(prefix)/lib/sysusers.d
tmpfilesdir = $(prefix)/lib/tmpfiles.d
EXTRA_DIST += systemd/torghutd.service.in systemd/torghut.sysusers systemd/torghut.tmpfiles
CLEANFILES += systemd/torghutd.service

systemd/torghutd.service: $(srcdir)/systemd/torghutd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/torghutd.service.in > $@.tmp && mv $@.tmp $@

# Both must be named torghut.conf where they are installed.
install-data-local:
	$(MKDIR_P) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir)
	$(INSTALL_DATA) $(srcdir)/systemd/torghut.sysusers $(DESTDIR)$(sysusersdir)/torghut.conf
	$(INSTALL_DATA) $(srcdir)/systemd/torghut.tmpfiles $(DESTDIR)$(tmpfilesdir)/torghut.conf
uninstall-local:
	rm -f $(DESTDIR)$(sysusersdir)/torghut.conf $(DESTDIR)$(tmpfilesdir)/torghut.conf
