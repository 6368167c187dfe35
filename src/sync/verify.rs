//! Deciding whether a remote copy is complete: a pure comparison of the
//! (path, size) pairs we expect against the remote's listing.
//!
//! The original driver compared file counts, so a stray rsync temporary
//! (`.name.XXXXXX`) on the remote could stand in for a missing file. Here
//! every expected path must be present with its exact size; anything else on
//! the remote is ignored: it neither completes nor spoils a copy.

use std::collections::BTreeMap;
use std::fmt;

use super::{ListingSink, RelPath};

/// A file the remote has, but not at the size expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongSize {
    pub path: RelPath,
    pub expected: u64,
    pub found: u64,
}

/// The outcome of comparing expected files with a remote listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Expected files the remote does not have.
    pub missing: Vec<RelPath>,
    /// Expected files the remote has at another size (partial copies).
    pub wrong_size: Vec<WrongSize>,
    /// How many expected files were found intact.
    pub verified: usize,
}

impl Verification {
    /// True when every expected file is on the remote at its size: only then
    /// may the local copy be deleted.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.wrong_size.is_empty()
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_complete() {
            return write!(f, "all {} files present with their sizes", self.verified);
        }
        write!(
            f,
            "{} of {} files verified",
            self.verified,
            self.verified + self.missing.len() + self.wrong_size.len()
        )?;
        if !self.missing.is_empty() {
            write!(f, "; missing: {}", list_some(self.missing.iter()))?;
        }
        if !self.wrong_size.is_empty() {
            let shown = self
                .wrong_size
                .iter()
                .map(|w| format!("{} ({} bytes, expected {})", w.path, w.found, w.expected));
            write!(f, "; wrong size: {}", list_some(shown))?;
        }
        Ok(())
    }
}

/// The first few items and a count of the rest, so a message stays readable.
pub(crate) fn list_some<T: fmt::Display>(items: impl ExactSizeIterator<Item = T>) -> String {
    const SHOWN: usize = 5;
    let total = items.len();
    let mut out: Vec<String> = items.take(SHOWN).map(|i| i.to_string()).collect();
    if total > SHOWN {
        out.push(format!("and {} more", total - SHOWN));
    }
    out.join(", ")
}

/// Expected files and the sizes a listing showed for them; nothing else
/// of the listing is kept.
#[derive(Debug)]
pub struct Tally<'a> {
    files: BTreeMap<&'a str, Slot<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Slot<'a> {
    path: &'a RelPath,
    expected: u64,
    found: Option<u64>,
}

impl<'a> Tally<'a> {
    /// A tally of `expected`; a path expected twice is checked once (the
    /// last size given wins).
    pub fn new(expected: &'a [(RelPath, u64)]) -> Tally<'a> {
        let files = expected
            .iter()
            .map(|(path, size)| {
                (
                    path.as_str(),
                    Slot {
                        path,
                        expected: *size,
                        found: None,
                    },
                )
            })
            .collect();
        Tally { files }
    }

    /// The verdict on what the listings showed.
    pub fn finish(self) -> Verification {
        let mut result = Verification::default();
        for slot in self.files.into_values() {
            match slot.found {
                None => result.missing.push(slot.path.clone()),
                Some(found) if found != slot.expected => result.wrong_size.push(WrongSize {
                    path: slot.path.clone(),
                    expected: slot.expected,
                    found,
                }),
                Some(_) => result.verified += 1,
            }
        }
        result
    }
}

impl ListingSink for Tally<'_> {
    fn file(&mut self, path: RelPath, size: u64) {
        if let Some(slot) = self.files.get_mut(path.as_str()) {
            slot.found = Some(size);
        }
    }

    fn restart(&mut self, root: &RelPath) {
        let root = root.as_str();
        let from = (std::ops::Bound::Included(root), std::ops::Bound::Unbounded);
        for (path, slot) in self.files.range_mut::<str, _>(from) {
            if !path.starts_with(root) {
                break;
            }
            let under = path.len() == root.len() || path.as_bytes().get(root.len()) == Some(&b'/');
            if under {
                slot.found = None;
            }
        }
    }
}

