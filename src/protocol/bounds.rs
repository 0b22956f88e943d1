//! The bounds walker: checks a request frame against its layout before the `kafka-protocol`
//! crate decodes it, so that no length or count read from the wire can make the broker allocate
//! more than the frame's own bytes justify.
//!
//! The walk reads exactly what the crate will read, in the same order (header, then every field
//! the layout lists for the version, tagged-field sections in flexible versions). At each
//! string, bytes or array it checks the declared length against the bytes left: a string or
//! bytes field holds at most the bytes left, and an array holds at most as many elements as
//! bytes left (no element of any request is empty on the wire once its version has a field).
//! Once a frame passes, the crate's allocations are bounded by the frame's length: each `Vec`
//! it sizes from a count is no longer than the bytes that follow, times the size of one element
//! in memory. The walk allocates nothing and runs in time linear in the frame.
//!
//! The walk also counts the array elements of the whole request, at every level, and refuses a
//! request holding more than [`REQUEST_ENTRIES_MAX`] (issue 9: a 77 MB Produce listing one
//! partition a million times took a runtime worker for hundreds of milliseconds in the crate's
//! decode alone, before any duplicate could be merged). The count stops the walk at the bound,
//! so a refused frame costs at most that many elements of walking, never its whole length.

use kafka_protocol::messages::ApiKey;

use crate::limits::REQUEST_ENTRIES_MAX;

use super::layout::{Request, Struct, Tagged, Ty};
use super::layouts;

/// Why a frame was refused; names the field whose length does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundsError {
    #[error("{key:?} v{version}: Rill has no layout for this request")]
    NoLayout { key: ApiKey, version: i16 },
    #[error("{field}: {what} of {declared} but only {left} bytes left")]
    TooLong {
        field: String,
        what: &'static str,
        declared: u64,
        left: usize,
    },
    #[error("{field}: {problem}")]
    Malformed { field: String, problem: String },
    #[error("{field}: the request holds more than {max} array entries")]
    TooManyEntries { field: String, max: u64 },
}

/// Checks a whole request frame (header and body, without the size prefix) of API `key` at
/// `version`, whose request header has version `header_version`. Returns how many array
/// entries the request holds, all arrays and levels together (at most
/// [`REQUEST_ENTRIES_MAX`]): what the crate's decode of it will cost, roughly.
pub fn check_request(
    frame: &[u8],
    key: ApiKey,
    version: i16,
    header_version: i16,
) -> Result<u64, BoundsError> {
    let layout = layouts::request(key)
        .filter(|layout| layout.versions.contains(version))
        .ok_or(BoundsError::NoLayout { key, version })?;
    let mut walk = Walk::new(frame, key);
    walk.header(header_version)?;
    walk.body(layout, version)?;
    Ok(walk.entries)
}

/// Checks a request body (what follows the header) against `layout` at `version`.
pub fn check_body(body: &[u8], layout: &Request, version: i16) -> Result<(), BoundsError> {
    Walk::new(body, layout.key).body(layout, version)
}

