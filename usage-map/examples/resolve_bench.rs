//! Resolutions per second on a board file (default `boards/hikey960.toml`).
//!
//! ```text
//! cargo run --release -p usage_map --example resolve_bench [-- BOARD [ITERATIONS]]
//! ```
//!
//! Resolves a fixed mix of requests (framebuffer, camera, protected, GPU-only, CPU, default)
//! so every rule position is exercised, with and without the availability mask.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use usage_map::UsageMap;

const MIX: &[(&str, Format, u32, u32)] = &[
    ("COMPOSER_CLIENT_TARGET|GPU_RENDER_TARGET|COMPOSER_OVERLAY", Format::Rgba8888, 1920, 1080),
    ("CAMERA_OUTPUT|CPU_READ_OFTEN", Format::Ycbcr420_888, 1280, 720),
    ("PROTECTED|COMPOSER_OVERLAY", Format::YcbcrP010, 3840, 2160),
    ("GPU_TEXTURE|GPU_RENDER_TARGET|COMPOSER_OVERLAY", Format::Rgba8888, 1080, 2340),
    ("CPU_READ_OFTEN|CPU_WRITE_OFTEN|GPU_TEXTURE", Format::Rgba8888, 64, 64),
    ("VIDEO_DECODER|GPU_TEXTURE", Format::Yv12, 1920, 1080),
    ("GPU_DATA_BUFFER|CPU_READ_OFTEN", Format::Blob, 65536, 1),
    ("COMPOSER_CLIENT_TARGET|VIDEO_ENCODER", Format::Rgba8888, 1920, 1080),
];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let board = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("boards/hikey960.toml"),
        PathBuf::from,
    );
    let iterations: u64 = match args.next().map(|n| n.parse()) {
        None => 2_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("ITERATIONS must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let map = match UsageMap::load(&board) {
        Ok(map) => map,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let requests: Vec<(Usage, Format, u32, u32)> =
        MIX.iter().map(|&(u, f, w, h)| (u.parse().unwrap_or_default(), f, w, h)).collect();
    let availability = map.check_available(|_| true);

    for (label, use_availability) in [("resolve", false), ("resolve_available", true)] {
        let start = Instant::now();
        let mut matched = 0u64;
        for i in 0..iterations {
            let index = usize::try_from(i % requests.len() as u64).unwrap_or(0);
            let Some(&(usage, format, width, height)) = requests.get(index) else { continue };
            let outcome = if use_availability {
                map.resolve_available(&availability, usage, format, width, height)
            } else {
                black_box(&map).resolve(black_box(usage), format, width, height)
            };
            if let Ok(plan) = black_box(outcome) {
                matched += plan.rule.index as u64;
            }
        }
        let elapsed = start.elapsed();
        let per_second = iterations as f64 / elapsed.as_secs_f64();
        let ns = elapsed.as_nanos() as f64 / iterations as f64;
        println!(
            "{label}: {iterations} resolutions of {} on {} rules in {:.3} s: {per_second:.0} resolutions/s, {ns:.1} ns each (checksum {matched})",
            map.board_name(),
            map.rules().len(),
            elapsed.as_secs_f64()
        );
    }
    ExitCode::SUCCESS
}
