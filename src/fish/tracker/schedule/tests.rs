use super::*;
use crate::fish::tracker::scrape;
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

#[test]
fn one_tracker_reached_over_udp_and_http_is_the_same_tracker() {
    let table = [
        // udp url, http url → one tracker
        (
            "udp://t.example:6969/announce",
            "http://t.example:6969/announce",
            true,
        ),
        (
            "udp://T.Example:6969",
            "http://t.example:6969/announce",
            true,
        ),
        (
            "udp://[::1]:6969/announce",
            "http://[::1]:6969/announce",
            true,
        ),
        (
            "udp://t.example:80/announce",
            "http://t.example/announce",
            true,
        ),
        // Another port or host: maybe another program.
        (
            "udp://t.example:6969/announce",
            "http://t.example:6970/announce",
            false,
        ),
        (
            "udp://t.example:6969/announce",
            "http://u.example:6969/announce",
            false,
        ),
        // A passkey or credentials in the URL: the tracker knows us by
        // them, UDP cannot stand in.
        (
            "udp://t.example:6969/announce",
            "http://t.example:6969/announce?passkey=x",
            false,
        ),
        (
            "udp://t.example:6969/announce",
            "http://me:pw@t.example:6969/announce",
            false,
        ),
        // Only plain HTTP stands by; not two UDP or two HTTP URLs.
        (
            "udp://t.example:443/announce",
            "https://t.example/announce",
            false,
        ),
        (
            "udp://t.example:6969/announce",
            "udp://t.example:6969/announce",
            false,
        ),
        (
            "http://t.example:6969/announce",
            "http://t.example:6969/announce",
            false,
        ),
        (
            "udp://t.example/announce",
            "http://t.example/announce",
            false,
        ),
    ];
    for (udp, http, want) in table {
        assert_eq!(same_tracker(udp, http), want, "{udp} {http}");
    }
}

#[test]
fn http_stands_by_while_the_same_tracker_answers_over_udp() {
    const UDP: &str = "udp://127.0.0.1:6969/announce";
    const HTTP: &str = "http://127.0.0.1:6969/announce";
    const OTHER: &str = "http://other.example/announce";
    let both = hash(4, 0);
    let http_only = hash(5, 0);
    let mut book = Book::new();
    book.reconcile(
        &[
            swarm(both, &[&[UDP], &[HTTP], &[OTHER]]),
            swarm(http_only, &[&[HTTP]]),
        ],
        0,
    );
    let standby: Vec<(InfoHash, &str, bool)> = book
        .jobs
        .iter()
        .map(|j| {
            (
                book.swarms[j.swarm as usize].info_hash,
                &*book.trackers[j.tracker as usize].url,
                j.standby,
            )
        })
        .collect();
    assert_eq!(
        standby,
        [
            (both, UDP, false),
            (both, HTTP, true),
            (both, OTHER, false),
            // No UDP job for this swarm: HTTP is its only way in.
            (http_only, HTTP, false),
        ]
    );
    assert_eq!(book.untried, 3, "a standby job is not owed an announce");
    assert_eq!(std::mem::size_of::<Job>(), 16, "the flag fits the padding");

    // While the UDP tracker answers, the standby job is never due.
    let mut announced = Vec::new();
    for now in [0, 100, 2000, 4000] {
        while let Some(i) = book.next_due(now) {
            announced.push((now, i));
            book.succeeded(i, now, &reply(1800, None));
        }
    }
    assert!(announced.iter().all(|&(_, i)| i != 1), "{announced:?}");
    assert_eq!(announced.iter().filter(|&&(_, i)| i == 0).count(), 3);
    assert_eq!(book.untried, 0);

    // The UDP tracker goes down: the standby announce is due at once
    // (one job: a start window of 0 s), and made while UDP rests.
    book.failed(0, 5000, true);
    assert_eq!(book.jobs[1].next, 5000);
    assert_eq!(book.next_due(5000), Some(1));
    book.succeeded(1, 5000, &reply(1800, None));
    assert!(book.jobs[1].started);
    assert_eq!(book.untried, 0);
    // Made again an interval later, as long as UDP has not answered
    // again (between two rests too).
    book.failed(0, 6000, true);
    let due = |book: &mut Book, now: Secs| {
        let mut due = Vec::new();
        while let Some(i) = book.next_due(now) {
            due.push(i);
            if i == 0 {
                book.failed(i, now, true); // UDP still down
            } else {
                book.succeeded(i, now, &reply(1800, None));
            }
        }
        due
    };
    assert_eq!(due(&mut book, 6800), [2, 3, 0, 1]);
    // UDP back: the HTTP job stands by again.
    book.succeeded(0, 8000, &reply(1800, None));
    assert_eq!(due(&mut book, 8600), [2, 3]);
    assert_eq!(book.jobs[1].next, 8600 + 1800);
    assert!(book.jobs[1].next > 8600);
}

#[test]
fn probe_verdicts() {
    use ProbeOutcome::*;
    use ScrapeSupport::*;
    let table = [
        // outcome, support before → up, support after
        (Swarms, Untried, true, Works),
        (Swarms, Works, true, Works),
        (Answered { status: 200 }, Untried, true, Refused),
        (Answered { status: 404 }, Works, true, Refused),
        (Answered { status: 502 }, Works, false, Works),
        (Unreachable, Untried, false, Untried),
        (Unreachable, Works, false, Works),
    ];
    for (outcome, before, up, after) in table {
        assert_eq!(
            probe_verdict(outcome, before),
            (up, after),
            "{outcome:?} {before:?}"
        );
    }
}

