//! The trainer's side of fitting its thread team ([`threads::Fit`]): each batch's own
//! time goes in, and what the fit says is applied to libtorch and, when the team changes
//! for good, said in the Log and the header.

use super::super::sink::Sink;
use super::super::threads::Team;
use super::Trainer;
use crate::events::TrainEvent;

impl Trainer<'_> {
    /// A batch of `images` trained in `secs`.
    pub(super) fn fit_team(&mut self, secs: f64, images: usize, sink: &mut dyn Sink) {
        match self.team.batch(secs, images) {
            Team::Keep => {}
            Team::Try(n) | Team::Back(n) => tch::set_num_threads(n as i32),
            Team::Chose { threads, why } => {
                tch::set_num_threads(threads as i32);
                sink.send(TrainEvent::Message(why));
                sink.send(TrainEvent::Device(crate::device::cpu_description(threads)));
            }
        }
    }

    /// A pause or an evaluation comes between batches: no probe spans it, and the
    /// evaluation runs with the team in use.
    pub(super) fn hold_team(&mut self) {
        if let Some(n) = self.team.interrupted() {
            tch::set_num_threads(n as i32);
        }
    }
}
