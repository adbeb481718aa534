//! The mouse, where the terminal reports it (`ui.mouse`): what a point of the screen is on,
//! found from the same layout the screen is drawn with ([`render::screen`]), and what a
//! click or the wheel there does. Every action has a key too; the mouse is a shortcut.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::events::Command;
use crate::ui::app::{App, Spot};
use crate::ui::panes::Pane;
use crate::ui::render;
use crate::ui::widgets::{confusion, predictions};

/// What is at `(x, y)` on a screen of `area`: a tab, a confusion cell, an image, or else
/// the pane; `None` off the panes (header, footer, borders between tabs) or on a screen
/// too small for a dashboard.
pub fn spot(app: &App, area: Rect, x: u16, y: u16) -> Option<Spot> {
    let at = Position { x, y };
    let screen = render::screen(app, area)?;
    if let Some(tabs) = screen.tabs.filter(|t| t.contains(at)) {
        return render::tab_at(tabs, x).map(Spot::Pane);
    }
    let &(pane, rect) = screen.panes.iter().find(|(_, r)| r.contains(at))?;
    let inside = match pane {
        Pane::Confusion if app.status.last_epoch.is_some() => {
            confusion::cell_at(rect, x, y).map(|(row, col)| Spot::Cell(row, col))
        }
        Pane::Predictions => predictions::image_at(&app.predictions, rect, x, y).map(Spot::Image),
        _ => None,
    };
    Some(inside.unwrap_or(Spot::Pane(pane)))
}

/// A mouse event on a screen of `area`: a left click selects what is under it (see
/// [`App::on_click`]), the wheel zooms or steps the pane under it ([`App::on_wheel`]);
/// anything else (moves, drags, other buttons) is ignored. The command for the trainer,
/// if the click asks for one (an image's feature maps).
pub fn on_mouse(app: &mut App, ev: MouseEvent, area: Rect) -> Option<Command> {
    let up = match ev.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            return app.on_click(spot(app, area, ev.column, ev.row)?);
        }
        MouseEventKind::ScrollUp => true,
        MouseEventKind::ScrollDown => false,
        _ => return None,
    };
    let pane = spot(app, area, ev.column, ev.row)?.pane();
    app.on_wheel(pane, up);
    None
}
