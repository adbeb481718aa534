//! Where the trainer's events go. The trainer sees only the [`Sink`] trait; the
//! dashboard and the headless printer receive through [`ChannelSink`]'s two channels,
//! tests pass a closure.

use flume::{Receiver, Sender, TrySendError};

use crate::events::{Progress, TrainEvent};

/// A consumer of trainer events.
pub trait Sink {
    /// Deliver one event. Lifecycle events must not be dropped; [`TrainEvent::Progress`]
    /// may be coalesced. Returns `false` once the consumer has gone away.
    fn send(&mut self, ev: TrainEvent) -> bool;
}

impl<F: FnMut(TrainEvent) -> bool> Sink for F {
    fn send(&mut self, ev: TrainEvent) -> bool {
        self(ev)
    }
}

/// Lifecycle events on a bounded channel (blocking when full, never dropped); progress
/// on a one-slot channel, merged into a pending snapshot while the slot is taken, so a
/// stalled consumer never grows memory nor slows training.
pub struct ChannelSink {
    events: Sender<TrainEvent>,
    progress: Sender<Progress>,
    pending: Option<Progress>,
}

/// The consumer's ends of a [`ChannelSink`].
pub struct Receivers {
    pub events: Receiver<TrainEvent>,
    pub progress: Receiver<Progress>,
}

/// Capacity of the lifecycle channel: a few per epoch are sent, so this is never reached
/// unless the consumer has stalled for hundreds of epochs.
const EVENT_CAPACITY: usize = 1024;

impl ChannelSink {
    pub fn new() -> (ChannelSink, Receivers) {
        let (etx, erx) = flume::bounded(EVENT_CAPACITY);
        let (ptx, prx) = flume::bounded(1);
        (
            ChannelSink {
                events: etx,
                progress: ptx,
                pending: None,
            },
            Receivers {
                events: erx,
                progress: prx,
            },
        )
    }

    /// Deliver `ev` on the lifecycle channel, progress too: in order with the events
    /// around it, as a history replayed to a dashboard attaching late must be.
    pub fn send_in_order(&mut self, ev: TrainEvent) -> bool {
        self.events.send(ev).is_ok()
    }

    fn offer_progress(&mut self) -> bool {
        let Some(p) = self.pending.take() else {
            return true;
        };
        match self.progress.try_send(p) {
            Ok(()) => true,
            Err(TrySendError::Full(p)) => {
                self.pending = Some(p);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

impl Sink for ChannelSink {
    fn send(&mut self, ev: TrainEvent) -> bool {
        match ev {
            TrainEvent::Progress(p) => {
                match &mut self.pending {
                    Some(pending) => pending.merge(p),
                    None => self.pending = Some(p),
                }
                self.offer_progress()
            }
            other => self.offer_progress() && self.events.send(other).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(batch: usize) -> TrainEvent {
        TrainEvent::Progress(Progress {
            batch,
            losses: vec![(batch as f64, 1.0)],
            ..Progress::default()
        })
    }

    #[test]
    fn stalled_consumer_gets_merged_progress_and_every_lifecycle_event() {
        let (mut sink, rx) = ChannelSink::new();
        for b in 0..10_000 {
            assert!(sink.send(progress(b)));
        }
        assert!(sink.send(TrainEvent::Message("epoch".into())));
        // One snapshot waits in the slot; the rest are pending, merged.
        assert_eq!(rx.progress.len(), 1);
        let first = rx.progress.try_recv().unwrap();
        assert_eq!(first.batch, 0);
        assert!(sink.send(progress(10_000)));
        let merged = rx.progress.try_recv().unwrap();
        assert_eq!(merged.batch, 10_000);
        assert!(merged.losses.len() <= Progress::MAX_POINTS);
        assert_eq!(
            rx.events.try_recv().unwrap(),
            TrainEvent::Message("epoch".into())
        );
    }

    #[test]
    fn reports_a_vanished_consumer() {
        let (mut sink, rx) = ChannelSink::new();
        drop(rx);
        assert!(!sink.send(TrainEvent::Message("x".into())));
        assert!(!sink.send(progress(1)));
    }
}
