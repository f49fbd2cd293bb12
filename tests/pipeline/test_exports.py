from __future__ import annotations

import osiris.connections
import osiris.pipeline


def test_exported_names_exist_and_are_public():
    for module in (osiris.pipeline, osiris.connections):
        assert sorted(module.__all__) == module.__all__
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_pipeline_api():
    assert osiris.pipeline.__all__ == [
        "Manifest",
        "Param",
        "Pipeline",
        "Step",
        "compile_pipeline",
        "load_pipeline",
        "resolve_step_config",
    ]
