"""Scene building (envs.scene): bad proxies are named before anything compiles."""

from __future__ import annotations

import pytest

from envs.scene import Proxy, SceneConfig, build_model

XML = "sawyer_xyz/sawyer_reach_v3.xml"


def test_unknown_proxy_type_lists_valid_ones():
    with pytest.raises(ValueError, match="capsule"):
        build_model(SceneConfig(xml=XML, proxies=(Proxy("p", "hand", "cone", (0.1,)),)))


def test_proxy_on_missing_body_is_named():
    with pytest.raises(KeyError, match="nobody"):
        build_model(SceneConfig(xml=XML, proxies=(Proxy("p", "nobody", "box", (0.1, 0.1, 0.1)),)))


# ------------------------------------------------------------------ n contacts acting as one (single_contact_pairs)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from envs.scene import Pair  # noqa: E402
from envs.skills.common import single_contact_pairs  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(
    dmin=st.floats(0.05, 0.99),
    dmax=st.floats(0.05, 0.999),
    timeconst=st.floats(0.002, 0.1),
    n=st.integers(1, 8),
)
def test_single_contact_pairs_scale_regularization_by_n_and_keep_stiffness(dmin, dmax, timeconst, n):
    """Per contact, R' = n R (R = (1 - d) / d times the same inverse weight), and the reference acceleration's
    stiffness 1 / (dmax tc)^2 and damping 2 / (dmax tc) are unchanged; n = 1 changes nothing."""
    p = Pair("a", "b", solref=(timeconst, 1.0), solimp=(dmin, dmax, 0.001, 0.5, 2.0))
    (q,) = single_contact_pairs((p,), n)
    for d, e in zip(p.solimp[:2], q.solimp[:2]):
        assert 0.0 < e <= d < 1.0
        assert (1 - e) / e == pytest.approx(n * (1 - d) / d, rel=1e-9)
    assert q.solimp[0] <= q.solimp[1] or dmin > dmax  # the order of dmin / dmax is kept
    assert q.solimp[2:] == p.solimp[2:] and q.solref[1:] == p.solref[1:]
    assert dmax * timeconst == pytest.approx(q.solimp[1] * q.solref[0], rel=1e-9)
    if n == 1:
        assert q.solimp == pytest.approx(p.solimp) and q.solref == pytest.approx(p.solref)


def test_single_contact_pairs_reject_bad_input():
    with pytest.raises(ValueError, match="got 0"):
        single_contact_pairs((Pair("a", "b", solref=(0.02, 1.0), solimp=(0.9, 0.95, 0.001)),), 0)
    with pytest.raises(ValueError, match="'a'-'b'"):
        single_contact_pairs((Pair("a", "b"),), 4)
