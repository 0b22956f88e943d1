//! Kafka's primitive types as the internal topics' record schemas use them
//! (`__consumer_offsets`, `__transaction_state`): big-endian integers, `string` (i16 length),
//! `bytes` and arrays (i32 length/count), −1 for null; and, in flexible versions, the compact
//! forms (unsigned varint of length + 1, 0 for null) and a tagged-field section after every
//! struct. The coordinators' record modules (`group::records`, `txn::records`) write their
//! schemas with these.
//!
//! The reader takes untrusted bytes: every length is checked against the bytes left before
//! anything is taken or allocated, and nothing panics.

use thiserror::Error;

/// Why a record's bytes could not be decoded, or a value could not be encoded.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("{what}: needs {needed} bytes, {left} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        left: usize,
    },
    #[error("{what}: length {declared} is larger than the {left} bytes left")]
    TooLong {
        what: &'static str,
        declared: i64,
        left: usize,
    },
    #[error("{what}: negative length {length}")]
    NegativeLength { what: &'static str, length: i64 },
    #[error("{what}: null where the schema has no null")]
    UnexpectedNull { what: &'static str },
    #[error("{what}: not UTF-8")]
    NotUtf8 { what: &'static str },
    #[error("{what}: unsigned varint longer than 32 bits")]
    BadVarint { what: &'static str },
    #[error("{record} version {version} is not known")]
    UnknownVersion { record: &'static str, version: i16 },
    #[error("{record}: {left} bytes after the end of its struct")]
    TrailingBytes { record: &'static str, left: usize },
    #[error("{what}: length {length} does not fit its length field")]
    TooLongToEncode { what: &'static str, length: usize },
    #[error("key version {0} belongs to another kind of record; it is only ever read")]
    NotEncodable(i16),
    #[error("{what}: {value} is not a value the schema knows")]
    UnknownValue { what: &'static str, value: i64 },
    #[error("{what} is never written")]
    NotWritten { what: &'static str },
}

/// A cursor over a record's bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    /// Whether the struct being read is a flexible version (compact lengths, tagged fields).
    pub flexible: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader {
            buf,
            flexible: false,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], RecordError> {
        if n > self.buf.len() {
            return Err(RecordError::Truncated {
                what,
                needed: n,
                left: self.buf.len(),
            });
        }
        let (taken, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(taken)
    }

    fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn i16(&mut self, what: &'static str) -> Result<i16, RecordError> {
        Ok(i16::from_be_bytes(self.fixed(what)?))
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, RecordError> {
        Ok(i32::from_be_bytes(self.fixed(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, RecordError> {
        Ok(i64::from_be_bytes(self.fixed(what)?))
    }

    /// Kafka's unsigned varint: at most five bytes, seven bits each, low bits first. A fifth
    /// byte with more than the four bits a `u32` has left is refused (Kafka's `readUnsignedVarint`
    /// refuses a sixth byte; the excess bits would otherwise be silently dropped).
    fn uvarint(&mut self, what: &'static str) -> Result<u32, RecordError> {
        let mut value = 0u32;
        for i in 0..5 {
            let [b] = self.fixed::<1>(what)?;
            if i == 4 && b > 0x0f {
                return Err(RecordError::BadVarint { what });
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(RecordError::BadVarint { what })
    }

    /// A length or count of `width` bytes (compact in flexible versions): `None` for null.
    /// A length is checked against the bytes left, so no caller allocates by an unchecked count
    /// (an array element takes at least one byte, so a count above the bytes left cannot be
    /// honest either).
    fn length(&mut self, width: usize, what: &'static str) -> Result<Option<usize>, RecordError> {
        let declared: i64 = if self.flexible {
            i64::from(self.uvarint(what)?) - 1
        } else if width == 2 {
            i64::from(self.i16(what)?)
        } else {
            i64::from(self.i32(what)?)
        };
        match declared {
            -1 => Ok(None),
            n if n < 0 => Err(RecordError::NegativeLength { what, length: n }),
            n if n > self.buf.len() as i64 => Err(RecordError::TooLong {
                what,
                declared: n,
                left: self.buf.len(),
            }),
            n => Ok(Some(n as usize)),
        }
    }

    pub fn nullable_string(&mut self, what: &'static str) -> Result<Option<String>, RecordError> {
        let Some(len) = self.length(2, what)? else {
            return Ok(None);
        };
        let bytes = self.take(len, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(RecordError::NotUtf8 { what }),
        }
    }

    pub fn string(&mut self, what: &'static str) -> Result<String, RecordError> {
        self.nullable_string(what)?
            .ok_or(RecordError::UnexpectedNull { what })
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, RecordError> {
        let len = self
            .length(4, what)?
            .ok_or(RecordError::UnexpectedNull { what })?;
        Ok(self.take(len, what)?.to_vec())
    }

    /// An array's element count (non-nullable), bounded by the bytes left.
    pub fn count(&mut self, what: &'static str) -> Result<usize, RecordError> {
        self.length(4, what)?
            .ok_or(RecordError::UnexpectedNull { what })
    }

    /// A nullable array's element count (`None` for null), bounded by the bytes left.
    pub fn nullable_count(&mut self, what: &'static str) -> Result<Option<usize>, RecordError> {
        self.length(4, what)
    }

    /// A flexible struct's tagged-field section. None of these schemas' tags are known, so all
    /// are skipped, as Kafka skips unknown tags; each takes at least two bytes, so a huge tag
    /// count ends at the first missing byte.
    pub fn tagged_fields(&mut self) -> Result<(), RecordError> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.uvarint("tagged field count")?;
        for _ in 0..count {
            self.uvarint("tag")?;
            let size = self.uvarint("tagged field size")?;
            if u64::from(size) > self.buf.len() as u64 {
                return Err(RecordError::TooLong {
                    what: "tagged field",
                    declared: i64::from(size),
                    left: self.buf.len(),
                });
            }
            self.take(size as usize, "tagged field")?;
        }
        Ok(())
    }

    /// The end of a record: bytes left over mean it is not what its version says.
    pub fn finish(self, record: &'static str) -> Result<(), RecordError> {
        match self.buf.len() {
            0 => Ok(()),
            left => Err(RecordError::TrailingBytes { record, left }),
        }
    }
}

/// The encoder: the same types, written.
pub struct Writer {
    pub out: Vec<u8>,
    pub flexible: bool,
}

impl Writer {
    pub fn new(version: i16) -> Self {
        Writer {
            out: version.to_be_bytes().to_vec(),
            flexible: false,
        }
    }

    pub fn i16(&mut self, v: i16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.out.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }

    /// A length (`None` = null) in `width` bytes, or compact; refused when it does not fit.
    fn length(
        &mut self,
        len: Option<usize>,
        width: usize,
        what: &'static str,
    ) -> Result<(), RecordError> {
        let too_long = || RecordError::TooLongToEncode {
            what,
            length: len.unwrap_or(0),
        };
        if self.flexible {
            let compact = match len {
                None => 0,
                Some(n) => u32::try_from(n)
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or_else(too_long)?,
            };
            self.uvarint(compact);
        } else if width == 2 {
            let n = match len {
                None => -1,
                Some(n) => i16::try_from(n).map_err(|_| too_long())?,
            };
            self.i16(n);
        } else {
            let n = match len {
                None => -1,
                Some(n) => i32::try_from(n).map_err(|_| too_long())?,
            };
            self.i32(n);
        }
        Ok(())
    }

    pub fn nullable_string(
        &mut self,
        s: Option<&str>,
        what: &'static str,
    ) -> Result<(), RecordError> {
        self.length(s.map(str::len), 2, what)?;
        self.out.extend_from_slice(s.unwrap_or_default().as_bytes());
        Ok(())
    }

    pub fn string(&mut self, s: &str, what: &'static str) -> Result<(), RecordError> {
        self.nullable_string(Some(s), what)
    }

    pub fn bytes(&mut self, b: &[u8], what: &'static str) -> Result<(), RecordError> {
        self.length(Some(b.len()), 4, what)?;
        self.out.extend_from_slice(b);
        Ok(())
    }

    pub fn count(&mut self, n: usize, what: &'static str) -> Result<(), RecordError> {
        self.length(Some(n), 4, what)
    }

    /// A null array.
    pub fn null_array(&mut self, what: &'static str) -> Result<(), RecordError> {
        self.length(None, 4, what)
    }

    /// An empty tagged-field section, in flexible versions.
    pub fn tagged_fields(&mut self) {
        if self.flexible {
            self.uvarint(0);
        }
    }
}

// KIP-848's records add `int8` (a member's state) and `uuid` (topic ids).
impl Reader<'_> {
    pub fn i8(&mut self, what: &'static str) -> Result<i8, RecordError> {
        Ok(i8::from_be_bytes(self.fixed(what)?))
    }

    pub fn uuid(&mut self, what: &'static str) -> Result<[u8; 16], RecordError> {
        self.fixed(what)
    }
}

impl Writer {
    pub fn i8(&mut self, v: i8) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    pub fn uuid(&mut self, v: &[u8; 16]) {
        self.out.extend_from_slice(v);
    }
}
