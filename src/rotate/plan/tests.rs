//! Table tests of the planner: each names a situation and what a user would
//! expect rotation to do in it.

use super::*;
use std::path::Path;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const NOW: u64 = 1_800_000_000;

fn hash(n: u8) -> InfoHash {
    InfoHash::from_hex(&format!("{n:02x}").repeat(20)).unwrap()
}

fn managed(n: u8, size: u64) -> ManagedTorrent {
    ManagedTorrent {
        file: PathBuf::from(format!("/managed/t{n}.torrent")),
        info_hash: hash(n),
        name: format!("t{n}"),
        total_size: size,
        files: vec![(vec![format!("t{n}")], size)],
        single_file: true,
        piece_length: 256 * 1024,
        file_bytes: 40_000,
    }
}

fn multi(n: u8, files: &[(&str, u64)]) -> ManagedTorrent {
    ManagedTorrent {
        file: PathBuf::from(format!("/managed/m{n}.torrent")),
        info_hash: hash(n),
        name: format!("m{n}"),
        total_size: files.iter().map(|f| f.1).sum(),
        files: files
            .iter()
            .map(|(p, s)| (p.split('/').map(String::from).collect(), *s))
            .collect(),
        single_file: false,
        piece_length: 256 * 1024,
        file_bytes: 40_000,
    }
}

fn loaded(n: u8, size: u64, completed: u64, ratio_milli: i64, finished_ago: u64) -> Loaded {
    Loaded {
        info_hash: hash(n),
        name: format!("t{n}"),
        size,
        completed,
        complete: completed == size,
        ratio_milli,
        started: true,
        base_path: PathBuf::from(format!("/data/t{n}")),
        finished_at: if completed == size {
            NOW - finished_ago
        } else {
            0
        },
    }
}

fn policy(limit: u64) -> Policy {
    Policy {
        space_limit: limit,
        required_ratio_milli: 1000,
        min_seed_time: None,
        max_seed_time: None,
        reserve: 0,
    }
}

fn snapshot(managed: Vec<ManagedTorrent>, loaded: Vec<Loaded>) -> Snapshot {
    Snapshot {
        managed,
        corrupt: vec![],
        loaded,
        disk_free: 100 * GIB,
        now: NOW,
        file_mode_files: None,
        request_limit: Some(512 * 1024),
        download_fs: Default::default(),
        skipped: Default::default(),
    }
}

fn names(steps: &[LoadStep]) -> Vec<&str> {
    steps.iter().map(|s| s.name.as_str()).collect()
}

fn entry(n: u8, phase: Phase, size: u64) -> (String, Entry) {
    (
        hash(n).to_hex(),
        Entry {
            name: format!("t{n}"),
            phase,
            torrent_file: PathBuf::from(format!("/managed/t{n}.torrent")),
            base_path: PathBuf::from(format!("/data/t{n}")),
            size,
            files: vec![(vec![format!("t{n}")], size)],
            updated: NOW - 10,
            keep_torrent_file: false,
        },
    )
}

fn journal(entries: Vec<(String, Entry)>) -> Journal {
    Journal {
        version: 1,
        torrents: entries.into_iter().collect(),
        ..Journal::default()
    }
}

#[test]
fn loads_smallest_first_while_they_fit() {
    let s = snapshot(
        vec![
            managed(1, 3 * GIB),
            managed(2, GIB),
            managed(3, 2 * GIB),
            managed(4, 500 * MIB),
        ],
        vec![],
    );
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert_eq!(names(&p.load), vec!["t4", "t2", "t3"], "{:#?}", p.reasons);
    assert!(p.sync.is_empty() && p.remove.is_empty());
    let t1 = p.states.iter().find(|s| s.1 == "t1").unwrap();
    assert!(matches!(t1.2, TorrentState::Waiting { needs, .. } if needs == 3 * GIB));
}

#[test]
fn once_one_does_not_fit_the_larger_ones_wait_too() {
    // 1 GiB free: t2 (2 GiB) does not fit, so t3 (2 GiB, later by name) waits too.
    let s = snapshot(
        vec![
            managed(1, 3 * GIB),
            managed(2, 2 * GIB),
            managed(3, 2 * GIB),
        ],
        vec![loaded(1, 3 * GIB, 0, 0, 0)],
    );
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert!(p.load.is_empty(), "{:?}", names(&p.load));
    assert_eq!(p.budget.used, 3 * GIB);
    assert_eq!(p.budget.available, GIB);
}

