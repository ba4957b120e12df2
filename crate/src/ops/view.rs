//! Flatten and reshape: channels-last rows are already laid out in the order a flat vector or any other shape of
//! the same size reads them, so these layers only rename the shape; they share their input's buffer and have no
//! forward or backward work.

use super::{Reason, Shape};

/// Flatten: [h, w, c] → [h·w·c] (a flat input stays as it is).
pub fn flatten(input: Shape) -> Shape {
    Shape::flat(input.len())
}

/// Reshape to `target`, which must hold as many values as the input.
pub fn reshape(input: Shape, target: Shape) -> Result<Shape, (Reason, [usize; 2])> {
    if target.len() != input.len() {
        return Err((Reason::ReshapeSize, [target.len(), input.len()]));
    }
    Ok(target)
}
