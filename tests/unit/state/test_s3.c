/* test_s3.c - the pure parts of the S3 store: ListObjectsV2 parsing (pages,
 * entities, truncated and garbage input), error documents, key naming, URL
 * building (path and virtual-host style), retry classification, store URLs. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <cmocka.h>

#include "state/s3.h"
#include "state/store.h"
#include "state/store_s3.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"

static int parse(const char *xml, struct s3_list_page *pg, char *why)
{
	return s3_list_parse(xml, strlen(xml), pg, why, 160);
}

static void test_list_pages(void **state)
{
	(void)state;
	struct s3_list_page pg = {0};
	char why[160] = "";
	const char *p1 = HEAD "<Name>bk</Name><Prefix>cp/chk-</Prefix><KeyCount>2</KeyCount>"
		"<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
		"<Contents><Key>cp/chk-00000000000000000001/MANIFEST</Key>"
		"<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag>"
		"<Size>87</Size><StorageClass>STANDARD</StorageClass></Contents>\n"
		"<Contents>\n  <Key>a&amp;b &lt;c&gt; &#233;&#x4e2d;</Key>\n  <Size>0</Size>\n</Contents>"
		"<NextContinuationToken>1/abc+=&amp;</NextContinuationToken>"
		"</ListBucketResult>";
	assert_int_equal(parse(p1, &pg, why), 0);
	assert_int_equal(pg.n, 2);
	assert_string_equal(pg.objects[0].key, "cp/chk-00000000000000000001/MANIFEST");
	assert_true(pg.objects[0].size == 87);
	assert_string_equal(pg.objects[1].key, "a&b <c> \xc3\xa9\xe4\xb8\xad");
	assert_true(pg.objects[1].size == 0);
	assert_true(pg.truncated);
	assert_string_equal(pg.next_token, "1/abc+=&");

	/* The last page appends; the token goes. Self-closing and comments pass. */
	const char *p2 = HEAD "<!-- a comment <Contents> -->"
		"<Contents><Key>k3</Key><Owner><ID>x</ID></Owner><Size>5</Size></Contents>"
		"<CommonPrefixes/><IsTruncated>false</IsTruncated></ListBucketResult>";
	assert_int_equal(parse(p2, &pg, why), 0);
	assert_int_equal(pg.n, 3);
	assert_string_equal(pg.objects[2].key, "k3");
	assert_true(pg.objects[2].size == 5);
	assert_false(pg.truncated);
	assert_null(pg.next_token);
	s3_list_page_fini(&pg);

	/* Empty bucket. */
	assert_int_equal(parse(HEAD "<KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>", &pg, why), 0);
	assert_int_equal(pg.n, 0);
	s3_list_page_fini(&pg);
}