#[test]
fn unmanaged_torrents_are_neither_counted_nor_touched() {
    let mut stranger = loaded(9, 50 * GIB, 50 * GIB, 5000, 99_999);
    stranger.name = "not ours".into();
    let s = snapshot(vec![managed(1, GIB)], vec![stranger]);
    let p = plan(&s, &policy(2 * GIB), &Journal::default());
    assert_eq!(names(&p.load), vec!["t1"]);
    assert_eq!(p.budget.used, 0);
    assert!(
        p.sync.is_empty(),
        "an unmanaged complete torrent must never be synced"
    );
    assert!(p.states.iter().all(|s| s.0 != hash(9)));
}

#[test]
fn the_real_disk_limits_when_it_is_tighter() {
    // Limit says 10 GiB free, the disk has 3 GiB less 1 GiB reserve less
    // 1 GiB still to download by a loaded torrent: 1 GiB for new ones.
    let mut s = snapshot(
        vec![managed(1, 2 * GIB), managed(2, GIB), managed(3, 900 * MIB)],
        vec![loaded(1, 2 * GIB, GIB, 0, 0)],
    );
    s.disk_free = 3 * GIB;
    let mut pol = policy(12 * GIB);
    pol.reserve = GIB;
    let p = plan(&s, &pol, &Journal::default());
    assert_eq!(p.budget.available, GIB);
    assert_eq!(names(&p.load), vec!["t3"]);
    assert!(
        p.reasons.iter().any(|r| r.contains("the disk is tighter")),
        "{:#?}",
        p.reasons
    );
}

#[test]
fn too_big_torrents_are_reported_and_do_not_block_others() {
    let s = snapshot(vec![managed(1, 10 * GIB), managed(2, GIB)], vec![]);
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert_eq!(names(&p.load), vec!["t2"]);
    assert!(p
        .states
        .iter()
        .any(|s| s.1 == "t1" && s.2 == TorrentState::TooBig));
}

#[test]
fn incomplete_torrents_keep_downloading() {
    let s = snapshot(vec![managed(1, GIB)], vec![loaded(1, GIB, GIB / 2, 0, 0)]);
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert!(p.sync.is_empty());
    assert!(
        matches!(p.states[0].2, TorrentState::Downloading { completed, .. } if completed == GIB / 2)
    );
    assert_eq!(p.budget.still_to_download, GIB / 2);
}

/// The words a person reads after "seeding until" (Err) or "complete
/// and" (Ok), for each rule.
#[test]
fn seeding_rules() {
    let h = 3600;
    // (ratio, seeded for, min_seed, max_seed, expected)
    type Case = (
        i64,
        u64,
        Option<u64>,
        Option<u64>,
        Result<&'static str, &'static str>,
    );
    let cases: &[Case] = &[
        (420, 10, None, None, Err("ratio 1.00, now 0.42")),
        // 0.999 is not 1.00.
        (999, 10, None, None, Err("ratio 1.00, now 0.99")),
        (1000, 10, None, None, Ok("ratio 1.00 reached 1.00")),
        (2500, 10, None, None, Ok("ratio 2.50 reached 1.00")),
        (
            2500,
            35 * 60,
            Some(2 * h),
            None,
            Err("min_seed_time 2h, seeded 35m"),
        ),
        (
            420,
            35 * 60,
            Some(2 * h),
            None,
            Err("min_seed_time 2h, seeded 35m, and ratio 1.00, now 0.42"),
        ),
        (2500, 2 * h, Some(h), None, Ok("ratio 2.50 reached 1.00")),
        (
            100,
            2 * h,
            None,
            Some(3 * h),
            Err("ratio 1.00, now 0.10, or max_seed_time 3h, seeded 2h"),
        ),
        (
            100,
            4 * h,
            None,
            Some(3 * h),
            Ok("seeded 4h, reaching max_seed_time 3h (ratio 0.10)"),
        ),
        (
            100,
            30 * 60,
            Some(h),
            Some(3 * h),
            Err("min_seed_time 1h, seeded 30m, and ratio 1.00, now 0.10"),
        ),
    ];
    for (ratio, seeded, min, max, want) in cases {
        let mut pol = policy(4 * GIB);
        pol.min_seed_time = min.map(Duration::from_secs);
        pol.max_seed_time = max.map(Duration::from_secs);
        let got = seeded_enough(*ratio, Seeding::Finished(NOW - seeded), &pol, NOW);
        let want = want.map(String::from).map_err(String::from);
        assert_eq!(got, want, "ratio {ratio} seeded {seeded}");

        // The planner acts on it, and status shows the same words.
        let s = snapshot(
            vec![managed(1, GIB)],
            vec![loaded(1, GIB, GIB, *ratio, *seeded)],
        );
        let p = plan(&s, &pol, &Journal::default());
        assert_eq!(!p.sync.is_empty(), want.is_ok());
        if let Err(w) = &want {
            assert_eq!(p.states[0].2.to_string(), format!("seeding until {w}"));
        }
    }
}

