/* avro.h - hand-written Avro binary encoder for the TA records.
 *
 * Encodes struct ta_bar_rec / ta_signal_rec / ta_status_rec (ta/record.h)
 * as the Avro binary body of torghut.ta.TaBar1s / TaSignal / TaStatus
 * (schemas/ta-*.avsc), field for field in schema order. No allocation: the
 * caller provides the buffer (a reused per-producer scratch buffer). Byte
 * equality with libavro's encoder is checked by tests/unit/sink/test_avro.
 *
 * Include as "sink/avro.h"; libavro's own header is <avro.h>. Our symbols
 * use the avro_enc_ / avro_frame_ prefixes, which libavro does not. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ta/record.h"

/* Confluent wire framing: magic byte 0x00 + 4-byte big-endian schema id. */
#define AVRO_FRAME_HEADER_LEN 5
void avro_frame_header(uint8_t out[AVRO_FRAME_HEADER_LEN], int32_t schema_id);

/* Each writes the bare Avro body into buf[0..cap) and returns its length, or
 * -ENOSPC if cap is too small (buf contents are then unspecified: retry with a
 * bigger buffer), or -EINVAL if a required string is NULL (status, the
 * microstructure strings, a map key) or the symbol is not NUL-terminated.
 * For the framed form write the header at buf and encode at buf + 5. */
int avro_enc_bar(const struct ta_bar_rec *r, uint8_t *buf, size_t cap);
int avro_enc_signal(const struct ta_signal_rec *r, uint8_t *buf, size_t cap);
int avro_enc_status(const struct ta_status_rec *r, uint8_t *buf, size_t cap);
