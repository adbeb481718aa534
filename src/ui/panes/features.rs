//! The "Feature maps" pane's state: the maps of one test sample, the sample asked for and
//! not yet answered, and the selected conv layer.

use crate::events::FeatureMaps;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    pub maps: Option<Box<FeatureMaps>>,
    /// A test index asked for with `Command::FeatureMaps` and not answered yet.
    pub requested: Option<usize>,
    /// Selected conv layer.
    pub layer: usize,
}

impl Features {
    /// New maps from the trainer: they answer the request if they are for its sample.
    pub fn on_maps(&mut self, f: Box<FeatureMaps>) {
        if self.requested == Some(f.index) {
            self.requested = None;
        }
        self.layer = self.layer.min(f.layers.len().saturating_sub(1));
        self.maps = Some(f);
    }

    /// The test index the pane shows or is about to show.
    pub fn current_sample(&self) -> usize {
        self.requested
            .or(self.maps.as_ref().map(|f| f.index))
            .unwrap_or(0)
    }

    /// The sample `delta` away from the current one among `n` test images, wrapping, now
    /// requested; `None` when there are no images.
    pub fn step_sample(&mut self, delta: i64, n: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        let n = n as i64;
        let index = (self.current_sample() as i64 + delta).rem_euclid(n) as usize;
        self.requested = Some(index);
        Some(index)
    }

    /// Select the layer `delta` away, wrapping.
    pub fn step_layer(&mut self, delta: i64) {
        let n = self.maps.as_ref().map_or(0, |f| f.layers.len()) as i64;
        if n > 0 {
            self.layer = (self.layer as i64 + delta).rem_euclid(n) as usize;
        }
    }
}
