//! Buffered sequential reads of a segment file: header scans and streaming CRC checks read
//! the file in chunks instead of one small read per batch, and never allocate more than one
//! chunk however large a (possibly corrupt) length field claims a batch is.

use std::io;

use crate::storage::batch::{BatchHeader, HEADER_BYTES};
use crate::storage::{read_exact_at, StorageFile};

/// Bytes read per refill.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

pub(crate) struct ChunkReader<'a> {
    file: &'a dyn StorageFile,
    /// Logical end of the data (the segment size); nothing at or past it is read.
    end: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'a> ChunkReader<'a> {
    pub(crate) fn new(file: &'a dyn StorageFile, end: u64) -> Self {
        Self {
            file,
            end,
            buf: Vec::new(),
            buf_start: 0,
        }
    }

    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Bytes `[pos, pos + len)`; `len` at most [`CHUNK_BYTES`]. Fails with `UnexpectedEof`
    /// past the logical end.
    pub(crate) fn get(&mut self, pos: u64, len: usize) -> io::Result<&[u8]> {
        debug_assert!(len <= CHUNK_BYTES);
        if pos.checked_add(len as u64).is_none_or(|e| e > self.end) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past segment end",
            ));
        }
        let buf_end = self.buf_start + self.buf.len() as u64;
        if pos < self.buf_start || pos + len as u64 > buf_end {
            let n = (self.end - pos).min(CHUNK_BYTES as u64) as usize;
            self.buf.resize(n, 0);
            read_exact_at(self.file, pos, &mut self.buf)?;
            self.buf_start = pos;
        }
        let from = (pos - self.buf_start) as usize;
        Ok(&self.buf[from..from + len])
    }

    /// CRC-32C of `[from, to)`, streamed chunk by chunk.
    pub(crate) fn crc(&mut self, mut from: u64, to: u64) -> io::Result<u32> {
        let mut crc = 0u32;
        while from < to {
            let n = (to - from).min(CHUNK_BYTES as u64) as usize;
            crc = crc32c::crc32c_append(crc, self.get(from, n)?);
            from += n as u64;
        }
        Ok(crc)
    }
}

/// Why a stored batch at some position cannot be used.
#[derive(Debug)]
pub(crate) enum ScanError {
    Io(io::Error),
    /// The bytes do not form a valid batch (the reason says which rule failed).
    Invalid(String),
}

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Reads and checks the header of the batch at `pos` (not its CRC): header rules and the
/// batch ends within the data.
pub(crate) fn header_at(reader: &mut ChunkReader<'_>, pos: u64) -> Result<BatchHeader, ScanError> {
    if reader.end().saturating_sub(pos) < HEADER_BYTES as u64 {
        return Err(ScanError::Invalid(format!(
            "only {} bytes left for a batch header",
            reader.end().saturating_sub(pos)
        )));
    }
    let header = BatchHeader::parse(reader.get(pos, HEADER_BYTES)?)
        .map_err(|e| ScanError::Invalid(e.to_string()))?;
    header
        .check_stored(i32::MAX as usize)
        .map_err(|e| ScanError::Invalid(e.to_string()))?;
    if pos + header.total_bytes() as u64 > reader.end() {
        return Err(ScanError::Invalid(format!(
            "batch of {} bytes runs past the end of the data",
            header.total_bytes()
        )));
    }
    Ok(header)
}

/// [`header_at`] plus the CRC of the whole batch.
pub(crate) fn validated_header_at(
    reader: &mut ChunkReader<'_>,
    pos: u64,
) -> Result<BatchHeader, ScanError> {
    let header = header_at(reader, pos)?;
    let computed = reader.crc(
        pos + crate::storage::batch::CRC_START as u64,
        pos + header.total_bytes() as u64,
    )?;
    if computed != header.crc {
        return Err(ScanError::Invalid(format!(
            "CRC mismatch: stored {:#010x}, computed {computed:#010x}",
            header.crc
        )));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An in-memory file that counts its reads: the buffering is what this reader is for.
    struct CountingFile {
        bytes: Vec<u8>,
        reads: AtomicUsize,
    }

    impl StorageFile for CountingFile {
        fn len_bytes(&self) -> io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let rest = self.bytes.get(pos as usize..).unwrap_or(&[]);
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
        fn append(&self, _: &[u8]) -> io::Result<u64> {
            unreachable!("the reader never writes")
        }
        fn write_at(&self, _: u64, _: &[u8]) -> io::Result<()> {
            unreachable!("the reader never writes")
        }
        fn truncate(&self, _: u64) -> io::Result<()> {
            unreachable!("the reader never writes")
        }
        fn sync(&self) -> io::Result<()> {
            unreachable!("the reader never writes")
        }
    }

    #[test]
    fn bytes_already_buffered_from_the_chunk_start_are_not_read_again() {
        let file = CountingFile {
            bytes: (0..200u8).collect(),
            reads: AtomicUsize::new(0),
        };
        let mut reader = ChunkReader::new(&file, 200);
        // A batch header, then the CRC of the whole batch from the same position: what every
        // scan does per batch. One refill serves both.
        assert_eq!(reader.get(0, 61).unwrap(), &file.bytes[..61]);
        assert_eq!(reader.crc(0, 200).unwrap(), crc32c::crc32c(&file.bytes));
        assert_eq!(reader.get(100, 10).unwrap(), &file.bytes[100..110]);
        assert_eq!(file.reads.load(Ordering::Relaxed), 1);
        // Before the buffer: refilled from there.
        let mut reader = ChunkReader::new(&file, 200);
        reader.get(50, 10).unwrap();
        assert_eq!(reader.get(40, 10).unwrap(), &file.bytes[40..50]);
        assert_eq!(file.reads.load(Ordering::Relaxed), 3);
    }
}
