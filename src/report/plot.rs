//! The report's two figures, each drawn once for any plotters backend and rendered as
//! SVG text or PNG bytes: [`Curves`] (loss and accuracy against epochs, train dashed and
//! test solid, one colour per run, the tutorial's 90% line and each run's best epoch
//! circled) and [`Confusions`] (each run's best epoch's matrix with per-class recall and
//! precision).
//!
//! Text in PNGs is drawn with DejaVu Sans, embedded in the binary (`assets/`), so a
//! report looks the same on a host without any fonts installed. SVGs name the family
//! `sans-serif` and leave drawing the text to the viewer.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

use super::Run;
use crate::data::NUM_CLASSES;
use crate::events::{ConfusionStats, CLASS_NAMES, TUTORIAL_PERCENT};

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// One colour per run, in order (repeating after eight runs).
const RUN_COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];
const GREY: RGBColor = RGBColor(128, 128, 128);

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure of a fixed size that can draw itself on any backend.
pub trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// The figure as an SVG document.
pub fn svg(fig: &impl Figure) -> Result<String> {
    register_font()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, fig.size()).into_drawing_area();
        fig.draw(&root).map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(text)
}

/// The figure as a PNG file's bytes (RGB, 8 bits).
pub fn png(fig: &impl Figure) -> Result<Vec<u8>> {
    use image::ImageEncoder as _;
    register_font()?;
    let (w, h) = fig.size();
    let mut rgb = vec![0u8; (w as usize).saturating_mul(h as usize).saturating_mul(3)];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        fig.draw(&root).map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| anyhow!("cannot encode the PNG: {e}"))?;
    Ok(bytes)
}

fn drawing<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("cannot draw the figure: {e:?}")
}

/// Make the embedded font the `sans-serif` family (once per process).
fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded font could not be read"))
    }
}

fn run_color(i: usize) -> RGBColor {
    RUN_COLORS[i % RUN_COLORS.len()]
}

/// Loss and accuracy against epochs, side by side.
pub struct Curves<'a> {
    pub runs: &'a [Run],
}

