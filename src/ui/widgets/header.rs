//! The header: state chip, model and device, epoch with a batch gauge, throughput, ETA (or
//! what is left of a time budget) and learning rate, or the outcome once training is over. Pieces that do not fit are dropped,
//! least important first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Widget};

use crate::duration;
use crate::events::text::{completed, fmt_lr, model_text, run_time};
use crate::events::{Phase, RunInfo, RunSummary};
use crate::ui::panes::RunStatus;
use crate::ui::theme::Theme;

/// Width of the batch gauge's bar on wide and narrow screens.
const GAUGE_WIDE: usize = 24;
const GAUGE_NARROW: usize = 10;

/// The header view. Three rows with a border when given three, else one bare line.
pub struct Header<'a> {
    pub status: &'a RunStatus,
    pub theme: &'a Theme,
}

/// One piece of the header line; lower `priority` is kept longer.
struct Piece<'a> {
    priority: u8,
    spans: Vec<Span<'a>>,
}

impl Piece<'_> {
    fn width(&self) -> usize {
        self.spans.iter().map(Span::width).sum()
    }
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (status, theme) = (self.status, self.theme);
        let line_area = if area.height >= 3 {
            let block = Block::bordered()
                .border_style(theme.border(false))
                .title(Line::styled(
                    " fashion-tui ",
                    Style::new().add_modifier(Modifier::BOLD),
                ))
                .title_top(
                    Line::styled(
                        format!(" {} ", duration::clock(status.elapsed)),
                        theme.dim(),
                    )
                    .right_aligned(),
                );
            let inner = block.inner(area);
            block.render(area, buf);
            inner
        } else {
            area
        };
        if line_area.is_empty() {
            return;
        }
        let row = Rect::new(line_area.x, line_area.y, line_area.width, 1);
        let pieces = pieces(status, theme, usize::from(row.width) >= 100);
        // One column of air before the border.
        let line = fit(
            pieces,
            usize::from(row.width).saturating_sub(1),
            Span::styled(" │ ", theme.dim()),
        );
        line.render(row, buf);
    }
}

/// Keep the most important pieces that fit in `width`, in display order.
fn fit<'a>(pieces: Vec<Piece<'a>>, width: usize, sep: Span<'a>) -> Line<'a> {
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&i| pieces[i].priority);
    let mut keep = vec![false; pieces.len()];
    let mut used = 0usize;
    for i in order {
        let extra = pieces[i].width() + if used == 0 { 0 } else { sep.width() };
        // The most important piece is always kept (and clipped if need be).
        if used.saturating_add(extra) <= width || pieces[i].priority == 0 {
            keep[i] = true;
            used = used.saturating_add(extra);
        }
    }
    let mut spans = Vec::new();
    for (i, p) in pieces.into_iter().enumerate() {
        if keep[i] {
            if !spans.is_empty() {
                spans.push(sep.clone());
            }
            spans.extend(p.spans);
        }
    }
    Line::from(spans)
}

fn pieces(status: &RunStatus, theme: &Theme, wide: bool) -> Vec<Piece<'static>> {
    let phase = status.display_phase();
    let mut chip = vec![Span::styled(
        format!(" {} ", phase.label()),
        theme.phase_chip(phase),
    )];
    if status.stopping() {
        chip.push(Span::styled(" stopping…", theme.warn()));
    }
    let mut out = vec![Piece {
        priority: 0,
        spans: chip,
    }];
    if let Some(reason) = &status.failure {
        out.push(Piece {
            priority: 0,
            spans: vec![Span::styled(reason.clone(), theme.bad())],
        });
    } else if let Some(done) = &status.done {
        done_pieces(status, done, theme, &mut out);
    } else if let Some(info) = &status.info {
        running_pieces(status, info, theme, wide, &mut out);
    } else {
        out.push(Piece {
            priority: 1,
            spans: vec![Span::styled("starting…", theme.dim())],
        });
    }
    out
}