/// d.timestamp.finished = 0: rtorrent does not know when it finished.
/// Seeding time counts from when lowspace first saw it complete (recorded
/// in the journal by the first run that sees it), so min_seed_time and
/// max_seed_time still work.
#[test]
fn without_a_finish_time_seeding_counts_from_when_lowspace_saw_it_complete() {
    let h = 3600;
    // (ratio, seen complete ago (None: never), min, max, expect sync, text)
    type Case = (
        i64,
        Option<u64>,
        Option<u64>,
        Option<u64>,
        bool,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            100,
            None,
            None,
            Some(3 * h),
            false,
            "seeding until ratio 1.00, now 0.10, or max_seed_time 3h, seeded 0s (since lowspace saw it complete)",
        ),
        (
            100,
            Some(2 * h),
            None,
            Some(3 * h),
            false,
            "seeding until ratio 1.00, now 0.10, or max_seed_time 3h, seeded 2h (since lowspace saw it complete)",
        ),
        (
            100,
            Some(4 * h),
            None,
            Some(3 * h),
            true,
            "seeded 4h (since lowspace saw it complete), reaching max_seed_time 3h",
        ),
        (
            2500,
            Some(35 * 60),
            Some(2 * h),
            None,
            false,
            "seeding until min_seed_time 2h, seeded 35m (since lowspace saw it complete)",
        ),
        (2500, Some(3 * h), Some(2 * h), None, true, "reached 1.00"),
        (2500, None, None, None, true, "reached 1.00"),
    ];
    for (ratio, seen_ago, min, max, expect_sync, text) in cases {
        let mut t = loaded(1, GIB, GIB, *ratio, 0);
        t.finished_at = 0;
        let s = snapshot(vec![managed(1, GIB)], vec![t]);
        let mut pol = policy(4 * GIB);
        pol.min_seed_time = min.map(Duration::from_secs);
        pol.max_seed_time = max.map(Duration::from_secs);
        let mut j = Journal::default();
        if let Some(ago) = seen_ago {
            j.complete_since.insert(hash(1).to_hex(), NOW - ago);
        }
        let p = plan(&s, &pol, &j);
        assert_eq!(!p.sync.is_empty(), *expect_sync, "{:#?}", p.states);
        let said = if *expect_sync {
            p.reasons.join("\n")
        } else {
            p.states[0].2.to_string()
        };
        assert!(said.contains(text), "ratio {ratio}: {said}");
        // The first run to see it complete records it; later runs keep it.
        assert_eq!(p.seen_complete.is_empty(), seen_ago.is_some());
    }
}

#[test]
fn a_torrent_is_recorded_complete_once_and_forgotten_when_gone() {
    // t1 complete, first seen now; t2 downloading; t3 recorded but gone
    // from the managed directory; t4 recorded but no longer in rtorrent.
    let s = snapshot(
        vec![managed(1, GIB), managed(2, GIB), managed(4, GIB)],
        vec![loaded(1, GIB, GIB, 0, 60), loaded(2, GIB, GIB / 2, 0, 0)],
    );
    let mut j = Journal::default();
    j.complete_since.insert(hash(3).to_hex(), NOW - 5);
    j.complete_since.insert(hash(4).to_hex(), NOW - 5);
    let p = plan(&s, &policy(100 * GIB), &j);
    assert_eq!(p.seen_complete, vec![hash(1)]);
    assert_eq!(p.drop_records, vec![hash(3).to_hex(), hash(4).to_hex()]);
}

fn failed(n: u8, count: u32, ago: u64) -> (String, super::super::journal::FailureRecord) {
    (
        hash(n).to_hex(),
        super::super::journal::FailureRecord {
            name: format!("t{n}"),
            count,
            reason: "a symbolic link".into(),
            last: NOW - ago,
        },
    )
}

