//! How long a piece is.
//!
//! The automatic rule: the file size divided by 1024, rounded up to a power
//! of two, kept between 16 KiB and 16 MiB. So a file has between 512 and
//! about 1024 pieces (fewer only below 8 MiB or above 16 GiB), its .torrent
//! stays under ~20 KiB of piece hashes, and clients re-download little when
//! a piece fails. It depends on the size only, so every machine chooses the
//! same piece length for the same file and gets the same info-hash.
//!
//! | file size         | piece length |
//! |-------------------|--------------|
//! | up to 16 MiB      | 16 KiB       |
//! | 64 MiB            | 64 KiB       |
//! | 1 GiB             | 1 MiB        |
//! | 4 GiB             | 4 MiB        |
//! | 16 GiB and above  | 16 MiB       |

use crate::size::parse_size;

/// Smallest piece length: the BitTorrent block size; clients refuse less.
pub const MIN_PIECE_LENGTH: u64 = 16 << 10;
/// Largest piece length the automatic rule picks.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 << 20;
/// Largest piece length accepted on the command line (libtorrent's limit is
/// far above; beyond this, one bad piece costs too much to fetch again).
pub const MAX_PIECE_LENGTH: u64 = 64 << 20;

/// `--piece-size`: chosen per file, or fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PieceSize {
    Auto,
    Fixed(u64),
}

impl PieceSize {
    /// "auto", or a size such as "1 MiB" that is a power of two between
    /// 16 KiB and 64 MiB.
    pub fn parse(text: &str) -> Result<PieceSize, String> {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(PieceSize::Auto);
        }
        let bytes = parse_size(text)?;
        if !bytes.is_power_of_two() || !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&bytes) {
            return Err(format!(
                "piece size \"{}\" must be \"auto\" or a power of two from 16 KiB to 64 MiB (e.g. 256KiB, 1MiB)",
                text.trim()
            ));
        }
        Ok(PieceSize::Fixed(bytes))
    }

    /// The piece length for a file of `file_size` bytes.
    pub fn for_file(self, file_size: u64) -> u64 {
        match self {
            PieceSize::Fixed(bytes) => bytes,
            PieceSize::Auto => auto_piece_length(file_size),
        }
    }
}

/// The automatic rule (see the module documentation).
pub fn auto_piece_length(file_size: u64) -> u64 {
    (file_size / 1024)
        .checked_next_power_of_two()
        .unwrap_or(MAX_AUTO_PIECE_LENGTH)
        .clamp(MIN_PIECE_LENGTH, MAX_AUTO_PIECE_LENGTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_rule_table() {
        const KIB: u64 = 1 << 10;
        const MIB: u64 = 1 << 20;
        const GIB: u64 = 1 << 30;
        let cases: &[(u64, u64)] = &[
            (0, 16 * KIB),
            (1, 16 * KIB),
            (16 * MIB, 16 * KIB),
            (16 * MIB + 1023, 16 * KIB),
            (16 * MIB + 1024, 32 * KIB),
            (64 * MIB, 64 * KIB),
            (700 * MIB, MIB),
            (GIB, MIB),
            (GIB + 1, MIB),
            (4 * GIB, 4 * MIB),
            (16 * GIB, 16 * MIB),
            (5000 * GIB, 16 * MIB),
            (u64::MAX, 16 * MIB),
        ];
        for (size, want) in cases {
            assert_eq!(auto_piece_length(*size), *want, "size {size}");
        }
    }

    #[test]
    fn parse_accepts_auto_and_powers_of_two() {
        assert_eq!(PieceSize::parse("auto"), Ok(PieceSize::Auto));
        assert_eq!(PieceSize::parse(" AUTO "), Ok(PieceSize::Auto));
        assert_eq!(PieceSize::parse("1MiB"), Ok(PieceSize::Fixed(1 << 20)));
        assert_eq!(PieceSize::parse("16384"), Ok(PieceSize::Fixed(16384)));
        assert_eq!(PieceSize::parse("64 MiB"), Ok(PieceSize::Fixed(64 << 20)));
        assert_eq!(PieceSize::Fixed(1 << 20).for_file(5), 1 << 20);
    }

    #[test]
    fn parse_errors_say_what_is_allowed() {
        for text in ["1MB", "8KiB", "128MiB", "0", "3 parsecs", ""] {
            let err = PieceSize::parse(text).unwrap_err();
            assert!(
                err.contains("power of two") || err.contains("size"),
                "{text}: {err}"
            );
        }
        assert!(PieceSize::parse("1MB").unwrap_err().contains("\"1MB\""));
    }
}
