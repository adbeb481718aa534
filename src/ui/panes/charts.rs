//! The "Loss" and "Accuracy" panes' state: bounded histories of the training loss (raw and
//! smoothed), running training accuracy, per-epoch test loss and accuracy (and those
//! between epoch ends), per-epoch validation accuracy, the learning rate, the live setting changes marked on the loss
//! chart and where a time budget ends the run.

use crate::events::Progress;
use crate::store::history::StoredRun;
use crate::ui::history::Series;

/// Points kept per chart series (see [`Series`]).
pub const SERIES_CAP: usize = 2048;
/// Weight of the newest loss in the smoothed (EMA) loss curve.
pub const EMA_ALPHA: f64 = 0.02;
/// Setting changes marked on the loss chart, at most.
pub const CHANGES_CAP: usize = 64;

/// Colours of the runs overlaid on the charts, in the order they are listed.
pub const OTHER_COLORS: [ratatui::style::Color; 6] = {
    use ratatui::style::Color;
    [
        Color::Magenta,
        Color::LightCyan,
        Color::Green,
        Color::LightYellow,
        Color::Blue,
        Color::Red,
    ]
};

/// Another run drawn over the charts: its loss history and per-epoch test accuracy (%),
/// listed in the Runs pane, where a key shows or hides it.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherRun {
    pub name: String,
    pub loss: Vec<(f64, f64)>,
    pub test_acc: Vec<(f64, f64)>,
    pub shown: bool,
}

/// How the Loss and Accuracy charts are looked at: the whole run or its last epochs, and
/// the loss on a linear or a logarithmic axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChartView {
    /// The last this many epochs (`None`: the whole run).
    pub last: Option<usize>,
    /// The loss on a logarithmic axis.
    pub log_loss: bool,
}

/// The zoom steps: the last this many epochs.
pub const ZOOM_STEPS: [usize; 6] = [50, 20, 10, 5, 2, 1];

impl OtherRun {
    /// A stored run as an overlay, `shown` or waiting hidden in the Runs pane.
    pub fn of(run: &StoredRun, shown: bool) -> OtherRun {
        let (loss, test_acc) = run.curves();
        OtherRun {
            name: run.name.clone(),
            loss,
            test_acc,
            shown,
        }
    }
}

/// Chart histories, bounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Charts {
    /// Per-batch training loss (downsampled).
    pub loss_raw: Series,
    /// Exponential moving average of the per-batch loss.
    pub loss_ema: Series,
    ema: Option<f64>,
    /// Running training accuracy (%) over fractional epochs.
    pub train_acc: Series,
    /// (epoch, test loss) per finished epoch.
    pub test_loss: Vec<(f64, f64)>,
    /// (epoch, test accuracy %) per finished epoch.
    pub test_acc: Vec<(f64, f64)>,
    /// (epoch, validation accuracy %) per finished epoch, when the run holds images out.
    pub val_acc: Vec<(f64, f64)>,
    /// Live setting changes: (fractional epoch, e.g. `lr 0.0005`), the newest last.
    pub changes: Vec<(f64, String)>,
    /// Other runs overlaid on the charts (none unless asked for).
    pub others: Vec<OtherRun>,
    /// The learning rate over fractional epochs, as the progress snapshots report it.
    pub lr: Series,
    /// Where a time budget ends the run (fractional epochs), once it is fixed.
    pub run_end: Option<f64>,
    pub view: ChartView,
}

impl Default for Charts {
    fn default() -> Self {
        Charts {
            loss_raw: Series::new(SERIES_CAP),
            loss_ema: Series::new(SERIES_CAP),
            ema: None,
            train_acc: Series::new(SERIES_CAP),
            test_loss: Vec::new(),
            test_acc: Vec::new(),
            val_acc: Vec::new(),
            changes: Vec::new(),
            others: Vec::new(),
            lr: Series::new(SERIES_CAP),
            run_end: None,
            view: ChartView::default(),
        }
    }
}

impl Charts {
    pub fn push_progress(&mut self, p: &Progress) {
        for &(x, loss) in &p.losses {
            let y = f64::from(loss);
            if !y.is_finite() {
                continue;
            }
            self.loss_raw.push(x, y);
            let ema = match self.ema {
                Some(e) => e + EMA_ALPHA * (y - e),
                None => y,
            };
            self.ema = Some(ema);
            self.loss_ema.push(x, ema);
        }
        if p.batches > 0 && p.batch > 0 {
            let x = p.epoch as f64 + p.batch as f64 / p.batches as f64;
            self.train_acc.push(x, p.train_acc * 100.0);
            self.lr.push(x, p.lr);
        }
    }

