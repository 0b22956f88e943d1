//! Random well-formed requests generated from a layout: what tests and fuzz targets use to hold
//! each layout against the `kafka-protocol` crate (a generated request must decode with the
//! crate and consume every byte) and to make frames that are valid up to one corrupted length.
//!
//! The randomness comes from the caller's RNG, so a failing case replays from its seed.

use bytes::BufMut;
use rand::Rng;

use super::layout::{Request, Struct, Ty};

/// Limits of the generated values: small, so that many versions and shapes are covered fast.
const MAX_ELEMENTS: u32 = 3;
const MAX_TEXT_BYTES: u32 = 12;

/// A random body of `layout` at `version` (without the request header).
pub fn body(layout: &Request, version: i16, rng: &mut impl Rng) -> Vec<u8> {
    let mut gen = Gen {
        out: Vec::new(),
        flexible: layout.flexible.contains(version),
        version,
        rng,
    };
    gen.structure(&layout.body);
    gen.out
}

/// A request header of `header_version` (1 or 2) for `key`/`version`, with a random client id.
pub fn header(
    key: i16,
    version: i16,
    correlation_id: i32,
    header_version: i16,
    rng: &mut impl Rng,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_i16(key);
    out.put_i16(version);
    out.put_i32(correlation_id);
    if header_version >= 1 {
        let client_id = text(rng);
        out.put_i16(client_id.len() as i16);
        out.extend_from_slice(client_id.as_bytes());
    }
    if header_version >= 2 {
        out.push(0); // no tagged fields
    }
    out
}

fn text(rng: &mut impl Rng) -> String {
    let len = rng.gen_range(0..=MAX_TEXT_BYTES);
    (0..len)
        .map(|_| char::from(rng.gen_range(b'a'..=b'z')))
        .collect()
}

struct Gen<'r, R> {
    out: Vec<u8>,
    flexible: bool,
    version: i16,
    rng: &'r mut R,
}

impl<R: Rng> Gen<'_, R> {
    fn uvarint(&mut self, mut value: u32) {
        while value >= 0x80 {
            self.out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn length(&mut self, n: usize, width: usize) {
        if self.flexible {
            self.uvarint(n as u32 + 1);
        } else if width == 2 {
            self.out.put_i16(n as i16);
        } else {
            self.out.put_i32(n as i32);
        }
    }

    fn structure(&mut self, s: &Struct) {
        for field in s.fields {
            if field.versions.contains(self.version) {
                self.value(&field.ty);
            }
        }
        if self.flexible {
            let present: Vec<_> = s
                .tagged
                .iter()
                .filter(|t| t.versions.contains(self.version) && self.rng.gen_bool(0.5))
                .collect();
            let unknown = self.rng.gen_bool(0.3);
            self.uvarint(present.len() as u32 + u32::from(unknown));
            for field in present {
                let mut inner = Gen {
                    out: Vec::new(),
                    flexible: true,
                    version: self.version,
                    rng: &mut *self.rng,
                };
                inner.value(&field.ty);
                let value = inner.out;
                self.uvarint(field.tag);
                self.uvarint(value.len() as u32);
                self.out.extend_from_slice(&value);
            }
            if unknown {
                // A tag no spec uses: decoders must skip it by its size.
                let junk = text(self.rng);
                self.uvarint(10_000);
                self.uvarint(junk.len() as u32);
                self.out.extend_from_slice(junk.as_bytes());
            }
        }
    }

    fn value(&mut self, ty: &Ty) {
        match ty {
            Ty::Bool => self.out.push(self.rng.gen_range(0..=1)),
            Ty::Int8 => self.out.push(self.rng.gen()),
            Ty::Int16 => self.out.put_i16(self.rng.gen()),
            Ty::Uint16 => self.out.put_u16(self.rng.gen()),
            Ty::Int32 => self.out.put_i32(self.rng.gen()),
            Ty::Uint32 => self.out.put_u32(self.rng.gen()),
            Ty::Int64 => self.out.put_i64(self.rng.gen()),
            Ty::Float64 => self.out.put_f64(self.rng.gen()),
            Ty::Uuid => self.out.put_u128(self.rng.gen()),
            Ty::String => {
                let s = text(self.rng);
                self.length(s.len(), 2);
                self.out.extend_from_slice(s.as_bytes());
            }
            Ty::Bytes | Ty::Records => {
                let len = self.rng.gen_range(0..=MAX_TEXT_BYTES) as usize;
                self.length(len, 4);
                for _ in 0..len {
                    self.out.push(self.rng.gen());
                }
            }
            Ty::Array(element) => {
                let n = self.rng.gen_range(0..=MAX_ELEMENTS) as usize;
                self.length(n, 4);
                for _ in 0..n {
                    self.value(element);
                }
            }
            Ty::Structs(s) => {
                let n = self.rng.gen_range(0..=MAX_ELEMENTS) as usize;
                self.length(n, 4);
                for _ in 0..n {
                    self.structure(s);
                }
            }
            Ty::Struct(s) => self.structure(s),
            Ty::NullableStruct(s) => {
                let present = self.rng.gen_bool(0.5);
                self.out.push(if present { 1 } else { 0xff });
                if present {
                    self.structure(s);
                }
            }
        }
    }
}
