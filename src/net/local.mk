# src/net build fragment: byte transports on the loop.
#   dial          resolve + TCP connect with a deadline
#   rng           per-owner CTR_DRBG
#   tls           mbedTLS (or plain) over a uv TCP stream
#   url           ws:// and wss:// URLs
#   ws_handshake  the HTTP/1.1 upgrade, both roles, no I/O
#   ws            a WebSocket session on wslay's event API
#   wsconn        dial/accept + tls + ws composed
src_libtorghut_a_SOURCES += \
	src/net/dial.c src/net/dial.h \
	src/net/rng.c src/net/rng.h \
	src/net/tls.c src/net/tls.h \
	src/net/url.c src/net/url.h \
	src/net/ws_handshake.c src/net/ws_handshake.h \
	src/net/ws.c src/net/ws.h \
	src/net/wsconn.c src/net/wsconn.h

# Socket-free protocol tests: scripted bytes through a memory transport.
check_PROGRAMS += tests/proto/test_ws_handshake tests/proto/test_ws_session
TESTS += tests/proto/test_ws_handshake tests/proto/test_ws_session
tests_proto_test_ws_handshake_SOURCES = tests/proto/test_ws_handshake.c tests/proto/ws_shim.h
tests_proto_test_ws_handshake_CFLAGS = $(TG_TEST_CF)
tests_proto_test_ws_handshake_LDADD = $(TG_TEST_LIBS)
tests_proto_test_ws_session_SOURCES = tests/proto/test_ws_session.c tests/proto/ws_shim.h
tests_proto_test_ws_session_CFLAGS = $(TG_TEST_CF)
tests_proto_test_ws_session_LDADD = $(TG_TEST_LIBS)

# Unit and loop tests; test_wsconn talks TLS over loopback with tests/certs.
check_PROGRAMS += tests/unit/net/test_url tests/unit/net/test_tls tests/unit/net/test_wsconn
TESTS += tests/unit/net/test_url tests/unit/net/test_tls tests/unit/net/test_wsconn
tests_unit_net_test_url_SOURCES = tests/unit/net/test_url.c
tests_unit_net_test_url_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_url_LDADD = $(TG_TEST_LIBS)
tests_unit_net_test_tls_SOURCES = tests/unit/net/test_tls.c
tests_unit_net_test_tls_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_tls_LDADD = $(TG_TEST_LIBS)
tests_unit_net_test_wsconn_SOURCES = tests/unit/net/test_wsconn.c
tests_unit_net_test_wsconn_CFLAGS = $(TG_TEST_CF)
tests_unit_net_test_wsconn_LDADD = $(TG_TEST_LIBS)

# Test PKI (checked in; make-certs.sh documents and regenerates it).
EXTRA_DIST += tests/certs/make-certs.sh tests/certs/ca.crt tests/certs/other-ca.crt \
	tests/certs/server.crt tests/certs/server.key
