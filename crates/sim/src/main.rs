//! `nubo-sim`: run seeds. `--seed N [--steps K] [--skip A,B,..]` replays one
//! (printing what it did);
//! `--seeds N [--from S]` runs many and stops at the first failure.

use std::process::ExitCode;

fn main() -> ExitCode {
    // `RUST_LOG=nubo_engine=debug` shows each round's plan of a replay.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let mut opts = nubo_sim::Options::default();
    if let Some(steps) = value("--steps") {
        opts.steps = steps as usize;
    }
    if let Some(list) = args
        .iter()
        .position(|a| a == "--skip")
        .and_then(|i| args.get(i + 1))
    {
        opts.skip = list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
    }
    if let Some(seed) = value("--seed") {
        return match nubo_sim::run(seed, &opts) {
            Ok(log) => {
                for l in log {
                    println!("{l}");
                }
                println!("seed {seed}: every invariant holds");
                ExitCode::SUCCESS
            }
            Err(f) => {
                eprintln!("{}", nubo_sim::shrink(f, &opts));
                ExitCode::FAILURE
            }
        };
    }
    let count = value("--seeds").unwrap_or(1000);
    let from = value("--from").unwrap_or(0);
    for seed in from..from + count {
        if let Err(f) = nubo_sim::run(seed, &opts) {
            eprintln!("{}", nubo_sim::shrink(f, &opts));
            return ExitCode::FAILURE;
        }
        if (seed - from + 1) % 100 == 0 {
            println!("{} seeds passed", seed - from + 1);
        }
    }
    println!("{count} seeds from {from}: every invariant holds");
    ExitCode::SUCCESS
}
