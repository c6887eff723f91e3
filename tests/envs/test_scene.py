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
