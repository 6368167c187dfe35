use super::*;
use std::sync::Arc;

fn reply(interval: u64, min: Option<u64>) -> AnnounceReply {
    AnnounceReply {
        interval: Duration::from_secs(interval),
        min_interval: min.map(Duration::from_secs),
        peers: vec![],
        warning: None,
    }
}

fn hash(first: u8, n: u32) -> InfoHash {
    let mut b = [first; 20];
    b[..4].copy_from_slice(&n.to_be_bytes());
    InfoHash::from_bytes(b)
}

fn swarm(h: InfoHash, tiers: &[&[&str]]) -> Swarm {
    Swarm {
        info_hash: h,
        tracker_tiers: Arc::new(
            tiers
                .iter()
                .map(|t| t.iter().map(|s| s.to_string()).collect())
                .collect(),
        ),
        private: false,
        left: 10,
        adopting: false,
    }
}

#[test]
fn intervals_are_honoured_and_bounded() {
    let s = Duration::from_secs;
    let table = [
        // interval, min interval, adopting → next announce
        (1800, None, false, s(1800)),
        (600, Some(900), false, s(900)),
        (1, None, false, MIN_INTERVAL),
        (1 << 30, None, false, MAX_INTERVAL),
        // Adopting: sooner, but never before the tracker's min interval.
        (1800, None, true, ADOPTING_INTERVAL),
        (1800, Some(900), true, s(900)),
        (120, None, true, s(120)),
    ];
    for (interval, min, adopting, want) in table {
        assert_eq!(
            next_announce(&reply(interval, min), adopting),
            want,
            "{interval} {min:?} {adopting}"
        );
    }
}

#[test]
fn failures_back_off() {
    let secs: Vec<u64> = (1..=8).map(|f| retry_delay(f).as_secs()).collect();
    assert_eq!(secs, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
    assert_eq!(retry_delay(u32::MAX), MAX_RETRY);
}

#[test]
fn phases_spread_evenly_and_pacing_has_bounds() {
    let table = [
        // first 4 bytes of the hash, window → phase
        (0u32, 100u32, 0u32),
        (u32::MAX, 100, 99),
        (1 << 31, 100, 50),
        (1 << 30, 5000, 1250),
        (12345, 0, 0),
    ];
    for (x, window, want) in table {
        assert_eq!(phase(&hash(0, x), window), want, "{x} {window}");
    }
    assert_eq!(start_window(20_000), 1000);
    assert_eq!(start_window(100_000), 1800);
    assert_eq!(start_window(10), 0);
    let ms = Duration::from_millis;
    assert_eq!(
        pacing_gap(1, Duration::from_secs(1800)),
        Duration::from_secs(1)
    );
    assert_eq!(pacing_gap(100_000, Duration::from_secs(1800)), ms(9));
    assert_eq!(pacing_gap(10_000_000, Duration::from_secs(1800)), ms(2));
    assert_eq!(
        pacing_gap(0, Duration::from_secs(60)),
        Duration::from_secs(1)
    );
    // Due before the tracker's next slot: waits for the slot.
    assert_eq!(pace(1000, 1500, ms(10)), (1500, 1510));
    assert_eq!(pace(2000, 1500, ms(10)), (2000, 2010));
}

/// 100,000 torrents on one tracker: no second holds more than twice the
/// average of their first announces, and none falls in the first second
/// beyond its share.
#[test]
fn first_announces_of_many_torrents_are_spread() {
    let n = 100_000u32;
    let swarms: Vec<Swarm> = (0..n)
        .map(|i| swarm(hash(7, i.wrapping_mul(2_654_435_761)), &[&["udp://t:1"]]))
        .collect();
    let mut book = Book::new();
    book.reconcile(&swarms, 0);
    let window = start_window(n);
    let mut per_second = vec![0u32; window as usize + 1];
    for job in &book.jobs {
        per_second[job.next as usize] += 1;
    }
    let average = n / window;
    assert!(
        per_second.iter().all(|&c| c <= 2 * average),
        "max {} a second, average {average}",
        per_second.iter().max().unwrap()
    );
    // Due now: only the first second's share.
    let mut due = 0;
    while book.next_due(0).is_some() {
        due += 1;
    }
    assert!(due <= 2 * average, "{due} due at once");
}

#[test]
fn every_tracker_of_every_tier_and_stopped_for_removed() {
    let a = hash(1, 0);
    let b = hash(2, 0);
    let mut book = Book::new();
    let gone = book.reconcile(
        &[
            swarm(a, &[&["u1", "u2"], &["u3", "u1"]]),
            swarm(b, &[&["u1"]]),
        ],
        0,
    );
    assert!(gone.is_empty());
    assert_eq!(book.jobs.len(), 4);
    assert_eq!(book.trackers.len(), 3, "trackers are shared, not copied");
    assert_eq!(book.untried, 4);
    let b_job = book
        .jobs
        .iter()
        .position(|j| book.swarms[j.swarm as usize].info_hash == b)
        .unwrap();
    book.succeeded(b_job, 5, &reply(1800, None));
    assert_eq!(book.untried, 3);
    let gone = book.reconcile(&[swarm(a, &[&["u1", "u2"], &["u3"]])], 10);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0.info_hash, b);
    assert_eq!(&*gone[0].1, "u1");
    assert_eq!(book.jobs.len(), 3);

    // A magnet adopted becomes a served torrent: same job, carried over,
    // its real size from now on.
    let adopting = Swarm {
        left: 1,
        adopting: true,
        ..swarm(b, &[&["u1"]])
    };
    book.reconcile(&[adopting], 20);
    assert_eq!(book.jobs.len(), 1);
    assert_eq!(book.jobs[0].next, 20, "an adopted magnet is asked at once");
    book.succeeded(0, 20, &reply(1800, None));
    assert_eq!(book.jobs[0].next, 20 + 300);
    let gone = book.reconcile(&[swarm(b, &[&["u1"]])], 30);
    assert!(gone.is_empty());
    assert!(book.jobs[0].started, "state carried over");
    assert_eq!(book.swarms[0].left, 10);
    assert!(!book.swarms[0].adopting);
}

#[test]
fn a_resting_tracker_is_skipped_and_its_jobs_spread_after_the_rest() {
    let mut book = Book::new();
    let swarms: Vec<Swarm> = (0..100u32)
        .map(|i| swarm(hash(3, i << 25), &[&["dead"], &["live"]]))
        .collect();
    book.reconcile(&swarms, 0);
    let first = book.next_due(0).unwrap();
    let dead = book.jobs[first].tracker;
    book.failed(first, 0, true);
    assert_eq!(book.trackers[dead as usize].resting_until, 60);
    // Everything due (the start window is 10 s for 200 jobs) is for the
    // live tracker only.
    let mut due = Vec::new();
    while let Some(i) = book.next_due(10) {
        due.push(i);
        book.succeeded(i, 10, &reply(1800, None));
    }
    assert!(due.iter().all(|&i| book.jobs[i].tracker != dead));
    assert_eq!(due.len(), 100);
    // The dead tracker's jobs moved past the rest, not all to one second.
    let moved: Vec<Secs> = book
        .jobs
        .iter()
        .filter(|j| j.tracker == dead && !j.started && j.failures == 0)
        .map(|j| j.next)
        .collect();
    assert_eq!(moved.len(), 99);
    assert!(moved.iter().all(|&n| (60..70).contains(&n)), "{moved:?}");
    assert!(moved.iter().any(|&n| n != moved[0]), "{moved:?}");
    assert_eq!(book.sleep_for(10), Duration::from_secs(50));
}
