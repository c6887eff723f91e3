"""Rotation helpers matching the conventions Meta-World's observations use."""

from __future__ import annotations

import jax.numpy as jnp


def mat_to_quat_xyzw(mat):
    """Rotation matrix (..., 3, 3) -> quaternion (..., 4) in scipy's (x, y, z, w) order.

    Reproduces `scipy.spatial.transform.Rotation.from_matrix(m).as_quat()` (canonical=False), which
    Meta-World uses for several object quaternions: the branch is chosen by the largest of
    (m00, m11, m22, trace), and the result is normalised. Sign conventions therefore match scipy's.
    """
    m = jnp.asarray(mat)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    tr = m00 + m11 + m22
    dec = jnp.stack([m00, m11, m22, tr], axis=-1)
    choice = jnp.argmax(dec, axis=-1)

    # Case i in {0,1,2}: q[i] = 1 - tr + 2 m_ii, q[j] = m_ji + m_ij, q[k] = m_ki + m_ik, w = m_kj - m_jk.
    q0 = jnp.stack(
        [1 - tr + 2 * m00, m[..., 1, 0] + m[..., 0, 1], m[..., 2, 0] + m[..., 0, 2], m[..., 2, 1] - m[..., 1, 2]],
        axis=-1,
    )
    q1 = jnp.stack(
        [m[..., 0, 1] + m[..., 1, 0], 1 - tr + 2 * m11, m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0]],
        axis=-1,
    )
    q2 = jnp.stack(
        [m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - tr + 2 * m22, m[..., 1, 0] - m[..., 0, 1]],
        axis=-1,
    )
    q3 = jnp.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1], 1 + tr], axis=-1
    )
    qs = jnp.stack([q0, q1, q2, q3], axis=-2)
    q = jnp.take_along_axis(qs, choice[..., None, None], axis=-2)[..., 0, :]
    return q / jnp.linalg.norm(q, axis=-1, keepdims=True)