#[test]
fn a_resting_http_tracker_is_probed_by_a_scrape_not_its_announces() {
    const DEAD: &str = "http://t.example/announce";
    const NO_SCRAPE: &str = "http://u.example/a";
    let mut book = Book::new();
    let swarms: Vec<Swarm> = (0..300u32)
        .map(|i| swarm(hash(4, i * 14_000_000), &[&[DEAD, NO_SCRAPE, "udp://v:1"]]))
        .collect();
    book.reconcile(&swarms, 0);
    let id = |url: &str| book.trackers.iter().position(|t| &*t.url == url).unwrap() as u32;
    let (dead, no_scrape, udp) = (id(DEAD), id(NO_SCRAPE), id("udp://v:1"));
    assert_eq!(book.trackers[dead as usize].scrape, ScrapeSupport::Untried);
    assert_eq!(
        book.trackers[no_scrape as usize].scrape,
        ScrapeSupport::NoUrl
    );
    assert_eq!(book.trackers[udp as usize].scrape, ScrapeSupport::NoUrl);
    // Every tracker fails once: each rests a minute.
    for t in [dead, no_scrape, udp] {
        let i = book.jobs.iter().position(|j| j.tracker == t).unwrap();
        book.failed(i, 0, true);
    }
    assert!(book.probes_due(59).is_empty());
    // Only the one with a scrape URL is probed; the others wake by announce.
    assert_eq!(book.probes_due(60), vec![dead]);
    assert_eq!(book.hashes_at(dead, scrape::BATCH).len(), scrape::BATCH);
    // Still down: it rests again, backed off, and no announce of it is due.
    book.probed(dead, 60, ProbeOutcome::Unreachable);
    assert_eq!(book.trackers[dead as usize].resting_until, 180);
    assert!(book.probes_due(61).is_empty());
    let mut woke = Vec::new();
    while let Some(i) = book.next_due(179) {
        woke.push(book.jobs[i].tracker);
        book.succeeded(i, 179, &reply(1800, None));
    }
    assert!(!woke.contains(&dead), "{woke:?}");
    // Up: its announces resume, spread over its start window (15 s).
    assert_eq!(book.probes_due(180), vec![dead]);
    book.probed(dead, 180, ProbeOutcome::Swarms);
    assert_eq!(book.trackers[dead as usize].resting_until, 0);
    assert_eq!(book.trackers[dead as usize].scrape, ScrapeSupport::Works);
    assert!(book.probes_due(180).is_empty());
    let mut resumed = 0;
    let mut first_second = 0;
    for now in 180..200 {
        while let Some(i) = book.next_due(now) {
            if book.jobs[i].tracker == dead {
                resumed += 1;
                first_second += usize::from(now == 180);
            }
            book.succeeded(i, now, &reply(1800, None));
        }
    }
    assert_eq!(resumed, 300);
    assert!(first_second <= 25, "{first_second} at once");
    // A tracker that refuses a scrape is up, and never probed again.
    let i = book.jobs.iter().position(|j| j.tracker == dead).unwrap();
    book.failed(i, 200, true);
    book.probed(dead, 260, ProbeOutcome::Answered { status: 400 });
    assert_eq!(book.trackers[dead as usize].scrape, ScrapeSupport::Refused);
    book.failed(i, 300, true);
    assert!(book.probes_due(10_000).is_empty());
}

#[test]
fn health_decisions() {
    // complete, incomplete, ours → other peers
    for (complete, incomplete, ours, want) in [
        (0, 0, false, false),
        (0, 1, true, false),
        (0, 1, false, true),
        (1, 1, true, true),
        (u64::MAX, u64::MAX, true, true),
    ] {
        assert_eq!(
            has_other_peers(complete, incomplete, ours),
            want,
            "{complete} {incomplete} {ours}"
        );
    }
    // listed swarms we are in, listed in all → reads every hash
    for (listed_ours, listed, want) in [
        (0, 0, true),
        (1, 1, true),
        (2, 1, false),
        (50, 1, false),
        (50, 50, true),
        (2, 2, true),
    ] {
        assert_eq!(
            reads_every_hash(listed_ours, listed),
            want,
            "{listed_ours} {listed}"
        );
    }
}

#[test]
fn health_rounds_cover_every_torrent_once_an_interval() {
    const T: &str = "http://t.example/announce";
    let mut book = Book::new();
    let swarms: Vec<Swarm> = (0..120u32)
        .map(|i| swarm(hash(5, i * 30_000_000), &[&[T, "udp://v:1"]]))
        .collect();
    book.reconcile(&swarms, 0);
    let t = book.trackers.iter().position(|x| &*x.url == T).unwrap() as u32;
    // Not before the tracker answered an announce.
    assert_eq!(book.health_tracker(100), None);
    let i = book.jobs.iter().position(|j| j.tracker == t).unwrap();
    book.succeeded(i, 10, &reply(900, None));
    assert_eq!(book.health_tracker(10), Some(t));
    let mut seen = Vec::new();
    loop {
        let (batch, over) = book.health_batch(t, scrape::BATCH);
        assert!(batch.len() <= scrape::BATCH);
        seen.extend(batch);
        if over {
            break;
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(seen.iter().filter(|(_, ours)| *ours).count(), 1);
    book.health_done(t, 20, true);
    assert_eq!(book.trackers[t as usize].scrape, ScrapeSupport::Works);
    assert_eq!(book.health_tracker(919), None);
    assert_eq!(book.health_tracker(920), Some(t));
    // A tracker that reads only one hash is never scraped again.
    book.health_done(t, 920, false);
    assert_eq!(book.health_tracker(100_000), None);
}
