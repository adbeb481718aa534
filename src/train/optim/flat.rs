//! Parameters and their gradients laid out end to end in one buffer each, so that an
//! optimiser updates all of them with a handful of tensor operations instead of a chain
//! per parameter tensor (the tutorial network has 10 tensors, `fast` 20 with BatchNorm's;
//! each operation costs a few microseconds of dispatch before it touches any data).
//!
//! Each trainable variable keeps its own tensor object (the network, the var store and a
//! checkpoint see no difference) but its storage becomes a view into the flat buffer
//! (`set_data`, what `param.data = flat[a:b].view_as(param)` does in PyTorch). Gradients are
//! adopted the same way after the first backward pass: autograd then accumulates into the
//! views in place, so zeroing every gradient is one operation too.

use tch::{Kind, Tensor};

/// One flat parameter buffer and one flat gradient buffer over a list of variables.
pub struct Flat {
    /// Every parameter's values, in the order given to [`Flat::new`].
    pub params: Tensor,
    /// Every parameter's gradient, same layout; zero where a parameter had none.
    pub grads: Tensor,
    vars: Vec<Tensor>,
    /// (offset, length, shape) of each variable in the buffers.
    spans: Vec<(i64, i64, Vec<i64>)>,
    /// Each variable's gradient view, and where its data starts (to notice a gradient that
    /// autograd allocated anew, which is then copied in and re-pointed).
    grad_views: Vec<(Tensor, usize)>,
}

impl Flat {
    /// Move `vars` (float tensors on one device) into one buffer, keeping their values.
    pub fn new(vars: &[Tensor]) -> Flat {
        let _guard = tch::no_grad_guard();
        let mut spans = Vec::with_capacity(vars.len());
        let mut total = 0i64;
        for v in vars {
            let n = v.numel() as i64;
            spans.push((total, n, v.size()));
            total += n;
        }
        let options = vars
            .first()
            .map_or((Kind::Float, tch::Device::Cpu), |v| (v.kind(), v.device()));
        let params = Tensor::zeros([total], options);
        let grads = Tensor::zeros([total], options);
        let mut vars: Vec<Tensor> = vars.iter().map(Tensor::shallow_clone).collect();
        for (v, (off, n, shape)) in vars.iter_mut().zip(&spans) {
            let mut view = params.narrow(0, *off, *n).view(shape.as_slice());
            view.copy_(v);
            v.set_data(&view);
        }
        let grad_views = spans
            .iter()
            .map(|(off, n, shape)| {
                let view = grads.narrow(0, *off, *n).view(shape.as_slice());
                let ptr = view.data_ptr() as usize;
                (view, ptr)
            })
            .collect();
        Flat {
            params,
            grads,
            vars,
            spans,
            grad_views,
        }
    }

    /// A zero buffer shaped like the flat parameters (for optimiser state).
    pub fn zeros(&self) -> Tensor {
        self.params.zeros_like()
    }

    /// `flat` seen as one tensor per variable, shaped like it (views, not copies).
    pub fn split(&self, flat: &Tensor) -> Vec<Tensor> {
        self.spans
            .iter()
            .map(|(off, n, shape)| flat.narrow(0, *off, *n).view(shape.as_slice()))
            .collect()
    }

    /// Zero every gradient (one operation once the gradients are adopted).
    pub fn zero_grads(&mut self) {
        let _ = self.grads.zero_();
    }

    /// After a backward pass: make sure every gradient lives in [`Flat::grads`]. Autograd
    /// allocates a variable's first gradient itself; that one is copied into the flat buffer
    /// and the variable's gradient re-pointed at its view, after which backward passes
    /// accumulate there directly. A variable without a gradient keeps zeros.
    pub fn gather_grads(&mut self) {
        let _guard = tch::no_grad_guard();
        for (v, (view, ptr)) in self.vars.iter().zip(self.grad_views.iter_mut()) {
            let mut g = v.grad();
            if g.defined() && g.data_ptr() as usize != *ptr {
                view.copy_(&g);
                g.set_data(view);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    #[test]
    fn variables_become_views_that_keep_their_values_and_gradients_accumulate_in_place() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[2, 3], nn::Init::Const(1.5));
        let b = vs.root().var("b", &[4], nn::Init::Const(-2.0));
        let mut flat = Flat::new(&[a.shallow_clone(), b.shallow_clone()]);
        assert_eq!(flat.params.size(), [10]);
        // Same values, now stored in the flat buffer.
        assert_eq!(a.double_value(&[1, 2]), 1.5);
        assert_eq!(flat.params.double_value(&[9]), -2.0);
        let _ = tch::no_grad(|| flat.params.fill_(7.0));
        assert_eq!(a.double_value(&[0, 0]), 7.0);
        assert_eq!(vs.variables()["b"].double_value(&[3]), 7.0);

        for round in 1..=3 {
            flat.zero_grads();
            ((&a * 2.0).sum(Kind::Float) + (&b * 3.0).sum(Kind::Float)).backward();
            flat.gather_grads();
            let g: Vec<f32> = Vec::try_from(&flat.grads).unwrap();
            assert_eq!(g, [2., 2., 2., 2., 2., 2., 3., 3., 3., 3.], "round {round}");
            // The variable's own gradient is the flat buffer's view.
            assert_eq!(a.grad().data_ptr(), flat.grads.data_ptr());
        }
        let views = flat.split(&flat.grads);
        assert_eq!(views[1].size(), [4]);
        assert_eq!(views[1].double_value(&[0]), 3.0);
    }

    #[test]
    fn a_variable_without_a_gradient_keeps_zeros() {
        let vs = nn::VarStore::new(Device::Cpu);
        let a = vs.root().var("a", &[2], nn::Init::Const(1.0));
        let unused = vs.root().var("unused", &[2], nn::Init::Const(1.0));
        let mut flat = Flat::new(&[a.shallow_clone(), unused.shallow_clone()]);
        flat.zero_grads();
        a.sum(Kind::Float).backward();
        flat.gather_grads();
        let g: Vec<f32> = Vec::try_from(&flat.grads).unwrap();
        assert_eq!(g, [1., 1., 0., 0.]);
    }
}