/// A torrent whose last sync failed for a reason of its own is not synced
/// again before its back-off ends; the others are, and the status says why
/// and when.
#[test]
fn torrents_in_back_off_wait_and_the_others_go() {
    let s = snapshot(
        vec![managed(1, GIB), managed(2, GIB), managed(3, GIB)],
        vec![
            loaded(1, GIB, GIB, 1000, 60),
            loaded(2, GIB, GIB, 1000, 60),
            loaded(3, GIB, GIB, 1000, 60),
        ],
    );
    let mut j = Journal::default();
    // t1: second failure 10 minutes ago (back-off 1h); t3: first failure
    // 31 minutes ago (back-off 30m, over).
    j.failures
        .extend([failed(1, 2, 600), failed(3, 1, 31 * 60)]);
    let p = plan(&s, &policy(4 * GIB), &j);
    let synced: Vec<&str> = p.sync.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(synced, vec!["t2", "t3"]);
    // Its space is not offered to loads: it stays.
    assert_eq!(p.budget.freed, 2 * GIB);
    let state = &p.states[0];
    assert_eq!(state.1, "t1");
    assert_eq!(
        state.2,
        TorrentState::BackedOff {
            failures: 2,
            reason: "a symbolic link".into(),
            next_try: NOW + 3000,
            wait: 3000,
        }
    );
    assert_eq!(
        state.2.to_string(),
        format!(
            "sync failed (2 times), next try in 50m ({}): a symbolic link",
            utc_minute(NOW + 3000)
        )
    );
    assert!(
        p.reasons
            .iter()
            .any(|r| r.starts_with("t1: complete and ratio 1.00 reached 1.00, but its last sync failed (a symbolic link); not tried again before")),
        "{:#?}",
        p.reasons
    );
    // A back-off record of a torrent no longer managed is dropped.
    j.failures.extend([failed(9, 1, 5)]);
    let p = plan(&s, &policy(4 * GIB), &j);
    assert_eq!(p.drop_records, vec![hash(9).to_hex()]);
}

/// Smallest first, name breaking ties, interrupted syncs included.
#[test]
fn syncs_go_smallest_first() {
    let s = snapshot(
        vec![
            managed(1, 3 * GIB),
            managed(2, GIB),
            managed(3, 2 * GIB),
            managed(4, GIB),
        ],
        vec![
            loaded(1, 3 * GIB, 3 * GIB, 1000, 60),
            loaded(2, GIB, GIB, 1000, 60),
            loaded(4, GIB, GIB, 1000, 60),
        ],
    );
    let j = journal(vec![entry(3, Phase::Syncing, 2 * GIB)]);
    let p = plan(&s, &policy(10 * GIB), &j);
    let order: Vec<&str> = p.sync.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, vec!["t2", "t4", "t3", "t1"]);
    // What each frees, so the executor can take back a failed one.
    let frees: Vec<(u64, u64)> = p.sync.iter().map(|s| (s.frees, s.frees_on_disk)).collect();
    assert_eq!(
        frees,
        vec![(GIB, GIB), (GIB, GIB), (0, 2 * GIB), (3 * GIB, 3 * GIB)]
    );
}

/// When a sync or removal fails, the loads planned into its space are
/// dropped (the larger ones first, as the planner would have) and the
/// rest still go.
#[test]
fn loads_that_still_fit_after_a_failed_sync() {
    // Limit 4 GiB, 3 GiB used: t1 (1 GiB) and t2 (2 GiB) sync. Waiting:
    // t3 1 GiB, t4 1 GiB, t5 2 GiB; all fit after both syncs (4 GiB).
    let s = snapshot(
        vec![
            managed(1, GIB),
            managed(2, 2 * GIB),
            managed(3, GIB),
            managed(4, GIB),
            managed(5, 2 * GIB),
        ],
        vec![
            loaded(1, GIB, GIB, 1000, 60),
            loaded(2, 2 * GIB, 2 * GIB, 1000, 60),
        ],
    );
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert_eq!(names(&p.load), vec!["t3", "t4", "t5"]);
    assert_eq!(p.budget.available_without(0, 0), p.budget.available);
    // (lost limit, lost on disk, loads kept, dropped)
    let cases: &[(u64, u64, &[&str], usize)] = &[
        (0, 0, &["t3", "t4", "t5"], 0),
        // t1's sync failed: 3 GiB left, t5 no longer fits.
        (GIB, GIB, &["t3", "t4"], 1),
        // t2's: 2 GiB.
        (2 * GIB, 2 * GIB, &["t3", "t4"], 1),
        // Both: only the 1 GiB never used.
        (3 * GIB, 3 * GIB, &["t3"], 2),
    ];
    for (lost, lost_disk, kept, dropped) in cases {
        let (go, d) = p.loads_within(*lost, *lost_disk);
        assert_eq!(names(go), *kept, "lost {lost}");
        assert_eq!(d, *dropped, "lost {lost}");
    }
}

#[test]
fn zero_ratio_syncs_as_soon_as_complete() {
    let s = snapshot(vec![managed(1, GIB)], vec![loaded(1, GIB, GIB, 0, 0)]);
    let mut pol = policy(4 * GIB);
    pol.required_ratio_milli = 0;
    let p = plan(&s, &pol, &Journal::default());
    assert_eq!(p.sync.len(), 1);
    assert_eq!(p.sync[0].files, vec![(vec!["t1".to_string()], GIB)]);
    assert_eq!(p.sync[0].base_path, Path::new("/data/t1"));
}

