//! `fashion-tui predict MODEL|RUN IMAGE... [--test N]`: the top three classes of users'
//! own pictures, of IDX files' images and of test-set images, with what was done to each
//! picture and, in a terminal, a preview of the 28×28 input the network saw.
//!
//! A bad input (not an image, truncated, empty, too large, a directory, missing) is
//! reported by name and the others are still classified; the exit code says the worst:
//! 1 if a file failed to read, else 2 if an input was unusable, else 0.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::json;

use super::eval::{load_test_set, locate_model};
use super::output;
use crate::cli::PredictArgs;
use crate::config::{ColorMode, Config};
use crate::data::{self, IMAGE_PIXELS, NUM_CLASSES};
use crate::error::UsageError;
use crate::escape;
use crate::events::CLASS_NAMES;
use crate::predict::{self, FileKind, ImageError, Invert};
use crate::store::checkpoint;
use crate::train::Classifier;

/// One input: its name and either the 28×28 input or why there is none.
struct Item {
    name: String,
    /// What was done to make the input, in words.
    steps: String,
    /// The true class, for test-set images.
    label: Option<u8>,
    input: Result<Box<[u8; IMAGE_PIXELS]>, Problem>,
}

struct Problem {
    message: String,
    usage: bool,
}

impl From<ImageError> for Problem {
    fn from(e: ImageError) -> Problem {
        Problem {
            usage: e.is_usage(),
            message: e.to_string(),
        }
    }
}

