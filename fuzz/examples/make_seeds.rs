//! Writes the seed corpora: `cargo +nightly run --example make_seeds` (from `fuzz/`)
//! replaces `corpus/<target>/seed-NN` with `gralloc_fuzz::seeds`, `board_toml` also seeded
//! with the repository's board files.

use std::fs;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut boards = Vec::new();
    let mut paths: Vec<_> =
        fs::read_dir(root.join("../usage-map/boards"))?.collect::<Result<Vec<_>, _>>()?;
    paths.sort_by_key(fs::DirEntry::path);
    for entry in paths {
        boards.push(fs::read_to_string(entry.path())?);
    }
    for target in gralloc_fuzz::seeds::TARGETS {
        let dir = root.join("corpus").join(target);
        if dir.exists() {
            for old in fs::read_dir(&dir)? {
                let old = old?.path();
                if old.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")) {
                    fs::remove_file(old)?;
                }
            }
        }
        fs::create_dir_all(&dir)?;
        let seeds = gralloc_fuzz::seeds::seeds(target, &boards);
        let total: usize = seeds.iter().map(Vec::len).sum();
        for (index, seed) in seeds.iter().enumerate() {
            fs::write(dir.join(format!("seed-{index:02}")), seed)?;
        }
        println!("{target}: {} seeds, {total} bytes", seeds.len());
    }
    Ok(())
}
