//! The layers a plan is made of. Each kind lives in its own file with its output shape, parameters, workspace
//! needs, forward and backward side by side; this module holds what they share (shapes, the reasons a layer can
//! be rejected) and the dispatch over kinds.

pub mod conv2d;
pub mod conv2d_transpose;
pub mod dense;
pub mod matmul;
pub mod view;
pub mod windows;

use crate::act::Activation;
pub use conv2d::Conv2d;
pub use conv2d_transpose::Conv2dTranspose;
pub use dense::Dense;

/// A tensor's shape per data row: an image (h × w × c, channels last) or a flat vector of `c` values (h = w = 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub image: bool,
}

impl Shape {
    pub const fn flat(n: usize) -> Shape {
        Shape { h: 1, w: 1, c: n, image: false }
    }

    pub const fn image(h: usize, w: usize, c: usize) -> Shape {
        Shape { h, w, c, image: true }
    }

    /// Values per row (saturating, so absurd shapes stay comparable to the limits).
    pub fn len(&self) -> usize {
        self.h.saturating_mul(self.w).saturating_mul(self.c)
    }
}

/// Largest number of values per data row in any layer's output.
pub const MAX_ELEMENTS: usize = 1 << 22;
/// Largest number of values per data row in a convolution's windows (its scratch).
pub const MAX_COLS: usize = 1 << 25;
/// Largest kernel side, stride and padding.
pub const MAX_KERNEL: usize = 255;

/// Why a plan was rejected (codes shared with ts/core/abi.ts, which words the messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    /// Malformed words: version, lengths, unknown codes, non-finite numbers, sections out of order.
    BadDescriptor = 1,
    /// A convolution on a flat input (detail: none).
    NeedsImage = 2,
    /// A 'valid' or numerically padded window larger than its padded input (detail: kernel h, w).
    KernelTooLarge = 3,
    /// The layer's output would have no values (detail: output h, w before clamping, as far as meaningful).
    EmptyOutput = 4,
    /// A reshape whose target size differs from its input's (detail: target size).
    ReshapeSize = 5,
    /// The output layer does not produce the input's shape (output shape in the record).
    OutputShape = 6,
    /// A size beyond the limits (detail: the size, the limit, what: 0 output, 1 windows, 2 weights).
    TooLarge = 7,
    /// An activation on a layer that cannot have one (flatten, reshape, the output layer).
    ActivationNotAllowed = 8,
    /// The output layer must be dense, conv2d or conv2dTranspose.
    OutputKind = 9,
    /// Output padding must be smaller than the stride (detail: output padding, stride).
    OutputPadding = 10,
    /// Conditioning is not supported by this core.
    Condition = 11,
}

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    Valid,
    /// TensorFlow's 'same': conv2d outputs ceil(in / stride), padding split with the extra row/column at the
    /// bottom/right; conv2dTranspose outputs in × stride.
    Same,
    /// `h` rows above and below and `w` columns left and right (PyTorch's `padding`).
    Explicit { h: usize, w: usize },
}

/// A convolution as written in a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub filters: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub padding: Padding,
    /// Transposed only: extra rows and columns at the bottom/right of the output (PyTorch's and Keras's
    /// `output_padding`), None when not given.
    pub output_padding: Option<(usize, usize)>,
}

/// What a layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Dense(Dense),
    Conv2d(Conv2d),
    Conv2dTranspose(Conv2dTranspose),
    /// Flatten or reshape: the same values in the same order (channels last), so no work and no buffer of its own.
    View,
}

/// Where a layer's buffers are, for one call of its forward or backward pass.
#[derive(Clone, Copy)]
pub struct Io {
    pub params: *const f32,
    pub grads: *mut f32,
    /// The layer's input (rows × its input length), and the condition rows (null for an unconditional model).
    pub x: *const f32,
    pub cond: *const f32,
    pub rows: usize,
    /// The convolution scratch (rows × cols_len), the per-chunk weight gradients (see `partials_len`) and the
    /// calling thread's GEMM scratch.
    pub cols: *mut f32,
    pub partials: *mut f32,
    pub scratch: *mut f32,
}