static void test_list_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"garbage",
		"<html><body>502 Bad Gateway</body></html>",
		"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>",
		/* cut short: the answer ended mid-way */
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Si",
		/* truncated listing without a token */
		HEAD "<IsTruncated>true</IsTruncated></ListBucketResult>",
		/* no IsTruncated, or a bad one */
		HEAD "<Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>maybe</IsTruncated></ListBucketResult>",
		/* Contents without Key, without Size, bad Size, empty Key */
		HEAD "<IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a</Key><Size>99999999999999999999999</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key></Key><Size>1</Size></Contents></ListBucketResult>",
		/* bad entities, markup in text */
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a&amp</Key><Size>1</Size></Contents></ListBucketResult>",
		HEAD "<IsTruncated>false</IsTruncated><Contents><Key>a<b>c</b></Key><Size>1</Size></Contents></ListBucketResult>",
		/* a stray close tag, an unterminated comment */
		HEAD "</Contents><IsTruncated>false</IsTruncated></ListBucketResult>",
		HEAD "<!-- <IsTruncated>false</IsTruncated></ListBucketResult>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct s3_list_page pg = {0};
		char why[160] = "";
		/* A key from an earlier good page stays; nothing of the bad one is added. */
		assert_int_equal(parse(HEAD "<Contents><Key>kept</Key><Size>1</Size></Contents>"
				       "<IsTruncated>true</IsTruncated><NextContinuationToken>t</NextContinuationToken>"
				       "</ListBucketResult>", &pg, why), 0);
		int rc = parse(bad[i], &pg, why);
		if (rc != -EPROTO)
			fail_msg("case %zu: rc %d", i, rc);
		assert_true(strncmp(why, "ListObjectsV2: ", 15) == 0);
		assert_int_equal(pg.n, 1);
		assert_string_equal(pg.objects[0].key, "kept");
		assert_false(pg.truncated);
		assert_null(pg.next_token);
		s3_list_page_fini(&pg);
	}
	/* Arbitrary bytes never crash or read out of bounds (ASan watches). */
	for (unsigned seed = 1; seed < 400; seed++) {
		char buf[200];
		size_t n = seed % sizeof(buf);
		unsigned x = seed * 2654435761u;
		static const char alphabet[] = "<>/!?-&#;=\"' aKeySizContentsListBucketResult";
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
		}
		struct s3_list_page pg = {0};
		char why[160];
		(void)s3_list_parse(buf, n, &pg, why, sizeof(why));
		s3_list_page_fini(&pg);
	}
}

