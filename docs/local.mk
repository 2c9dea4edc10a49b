# docs: man pages and the design documents.
dist_man1_MANS = docs/man/torghutctl.1
dist_man5_MANS = docs/man/torghut.conf.5
dist_man8_MANS = docs/man/torghutd.8
EXTRA_DIST += docs/architecture.md docs/hacking.md docs/operations.md