impl Op {
    /// Output values a = layer(x) into `a`; with `act`, h = act(a) on the same pass.
    ///
    /// # Safety
    /// Buffers as `Io` and the layer's shapes say.
    pub unsafe fn forward(&self, io: Io, a: *mut f32, act: Option<Activation>) {
        match self {
            Op::Dense(d) => d.forward(io.params, io.x, io.cond, io.rows, a, act, io.scratch),
            Op::Conv2d(c) => c.forward(io.params, io.x, io.rows, a, act, io.cols, io.scratch),
            Op::Conv2dTranspose(c) => c.forward(io.params, io.x, io.rows, a, act, io.cols, io.scratch),
            Op::View => {}
        }
    }

    /// From dL/da: the parameter gradients (overwritten) and, with `dx`, dL/dx times the derivative of the
    /// activation below (if any).
    ///
    /// # Safety
    /// As `forward`; dx is rows × the input length and does not alias da.
    pub unsafe fn backward(&self, io: Io, da: *const f32, dx: Option<(*mut f32, Option<Activation>)>) {
        match self {
            Op::Dense(d) => {
                d.param_grads(io.grads, io.x, io.cond, da, io.rows, io.scratch);
                if let Some((dx, below)) = dx {
                    d.input_grad(io.params, da, io.rows, dx, false, below, io.scratch);
                }
            }
            Op::Conv2d(c) => c.backward(io, da, dx),
            Op::Conv2dTranspose(c) => c.backward(io, da, dx),
            Op::View => {}
        }
    }

    /// Per-chunk weight gradients of a convolution, per data row and fixed: ceil(rows / chunk) chunks of the weights'
    /// values fit in rows·per_row + fixed.
    pub fn partials_len(&self) -> (usize, usize) {
        let (win, weights) = match self {
            Op::Conv2d(c) => (c.win, c.win.patch().saturating_mul(c.filters)),
            Op::Conv2dTranspose(c) => (c.win, c.win.patch().saturating_mul(c.channels)),
            _ => return (0, 0),
        };
        let chunk = win.chunk_images();
        ((weights + chunk - 1) / chunk, weights)
    }

    /// Convolution scratch per data row.
    pub fn cols_len(&self) -> usize {
        match self {
            Op::Conv2d(c) => c.cols_len(),
            Op::Conv2dTranspose(c) => c.cols_len(),
            _ => 0,
        }
    }

    /// The layer's parameters: (weight offset, weight shape with its rank, bias offset, bias length, fan-in,
    /// fan-out), or None for a view.
    pub fn params(&self) -> Option<LayerParams> {
        match *self {
            Op::Dense(d) => Some(LayerParams { w: d.w, shape: [d.weight_rows(), d.fan_out, 0, 0], rank: 2, b: d.b, bias: d.fan_out, fan_in: d.weight_rows(), fan_out: d.fan_out }),
            Op::Conv2d(c) => {
                let (fan_in, fan_out) = c.fans();
                Some(LayerParams { w: c.w, shape: c.weight_shape(), rank: 4, b: c.b, bias: c.filters, fan_in, fan_out })
            }
            Op::Conv2dTranspose(c) => {
                let (fan_in, fan_out) = c.fans();
                Some(LayerParams { w: c.w, shape: c.weight_shape(), rank: 4, b: c.b, bias: c.filters(), fan_in, fan_out })
            }
            Op::View => None,
        }
    }

    /// Assigns the parameter offsets (weight at `w`, bias at `b`).
    pub fn place(&mut self, w: usize, b: usize) {
        match self {
            Op::Dense(d) => (d.w, d.b) = (w, b),
            Op::Conv2d(c) => (c.w, c.b) = (w, b),
            Op::Conv2dTranspose(c) => (c.w, c.b) = (w, b),
            Op::View => {}
        }
    }
}

/// A layer's parameters as the plan lays them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerParams {
    pub w: usize,
    pub shape: [usize; 4],
    pub rank: usize,
    pub b: usize,
    pub bias: usize,
    pub fan_in: usize,
    pub fan_out: usize,
}

impl LayerParams {
    /// Weight values (saturating, so absurd layers stay comparable to the limits).
    pub fn weights(&self) -> usize {
        self.shape[..self.rank].iter().fold(1usize, |n, &d| n.saturating_mul(d))
    }
}
