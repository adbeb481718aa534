//! The dataset as the network sees it: a split as tensors on the device, pixels scaled to
//! [0, 1], and one image back as plain bytes for the events.

use tch::{Device, Kind, Tensor};

use crate::data::Split;
use crate::events::{IMAGE_PIXELS, IMAGE_SIDE};

/// The split's images as a `[N, 1, 28, 28]` u8 tensor and labels as `[N]` i64, on `device`.
pub fn split_tensors(s: &Split, device: Device) -> (Tensor, Tensor) {
    let n = s.len() as i64;
    let side = IMAGE_SIDE as i64;
    let images = Tensor::from_slice(&s.images)
        .view([n, 1, side, side])
        .to_device(device);
    let labels = Tensor::from_slice(&s.labels)
        .to_kind(Kind::Int64)
        .to_device(device);
    (images, labels)
}

/// u8 pixels to floats in [0, 1], the tutorial's input scaling.
pub fn scale(images: &Tensor) -> Tensor {
    images.to_kind(Kind::Float) / 255.0
}

/// Image `i` of the split, to send in an event.
pub fn pixels(s: &Split, i: usize) -> Box<[u8; IMAGE_PIXELS]> {
    let mut px = Box::new([0u8; IMAGE_PIXELS]);
    px.copy_from_slice(s.image(i));
    px
}