static void test_error_text(void **state)
{
	(void)state;
	char out[200];
	const char *e = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
		"<Message>The request signature we calculated does not match\nthe signature you provided.</Message>"
		"<RequestId>1</RequestId></Error>";
	s3_error_text(e, strlen(e), out, sizeof(out));
	assert_string_equal(out, "SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.");
	s3_error_text("<Error><Code>SlowDown</Code></Error>", 36, out, sizeof(out));
	assert_string_equal(out, "SlowDown");
	s3_error_text("not xml", 7, out, sizeof(out));
	assert_string_equal(out, "");
	s3_error_text("", 0, out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_urls(void **state)
{
	(void)state;
	char u[512];
	assert_true(s3_url(u, sizeof(u), "http://127.0.0.1:4568", "bk", true, "cp/chk-1/state.snap", NULL) > 0);
	assert_string_equal(u, "http://127.0.0.1:4568/bk/cp/chk-1/state.snap");
	assert_true(s3_url(u, sizeof(u), "https://s3.eu-west-1.amazonaws.com", "my-bucket", false,
			   "a b/c+d~e_f.g", NULL) > 0);
	assert_string_equal(u, "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd~e_f.g");
	assert_true(s3_url(u, sizeof(u), "http://minio:9000/base", "bk", false, "k", NULL) > 0);
	assert_string_equal(u, "http://bk.minio:9000/base/k");
	/* The bucket itself, with a canonical query. */
	assert_true(s3_url(u, sizeof(u), "http://h:1", "bk", true, NULL, "list-type=2&prefix=cp%2Fchk-") > 0);
	assert_string_equal(u, "http://h:1/bk/?list-type=2&prefix=cp%2Fchk-");
	assert_true(s3_url(u, sizeof(u), "http://h:1", "bk", false, "", "list-type=2") > 0);
	assert_string_equal(u, "http://bk.h:1/?list-type=2");
	assert_int_equal(s3_url(u, 10, "http://h:1", "bk", true, "key", NULL), -ENOSPC);
	assert_int_equal(s3_url(u, sizeof(u), "h:1", "bk", true, "key", NULL), -EINVAL);
	assert_int_equal(s3_url(u, sizeof(u), "http://h", "", true, "key", NULL), -EINVAL);

	char e[64];
	assert_int_equal(s3_encode(e, sizeof(e), "1/ab+=&", false), 15);
	assert_string_equal(e, "1%2Fab%2B%3D%26");
	assert_int_equal(s3_encode(e, sizeof(e), "a/\xc3\xa9", true), 8);
	assert_string_equal(e, "a/%C3%A9");
	assert_int_equal(s3_encode(e, 3, "abc", true), -ENOSPC);
}

static void test_keys(void **state)
{
	(void)state;
	char k[128];
	assert_int_equal(store_s3_key(k, sizeof(k), "torghut/cp", 42, "MANIFEST"), 44);
	assert_string_equal(k, "torghut/cp/chk-00000000000000000042/MANIFEST");
	assert_true(store_s3_key(k, sizeof(k), "", UINT64_MAX, "state.snap") > 0);
	assert_string_equal(k, "chk-18446744073709551615/state.snap");
	assert_true(store_s3_key(k, sizeof(k), "p", 7, NULL) > 0);
	assert_string_equal(k, "p/chk-00000000000000000007");
	assert_int_equal(store_s3_key(k, 10, "p", 7, NULL), -ENOSPC);
}

static void test_retry_rules(void **state)
{
	(void)state;
	/* 5xx (503 SlowDown among them) and 429: retried. */
	assert_true(s3_retryable(CURLE_OK, 500));
	assert_true(s3_retryable(CURLE_OK, 503));
	assert_true(s3_retryable(CURLE_OK, 429));
	/* Other 4xx and successes: final. */
	assert_false(s3_retryable(CURLE_OK, 200));
	assert_false(s3_retryable(CURLE_OK, 400));
	assert_false(s3_retryable(CURLE_OK, 403));
	assert_false(s3_retryable(CURLE_OK, 404));
	assert_false(s3_retryable(CURLE_OK, 409));
	/* Connection trouble: retried; TLS trust and our own aborts: final. */
	assert_true(s3_retryable(CURLE_COULDNT_CONNECT, 0));
	assert_true(s3_retryable(CURLE_OPERATION_TIMEDOUT, 0));
	assert_true(s3_retryable(CURLE_RECV_ERROR, 0));
	assert_true(s3_retryable(CURLE_GOT_NOTHING, 0));
	assert_false(s3_retryable(CURLE_PEER_FAILED_VERIFICATION, 0));
	assert_false(s3_retryable(CURLE_WRITE_ERROR, 200));
	assert_false(s3_retryable(CURLE_ABORTED_BY_CALLBACK, 0));

	assert_int_equal(s3_http_errno(403), -EACCES);
	assert_int_equal(s3_http_errno(401), -EACCES);
	assert_int_equal(s3_http_errno(404), -ENOENT);
	assert_int_equal(s3_http_errno(503), -EIO);
	assert_int_equal(s3_http_errno(429), -EIO);
	assert_int_equal(s3_http_errno(400), -EINVAL);
}

static void test_store_urls(void **state)
{
	(void)state;
	char path[256], b[64], p[256];
	assert_int_equal(store_parse_url("file:///var/lib/x/", path, sizeof(path), b, sizeof(b), p, sizeof(p)), 1);
	assert_string_equal(path, "/var/lib/x");
	assert_int_equal(store_parse_url("/abs", path, sizeof(path), b, sizeof(b), p, sizeof(p)), 1);
	assert_string_equal(path, "/abs");
	assert_int_equal(store_parse_url("s3://torghut/a/checkpoints/", path, sizeof(path), b, sizeof(b), p, sizeof(p)), 2);
	assert_string_equal(b, "torghut");
	assert_string_equal(p, "a/checkpoints");
	assert_int_equal(store_parse_url("s3a://my.bucket-1", path, sizeof(path), b, sizeof(b), p, sizeof(p)), 2);
	assert_string_equal(b, "my.bucket-1");
	assert_string_equal(p, "");
	static const char *const bad[] = {
		"file://relative", "relative/dir", "s3://", "s3:///p", "s3://ab/p", "s3://Upper/p",
		"s3://b_ucket/p", "http://x/y", "s3://bucket/p?x", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_parse_url(bad[i], path, sizeof(path), b, sizeof(b), p, sizeof(p)) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_list_bad),
		cmocka_unit_test(test_error_text),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_retry_rules),
		cmocka_unit_test(test_store_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
