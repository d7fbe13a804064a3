//! A bounds check of a Parquet footer before polars reads it. polars' metadata
//! decoder trusts the list lengths it finds and reserves memory for them up front, so
//! a damaged footer of a few bytes can ask for tens of gigabytes and abort the
//! process. This walks the footer's Thrift compact encoding without a schema and
//! refuses any length larger than the bytes that remain.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Thrift compact protocol type codes.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

const MAX_DEPTH: usize = 64;

/// Check that the file ends in a footer whose every length fits in the footer.
pub fn check(file: &mut File) -> Result<(), String> {
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if size < 12 {
        return Err("the file is too short to be Parquet".into());
    }
    let mut tail = [0u8; 8];
    file.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    file.read_exact(&mut tail).map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Err("the file does not end with the Parquet magic bytes (truncated?)".into());
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 12 > size {
        return Err(format!(
            "the footer claims {len} bytes but the file has {size}"
        ));
    }
    let mut footer = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(size - 8 - len))
        .map_err(|e| e.to_string())?;
    file.read_exact(&mut footer).map_err(|e| e.to_string())?;
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut w = Walker { b: &footer, i: 0 };
    w.skip_struct(0)
        .map_err(|e| format!("damaged metadata in the footer: {e}"))
}

struct Walker<'a> {
    b: &'a [u8],
    i: usize,
}

impl Walker<'_> {
    fn remaining(&self) -> usize {
        self.b.len() - self.i
    }

    fn byte(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.i).ok_or("ends early")?;
        self.i += 1;
        Ok(v)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7F) << shift.min(63);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number is too long".into())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.remaining() as u64 {
            return Err(format!(
                "a length of {n} bytes exceeds the {} left",
                self.remaining()
            ));
        }
        self.i += n as usize;
        Ok(())
    }

    /// A count of elements, each at least one byte: no more than the bytes left.
    fn count(&mut self, n: u64) -> Result<u64, String> {
        if n > self.remaining() as u64 {
            return Err(format!(
                "a list of {n} elements exceeds the {} bytes left",
                self.remaining()
            ));
        }
        Ok(n)
    }

    fn skip_value(&mut self, ty: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        match ty {
            TRUE | FALSE => Ok(()),
            BYTE => self.skip(1),
            I16 | I32 | I64 => self.varint().map(|_| ()),
            DOUBLE => self.skip(8),
            BINARY => {
                let n = self.varint()?;
                self.skip(n)
            }
            LIST | SET => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let n = self.count(n)?;
                let elem = head & 0x0F;
                for _ in 0..n {
                    // Booleans in lists take a byte each.
                    if elem == TRUE || elem == FALSE {
                        self.skip(1)?;
                    } else {
                        self.skip_value(elem, depth + 1)?;
                    }
                }
                Ok(())
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let n = self.count(n)?;
                let kinds = self.byte()?;
                for _ in 0..n {
                    self.skip_value(kinds >> 4, depth + 1)?;
                    self.skip_value(kinds & 0x0F, depth + 1)?;
                }
                Ok(())
            }
            STRUCT => self.skip_struct(depth + 1),
            other => Err(format!("unknown field type {other}")),
        }
    }

    fn skip_struct(&mut self, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        loop {
            let head = self.byte()?;
            let ty = head & 0x0F;
            match (ty, head) {
                (STOP, 0) => return Ok(()),
                (STOP, _) => return Err(format!("invalid field header {head:#04x}")),
                _ => {}
            }
            if head >> 4 == 0 {
                self.varint()?; // a field id given in full
            }
            self.skip_value(ty, depth)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(bytes: &[u8]) -> Result<(), String> {
        Walker { b: bytes, i: 0 }.skip_struct(0)
    }

    #[test]
    fn well_formed_structs_pass_and_huge_lengths_fail() {
        // field 1: i32 5; field 2: binary "ab"; field 3: list of 2 i32; stop.
        assert!(
            walk(&[
                0x15, 0x0A, 0x18, 0x02, b'a', b'b', 0x19, 0x25, 0x02, 0x04, 0x00
            ])
            .is_ok()
        );
        // A list claiming 2^32 elements in a few bytes.
        let e = walk(&[0x19, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]).unwrap_err();
        assert!(e.contains("exceeds"), "{e}");
        // A binary claiming more bytes than there are.
        assert!(walk(&[0x18, 0x7F, b'a', 0x00]).is_err());
        // Truncated.
        assert!(walk(&[0x15]).is_err());
        // Deep nesting.
        assert!(walk(&[0x1C; 200]).is_err());
    }
}