/// A finished run: how far it went, its accuracy, its best epoch, its time, its model.
fn done_pieces(
    status: &RunStatus,
    done: &RunSummary,
    theme: &Theme,
    out: &mut Vec<Piece<'static>>,
) {
    let mut push = |priority: u8, spans: Vec<Span<'static>>| out.push(Piece { priority, spans });
    push(1, vec![Span::raw(completed(done))]);
    if let Some(acc) = done.test_acc {
        push(
            1,
            vec![Span::styled(
                format!("test acc {:.1}%", acc * 100.0),
                theme.good().add_modifier(Modifier::BOLD),
            )],
        );
    }
    if let Some(best) = status.best_done_text() {
        push(2, vec![Span::raw(best)]);
    }
    push(3, vec![Span::raw(run_time(done))]);
    push(2, vec![Span::raw(model_text(done))]);
    push(4, vec![Span::styled("q to quit", theme.dim())]);
}

/// A run in progress: model and device, epoch with its gauge, speed, time left, rate and
/// the best epoch.
fn running_pieces(
    status: &RunStatus,
    info: &RunInfo,
    theme: &Theme,
    wide: bool,
    out: &mut Vec<Piece<'static>>,
) {
    let mut push = |priority: u8, spans: Vec<Span<'static>>| out.push(Piece { priority, spans });
    let bold = Style::new().add_modifier(Modifier::BOLD);
    push(5, vec![Span::styled(info.model.clone(), bold)]);
    push(7, vec![Span::styled(info.device.clone(), theme.dim())]);
    let p = status.progress.as_ref();
    let epoch0 = p.map_or(0, |p| p.epoch);
    // A time budget decides the run's length once it has measured the speed.
    let epochs = status
        .plan
        .as_ref()
        .map_or(info.epochs, |plan| plan.epochs.ceil() as usize);
    let epoch = (epoch0 + 1).min(epochs.max(1));
    push(1, vec![Span::raw(format!("epoch {epoch}/{epochs}"))]);
    push(2, gauge(status, theme, wide));
    if let Some(p) = p {
        push(4, vec![Span::raw(format!("{:.0} img/s", p.images_per_sec))]);
        let time = match (p.budget_left_secs, info.time_budget) {
            (Some(left), Some(budget)) => format!(
                "budget {} left of {}",
                duration::eta(left.max(0.0)),
                duration::eta(budget)
            ),
            _ => format!("ETA {}", duration::eta(p.eta_secs)),
        };
        push(3, vec![Span::raw(time)]);
        push(6, vec![Span::raw(format!("lr {}", fmt_lr(p.lr)))]);
    } else {
        push(6, vec![Span::raw(format!("lr {}", fmt_lr(info.lr)))]);
    }
    if let Some(text) = status.best_text() {
        push(3, vec![Span::raw(text)]);
    }
}

/// The epoch's progress as a bar, with its percentage (or `testing` while evaluating).
fn gauge(status: &RunStatus, theme: &Theme, wide: bool) -> Vec<Span<'static>> {
    let phase = status.display_phase();
    let ratio = status.progress.as_ref().map_or(0.0, |p| {
        if p.batches == 0 {
            0.0
        } else {
            (p.batch as f64 / p.batches as f64).clamp(0.0, 1.0)
        }
    });
    let bar = if wide { GAUGE_WIDE } else { GAUGE_NARROW };
    let filled = ((ratio * bar as f64).round() as usize).min(bar);
    let label = if phase == Phase::Evaluating {
        " testing".to_string()
    } else {
        format!(" {:>3.0}%", ratio * 100.0)
    };
    let gauge_style = theme.fg(crate::ui::theme::Theme::phase_color(phase));
    vec![
        Span::styled("━".repeat(filled), gauge_style),
        Span::styled("─".repeat(bar - filled), theme.dim()),
        Span::raw(label),
    ]
}