    /// Whether the rate changed during the run so far (a schedule worth drawing).
    pub fn lr_varies(&self) -> bool {
        let mut rates = self.lr.points().iter().map(|p| p.1);
        match rates.next() {
            Some(first) => rates.any(|r| r != first),
            None => false,
        }
    }

    /// An evaluation between epoch ends: test loss and accuracy (%) at fractional `at`.
    pub fn push_test(&mut self, at: f64, test_loss: f64, test_acc: f64) {
        self.test_loss.push((at, test_loss));
        self.test_acc.push((at, test_acc));
    }

    /// A finished epoch's test loss and accuracy (%), and its validation accuracy (%)
    /// when the run holds images out.
    pub fn push_epoch(
        &mut self,
        epoch: usize,
        test_loss: f64,
        test_acc: f64,
        val_acc: Option<f64>,
    ) {
        let x = epoch as f64;
        self.test_loss.push((x, test_loss));
        self.test_acc.push((x, test_acc));
        if let Some(v) = val_acc {
            self.val_acc.push((x, v));
        }
    }

    /// The overlaid runs that are shown, with their colour.
    pub fn shown_others(&self) -> impl Iterator<Item = (ratatui::style::Color, &OtherRun)> {
        self.others
            .iter()
            .enumerate()
            .filter(|(_, o)| o.shown)
            .map(|(i, o)| (OTHER_COLORS[i % OTHER_COLORS.len()], o))
    }

    /// Mark a live setting change (`label`, e.g. `lr 0.0005`) at a fractional epoch.
    pub fn push_change(&mut self, at_epoch: f64, label: String) {
        if self.changes.len() >= CHANGES_CAP {
            self.changes.remove(0);
        }
        self.changes.push((at_epoch, label));
    }

    /// The right end of the charts' x axis: the epoch in progress rounded up to a whole
    /// epoch, so the curves use the width early on and the axis ends at the run's epochs;
    /// with a time budget's plan, where it ends the run.
    pub fn x_max(&self) -> f64 {
        let data = [
            self.loss_raw.points().last().map(|p| p.0),
            self.train_acc.points().last().map(|p| p.0),
            self.test_loss.last().map(|p| p.0),
        ];
        let others = self
            .shown_others()
            .flat_map(|(_, o)| [o.loss.last(), o.test_acc.last()])
            .map(|p| p.map(|p| p.0));
        let data_max = data.into_iter().chain(others).flatten().fold(0.0, f64::max);
        match self.run_end {
            // A time budget's run ends mid-epoch: the axis ends there.
            Some(end) if end >= data_max => end.max(f64::MIN_POSITIVE),
            _ => data_max.ceil().max(1.0),
        }
    }

    /// The x window the charts show: the whole run, or its last [`ChartView::last`]
    /// epochs.
    pub fn window(&self) -> (f64, f64) {
        let hi = self.x_max();
        match self.view.last {
            Some(n) if (n as f64) < hi => (hi - n as f64, hi),
            _ => (0.0, hi),
        }
    }

    /// Zoom in (`true`: fewer epochs) or out one step; out of the widest step shows the
    /// whole run again. A step as wide as the run is passed over.
    pub fn zoom(&mut self, closer: bool) {
        let epochs = self.x_max();
        let fits = |n: &usize| (*n as f64) < epochs;
        self.view.last = match (self.view.last, closer) {
            (None, true) => ZOOM_STEPS.iter().copied().find(fits),
            (None, false) => None,
            (Some(n), true) => ZOOM_STEPS.iter().copied().find(|&m| m < n).or(Some(n)),
            (Some(n), false) => ZOOM_STEPS
                .iter()
                .rev()
                .copied()
                .find(|&m| m > n)
                .filter(fits),
        };
    }

    /// What the title says of the view, when it is not the default: `last 5 ep`, and for
    /// the loss (`loss`) `log`.
    pub fn view_text(&self, loss: bool) -> Option<String> {
        let zoom = self.view.last.map(|n| format!("last {n} ep"));
        let log = (loss && self.view.log_loss).then(|| "log".to_string());
        let parts: Vec<String> = [zoom, log].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}
