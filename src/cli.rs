//! The command line (clap derive). `fashion-tui` alone means `fashion-tui train`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::params::{self, Flag, Param, Scope, PARAMS};
use crate::config::Config;

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
    /// The dashboard on a run that is training (default: the most recent one), from any
    /// terminal; `d` leaves it training.
    Attach(AttachArgs),
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

/// Settings that override the config file: `--config`, and the flags of the settings
/// every command that loads a model takes.
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Config file (default: ./config.toml, else the user config dir).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingFlags<false>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub common: Overrides,
    /// The settings' flags that only `train` takes.
    #[command(flatten)]
    pub settings: SettingFlags<true>,
    /// No dashboard: print a line per epoch (automatic when stdout is not a terminal).
    #[arg(long)]
    pub headless: bool,
    /// Headless, with only JSON lines on stdout (one per epoch, then a "done" line).
    #[arg(long)]
    pub json: bool,
    /// Continue a run from its last checkpoint (default: the latest run with one).
    #[arg(long, value_name = "RUN_DIR", num_args = 0..=1)]
    pub resume: Option<Option<PathBuf>>,
    /// With --resume: allow changed next-run settings (model, batch size, seed, …).
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Train in the background: return once the run is up, saying how to attach to it
    /// (its output goes to train.log in the run directory).
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Start over in a run directory that holds a run: delete that run's config, metrics,
    /// model and checkpoint first (other files are kept).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Default, Args)]
pub struct AttachArgs {
    /// A run directory, or the name of a run in the runs directory (default: the most
    /// recent run that is training).
    #[arg(value_name = "RUN")]
    pub run: Option<PathBuf>,
    /// The runs directory (default: <user data dir>/runs).
    #[arg(long, value_name = "PATH")]
    pub runs_dir: Option<PathBuf>,
    /// Config file for the dashboard's own settings ([ui]) and the editor's saves
    /// (default: ./config.toml, else the user config dir).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// No dashboard: print what the run says, as JSON lines (the socket's protocol), until
    /// it ends; read-only. For scripts, and for terminals that cannot draw.
    #[arg(long)]
    pub json: bool,
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

/// The flags of the settings table's rows ([`PARAMS`]) whose flag is for `train` alone
/// (`TRAIN`) or for every command that loads a model: each flag's name, value name and
/// help come from its row, its value is parsed as the file's is (the same messages), and
/// [`SettingFlags::apply`] sets it through the row's field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingFlags<const TRAIN: bool> {
    /// `(key, text)` of each flag given, in the table's order.
    pub given: Vec<(&'static str, String)>,
}

/// Flags that cannot go with another of `train`'s: `--run-dir` names a new run's
/// directory, `--resume` an existing run's.
const CONFLICTS: &[(&str, &str)] = &[("runtime.run_dir", "resume")];

impl<const TRAIN: bool> SettingFlags<TRAIN> {
    /// The rows whose flags these are.
    fn rows() -> impl Iterator<Item = (&'static Param, Flag)> {
        let scope = if TRAIN { Scope::Train } else { Scope::Common };
        PARAMS
            .iter()
            .filter_map(move |p| p.flag.filter(|f| f.scope == scope).map(|f| (p, f)))
    }

    /// The text of `key`'s flag, when it was given.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Apply these flags over `cfg` (flag over file over default).
    pub fn apply(&self, cfg: &mut Config) {
        for (key, text) in &self.given {
            // Parsed when the command line was read: setting it again cannot fail.
            if let Some(p) = params::find(key) {
                let _ = (p.field.set)(cfg, text);
            }
        }
    }
}

/// A table row's help as a flag's: starting with a capital, as clap's own do.
fn sentence(help: &str) -> String {
    let mut chars = help.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// `text` for the setting `p`, parsed as the config file's value is: refused with the
/// same message the file would get.
fn parse_setting(p: &'static Param, text: &str) -> Result<String, crate::error::UsageError> {
    let mut probe = Config::default();
    (p.field.set)(&mut probe, text).map(|()| text.to_string())
}

impl<const TRAIN: bool> clap::FromArgMatches for SettingFlags<TRAIN> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let given = Self::rows()
            .filter_map(|(p, _)| Some((p.key, m.get_one::<String>(p.key)?.clone())))
            .collect();
        Ok(SettingFlags { given })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<const TRAIN: bool> Args for SettingFlags<TRAIN> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Self::rows().fold(cmd, |cmd, (p, flag)| {
            let mut arg = clap::Arg::new(p.key)
                .long(flag.long)
                .value_name(flag.value)
                .help(sentence(p.help))
                .allow_negative_numbers(true)
                .value_parser(move |text: &str| parse_setting(p, text));
            for (key, other) in CONFLICTS {
                if *key == p.key {
                    arg = arg.conflicts_with(*other);
                }
            }
            cmd.arg(arg)
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl Overrides {
    /// Apply these flags over `cfg` (flag over file over default).
    pub fn apply(&self, cfg: &mut Config) {
        self.settings.apply(cfg);
    }
}

impl TrainArgs {
    /// Apply every settings flag over `cfg` (flag over file over default).
    pub fn apply(&self, cfg: &mut Config) {
        self.common.apply(cfg);
        self.settings.apply(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeviceChoice, ModelKind};

    #[test]
    fn bare_invocation_means_train() {
        let cli = Cli::try_parse_from(["fashion-tui", "--epochs", "2", "--headless"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.train.settings.get("training.epochs"), Some("2"));
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

    #[test]
    fn setting_flags_come_from_the_table_and_parse_as_the_file_does() {
        let e = Cli::try_parse_from(["fashion-tui", "--epochs", "2.5"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("training.epochs = \"2.5\" is not a whole number (0, 1, 2, …)"),
            "{e}"
        );
        let e = Cli::try_parse_from(["fashion-tui", "eval", "m", "--model", "resnet"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("model.name = \"resnet\": unknown model"),
            "{e}"
        );
        // Train's own flags are not eval's.
        assert!(Cli::try_parse_from(["fashion-tui", "eval", "m", "--epochs", "2"]).is_err());
        assert!(Cli::try_parse_from(["fashion-tui", "--run-dir", "r", "--resume"]).is_err());
        // Every flag is one setting's, named once; the help is the row's.
        let mut longs: Vec<&str> = PARAMS
            .iter()
            .filter_map(|p| p.flag.map(|f| f.long))
            .collect();
        let n = longs.len();
        longs.sort_unstable();
        longs.dedup();
        assert_eq!(longs.len(), n);
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for p in PARAMS.iter().filter(|p| p.flag.is_some()) {
            assert!(help.contains(&sentence(p.help)), "{} lacks its help", p.key);
        }
    }
}