pub fn run(args: &PredictArgs) -> Result<ExitCode> {
    let (weights, run_cfg) = locate_model(&args.model_path)?;
    let (mut cfg, _) = crate::config::resolve(args.common.config.as_deref(), &|c| {
        if let Some(rc) = &run_cfg {
            c.model.name = rc.model.name;
        }
        args.common.apply(c);
    })?;
    cfg.data.train_limit = 0;
    let model = load_model(&cfg, &weights)?;
    let invert = match (args.invert, args.no_invert) {
        (true, _) => Invert::Always,
        (_, true) => Invert::Never,
        _ => Invert::Auto,
    };
    let mut items = Vec::new();
    for path in &args.images {
        read_input(path, invert, usize::from(args.fit), &mut items);
    }
    if !args.test.is_empty() {
        test_items(&cfg, &args.test, &mut items)?;
    }
    // Everything usable in batches, in order.
    let batch: Vec<u8> = items
        .iter()
        .filter_map(|it| it.input.as_ref().ok())
        .flat_map(|px| px.iter().copied())
        .collect();
    let mut probs = model
        .probabilities(&batch)
        .with_context(|| format!("classifying with {}", weights.display()))?
        .into_iter();
    let (mut usage, mut failed) = (false, false);
    for item in &items {
        match &item.input {
            Ok(px) => {
                let p = probs.next().unwrap_or([0.0; NUM_CLASSES]);
                output::write(&item_text(item, px, &p, args.json))?;
            }
            Err(p) => {
                usage |= p.usage;
                failed |= !p.usage;
                eprintln!("fashion-tui: {}", escape::lines(&p.message));
                if args.json {
                    output::line(&json!({"file": item.name, "error": p.message}).to_string())?;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else if usage {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The model `cfg` names, with the weights in `weights`, on the device `cfg` chooses;
/// weights of another network are a usage error that says so.
fn load_model(cfg: &Config, weights: &Path) -> Result<Classifier> {
    let threads = cfg.threads();
    tch::set_num_threads(threads as i32);
    let device = crate::device::resolve(cfg.runtime.device, threads)?;
    Classifier::load(cfg.model.name, weights, device.device).map_err(|e| {
        let wrong_model = e.chain().any(|c| c.is::<checkpoint::Mismatch>());
        let e = e.context(format!(
            "{} does not hold a {} model",
            weights.display(),
            cfg.model.name
        ));
        if wrong_model {
            UsageError(format!(
                "{e:#} (another network's weights? name it with --model)"
            ))
            .into()
        } else {
            e
        }
    })
}

/// One classified picture's output: a JSON object, or its three likeliest classes, what
/// was done to it and (in a terminal) a preview of the network's input. Its name and
/// steps are escaped in text (JSON escapes them itself).
fn item_text(item: &Item, px: &[u8; IMAGE_PIXELS], p: &[f32; NUM_CLASSES], json: bool) -> String {
    let top = top3(p);
    if json {
        let top: Vec<_> = top
            .iter()
            .map(|&k| json!({"class": CLASS_NAMES[k], "index": k, "probability": p[k]}))
            .collect();
        let mut obj = json!({"file": item.name, "top": top, "probabilities": p,
                             "preprocessing": item.steps});
        if let Some(l) = item.label {
            obj["label"] = json!(CLASS_NAMES[usize::from(l)]);
        }
        return format!("{obj}\n");
    }
    let ranked: Vec<String> = top
        .iter()
        .map(|&k| format!("{} {:.1}%", CLASS_NAMES[k], p[k] * 100.0))
        .collect();
    let truth = item.label.map_or(String::new(), |l| {
        format!("  (true: {})", CLASS_NAMES[usize::from(l)])
    });
    let mut text = format!(
        "{}: {}{truth}\n  {}\n",
        escape::line(&item.name),
        ranked.join(", "),
        escape::line(&item.steps)
    );
    if std::io::stdout().is_terminal() {
        let color = ColorMode::Auto.from_env();
        text.push_str(&predict::preview::preview(px, color));
    }
    text
}

/// The three most probable classes, best first.
fn top3(p: &[f32; NUM_CLASSES]) -> [usize; 3] {
    let mut order: [usize; NUM_CLASSES] = std::array::from_fn(|k| k);
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    [order[0], order[1], order[2]]
}

/// The picture at `path` prepared, or every image of an IDX file as it is.
fn read_input(path: &Path, invert: Invert, fit: usize, items: &mut Vec<Item>) {
    let name = path.display().to_string();
    let failed = |p: Problem| Item {
        name: name.clone(),
        steps: String::new(),
        label: None,
        input: Err(p),
    };
    match predict::file_kind(path) {
        Err(e) => items.push(failed(e.into())),
        Ok(FileKind::Idx) => match data::idx::read_own_images(path) {
            Ok(images) => items.extend(images.chunks_exact(IMAGE_PIXELS).enumerate().map(
                |(i, px)| {
                    let mut b = Box::new([0u8; IMAGE_PIXELS]);
                    b.copy_from_slice(px);
                    Item {
                        name: format!("{name}[{i}]"),
                        steps: "IDX image, used as it is".into(),
                        label: None,
                        input: Ok(b),
                    }
                },
            )),
            Err(e) => {
                // The file is named once, at the front.
                let why = match e {
                    data::DataError::Invalid { reason, .. } => reason,
                    other => other.to_string(),
                };
                items.push(failed(Problem {
                    usage: true,
                    message: format!(
                        "{}: not a readable IDX image file: {why}",
                        crate::escape::line(&name)
                    ),
                }))
            }
        },
        Ok(FileKind::Picture) => match predict::load(path) {
            Ok(img) => {
                let p = predict::preprocess(&img, invert, fit);
                items.push(Item {
                    name,
                    steps: p.steps,
                    label: None,
                    input: Ok(p.pixels),
                });
            }
            Err(e) => items.push(failed(e.into())),
        },
    }
}

/// Test-set images `indices`, as they are, with their labels.
fn test_items(cfg: &crate::config::Config, indices: &[usize], items: &mut Vec<Item>) -> Result<()> {
    let test = load_test_set(cfg)?;
    for &i in indices {
        let name = format!("test[{i}]");
        let input = if i < test.len() {
            let mut b = Box::new([0u8; IMAGE_PIXELS]);
            b.copy_from_slice(test.image(i));
            Ok(b)
        } else {
            Err(Problem {
                usage: true,
                message: format!(
                    "--test {i}: the test set has {} images (0 to {})",
                    test.len(),
                    test.len().saturating_sub(1)
                ),
            })
        };
        items.push(Item {
            name,
            steps: "test-set image, used as it is".into(),
            label: (i < test.len()).then(|| test.labels[i]),
            input,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_three_best_first() {
        let mut p = [0.01f32; NUM_CLASSES];
        p[6] = 0.5;
        p[0] = 0.3;
        p[2] = 0.1;
        assert_eq!(top3(&p), [6, 0, 2]);
    }
}
