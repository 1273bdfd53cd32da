//! Problem detection at scale: one full clustering pass over windows of synthetic incidents
//! (the target is 50,000 in 10 s on 2 cores), and the join of one new incident to the
//! known problems as it is triaged (target: under 1 ms). Prints seconds per pass and the
//! median join; run with `cargo bench --bench problems` (`-- 100000` adds a size).
//!
//! Incidents: a tenth belong to recurring patterns of ~10 reports (a random unit centre plus
//! noise, cosine ~0.8 to it), the rest are scattered, as in a help desk's window.

mod support;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use support::Rng;
use ticketlens::kernels::normalise;
use ticketlens::problems::{self, ClusterSettings, KnownProblem, WindowIncident};

const DIMENSION: usize = 384;

fn window(n: usize, rng: &mut Rng) -> Vec<WindowIncident> {
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let patterns: Vec<Vec<f32>> = (0..(n / 100).max(1)).map(|_| rng.unit(DIMENSION)).collect();
    (0..n)
        .map(|i| {
            let vector = if i % 10 == 0 {
                let centre = &patterns[(i / 10) % patterns.len()];
                let noise = rng.unit(DIMENSION);
                normalise(
                    centre
                        .iter()
                        .zip(&noise)
                        .map(|(c, e)| c + 0.6 * e)
                        .collect(),
                )
            } else {
                rng.unit(DIMENSION)
            };
            WindowIncident {
                ticket_id: i as i64,
                subject: format!("incident {i}"),
                text: format!("incident {i} pattern {}", (i / 10) % patterns.len()),
                requester: Some(format!("user{}", i % 97)),
                created_at: start + chrono::Duration::minutes((i * 14 * 24 * 60 / n) as i64),
                vector,
            }
        })
        .collect()
}

fn main() {
    let mut sizes = vec![2_000, 10_000, 50_000];
    sizes.extend(std::env::args().filter_map(|a| a.parse::<usize>().ok()));
    let settings = ClusterSettings {
        min_size: 3,
        max_distance: 0.4,
        min_cohesion: 0.85,
    };
    let mut rng = Rng(0x5eed);
    for n in sizes {
        let incidents = window(n, &mut rng);
        let vectors: Vec<&[f32]> = incidents.iter().map(|i| i.vector.as_slice()).collect();
        let started = Instant::now();
        std::hint::black_box(
            problems::Neighbours::build(&vectors, 1.0 - settings.max_distance).unwrap(),
        );
        let graph_only = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let found = problems::detect(&incidents, settings).expect("clustering runs");
        println!(
            "full pass over {n:>6} incidents: {:>8.2} s, {} candidates (the neighbour graph alone: {graph_only:.2} s)",
            started.elapsed().as_secs_f64(),
            found.len()
        );
    }
    let known: Vec<KnownProblem> = (0..200)
        .map(|id| KnownProblem {
            id,
            centre: rng.unit(DIMENSION),
            trend: 1.0,
        })
        .collect();
    let queries: Vec<Vec<f32>> = (0..1000).map(|_| rng.unit(DIMENSION)).collect();
    let mut times: Vec<Duration> = queries
        .iter()
        .map(|q| {
            let started = Instant::now();
            std::hint::black_box(problems::join(&known, q, 0.7));
            started.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "join of one incident to 200 known problems: median {:.1} µs, p99 {:.1} µs",
        times[times.len() / 2].as_secs_f64() * 1e6,
        times[times.len() * 99 / 100].as_secs_f64() * 1e6
    );
}