#[test]
fn space_freed_by_syncing_torrents_is_offered_to_loads() {
    // t1 (3 GiB) is done; t2 (3 GiB) waits. After t1 leaves, t2 fits.
    let s = snapshot(
        vec![managed(1, 3 * GIB), managed(2, 3 * GIB)],
        vec![loaded(1, 3 * GIB, 3 * GIB, 1000, 60)],
    );
    let p = plan(&s, &policy(4 * GIB), &Journal::default());
    assert_eq!(p.sync.len(), 1);
    assert_eq!(p.budget.freed, 3 * GIB);
    assert_eq!(names(&p.load), vec!["t2"]);
}

#[test]
fn multi_file_layout_on_the_remote_keeps_the_data_directory_name() {
    let m = multi(5, &[("a/x.bin", 10), ("b.txt", 20)]);
    let mut l = loaded(5, 30, 30, 1000, 10);
    l.base_path = PathBuf::from("/data/Renamed Dir");
    let s = snapshot(vec![m], vec![l]);
    let p = plan(&s, &policy(GIB), &Journal::default());
    assert_eq!(
        p.sync[0].files,
        vec![
            (
                vec!["Renamed Dir".to_string(), "a".into(), "x.bin".into()],
                10
            ),
            (vec!["Renamed Dir".to_string(), "b.txt".into()], 20)
        ]
    );
}

#[test]
fn no_data_path_yet_means_wait() {
    let mut l = loaded(1, GIB, GIB, 1000, 10);
    l.base_path = PathBuf::new();
    let p = plan(
        &snapshot(vec![managed(1, GIB)], vec![l]),
        &policy(4 * GIB),
        &Journal::default(),
    );
    assert!(p.sync.is_empty());
    assert!(p.reasons.iter().any(|r| r.contains("no data path yet")));
}

/// Crash recovery: every journal phase resumes the right way.
#[test]
fn interrupted_sync_is_redone_and_reverified() {
    let s = snapshot(vec![managed(1, GIB)], vec![loaded(1, GIB, GIB, 0, 10)]);
    let p = plan(
        &s,
        &policy(4 * GIB),
        &journal(vec![entry(1, Phase::Syncing, GIB)]),
    );
    assert_eq!(p.sync.len(), 1);
    assert!(
        p.remove.is_empty(),
        "nothing may be removed before verification"
    );
    assert!(p.load.is_empty());
    assert!(p.reasons[0].contains("interrupted"));
}

#[test]
fn verified_torrents_are_never_synced_or_loaded_again() {
    for phase in [Phase::Verified, Phase::Erased, Phase::DataDeleted] {
        // Still in rtorrent only in the Verified phase.
        let loaded_now = if phase == Phase::Verified {
            vec![loaded(1, GIB, GIB, 0, 10)]
        } else {
            vec![]
        };
        let s = snapshot(vec![managed(1, GIB)], loaded_now);
        let p = plan(&s, &policy(4 * GIB), &journal(vec![entry(1, phase, GIB)]));
        assert!(p.sync.is_empty(), "{phase:?}");
        assert!(
            p.load.is_empty(),
            "{phase:?}: a verified torrent must not be loaded again"
        );
        assert_eq!(p.remove.len(), 1, "{phase:?}");
        assert_eq!(p.remove[0].loaded, phase == Phase::Verified);
        assert_eq!(p.remove[0].files, vec![vec!["t1".to_string()]]);
    }
}

#[test]
fn finished_journal_entries_are_forgotten() {
    let s = snapshot(vec![], vec![]);
    let p = plan(
        &s,
        &policy(4 * GIB),
        &journal(vec![entry(1, Phase::DataDeleted, GIB)]),
    );
    assert_eq!(p.forget, vec![hash(1)]);
    assert!(p.remove.is_empty());
}

#[test]
fn a_torrent_file_removed_by_hand_mid_sync_is_let_go_without_deleting() {
    let s = snapshot(vec![], vec![loaded(1, GIB, GIB, 0, 10)]);
    let p = plan(
        &s,
        &policy(4 * GIB),
        &journal(vec![entry(1, Phase::Syncing, GIB)]),
    );
    assert_eq!(p.forget, vec![hash(1)]);
    assert!(p.remove.is_empty() && p.sync.is_empty());
}

#[test]
fn a_verified_torrent_whose_file_is_gone_is_still_cleaned_up() {
    // The .torrent was removed (step 4 done) but the journal was not yet
    // updated: rtorrent still has it, so erase and delete its data.
    let s = snapshot(vec![], vec![loaded(1, GIB, GIB, 0, 10)]);
    let p = plan(
        &s,
        &policy(4 * GIB),
        &journal(vec![entry(1, Phase::Verified, GIB)]),
    );
    assert_eq!(p.remove.len(), 1);
    assert!(p.remove[0].loaded);
}

