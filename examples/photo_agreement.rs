//! What photos as phones take them cost `predict`: test images made into seeded photos
//! (tests/common/photos.rs), each clean and with one disturbance, classified with a run's
//! model as `predict` classifies a picture; how often each agrees with the class the model
//! gives the test image itself (`predict --test`), and how often it is right. Prints the
//! README's table (used by scripts/bench_photos.sh).
//!
//! ```text
//! cargo run --release --example photo_agreement -- RUN [COUNT] [SEED] [LONG_EDGE]
//! ```

#[path = "../tests/common/photos.rs"]
#[allow(dead_code)]
mod photos;

use std::path::PathBuf;

use anyhow::{Context, Result};
use fashion_tui::commands::eval::locate_model;
use fashion_tui::data::{self, locate, IMAGE_PIXELS, NUM_CLASSES};
use fashion_tui::predict::{preprocess, Invert};
use fashion_tui::train::Classifier;
use photos::{choose_indices, picture_seed, Kind, Scene};

/// The most likely class of each 28×28 input in `inputs`.
fn classes(model: &Classifier, inputs: &[[u8; IMAGE_PIXELS]]) -> Result<Vec<usize>> {
    let batch: Vec<u8> = inputs.iter().flatten().copied().collect();
    let top = |p: &[f32; NUM_CLASSES]| (0..NUM_CLASSES).max_by(|&a, &b| p[a].total_cmp(&p[b]));
    Ok(model
        .probabilities(&batch)?
        .iter()
        .map(|p| top(p).unwrap_or(0))
        .collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let run = PathBuf::from(
        args.first()
            .context("usage: photo_agreement RUN [COUNT] [SEED]")?,
    );
    let count: usize = args.get(1).map_or(Ok(300), |a| a.parse())?;
    let seed: u64 = args.get(2).map_or(Ok(4242), |a| a.parse())?;
    let long: Option<f64> = args.get(3).map(|a| a.parse()).transpose()?;
    let (weights, cfg) = locate_model(&run)?;
    let kind = cfg.map_or(fashion_tui::config::ModelKind::Tutorial, |c| c.model.name);
    let model = Classifier::load(kind, &weights, tch::Device::Cpu)?;
    let (dir, _) = locate::resolve(None, true, &data::TEST_FILE_NAMES, &mut |_| {})?;
    let test = data::load_test(&dir, locate::repair_for(&dir))?;
    let indices = choose_indices(seed, count, test.len());
    let own: Vec<[u8; IMAGE_PIXELS]> = indices
        .iter()
        .map(|&i| test.image(i).try_into().expect("28×28"))
        .collect();
    let own_class = classes(&model, &own)?;
    let labels: Vec<usize> = indices
        .iter()
        .map(|&i| usize::from(test.labels[i]))
        .collect();

    println!(
        "{count} test images (seed {seed}{}), model {}:\n",
        long.map_or(String::new(), |l| format!(", long edge {l} px")),
        weights.display()
    );
    println!("| disturbance | photos | clean: agree with `--test` | disturbed: agree | cost | right, clean / disturbed |");
    println!("|---|---:|---:|---:|---:|---:|");
    let pct = |k: usize| 100.0 * k as f64 / count as f64;
    for kind in Kind::EVERY {
        let (mut clean, mut disturbed) = (Vec::new(), Vec::new());
        for (&i, px) in indices.iter().zip(&own) {
            let mut scene = Scene::new(picture_seed(seed, i, kind), px, kind);
            if let Some(l) = long {
                scene = scene.with_long_edge(l);
            }
            let pair = scene.pair(px);
            clean.push(*preprocess(&pair.clean.image, Invert::Auto, 28).pixels);
            disturbed.push(*preprocess(&pair.disturbed.image, Invert::Auto, 28).pixels);
        }
        let (c, d) = (classes(&model, &clean)?, classes(&model, &disturbed)?);
        let agree = |got: &[usize]| got.iter().zip(&own_class).filter(|(a, b)| a == b).count();
        let right = |got: &[usize]| got.iter().zip(&labels).filter(|(a, b)| a == b).count();
        println!(
            "| {} | {count} | {:.1}% | {:.1}% | {:+.1} pt | {:.1}% / {:.1}% |",
            kind.name(),
            pct(agree(&c)),
            pct(agree(&d)),
            pct(agree(&d)) - pct(agree(&c)),
            pct(right(&c)),
            pct(right(&d)),
        );
    }
    let right_own = own_class
        .iter()
        .zip(&labels)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "\nThe test images themselves: {:.1}% right.",
        pct(right_own)
    );
    Ok(())
}
