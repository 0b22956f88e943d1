//! Review of issue 9 item 3: compressed data after the records was never checked. Once
//! `recordsCount` records were walked and the decoder reported its end, whatever followed the
//! first zstd frame, the lz4 end mark (or an empty lz4 block), or a gzip member was stored, and
//! librdkafka / Java consumers then failed on that batch forever. Each codec's valid records with
//! something after them must be CORRUPT_MESSAGE; what the codec itself defines as nothing
//! (a zstd skippable frame, an empty zstd frame or gzip member) still passes.

use super::*;

fn with_tail(codec: u8, tail: &[u8]) -> Vec<u8> {
    let mut payload = compress(codec, &section(&good(3)));
    payload.extend_from_slice(tail);
    batch_with_payload(&payload, 3, codec)
}

const GARBAGE: &[u8] = &[0xff; 8];

#[test]
fn garbage_after_the_compressed_records_is_corrupt_for_every_codec() {
    for codec in 1..=4u8 {
        check(batch_with(&section(&good(3)), 3, codec)).expect("without the tail it passes");
        assert_eq!(
            code(check(with_tail(codec, GARBAGE))),
            CORRUPT_MESSAGE,
            "codec {codec}"
        );
    }
    let mut framed = xerial(&section(&good(3)), 64);
    framed.extend_from_slice(GARBAGE);
    assert_eq!(
        code(check(batch_with_payload(&framed, 3, 2))),
        CORRUPT_MESSAGE
    );
    // A cut-off xerial block length, and an empty block after the records.
    for tail in [&[0u8, 0, 0][..], &[0, 0, 0, 0]] {
        let mut framed = xerial(&section(&good(3)), 64);
        framed.extend_from_slice(tail);
        assert_eq!(
            code(check(batch_with_payload(&framed, 3, 2))),
            CORRUPT_MESSAGE,
            "{tail:?}"
        );
    }
}

#[test]
fn zstd_continues_across_frames_and_skips_skippable_ones_but_nothing_else() {
    // libzstd (and Kafka's ZstdInputStream) read concatenated frames: an empty frame or a
    // skippable frame (magic 0x184D2A5?, a length, that many bytes) adds no output.
    let empty_frame = zstd::bulk::compress(b"", 1).unwrap();
    check(with_tail(4, &empty_frame)).expect("an empty frame after the records adds nothing");
    let mut skippable = 0x184D_2A50u32.to_le_bytes().to_vec();
    skippable.extend_from_slice(&4u32.to_le_bytes());
    skippable.extend_from_slice(b"skip");
    check(with_tail(4, &skippable)).expect("a skippable frame adds nothing");
    // A second frame cut off, or one that decodes to more bytes.
    let more = zstd::bulk::compress(b"x", 1).unwrap();
    assert_eq!(code(check(with_tail(4, &more[..6]))), CORRUPT_MESSAGE);
    assert_eq!(
        code(check(with_tail(4, &more))),
        INVALID_RECORD,
        "bytes after the records"
    );
}

#[test]
fn gzip_reads_every_member_and_nothing_after_them() {
    let empty_member = compress(1, b"");
    check(with_tail(1, &empty_member)).expect("an empty member after the records adds nothing");
    assert_eq!(
        code(check(with_tail(1, &empty_member[..12]))),
        CORRUPT_MESSAGE,
        "cut off"
    );
    let mut then_garbage = empty_member.clone();
    then_garbage.extend_from_slice(GARBAGE);
    assert_eq!(code(check(with_tail(1, &then_garbage))), CORRUPT_MESSAGE);
}

/// lz4: one frame, as Kafka's `KafkaLZ4BlockInputStream` reads it.
#[test]
fn lz4_is_one_whole_frame_and_an_empty_block_is_not_a_place_to_hide_bytes() {
    let frame = compress(3, &section(&good(3)));
    let (body, end_mark) = frame.split_at(frame.len() - 4);
    assert_eq!(
        end_mark,
        [0, 0, 0, 0],
        "lz4_flex writes no content checksum by default"
    );
    // An empty uncompressed block (size 0 with the top bit) where Kafka sees the end mark,
    // then garbage, then the real end mark: lz4_flex ended its stream at the empty block.
    let mut hidden = body.to_vec();
    hidden.extend_from_slice(&0x8000_0000u32.to_le_bytes());
    hidden.extend_from_slice(&4u32.to_le_bytes());
    hidden.extend_from_slice(GARBAGE);
    hidden.extend_from_slice(end_mark);
    assert_eq!(
        code(check(batch_with_payload(&hidden, 3, 3))),
        CORRUPT_MESSAGE
    );
    // No end mark at all (lz4_flex took the missing block header for the end of the stream).
    assert_eq!(code(check(batch_with_payload(body, 3, 3))), CORRUPT_MESSAGE);
    // A second frame, even an empty one: Kafka reads the first frame only.
    let mut two = frame.clone();
    two.extend_from_slice(&compress(3, b""));
    assert_eq!(code(check(batch_with_payload(&two, 3, 3))), CORRUPT_MESSAGE);
}