#[test]
fn a_torrent_the_journal_is_removing_is_not_counted_twice() {
    // t1 is verified and still loaded (3 GiB on disk); the journal has it,
    // so `used` leaves it out and its removal must not be offered again
    // under the limit: t2 (2 GiB) would then be planned into 5 GiB of a
    // 4 GiB limit alongside t3.
    let s = snapshot(
        vec![
            managed(1, 3 * GIB),
            managed(2, 2 * GIB),
            managed(3, 2 * GIB),
        ],
        vec![
            loaded(1, 3 * GIB, 3 * GIB, 0, 10),
            loaded(3, 2 * GIB, 0, 0, 0),
        ],
    );
    let p = plan(
        &s,
        &policy(4 * GIB),
        &journal(vec![entry(1, Phase::Verified, 3 * GIB)]),
    );
    assert_eq!(p.remove.len(), 1);
    assert_eq!(p.budget.used, 2 * GIB);
    assert_eq!(p.budget.available, 2 * GIB);
    assert_eq!(names(&p.load), vec!["t2"]);
}

#[test]
fn the_disk_side_counts_only_data_still_on_disk() {
    // The disk is nearly full of t1's verified data: its removal frees it.
    // A journal entry whose data is already deleted frees nothing more.
    let mut s = snapshot(
        vec![managed(1, 3 * GIB), managed(2, 2 * GIB), managed(4, GIB)],
        vec![loaded(1, 3 * GIB, 3 * GIB, 0, 10)],
    );
    s.disk_free = GIB / 2;
    let p = plan(
        &s,
        &policy(10 * GIB),
        &journal(vec![
            entry(1, Phase::Erased, 3 * GIB),
            entry(4, Phase::DataDeleted, GIB),
        ]),
    );
    assert_eq!(p.budget.freed_on_disk, 3 * GIB);
    assert_eq!(p.budget.available, GIB / 2 + 3 * GIB);
    assert_eq!(names(&p.load), vec!["t2"]);
}

#[test]
fn a_complete_torrent_without_a_data_path_keeps_its_status_line() {
    let mut l = loaded(1, GIB, GIB, 1000, 10);
    l.base_path = PathBuf::new();
    let p = plan(
        &snapshot(vec![managed(1, GIB)], vec![l]),
        &policy(4 * GIB),
        &Journal::default(),
    );
    assert_eq!(p.states.len(), 1);
    assert!(p.states[0].2.to_string().contains("where its data is"));
}

// ------------------------------------------------------ file-by-file mode

fn file_mode_record(n: u8) -> super::super::journal::FileModeEntry {
    super::super::journal::FileModeEntry {
        info_hash: hash(n).to_hex(),
        name: format!("m{n}"),
        torrent_file: PathBuf::from(format!("/managed/m{n}.torrent")),
        on_remote: [0].into_iter().collect(),
        ..Default::default()
    }
}

fn big(n: u8) -> ManagedTorrent {
    multi(n, &[("a", 40 * MIB), ("b/c", 40 * MIB), ("d", 40 * MIB)])
}

#[test]
fn enters_file_mode_when_nothing_else_can_move() {
    let p = plan(
        &snapshot(vec![big(1)], vec![]),
        &policy(100 * MIB),
        &journal(vec![]),
    );
    let step = p.file_mode.expect("file mode");
    assert!(step.entering && !step.loaded);
    assert_eq!(step.budget, 100 * MIB);
    assert!(p.load.is_empty());
    assert!(matches!(
        p.states[0].2,
        TorrentState::FileByFile { files: 3, .. }
    ));
}

#[test]
fn a_torrent_under_the_limit_enters_when_the_disk_is_tighter() {
    let mut s = snapshot(vec![big(1)], vec![]);
    s.disk_free = 90 * MIB;
    let p = plan(&s, &policy(200 * MIB), &journal(vec![]));
    let step = p
        .file_mode
        .expect("nothing would ever free the disk for it");
    assert_eq!(step.budget, 90 * MIB);
}

#[test]
fn no_entry_while_another_managed_torrent_downloads_or_seeds() {
    let s = snapshot(
        vec![big(1), managed(2, 10 * MIB)],
        vec![loaded(2, 10 * MIB, 5 * MIB, 0, 0)],
    );
    let p = plan(&s, &policy(100 * MIB), &journal(vec![]));
    assert!(p.file_mode.is_none());
    let s = snapshot(
        vec![big(1), managed(2, 10 * MIB)],
        vec![loaded(2, 10 * MIB, 10 * MIB, 0, 5)],
    );
    let p = plan(&s, &policy(100 * MIB), &journal(vec![]));
    assert!(p.file_mode.is_none(), "t2 waits for its ratio");
}

