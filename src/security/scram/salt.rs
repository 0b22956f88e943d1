//! Salts shaped as Kafka's: `ScramFormatter.secureRandomBytes` (kafka-configs, kafka-storage)
//! and the Admin client's `UserScramCredentialUpsertion` both draw
//! `new BigInteger(130, random).toString(Character.MAX_RADIX)` and store its UTF-8 bytes: a
//! 130-bit number in base 36, lower case, 1 to 26 characters (nearly always 25 or 26).
//! `rill configs` draws its salts so (from the OS RNG), and the broker's decoy credentials
//! for unknown users take theirs from a keyed hash, so that neither stands out.

/// Bytes that hold the 130 bits a salt is made from (the top 6 bits of the first are
/// cleared).
pub const KAFKA_SALT_SEED_BYTES: usize = 17;

/// The salt of the 130-bit number in `seed` (its first [`KAFKA_SALT_SEED_BYTES`] bytes,
/// big-endian, with the first byte's top 6 bits ignored).
///
/// # Panics
/// When `seed` is shorter than [`KAFKA_SALT_SEED_BYTES`] (callers pass fixed-size arrays
/// or a hash's output).
pub fn kafka_salt(seed: &[u8]) -> Vec<u8> {
    let mut number = seed[..KAFKA_SALT_SEED_BYTES].to_vec();
    number[0] &= 0b11; // 136 bits, the top 6 cleared: 130.
    base36(&number).into_bytes()
}

/// A big-endian unsigned number in base 36, lower case, without leading zeros (Java's
/// `BigInteger.toString(36)`).
fn base36(number: &[u8]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut number = number.to_vec();
    let mut digits = Vec::new();
    while number.iter().any(|&byte| byte != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let current = (remainder << 8) | u32::from(*byte);
            *byte = (current / 36) as u8;
            remainder = current % 36;
        }
        digits.push(DIGITS[remainder as usize]);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_is_javas_big_integer_to_string_36() {
        assert_eq!(base36(&[0, 0]), "0");
        assert_eq!(base36(&[35]), "z");
        assert_eq!(base36(&[1, 0]), "74"); // 256 = 7 * 36 + 4
        assert_eq!(base36(&u64::MAX.to_be_bytes()), "3w5e11264sgsf");
    }

    #[test]
    fn salts_are_130_bit_numbers_in_base_36() {
        // 2^130 - 1, the largest salt: 26 digits.
        assert_eq!(kafka_salt(&[0xff; 32]), b"1omfro7zwmumr3umxudzyj6scf");
        assert_eq!(kafka_salt(&[0; 17]), b"0");
        let mut seed = [0u8; 32];
        seed[0] = 0xfd; // only the low 2 bits of the first byte count: 1
        seed[16] = 0x2a;
        assert_eq!(kafka_salt(&seed), b"f5lxx1zz5pnorynqglhzmsp4a");
    }
}