impl Curves<'_> {
    fn epochs(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| r.epochs.last().map(|e| e.epoch))
            .max()
            .unwrap_or(1)
    }

    /// `(x range)` covering every epoch with half an epoch's margin.
    fn x_range(&self) -> std::ops::Range<f64> {
        0.5..self.epochs() as f64 + 0.5
    }

    fn loss_chart<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let top = self
            .runs
            .iter()
            .flat_map(|r| &r.epochs)
            .flat_map(|e| [e.train_loss, e.test_loss])
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption("Loss", (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(self.x_range(), 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("cross-entropy")
            .x_labels(self.epochs().min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        for (i, run) in self.runs.iter().enumerate() {
            let c = run_color(i);
            let train = run.epochs.iter().map(|e| (e.epoch as f64, e.train_loss));
            chart
                .draw_series(DashedLineSeries::new(train, 6, 4, c.stroke_width(2)))?
                .label(format!("{} train", run.name))
                .legend(move |(x, y)| {
                    DashedPathElement::new([(x, y), (x + 20, y)], 4, 3, c.stroke_width(2))
                });
            let test = run.epochs.iter().map(|e| (e.epoch as f64, e.test_loss));
            chart
                .draw_series(LineSeries::new(test, c.stroke_width(2)).point_size(3))?
                .label(format!("{} test", run.name))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
    }

    fn accuracy_chart<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let low = self
            .runs
            .iter()
            .flat_map(|r| &r.epochs)
            .flat_map(|e| [Some(e.train_acc), Some(e.test_acc), e.val_acc])
            .flatten()
            .filter(|v| v.is_finite())
            .fold(TUTORIAL_PERCENT / 100.0, f64::min);
        // From a multiple of 10% below everything to 100%.
        let bottom = ((low * 10.0).floor() * 10.0).clamp(0.0, 80.0);
        let mut chart = ChartBuilder::on(area)
            .caption("Accuracy", (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(self.x_range(), bottom..100.0)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy (%)")
            .x_labels(self.epochs().min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        let x = self.x_range();
        let target = TUTORIAL_PERCENT;
        chart
            .draw_series(DashedLineSeries::new(
                [(x.start, target), (x.end, target)],
                3,
                3,
                GREY.stroke_width(1),
            ))?
            .label("90% (the tutorial's target)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY));
        for (i, run) in self.runs.iter().enumerate() {
            accuracy_lines(&mut chart, run, run_color(i))?;
            self.best_mark(&mut chart, run, i)?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
    }

    /// `run`'s best epoch (the `i`-th run's), circled on the curve that chose it and
    /// labelled above it, on the side with room.
    fn best_mark<DB: DrawingBackend>(
        &self,
        chart: &mut Cartesian<'_, DB>,
        run: &Run,
        i: usize,
    ) -> DrawResult<DB> {
        let c = run_color(i);
        let best = run.best();
        let (which, score) = match (run.validated(), best.val_acc) {
            (true, Some(v)) => ("best val", v),
            _ => ("best", best.test_acc),
        };
        let at = (best.epoch as f64, score * 100.0);
        chart.draw_series([EmptyElement::at(at) + Circle::new((0, 0), 8, c.stroke_width(2))])?;
        // Above the circle (the best accuracy has no point of its curve above it), on the
        // side with room: left of a late best epoch.
        let late = 2 * best.epoch > self.epochs() + 1;
        let (side, dx) = if late {
            (HPos::Right, -12)
        } else {
            (HPos::Left, 12)
        };
        let style = (FAMILY, 13)
            .into_font()
            .color(&c)
            .pos(Pos::new(side, VPos::Bottom));
        chart.draw_series([EmptyElement::at(at)
            + Text::new(
                format!("{which} {:.2}% @ {}", at.1, best.epoch),
                (dx, -8 - 16 * i as i32),
                style,
            )])?;
        Ok(())
    }
}

/// A chart over epochs and a value, as plotters builds it.
type Cartesian<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// `run`'s accuracy lines in colour `c`: training (dashed), test (thick, dotted at each
/// epoch) and validation when it held images out (thin).
fn accuracy_lines<DB: DrawingBackend>(
    chart: &mut Cartesian<'_, DB>,
    run: &Run,
    c: RGBColor,
) -> DrawResult<DB> {
    let points = |f: fn(&super::Epoch) -> Option<f64>| {
        run.epochs
            .iter()
            .filter_map(move |e| Some((e.epoch as f64, f(e)? * 100.0)))
    };
    chart
        .draw_series(DashedLineSeries::new(
            points(|e| Some(e.train_acc)),
            6,
            4,
            c.stroke_width(2),
        ))?
        .label(format!("{} train", run.name))
        .legend(move |(x, y)| {
            DashedPathElement::new([(x, y), (x + 20, y)], 4, 3, c.stroke_width(2))
        });
    chart
        .draw_series(
            LineSeries::new(points(|e| Some(e.test_acc)), c.stroke_width(2)).point_size(3),
        )?
        .label(format!("{} test", run.name))
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
    if run.validated() {
        // Thin and dotted at each epoch: apart from the thick test line.
        chart
            .draw_series(LineSeries::new(points(|e| e.val_acc), c.stroke_width(1)).point_size(2))?
            .label(format!("{} validation", run.name))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(1)));
    }
    Ok(())
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (1280, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let [loss, acc]: [_; 2] = root
            .split_evenly((1, 2))
            .try_into()
            .unwrap_or_else(|_| unreachable!("split_evenly((1, 2)) gives two areas"));
        self.loss_chart(&loss)?;
        self.accuracy_chart(&acc)
    }
}

/// Each run's best epoch's confusion matrix, side by side.
pub struct Confusions<'a> {
    pub runs: &'a [Run],
}

const PANEL: (u32, u32) = (640, 600);
const CELL: i32 = 44;
const GRID_X: i32 = 100;
const GRID_Y: i32 = 110;

impl Figure for Confusions<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.runs.len().max(1) as u32;
        (PANEL.0.saturating_mul(n), PANEL.1)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let panels = root.split_evenly((1, self.runs.len().max(1)));
        for (run, area) in self.runs.iter().zip(&panels) {
            confusion_panel(run, area)?;
        }
        Ok(())
    }
}

fn confusion_panel<DB: DrawingBackend>(run: &Run, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    let best = run.best();
    area.draw(&Text::new(
        run.name.clone(),
        (PANEL.0 as i32 / 2, 16),
        anchored(area, 18, HPos::Center),
    ))?;
    let chosen = match best.val_acc.filter(|_| run.validated()) {
        Some(v) => format!(
            "best validation accuracy {:.2}%, test {:.2}%",
            v * 100.0,
            best.test_acc * 100.0
        ),
        None => format!("best test accuracy {:.2}%", best.test_acc * 100.0),
    };
    area.draw(&Text::new(
        format!("epoch {} ({chosen})", best.epoch),
        (PANEL.0 as i32 / 2, 38),
        anchored(area, 14, HPos::Center),
    ))?;
    confusion_labels(&best.confusion, area)?;
    confusion_cells(&best.confusion, area)
}

/// Text of `size` in the report's font, centred vertically and anchored `h` horizontally.
fn anchored<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    size: u32,
    h: HPos,
) -> TextStyle<'a> {
    (FAMILY, size)
        .into_font()
        .into_text_style(area)
        .pos(Pos::new(h, VPos::Center))
}

