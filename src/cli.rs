//! The command line (clap derive). `fashion-tui` alone means `fashion-tui train`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, DeviceChoice, ModelKind, TimeBudget};

#[derive(Debug, Parser)]
#[command(
    name = "fashion-tui",
    version,
    about = "Train a CNN on Fashion-MNIST and watch and steer it live in the terminal",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model (the default): the dashboard in a terminal, else headless.
    Train(TrainArgs),
    /// Evaluate a saved model on the test set: accuracy, per-class precision and
    /// recall, and the confusion matrix.
    Eval(EvalArgs),
    /// Show or create the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Classify your own pictures (PNG, JPEG), IDX files or test-set images with a saved
    /// model.
    Predict(PredictArgs),
    /// Plots (SVG and PNG) and a CSV of the metrics of one run, or of several overlaid.
    Report(ReportArgs),
    /// List the runs: status, accuracy, duration and the settings that differ.
    Runs(RunsArgs),
    /// Open the dashboard, read-only, on finished runs (default: the most recent);
    /// several runs are overlaid on the charts.
    View(ViewArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Run directories (each holding metrics.jsonl).
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<PathBuf>,
    /// Where to write the files (default: the run's own directory; required for several
    /// runs). Report files there of other runs, or not made by a report, are never
    /// overwritten.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print which config file is used.
    Path {
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Write the documented default config to the user config directory.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// Settings that override the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Config file (default: ./config.toml, else the user config dir).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Network to train or evaluate: tutorial or fast (each brings its recipe).
    #[arg(long, value_name = "NAME", value_parser = setting::<ModelKind>("model.name"))]
    pub model: Option<ModelKind>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, value_name = "D", value_parser = setting::<DeviceChoice>("runtime.device"))]
    pub device: Option<DeviceChoice>,
    /// CPU threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Directory holding the four Fashion-MNIST .gz files.
    #[arg(long, value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// Use only the first N test images.
    #[arg(long, value_name = "N")]
    pub test_limit: Option<usize>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: Overrides,
    /// No dashboard: print a line per epoch (automatic when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Headless, with only JSON lines on stdout (one per epoch, then a "done" line).
    #[arg(long)]
    pub json: bool,
    /// Epochs to train (with --time-budget, the budget decides instead)
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Images per training step
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Seed for weights, shuffling and dropout (CPU runs repeat exactly).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Directory for this run's config, metrics and model.
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    pub run_dir: Option<PathBuf>,
    /// Use only the first N training images.
    #[arg(long, value_name = "N")]
    pub train_limit: Option<usize>,
    /// Hold out N training images and choose the best epoch (and stop early) by their
    /// accuracy instead of the test set's.
    #[arg(long, value_name = "N")]
    pub validation: Option<usize>,
    /// Train the best model that fits this wall time (e.g. 3m, 90s): the run measures
    /// its speed and fixes its length so that the schedule ends on time.
    #[arg(long, value_name = "DURATION", value_parser = setting::<TimeBudget>("training.time_budget"))]
    pub time_budget: Option<TimeBudget>,
    /// Evaluate on the test set every N epochs (e.g. 0.25), besides each epoch's end.
    #[arg(long, value_name = "N")]
    pub eval_every: Option<f64>,
    /// Evaluate every --eval-every epochs only until this epoch, then at epoch ends (0: the whole run).
    #[arg(long, value_name = "EPOCH")]
    pub eval_until: Option<f64>,
    /// Continue a run from its last checkpoint (default: the latest run with one).
    #[arg(long, value_name = "RUN_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// With --resume: allow changed next-run settings (model, batch size, seed, …).
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Start over in a run directory that holds a run: delete that run's config, metrics,
    /// model and checkpoint first (other files are kept).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// A model .safetensors file, or a run directory holding model.safetensors.
    #[arg(value_name = "MODEL")]
    pub model_path: PathBuf,
    #[command(flatten)]
    pub common: Overrides,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Average each test image's prediction with its mirror's (default: as the model's
    /// run or recipe does).
    #[arg(long, conflicts_with = "no_tta")]
    pub tta: bool,
    /// Evaluate the images alone.
    #[arg(long)]
    pub no_tta: bool,
}

impl EvalArgs {
    /// The test-time flips asked for on the command line, if any.
    pub fn tta_flag(&self) -> Option<bool> {
        match (self.tta, self.no_tta) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// A model .safetensors file, or a run directory holding model.safetensors.
    #[arg(value_name = "MODEL|RUN")]
    pub model_path: PathBuf,
    /// Pictures (PNG, JPEG; any size up to 50 megapixels, colour or gray) or IDX image
    /// files.
    #[arg(value_name = "IMAGE", required_unless_present = "test")]
    pub images: Vec<PathBuf>,
    /// Also classify test-set image N (repeatable): predict and eval must agree.
    #[arg(long, value_name = "N")]
    pub test: Vec<usize>,
    /// Negate every picture (default: when its border is light).
    #[arg(long, conflicts_with = "no_invert")]
    pub invert: bool,
    /// Never negate pictures.
    #[arg(long)]
    pub no_invert: bool,
    /// The object's longest edge in the 28×28 input, in pixels (28 like Fashion-MNIST;
    /// 20 leaves MNIST's margin).
    #[arg(long, value_name = "PX", default_value_t = 28,
          value_parser = clap::value_parser!(u8).range(8..=28))]
    pub fit: u8,
    /// One JSON object per image on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Overrides,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunsArgs {
    /// The runs directory (default: <user data dir>/runs).
    #[arg(long, value_name = "PATH")]
    pub runs_dir: Option<PathBuf>,
    /// Only runs of this model.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Only the N most recent runs.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Order of the rows.
    #[arg(long, value_enum, default_value_t = RunsSort::Start)]
    pub sort: RunsSort,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct ViewArgs {
    /// Run directories, or names of runs in the runs directory.
    #[arg(value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    /// The runs directory (default: <user data dir>/runs).
    #[arg(long, value_name = "PATH")]
    pub runs_dir: Option<PathBuf>,
}