/// Compares expected (path, size) pairs with a remote listing. Extra remote
/// files are ignored. A path expected twice is checked once.
pub fn compare(expected: &[(RelPath, u64)], listing: &BTreeMap<RelPath, u64>) -> Verification {
    let mut tally = Tally::new(expected);
    for (path, size) in listing {
        tally.file(path.clone(), *size);
    }
    tally.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    fn listing(items: &[(&str, u64)]) -> BTreeMap<RelPath, u64> {
        items.iter().map(|(s, n)| (p(s), *n)).collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            expected: &'static [(&'static str, u64)],
            remote: &'static [(&'static str, u64)],
            missing: &'static [&'static str],
            wrong: &'static [(&'static str, u64, u64)],
        }
        let cases = [
            Case {
                name: "all present",
                expected: &[("T/a", 1), ("T/b", 2)],
                remote: &[("T/a", 1), ("T/b", 2)],
                missing: &[],
                wrong: &[],
            },
            Case {
                name: "stray rsync temporary does not stand in for a missing file",
                expected: &[("T/a", 1), ("T/b", 2)],
                remote: &[("T/a", 1), ("T/.b.Xy12Ab", 2)],
                missing: &["T/b"],
                wrong: &[],
            },
            Case {
                name: "stray temporary next to a complete copy is ignored",
                expected: &[("T/a", 1), ("T/b", 2)],
                remote: &[("T/a", 1), ("T/b", 2), ("T/.x.abcd", 7)],
                missing: &[],
                wrong: &[],
            },
            Case {
                name: "partial file (rsync --partial) has the wrong size",
                expected: &[("T/big", 2_000_000)],
                remote: &[("T/big", 524_288)],
                missing: &[],
                wrong: &[("T/big", 2_000_000, 524_288)],
            },
            Case {
                name: "empty remote",
                expected: &[("single.iso", 10)],
                remote: &[],
                missing: &["single.iso"],
                wrong: &[],
            },
            Case {
                name: "empty files count",
                expected: &[("T/empty", 0)],
                remote: &[("T/empty", 0)],
                missing: &[],
                wrong: &[],
            },
            Case {
                name: "nothing expected is trivially complete",
                expected: &[],
                remote: &[("other", 1)],
                missing: &[],
                wrong: &[],
            },
        ];
        for case in cases {
            let expected: Vec<(RelPath, u64)> =
                case.expected.iter().map(|(s, n)| (p(s), *n)).collect();
            let v = compare(&expected, &listing(case.remote));
            let missing: Vec<&str> = v.missing.iter().map(RelPath::as_str).collect();
            assert_eq!(missing, case.missing, "{}", case.name);
            let wrong: Vec<(&str, u64, u64)> = v
                .wrong_size
                .iter()
                .map(|w| (w.path.as_str(), w.expected, w.found))
                .collect();
            assert_eq!(wrong, case.wrong, "{}", case.name);
            assert_eq!(
                v.is_complete(),
                case.missing.is_empty() && case.wrong.is_empty(),
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn a_retry_forgets_only_what_was_under_its_root() {
        let expected = [(p("T/a"), 1), (p("T 2/b"), 2), (p("T2"), 3), (p("T"), 4)];
        let mut tally = Tally::new(&expected);
        for (path, size) in [("T/a", 1), ("T 2/b", 2), ("T2", 3), ("T", 4)] {
            tally.file(p(path), size);
        }
        tally.restart(&p("T"));
        tally.file(p("unexpected"), 9);
        let v = tally.finish();
        assert_eq!(v.missing, vec![p("T"), p("T/a")]);
        assert_eq!(v.verified, 2);
    }

    #[test]
    fn message_lists_what_is_missing() {
        let v = compare(&[(p("T/a"), 1), (p("T/b"), 5)], &listing(&[("T/b", 3)]));
        assert_eq!(
            v.to_string(),
            "0 of 2 files verified; missing: T/a; wrong size: T/b (3 bytes, expected 5)"
        );
    }
}