#[test]
fn file_mode_continues_from_the_journal_and_others_wait() {
    let mut j = journal(vec![]);
    j.file_mode = Some(file_mode_record(1));
    let mut m1 = loaded(1, 120 * MIB, 40 * MIB, 0, 0);
    m1.name = "m1".into();
    let s = snapshot(vec![big(1), managed(2, 10 * MIB)], vec![m1]);
    let p = plan(&s, &policy(100 * MIB), &j);
    let step = p.file_mode.expect("continues");
    assert!(!step.entering && step.loaded);
    assert_eq!(step.on_remote.len(), 1);
    assert!(
        p.load.is_empty(),
        "one torrent in file mode takes the budget"
    );
    assert!(p.sync.is_empty(), "never synced as a whole");
}

#[test]
fn a_partial_torrent_waits_for_a_new_limit_then_resumes_its_files() {
    let mut j = journal(vec![]);
    j.partial.insert(
        hash(1).to_hex(),
        super::super::journal::PartialEntry {
            name: "m1".into(),
            space_limit: 100 * MIB,
            on_remote: [0, 1].into_iter().collect(),
            too_big: vec![(vec!["d".into()], 40 * MIB)],
            updated: NOW,
        },
    );
    let s = snapshot(vec![big(1)], vec![]);
    let p = plan(&s, &policy(100 * MIB), &j);
    assert!(p.file_mode.is_none());
    assert_eq!(p.states[0].2, TorrentState::Partial { too_big: 1 });
    let p = plan(&s, &policy(110 * MIB), &j);
    let step = p.file_mode.expect("taken up again under a new limit");
    assert_eq!(step.on_remote.len(), 2);
}

#[test]
fn a_file_mode_torrent_whose_file_is_gone_is_let_go() {
    let mut j = journal(vec![]);
    j.file_mode = Some(file_mode_record(1));
    let p = plan(&snapshot(vec![], vec![]), &policy(100 * MIB), &j);
    assert!(p.forget_file_mode && p.file_mode.is_none());
}

#[test]
fn a_torrent_no_request_can_carry_is_set_apart_and_takes_no_space() {
    let mut huge = managed(2, 5 * MIB);
    huge.file_bytes = 600_000;
    let p = plan(
        &snapshot(
            vec![managed(1, 10 * MIB), huge, managed(3, 20 * MIB)],
            vec![],
        ),
        &policy(30 * MIB),
        &journal(vec![]),
    );
    assert_eq!(names(&p.load), ["t1", "t3"]);
    assert_eq!(p.cannot_load.len(), 1);
    let (name, reason) = &p.cannot_load[0];
    assert_eq!(name, "t2");
    assert!(
        reason.contains("network.xmlrpc.size_limit.set = 1M"),
        "{reason}"
    );
    assert!(p
        .states
        .iter()
        .any(|(_, n, s)| n == "t2" && matches!(s, TorrentState::CannotLoad { .. })));

    // Unknown limit: nothing is refused in advance.
    let mut snap = snapshot(vec![managed(1, MIB)], vec![]);
    snap.managed[0].file_bytes = 600_000;
    snap.request_limit = None;
    let p = plan(&snap, &policy(30 * MIB), &journal(vec![]));
    assert_eq!(names(&p.load), ["t1"]);
}

// ------------------------------------ beside file-by-file mode, no starvation

fn fm_file(index: usize, size: u64, priority: u8, on_disk: u64) -> FileState {
    FileState {
        index,
        path: vec![format!("f{index}")],
        size,
        complete: false,
        priority,
        on_disk,
    }
}

/// m1 in file mode: file 0 on the remote, file 1 downloading (10 MiB of
/// its 40 there), file 2 waiting.
fn in_file_mode(others: Vec<ManagedTorrent>) -> (Snapshot, Journal) {
    let mut j = journal(vec![]);
    j.file_mode = Some(file_mode_record(1));
    let mut m1 = loaded(1, 120 * MIB, 10 * MIB, 0, 0);
    m1.name = "m1".into();
    let mut all = vec![big(1)];
    all.extend(others);
    let mut s = snapshot(all, vec![m1]);
    s.file_mode_files = Some(vec![
        fm_file(0, 40 * MIB, 0, 0),
        fm_file(1, 40 * MIB, 1, 10 * MIB),
        fm_file(2, 40 * MIB, 0, 0),
    ]);
    (s, j)
}

#[test]
fn small_torrents_load_beside_the_file_mode_torrent_after_its_reserve() {
    let (s, j) = in_file_mode(vec![
        managed(2, 10 * MIB),
        managed(3, 30 * MIB),
        managed(4, 60 * MIB),
    ]);
    let p = plan(&s, &policy(100 * MIB), &j);
    // m1 keeps 50 MiB: the 10 MiB of file 1 already there and the 40 MiB
    // its next file needs once file 1 is done.
    assert_eq!(names(&p.load), vec!["t2", "t3"]);
    let step = p.file_mode.expect("file mode goes on");
    assert_eq!(step.budget, 60 * MIB, "what the loads leave it");
    assert!(
        p.reasons
            .iter()
            .any(|r| r.starts_with("t4: waits: needs 60.00 MiB") && r.contains("kept for m1")),
        "{:#?}",
        p.reasons
    );
}

