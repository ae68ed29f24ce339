//! Synthesis of every environment, in process: `cargo bench -p infra-model --bench synth`
//! (or `cargo xtask bench`). A plain timing loop: the figure is small and stable enough that a
//! statistics framework would cost more build time than it adds.

use std::hint::black_box;
use std::time::{Duration, Instant};

use infra_model::Env;

fn synth_all() -> usize {
    Env::ALL
        .iter()
        .map(|&env| {
            infra_model::synth(env)
                .expect("the model synthesizes")
                .to_yaml()
                .len()
        })
        .sum()
}

fn main() {
    // Warm up, then time each run of all three environments (model, checks and YAML).
    for _ in 0..20 {
        black_box(synth_all());
    }
    let mut runs: Vec<Duration> = (0..300)
        .map(|_| {
            let start = Instant::now();
            black_box(synth_all());
            start.elapsed()
        })
        .collect();
    runs.sort();
    let pct = |p: usize| runs[(runs.len() - 1) * p / 100];
    println!(
        "synth in process, all {} environments to YAML: median {:.3} ms, p95 {:.3} ms, min {:.3} ms ({} runs, {} bytes)",
        Env::ALL.len(),
        pct(50).as_secs_f64() * 1e3,
        pct(95).as_secs_f64() * 1e3,
        runs[0].as_secs_f64() * 1e3,
        runs.len(),
        synth_all()
    );
}
