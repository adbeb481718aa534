//! Memory layouts of activations. oneDNN's convolutions, libtorch's BatchNorm and its
//! max-pool each have a channels-last (NHWC) kernel that runs without the reorders and
//! scalar loops of their plain (NCHW) paths; a network whose input is channels-last keeps
//! every activation so (each op's output follows its input's layout). Shapes and values
//! are unchanged: only the strides differ, and `contiguous()` (used wherever values are
//! read out) turns a tensor back into the plain layout.

use tch::Tensor;

/// `xs` ([N, C, H, W]) in the channels-last layout. An image batch with one channel is
/// already laid out so in memory; only its strides say otherwise, so it becomes a view
/// (libtorch does not recognise size-1 channels as channels-last by itself). Other
/// tensors are copied.
pub fn channels_last(xs: &Tensor) -> Tensor {
    let size = xs.size();
    let [n, c, h, w] = size[..] else {
        return xs.shallow_clone();
    };
    if c == 1 && xs.is_contiguous() {
        xs.as_strided([n, c, h, w], [h * w, 1, w, 1], None)
    } else {
        xs.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
    }
}

/// Whether `xs` ([N, C, H, W]) has the channels-last strides (for tests of the layout).
#[cfg(test)]
pub fn is_channels_last(xs: &Tensor) -> bool {
    let (size, stride) = (xs.size(), xs.stride());
    let ([_, c, _, w], [_, sc, sh, sw]) = (size.as_slice(), stride.as_slice()) else {
        return false;
    };
    let (c, w, sc, sh, sw) = (*c, *w, *sc, *sh, *sw);
    sc == 1 && sw == c && sh == w * c
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn a_one_channel_batch_becomes_a_channels_last_view_of_the_same_values() {
        let xs = Tensor::rand([3, 1, 5, 4], (Kind::Float, Device::Cpu));
        let cl = channels_last(&xs);
        assert!(is_channels_last(&cl) && !is_channels_last(&xs.contiguous().view([3, 2, 5, 2])));
        assert_eq!(cl.data_ptr(), xs.data_ptr(), "a view, not a copy");
        assert!(cl.equal(&xs));
        let one = xs.narrow(0, 2, 1);
        assert!(
            channels_last(&one).equal(&one),
            "a view keeps its storage offset"
        );
    }

    #[test]
    fn many_channels_are_copied_into_channels_last() {
        let xs = Tensor::rand([2, 3, 4, 5], (Kind::Float, Device::Cpu));
        let cl = channels_last(&xs);
        assert!(is_channels_last(&cl) && !is_channels_last(&xs));
        assert!(cl.equal(&xs));
        assert_eq!(
            cl.contiguous().stride(),
            xs.stride(),
            "contiguous() gives NCHW back"
        );
    }

    #[test]
    fn a_conv_keeps_the_layout_of_its_input() {
        let xs = channels_last(&Tensor::rand([2, 1, 8, 8], (Kind::Float, Device::Cpu)));
        let w = Tensor::rand([4, 1, 3, 3], (Kind::Float, Device::Cpu));
        let ys = xs.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        assert!(is_channels_last(&ys));
        assert!(is_channels_last(&ys.max_pool2d_default(2)));
    }

    #[test]
    fn other_shapes_pass_through() {
        let xs = Tensor::rand([6, 7], (Kind::Float, Device::Cpu));
        assert!(channels_last(&xs).equal(&xs));
        assert!(!is_channels_last(&xs));
    }
}