/// How `runs` orders its rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RunsSort {
    /// Best test accuracy first.
    Acc,
    /// Oldest first, the newest last.
    #[default]
    Start,
    Name,
}

/// A flag's value parsed as the config file's `key` is, with the same message.
fn setting<T>(key: &'static str) -> impl Fn(&str) -> Result<T, String> + Clone
where
    T: std::str::FromStr<Err = String>,
{
    move |text| text.parse().map_err(|e| format!("{key} = {text:?}: {e}"))
}

fn path_string(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Overrides {
    /// Apply these flags over `cfg` (flag over file over default).
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(v) = self.model {
            cfg.model.name = v;
        }
        if let Some(v) = self.device {
            cfg.runtime.device = v;
        }
        if let Some(v) = self.threads {
            cfg.runtime.threads = v;
        }
        if let Some(v) = &self.data_dir {
            cfg.data.dir = path_string(v);
        }
        if let Some(v) = self.test_limit {
            cfg.data.test_limit = v;
        }
    }
}

impl TrainArgs {
    pub fn apply(&self, cfg: &mut Config) {
        self.common.apply(cfg);
        let t = &mut cfg.training;
        if let Some(v) = self.epochs {
            t.epochs = v;
        }
        if let Some(v) = self.batch_size {
            t.batch_size = v;
        }
        if let Some(v) = self.lr {
            t.lr = v;
        }
        if let Some(v) = self.seed {
            t.seed = v;
        }
        if let Some(v) = &self.run_dir {
            cfg.runtime.run_dir = path_string(v);
        }
        if let Some(v) = self.train_limit {
            cfg.data.train_limit = v;
        }
        if let Some(v) = self.validation {
            cfg.data.validation = v;
        }
        if let Some(v) = self.time_budget {
            cfg.training.time_budget = v;
        }
        if let Some(v) = self.eval_every {
            cfg.training.eval_every = v;
        }
        if let Some(v) = self.eval_until {
            cfg.training.eval_until = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_invocation_means_train() {
        let cli = Cli::try_parse_from(["fashion-tui", "--epochs", "2", "--headless"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.train.epochs, Some(2));
        assert!(cli.train.headless);
    }

    #[test]
    fn flags_override_the_file() {
        let cli = Cli::try_parse_from([
            "fashion-tui",
            "train",
            "--lr",
            "0.01",
            "--device",
            "cpu",
            "--train-limit",
            "100",
        ])
        .unwrap();
        let Some(Command::Train(args)) = cli.command else {
            panic!("expected train")
        };
        let mut cfg =
            Config::from_toml("[training]\nlr = 0.5\nepochs = 4\n", "c.toml".as_ref()).unwrap();
        args.apply(&mut cfg);
        assert_eq!(cfg.training.lr, 0.01);
        assert_eq!(cfg.training.epochs, 4);
        assert_eq!(cfg.runtime.device, DeviceChoice::Cpu);
        assert_eq!(cfg.data.train_limit, 100);
    }

    #[test]
    fn resume_takes_an_optional_run_dir() {
        let cli = Cli::try_parse_from(["fashion-tui", "--resume"]).unwrap();
        assert_eq!(cli.train.resume, Some(None));
        let cli = Cli::try_parse_from(["fashion-tui", "--resume", "runs/x", "--force"]).unwrap();
        assert_eq!(cli.train.resume, Some(Some(PathBuf::from("runs/x"))));
        assert!(cli.train.force);
        assert!(Cli::try_parse_from(["fashion-tui", "--force"]).is_err());
        assert!(Cli::try_parse_from(["fashion-tui", "--resume", "--overwrite"]).is_err());
        let cli = Cli::try_parse_from(["fashion-tui", "--run-dir", "r", "--overwrite"]).unwrap();
        assert!(cli.train.overwrite);
    }

    #[test]
    fn a_time_budget_and_a_model_are_flags() {
        let cli =
            Cli::try_parse_from(["fashion-tui", "--model", "fast", "--time-budget", "3m"]).unwrap();
        let mut cfg = Config::default();
        cli.train.apply(&mut cfg);
        assert_eq!(cfg.model.name, ModelKind::Fast);
        assert_eq!(cfg.training.time_budget.secs(), Some(180.0));
        let e = Cli::try_parse_from(["fashion-tui", "--time-budget", "soon"]).unwrap_err();
        assert!(
            e.to_string().contains("training.time_budget = \"soon\""),
            "{e}"
        );
    }

    #[test]
    fn eval_takes_tta_flags() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["fashion-tui", "eval", "m.safetensors"];
            args.extend(extra);
            match Cli::try_parse_from(args).unwrap().command {
                Some(Command::Eval(a)) => a.tta_flag(),
                _ => panic!("expected eval"),
            }
        };
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&["--tta"]), Some(true));
        assert_eq!(parse(&["--no-tta"]), Some(false));
        assert!(Cli::try_parse_from(["fashion-tui", "eval", "m", "--tta", "--no-tta"]).is_err());
    }

    #[test]
    fn eval_takes_a_model_path() {
        let cli = Cli::try_parse_from(["fashion-tui", "eval", "run/model.safetensors"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Eval(a)) if a.model_path.ends_with("model.safetensors"))
        );
    }
}