/// One step of the path to the field being walked; the path is only turned into text when a
/// frame is refused, so a walk that passes allocates at most the stack of steps.
#[derive(Clone, Copy)]
enum Step {
    Field(&'static str),
    Index(u64),
}

/// A cursor over the bytes not yet walked.
struct Walk<'a> {
    buf: &'a [u8],
    flexible: bool,
    key: ApiKey,
    path: Vec<Step>,
    /// Array elements walked so far, every array and level together.
    entries: u64,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8], key: ApiKey) -> Self {
        Self {
            buf,
            flexible: false,
            key,
            path: Vec::new(),
            entries: 0,
        }
    }

    fn body(&mut self, layout: &Request, version: i16) -> Result<(), BoundsError> {
        self.flexible = layout.flexible.contains(version);
        self.structure(&layout.body, version)
    }

    fn left(&self) -> usize {
        self.buf.len()
    }

    /// The path to the current field, e.g. `CreateTopics.topics[0].name`.
    fn field(&self) -> String {
        let mut out = format!("{:?}", self.key);
        for step in &self.path {
            match step {
                Step::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    fn malformed(&self, problem: String) -> BoundsError {
        BoundsError::Malformed {
            field: self.field(),
            problem,
        }
    }

    fn skip(&mut self, n: usize) -> Result<(), BoundsError> {
        if n > self.buf.len() {
            return Err(self.malformed(format!("needs {n} bytes, {} left", self.buf.len())));
        }
        self.buf = &self.buf[n..];
        Ok(())
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], BoundsError> {
        let Some(bytes) = self.buf.get(..N) else {
            return Err(self.malformed(format!("needs {N} bytes, {} left", self.buf.len())));
        };
        let bytes: [u8; N] = bytes.try_into().expect("N bytes");
        self.buf = &self.buf[N..];
        Ok(bytes)
    }

    /// Kafka's unsigned varint, read exactly as the crate reads it: at most five bytes, the
    /// value wrapping into 32 bits.
    fn uvarint(&mut self) -> Result<u32, BoundsError> {
        let mut value = 0u32;
        for i in 0..5 {
            let [b] = self.fixed::<1>()?;
            value |= u32::from(b & 0x7f).wrapping_shl(7 * i);
            if b < 0x80 {
                break;
            }
        }
        Ok(value)
    }

    /// A length or count: `Ok(None)` for null, `Ok(Some(n))` otherwise. Compact forms store
    /// n + 1 as an unsigned varint (0 = null); the others a signed `width`-byte integer
    /// (−1 = null).
    fn length(&mut self, width: usize) -> Result<Option<u64>, BoundsError> {
        if self.flexible {
            return Ok(self.uvarint()?.checked_sub(1).map(u64::from));
        }
        let n = match width {
            2 => i64::from(i16::from_be_bytes(self.fixed()?)),
            _ => i64::from(i32::from_be_bytes(self.fixed()?)),
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(self.malformed(format!("negative length {n}"))),
            n => Ok(Some(n as u64)),
        }
    }

    /// A length that must fit in the bytes left, then those bytes skipped.
    fn sized(&mut self, width: usize, what: &'static str) -> Result<(), BoundsError> {
        if let Some(n) = self.length(width)? {
            self.fits(n, what)?;
            self.skip(n as usize)?;
        }
        Ok(())
    }

    fn fits(&self, declared: u64, what: &'static str) -> Result<(), BoundsError> {
        if declared > self.left() as u64 {
            return Err(BoundsError::TooLong {
                field: self.field(),
                what,
                declared,
                left: self.left(),
            });
        }
        Ok(())
    }

    /// The request header: api key, version, correlation id, client id (always an i16-length
    /// string, even in flexible headers), then tagged fields in header v2.
    fn header(&mut self, header_version: i16) -> Result<(), BoundsError> {
        self.path.push(Step::Field("request header"));
        self.skip(8)?;
        if header_version >= 1 {
            self.flexible = false;
            self.path.push(Step::Field("client_id"));
            self.sized(2, "a string")?;
            self.path.pop();
        }
        if header_version >= 2 {
            self.flexible = true;
            self.tagged_section(&[], 0)?;
        }
        self.path.pop();
        Ok(())
    }

    fn structure(&mut self, s: &Struct, version: i16) -> Result<(), BoundsError> {
        for field in s.fields {
            if field.versions.contains(version) {
                self.path.push(Step::Field(field.name));
                self.value(&field.ty, version)?;
                self.path.pop();
            }
        }
        if self.flexible {
            self.tagged_section(s.tagged, version)?;
        }
        Ok(())
    }

    fn value(&mut self, ty: &Ty, version: i16) -> Result<(), BoundsError> {
        match ty {
            Ty::Bool | Ty::Int8 => self.skip(1),
            Ty::Int16 | Ty::Uint16 => self.skip(2),
            Ty::Int32 | Ty::Uint32 => self.skip(4),
            Ty::Int64 | Ty::Float64 => self.skip(8),
            Ty::Uuid => self.skip(16),
            Ty::String => self.sized(2, "a string"),
            Ty::Bytes | Ty::Records => self.sized(4, "bytes"),
            Ty::Array(element) => self.array(|walk| walk.value(element, version)),
            Ty::Structs(s) => self.array(|walk| walk.structure(s, version)),
            Ty::Struct(s) => self.structure(s, version),
            Ty::NullableStruct(s) => match self.fixed::<1>()? {
                [1] => self.structure(s, version),
                _ => Ok(()),
            },
        }
    }

    /// An array: its count must not exceed the bytes left (each element takes at least one
    /// byte), then every element is walked.
    fn array(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<(), BoundsError>,
    ) -> Result<(), BoundsError> {
        let Some(count) = self.length(4)? else {
            return Ok(());
        };
        self.fits(count, "an array")?;
        // Checked on the declared count, before walking any element: a refused frame costs
        // nothing more than the walk up to this array.
        self.entries += count;
        if self.entries > REQUEST_ENTRIES_MAX {
            return Err(BoundsError::TooManyEntries {
                field: self.field(),
                max: REQUEST_ENTRIES_MAX,
            });
        }
        for i in 0..count {
            let before = self.left();
            self.path.push(Step::Index(i));
            element(self)?;
            if self.left() == before && count > 1 {
                // An element that takes no bytes would let a count of up to the bytes left
                // stand for nothing; no request has such elements, so refuse the frame.
                return Err(self.malformed(format!("{count} elements of zero bytes")));
            }
            self.path.pop();
        }
        Ok(())
    }

    /// A tagged-field section: a count, then (tag, size, value) each. A known tag's value is
    /// walked with its type and must take exactly `size` bytes (the crate decodes it from the
    /// stream, not from the `size` bytes); an unknown tag's `size` bytes are skipped, which is
    /// what the crate does too.
    fn tagged_section(&mut self, known: &[Tagged], version: i16) -> Result<(), BoundsError> {
        let count = self.uvarint()?;
        // Each tagged field takes at least two bytes (tag and size).
        self.fits(u64::from(count), "a tagged-field section")?;
        for _ in 0..count {
            let tag = self.uvarint()?;
            let size = self.uvarint()?;
            self.fits(u64::from(size), "a tagged field")?;
            let size = size as usize;
            let Some(field) = known
                .iter()
                .find(|t| t.tag == tag && t.versions.contains(version))
            else {
                self.skip(size)?;
                continue;
            };
            self.path.push(Step::Field(field.name));
            let rest = &self.buf[size..];
            self.buf = &self.buf[..size];
            self.value(&field.ty, version)?;
            if self.left() != 0 {
                return Err(self.malformed(format!(
                    "tagged field declares {size} bytes, its value takes {}",
                    size - self.left()
                )));
            }
            self.buf = rest;
            self.path.pop();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::layouts::CREATE_TOPICS;

    /// The frame from the issue (size prefix removed): CreateTopics v4, 13 bytes of body whose
    /// topic count makes the crate reserve 120 GB.
    const KILLER: [u8; 17] = [
        0x00, 0x13, 0x00, 0x04, 0x48, 0xdf, 0xe7, 0x49, 0x00, 0x02, 0x66, 0x7a, 0x40, 0x3e, 0x5e,
        0x9b, 0xfb,
    ];

    #[test]
    fn the_21_byte_create_topics_frame_is_refused_before_decoding() {
        let err = check_request(&KILLER, ApiKey::CreateTopics, 4, 1).unwrap_err();
        assert!(
            matches!(
                &err,
                BoundsError::TooLong { field, what: "an array", declared, left: 1 }
                    if field == "CreateTopics.topics" && *declared == 0x403e5e9b
            ),
            "{err}"
        );
    }

    fn body(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn lengths_that_fit_pass_and_one_byte_short_fails() {
        // v4: topics [1] { name "ab", partitions, rf, assignments [0], configs [1] {"k", null} },
        // timeout, validate_only.
        let ok = body(&[
            &[0, 0, 0, 1],
            &[0, 2, b'a', b'b'],
            &[0, 0, 0, 3],
            &[0, 1],
            &[0, 0, 0, 0],
            &[0, 0, 0, 1, 0, 1, b'k', 0xff, 0xff],
            &[0, 0, 0, 100],
            &[0],
        ]);
        assert_eq!(check_body(&ok, &CREATE_TOPICS, 4), Ok(()));
        for cut in 0..ok.len() {
            assert!(
                check_body(&ok[..cut], &CREATE_TOPICS, 4).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_string_longer_than_the_frame_names_its_field() {
        let bad = body(&[&[0, 0, 0, 1], &[0x7f, 0xff, b'a']]);
        let err = check_body(&bad, &CREATE_TOPICS, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CreateTopics.topics[0].name: a string of 32767 but only 1 bytes left"
        );
    }

    #[test]
    fn compact_lengths_are_checked_in_flexible_versions() {
        // v5: compact array count 0xffffffff (varint, value = count + 1), nothing after.
        let bad = [0xff, 0xff, 0xff, 0xff, 0x0f];
        let err = check_body(&bad, &CREATE_TOPICS, 5).unwrap_err();
        assert!(
            matches!(
                err,
                BoundsError::TooLong {
                    declared: 0xffff_fffe,
                    ..
                }
            ),
            "{err}"
        );
        // A null compact array (0) allocates nothing and passes the walk.
        let null_topics = [0, 0, 0, 0, 100, 0, 0];
        assert_eq!(check_body(&null_topics, &CREATE_TOPICS, 5), Ok(()));
        // Tagged fields whose declared size exceeds the bytes left.
        let bad_tag = [1, 0, 0, 0, 100, 0, 1, 9, 0xff, 0xff, 0x03, 1];
        let err = check_body(&bad_tag, &CREATE_TOPICS, 5).unwrap_err();
        assert!(
            matches!(
                err,
                BoundsError::TooLong {
                    what: "a tagged field",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn negative_lengths_other_than_null_are_refused() {
        let bad = body(&[&[0xff, 0xff, 0xff, 0xfe]]);
        assert!(matches!(
            check_body(&bad, &CREATE_TOPICS, 4),
            Err(BoundsError::Malformed { .. })
        ));
    }

    #[test]
    fn apis_without_a_layout_are_refused() {
        let header = [0, 40, 0, 1, 0, 0, 0, 1, 0, 0];
        assert_eq!(
            check_request(&header, ApiKey::ExpireDelegationToken, 1, 1),
            Err(BoundsError::NoLayout {
                key: ApiKey::ExpireDelegationToken,
                version: 1
            })
        );
        assert_eq!(
            check_request(&header, ApiKey::CreateTopics, 99, 2),
            Err(BoundsError::NoLayout {
                key: ApiKey::CreateTopics,
                version: 99
            })
        );
    }

    #[test]
    fn a_header_client_id_longer_than_the_frame_is_refused() {
        let frame = [0, 19, 0, 4, 0, 0, 0, 1, 0x40, 0];
        let err = check_request(&frame, ApiKey::CreateTopics, 4, 1).unwrap_err();
        assert!(err.to_string().contains("client_id"), "{err}");
    }

    /// Metadata v1 naming topic "a" `count` times.
    fn metadata_naming_a(count: u64) -> Vec<u8> {
        let mut body = (count as i32).to_be_bytes().to_vec();
        for _ in 0..count {
            body.extend_from_slice(&[0, 1, b'a']);
        }
        body
    }

    #[test]
    fn requests_with_more_entries_than_the_limit_are_refused_from_the_count() {
        use crate::protocol::layouts::METADATA;
        assert_eq!(
            check_body(&metadata_naming_a(REQUEST_ENTRIES_MAX), &METADATA, 1),
            Ok(())
        );
        let err =
            check_body(&metadata_naming_a(REQUEST_ENTRIES_MAX + 1), &METADATA, 1).unwrap_err();
        assert_eq!(
            err,
            BoundsError::TooManyEntries {
                field: "Metadata.topics".into(),
                max: REQUEST_ENTRIES_MAX
            }
        );
        // Nested arrays count together: topics and their partitions.
        let mut frame = vec![0, 0, 0, 3, 0, 0, 0, 1, 0, 0];
        frame.extend_from_slice(&metadata_naming_a(7));
        assert_eq!(check_request(&frame, ApiKey::Metadata, 1, 1), Ok(7));
    }
}