#[test]
fn without_its_files_known_the_file_mode_torrent_keeps_everything() {
    let (mut s, j) = in_file_mode(vec![managed(2, 10 * MIB)]);
    s.file_mode_files = None;
    let p = plan(&s, &policy(100 * MIB), &j);
    assert!(p.load.is_empty());
    assert_eq!(p.file_mode.expect("goes on").budget, 100 * MIB);
}

#[test]
fn newer_small_torrents_wait_behind_the_oldest_big_one_until_it_enters() {
    let mut j = journal(vec![]);
    j.waiting_since.insert(hash(2).to_hex(), NOW - 200);
    j.waiting_since.insert(hash(1).to_hex(), NOW - 100);
    j.waiting_since.insert(hash(3).to_hex(), NOW - 50);
    let torrents = || {
        vec![
            big(1),
            managed(2, 10 * MIB),
            managed(3, 20 * MIB),
            managed(4, 5 * MIB),
        ]
    };
    // t2 waited longer than m1 and loads; t3 and t4 (just seen) came later.
    let p = plan(&snapshot(torrents(), vec![]), &policy(100 * MIB), &j);
    assert_eq!(names(&p.load), vec!["t2"]);
    assert!(p.file_mode.is_none(), "t2 is loading");
    for t in ["t3", "t4"] {
        assert!(
            p.reasons
                .iter()
                .any(|r| r.starts_with(&format!("{t}: waits behind m1"))),
            "{:#?}",
            p.reasons
        );
    }
    assert_eq!(p.waiting_since[&hash(4).to_hex()], NOW, "first seen now");
    let t3 = p.states.iter().find(|s| s.1 == "t3").expect("t3's state");
    assert_eq!(
        t3.2.to_string(),
        "waiting behind m1, which has waited longer (file by file next)"
    );
    assert_eq!(p.waiting_since[&hash(1).to_hex()], NOW - 100);

    // t2 downloads: nothing new loads, m1 does not start yet.
    let mut j2 = j.clone();
    j2.waiting_since = p.waiting_since.clone();
    let s = snapshot(torrents(), vec![loaded(2, 10 * MIB, 1, 0, 0)]);
    let p = plan(&s, &policy(100 * MIB), &j2);
    assert!(p.load.is_empty() && p.file_mode.is_none());
    assert!(
        !p.waiting_since.contains_key(&hash(2).to_hex()),
        "t2 no longer waits"
    );

    // What was loaded is gone: m1 goes file by file, although t3 and t4
    // would fit.
    j2.waiting_since = p.waiting_since.clone();
    let mut s = snapshot(torrents(), vec![]);
    s.managed.retain(|t| t.name != "t2");
    let p = plan(&s, &policy(100 * MIB), &j2);
    assert!(p.load.is_empty());
    assert_eq!(p.file_mode.expect("its turn").name, "m1");
}

#[test]
fn small_torrents_go_first_when_they_waited_as_long_as_the_big_one() {
    // All seen in the same run: the small ones are not held back.
    let p = plan(
        &snapshot(vec![big(1), managed(2, 10 * MIB)], vec![]),
        &policy(100 * MIB),
        &journal(vec![]),
    );
    assert_eq!(names(&p.load), vec!["t2"]);
}

#[test]
fn with_the_big_one_in_file_mode_newer_small_ones_rotate_beside_it() {
    let (mut s, mut j) = in_file_mode(vec![managed(3, 20 * MIB)]);
    j.waiting_since.insert(hash(3).to_hex(), NOW);
    s.now = NOW + 10;
    let p = plan(&s, &policy(100 * MIB), &j);
    assert_eq!(names(&p.load), vec!["t3"]);
}

#[test]
fn a_big_torrent_none_of_whose_files_can_ever_fit_holds_nobody_back() {
    let mut j = journal(vec![]);
    j.waiting_since.insert(hash(1).to_hex(), NOW - 100);
    // One 150 MiB file: never fetched under a 100 MiB limit.
    let hopeless = multi(1, &[("a", 150 * MIB), ("b", 10 * MIB)]);
    let hopeless = ManagedTorrent {
        files: vec![(vec!["a".into()], 150 * MIB)],
        total_size: 150 * MIB,
        ..hopeless
    };
    let p = plan(
        &snapshot(vec![hopeless, managed(2, 10 * MIB)], vec![]),
        &policy(100 * MIB),
        &j,
    );
    assert_eq!(names(&p.load), vec!["t2"]);
}