/// Around the grid: the axes' names, the classes' names, each class's recall at the
/// end of its row and precision under its column.
fn confusion_labels<DB: DrawingBackend>(
    c: &crate::events::Confusion,
    area: &DrawingArea<DB, Shift>,
) -> DrawResult<DB> {
    let centered = |size| anchored(area, size, HPos::Center);
    let right = |size| anchored(area, size, HPos::Right);
    let grid_end = GRID_X + CELL * NUM_CLASSES as i32;
    let under = GRID_Y + CELL * NUM_CLASSES as i32 + 16;
    area.draw(&Text::new(
        "predicted class →",
        ((GRID_X + grid_end) / 2, 62),
        centered(13),
    ))?;
    area.draw(&Text::new(
        "true class ↓",
        (GRID_X - 8, GRID_Y - 14),
        right(12),
    ))?;
    area.draw(&Text::new(
        "recall",
        (grid_end + 32, GRID_Y - 14),
        centered(12),
    ))?;
    area.draw(&Text::new("precision", (GRID_X - 8, under), right(12)))?;
    let pct = |v: Option<f64>| v.map_or("–".into(), |v| format!("{:.0}%", v * 100.0));
    for k in 0..NUM_CLASSES {
        let x = GRID_X + CELL * k as i32;
        let y = GRID_Y + CELL * k as i32;
        let short = &CLASS_NAMES[k][..CLASS_NAMES[k].len().min(7)];
        area.draw(&Text::new(short, (x + CELL / 2, GRID_Y - 14), centered(11)))?;
        area.draw(&Text::new(
            CLASS_NAMES[k],
            (GRID_X - 8, y + CELL / 2),
            right(13),
        ))?;
        let recall = (grid_end + 32, y + CELL / 2);
        area.draw(&Text::new(pct(c.recall(k)), recall, centered(12)))?;
        let precision = (x + CELL / 2, under);
        area.draw(&Text::new(pct(c.precision(k)), precision, centered(12)))?;
    }
    Ok(())
}

/// The grid: each cell's count, shaded by its share of its row.
fn confusion_cells<DB: DrawingBackend>(
    c: &crate::events::Confusion,
    area: &DrawingArea<DB, Shift>,
) -> DrawResult<DB> {
    for (t, row) in c.iter().enumerate() {
        let total: u32 = row.iter().sum();
        for (p, &count) in row.iter().enumerate() {
            let share = if total > 0 {
                f64::from(count) / f64::from(total)
            } else {
                0.0
            };
            let (x, y) = (GRID_X + CELL * p as i32, GRID_Y + CELL * t as i32);
            let cell = [(x, y), (x + CELL, y + CELL)];
            area.draw(&Rectangle::new(cell, cell_color(share, t == p).filled()))?;
            area.draw(&Rectangle::new(cell, RGBColor(220, 220, 220)))?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            let style = anchored(area, 12, HPos::Center).color(&ink);
            area.draw(&Text::new(
                count.to_string(),
                (x + CELL / 2, y + CELL / 2),
                style,
            ))?;
        }
    }
    Ok(())
}

/// White to blue on the diagonal, white to red off it, by the row's share.
fn cell_color(share: f64, diagonal: bool) -> RGBColor {
    let to = if diagonal {
        (31.0, 90.0, 170.0)
    } else {
        (200.0, 30.0, 30.0)
    };
    // Off-diagonal shares are small; lift them so a 10% confusion is plainly visible.
    let t = if diagonal { share } else { share.sqrt() }.clamp(0.0, 1.0);
    let mix = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    RGBColor(mix(to.0), mix(to.1), mix(to.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::fake_run;

    #[test]
    fn figures_render_to_svg_and_png_of_their_size() {
        let runs = [fake_run("run-a", 3), fake_run("run-b", 5)];
        for (svg_text, png_bytes, size) in [
            (
                svg(&Curves { runs: &runs }).unwrap(),
                png(&Curves { runs: &runs }).unwrap(),
                (1280, 520),
            ),
            (
                svg(&Confusions { runs: &runs }).unwrap(),
                png(&Confusions { runs: &runs }).unwrap(),
                (1280, 600),
            ),
        ] {
            assert!(svg_text.contains("run-a") && svg_text.contains("run-b"));
            let img = image::load_from_memory(&png_bytes).unwrap();
            assert_eq!((img.width(), img.height()), size);
        }
    }

    #[test]
    fn one_epoch_and_bad_values_still_draw() {
        let mut run = fake_run("x", 1);
        run.epochs[0].train_loss = f64::NAN;
        run.epochs[0].confusion = [[0; NUM_CLASSES]; NUM_CLASSES];
        let runs = [run];
        assert!(png(&Curves { runs: &runs }).is_ok());
        assert!(png(&Confusions { runs: &runs }).is_ok());
    }
}
