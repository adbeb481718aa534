//! `predict`'s preprocessing on photos as phones take them: real test images made into
//! seeded photos (tests/common/photos.rs), each clean and with one disturbance (sensor
//! noise, JPEG blocks, uneven light, a soft shadow, all four). The network's 28×28 input
//! from a disturbed photo must stay close to the one from its clean twin, and the clean
//! one close to the test image itself. (What that means for the classes `predict` says is
//! measured, with a trained model, by scripts/bench_photos.sh.)

mod common;

use common::photos::{choose_indices, picture_seed, Kind, Scene};
use fashion_tui::data::{self, locate, IMAGE_PIXELS};
use fashion_tui::predict::{preprocess, Invert};

/// Mean absolute difference of two 28×28 inputs, in gray levels.
fn mad(a: &[u8; IMAGE_PIXELS], b: &[u8]) -> f64 {
    let sum: u32 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u32::from(x.abs_diff(y)))
        .sum();
    f64::from(sum) / IMAGE_PIXELS as f64
}

fn test_set() -> data::Split {
    let (dir, _) = locate::resolve(None, true, &data::TEST_FILE_NAMES, &mut |_| {})
        .expect("the Fashion-MNIST test files (make setup installs them)");
    data::load_test(&dir, locate::repair_for(&dir)).expect("the test set")
}

#[test]
fn disturbed_photos_give_nearly_the_input_of_clean_ones() {
    let test = test_set();
    let seed = 2024;
    let indices = choose_indices(seed, 24, test.len());
    let mut report = Vec::new();
    for kind in Kind::EVERY {
        let (mut apart, mut from_image) = (0.0, 0.0);
        for &i in &indices {
            let px = test.image(i);
            let pair = Scene::new(picture_seed(seed, i, kind), px, kind).pair(px);
            let clean = preprocess(&pair.clean.image, Invert::Auto, 28);
            let disturbed = preprocess(&pair.disturbed.image, Invert::Auto, 28);
            apart += mad(&disturbed.pixels, &clean.pixels[..]);
            from_image += mad(&clean.pixels, px);
        }
        let n = indices.len() as f64;
        report.push((kind.name(), apart / n, from_image / n));
    }
    // Measured: 2–14 levels apart (the earlier preprocessing, which took every pixel
    // brighter than the border's noise as the garment: 62 for noise, 34 for a shadow); the
    // clean photo's input about 15 levels from the test image (upscaled bilinearly, then
    // averaged back down: edges soften).
    for &(kind, apart, from_image) in &report {
        assert!(
            apart < 20.0,
            "{kind}: disturbed {apart:.1} levels from clean; {report:?}"
        );
        assert!(
            from_image < 22.0,
            "{kind}: clean {from_image:.1} from the image; {report:?}"
        );
    }
}

#[test]
fn the_same_photo_at_any_size_gives_nearly_the_same_input() {
    let test = test_set();
    let seed = 5;
    for &i in &choose_indices(seed, 6, test.len()) {
        let px = test.image(i);
        let scene = Scene::new(picture_seed(seed, i, Kind::Shadow), px, Kind::Shadow);
        let base = preprocess(&scene.pair(px).clean.image, Invert::Auto, 28);
        for long in [300.0, 2000.0] {
            let other = scene.with_long_edge(long).pair(px);
            let input = preprocess(&other.clean.image, Invert::Auto, 28);
            let apart = mad(&input.pixels, &base.pixels[..]);
            assert!(
                apart < 25.0,
                "image {i} at {long} px: {apart:.1} levels apart"
            );
        }
    }
}
