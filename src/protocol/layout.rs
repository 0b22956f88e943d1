//! Request layouts: what each Kafka request looks like on the wire, field by field, per version.
//!
//! The `kafka-protocol` crate decodes a request by trusting its length prefixes: an array count,
//! a string or a bytes length read from the wire becomes `Vec::with_capacity(count)` or
//! `vec![0; len]` before the crate checks that the bytes exist. A 21-byte frame can so ask for
//! 120 GB, and an allocation failure aborts the whole process (it is not a panic). The layouts
//! here let [`crate::protocol::bounds`] walk a request before the crate sees it and refuse any
//! length or count that the bytes left cannot hold.
//!
//! A layout only needs what decides *where the bytes go*: each field's wire type and the
//! versions it is present in. Nullability and defaults do not matter to the walk (a null is a
//! length of −1, which allocates nothing; the crate still rejects a null where it is not
//! allowed). The layouts are written from Kafka's message specifications
//! (`clients/src/main/resources/common/message/*Request.json` in Apache Kafka), and
//! `tests/request_bounds.rs` checks each one against the crate: requests generated from a layout
//! must decode with the crate and consume every byte.

use kafka_protocol::messages::ApiKey;

/// An inclusive range of API versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub min: i16,
    pub max: i16,
}

impl Versions {
    pub const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }
}

/// Every version.
pub const ALL: Versions = Versions {
    min: 0,
    max: i16::MAX,
};
/// No version (for messages that never use flexible encodings).
pub const NONE: Versions = Versions { min: 1, max: 0 };

/// `version+` in Kafka's specs.
pub const fn since(min: i16) -> Versions {
    Versions { min, max: i16::MAX }
}

/// `min-max` in Kafka's specs.
pub const fn range(min: i16, max: i16) -> Versions {
    Versions { min, max }
}

/// A field's wire type. Strings, bytes and arrays use their compact forms (unsigned varint of
/// length + 1) in the message's flexible versions and fixed-width lengths otherwise.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Bool,
    Int8,
    Int16,
    Uint16,
    Int32,
    Uint32,
    Int64,
    Float64,
    Uuid,
    /// `string`: i16 length (−1 = null), or compact.
    String,
    /// `bytes`: i32 length (−1 = null), or compact.
    Bytes,
    /// `records`: record batches, encoded like nullable `bytes`.
    Records,
    /// `[]int32`, `[]string`, …: an array of a non-struct element.
    Array(&'static Ty),
    /// `[]SomeStruct`: an array of structs.
    Structs(&'static Struct),
    /// A single nested struct (not an array).
    Struct(&'static Struct),
    /// A nullable nested struct: an int8 (1: present, then the struct; anything else: null).
    NullableStruct(&'static Struct),
}

/// A field present in `versions`.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub versions: Versions,
    pub ty: Ty,
}

/// A tagged field (flexible versions only): present when its tag appears in the struct's
/// tagged-field section.
#[derive(Clone, Copy, Debug)]
pub struct Tagged {
    pub name: &'static str,
    pub tag: u32,
    pub versions: Versions,
    pub ty: Ty,
}

/// A struct: its fields in wire order, then (in flexible versions) its tagged-field section.
#[derive(Clone, Copy, Debug)]
pub struct Struct {
    pub fields: &'static [Field],
    pub tagged: &'static [Tagged],
}

/// One request message: the versions the layout describes and which of them are flexible.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub key: ApiKey,
    /// The versions this layout is written for; a version outside it has no layout.
    pub versions: Versions,
    /// Kafka's `flexibleVersions`: compact lengths and tagged fields.
    pub flexible: Versions,
    pub body: Struct,
}

/// Shorthand for a field present in `versions`.
pub const fn f(name: &'static str, versions: Versions, ty: Ty) -> Field {
    Field { name, versions, ty }
}

/// Shorthand for a tagged field.
pub const fn tagged(name: &'static str, tag: u32, versions: Versions, ty: Ty) -> Tagged {
    Tagged {
        name,
        tag,
        versions,
        ty,
    }
}

/// A struct without tagged fields.
pub const fn fields(fields: &'static [Field]) -> Struct {
    Struct {
        fields,
        tagged: &[],
    }
}
